"""The leakage gate's evidence: feature rows re-derived from raw inputs cut off at their timestamp.

The feature table promises that a row stamped ``t`` uses only quote and weather rows stamped at
or before ``t``, and forecasts issued at or before ``t`` (``tmaxedge.features.build``). The brief
asks for that promise to be shown on the table the models were fitted on: take a seeded sample of
its rows, delete every quote and weather row stamped after each row's ``t`` and every forecast
issued after it, build the row again with the features layer's own
``build_partition`` and require every feature column to come out the same.

Each sampled row's whole event is rebuilt, because its event features read every sibling market
at ``t``; the event's markets and settlements are kept whole (market terms are known when it is
listed, and the settlement only gives the labels ``y`` and ``tmax_f``, which are not features and
are not compared). Rows of one event at one ``t`` share one rebuild.

This lives in the decision layer, beside the gate that reads it, rather than in ``features``:
the per-window stages fingerprint the features package, so an audit there would rerun every
walk-forward window on each edit of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tmaxedge.core.config import City
from tmaxedge.core.errors import DataError
from tmaxedge.features.build import (
    LABEL_COLUMNS,
    FeatureParams,
    build_partition,
    empty_features,
    iter_partitions,
)

SAMPLE_SEED = 20240701  # fixed: the same built table always gets the same sample
# floats may differ by 1e-6 of the larger magnitude, floored at 1: an event rebuilt alone can
# differ from its month's build in the last bits, and the event features (an iterative solve,
# then differences of near-equal numbers) carry that up: the brief's one-minute features gave a
# floor_z of 0.059436787008 stored against 0.059436788116 rebuilt (1.1e-9 apart). A leaked
# future quote moves a price by a cent or more, four orders of magnitude above this.
TOLERANCE = 1e-6
SAMPLE_KEYS = ["city", "event_ticker", "ticker", "ts"]
DIFFERENCE_COLUMNS = ["ticker", "ts", "column", "stored", "rederived"]


@dataclass(frozen=True)
class LeakageAudit:
    """What re-deriving a sample of the feature table found."""

    n_rows: int  # sampled rows re-derived and compared
    n_cutoffs: int  # distinct (event, t) rebuilds
    n_columns: int  # columns compared per row
    differences: pd.DataFrame  # DIFFERENCE_COLUMNS, one row per differing (row, column)

    @property
    def n_rows_differing(self) -> int:
        return int(self.differences[["ticker", "ts"]].drop_duplicates().shape[0])


def sample_rows(keys: pd.DataFrame, n_rows: int, seed: int = SAMPLE_SEED) -> pd.DataFrame:
    """A seeded uniform sample of ``n_rows`` rows (all of them when there are fewer) of ``keys``
    (``SAMPLE_KEYS``), sorted by event and ``ts`` so rows sharing a rebuild sit together."""
    missing = [c for c in SAMPLE_KEYS if c not in keys.columns]
    if missing:
        raise DataError(f"feature table: missing column(s) {missing}; the sample needs them.")
    picked = np.random.default_rng(seed).permutation(len(keys))[:n_rows]
    sample = keys.iloc[np.sort(picked)][SAMPLE_KEYS]
    return sample.sort_values(["event_ticker", "ts", "ticker"], kind="mergesort", ignore_index=True)


@dataclass(frozen=True)
class RawInputs:
    """The raw tables the feature table was built from (``tmaxedge.features.build`` columns);
    more rows than the sampled events need are fine."""

    markets: pd.DataFrame
    quotes: pd.DataFrame
    weather: pd.DataFrame
    settlements: pd.DataFrame
    forecasts: pd.DataFrame | None = None  # None: the feature table was built without forecasts


def rederive(
    sample: pd.DataFrame, raw: RawInputs, cities: Mapping[str, City], params: FeatureParams
) -> tuple[pd.DataFrame, int]:
    """Each sampled row rebuilt from the quote and weather rows stamped at or before its ``ts``.

    ``sample`` holds ``SAMPLE_KEYS``. Returns the rebuilt rows (the feature table's columns, in
    sample order; a sampled row the rebuild does not produce is absent) and the number of
    rebuilds.
    """
    markets, quotes = raw.markets, raw.quotes
    sampled = markets[markets["event_ticker"].isin(sample["event_ticker"])]
    quotes_of = _grouped(quotes, quotes["ticker"].map(sampled.set_index("ticker")["event_ticker"]))
    rebuilt, n_cutoffs = [], 0
    # the features stage's own split, so each rebuild sees the weather its partition saw
    for part in iter_partitions(sampled, raw.weather, raw.settlements, cities, raw.forecasts):
        weather_ts = _nanoseconds(part.weather["ts"])
        issued = None if part.forecasts is None else _nanoseconds(part.forecasts["issued_at"])
        in_part = sample[sample["event_ticker"].isin(part.markets["event_ticker"])]
        for event, event_rows in in_part.groupby("event_ticker", sort=True):
            own = part.markets[part.markets["event_ticker"] == event]
            event_quotes, quote_ts = quotes_of(event)
            for cutoff, rows in event_rows.groupby("ts", sort=True):
                cutoff_ns = _nanoseconds([cutoff])[0]
                frame = build_partition(
                    own,
                    event_quotes[quote_ts <= cutoff_ns],
                    part.weather[weather_ts <= cutoff_ns],
                    part.settlements,
                    part.city,
                    params,
                    **_forecasts_before(part.forecasts, issued, cutoff_ns),
                )
                at_cutoff = frame["ts"].eq(cutoff) & frame["ticker"].isin(rows["ticker"])
                rebuilt.append(frame[at_cutoff])
                n_cutoffs += 1
    if not rebuilt:
        return empty_features(), 0
    frame = pd.concat(rebuilt, ignore_index=True)
    order = sample[["ticker", "ts"]].merge(frame, on=["ticker", "ts"], how="inner")
    return order, n_cutoffs


def _forecasts_before(
    forecasts: pd.DataFrame | None, issued: np.ndarray | None, cutoff_ns: int
) -> dict[str, pd.DataFrame]:
    """``build_partition``'s forecasts argument: those issued at or before the cutoff, or none at
    all when the table was built without forecasts (the call is then the plain six-argument one)."""
    if forecasts is None:
        return {}
    return {"forecasts": forecasts[issued <= cutoff_ns]}


def feature_differences(stored: pd.DataFrame, rebuilt: pd.DataFrame) -> pd.DataFrame:
    """Every (row, column) where a stored feature row and its rebuild differ.

    Rows are matched on ``ticker`` and ``ts``; every column of ``stored`` but the labels is
    compared, whatever the table holds. Missing equals missing; floats may differ by
    ``TOLERANCE`` times the larger magnitude (at least 1). A stored row without a rebuild differs
    in column ``<row>``. Raises ``DataError`` when the rebuild lacks a stored column (the table was
    built by other code: rebuild it).
    """
    lacking = [c for c in stored.columns if c not in rebuilt.columns]
    if lacking:
        raise DataError(
            f"feature table: column(s) {lacking} are not produced by the feature build; the "
            "table is stale, rebuild it (dvc repro features)."
        )
    paired = stored.merge(rebuilt, on=["ticker", "ts"], how="left", suffixes=("", "@"))
    parts = []
    absent = ~_present(stored, rebuilt)
    if absent.any():
        parts.append(_differing(paired, absent, "<row>", "present", "absent"))
    for name in stored.columns:
        if name in ("ticker", "ts") or name in LABEL_COLUMNS:
            continue
        a, b = paired[name], paired[f"{name}@"]
        differ = ~_same(a, b) & ~absent
        if differ.any():
            parts.append(_differing(paired, differ, name, a[differ], b[differ]))
    if not parts:
        return pd.DataFrame(columns=DIFFERENCE_COLUMNS)
    return pd.concat(parts, ignore_index=True)


def audit(
    stored: pd.DataFrame, raw: RawInputs, cities: Mapping[str, City], params: FeatureParams
) -> LeakageAudit:
    """Re-derive the stored rows (a sample of the feature table, all its columns) from the raw
    inputs truncated at each row's ``ts`` and compare them; see :func:`feature_differences`."""
    stored = stored.reset_index(drop=True)
    rebuilt, n_cutoffs = rederive(stored[SAMPLE_KEYS], raw, cities, params)
    compared = [c for c in stored.columns if c not in ("ticker", "ts", *LABEL_COLUMNS)]
    differences = feature_differences(stored, rebuilt)
    return LeakageAudit(len(stored), n_cutoffs, len(compared), differences)


# --- helpers -------------------------------------------------------------------------------------


def _grouped(frame: pd.DataFrame, key: pd.Series):
    """A lookup ``key value -> (its rows, their ts in UTC nanoseconds)``. The frame is sorted by
    key once, so each lookup is a slice, not a copy; a value without rows gets none."""
    order = np.argsort(key.to_numpy(str), kind="stable")
    frame = frame.iloc[order]
    keys = key.to_numpy(str)[order]
    stamps = _nanoseconds(frame["ts"])

    def rows(value) -> tuple[pd.DataFrame, np.ndarray]:
        lo, hi = (int(np.searchsorted(keys, value, side=side)) for side in ("left", "right"))
        return frame.iloc[lo:hi], stamps[lo:hi]

    return rows


def _nanoseconds(values) -> np.ndarray:
    """UTC times (naive = UTC, any unit) as int64 nanoseconds since the epoch."""
    stamps = pd.to_datetime(pd.Series(values), utc=True).dt.tz_localize(None)
    return stamps.to_numpy().astype("datetime64[ns]").view(np.int64)


def _present(stored: pd.DataFrame, rebuilt: pd.DataFrame) -> np.ndarray:
    """Per stored row: does the rebuild hold a row of the same ticker and ts?"""
    if rebuilt.empty:
        return np.zeros(len(stored), bool)
    keys = pd.MultiIndex.from_frame(rebuilt[["ticker", "ts"]].astype({"ticker": str}))
    wanted = pd.MultiIndex.from_frame(stored[["ticker", "ts"]].astype({"ticker": str}))
    return wanted.isin(keys)


def _same(a: pd.Series, b: pd.Series) -> np.ndarray:
    """Element-wise equality, missing equal to missing, floats within TOLERANCE."""
    both_missing = (a.isna() & b.isna()).to_numpy()
    if _is_number(a) and _is_number(b):
        x, y = a.to_numpy(float, na_value=np.nan), b.to_numpy(float, na_value=np.nan)
        with np.errstate(invalid="ignore"):
            scale = np.maximum(np.maximum(np.abs(x), np.abs(y)), 1.0)
            close = np.abs(x - y) <= TOLERANCE * scale
        return both_missing | (x == y) | close
    if _is_time(a) or _is_time(b):
        x, y = pd.to_datetime(a, utc=True), pd.to_datetime(b, utc=True)
        return both_missing | (x == y).fillna(False).to_numpy(bool)
    x, y = a.astype(object).to_numpy(), b.astype(object).to_numpy()
    return np.array([_same_cell(u, v) for u, v in zip(x, y, strict=True)], dtype=bool)


def _same_cell(u: object, v: object) -> bool:
    """One cell of any other type (strings, dates): missing only equals missing."""
    if pd.isna(u) or pd.isna(v):
        return bool(pd.isna(u) and pd.isna(v))
    return bool(u == v)


def _is_number(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(
        values.dtype
    )


def _is_time(values: pd.Series) -> bool:
    return pd.api.types.is_datetime64_any_dtype(values.dtype)


def _differing(paired: pd.DataFrame, mask: np.ndarray, column: str, stored, rederived):
    """The rows of ``paired`` under ``mask`` as difference records; the values are a constant
    or the masked cells of a column."""
    rows = paired.loc[mask, ["ticker", "ts"]].reset_index(drop=True)

    def cells(values) -> object:
        return values if isinstance(values, str) else values.astype(object).to_numpy()

    return rows.assign(column=column, stored=cells(stored), rederived=cells(rederived))
