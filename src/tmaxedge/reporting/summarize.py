"""Walk-forward summaries over all windows: per (model, city, strike type) and per model; the
merged edge diagnostics and what params.yaml ``summarize`` adds to them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from tmaxedge.core.keys import Group
from tmaxedge.core.params import Options, Params, declare
from tmaxedge.core.probability import brier
from tmaxedge.modeling import skill
from tmaxedge.modeling.coherence import coherent_probabilities
from tmaxedge.modeling.scoring import score
from tmaxedge.modeling.skill import Bootstrap
from tmaxedge.modeling.tuning import NOT_CONVERGED
from tmaxedge.walkforward.layout import EDGE_COLUMNS

# the brief's merged edge-diagnostics CSV: the model entry (so one file holds every entry), then
# the brief's columns in its order
EDGE_CSV_COLUMNS = ["model", *EDGE_COLUMNS]
EDGE_CSV_FORMATS = ("none", "csv", "csv.gz")
# the edge diagnostics' row order, in the Parquet and the CSV alike
EDGE_ORDER = ["model", "city", "bracket", "market_ticker", "timestamp"]


@dataclass(frozen=True)
class SummarizeParams(Params):
    """params.yaml ``summarize``: the event-clustered bootstrap behind every interval
    (``n_resamples`` resamples from ``seed`` at ``level``: ``modeling.skill.Bootstrap``);
    ``edge_diagnostics_csv`` also writes the edge diagnostics as the brief's one merged CSV,
    plain (``csv``) or gzipped (``csv.gz``), beside the Parquet; ``none`` writes the Parquet alone
    (the CSV is 224 MB on the default, 35 MB gzipped)."""

    constraints = declare(**Bootstrap.constraints, edge_diagnostics_csv=Options(EDGE_CSV_FORMATS))

    n_resamples: int = 2000
    seed: int = 0
    level: float = 0.95
    edge_diagnostics_csv: str = "none"

    @property
    def bootstrap(self) -> Bootstrap:
        return Bootstrap(self.n_resamples, self.seed, self.level)

    @property
    def edge_csv_name(self) -> str | None:
        """The CSV's file name, None when none is written."""
        kind = self.edge_diagnostics_csv
        return None if kind == "none" else f"edge_diagnostics.{kind}"


def edge_diagnostics(predictions: pd.DataFrame) -> pd.DataFrame:
    """Every entry's test predictions in the edge diagnostics' row order (``EDGE_ORDER``)."""
    return predictions.sort_values(EDGE_ORDER, kind="mergesort", ignore_index=True)


def summarize_predictions(predictions: pd.DataFrame) -> dict:
    """Pooled test scores of a set of predictions, with the oracle's when there is one.

    ``gap_closed`` is the share of the market-to-oracle Brier gap the model closes on the rows
    where model, market and oracle all have a probability: 0 = no better than the market,
    1 = as good as the oracle, negative = worse than the market.
    """
    result = score(predictions)
    result["n_windows"] = int(predictions["window"].nunique())
    result.update(step_scores(predictions))
    complete = predictions[["p_model", "p_market", "p_oracle"]].notna().all(axis=1).to_numpy()
    if complete.any():
        y = predictions["y"].to_numpy(float)[complete]
        model = brier(y, predictions["p_model"].to_numpy(float)[complete])
        market = brier(y, predictions["p_market"].to_numpy(float)[complete])
        oracle = brier(y, predictions["p_oracle"].to_numpy(float)[complete])
        result["oracle_brier"] = oracle
        result["gap_closed"] = (
            (market - model) / (market - oracle) if market > oracle else float("nan")
        )
    return result


STEPS = {"unpooled": "p_unpooled", "incoherent": "p_incoherent"}


def step_scores(predictions: pd.DataFrame) -> dict:
    """Brier and log loss of the forecast before pooling (``*_unpooled``) and before coherence
    (``*_incoherent``), on the rows where the final forecast and the market are compared."""
    result = {}
    for step, column in STEPS.items():
        if column not in predictions:
            continue
        scores = score(
            predictions.assign(p_model=predictions[column]).loc[predictions["p_model"].notna()]
        )
        for name in ["brier_common", "log_loss_common", "brier_improvement"]:
            if name in scores:
                result[f"{name.removesuffix('_common')}_{step}"] = scores[name]
    return result


def per_window(predictions: pd.DataFrame) -> pd.DataFrame:
    """Model and market Brier and log loss per test window (on the rows both price), for the
    per-window chart and the means over windows."""
    rows = []
    for window, part in predictions.groupby("window", sort=True):
        scores = score(part)
        rows.append(
            {
                "window": window,
                "brier": scores.get("brier_common", np.nan),
                "market_brier": scores.get("market_brier", np.nan),
                "n_rows": len(part),
                "log_loss": scores.get("log_loss_common", np.nan),
                "market_log_loss": scores.get("market_log_loss", np.nan),
                "coverage": scores["coverage"],
            }
        )
    return pd.DataFrame(rows)


def window_means(table: pd.DataFrame) -> dict[str, float]:
    """The brief's cross-window comparison: each score's mean over the test windows (every
    window weighs the same, however many rows it has), from ``per_window``'s table; and the
    lowest window's coverage, which the gate holds to its limit in every window."""
    means = {f"{name}_window_mean": float(table[name].mean()) for name in ["log_loss", "brier"]}
    return {**means, "coverage_lowest_window": float(table["coverage"].min())}


WINDOW_SCORE_KEYS = [  # the model's on its rows; *_common and market_* on the rows both price
    "log_loss",
    "brier",
    "log_loss_common",
    "brier_common",
    "market_log_loss",
    "market_brier",
    "brier_improvement",
    "coverage",
    "n_rows",
]
BEST_PARAM_KEYS = ["status", "C", "C_fit", "class_weight", "l1_ratio", "cv_log_loss", "cv_brier"]


def window_records(
    predictions: pd.DataFrame, bounds: dict[str, dict], best_params: dict[str, dict]
) -> list[dict]:
    """One record per test window of one group's predictions (the brief's walkforward summary):
    the window's dates (``bounds``: window -> its manifest's ``window``; ends exclusive), its
    test scores, and the hyperparameters its study chose (``best_params``: window -> the
    group's best_params.json; absent: none recorded)."""
    records = []
    for window, part in predictions.groupby("window", sort=True):
        dates = bounds[window]
        scores = score(part)
        best = best_params.get(window, {})
        records.append(
            {
                "window": window,
                **{k: dates[k] for k in ["train_start", "train_end", "test_start", "test_end"]},
                **{k: scores[k] for k in WINDOW_SCORE_KEYS if k in scores},
                "best_params": {k: best[k] for k in BEST_PARAM_KEYS if k in best},
            }
        )
    return records


METRIC_KEYS = [
    "log_loss",
    "brier",
    "market_brier",
    "market_log_loss",
    "brier_improvement",
    "log_loss_common",
    "brier_common",
    "ece",
    "coverage",
    "oracle_brier",
    "gap_closed",
    "n_rows",
    "n_windows",
    "brier_unpooled",
    "brier_improvement_unpooled",
    "log_loss_unpooled",
    "brier_incoherent",
    "brier_improvement_incoherent",
    "log_loss_incoherent",
    "log_loss_window_mean",
    "brier_window_mean",
    "coverage_lowest_window",
    "n_events",
    "interval_level",
    "brier_improvement_low",
    "brier_improvement_high",
    "log_loss_improvement_low",
    "log_loss_improvement_high",
    "reliability",
    "resolution",
    "market_reliability",
    "market_resolution",
    "rps",
    "market_rps",
    "coherent_market_brier",
    "brier_improvement_vs_coherent_market",
    "brier_improvement_vs_coherent_market_low",
    "brier_improvement_vs_coherent_market_high",
]


def flat_metrics(summary: dict) -> dict:
    """The small, stable subset of a summary that `dvc metrics diff` shows in review."""
    return {
        k: (round(v, 6) if isinstance(v, float) else v)
        for k, v in summary.items()
        if k in METRIC_KEYS
    }


POOL_WEIGHT_COLUMNS = ["model", "window", "group", "strike", "scope", "w", "n_rows"]


def pool_weight_table(records: list[tuple[str, str, str, dict]]) -> pd.DataFrame:
    """One row per (model, window, group) with a pooling weight, from ``(model, window, group,
    calibration_fit)`` records; groups without a model or without pooling are left out."""
    rows = [
        {
            "model": model,
            "window": window,
            "group": group,
            "strike": Group.parse(group).strike_type,
            "scope": fit["pool"]["scope"],
            "w": fit["pool"]["w"],
            "n_rows": fit["pool"]["n_rows"],
        }
        for model, window, group, fit in records
        if "pool" in fit
    ]
    frame = pd.DataFrame(rows, columns=POOL_WEIGHT_COLUMNS)
    return frame.sort_values(["model", "window", "group"], kind="mergesort", ignore_index=True)


def not_converged_fits(records: list[tuple[str, dict]], entries: list[str]) -> dict[str, int]:
    """Per model entry, how many of its fits (every study's fold fits and the final fits, over
    all windows and groups) stopped at the solver's iteration limit, from ``(entry,
    best_params)`` records of the tune step (the count is in best_params.json when non-zero)."""
    counts = dict.fromkeys(entries, 0)
    for entry, best in records:
        counts[entry] = counts.get(entry, 0) + int(best.get(NOT_CONVERGED, 0))
    return counts


EVIDENCE_SCORES = {"brier": "brier_improvement", "log_loss": "log_loss_improvement"}


def evidence(predictions: pd.DataFrame, positions: pd.Series, bootstrap: Bootstrap) -> dict:
    """How sure the comparison with the market is, on the rows both price: each improvement's
    event-clustered interval, the Murphy decomposition of both Brier scores, the ranked
    probability score over complete ladders (``positions``: ticker -> rank in its event), and
    the improvement by hours to close (``by_hours_to_close``: for the summaries, not metrics)."""
    sums = skill.event_score_sums(predictions)
    result: dict = {"n_events": len(sums), "interval_level": bootstrap.level}
    if sums.empty:
        return result
    for kind, name in EVIDENCE_SCORES.items():
        interval = skill.improvement_interval(sums, kind, bootstrap)
        result.update({f"{name}_low": interval.low, f"{name}_high": interval.high})
    both = predictions[predictions["p_model"].notna() & predictions["p_market"].notna()]
    y = both["y"].to_numpy(float)
    for prefix, column in (("", "p_model"), ("market_", "p_market")):
        parts = skill.murphy_decomposition(y, both[column].to_numpy(float))
        result.update({f"{prefix}{k}": parts[k] for k in ["reliability", "resolution"]})
    ladders = both.assign(position=both["market_ticker"].map(positions))
    for prefix, column in (("", "p_model"), ("market_", "p_market")):
        result[f"{prefix}rps"] = skill.ranked_probability_score(ladders, column)
    by_hours = skill.improvement_by_hours_to_close(both)
    result["by_hours_to_close"] = by_hours.reset_index(names="hours_to_close").to_dict("records")
    result.update(coherent_market_evidence(predictions, bootstrap))
    return result


def coherent_market_evidence(predictions: pd.DataFrame, bootstrap: Bootstrap) -> dict:
    """The Brier improvement over the market's prices made coherent the way the forecasts are
    (one logit shift per event and minute over the rows priced), with its interval.

    Why: prices that do not sum to 1 over an event's ladder (stale last trades, an overround
    book) are beaten by any forecast made coherent; this comparison says how much of an edge is
    more than that step. Only the sets complete in ``predictions`` are shifted, as for p_model.
    """
    market = predictions.assign(p_coherent_market=coherent_probabilities(predictions, "p_market"))
    sums = skill.event_score_sums(market, "p_model", "p_coherent_market")
    if sums.empty:
        return {}
    interval = skill.improvement_interval(sums, "brier", bootstrap)
    name = "brier_improvement_vs_coherent_market"
    return {
        "coherent_market_brier": float(sums["brier_reference"].sum() / sums["n"].sum()),
        name: interval.point,
        f"{name}_low": interval.low,
        f"{name}_high": interval.high,
    }
