"""Stage `tune@<window>`: every model entry's Optuna study and final fit per (city, strike type)
(step 1 of ``tmaxedge.walkforward.run.run_window``); an entry whose inputs are unchanged is
restored from the result store (``tmaxedge.walkforward.store``)."""

import argparse
import functools
from collections.abc import Callable, Iterator
from pathlib import Path

from tmaxedge.core import config, io
from tmaxedge.core.failures import run_stage
from tmaxedge.modeling.tuning import ModelParams
from tmaxedge.walkforward import artifacts, windows
from tmaxedge.walkforward.compute import ComputeParams
from tmaxedge.walkforward.store import WindowStep, open_store, run_entries
from tmaxedge.walkforward.tune import tune_entries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("manifest", type=Path)
    parser.add_argument("features", type=Path)
    parser.add_argument("engine", type=Path, help="data/engine.json: the code's fingerprint")
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    io.configure_logging()
    entries = io.load_model_entries()
    params = {entry: io.load_model_params(entry, ModelParams) for entry in entries}
    compute = io.load_params("compute", ComputeParams)
    manifest = io.read_json(args.manifest)
    window = windows.window_from_manifest(manifest)
    # the search keeps to the gate's coefficient-norm limits, so a tuned model can pass it
    beta_max = config.load_beta_max(io.load_section("gate"))
    step = WindowStep.of("tune", manifest, args.engine, Path(__file__))

    @functools.cache
    def fit_rows():  # the fit split alone: the rows tuning may see; read once, if needed
        return io.read_features(args.features, window.train_start, window.fit_end)

    def tune(missing: list[str]) -> Iterator[tuple[str, Callable[[Path], None]]]:
        if not missing:
            return
        wanted = {entry: params[entry] for entry in missing}
        for entry, results in tune_entries(fit_rows(), wanted, compute, beta_max, window.key):
            yield entry, functools.partial(artifacts.write_tune_step, tuned=results)

    with io.atomic_directory(args.out) as tmp:
        run_entries(
            entries,
            tmp,
            open_store(compute.result_store),
            lambda entry: step.key(entry, params=params[entry], beta_max=beta_max),
            tune,
            "tune",
        )


if __name__ == "__main__":
    run_stage(main)
