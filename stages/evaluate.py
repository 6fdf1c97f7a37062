"""Stage `evaluate@<window>`: every model entry's test-week predictions (pooled and made coherent
as params say), scores and reliability per group. Step 3 of
``tmaxedge.walkforward.run.run_window``; an entry whose inputs are unchanged is restored from
the result store (``tmaxedge.walkforward.store``)."""

import argparse
from pathlib import Path

from tmaxedge.core import io
from tmaxedge.core.failures import run_stage
from tmaxedge.modeling.coherence import CoherenceParams
from tmaxedge.walkforward import artifacts, windows
from tmaxedge.walkforward.compute import ComputeParams
from tmaxedge.walkforward.run import evaluate_step
from tmaxedge.walkforward.store import (
    WindowStep,
    folder_digest,
    frame_digest,
    one_at_a_time,
    open_store,
    run_entries,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("manifest", type=Path)
    parser.add_argument("features", type=Path)
    parser.add_argument("engine", type=Path, help="data/engine.json: the code's fingerprint")
    parser.add_argument("calibrated", type=Path, help="the window's calibrate folder")
    parser.add_argument("oracle", type=Path, help="data/raw/oracle.parquet (absent for real data)")
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    io.configure_logging()
    entries = io.load_model_entries()
    coherent = io.load_params("coherence", CoherenceParams)
    compute = io.load_params("compute", ComputeParams)
    manifest = io.read_json(args.manifest)
    window = windows.window_from_manifest(manifest)
    step = WindowStep.of("evaluate", manifest, args.engine, Path(__file__))
    # the test split alone: the rows the calibrated models price
    test_rows = io.read_features(args.features, window.test_start, window.test_end)
    oracle = io.read_oracle(args.oracle, test_rows["ticker"].unique().tolist())
    oracle_digest = None if oracle is None else frame_digest(oracle)

    def evaluate(entry: str, folder: Path) -> None:
        cards = artifacts.read_calibrate_step(args.calibrated / entry)
        results = evaluate_step(test_rows, cards, oracle, entry, window.key, coherent)
        artifacts.write_evaluate_step(folder, results)

    def key(entry: str) -> str:
        calibrated = folder_digest(args.calibrated / entry)
        return step.key(entry, coherence=coherent, calibrated=calibrated, oracle=oracle_digest)

    with io.atomic_directory(args.out) as tmp:
        run_entries(
            entries, tmp, open_store(compute.result_store), key, one_at_a_time(evaluate), "evaluate"
        )


if __name__ == "__main__":
    run_stage(main)
