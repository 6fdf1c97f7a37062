"""A weather-only nowcast of each bin: how far the day's high still ends above a reading.

From training rows of one city, collect per half-hour of the climate day the residual
``official high - reading`` (the reading being the running maximum or the current temperature at
the first decision of that half-hour), one per event day. At a decision, the bin's probability
is the smoothed share of those residuals that, added to the reading and rounded, land in the
bin. It is fitted on the training window only and uses nothing but the reading at the decision;
on the training rows themselves each row's own day is left out (cross-fitting), so the model
that weighs the nowcast never sees it computed from its own label.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import logit

from tmaxedge.core.strikes import yes_interval

BUCKET_HOURS = 0.5
READINGS = {"running_max": "nowcast_max_logit", "temp_now": "nowcast_now_logit"}
COLUMNS = list(READINGS.values())
CLIP = 0.005


def _bucket(climate_day_hour: pd.Series) -> np.ndarray:
    return np.floor(climate_day_hour.to_numpy(float) / BUCKET_HOURS).astype(int)


def _day_numbers(dates) -> np.ndarray:
    """Days since the epoch: comparing integers, not date strings, keeps leave-one-day-out cheap.

    A table's days are a list of ISO dates (``_city_tables``), which NumPy parses directly:
    through pandas they took most of a tuning stage's nowcast time, once per bucket and call."""
    if isinstance(dates, list):
        return np.asarray(dates, dtype="datetime64[D]").astype("int64")
    return pd.to_datetime(pd.Series(dates)).to_numpy("datetime64[D]").astype("int64")


BY_CITY = "by_city"  # tables of several cities (a pooled model): {"by_city": {code: tables}}


def fit_tables(rows: pd.DataFrame) -> dict:
    """Per reading and half-hour bucket: the training days and their residuals.

    ``rows`` are feature rows with ``tmax_f`` (the settled high, a label column); each city gets
    its own tables (a city's afternoon rise is its own). Returns plain lists so the tables can
    be written as JSON beside the model.
    """
    cities = sorted(rows["city"].astype(str).unique()) if "city" in rows else []
    if len(cities) > 1:
        city = rows["city"].astype(str).to_numpy()
        return {BY_CITY: {code: _city_tables(rows[city == code]) for code in cities}}
    return _city_tables(rows)


def of_city(tables: dict, city: str) -> dict:
    """The tables a group of ``city`` is priced with: a pooled model's own city's alone (each
    row looks up only its own city's), a one-city model's as they are. A pooled model's files
    keep only their group's city: the other cities' tables, repeated in every city's file, made
    most of the bytes a window's steps wrote."""
    if BY_CITY not in tables:
        return tables
    return {BY_CITY: {code: own for code, own in tables[BY_CITY].items() if code == city}}


def merged(tables: list[dict]) -> dict:
    """One pooled model's tables gathered from its groups' (``of_city``), cities in order."""
    if not any(BY_CITY in t for t in tables):
        return tables[0]
    by_city = {code: own for t in tables for code, own in t[BY_CITY].items()}
    return {BY_CITY: dict(sorted(by_city.items()))}


def _city_tables(rows: pd.DataFrame) -> dict[str, dict[str, list]]:
    tables = {}
    buckets = _bucket(rows["climate_day_hour"])
    days = pd.to_datetime(rows["event_date"]).dt.strftime("%Y-%m-%d").to_numpy()
    for reading in READINGS:
        frame = pd.DataFrame(
            {
                "bucket": buckets,
                "day": days,
                "residual": rows["tmax_f"].to_numpy(float) - rows[reading].to_numpy(float),
            }
        ).dropna(subset=["residual"])
        frame = frame.drop_duplicates(["bucket", "day"]).sort_values(["bucket", "day"])
        tables[reading] = {
            str(bucket): [part["day"].tolist(), part["residual"].round(6).tolist()]
            for bucket, part in frame.groupby("bucket")
        }
    return tables


def add_columns(
    rows: pd.DataFrame, tables: dict[str, dict[str, list]], leave_own_day_out: bool = False
) -> pd.DataFrame:
    """``rows`` with the nowcast log-odds columns (NaN where there is no reading or no table)."""
    low, high = yes_interval(rows)
    added = {
        column: logit(
            np.clip(
                probability(rows, tables, reading, low, high, leave_own_day_out), CLIP, 1 - CLIP
            )
        )
        for reading, column in READINGS.items()
    }
    return rows.assign(**added)


def probability(
    rows: pd.DataFrame,
    tables: dict[str, dict[str, list]],
    reading: str,
    low: np.ndarray,
    high: np.ndarray,
    leave_own_day_out: bool = False,
) -> np.ndarray:
    """Per row, the smoothed share of its bucket's residuals that, added to the row's
    ``reading`` and rounded, land in ``[low, high]`` (NaN without a reading or a table)."""
    if BY_CITY in tables:
        result = np.full(len(rows), np.nan)
        city = rows["city"].astype(str).to_numpy()
        for code, own in tables[BY_CITY].items():
            mine = city == code
            if mine.any():
                result[mine] = probability(
                    rows[mine], own, reading, low[mine], high[mine], leave_own_day_out
                )
        return result
    buckets = _bucket(rows["climate_day_hour"])
    days = _day_numbers(rows["event_date"])
    value = rows[reading].to_numpy(float)
    result = np.full(len(rows), np.nan)
    for bucket in np.unique(buckets):
        entry = tables.get(reading, {}).get(str(bucket))
        if entry is None:
            continue
        draw_days, draws = _day_numbers(entry[0]), np.asarray(entry[1], float)
        index = np.flatnonzero(buckets == bucket)
        outcome = np.floor(value[index, None] + draws[None, :] + 0.5)
        counted = np.ones(outcome.shape, dtype=bool)
        if leave_own_day_out:
            counted = days[index, None] != draw_days[None, :]
        yes = (outcome >= low[index, None]) & (outcome <= high[index, None]) & counted
        n_draws = counted.sum(axis=1)
        result[index] = np.where(n_draws > 0, (yes.sum(axis=1) + 0.5) / (n_draws + 1), np.nan)
    result[np.isnan(value)] = np.nan
    return result
