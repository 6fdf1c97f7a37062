"""Features of a market from its whole event at the same minute: the integer high the market
implies.

An event's markets partition the integer highs, so their probabilities at one minute, made
coherent (one common logit shift, ``probability.logit_shift``), are a distribution of the high.
From it: the mean and sd of the rounded normal closest to it (``implied_normal``), the bin's
edges in units of that sd from the mean, the running maximum and the current temperature the
same way, and the gap between a market's own probability and its coherent one (the market's
overround or underround, shared out). Only the event's rows at that minute enter, each as of
that minute, so nothing comes from after the decision time; an event-minute where any of its
markets has no probability gets NaN.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import norm

from tmaxedge.core import probability

EVENT_COLUMNS = ["event_spread", "floor_z", "cap_z", "running_max_z", "temp_now_z", "mid_gap"]
# the coherent implied P(high >= low) and P(high > high) of each market's YES integers [low, high]:
# the market's survival function of the high at the bin's two edges (tmaxedge.modeling.distribution)
IMPLIED_EXCEEDANCE_COLUMNS = ["implied_exceed_low", "implied_exceed_high"]
MIN_SPREAD = 0.25  # degrees; a market sure of one bin would otherwise divide by ~0
CDF_CLIP = 1e-4  # a one-cent price is no evidence of a CDF below 0.0001


def event_minute_groups(event: np.ndarray, minute: np.ndarray) -> np.ndarray:
    """A group number per row for each distinct (event, minute)."""
    _, event_code = np.unique(event, return_inverse=True)
    minute = minute.astype(np.int64)
    span = int(minute.max() - minute.min()) + 1 if len(minute) else 1
    _, group = np.unique(
        event_code.astype(np.int64) * span + (minute - minute.min()), return_inverse=True
    )
    return group.ravel()


def implied_normal(
    q: np.ndarray, group: np.ndarray, low: np.ndarray, high: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and sd per group of the normal whose rounding best matches the bins' probabilities.

    ``q``: each bin's probability (a group's sum to 1; NaN anywhere in a group gives NaN);
    ``low``/``high``: the integer highs each bin covers, inclusive, ±inf for tails
    (``strikes.yes_interval``). Between consecutive bins lies an edge e (a half-integer) where
    the implied CDF is F; for a rounded normal, Φ⁻¹(F) = (e − mean) / sd exactly, so a weighted
    line through (e, Φ⁻¹(F)) gives both. Weights F(1 − F) let the near-certain edges, where a
    one-cent tick moves Φ⁻¹ most, count least.
    """
    n_groups = int(group.max()) + 1 if len(group) else 0
    complete = np.bincount(group, weights=np.isnan(q).astype(float), minlength=n_groups) == 0
    order = np.lexsort((low, group))
    g, p, hi = group[order], np.nan_to_num(q[order]), high[order]
    running = np.cumsum(p)
    first = np.r_[True, g[1:] != g[:-1]]
    last = np.r_[g[1:] != g[:-1], True]
    cdf = running - np.maximum.accumulate(np.where(first, running - p, 0.0))
    edge = ~last & np.isfinite(hi) & complete[g]  # a bin's upper edge, except the top bin's
    g, e, cdf = g[edge], hi[edge] + 0.5, np.clip(cdf[edge], CDF_CLIP, 1 - CDF_CLIP)
    z, w = norm.ppf(cdf), cdf * (1 - cdf)

    def total(values: np.ndarray) -> np.ndarray:
        return np.bincount(g, weights=w * values, minlength=n_groups)

    weight = total(np.ones_like(e))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_e, mean_z = total(e) / weight, total(z) / weight
        slope = (total(e * z) / weight - mean_e * mean_z) / (total(e * e) / weight - mean_e**2)
        usable = complete & (np.bincount(g, minlength=n_groups) >= 2) & (slope > 0)
        mean = np.where(usable, mean_e - mean_z / slope, np.nan)
        sd = np.where(usable, 1 / slope, np.nan)
    return mean, sd


def implied_exceedance(
    q: np.ndarray, group: np.ndarray, low: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per row, its group's total probability on the bins at or above its own (``P(high >=
    low)``) and strictly above it (``P(high > high)``): sums of coherent ``q`` down from the top
    bin. The bins of a group partition the integers, so the second is the first minus ``q``;
    NaN anywhere in a group gives NaN to all its rows."""
    order = np.lexsort((-low, group))
    # summed within each group alone, so one event-minute's sums do not depend on the others'
    running = pd.Series(np.nan_to_num(q[order])).groupby(group[order]).cumsum().to_numpy()
    at_least = np.empty(len(q))
    at_least[order] = running
    n_groups = int(group.max()) + 1 if len(group) else 0
    incomplete = np.bincount(group, weights=np.isnan(q).astype(float), minlength=n_groups) > 0
    at_least = np.where(incomplete[group], np.nan, np.clip(at_least, 0.0, 1.0))
    above = np.clip(at_least - q, 0.0, 1.0)
    return at_least, above


def event_columns(
    p: np.ndarray,
    event: np.ndarray,
    minute: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    n_markets: np.ndarray,
    running_max: np.ndarray,
    temp_now: np.ndarray,
) -> dict[str, np.ndarray]:
    """``EVENT_COLUMNS`` and ``IMPLIED_EXCEEDANCE_COLUMNS`` for each row (one market at one minute).

    ``p``: the market's probability (NaN without one); ``event``, ``minute``: what groups the
    rows; ``low``/``high``: each market's YES integers; ``n_markets``: its event's market count.
    """
    group = event_minute_groups(event, minute)
    coherent = probability.logit_shift(p, event, minute, n_markets)
    sizes = np.bincount(group)
    full = (sizes[group] == n_markets) & ~np.isnan(p)
    full = np.bincount(group, weights=(~full).astype(float))[group] == 0
    q = np.where(full, coherent, np.nan)
    mean, sd = implied_normal(q, group, low, high)
    centre, spread = mean[group], np.maximum(sd[group], MIN_SPREAD)
    with np.errstate(invalid="ignore"):
        floor_edge = np.where(np.isinf(low), np.nan, low - 0.5)
        cap_edge = np.where(np.isinf(high), np.nan, high + 0.5)
    return {
        "event_spread": spread,
        "floor_z": (floor_edge - centre) / spread,
        "cap_z": (cap_edge - centre) / spread,
        "running_max_z": (running_max - centre) / spread,
        "temp_now_z": (temp_now - centre) / spread,
        "mid_gap": p - q,
        **dict(zip(IMPLIED_EXCEEDANCE_COLUMNS, implied_exceedance(q, group, low), strict=True)),
    }
