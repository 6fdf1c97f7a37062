"""The data contract (DATA_CONTRACT.md): pandera schemas per table, and the rules across rows.

Normalised ("raw") dtypes, as ``ingest`` writes them to ``data/raw`` and every later stage reads
them:

==================  ==========================  ==========================================
kind                pandas dtype                Parquet type
==================  ==========================  ==========================================
text                ``str``                     string (null = missing ``result``)
timestamp           ``datetime64[us, UTC]``     timestamp[us, tz=UTC]
date                ``object`` of datetime.date date32
cents, counts       ``Int64`` (nullable)        int64 (null = not quoted / not reported)
tmax_f              ``int64``                   int64
strikes, temp_f,    ``float64``                 double
p_true,
tmax_forecast_f
lead_days           ``int64``                   int64
==================  ==========================  ==========================================

The schemas check one column at a time (type, range, allowed values, nulls, uniqueness); the
functions below check what spans rows or tables and return the offending rows, empty when the
rule holds, so the caller can name them in a ``DataError``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import pandera.pandas as pa

from tmaxedge.core.config import STRIKE_TYPES
from tmaxedge.core.strikes import resolves_yes, yes_interval

TIME_DTYPE = "datetime64[us, UTC]"
TABLES = ("markets", "quotes", "weather", "settlements", "oracle")
OPTIONAL_TABLES = ("oracle",)
# optional tables that ingest copies to data/raw only when the source holds them, so a source
# without one gives the same data/raw as before the table existed
SIDE_TABLES = ("forecasts",)
RESULTS = ("yes", "no")
TEMP_RANGE_F = (-100, 150)  # far outside any US station record: catches -9999 style sentinels

# table -> column -> normalised dtype, in contract order
RAW_DTYPES: dict[str, dict[str, str]] = {
    "markets": {
        "ticker": "str",
        "event_ticker": "str",
        "city": "str",
        "event_date": "date",
        "strike_type": "str",
        "floor_strike": "float64",
        "cap_strike": "float64",
        "open_time": TIME_DTYPE,
        "close_time": TIME_DTYPE,
        "result": "str",
    },
    "quotes": {
        "ticker": "str",
        "ts": TIME_DTYPE,
        "yes_bid": "Int64",
        "yes_ask": "Int64",
        "price": "Int64",
        "volume": "Int64",
        "open_interest": "Int64",
    },
    "weather": {"city": "str", "ts": TIME_DTYPE, "temp_f": "float64"},
    "settlements": {"city": "str", "date": "date", "tmax_f": "int64"},
    "oracle": {"ticker": "str", "ts": TIME_DTYPE, "p_true": "float64"},
    "forecasts": {
        "city": "str",
        "target_date": "date",
        "issued_at": TIME_DTYPE,
        "lead_days": "int64",
        "tmax_forecast_f": "float64",
    },
}

# rows of one table are unique on these columns, and written sorted by them
KEYS: dict[str, list[str]] = {
    "markets": ["ticker"],
    "quotes": ["ticker", "ts"],
    "weather": ["city", "ts"],
    "settlements": ["city", "date"],
    "oracle": ["ticker", "ts"],
    "forecasts": ["city", "target_date", "issued_at"],
}

_FINITE = pa.Check(lambda s: np.isfinite(s.astype("float64")), error="must be a finite number")
_CENTS = pa.Check.in_range(0, 100, error="must be integer cents in 0..100")
_COUNT = pa.Check.ge(0, error="must be an integer >= 0")
_TEMP = pa.Check.in_range(*TEMP_RANGE_F, error="must be a plausible temperature in °F, -100..150")


def _column(
    table: str, name: str, *checks: pa.Check, nullable: bool = False, unique: bool = False
) -> pa.Column:
    dtype = RAW_DTYPES[table][name]
    return pa.Column(
        pa.Date if dtype == "date" else dtype, list(checks), nullable=nullable, unique=unique
    )


def _schema(table: str, columns: dict[str, pa.Column]) -> pa.DataFrameSchema:
    assert list(columns) == list(RAW_DTYPES[table]), table  # one source of column order
    return pa.DataFrameSchema(columns, strict=True, ordered=True, name=table)


MARKETS = _schema(
    "markets",
    {
        "ticker": _column("markets", "ticker", unique=True),
        "event_ticker": _column("markets", "event_ticker"),
        "city": _column("markets", "city"),
        "event_date": _column("markets", "event_date"),
        "strike_type": _column(
            "markets",
            "strike_type",
            pa.Check.isin(STRIKE_TYPES, error=f"must be one of {list(STRIKE_TYPES)}"),
        ),
        "floor_strike": _column("markets", "floor_strike", _FINITE, nullable=True),
        "cap_strike": _column("markets", "cap_strike", _FINITE, nullable=True),
        "open_time": _column("markets", "open_time"),
        "close_time": _column("markets", "close_time"),
        "result": _column(
            "markets",
            "result",
            pa.Check.isin(RESULTS, error="must be 'yes', 'no' or null"),
            nullable=True,
        ),
    },
)
QUOTES = _schema(
    "quotes",
    {
        "ticker": _column("quotes", "ticker"),
        "ts": _column("quotes", "ts"),
        "yes_bid": _column("quotes", "yes_bid", _CENTS, nullable=True),
        "yes_ask": _column("quotes", "yes_ask", _CENTS, nullable=True),
        "price": _column("quotes", "price", _CENTS, nullable=True),
        "volume": _column("quotes", "volume", _COUNT, nullable=True),
        "open_interest": _column("quotes", "open_interest", _COUNT, nullable=True),
    },
)
WEATHER = _schema(
    "weather",
    {
        "city": _column("weather", "city"),
        "ts": _column("weather", "ts"),
        "temp_f": _column("weather", "temp_f", _FINITE, _TEMP),
    },
)
SETTLEMENTS = _schema(
    "settlements",
    {
        "city": _column("settlements", "city"),
        "date": _column("settlements", "date"),
        "tmax_f": _column("settlements", "tmax_f", _TEMP),
    },
)
ORACLE = _schema(
    "oracle",
    {
        "ticker": _column("oracle", "ticker"),
        "ts": _column("oracle", "ts"),
        "p_true": _column(
            "oracle", "p_true", pa.Check.in_range(0, 1, error="must be a probability in 0..1")
        ),
    },
)
FORECASTS = _schema(
    "forecasts",
    {
        "city": _column("forecasts", "city"),
        "target_date": _column("forecasts", "target_date"),
        "issued_at": _column("forecasts", "issued_at"),
        "lead_days": _column("forecasts", "lead_days", _COUNT),
        "tmax_forecast_f": _column("forecasts", "tmax_forecast_f", _FINITE, _TEMP),
    },
)
SCHEMAS: dict[str, pa.DataFrameSchema] = {
    "markets": MARKETS,
    "quotes": QUOTES,
    "weather": WEATHER,
    "settlements": SETTLEMENTS,
    "oracle": ORACLE,
    "forecasts": FORECASTS,
}


def empty_table(table: str) -> pd.DataFrame:
    """A table with no rows and the normalised columns and dtypes of ``table``."""
    columns = {}
    for name, dtype in RAW_DTYPES[table].items():
        columns[name] = pd.Series([], dtype="object" if dtype == "date" else dtype)
    return pd.DataFrame(columns)


def bid_not_below_ask(quotes: pd.DataFrame) -> pd.DataFrame:
    """Quote rows where both sides are present and ``yes_bid >= yes_ask``."""
    crossed = (quotes["yes_bid"] >= quotes["yes_ask"]).fillna(False).astype(bool)
    return quotes[crossed]


def exact_duplicates(frame: pd.DataFrame, key: list[str]) -> pd.Series:
    """Mask of rows equal in every column to an earlier row (safe to drop).

    Such a row repeats its ``key``, so only rows with a repeated key are compared in full: on a
    feed of ten million quotes that is none or a few, not every column of every row.
    """
    candidates = repeated_key_mask(frame, key)
    mask = np.zeros(len(frame), dtype=bool)
    if candidates.any():
        mask[candidates] = frame[candidates].duplicated(keep="first").to_numpy()
    return pd.Series(mask, index=frame.index)


def conflicting_duplicates(frame: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    """All rows whose ``key`` repeats; run after dropping exact duplicates, so they disagree."""
    return frame[repeated_key_mask(frame, key)]


def repeated_key_mask(frame: pd.DataFrame, key: list[str]) -> np.ndarray:
    """Mask of the rows whose ``key`` occurs more than once (``duplicated(keep=False)``)."""
    codes = _key_codes(frame, key)
    order = _key_order(codes)
    same_as_next = np.ones(max(len(frame) - 1, 0), dtype=bool)
    for column in codes:
        in_order = column[order]
        same_as_next &= in_order[1:] == in_order[:-1]
    repeated = np.zeros(len(frame), dtype=bool)
    repeated[:-1] |= same_as_next
    repeated[1:] |= same_as_next
    mask = np.empty(len(frame), dtype=bool)
    mask[order] = repeated
    return mask


def sort_by_key(frame: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    """``frame`` sorted by ``key`` (stable, a fresh RangeIndex); a sorted frame is not re-sorted.

    Same order as ``sort_values(key, kind="mergesort")`` for keys without nulls.
    """
    order = _key_order(_key_codes(frame, key))
    if np.array_equal(order, np.arange(len(frame))):
        return frame.reset_index(drop=True)
    return frame.take(order).reset_index(drop=True)


def _key_codes(frame: pd.DataFrame, key: list[str]) -> list[np.ndarray]:
    """Each key column as integers in the column's sort order (nulls one code before all)."""
    return [_sortable_codes(frame[column]) for column in key]


def _sortable_codes(column: pd.Series) -> np.ndarray:
    if pd.api.types.is_datetime64_any_dtype(column):
        return column.array.asi8  # the instants themselves (NaT first), without hashing them
    return pd.factorize(column, sort=True)[0]


def _key_order(codes: list[np.ndarray]) -> np.ndarray:
    """Stable permutation sorting rows by ``codes`` lexicographically; checked first, since the
    tables usually arrive sorted and the check is one pass where a sort is many."""
    n = len(codes[0]) if codes else 0
    undecided = np.ones(max(n - 1, 0), dtype=bool)
    for column in codes:
        # compared, not subtracted: NaT's code is the smallest int64, and a difference overflows
        later, earlier = column[1:], column[:-1]
        if np.any(undecided & (later < earlier)):
            return np.lexsort(codes[::-1])
        undecided &= later == earlier
    return np.arange(n)


def unknown_values(frame: pd.DataFrame, column: str, known) -> pd.DataFrame:
    """Rows whose ``column`` is not among ``known``."""
    return frame[~frame[column].isin(list(known))]


def strikes_inconsistent(markets: pd.DataFrame) -> pd.DataFrame:
    """Markets whose strikes do not fit their type.

    ``less``: floor null, cap set; ``greater``: floor set, cap null; ``between``: both set and
    floor ≤ cap.
    """
    kind = markets["strike_type"]
    has_floor = markets["floor_strike"].notna()
    has_cap = markets["cap_strike"].notna()
    ok = (
        ((kind == "less") & ~has_floor & has_cap)
        | ((kind == "greater") & has_floor & ~has_cap)
        | (
            (kind == "between")
            & has_floor
            & has_cap
            & (markets["floor_strike"] <= markets["cap_strike"]).fillna(False)
        )
    )
    return markets[~ok.astype(bool)]


def close_not_after_open(markets: pd.DataFrame) -> pd.DataFrame:
    """Markets with ``close_time <= open_time``."""
    return markets[markets["close_time"] <= markets["open_time"]]


def events_inconsistent(markets: pd.DataFrame) -> pd.DataFrame:
    """Markets whose ``event_ticker`` and (city, event_date) are not one-to-one."""
    per_ticker = markets.groupby("event_ticker")[["city", "event_date"]].transform("nunique")
    per_day = markets.groupby(["city", "event_date"])["event_ticker"].transform("nunique")
    bad = (per_ticker.max(axis=1) > 1) | (per_day > 1)
    return markets[bad]


def events_without_settlement(markets: pd.DataFrame, settlements: pd.DataFrame) -> pd.DataFrame:
    """Markets whose event (city, event_date) has no row in ``settlements``."""
    known = pd.MultiIndex.from_frame(settlements[["city", "date"]])
    events = pd.MultiIndex.from_frame(markets[["city", "event_date"]])
    return markets[~events.isin(known)]


def results_disagreeing(markets: pd.DataFrame, settlements: pd.DataFrame) -> pd.DataFrame:
    """Markets whose ``result`` is present and differs from the YES rule on the settlement.

    Returns the markets with the settlement's ``tmax_f`` and the ``expected`` result appended.
    Markets without a settlement are left to ``events_without_settlement``.
    """
    table = markets.reset_index(names="_row").merge(
        settlements.rename(columns={"date": "event_date"}), on=["city", "event_date"], how="inner"
    )
    yes = resolves_yes(
        table["strike_type"], table["floor_strike"], table["cap_strike"], table["tmax_f"]
    )
    table["expected"] = np.where(yes, "yes", "no")
    bad = table["result"].notna() & (table["result"] != table["expected"])
    return table[bad.astype(bool)].set_index("_row").rename_axis(markets.index.name)


def events_not_partitioning(markets: pd.DataFrame) -> pd.DataFrame:
    """Markets of events where some integer high is YES for no market, or for two or more.

    Checked over the integers from one below the lowest strike to one above the highest: below
    and above that range only the tails can be YES, exactly as at its two ends. Returns every
    market of the failing events with ``bad_tmax_f`` (the lowest failing integer) and
    ``n_yes_there`` (how many of the event's markets are YES at it) appended.
    """
    if markets.empty:
        return markets.assign(bad_tmax_f=pd.Series(dtype="int64"), n_yes_there=0)
    event = markets.groupby(["city", "event_date"], sort=True).ngroup().to_numpy()
    low, high = yes_interval(markets)
    strikes = markets[["floor_strike", "cap_strike"]].to_numpy(dtype="float64")
    per_event = (
        pd.DataFrame(
            {"event": event, "lo": np.nanmin(strikes, axis=1), "hi": np.nanmax(strikes, axis=1)}
        )
        .groupby("event")
        .agg(lo=("lo", "min"), hi=("hi", "max"))
    )
    start = np.floor(per_event["lo"].to_numpy()) - 1
    count = (np.ceil(per_event["hi"].to_numpy()) + 1 - start + 1).astype("int64")
    grid_event = np.repeat(per_event.index.to_numpy(), count)
    offset = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    grid = pd.DataFrame({"event": grid_event, "tmax_f": np.repeat(start, count) + offset})
    pairs = grid.merge(pd.DataFrame({"event": event, "low": low, "high": high}), on="event")
    pairs["yes"] = (pairs["low"] <= pairs["tmax_f"]) & (pairs["tmax_f"] <= pairs["high"])
    n_yes = pairs.groupby(["event", "tmax_f"], sort=True)["yes"].sum().reset_index()
    failing = n_yes[n_yes["yes"] != 1].groupby("event").first()
    bad = pd.Series(event).isin(failing.index).to_numpy()
    found = markets[bad]
    return found.assign(
        bad_tmax_f=failing.loc[event[bad], "tmax_f"].astype("int64").to_numpy(),
        n_yes_there=failing.loc[event[bad], "yes"].astype("int64").to_numpy(),
    )


def quotes_after_close(
    frame: pd.DataFrame, markets: pd.DataFrame, time_column: str = "ts"
) -> pd.Series:
    """Mask of rows (quotes or oracle) stamped strictly after their market's ``close_time``."""
    codes, tickers = pd.factorize(frame["ticker"])
    close_of_ticker = pd.Series(tickers).map(markets.set_index("ticker")["close_time"])
    close = close_of_ticker.array.take(codes, allow_fill=True)  # looked up once per market
    return pd.Series(frame[time_column].array > close, index=frame.index).fillna(False).astype(bool)


def unmatched_keys(frame: pd.DataFrame, other: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    """Rows of ``frame`` whose ``key`` does not occur in ``other``."""
    if _same_keys_in_order(frame, other, key):  # the usual case: one oracle row per quote row
        return frame.iloc[:0]
    known = pd.MultiIndex.from_frame(other[key])
    return frame[~pd.MultiIndex.from_frame(frame[key]).isin(known)]


def _same_keys_in_order(frame: pd.DataFrame, other: pd.DataFrame, key: list[str]) -> bool:
    if len(frame) != len(other):
        return False
    return all(bool(np.all(frame[c].array == other[c].array)) for c in key)


def issued_before_issue_date(forecasts: pd.DataFrame, zones: Mapping[str, str]) -> pd.DataFrame:
    """Forecasts public (``issued_at``) before the local day they were made on
    (``target_date - lead_days``), in the zone ``zones`` gives their city: a forecast cannot be
    seen before it exists. Cities missing from ``zones`` are left to the city check."""
    made = pd.to_datetime(pd.Series(forecasts["target_date"], dtype=object)) - pd.to_timedelta(
        forecasts["lead_days"].astype("int64"), unit="D"
    )
    early = pd.Series(False, index=forecasts.index)
    for city, rows in forecasts.groupby("city", sort=True).groups.items():
        if city not in zones:
            continue
        local_day = forecasts.loc[rows, "issued_at"].dt.tz_convert(zones[city]).dt.tz_localize(None)
        early.loc[rows] = local_day.dt.normalize() < made.loc[rows]
    return forecasts[early.to_numpy()]


def markets_without_book(markets: pd.DataFrame, quotes: pd.DataFrame) -> pd.Series:
    """Tickers of markets without a quote row holding a bid or an ask (trade prices or nothing)."""
    booked = quotes.loc[quotes["yes_bid"].notna() | quotes["yes_ask"].notna(), "ticker"]
    return markets.loc[~markets["ticker"].isin(booked.unique()), "ticker"]
