"""Stage `calibrate@<model>-<window>`: calibrator and market pooling weight per (city, strike type),
fitted on the window's calibration split around the frozen tuned model, or cross-fitted over
every training day around the model refitted on them (``calibrate.fit_on``:
tmaxedge.walkforward.crossfit). Step 2 of ``tmaxedge.walkforward.run.run_window``."""

import argparse
from pathlib import Path

from tmaxedge.core import config, io
from tmaxedge.core.failures import run_stage
from tmaxedge.modeling.calibration import CalibrateParams
from tmaxedge.modeling.pooling import PoolParams
from tmaxedge.walkforward import artifacts, crossfit, windows
from tmaxedge.walkforward.run import calibrate_step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("manifest", type=Path)
    parser.add_argument("features", type=Path)
    parser.add_argument("tuned", type=Path, help="the tune stage's output folder")
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    io.configure_logging()
    params = io.load_params("calibrate", CalibrateParams)
    pool = io.load_params("pool", PoolParams)
    window = windows.window_from_manifest(io.read_json(args.manifest))
    beta_max = config.load_beta_max(io.load_section("gate"))
    start = crossfit.calibration_start(window, params)
    rows = windows.split_rows(io.read_features(args.features, start, window.train_end), window)
    tuned = artifacts.read_tune_step(args.tuned)
    results = calibrate_step(rows, tuned, params, pool, beta_max)
    with io.atomic_directory(args.out) as tmp:
        artifacts.write_calibrate_step(tmp, results, tuned.best_params)


if __name__ == "__main__":
    run_stage(main)
