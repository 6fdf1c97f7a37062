"""tmax_dist: a predictive distribution of the event's integer high, and every bin's probability
from it.

Distribution regression (Foresi and Peracchi 1995; Chernozhukov, Fernández-Val and Melly 2013):
one logistic model of the survival function S(k) = P(high >= k) at a minute, for every threshold
k, with inputs that say where k lies at that minute: the market's coherent implied S(k), the
weather nowcast's S(k) from the running maximum and from the current temperature, how far k is
above each reading, and the first three times the hour of the climate day (the market and the
weather deserve different weights at 7 am and at 4 pm). Each input is a function of k, so one
model serves every threshold: a tail's few YES days are pooled with every other edge's.

It is fitted on one row per (market, minute) whose YES integers have a finite lower edge: the
event's interior thresholds, once each, labelled ``high >= k``. A market's probability is then
``S(low) - S(high + 1)``; neighbouring bins share an edge, so an event's probabilities telescope
to exactly 1. Where the fit makes S rise in k (its weights on the market and nowcast terms would
have to be negative) a difference is clipped to ``clip`` and the coherence step restores the sum.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import logit

from tmaxedge.core.strikes import yes_interval
from tmaxedge.features import nowcast, scopes
from tmaxedge.features.event_features import IMPLIED_EXCEEDANCE_COLUMNS

KIND = "distribution"  # ModelCard.kind of a tmax_dist model
MARKET_CLIP = 1e-3  # a one-cent bin is no evidence of a survival probability beyond this
# the weights vary over the day as piecewise-linear functions of the hour: "at_h10" is the hat
# function that is 1 at 10:00 of the climate day and 0 at the neighbouring knots (06:00, 14:00)
HOUR_KNOTS = (6, 10, 14, 18, 22)
_NOWCAST = {"running_max": "nowcast_max_logit", "temp_now": "nowcast_now_logit"}
_VARYING = ["market_logit", *_NOWCAST.values()]
COLUMNS = ["gap_max", "gap_now"] + [
    f"{term}_at_h{knot}" for knot in HOUR_KNOTS for term in ["level", *_VARYING]
]


def edges(rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Each market's two thresholds: its lowest YES integer and one past its highest (±inf for
    the tails, where S is 1 and 0)."""
    low, high = yes_interval(rows)
    return low, high + 1


def design(
    rows: pd.DataFrame,
    k: np.ndarray,
    implied: np.ndarray,
    tables: dict | None,
    leave_own_day_out: bool = False,
    cities: list[str] = (),
) -> pd.DataFrame:
    """``COLUMNS`` for S(k) at each row's minute, then a 0/1 column per pooled city (``scopes``);
    ``implied`` is the market's P(high >= k) there.

    Weather terms are NaN without a reading (New York) or a nowcast table; ``leave_own_day_out``
    as in ``nowcast.add_columns``, for rows the model is fitted on.
    """
    hour = rows["climate_day_hour"].to_numpy(float)
    market = logit(np.clip(np.asarray(implied, float), MARKET_CLIP, 1 - MARKET_CLIP))
    columns = {"market_logit": market}
    for reading, name in _NOWCAST.items():
        if tables:
            p = nowcast.probability(
                rows, tables, reading, k, np.full(len(k), np.inf), leave_own_day_out
            )
            columns[name] = logit(np.clip(p, nowcast.CLIP, 1 - nowcast.CLIP))
        else:
            columns[name] = np.full(len(rows), np.nan)
    columns["gap_max"] = k - rows["running_max"].to_numpy(float)
    columns["gap_now"] = k - rows["temp_now"].to_numpy(float)
    columns["level"] = np.ones(len(rows))
    for knot, weight in zip(HOUR_KNOTS, hour_basis(hour), strict=True):
        for term in ["level", *_VARYING]:
            columns[f"{term}_at_h{knot}"] = columns[term] * weight
    names = scopes.city_columns(list(cities))
    city = rows["city"].astype(str).to_numpy() if names else None
    columns.update(
        {name: (city == code).astype(float) for code, name in zip(cities, names, strict=True)}
    )
    return pd.DataFrame(columns, index=rows.index)[COLUMNS + names]


def hour_basis(hour: np.ndarray) -> list[np.ndarray]:
    """The hat functions of ``HOUR_KNOTS`` at each hour (they sum to 1; flat beyond the ends)."""
    h = np.clip(hour, HOUR_KNOTS[0], HOUR_KNOTS[-1])
    return [np.interp(h, HOUR_KNOTS, np.eye(len(HOUR_KNOTS))[i]) for i in range(len(HOUR_KNOTS))]


def threshold_rows(
    rows: pd.DataFrame, tables: dict | None, leave_own_day_out: bool = False, cities: list[str] = ()
):
    """The fitting table of S: rows with a finite lower edge, their design at that edge and the
    label ``high >= low``. Returns (rows, design, y)."""
    low, _ = edges(rows)
    keep = np.isfinite(low)
    kept = rows[keep].reset_index(drop=True)
    x = design(
        kept,
        low[keep],
        kept[IMPLIED_EXCEEDANCE_COLUMNS[0]].to_numpy(float),
        tables,
        leave_own_day_out,
        cities,
    )
    y = (kept["tmax_f"].to_numpy(float) >= low[keep]).astype(int)
    return kept, x, y


def survival(
    card, rows: pd.DataFrame, k: np.ndarray, implied: np.ndarray, outside: float
) -> np.ndarray:
    """S(k) at each row's minute as ``card`` predicts it; ``outside`` where k is infinite."""
    finite = np.isfinite(k)
    s = np.full(len(rows), outside)
    if finite.any():
        part = rows[finite]
        cities = scopes.pooled_cities(card.preprocessor.columns)
        x = design(part, k[finite], implied[finite], card.nowcast, cities=cities)[
            card.preprocessor.columns
        ]
        s[finite] = card.predict(x.to_numpy(float))
    return s


def rearranged(s: np.ndarray, group: np.ndarray, k: np.ndarray) -> np.ndarray:
    """S sorted to decrease in k within each group (Chernozhukov, Fernández-Val and Galichon
    2010: a rearranged estimate of a distribution is never further from the truth); each row
    gets the value of its rank."""
    by_threshold = np.lexsort((k, group))
    by_value = np.lexsort((-s, group))
    out = np.empty(len(s))
    out[by_threshold] = s[by_value]
    return out


def bin_probability(card, rows: pd.DataFrame, clip: float = 1e-6) -> np.ndarray:
    """``S(low) - S(high + 1)`` for each row, with ``card`` (a tmax_dist ``ModelCard``)
    predicting S; NaN on an event-minute where the market's implied distribution is missing.

    Where ``rows`` hold every market of an event at a minute (each bin's upper threshold is the
    next bin's lower one), S at the event's thresholds is first rearranged to decrease in k, so
    the bins' probabilities are non-negative and sum to exactly 1 whatever the fitted weights.
    """
    low, upper = edges(rows)
    s_low = survival(card, rows, low, rows[IMPLIED_EXCEEDANCE_COLUMNS[0]].to_numpy(float), 1.0)
    s_upper = survival(card, rows, upper, rows[IMPLIED_EXCEEDANCE_COLUMNS[1]].to_numpy(float), 0.0)
    group = rows.groupby(["event_ticker", "ts"], sort=False, observed=True).ngroup().to_numpy()
    order = np.lexsort((low, group))
    next_low = np.full(len(rows), np.inf)
    same = group[order][1:] == group[order][:-1]
    next_low[order[:-1][same]] = low[order][1:][same]
    # complete: bins tile the integers from -inf to +inf with no gap (a missing market breaks it)
    tiled = (np.where(np.isinf(upper), np.inf, upper) == next_low).astype(float)
    starts_low = np.bincount(group, weights=np.isneginf(low).astype(float))
    complete = (np.bincount(group, weights=1 - tiled) == 0) & (starts_low == 1)
    s_sorted = rearranged(s_low, group, low)
    s_next = np.zeros(len(rows))
    s_next[order[:-1][same]] = s_sorted[order][1:][same]
    whole = complete[group]
    p = np.where(whole, s_sorted - s_next, s_low - s_upper)
    p = np.clip(p, clip, 1 - clip)
    missing = rows[IMPLIED_EXCEEDANCE_COLUMNS].isna().any(axis=1).to_numpy()
    return np.where(np.bincount(group, weights=missing.astype(float))[group] > 0, np.nan, p)
