"""Where a window's (city, strike type) jobs run: processes here, a Dask cluster, or one at a time.

Each job is a pure function of its arguments and results come back in job order, so the
backend never changes a result (tests/test_walkforward.py checks it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from tmaxedge.core.params import Interval, Nullable, Options, Params, Text, broken, declare

BACKENDS = ("loky", "dask", "sequential")


@dataclass(frozen=True)
class ComputeParams(Params):
    """params.yaml ``compute``: how many (city, strike type) jobs run at once, and where.

    ``loky``: ``n_jobs`` processes on this machine. ``dask``: the jobs go to the Dask scheduler
    at ``scheduler_address`` (``tcp://host:8786``), or to a local cluster of ``n_jobs``
    single-threaded worker processes when it is null. ``sequential``: one at a time, here.
    ``study_storage``: where the Optuna studies live (``studies.open_storage``): null keeps
    them in memory; a directory or an RDB URL keeps them so a killed run resumes its trials.
    ``result_store``: the folder of finished per-window results (``store``) that lets a stage
    recompute only the model entries whose inputs changed; null keeps none.
    None of these change a result.
    """

    constraints = declare(
        n_jobs=Interval(int, 1, None),
        backend=Options(BACKENDS),
        scheduler_address=Nullable(Text()),
        study_storage=Nullable(Text()),
        result_store=Nullable(Text()),
    )
    n_jobs: int = 2
    backend: str = "loky"
    scheduler_address: str | None = None
    study_storage: str | None = None
    result_store: str | None = ".tmaxedge/store"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.scheduler_address is not None and self.backend != "dask":
            raise broken(
                "scheduler_address", "null unless backend is 'dask'", self.scheduler_address
            )


def largest_first(sizes: list[int]) -> list[int]:
    """The positions of ``sizes``, largest first (ties in their order)."""
    return sorted(range(len(sizes)), key=lambda i: -sizes[i])


def stream_jobs(function: Callable, jobs: Iterable, compute: ComputeParams) -> Iterator:
    """``function(*job)`` of each job, yielded in job order as soon as it and every job before
    it have finished, while the workers go on with the jobs after it (so a caller can write one
    part's results while the next part is computed)."""
    jobs = list(jobs)
    if compute.backend == "dask":
        yield from _stream_on_dask(function, jobs, compute)
    elif compute.backend == "sequential" or compute.n_jobs == 1 or len(jobs) <= 1:
        for job in jobs:
            yield _single_threaded(function, *job)
    else:
        from joblib import Parallel, delayed

        parallel = Parallel(n_jobs=compute.n_jobs, backend="loky", return_as="generator")
        yield from parallel(delayed(_single_threaded)(function, *job) for job in jobs)


def _stream_on_dask(function: Callable, jobs: list, compute: ComputeParams) -> Iterator:
    """The jobs on a Dask cluster, in submission order; each job is a pure function of its
    arguments, so the results are the same bytes wherever it runs."""
    from distributed import Client, LocalCluster

    if compute.scheduler_address is None:
        cluster = LocalCluster(
            n_workers=compute.n_jobs, threads_per_worker=1, processes=True, dashboard_address=":0"
        )
        client = Client(cluster)
    else:
        cluster, client = None, Client(compute.scheduler_address)
    try:
        futures = [client.submit(_single_threaded, function, *job, pure=False) for job in jobs]
        for future in futures:
            yield future.result()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _single_threaded(function: Callable, *args):
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        return function(*args)
