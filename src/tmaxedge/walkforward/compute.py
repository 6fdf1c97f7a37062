"""Where a window's (city, strike type) jobs run: processes here, a Dask cluster, or one at a time;
and where many windows run at once (``finished_on_dask``, for ``tmaxedge store fill``).

Each job is a pure function of its arguments and results come back in job order, so the
backend never changes a result (tests/test_walkforward.py checks it).
"""

from __future__ import annotations

import contextlib
import os
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
    with dask_client(compute) as client:
        futures = [client.submit(_single_threaded, function, *job, pure=False) for job in jobs]
        for future in futures:
            yield future.result()


def finished_on_dask(function: Callable, jobs: Iterable, compute: ComputeParams) -> Iterator:
    """``(position, function(*job))`` of each job on the Dask cluster ``compute`` names, as each
    finishes: for jobs whose results go somewhere else (the result store), in any order."""
    from distributed import as_completed

    with dask_client(compute) as client:
        futures = [client.submit(_single_threaded, function, *job, pure=False) for job in jobs]
        position = {future.key: i for i, future in enumerate(futures)}
        for future in as_completed(futures):
            yield position[future.key], future.result()


@contextlib.contextmanager
def dask_client(compute: ComputeParams) -> Iterator:
    """A client of the scheduler at ``compute.scheduler_address``, or of a local cluster of
    ``compute.n_jobs`` single-threaded worker processes when it is null (closed after)."""
    from distributed import Client

    if compute.scheduler_address is None:
        cluster = local_cluster(compute.n_jobs)
        client = Client(cluster)
    else:
        cluster, client = None, Client(compute.scheduler_address)
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def local_cluster(n_workers: int):
    """A Dask cluster of ``n_workers`` single-threaded worker processes on this machine, started
    without the ``MALLOC_TRIM_THRESHOLD_=65536`` Dask's nanny gives its workers by default: with
    it, glibc maps and unmaps every large array afresh, and one window's tune took 132 s in a
    worker against 85 s without it (docs/performance.md, "On a cluster")."""
    import dask
    from distributed import LocalCluster  # first: its defaults are loaded, then replaced below

    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ"))
    trim = environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    # a nanny writes its settings into this process's environment, where every later worker
    # inherits them: a value an earlier cluster left is held back while these workers start
    left = os.environ.get("MALLOC_TRIM_THRESHOLD_")
    held_back = left is not None and left == str(trim)
    try:
        if held_back:
            del os.environ["MALLOC_TRIM_THRESHOLD_"]
        with dask.config.set({"distributed.nanny.pre-spawn-environ": environ}):
            return LocalCluster(
                n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=":0"
            )
    finally:
        if held_back:
            os.environ["MALLOC_TRIM_THRESHOLD_"] = left


def _single_threaded(function: Callable, *args):
    with one_blas_thread():
        return function(*args)


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """BLAS and OpenMP on one thread here: how a matrix product splits its sums depends on the
    thread count, so without this a result's last digits would depend on the machine's cores and
    on whether it was computed in a worker or in the stage's own process."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield
