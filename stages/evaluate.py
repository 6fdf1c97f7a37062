"""Stage `evaluate@<model>-<window>`: test-week predictions (pooled and made coherent as params
say), scores and reliability per group."""

import argparse
from pathlib import Path

from tmaxedge.core import io
from tmaxedge.core.failures import run_stage
from tmaxedge.modeling.coherence import CoherenceParams
from tmaxedge.walkforward import artifacts, windows
from tmaxedge.walkforward import steps as walkforward


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
    coherent = io.load_params("coherence", CoherenceParams)
    window = windows.window_from_manifest(io.read_json(args.manifest))
    rows = io.read_features(args.features, window.test_start, window.test_end)
    oracle = io.read_oracle(args.oracle, rows["ticker"].unique().tolist())
    parts = walkforward.groups_of(rows)
    cards = {name: artifacts.read_calibrated(args.calibrated / name) for name in parts}
    results = walkforward.evaluate_window(parts, cards, oracle, args.model, window.key, coherent)
    with io.atomic_directory(args.out) as tmp:
        for name, (predictions, report) in results.items():
            artifacts.write_evaluated(tmp / name, predictions, report)
        io.write_json_atomic({name: report["scores"] for name, (_, report) in results.items()}, tmp / "scores.json")


if __name__ == "__main__":
    run_stage(main)
