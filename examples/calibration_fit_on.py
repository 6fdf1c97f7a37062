"""Holdout against cross-fitted calibration (``calibrate.fit_on``) on a run's own tuned models.

Both ways start from the same ``models/<window>/tune/<entry>`` outputs, so the comparison is of
calibration and pooling alone; the test weeks are scored as the evaluate stage scores them.
Reproduces the README's "Calibration: holdout or cross-fitted" table:

    python examples/calibration_fit_on.py tmax_dist_pooled \\
        --windows 2024-07-21,2024-07-28,2024-08-04

``--root`` is a checkout holding that run's outputs (``dvc exp apply <name>`` in a worktree, for
an experiment); its params.yaml supplies everything but ``calibrate.fit_on``.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import click
import pandas as pd

from tmaxedge.core import io
from tmaxedge.modeling.calibration import FIT_ON, CalibrateParams
from tmaxedge.modeling.scoring import score
from tmaxedge.walkforward import artifacts, layout, windows
from tmaxedge.walkforward.evaluate import all_predictions
from tmaxedge.walkforward.run import (
    calibrate_step,
    calibrated_cards,
    evaluate_step,
    load_step_params,
)


def window_predictions(root: Path, entry: str, key: str, params: CalibrateParams) -> pd.DataFrame:
    """The window's test predictions with the run's tuned models calibrated as ``params`` say:
    the calibrate and evaluate stages' steps, without the files between them."""
    config = root / "params.yaml"
    window = windows.make_window(key, io.load_params("windows", windows.WindowParams, config))
    rows = windows.read_window_rows(root / "data/features", window)
    tuned = artifacts.read_tune_step(layout.step_folder(root / "models", key, "tune") / entry)
    steps = load_step_params(config)
    calibrated = calibrate_step(rows, tuned, params, steps.pool, steps.beta_max)
    cards = calibrated_cards(calibrated)
    evaluated = evaluate_step(rows.test, cards, None, entry, key, steps.coherence)
    return all_predictions(evaluated)


@click.command()
@click.argument("entry")
@click.option(
    "--windows",
    "keys",
    default=None,
    help="Comma-separated window keys (default: all of the run's).",
)
@click.option(
    "--root", type=click.Path(exists=True, file_okay=False, path_type=Path), default=Path(".")
)
def main(entry: str, keys: str | None, root: Path) -> None:
    base = io.load_params("calibrate", CalibrateParams, root / "params.yaml")
    keys_list = (
        keys.split(",")
        if keys
        else sorted(p.parent.parent.name for p in (root / "models").glob(f"*/tune/{entry}"))
    )
    runs: dict[str, list[pd.DataFrame]] = {fit_on: [] for fit_on in FIT_ON}
    for key in keys_list:
        for fit_on in FIT_ON:
            start = time.perf_counter()
            predictions = window_predictions(
                root, entry, key, dataclasses.replace(base, fit_on=fit_on)
            )
            runs[fit_on].append(predictions)
            scores = score(predictions[predictions["p_model"].notna()])
            seconds = time.perf_counter() - start
            improvement = scores["brier_improvement"]
            click.echo(f"{key} {fit_on:8s} {seconds:5.0f} s  Brier vs market {improvement:+.4f}")
    for fit_on, parts in runs.items():
        predictions = pd.concat(parts, ignore_index=True)
        priced = predictions[predictions["p_model"].notna()]
        scores, alone = score(priced), score(priced.assign(p_model=priced["p_unpooled"]))
        click.echo(
            f"{entry} {fit_on:8s} all windows: Brier vs market {scores['brier_improvement']:+.4f} "
            f"(model alone {alone['brier_improvement']:+.4f}), "
            f"log loss {scores['log_loss_common']:.5f} "
            f"against the market's {scores['market_log_loss']:.5f}"
        )


if __name__ == "__main__":
    main()
