"""`tmaxedge store`: the result store of finished per-window results (compute.result_store)."""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from pathlib import Path

import click

from tmaxedge.cli.options import params_option
from tmaxedge.core import io
from tmaxedge.core.errors import DataError, ParamsError
from tmaxedge.walkforward.compute import ComputeParams
from tmaxedge.walkforward.store import open_store

PLAN_FILE = Path("windows.yaml")


@click.group("store")
def store_group() -> None:
    """The result store of finished per-window results (params.yaml compute.result_store)."""


@store_group.command("prune")
@click.option(
    "--unused-days",
    type=click.FloatRange(min=0),
    default=30.0,
    show_default=True,
    help="Remove the results no stage has kept or restored for this many days.",
)
@params_option()
def store_prune(unused_days: float, params_path: Path) -> None:
    """Free disk space: remove the stored results not used lately. A removed result is computed
    again when a stage needs it; no output changes."""
    store = open_store(io.load_params("compute", ComputeParams, params_path).result_store)
    if store.root is None:
        click.echo(f"{params_path}: compute.result_store is null: there is no store to prune")
        return
    removed, freed = store.prune(unused_days * 86400, time.time())
    click.echo(
        f"{store.root}: removed {removed} result(s) unused for {unused_days:g} days, "
        f"{freed / 2**20:.1f} MiB"
    )


@store_group.command("fill")
@click.option(
    "--window",
    "window_keys",
    multiple=True,
    help="A window of windows.yaml (its first test day); repeat for several [default: every one].",
)
@click.option(
    "--scheduler",
    default=None,
    help="A Dask scheduler's address, tcp://host:8786 [default: compute.scheduler_address; "
    "when that is null, a local cluster].",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes of the local cluster [default: compute.n_jobs].",
)
@params_option()
def store_fill(
    window_keys: tuple[str, ...], scheduler: str | None, workers: int | None, params_path: Path
) -> None:
    """Compute many windows at once on a Dask cluster, each window's tune, calibrate and
    evaluate as its stages would, into the result store; a `dvc repro` after it restores every
    result instead of computing it. Run `dvc repro windows engine` first. On a real cluster the
    project folder (or at least data/, the store and the study storage) must be on a disk every
    worker reads, and the workers must run this project's code."""
    from tqdm import tqdm

    from tmaxedge.cli.dvc import changed_stages
    from tmaxedge.walkforward.compute import finished_on_dask
    from tmaxedge.walkforward.run import load_entry_params, load_step_params
    from tmaxedge.walkforward.steps import WindowInputs, fill_window, one_process

    stale = changed_stages("windows", "engine")
    if stale:
        raise DataError(
            f"the windows' inputs are not current (dvc status: {', '.join(stale)} changed); "
            "run `dvc repro windows engine` first, so the results are filed under the keys "
            "the stages will look for."
        )
    keys = chosen_windows(io.read_yaml(PLAN_FILE)["window_keys"], window_keys)
    entries, steps = load_entry_params(params_path), load_step_params(params_path)
    if steps.compute.result_store is None:
        raise ParamsError(f"{params_path}: compute.result_store is null: there is no store to fill")
    steps = on_every_worker(steps)
    cluster = dataclasses.replace(
        steps.compute,
        backend="dask",
        scheduler_address=scheduler or steps.compute.scheduler_address,
        n_jobs=workers or steps.compute.n_jobs,
    )
    root = Path.cwd()
    jobs = [(WindowInputs.of_window(key, root), entries, one_process(steps)) for key in keys]
    tally: Counter = Counter()
    started = time.perf_counter()
    with tqdm(total=len(jobs), unit="window", desc="store fill") as bar:
        for position, outcome in finished_on_dask(fill_window, jobs, cluster):
            for step, entries_done in outcome.items():
                tally.update(entries_done.values())
                computed = [e for e, how in entries_done.items() if how == "computed"]
                io.log.info("%s %s: computed %s", keys[position], step, computed or "nothing")
            bar.update()
    click.echo(
        f"{steps.compute.result_store}: {len(keys)} window(s) in "
        f"{time.perf_counter() - started:.0f} s, {tally['computed']} result(s) computed, "
        f"{tally['restored']} already stored; `dvc repro` now restores them"
    )


def chosen_windows(plan: list[str], chosen: tuple[str, ...]) -> list[str]:
    """The windows of the plan a user named (all when none), in the plan's order."""
    unknown = sorted(set(chosen) - set(plan))
    if unknown:
        raise ParamsError(
            f"{PLAN_FILE}: no window {', '.join(unknown)}; its windows run "
            f"{plan[0]} .. {plan[-1]} ({len(plan)})."
        )
    return [key for key in plan if not chosen or key in chosen]


def on_every_worker(steps):
    """``steps`` with the store and a study-storage folder as absolute paths, so a worker
    started elsewhere files its results where this checkout's stages look."""
    compute = steps.compute
    studies = compute.study_storage
    if studies is not None and "://" not in studies:
        studies = str(Path(studies).resolve())
    resolved = dataclasses.replace(
        compute, result_store=str(Path(compute.result_store).resolve()), study_storage=studies
    )
    return dataclasses.replace(steps, compute=resolved)
