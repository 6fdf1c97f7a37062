"""Stage `tune@<model>-<window>`: Optuna study and final fit per (city, strike type)."""

import argparse
from pathlib import Path

from tmaxedge.core import config, io
from tmaxedge.core.failures import run_stage
from tmaxedge.modeling.tuning import ModelParams
from tmaxedge.walkforward import artifacts, windows
from tmaxedge.walkforward import steps as walkforward


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model")
    parser.add_argument("manifest", type=Path)
    parser.add_argument("features", type=Path)
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    io.configure_logging()
    params = io.load_model_params(args.model, ModelParams)
    compute = io.load_params("compute", walkforward.ComputeParams)
    window = windows.window_from_manifest(io.read_json(args.manifest))
    rows = io.read_features(args.features, window.train_start, window.fit_end)
    # the search keeps to the gate's coefficient-norm limits, so a tuned model can pass it
    beta_max = config.load_beta_max(io.load_section("gate"))
    results = walkforward.tune_window(rows, args.model, params, compute, beta_max, window.key)
    with io.atomic_directory(args.out) as tmp:
        for name, result in results.items():
            artifacts.write_tuned(tmp / name, result)


if __name__ == "__main__":
    run_stage(main)
