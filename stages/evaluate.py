"""Stage `evaluate@<model>-<window>`: test-week predictions, scores and reliability per group."""

import argparse
from pathlib import Path

from tmaxedge import artifacts, io, walkforward, windows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model")
    parser.add_argument("manifest", type=Path)
    parser.add_argument("features", type=Path)
    parser.add_argument("calibrated", type=Path, help="the calibrate stage's output folder")
    parser.add_argument("oracle", type=Path, help="data/raw/oracle.parquet (absent for real data)")
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    io.configure_logging()
    window = windows.window_from_manifest(io.read_json(args.manifest))
    rows = io.read_features(args.features, window.test_start, window.test_end)
    oracle = io.read_oracle(args.oracle, rows["ticker"].unique().tolist())
    scores = {}
    with io.atomic_directory(args.out) as tmp:
        for name, part in walkforward.groups_of(rows).items():
            card = artifacts.read_calibrated(args.calibrated / name)
            predictions, report = walkforward.evaluate_group(part, card, oracle, args.model, window.key)
            artifacts.write_evaluated(tmp / name, predictions, report)
            scores[name] = report["scores"]
        io.write_json_atomic(scores, tmp / "scores.json")


if __name__ == "__main__":
    main()
