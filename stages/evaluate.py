"""Stage `evaluate@<model>-<window>`: test-week predictions (pooled and made coherent as params
say), scores and reliability per group. Step 3 of ``tmaxedge.walkforward.run.run_window``."""

import argparse
from pathlib import Path

from tmaxedge.core import io
from tmaxedge.core.failures import run_stage
from tmaxedge.modeling.coherence import CoherenceParams
from tmaxedge.walkforward import artifacts, windows
from tmaxedge.walkforward.run import evaluate_step


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
    # the test split alone: the rows the calibrated models price
    test_rows = io.read_features(args.features, window.test_start, window.test_end)
    oracle = io.read_oracle(args.oracle, test_rows["ticker"].unique().tolist())
    cards = artifacts.read_calibrate_step(args.calibrated)
    results = evaluate_step(test_rows, cards, oracle, args.model, window.key, coherent)
    with io.atomic_directory(args.out) as tmp:
        artifacts.write_evaluate_step(tmp, results)


if __name__ == "__main__":
    run_stage(main)
