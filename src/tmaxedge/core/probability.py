"""Probabilities and their scores: clipping, log-odds, Brier, log loss, and one common logit
shift that makes an event's bins sum to 1 (used on market prices by the event features and on
forecasts by ``modeling.coherence``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit, logit


def logit_shift(
    p: np.ndarray,
    event: np.ndarray,
    timestamp: np.ndarray,
    n_markets: np.ndarray,
    iterations: int = 50,
    tol: float = 1e-12,
) -> np.ndarray:
    """Probabilities shifted so each (event, timestamp) set sums to 1.

    Only complete sets are shifted: every one of the event's ``n_markets`` markets has a
    probability at that timestamp. Others are returned unchanged, since a partial set's sum says
    nothing about coherence. Newton's method on f(λ) = Σ expit(l_i + λ) − 1, which is increasing
    so damped Newton steps from λ = 0 converge in a few iterations.
    """
    p = np.asarray(p, float)
    frame = pd.DataFrame({"event": event, "ts": timestamp, "has": ~np.isnan(p)})
    key = frame.groupby(["event", "ts"], sort=False, observed=True).ngroup().to_numpy()
    present = np.bincount(key, weights=frame["has"].to_numpy(float))
    size = np.bincount(key)
    complete = (present == size) & (size == np.bincount(key, weights=n_markets) / size)
    rows = complete[key]
    if not rows.any():
        return p.copy()
    logits = safe_logit(np.where(rows, p, 0.5))
    shift = np.zeros(len(size))
    # a set stops once its own step is below tol, so its result does not depend on which other
    # sets are in the call (a feature at one minute must not move when later minutes do)
    active = complete.copy()
    for _ in range(iterations):
        q = expit(logits + shift[key])
        live = rows & active[key]
        excess = np.bincount(key, weights=np.where(live, q, 0.0), minlength=len(size)) - 1.0
        slope = np.bincount(key, weights=np.where(live, q * (1 - q), 0.0), minlength=len(size))
        step = np.where(active & (slope > 0), excess / np.maximum(slope, 1e-300), 0.0)
        step = np.clip(step, -2.0, 2.0)  # far from the root a full Newton step overshoots
        shift -= step
        active &= np.abs(step) >= tol
        if not active.any():
            break
    return np.where(rows, expit(logits + shift[key]), p)


def markets_per_event(event: pd.Series, ticker: pd.Series) -> np.ndarray:
    """For each row, how many distinct markets its event has in the table."""
    counts = (
        pd.DataFrame({"event": event, "ticker": ticker})
        .groupby("event", observed=True)["ticker"]
        .nunique()
    )
    return event.map(counts).to_numpy(float)


PROB_CLIP = 1e-6


def clip_probability(p: np.ndarray, eps: float = PROB_CLIP) -> np.ndarray:
    return np.clip(p, eps, 1 - eps)


def log_loss(y: np.ndarray, p: np.ndarray, weights: np.ndarray | None = None) -> float:
    return float(np.average(row_log_loss(y, p), weights=weights))


def row_log_loss(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    p = clip_probability(p)
    return -(y * np.log(p) + (1 - y) * np.log1p(-p))


def brier(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.mean((p - y) ** 2))


LOGIT_CLIP = 1e-4  # a 0c or 100c quote would otherwise have infinite log-odds


def safe_logit(p: np.ndarray) -> np.ndarray:
    return logit(np.clip(np.asarray(p, float), LOGIT_CLIP, 1 - LOGIT_CLIP))
