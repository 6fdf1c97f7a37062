"""Stage `evaluate@<window>`: every model entry's test-week predictions (pooled and made coherent
as params say), scores and reliability per group (``tmaxedge.walkforward.steps.evaluate_stage``);
an entry whose inputs are unchanged is restored from the result store
(``tmaxedge.walkforward.store``)."""

import argparse
from pathlib import Path

from tmaxedge.core import io
from tmaxedge.core.failures import run_stage
from tmaxedge.walkforward import artifacts
from tmaxedge.walkforward.run import load_step_entries, load_step_params
from tmaxedge.walkforward.steps import WindowInputs, evaluate_stage


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("manifest", type=Path)
    parser.add_argument("features", type=Path)
    parser.add_argument("engine", type=Path, help="data/engine.json: the code's fingerprint")
    parser.add_argument("params", type=Path, help="data/step_params/evaluate.yaml: what it reads")
    parser.add_argument("calibrated", type=Path, help="the window's calibrate folder")
    parser.add_argument("oracle", type=Path, help="data/raw/oracle.parquet (absent for real data)")
    parser.add_argument("out", type=Path)
    parser.add_argument(
        "predictions",
        type=Path,
        help="data/by_window/<window>.predictions.parquet: every entry's, for later stages",
    )
    args = parser.parse_args()
    io.configure_logging()
    inputs = WindowInputs(args.manifest, args.features, args.engine, args.oracle)
    entries = load_step_entries(args.params)
    steps = load_step_params(args.params, compute=io.PARAMS_FILE)
    with io.atomic_directory(args.out) as tmp:
        evaluate_stage(inputs, args.calibrated, tmp, entries, steps)
    io.write_parquet_atomic(artifacts.window_predictions(args.out, entries), args.predictions)


if __name__ == "__main__":
    run_stage(main)
