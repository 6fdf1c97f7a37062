"""Step 3 of a window: the test week's predictions of every group (pooled with the market and
made coherent as params say), and their scores. The evaluate stage and ``run_window`` call
``evaluate_window``."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from tmaxedge.core.probability import brier
from tmaxedge.modeling import coherence
from tmaxedge.modeling.cards import ModelCard
from tmaxedge.modeling.pooling import pool_probability
from tmaxedge.modeling.scoring import (
    expected_calibration_error,
    reliability,
    reliability_bins,
    score,
)
from tmaxedge.walkforward.layout import EDGE_COLUMNS
from tmaxedge.walkforward.predict import predict_groups

# the brief's edge-diagnostics columns, after the model entry and the window
PREDICTION_COLUMNS = ["model", "window", *EDGE_COLUMNS]
BOOK_COLUMNS = ["event_ticker", "yes_bid", "yes_ask"]
# p_model is the final forecast; these are the same forecast before pooling and before coherence
STEP_COLUMNS = ["p_unpooled", "p_incoherent"]
NO_COHERENCE = coherence.CoherenceParams("none")


class EvaluatedGroup(NamedTuple):
    """One group's test predictions (preds_test) and their report (calibration.json)."""

    predictions: pd.DataFrame
    report: dict


def evaluate_window(
    parts: dict[str, pd.DataFrame],
    cards: dict[str, ModelCard | None],
    oracle: pd.DataFrame | None,
    model: str,
    window: str,
    coherent: coherence.CoherenceParams = NO_COHERENCE,
) -> dict[str, EvaluatedGroup]:
    """Test predictions of every group (with the oracle where there is one) and their reports.

    The groups are handled as one table: coherence works across them (an event's six markets
    are its between bins and two tails), and one oracle lookup serves them all.
    """
    if not parts:
        return {}
    names = list(parts)
    tables = []
    alone = predict_groups(parts, cards)
    for name in names:
        part, card, p_alone = parts[name], cards.get(name), alone[name]
        p_market = part["p_market"].to_numpy(float, na_value=np.nan)
        p_model = pool_probability(p_alone, p_market, card.pool_weight if card else None)
        tables.append(prediction_table(part, p_model, model, window, p_alone))
    merged = pd.concat(tables, ignore_index=True)
    if coherent.method == "logit_shift":
        merged["p_model"] = coherence.coherent_probabilities(merged)
    merged = attach_oracle(merged, oracle)
    bounds = np.cumsum([0] + [len(t) for t in tables])
    results = {}
    for k, name in enumerate(names):
        predictions = merged.iloc[bounds[k] : bounds[k + 1]].reset_index(drop=True)
        results[name] = EvaluatedGroup(predictions, group_report(predictions))
    return results


def all_predictions(evaluated: dict[str, EvaluatedGroup]) -> pd.DataFrame:
    """Every group's test predictions in one table, groups in order."""
    return pd.concat([result.predictions for result in evaluated.values()], ignore_index=True)


def prediction_table(
    part: pd.DataFrame,
    p_model: np.ndarray,
    model: str,
    window: str,
    p_unpooled: np.ndarray | None = None,
) -> pd.DataFrame:
    """The edge-diagnostics rows of one group: the brief's column names, then the event and
    the book at the decision time (for the backtest), then the forecast before pooling and
    before coherence (both equal p_model until those steps run)."""
    p_unpooled = p_model if p_unpooled is None else p_unpooled
    return pd.DataFrame(
        {
            "model": model,
            "window": window,
            "city": part["city"].to_numpy(),
            "bracket": part["strike_type"].to_numpy(),
            "timestamp": part["ts"].to_numpy(),
            "market_ticker": part["ticker"].to_numpy(),
            "p_model": p_model,
            "p_market": part["p_market"].to_numpy(float, na_value=np.nan),
            "y": part["y"].to_numpy(int),
            "spread_cents": part["spread_cents"].to_numpy(float, na_value=np.nan),
            "minutes_to_close": part["minutes_to_close"].to_numpy(float, na_value=np.nan),
            "event_ticker": part["event_ticker"].to_numpy(),
            "yes_bid": part["yes_bid"].to_numpy(float, na_value=np.nan),
            "yes_ask": part["yes_ask"].to_numpy(float, na_value=np.nan),
            "p_unpooled": p_unpooled,
            "p_incoherent": p_model,
        }
    )[PREDICTION_COLUMNS + BOOK_COLUMNS + STEP_COLUMNS]


def attach_oracle(predictions: pd.DataFrame, oracle: pd.DataFrame | None) -> pd.DataFrame:
    """Add ``p_oracle``: the simulator's P(YES) as of the last quote row at or before each
    decision time (NaN on real data, which has no oracle)."""
    if oracle is None or oracle.empty:
        return predictions.assign(p_oracle=np.nan)
    left = predictions.assign(_order=np.arange(len(predictions)))
    left = left.sort_values("timestamp", kind="mergesort")
    right = oracle.rename(columns={"ticker": "market_ticker", "ts": "timestamp"})
    right = right.sort_values("timestamp", kind="mergesort")
    right["timestamp"] = right["timestamp"].astype(left["timestamp"].dtype)
    merged = pd.merge_asof(left, right, on="timestamp", by="market_ticker", direction="backward")
    merged = merged.sort_values("_order", kind="mergesort").drop(columns="_order")
    return merged.rename(columns={"p_true": "p_oracle"}).reset_index(drop=True)


def group_report(predictions: pd.DataFrame) -> dict:
    """One group's calibration.json: its scores and 15-bin reliability table (``scores``,
    ``reliability``), then the same in flat keys as the brief names them (``brief_calibration``).
    """
    result = score(predictions)
    predicted = predictions["p_model"].notna().to_numpy()
    y = predictions["y"].to_numpy(float)
    table = reliability(y[predicted], predictions["p_model"].to_numpy(float)[predicted])
    oracle = predictions["p_oracle"].notna().to_numpy() if "p_oracle" in predictions else None
    if oracle is not None and oracle.any():
        result["oracle_brier"] = brier(y[oracle], predictions["p_oracle"].to_numpy(float)[oracle])
    return {
        "scores": result,
        "reliability": table.to_dict(orient="list"),
        **brief_calibration(predictions, table, result),
    }


def brief_calibration(predictions: pd.DataFrame, table: pd.DataFrame, scores: dict) -> dict:
    """The brief's calibration keys of one group and window: ``n_bins``, ``bins`` (edges, count,
    mean predicted, observed frequency), ``ece`` (each bin's |mean predicted - observed
    frequency| weighted by its share of the rows), ``brier`` and ``log_loss`` on the rows the
    model predicted (null when it predicted none), and ``market_ece``: the market's on the rows
    where both have a probability, to read the model's against."""
    both = predictions[["p_model", "p_market"]].notna().all(axis=1).to_numpy()
    market = reliability(
        predictions["y"].to_numpy(float)[both],
        predictions["p_market"].to_numpy(float, na_value=np.nan)[both],
        len(table),
    )
    market_ece = expected_calibration_error(market)
    return {
        "n_bins": len(table),
        "bins": reliability_bins(table),
        "ece": scores.get("ece"),
        "brier": scores.get("brier"),
        "log_loss": scores.get("log_loss"),
        "n_predicted": scores["n_predicted"],
        "market_ece": None if np.isnan(market_ece) else market_ece,
    }
