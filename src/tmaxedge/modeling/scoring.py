"""Out-of-sample scores: log loss, Brier, the market's own scores, reliability and ECE."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tmaxedge.core.probability import brier, log_loss

N_RELIABILITY_BINS = 15


def reliability(y: np.ndarray, p: np.ndarray, n_bins: int = N_RELIABILITY_BINS) -> pd.DataFrame:
    """Equal-width reliability table: per bin the mean forecast, the observed rate and the count.

    Bin k holds ``k/n_bins <= p < (k+1)/n_bins`` (the last bin includes 1). The edges are the
    correctly rounded k/n_bins, so a price of whole cents on an edge (0.30 with 10 bins) is the
    same double as the edge and lands in the bin above it, as written.
    """
    edges = np.arange(n_bins + 1) / n_bins
    p, y = np.asarray(p, float), np.asarray(y, float)
    index = np.clip(np.digitize(p, edges[1:-1]), 0, n_bins - 1)
    n = np.bincount(index, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        p_mean = np.bincount(index, weights=p, minlength=n_bins) / n
        y_rate = np.bincount(index, weights=y, minlength=n_bins) / n
    return pd.DataFrame(
        {"lower": edges[:-1], "upper": edges[1:], "p_mean": p_mean, "y_rate": y_rate, "n": n}
    )


def expected_calibration_error(table: pd.DataFrame) -> float:
    """Count-weighted mean |forecast - observed| over the reliability bins: each bin's
    |mean forecast - observed rate| weighted by its share of the rows (empty bins weigh 0);
    NaN when no bin has a row."""
    used = table[table["n"] > 0]
    if used.empty:
        return float("nan")
    return float(np.average((used["p_mean"] - used["y_rate"]).abs(), weights=used["n"]))


def reliability_bins(table: pd.DataFrame) -> list[dict]:
    """``reliability``'s table as one record per bin, in the brief's words: its edges, its
    count, the mean predicted probability and the observed frequency (both null in an empty
    bin: no NaN, which JSON lacks)."""
    return [
        {
            "lower": float(row.lower),
            "upper": float(row.upper),
            "count": int(row.n),
            "mean_predicted": float(row.p_mean) if row.n else None,
            "observed_frequency": float(row.y_rate) if row.n else None,
        }
        for row in table.itertuples(index=False)
    ]


def score(frame: pd.DataFrame) -> dict:
    """Scores of ``p_model`` and of the market on the same rows.

    ``frame`` has y, p_model (NaN where the model made no prediction) and p_market (NaN where
    the market had no price). Model scores use rows with a prediction; the head-to-head scores
    (``*_common``) use rows where both exist, so the two are compared on equal terms.
    """
    predicted = frame["p_model"].notna()
    both = predicted & frame["p_market"].notna()
    y = frame["y"].to_numpy(float)
    result = {
        "n_rows": int(len(frame)),
        "n_predicted": int(predicted.sum()),
        "coverage": float(predicted.mean()) if len(frame) else float("nan"),
        "n_common": int(both.sum()),
    }
    if predicted.any():
        p = frame.loc[predicted, "p_model"].to_numpy(float)
        table = reliability(y[predicted.to_numpy()], p)
        result.update(
            log_loss=log_loss(y[predicted.to_numpy()], p),
            brier=brier(y[predicted.to_numpy()], p),
            ece=expected_calibration_error(table),
        )
    if both.any():
        mask = both.to_numpy()
        p_model = frame["p_model"].to_numpy(float)[mask]
        p_market = frame["p_market"].to_numpy(float)[mask]
        result.update(
            brier_common=brier(y[mask], p_model),
            log_loss_common=log_loss(y[mask], p_model),
            market_brier=brier(y[mask], p_market),
            market_log_loss=log_loss(y[mask], p_market),
        )
        result["brier_improvement"] = 1 - result["brier_common"] / result["market_brier"]
    return result
