"""Stage `tune@<model>-<window>`: Optuna study and final fit per (city, strike type)
(step 1 of ``tmaxedge.walkforward.run.run_window``)."""

import argparse
from pathlib import Path

from tmaxedge.core import config, io
from tmaxedge.core.failures import run_stage
from tmaxedge.modeling.tuning import ModelParams
from tmaxedge.walkforward import artifacts, windows
from tmaxedge.walkforward.compute import ComputeParams
from tmaxedge.walkforward.tune import tune_window


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model")
    parser.add_argument("manifest", type=Path)
    parser.add_argument("features", type=Path)
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    io.configure_logging()
    params = io.load_model_params(args.model, ModelParams)
    compute = io.load_params("compute", ComputeParams)
    window = windows.window_from_manifest(io.read_json(args.manifest))
    # the fit split alone: the rows tuning may see
    fit_rows = io.read_features(args.features, window.train_start, window.fit_end)
    # the search keeps to the gate's coefficient-norm limits, so a tuned model can pass it
    beta_max = config.load_beta_max(io.load_section("gate"))
    results = tune_window(fit_rows, args.model, params, compute, beta_max, window.key)
    with io.atomic_directory(args.out) as tmp:
        artifacts.write_tune_step(tmp, results)


if __name__ == "__main__":
    run_stage(main)
