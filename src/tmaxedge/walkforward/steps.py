"""A window's three per-window stages as functions, and a whole window's steps in one job.

Each step runs every model entry: an entry whose inputs are unchanged is restored from the
result store (``store``), the others are computed, with BLAS on one thread wherever they run
(``compute.one_blas_thread``), so a result is the same bytes in a stage and on a worker. The
DVC stages (stages/tune.py, stages/calibrate.py, stages/evaluate.py) call ``tune_stage``,
``calibrate_stage`` and ``evaluate_stage``; ``fill_window`` runs the same three for one window
into a scratch folder, so that ``tmaxedge store fill`` can compute many windows at once on a
Dask cluster and leave each result under the key the stage will look for: a later
``dvc repro`` restores them all.
"""

from __future__ import annotations

import dataclasses
import functools
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from tmaxedge.core import io
from tmaxedge.modeling.tuning import ModelParams
from tmaxedge.walkforward import artifacts, crossfit, windows
from tmaxedge.walkforward.compute import one_blas_thread
from tmaxedge.walkforward.layout import STEPS
from tmaxedge.walkforward.run import StepParams, calibrate_step, evaluate_step
from tmaxedge.walkforward.store import (
    WindowStep,
    folder_digest,
    frame_digest,
    one_at_a_time,
    open_store,
    run_entries,
)
from tmaxedge.walkforward.tune import tune_entries


@dataclass(frozen=True)
class WindowInputs:
    """The files a window's steps read, besides the step before's folder."""

    manifest: Path  # data/windows/<window>.json
    features: Path  # data/features
    engine: Path  # data/engine.json: the engine code's fingerprint, part of every result's key
    oracle: Path | None = None  # data/raw/oracle.parquet (absent for real data); evaluate only

    @classmethod
    def of_window(cls, key: str, root: Path = Path(".")) -> WindowInputs:
        """Where the pipeline keeps them (dvc.yaml), below ``root``."""
        return cls(
            root / "data" / "windows" / f"{key}.json",
            root / "data" / "features",
            root / "data" / "engine.json",
            root / "data" / "raw" / "oracle.parquet",
        )


Outcome = dict[str, str]  # entry -> "restored" | "computed"


def tune_stage(
    inputs: WindowInputs,
    out: Path,
    entries: dict[str, ModelParams],
    steps: StepParams,
) -> Outcome:
    """Every entry's studies and final fits on the window's fit split, one folder per entry in
    ``out``; the missing entries' units share one queue of jobs (``tune_entries``)."""
    manifest = io.read_json(inputs.manifest)
    window = windows.window_from_manifest(manifest)
    step = WindowStep.of("tune", manifest, inputs.engine)

    @functools.cache
    def fit_rows() -> pd.DataFrame:  # the fit split alone: the rows tuning may see; if needed
        return io.read_features(inputs.features, window.train_start, window.fit_end)

    def tune(missing: list[str]) -> Iterator[tuple[str, Callable[[Path], None]]]:
        if not missing:
            return
        wanted = {entry: entries[entry] for entry in missing}
        for entry, results in tune_entries(
            fit_rows(), wanted, steps.compute, steps.beta_max, window.key
        ):
            yield entry, functools.partial(artifacts.write_tune_step, tuned=results)

    with one_blas_thread():
        return run_entries(
            list(entries),
            out,
            open_store(steps.compute.result_store),
            lambda entry: step.key(entry, params=entries[entry], beta_max=steps.beta_max),
            tune,
            "tune",
        )


def calibrate_stage(
    inputs: WindowInputs, tuned: Path, out: Path, entries: list[str], steps: StepParams
) -> Outcome:
    """Every entry's calibrators and market weights, around the models in ``tuned`` (the
    window's tune folder), on the calibration split or cross-fitted (``calibrate.fit_on``)."""
    manifest = io.read_json(inputs.manifest)
    window = windows.window_from_manifest(manifest)
    step = WindowStep.of("calibrate", manifest, inputs.engine)

    @functools.cache
    def rows() -> windows.WindowRows:
        start = crossfit.calibration_start(window, steps.calibrate)
        return windows.split_rows(
            io.read_features(inputs.features, start, window.train_end), window
        )

    def calibrate(entry: str, folder: Path) -> None:
        models = artifacts.read_tune_step(tuned / entry)
        results = calibrate_step(rows(), models, steps.calibrate, steps.pool, steps.beta_max)
        artifacts.write_calibrate_step(folder, results, models.best_params)

    def key(entry: str) -> str:
        return step.key(
            entry,
            calibrate=steps.calibrate,
            pool=steps.pool,
            beta_max=steps.beta_max,
            tuned=folder_digest(tuned / entry),
        )

    store = open_store(steps.compute.result_store)
    with one_blas_thread():
        return run_entries(entries, out, store, key, one_at_a_time(calibrate), "calibrate")


def evaluate_stage(
    inputs: WindowInputs, calibrated: Path, out: Path, entries: list[str], steps: StepParams
) -> Outcome:
    """Every entry's test-week predictions (pooled and made coherent as params say), scores
    and reliability, from the models in ``calibrated`` (the window's calibrate folder)."""
    manifest = io.read_json(inputs.manifest)
    window = windows.window_from_manifest(manifest)
    step = WindowStep.of("evaluate", manifest, inputs.engine)
    # the test split alone: the rows the calibrated models price
    test_rows = io.read_features(inputs.features, window.test_start, window.test_end)
    tickers = test_rows["ticker"].unique().tolist()
    oracle = None if inputs.oracle is None else io.read_oracle(inputs.oracle, tickers)
    oracle_digest = None if oracle is None else frame_digest(oracle)

    def evaluate(entry: str, folder: Path) -> None:
        cards = artifacts.read_calibrate_step(calibrated / entry)
        results = evaluate_step(test_rows, cards, oracle, entry, window.key, steps.coherence)
        artifacts.write_evaluate_step(folder, results)

    def key(entry: str) -> str:
        return step.key(
            entry,
            coherence=steps.coherence,
            calibrated=folder_digest(calibrated / entry),
            oracle=oracle_digest,
        )

    store = open_store(steps.compute.result_store)
    with one_blas_thread():
        return run_entries(entries, out, store, key, one_at_a_time(evaluate), "evaluate")


def one_process(steps: StepParams) -> StepParams:
    """``steps`` with its jobs run one after another in the calling process: a window sent to
    a cluster worker is that worker's one job, so it starts no workers of its own."""
    compute = dataclasses.replace(
        steps.compute, backend="sequential", n_jobs=1, scheduler_address=None
    )
    return dataclasses.replace(steps, compute=compute)


def fill_window(
    inputs: WindowInputs, entries: dict[str, ModelParams], steps: StepParams
) -> dict[str, Outcome]:
    """The window's three steps, as its stages run them, into a scratch folder that is then
    removed: what is left is each entry's result in the store (``steps.compute.result_store``),
    under the key its stage looks for. Per step, which entries were restored and computed."""
    if steps.compute.result_store is None:
        raise ValueError("filling the result store needs compute.result_store, not null")
    with tempfile.TemporaryDirectory(prefix="tmaxedge-fill-") as scratch:
        folders = {step: Path(scratch) / step for step in STEPS}
        return {
            "tune": tune_stage(inputs, folders["tune"], entries, steps),
            "calibrate": calibrate_stage(
                inputs, folders["tune"], folders["calibrate"], list(entries), steps
            ),
            "evaluate": evaluate_stage(
                inputs, folders["calibrate"], folders["evaluate"], list(entries), steps
            ),
        }
