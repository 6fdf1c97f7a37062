"""Stage `calibrate@<window>`: every model entry's calibrator and market pooling weight per (city,
strike type), fitted on the window's calibration split around the frozen tuned model, or
cross-fitted over every training day around the model refitted on them (``calibrate.fit_on``:
tmaxedge.walkforward.crossfit). ``tmaxedge.walkforward.steps.calibrate_stage``; an entry whose
inputs are unchanged is restored from the result store (``tmaxedge.walkforward.store``)."""

import argparse
from pathlib import Path

from tmaxedge.core import io
from tmaxedge.core.failures import run_stage
from tmaxedge.walkforward import artifacts
from tmaxedge.walkforward.run import load_step_entries, load_step_params
from tmaxedge.walkforward.steps import WindowInputs, calibrate_stage


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("manifest", type=Path)
    parser.add_argument("features", type=Path)
    parser.add_argument("engine", type=Path, help="data/engine.json: the code's fingerprint")
    parser.add_argument("params", type=Path, help="data/step_params/calibrate.yaml: what it reads")
    parser.add_argument("tuned", type=Path, help="the window's tune folder (one per entry)")
    parser.add_argument("out", type=Path)
    parser.add_argument(
        "models", type=Path, help="data/by_window/<window>.models.json: what later stages read"
    )
    args = parser.parse_args()
    io.configure_logging()
    inputs = WindowInputs(args.manifest, args.features, args.engine)
    entries = load_step_entries(args.params)
    steps = load_step_params(args.params, compute=io.PARAMS_FILE)
    with io.atomic_directory(args.out) as tmp:
        calibrate_stage(inputs, args.tuned, tmp, entries, steps)
    io.write_json_atomic(artifacts.window_models(args.tuned, args.out, entries), args.models)


if __name__ == "__main__":
    run_stage(main)
