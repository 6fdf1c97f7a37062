"""Stage `calibrate@<window>`: every model entry's calibrator and market pooling weight per (city,
strike type), fitted on the window's calibration split around the frozen tuned model, or
cross-fitted over every training day around the model refitted on them (``calibrate.fit_on``:
tmaxedge.walkforward.crossfit). Step 2 of ``tmaxedge.walkforward.run.run_window``; an entry
whose inputs are unchanged is restored from the result store (``tmaxedge.walkforward.store``)."""

import argparse
import functools
from pathlib import Path

from tmaxedge.core import config, io
from tmaxedge.core.failures import run_stage
from tmaxedge.modeling.calibration import CalibrateParams
from tmaxedge.modeling.pooling import PoolParams
from tmaxedge.walkforward import artifacts, crossfit, windows
from tmaxedge.walkforward.compute import ComputeParams
from tmaxedge.walkforward.run import calibrate_step
from tmaxedge.walkforward.store import (
    WindowStep,
    folder_digest,
    one_at_a_time,
    open_store,
    run_entries,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("manifest", type=Path)
    parser.add_argument("features", type=Path)
    parser.add_argument("engine", type=Path, help="data/engine.json: the code's fingerprint")
    parser.add_argument("tuned", type=Path, help="the window's tune folder (one per entry)")
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    io.configure_logging()
    entries = io.load_model_entries()
    params = io.load_params("calibrate", CalibrateParams)
    pool = io.load_params("pool", PoolParams)
    compute = io.load_params("compute", ComputeParams)
    manifest = io.read_json(args.manifest)
    window = windows.window_from_manifest(manifest)
    beta_max = config.load_beta_max(io.load_section("gate"))
    step = WindowStep.of("calibrate", manifest, args.engine, Path(__file__))

    @functools.cache
    def rows():
        start = crossfit.calibration_start(window, params)
        return windows.split_rows(io.read_features(args.features, start, window.train_end), window)

    def calibrate(entry: str, folder: Path) -> None:
        tuned = artifacts.read_tune_step(args.tuned / entry)
        results = calibrate_step(rows(), tuned, params, pool, beta_max)
        artifacts.write_calibrate_step(folder, results, tuned.best_params)

    def key(entry: str) -> str:
        tuned = folder_digest(args.tuned / entry)
        return step.key(entry, calibrate=params, pool=pool, beta_max=beta_max, tuned=tuned)

    with io.atomic_directory(args.out) as tmp:
        run_entries(
            entries,
            tmp,
            open_store(compute.result_store),
            key,
            one_at_a_time(calibrate),
            "calibrate",
        )


if __name__ == "__main__":
    run_stage(main)
