"""Holdout against cross-fitted calibration (``calibrate.fit_on``) on a run's own tuned models.

Both ways start from the same ``models/<entry>/<window>/tune`` outputs, so the comparison is of
calibration and pooling alone; the test weeks are scored as the evaluate stage scores them.
Reproduces the README's "Calibration: holdout or cross-fitted" table:

    python examples/calibration_fit_on.py tmax_dist_pooled --windows 2024-07-21,2024-07-28,2024-08-04

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
from tmaxedge.decision.gates import GateParams
from tmaxedge.modeling.calibration import FIT_ON, CalibrateParams
from tmaxedge.modeling.coherence import CoherenceParams
from tmaxedge.modeling.pooling import PoolParams
from tmaxedge.modeling.scoring import score
from tmaxedge.walkforward import artifacts, crossfit, windows
from tmaxedge.walkforward import steps as walkforward


def window_predictions(root: Path, entry: str, key: str, params: CalibrateParams) -> pd.DataFrame:
    config = root / "params.yaml"
    window = windows.make_window(key, io.load_params("windows", windows.WindowParams, config))
    rows = io.read_features(root / "data/features", window.train_start, window.test_end)
    split = windows.split_of(rows["event_date"], window)
    fit, calibration, test = (rows[split.eq(n).to_numpy()].reset_index(drop=True) for n in ["fit", "calibrate", "test"])
    groups = sorted(p for p in (root / "models" / entry / key / "tune").iterdir() if p.is_dir())
    cards = {g.name: artifacts.read_tuned(g) for g in groups}
    best = {g.name: io.read_json(g / "best_params.json") for g in groups}
    pool = io.load_params("pool", PoolParams, config)
    beta_max = io.load_params("gate", GateParams, config).beta_max
    calibrated = crossfit.calibrate_tuned(fit, calibration, cards, best, params, pool, beta_max)
    final = {name: card for name, (card, _, _) in calibrated.items()}
    coherence = io.load_params("coherence", CoherenceParams, config)
    evaluated = walkforward.evaluate_window(walkforward.groups_of(test), final, None, entry, key, coherence)
    return pd.concat([predictions for predictions, _ in evaluated.values()], ignore_index=True)


@click.command()
@click.argument("entry")
@click.option("--windows", "keys", default=None, help="Comma-separated window keys (default: all of the run's).")
@click.option("--root", type=click.Path(exists=True, file_okay=False, path_type=Path), default=Path("."))
def main(entry: str, keys: str | None, root: Path) -> None:
    base = io.load_params("calibrate", CalibrateParams, root / "params.yaml")
    keys_list = keys.split(",") if keys else sorted(p.name for p in (root / "models" / entry).iterdir() if p.is_dir())
    runs: dict[str, list[pd.DataFrame]] = {fit_on: [] for fit_on in FIT_ON}
    for key in keys_list:
        for fit_on in FIT_ON:
            start = time.perf_counter()
            predictions = window_predictions(root, entry, key, dataclasses.replace(base, fit_on=fit_on))
            runs[fit_on].append(predictions)
            scores = score(predictions[predictions["p_model"].notna()])
            click.echo(f"{key} {fit_on:8s} {time.perf_counter() - start:5.0f} s  "
                       f"Brier vs market {scores['brier_improvement']:+.4f}")  # fmt: skip
    for fit_on, parts in runs.items():
        predictions = pd.concat(parts, ignore_index=True)
        priced = predictions[predictions["p_model"].notna()]
        scores, alone = score(priced), score(priced.assign(p_model=priced["p_unpooled"]))
        click.echo(f"{entry} {fit_on:8s} all windows: Brier vs market {scores['brier_improvement']:+.4f} "
                   f"(model alone {alone['brier_improvement']:+.4f}), log loss {scores['log_loss_common']:.5f} "
                   f"against the market's {scores['market_log_loss']:.5f}")  # fmt: skip


if __name__ == "__main__":
    main()
