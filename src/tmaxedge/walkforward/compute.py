"""Where a window's (city, strike type) jobs run: processes here, a Dask cluster, or one at a time.

Each job is a pure function of its arguments and results come back in job order, so the
backend never changes a result (tests/test_walkforward.py checks it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
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


def run_jobs(
    function: Callable, jobs: Iterable, compute: ComputeParams, sizes: list[int] | None = None
) -> list:
    """``[function(*job) for job in jobs]``, in parallel processes with one BLAS thread each.

    Results come back in job order whatever the backend, so outputs do not depend on it.
    With ``sizes`` (the work of each job) the largest start first, so the workers finish
    together instead of one waiting on a large job handed out last.
    """
    jobs = list(jobs)
    on_dask = compute.backend == "dask"
    if not on_dask and (compute.backend == "sequential" or compute.n_jobs == 1 or len(jobs) <= 1):
        return [_single_threaded(function, *job) for job in jobs]
    order = sorted(range(len(jobs)), key=lambda i: -sizes[i]) if sizes else list(range(len(jobs)))
    if compute.backend == "dask":
        results = _run_on_dask(function, [jobs[i] for i in order], compute)
    else:
        from joblib import Parallel, delayed

        results = Parallel(n_jobs=compute.n_jobs, backend="loky")(
            delayed(_single_threaded)(function, *jobs[i]) for i in order
        )
    in_job_order = [None] * len(jobs)
    for i, result in zip(order, results, strict=True):
        in_job_order[i] = result
    return in_job_order


def _run_on_dask(function: Callable, jobs: list, compute: ComputeParams) -> list:
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
        return client.gather(futures)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _single_threaded(function: Callable, *args):
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        return function(*args)
