"""Stage `calibrate@<model>-<window>`: calibrator per (city, strike type) on the frozen model."""

import argparse
from pathlib import Path

from tmaxedge import artifacts, io, walkforward, windows
from tmaxedge.calibrate import CalibrateParams


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("manifest", type=Path)
    parser.add_argument("features", type=Path)
    parser.add_argument("tuned", type=Path, help="the tune stage's output folder")
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    io.configure_logging()
    params = io.load_params("calibrate", CalibrateParams)
    window = windows.window_from_manifest(io.read_json(args.manifest))
    rows = io.read_features(args.features, window.fit_end, window.train_end)
    parts = walkforward.groups_of(rows)
    with io.atomic_directory(args.out) as tmp:
        for group in sorted(p for p in args.tuned.iterdir() if p.is_dir()):
            card = artifacts.read_tuned(group)
            if card is None:
                status = io.read_json(group / "best_params.json")["status"]
                artifacts.write_uncalibrated(tmp / group.name, f"no model: {status}")
                continue
            part = parts.get(group.name, rows.iloc[0:0])
            artifacts.write_calibrated(tmp / group.name, *walkforward.calibrate_one(part, card, params))


if __name__ == "__main__":
    main()
