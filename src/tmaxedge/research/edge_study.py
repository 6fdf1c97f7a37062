"""Walk-forward test predictions against the market: scores per window and how sure they are.

Pure functions on the edge-diagnostics rows that ``tmaxedge walkforward`` and the evaluate stage
write (``preds_test.parquet``): ``p_model`` is the pipeline's forecast and ``p_market`` the
market's price on the same rows; ``p_unpooled``, when present, is the model's forecast before it
was pooled with the market. Scores come from ``tmaxedge.modeling.scoring.score`` on the rows where
both the forecast and the market have a probability.

The minutes and markets of one event share one outcome, so the sample size of a comparison is
the number of events, not of rows: the standard error of the Brier difference (forecast minus
market) is clustered by event.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from tmaxedge.core.errors import DataError
from tmaxedge.modeling.scoring import score
from tmaxedge.research.market_study import clustered_se, markdown_table

FORECASTS = {"p_model": "model", "p_unpooled": "model before pooling"}
REQUIRED_COLUMNS = [
    "model",
    "window",
    "bracket",
    "event_ticker",
    "market_ticker",
    "y",
    "p_model",
    "p_market",
]
ALL = "all"  # the window (or bracket) label of a row pooling every window (or bracket)
DIGITS = {
    "brier": 4,
    "market_brier": 4,
    "brier_diff": 4,
    "brier_diff_se": 4,
    "log_loss": 4,
    "market_log_loss": 4,
    "coverage": 3,
}


def check_predictions(frame: pd.DataFrame, where: str) -> None:
    """DataError naming the file and the first missing column of an edge-diagnostics table."""
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(
            f"{where}: column '{missing[0]}' is missing (a walk-forward preds_test table needs "
            f"{REQUIRED_COLUMNS}; found: {list(map(str, frame.columns))})"
        )


def forecast_scores(predictions: pd.DataFrame, column: str) -> dict:
    """Scores of forecast ``column`` and of the market on the rows where both exist."""
    rows = predictions.assign(p_model=predictions[column])
    scores = score(rows)
    both = (rows["p_model"].notna() & rows["p_market"].notna()).to_numpy()
    used = rows[both]
    y = used["y"].to_numpy(float)
    model_error = (used["p_model"].to_numpy(float) - y) ** 2
    difference = model_error - (used["p_market"].to_numpy(float) - y) ** 2
    return {
        "n_events": used["event_ticker"].nunique(),
        "n_markets": used["market_ticker"].nunique(),
        "n_rows": scores["n_common"],
        "coverage": scores["coverage"],
        "brier": scores.get("brier_common", np.nan),
        "market_brier": scores.get("market_brier", np.nan),
        "brier_diff": float(difference.mean()) if len(used) else np.nan,
        "brier_diff_se": clustered_se(difference, used["event_ticker"].to_numpy()),
        "log_loss": scores.get("log_loss_common", np.nan),
        "market_log_loss": scores.get("market_log_loss", np.nan),
    }


def score_table(predictions: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """One row per group of ``by`` (e.g. model and window) and forecast, then per model a row
    pooling all groups (``by[1:]`` labelled ``all``)."""
    forecasts = [c for c in FORECASTS if c in predictions.columns]
    rows = []
    for model, per_model in predictions.groupby(by[0], sort=True):
        pooled = ((ALL,) * len(by[1:]), per_model)
        for keys, part in [*per_model.groupby(list(by[1:]), sort=True), pooled]:
            labels = dict(zip(by, (model, *np.atleast_1d(keys)), strict=True))
            for column in forecasts:
                scores = forecast_scores(part, column)
                rows.append({**labels, "forecast": FORECASTS[column], **scores})
    return pd.DataFrame(rows)


def markdown_section(windows: pd.DataFrame, brackets: pd.DataFrame, title: str) -> str:
    """The per-window and per-bracket tables under ``title``."""
    return f"""## {title}

Brier and log loss of each forecast and of the market on the same rows; brier_diff = forecast −
market (negative = the forecast is better), its SE clustered by event.

### Per window (all brackets)

{markdown_table(windows, DIGITS)}

### Per bracket (all windows)

{markdown_table(brackets, DIGITS)}
"""
