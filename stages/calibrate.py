"""Stage `calibrate@<model>-<window>`: calibrator and market pooling weight per (city, strike type),
fitted on the window's calibration split around the frozen tuned model, or cross-fitted over
every training day around the model refitted on them (``calibrate.fit_on``: tmaxedge.walkforward.crossfit)."""

import argparse
from pathlib import Path

from tmaxedge.core import config, io
from tmaxedge.core.failures import run_stage
from tmaxedge.modeling.calibration import CalibrateParams
from tmaxedge.modeling.pooling import PoolParams
from tmaxedge.walkforward import artifacts, crossfit, windows


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
    rows = io.read_features(args.features, crossfit.calibration_start(window, params), window.train_end)
    groups = sorted(p for p in args.tuned.iterdir() if p.is_dir())
    cards = {g.name: artifacts.read_tuned(g) for g in groups}
    best = {g.name: io.read_json(g / "best_params.json") for g in groups}
    split = windows.split_of(rows["event_date"], window)
    fit_rows, calibration_rows = (rows[split.eq(name).to_numpy()] for name in ["fit", "calibrate"])
    results = crossfit.calibrate_tuned(fit_rows, calibration_rows, cards, best, params, pool, beta_max)
    with io.atomic_directory(args.out) as tmp:
        for group in groups:
            card, fitted, info = results[group.name]
            if card is None:
                artifacts.write_uncalibrated(tmp / group.name, f"no model: {best[group.name]['status']}")
            else:
                artifacts.write_calibrated(tmp / group.name, card, fitted, info)


if __name__ == "__main__":
    run_stage(main)
