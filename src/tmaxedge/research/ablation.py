"""Ablation: a model entry's walk-forward rerun with one feature group left out at a time.

Each run tunes, calibrates, pools and makes coherent exactly as the stages do (``run_window``:
the same step functions, the same params), on the same test weeks; only
``tune.<entry>.drop_groups`` differs. Runs are compared on the rows that every run priced, so a
change in coverage does not pass for a change in skill.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pandas as pd

from tmaxedge.modeling.scoring import score
from tmaxedge.modeling.tuning import ModelParams
from tmaxedge.walkforward.run import StepParams, run_window
from tmaxedge.walkforward.windows import WindowRows

ALL = "all features"


def run_ablation(
    read_window: Callable[[str], WindowRows],
    keys: list[str],
    entry: str,
    params: ModelParams,
    steps: StepParams,
    groups: list[str],
    progress: Callable = lambda iterable, **_: iterable,
) -> dict[str, pd.DataFrame]:
    """Each run's test predictions over the windows ``keys``: all features, then without each
    of ``groups`` (added to what ``params.drop_groups`` already leaves out)."""
    variants = {ALL: params} | {
        f"without {group}": dataclasses.replace(params, drop_groups=[*params.drop_groups, group])
        for group in groups
    }
    runs: dict[str, list[pd.DataFrame]] = {name: [] for name in variants}
    for key in progress(keys, desc=f"ablation {entry}", unit="window"):
        rows = read_window(key)
        for name, variant in variants.items():
            runs[name].append(run_window(rows, entry, variant, steps, key).predictions)
    return {name: pd.concat(parts, ignore_index=True) for name, parts in runs.items()}


def ablation_table(runs: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per run: Brier and log loss on the rows every run priced, the market's there, and the
    change against the run with all features (positive = worse without the group)."""
    priced = (
        pd.concat([run["p_model"].notna() for run in runs.values()], axis=1).all(axis=1).to_numpy()
    )
    rows = []
    for name, run in runs.items():
        scores = score(run[priced])
        rows.append(
            {
                "run": name,
                "n_rows": int(priced.sum()),
                "brier": scores["brier_common"],
                "log_loss": scores["log_loss_common"],
                "market_brier": scores["market_brier"],
                "brier_improvement": scores["brier_improvement"],
            }
        )
    table = pd.DataFrame(rows)
    base = table.iloc[0]
    table["brier_change"] = table["brier"] - base["brier"]
    table["log_loss_change"] = table["log_loss"] - base["log_loss"]
    return table
