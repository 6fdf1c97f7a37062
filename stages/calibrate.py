"""Stage `calibrate@<model>-<window>`: calibrator and market pooling weight per (city, strike type)
on the frozen model, fitted on the window's calibration split."""

import argparse
from pathlib import Path

from tmaxedge import artifacts, io, walkforward, windows
from tmaxedge.calibrate import CalibrateParams
from tmaxedge.pool import PoolParams


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
    rows = io.read_features(args.features, window.fit_end, window.train_end)
    found = walkforward.groups_of(rows)
    groups = sorted(p for p in args.tuned.iterdir() if p.is_dir())
    cards = {g.name: artifacts.read_tuned(g) for g in groups}
    parts = {name: found.get(name, rows.iloc[0:0]) for name in cards}
    results = walkforward.calibrate_window(parts, cards, params, pool)
    with io.atomic_directory(args.out) as tmp:
        for group in groups:
            card, fitted, info = results[group.name]
            if card is None:
                status = io.read_json(group / "best_params.json")["status"]
                artifacts.write_uncalibrated(tmp / group.name, f"no model: {status}")
            else:
                artifacts.write_calibrated(tmp / group.name, card, fitted, info)


if __name__ == "__main__":
    main()
