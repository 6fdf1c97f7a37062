"""Ablation: a model entry's walk-forward rerun with one feature group left out at a time.

Each run tunes, calibrates, pools and makes coherent exactly as the stages do (the same
``walkforward`` functions, the same params), on the same test weeks; only
``tune.<entry>.drop_groups`` differs. Runs are compared on the rows that every run priced, so a
change in coverage does not pass for a change in skill.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from tmaxedge.modeling.calibration import CalibrateParams
from tmaxedge.modeling.coherence import CoherenceParams
from tmaxedge.modeling.pooling import PoolParams
from tmaxedge.modeling.scoring import score
from tmaxedge.modeling.tuning import ModelParams
from tmaxedge.walkforward import crossfit
from tmaxedge.walkforward import steps as walkforward

ALL = "all features"


@dataclass(frozen=True)
class Steps:
    """The params.yaml sections a walk-forward run reads after ``tune``."""

    calibrate: CalibrateParams
    pool: PoolParams
    coherence: CoherenceParams
    compute: walkforward.ComputeParams
    beta_max: dict[str, float]


def window_predictions(split: dict[str, pd.DataFrame], entry: str, params: ModelParams, steps: Steps, key: str) -> pd.DataFrame:
    """One window's test predictions: tune on ``split["fit"]``, calibrate and pool as
    ``steps.calibrate.fit_on`` says (``tmaxedge.walkforward.crossfit``), predict ``split["test"]``."""
    tuned = walkforward.tune_window(split["fit"], entry, params, steps.compute, steps.beta_max, key)
    cards = {name: walkforward.uncalibrated_card(result) for name, result in tuned.items()}
    best = {name: result.best_params for name, result in tuned.items()}
    calibrated = crossfit.calibrate_tuned(split["fit"], split["calibrate"], cards, best, steps.calibrate,
                                          steps.pool, steps.beta_max)  # fmt: skip
    final = {name: card for name, (card, _, _) in calibrated.items()}
    evaluated = walkforward.evaluate_window(walkforward.groups_of(split["test"]), final, None, entry, key, steps.coherence)
    return pd.concat([predictions for predictions, _ in evaluated.values()], ignore_index=True)


def run_ablation(
    read_window: Callable[[str], dict[str, pd.DataFrame]],
    keys: list[str],
    entry: str,
    params: ModelParams,
    steps: Steps,
    groups: list[str],
    progress: Callable = lambda iterable, **_: iterable,
) -> dict[str, pd.DataFrame]:
    """Each run's test predictions over the windows ``keys``: all features, then without each
    of ``groups`` (added to what ``params.drop_groups`` already leaves out)."""
    variants = {ALL: params} | {
        f"without {group}": dataclasses.replace(params, drop_groups=[*params.drop_groups, group]) for group in groups
    }
    runs: dict[str, list[pd.DataFrame]] = {name: [] for name in variants}
    for key in progress(keys, desc=f"ablation {entry}", unit="window"):
        split = read_window(key)
        for name, variant in variants.items():
            runs[name].append(window_predictions(split, entry, variant, steps, key))
    return {name: pd.concat(parts, ignore_index=True) for name, parts in runs.items()}


def ablation_table(runs: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per run: Brier and log loss on the rows every run priced, the market's there, and the
    change against the run with all features (positive = worse without the group)."""
    priced = pd.concat([run["p_model"].notna() for run in runs.values()], axis=1).all(axis=1).to_numpy()
    rows = []
    for name, run in runs.items():
        scores = score(run[priced])
        rows.append({"run": name, "n_rows": int(priced.sum()), "brier": scores["brier_common"],
                     "log_loss": scores["log_loss_common"], "market_brier": scores["market_brier"],
                     "brier_improvement": scores["brier_improvement"]})  # fmt: skip
    table = pd.DataFrame(rows)
    base = table.iloc[0]
    table["brier_change"] = table["brier"] - base["brier"]
    table["log_loss_change"] = table["log_loss"] - base["log_loss"]
    return table
