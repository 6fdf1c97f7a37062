"""The feature table: one row per (market, eligible minute), from data stamped at or before it.

Conventions (all arithmetic in UTC integer minutes, so DST never bends a clock):

- The *climate day* of a market is its ``event_date`` from 00:00 to 24:00 local **standard** time
  (NWS CLI convention), i.e. it starts at ``event_date 00:00 UTC - City.standard_offset`` all
  year round; in summer that is 01:00 local daylight time.
- A market's *eligible minutes* are the whole minutes ``t`` with ``t = day_start + k *
  every_minutes`` (k an integer), ``t >= day_start + eligible_start_hour`` and ``t <= close_time``.
  Every eligible minute gets a row, also when the book is empty (book features are then null); a
  market that closes before its first eligible minute has no rows.
- A quote row stamped ``ts`` (the end of its one-minute period) is usable from the first whole
  minute ``>= ts`` on; the latest usable row is carried forward, never backward. Bid and ask come
  from that latest row (null there = no quote on that side); ``price`` (last trade) and
  ``open_interest`` are the latest non-null values. Weather is carried forward the same way.
- Consequently every feature at ``t`` uses only rows stamped ``<= t`` and ``<= close_time``
  (``tests/features/test_build.py`` perturbs the future and checks nothing at or before ``t``
  moves).

Definitions that need one (mid, bid, ask in cents; windows on the 1-minute grid ending at ``t``):
``features.one_sided_book: bounds`` (the default) prices a one-sided book's empty side at 0 (bid)
or 100 (ask), as Kalshi shows it, so ``yes_mid`` is null only when both sides are empty;
``as_quoted`` (the brief's) leaves the empty side null, so bid or ask, the mid, the spread and
every feature computed from them (``mid_chg_5m``, the ``rv_*``, ``mid_slope_5m``, ``spread_pct``,
``temp_x_spread_pct``, ``mid_logit``) are null wherever one side is empty, for the model's median
imputation to fill. ``p_market`` = the bounds mid/100 under either value (the market every model
is scored and traded against must not move with a feature switch), else last trade/100, else
null; the event features are computed from ``p_market``. ``mid_chg_5m`` = mid(t) − mid(t−5).
The 1-minute mid changes mid(u) − mid(u−1) for the 15/60 minutes u ending at ``t`` are counted
when both mids exist: ``rv_15m``/``rv_60m`` (the brief's) are the square root of the sum of their
squares, null with none; ``rv_15m_sd``/``rv_60m_sd`` their sample std (ddof=1), null with fewer
than two. ``mid_slope_5m``: least-squares slope per minute through the non-null mids at t−4..t.
``vol_5m``: contracts in the rows stamped in (t−5 min, t]; 0 without rows, null if one of those
rows does not report volume. ``temp_5m_ema``/``temp_15m_ema``: ``y = a x + (1−a) y_prev``,
``a = 1 − exp(−1/tau)``, over the carried-forward temperature minute by minute, started
``WEATHER_WARMUP_MINUTES`` before the event day's first eligible minute (so a value never depends
on how the table is partitioned). ``running_max``: max of the observations stamped in
[climate-day start, min(t, climate-day end)]. ``hour_of_day_local`` (the brief's) = the whole
hour, 0 to 23, on the city's clock at ``t`` (daylight saving time included; an hour *of the day*
is the clock's integer hour); ``climate_day_hour`` = hours since the climate-day start, fractional
(exceeds 24 only for a market trading past its climate day). ``sin_hour``/``cos_hour`` =
sin/cos(2π h/24) of ``hour_of_day_local``; ``sin_climate_hour``/``cos_climate_hour`` the same of
``climate_day_hour``. Window sums use prefix sums; prices are whole cents, so these sums are exact
and no row's value depends on another market's rows.

Cities with ``weather_features: false`` get **no weather information**: the columns listed by
:func:`weather_columns` (and ``weather_ts``) are entirely null for them. Every partition keeps
the same schema so partitions concatenate; the model stage drops all-null columns, which gives
those cities their own weather-free model.

With a ``forecasts`` table (optional in the data contract) the rows also get
``forecasts.FORECAST_COLUMNS``, after ``COLUMNS``, from the forecasts issued at or before each
row's ``ts`` (``tmaxedge.features.forecasts``); without one the table is as it was.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from joblib import Parallel, delayed

from tmaxedge.core import strikes
from tmaxedge.core.config import STRIKE_TYPES, City
from tmaxedge.core.errors import DataError, ParamsError, data_error
from tmaxedge.core.params import Interval, Options, Params, declare
from tmaxedge.features.event_features import (
    EVENT_COLUMNS,
    IMPLIED_EXCEEDANCE_COLUMNS,
    event_columns,
)
from tmaxedge.features.forecasts import FORECAST_INPUTS, forecast_columns

T = TypeVar("T")

NS_PER_MINUTE = 60_000_000_000
NAT = np.iinfo(np.int64).min
HISTORY_MINUTES = 60  # the 1-minute grid starts this long before the first eligible minute
WEATHER_WARMUP_MINUTES = 360  # EMAs start 6 h before the first eligible minute: e^-24 memory left
EMA_MINUTES = (5, 15)
# bounds: a one-sided book's empty side priced 0 / 100 before the mid; as_quoted: left empty
ONE_SIDED_BOOK = ("bounds", "as_quoted")

KEY_COLUMNS = [
    "ticker",
    "event_ticker",
    "city",
    "event_date",
    "strike_type",
    "floor_strike",
    "cap_strike",
    "ts",
    "close_time",
    "y",
    "tmax_f",
    "p_market",
    "quote_ts",
    "weather_ts",
]
LABEL_COLUMNS = ["y", "tmax_f"]  # outcomes: for fitting and scoring, never a feature
_BASELINE = [
    "yes_mid",
    "yes_bid",
    "yes_ask",
    "spread_cents",
    "minutes_to_close",
    "temp_now",
    "temp_to_floor",
    "temp_to_cap",
    "hour_of_day_local",
    "day_of_week",
]
_RIDGE_SAFE = _BASELINE + ["mid_chg_5m", "spread_pct", "log_minutes_to_close"]
_RICH = _RIDGE_SAFE + [
    "rv_15m",
    "rv_60m",
    "oi_level",
    "vol_5m",
    "mid_slope_5m",
    "temp_5m_ema",
    "temp_15m_ema",
    "temp_accel",
    "sin_hour",
    "cos_hour",
    "temp_x_spread_pct",
    "temp_x_log_minutes",
]
# the default's sets: the brief's lists with the climate day's hour and the sample-sd volatility in
# the brief's columns' places, and rich's with the day's running maximum (docs/brief.md says why)
_CLIMATE = {
    "hour_of_day_local": "climate_day_hour",
    "rv_15m": "rv_15m_sd",
    "rv_60m": "rv_60m_sd",
    "sin_hour": "sin_climate_hour",
    "cos_hour": "cos_climate_hour",
}
_RIDGE_SAFE_CLIMATE = [_CLIMATE.get(name, name) for name in _RIDGE_SAFE]
_RICH_CLIMATE = [_CLIMATE.get(name, name) for name in _RICH] + [
    "running_max",
    "running_max_to_floor",
    "running_max_to_cap",
]
MARKET_LOGIT = "mid_logit"  # log-odds of the mid: the market's own forecast on the model's scale
# log-odds of p_market, the price every model is scored against: the mid, or without a book the
# last trade (a trade-only source has no mid, so mid_logit is null there). Computed where a model
# asks for it (walkforward.groups), not stored: the feature table already holds p_market.
PRICE_LOGIT = "market_logit"
FEATURE_SETS: dict[str, list[str]] = {
    "baseline": _BASELINE,
    "ridge_safe": _RIDGE_SAFE,
    "rich": _RICH,
    "ridge_safe_climate": _RIDGE_SAFE_CLIMATE,
    "rich_climate": _RICH_CLIMATE,
}
# the event's implied distribution of the high (event_features): not in a brief's feature set,
# a model takes them with the extra feature "event"; the implied exceedances are tmax_dist's inputs
COLUMNS = (
    KEY_COLUMNS
    + _RICH
    + [name for name in _RICH_CLIMATE if name not in _RICH]
    + [MARKET_LOGIT]
    + EVENT_COLUMNS
    + IMPLIED_EXCEEDANCE_COLUMNS
)
_WEATHER = [
    "temp_now",
    "temp_to_floor",
    "temp_to_cap",
    "temp_5m_ema",
    "temp_15m_ema",
    "temp_accel",
    "temp_x_spread_pct",
    "temp_x_log_minutes",
    "running_max",
    "running_max_to_floor",
    "running_max_to_cap",
    "running_max_z",
    "temp_now_z",
]
_STRING_KEYS = ["ticker", "event_ticker", "city", "strike_type"]
_TIME_KEYS = ["ts", "close_time", "quote_ts", "weather_ts"]

MARKET_COLUMNS = [
    "ticker",
    "event_ticker",
    "city",
    "event_date",
    "strike_type",
    "floor_strike",
    "cap_strike",
    "close_time",
]
QUOTE_COLUMNS = ["ticker", "ts", "yes_bid", "yes_ask", "price", "volume", "open_interest"]
WEATHER_COLUMNS = ["city", "ts", "temp_f"]
SETTLEMENT_COLUMNS = ["city", "date", "tmax_f"]


def weather_columns() -> list[str]:
    """The feature columns derived from weather; all null for cities without weather features.

    (The key column ``weather_ts`` is null for those cities too.)
    """
    return list(_WEATHER)


@dataclass(frozen=True)
class FeatureParams(Params):
    """The ``features`` section of params.yaml."""

    constraints = declare(
        every_minutes=Interval(int, 1, None),
        eligible_start_hour=Interval(int, 0, 23),
        one_sided_book=Options(ONE_SIDED_BOOK),
        forecast_sd_f=Interval(float, 0, None, closed="neither"),
    )

    every_minutes: int = 5
    eligible_start_hour: int = 6
    one_sided_book: str = "bounds"  # among ONE_SIDED_BOOK; p_market is priced "bounds" either way
    # sd (°F) of the normal around the forecast high behind fc_bin_logit; read only when a
    # forecasts table exists
    forecast_sd_f: float = 3.0


# ----------------------------------------------------------------------------------------------
# one partition


def build_partition(
    markets: pd.DataFrame,
    quotes: pd.DataFrame,
    weather: pd.DataFrame,
    settlements: pd.DataFrame,
    city: City,
    params: FeatureParams,
    forecasts: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Build the feature rows of one city's markets (normally one month of event dates).

    ``markets`` must all belong to ``city``; ``quotes``, ``weather`` and ``settlements`` may hold
    extra rows (other tickers, cities, times), which are ignored. Work is vectorised over one
    contiguous 1-minute grid per market, from ``HISTORY_MINUTES`` before its first eligible minute
    to its last one; rolling windows (at most 60 minutes) therefore never cross markets.

    Returns one row per (market, eligible minute) with the columns ``COLUMNS`` (keys, label ``y``,
    ``p_market``, source timestamps, then ``FEATURE_SETS["rich"]`` and the columns only
    ``FEATURE_SETS["rich_climate"]`` has), sorted by ticker and ts; with ``forecasts`` (the
    contract's forecasts table; other cities' rows are ignored) also ``FORECAST_COLUMNS``.
    Raises ``DataError`` for a missing column, a market of another city, an unknown strike type or
    a market without settlement.
    """
    _require(markets, MARKET_COLUMNS, "markets")
    _require(quotes, QUOTE_COLUMNS, "quotes")
    _require(settlements, SETTLEMENT_COLUMNS, "settlements")
    markets = markets.sort_values("ticker", kind="mergesort", ignore_index=True)
    other = markets[markets["city"] != city.code]
    if len(other):
        raise data_error(
            "markets",
            "city",
            f"must be '{city.code}' in this partition",
            other[["ticker", "city"]],
            len(markets),
        )

    grid = _market_grid(markets, city, params)
    label, high = _labels(markets, settlements, city)
    book = _book_features(quotes, markets["ticker"], grid, params.one_sided_book)
    if city.weather_features:
        _require(weather, WEATHER_COLUMNS, "weather")
        temp = _weather_features(weather, city, grid)
    else:
        temp = {name: np.full(grid.n_rows, np.nan) for name in ("temp_now", "ema5", "ema15", "max")}
        temp["weather_ns"] = np.full(grid.n_rows, NAT)
    frame = _assemble(markets, grid, label, high, book, temp, city)
    if forecasts is None:
        return frame
    _require(forecasts, FORECAST_INPUTS, "forecasts")
    own = forecasts[forecasts["city"] == city.code]
    return pd.concat([frame, forecast_columns(frame, own, params.forecast_sd_f)], axis=1)


@dataclass(frozen=True)
class _Grid:
    """Per-market 1-minute grids laid end to end, and the eligible rows on them."""

    day: np.ndarray  # per market: event_date, days since 1970-01-01
    day_start: np.ndarray  # per market: climate-day start, UTC minutes
    first: np.ndarray  # per market: first eligible minute
    grid_start: np.ndarray  # per market: first grid minute
    n_grid: np.ndarray  # per market: grid length
    grid_offset: np.ndarray  # per market: position of its first grid minute
    close_ns: np.ndarray  # per market
    row_market: np.ndarray  # per row: market index
    row_pos: np.ndarray  # per row: grid position
    row_min: np.ndarray  # per row: UTC minute

    @property
    def n_positions(self) -> int:
        return int(self.n_grid.sum())

    @property
    def n_rows(self) -> int:
        return len(self.row_market)


def _market_grid(markets: pd.DataFrame, city: City, params: FeatureParams) -> _Grid:
    """Eligible minutes per market (see module docstring) and the grid positions holding them."""
    offset_seconds = city.standard_offset.total_seconds()
    if offset_seconds % 60:
        raise ParamsError(f"cities.{city.code}: standard UTC offset must be whole minutes.")
    every = params.every_minutes
    day = _to_days(markets["event_date"])
    day_start = day * 1440 - int(offset_seconds // 60)
    close_ns = _to_ns(markets["close_time"])
    close_min = close_ns // NS_PER_MINUTE  # t <= close_time  <=>  t <= floor(close, minute)
    first = day_start + -(-params.eligible_start_hour * 60 // every) * every
    last = day_start + (close_min - day_start) // every * every
    n_rows = np.where(last >= first, (last - first) // every + 1, 0)
    grid_start = first - HISTORY_MINUTES
    n_grid = np.where(n_rows > 0, last - grid_start + 1, 0)
    grid_offset = (np.cumsum(n_grid) - n_grid).astype(np.int64)
    row_market = np.repeat(np.arange(len(markets)), n_rows)
    row_offset = (np.cumsum(n_rows) - n_rows).astype(np.int64)
    row_local = HISTORY_MINUTES + (np.arange(len(row_market)) - row_offset[row_market]) * every
    return _Grid(
        day=day,
        day_start=day_start,
        first=first,
        grid_start=grid_start,
        n_grid=n_grid,
        grid_offset=grid_offset,
        close_ns=close_ns,
        row_market=row_market,
        row_pos=grid_offset[row_market] + row_local,
        row_min=grid_start[row_market] + row_local,
    )


def _labels(
    markets: pd.DataFrame, settlements: pd.DataFrame, city: City
) -> tuple[np.ndarray, np.ndarray]:
    """y and the official high per market (YES rule); DataError if a settlement is missing."""
    own = settlements[settlements["city"] == city.code]
    days = pd.Index(_to_days(own["date"]))
    if not days.is_unique:
        dup = own[days.duplicated(keep=False)]
        raise data_error("settlements", "city, date", "must be unique", dup, len(own))
    at = days.get_indexer(_to_days(markets["event_date"]))
    if (at < 0).any():
        missing = markets.loc[at < 0, ["ticker", "event_date"]]
        raise data_error(
            "markets",
            "event_date",
            "must have a settlement for its city and date",
            missing,
            len(markets),
        )
    high = own["tmax_f"].to_numpy(np.float64, na_value=np.nan)[at]
    floor = markets["floor_strike"].to_numpy(np.float64, na_value=np.nan)
    cap = markets["cap_strike"].to_numpy(np.float64, na_value=np.nan)
    kind = markets["strike_type"].to_numpy(object)
    unknown = ~np.isin(kind, STRIKE_TYPES)
    if unknown.any():
        raise data_error(
            "markets",
            "strike_type",
            f"must be one of {list(STRIKE_TYPES)}",
            markets.loc[unknown, ["ticker", "strike_type"]],
            len(markets),
        )
    with np.errstate(invalid="ignore"):
        yes = np.select(
            [kind == "between", kind == "greater", kind == "less"],
            [(floor <= high) & (high <= cap), high > floor, high < cap],
        )
    return yes.astype(np.int8), high


def fill_one_sided_book(bid: np.ndarray, ask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Price an empty side at its bound: nobody bids means YES trades between 0 and the ask.

    Kalshi itself shows an empty side as bid 0 / ask 100; a deep out-of-the-money market quotes
    only an ask, and dropping its mid would hide most cheap contracts from the model and from the
    market baseline. A book empty on both sides stays null.
    """
    bid = np.where(np.isnan(bid) & ~np.isnan(ask), 0.0, bid)
    ask = np.where(np.isnan(ask) & ~np.isnan(bid), 100.0, ask)
    return bid, ask


def _book_features(
    quotes: pd.DataFrame, tickers: pd.Series, grid: _Grid, one_sided_book: str
) -> dict[str, np.ndarray]:
    """Quote-derived features at every row, from quote rows carried forward onto the grid.

    ``one_sided_book`` (``ONE_SIDED_BOOK``) decides the book the features see; ``market_mid``,
    from which ``p_market`` is priced, always fills the empty side, so every model is judged
    against the same market whichever book its features see.
    """
    n_pos, rows = grid.n_positions, grid.row_pos
    market = _index_in(quotes["ticker"], tickers)
    keep = np.flatnonzero(market >= 0)
    market = market[keep]
    q_ns = _to_ns(quotes["ts"])[keep]
    order = _sort_order(market, q_ns)
    if order is not None:
        keep, market, q_ns = keep[order], market[order], q_ns[order]
    local = -(-q_ns // NS_PER_MINUTE) - grid.grid_start[market]  # first usable grid minute
    inside = local <= grid.n_grid[market] - 1  # later rows are past the last eligible minute
    keep, market, q_ns, local = keep[inside], market[inside], q_ns[inside], local[inside]
    pos = grid.grid_offset[market] + np.maximum(local, 0)  # earlier rows: state at grid start
    segment_start = np.repeat(grid.grid_offset, grid.n_grid)

    def column(name: str) -> np.ndarray:
        return quotes[name].to_numpy(np.float64, na_value=np.nan)[keep]

    bid, ask, price, volume, oi = (
        column(n) for n in ("yes_bid", "yes_ask", "price", "volume", "open_interest")
    )
    latest = _carry(pos, np.ones(len(pos), bool), n_pos, segment_start)
    quoted_bid, quoted_ask = _take(bid, latest), _take(ask, latest)
    filled_bid, filled_ask = fill_one_sided_book(quoted_bid, quoted_ask)
    market_mid = (filled_bid[rows] + filled_ask[rows]) / 2  # NaN only when both sides are empty
    if one_sided_book == "bounds":
        bid_g, ask_g = filled_bid, filled_ask
    else:
        bid_g, ask_g = quoted_bid, quoted_ask
    mid_g = (bid_g + ask_g) / 2
    at_price = _carry(pos, ~np.isnan(price), n_pos, segment_start)[rows]
    at_oi = _carry(pos, ~np.isnan(oi), n_pos, segment_start)[rows]

    # 1-minute mid changes; windows of eligible rows stay inside their market (local >= 60)
    change = np.empty(n_pos)
    change[:1] = np.nan
    np.subtract(mid_g[1:], mid_g[:-1], out=change[1:])
    ok = ~np.isnan(change)
    sums = [
        _prefix(np.where(ok, change, 0.0)),
        _prefix(np.where(ok, change * change, 0.0)),
        _prefix(ok.astype(np.float64)),
    ]
    # contracts traded per grid minute; a row that does not report volume makes its windows unknown
    counted = local >= 0
    traded = np.bincount(pos[counted], np.nan_to_num(volume[counted]), minlength=n_pos)
    unknown = np.bincount(pos[counted], np.isnan(volume[counted]), minlength=n_pos)
    vol_5m = _window(_prefix(traded), rows, 5)
    vol_5m[_window(_prefix(unknown), rows, 5) > 0] = np.nan

    mid = mid_g[rows]
    quote_row = latest[rows]
    return {
        "yes_bid": bid_g[rows],
        "yes_ask": ask_g[rows],
        "yes_mid": mid,
        "market_mid": market_mid,
        "quote_ns": _take_int(q_ns, quote_row),
        "price": _take(price, at_price),
        "oi_level": _take(oi, at_oi),
        "vol_5m": vol_5m,
        "mid_chg_5m": mid - mid_g[rows - 5],
        "rv_15m": _window_root_sum_squares(sums, rows, 15),
        "rv_60m": _window_root_sum_squares(sums, rows, 60),
        "rv_15m_sd": _window_std(sums, rows, 15),
        "rv_60m_sd": _window_std(sums, rows, 60),
        "mid_slope_5m": _slope(mid_g, rows, 5),
    }


def _weather_features(weather: pd.DataFrame, city: City, grid: _Grid) -> dict[str, np.ndarray]:
    """temp_now, its EMAs and the climate day's running max at every row, for one city."""
    own = weather[weather["city"] == city.code]
    w_ns = _to_ns(own["ts"])
    temp = own["temp_f"].to_numpy(np.float64, na_value=np.nan)
    keep = ~np.isnan(temp)
    w_ns, temp = w_ns[keep], temp[keep]
    order = np.argsort(w_ns, kind="stable")
    w_ns, temp = w_ns[order], temp[order]

    row_ns = grid.row_min * NS_PER_MINUTE
    latest = np.searchsorted(w_ns, row_ns, side="right") - 1  # merge_asof, direction="backward"
    out = {
        "temp_now": _take(temp, latest),
        "weather_ns": _take_int(w_ns, latest),
        "ema5": np.full(grid.n_rows, np.nan),
        "ema15": np.full(grid.n_rows, np.nan),
        "max": np.full(grid.n_rows, np.nan),
    }
    row_day = grid.day[grid.row_market]
    by_day = np.argsort(row_day, kind="stable")
    _, starts = np.unique(row_day[by_day], return_index=True)
    for day_rows in np.split(by_day, starts[1:]) if len(by_day) else []:
        market = grid.row_market[day_rows[0]]
        minutes = grid.row_min[day_rows]
        # EMAs of the carried-forward temperature on the 1-minute timeline of this event day
        lo = grid.first[market] - WEATHER_WARMUP_MINUTES
        timeline = np.arange(lo, minutes.max() + 1, dtype=np.int64) * NS_PER_MINUTE
        carried = _take(temp, np.searchsorted(w_ns, timeline, side="right") - 1)
        for name, tau in zip(("ema5", "ema15"), EMA_MINUTES, strict=True):
            out[name][day_rows] = _ema(carried, tau)[minutes - lo]
        # running max of observations inside the climate day [start, start + 24 h), up to t
        start_ns = grid.day_start[market] * NS_PER_MINUTE
        a, b = np.searchsorted(w_ns, [start_ns, start_ns + 1440 * NS_PER_MINUTE], side="left")
        seen = np.searchsorted(w_ns[a:b], minutes * NS_PER_MINUTE, side="right")
        running = np.maximum.accumulate(temp[a:b]) if b > a else np.empty(0)
        out["max"][day_rows] = _take(running, seen - 1)
    return out


def _assemble(
    markets: pd.DataFrame,
    grid: _Grid,
    label: np.ndarray,
    high: np.ndarray,
    book: dict[str, np.ndarray],
    temp: dict[str, np.ndarray],
    city: City,
) -> pd.DataFrame:
    """The output frame, columns in ``COLUMNS`` order."""
    m = grid.row_market
    floor = markets["floor_strike"].to_numpy(np.float64, na_value=np.nan)[m]
    cap = markets["cap_strike"].to_numpy(np.float64, na_value=np.nan)[m]
    row_ns = grid.row_min * NS_PER_MINUTE
    minutes_to_close = (grid.close_ns[m] - row_ns) / NS_PER_MINUTE
    climate_hour = (grid.row_min - grid.day_start[m]) / 60.0
    clock_hour = local_clock_hour(row_ns, city.tz)
    mid, spread = book["yes_mid"], book["yes_ask"] - book["yes_bid"]
    spread_pct = spread / np.clip(mid, 5, 95)
    log_minutes = np.log1p(minutes_to_close)
    now, running = temp["temp_now"], temp["max"]
    market_mid = book["market_mid"]
    p_market = np.where(np.isnan(market_mid), book["price"], market_mid) / 100.0
    day = grid.day[m]
    columns: dict[str, Any] = {
        name: markets[name].astype("str").array.take(m) for name in _STRING_KEYS
    }
    columns.update(
        event_date=pd.arrays.ArrowExtensionArray(pa.array(day.astype(np.int32), pa.date32())),
        floor_strike=floor,
        cap_strike=cap,
        ts=_timestamps(row_ns),
        close_time=_timestamps(grid.close_ns[m]),
        y=label[m],
        tmax_f=high[m],
        p_market=p_market,
        quote_ts=_timestamps(book["quote_ns"]),
        weather_ts=_timestamps(temp["weather_ns"]),
        yes_mid=mid,
        yes_bid=book["yes_bid"],
        yes_ask=book["yes_ask"],
        spread_cents=spread,
        minutes_to_close=minutes_to_close,
        temp_now=now,
        temp_to_floor=now - floor,
        temp_to_cap=cap - now,
        hour_of_day_local=clock_hour,
        climate_day_hour=climate_hour,
        day_of_week=((day + 3) % 7).astype(np.int8),  # 1970-01-01 was a Thursday; Monday = 0
        mid_chg_5m=book["mid_chg_5m"],
        spread_pct=spread_pct,
        log_minutes_to_close=log_minutes,
        rv_15m=book["rv_15m"],
        rv_60m=book["rv_60m"],
        rv_15m_sd=book["rv_15m_sd"],
        rv_60m_sd=book["rv_60m_sd"],
        oi_level=book["oi_level"],
        vol_5m=book["vol_5m"],
        mid_slope_5m=book["mid_slope_5m"],
        temp_5m_ema=temp["ema5"],
        temp_15m_ema=temp["ema15"],
        temp_accel=now - temp["ema5"],
        sin_hour=np.sin(2 * np.pi * clock_hour / 24),
        cos_hour=np.cos(2 * np.pi * clock_hour / 24),
        sin_climate_hour=np.sin(2 * np.pi * climate_hour / 24),
        cos_climate_hour=np.cos(2 * np.pi * climate_hour / 24),
        temp_x_spread_pct=now * spread_pct,
        temp_x_log_minutes=now * log_minutes,
        running_max=running,
        running_max_to_floor=running - floor,
        running_max_to_cap=cap - running,
        mid_logit=cents_logit(mid),
    )
    low, high_yes = strikes.yes_interval(markets)
    events = markets["event_ticker"].astype("str").to_numpy(object)
    n_markets = pd.Series(events).map(pd.Series(events).value_counts()).to_numpy(float)
    columns.update(
        event_columns(
            p_market, events[m], grid.row_min, low[m], high_yes[m], n_markets[m], running, now
        )
    )
    return pd.DataFrame({name: columns[name] for name in COLUMNS})


def cents_logit(cents: np.ndarray) -> np.ndarray:
    """Log-odds of a price in cents, clipped to [0.5, 99.5] (a 0 or 100 would be infinite)."""
    clipped = np.clip(cents, 0.5, 99.5)
    return np.log(clipped / (100 - clipped))


def empty_features() -> pd.DataFrame:
    """A zero-row frame with the feature table's schema."""
    return build_partition(
        pd.DataFrame({c: pd.Series([], dtype=object) for c in MARKET_COLUMNS}).astype(
            {
                "floor_strike": float,
                "cap_strike": float,
                "close_time": "datetime64[ns, UTC]",
                "event_date": "datetime64[ns]",
            }
        ),
        pd.DataFrame(columns=QUOTE_COLUMNS).astype({"ts": "datetime64[ns, UTC]"}),
        pd.DataFrame(columns=WEATHER_COLUMNS).astype({"ts": "datetime64[ns, UTC]"}),
        pd.DataFrame(columns=SETTLEMENT_COLUMNS).astype({"date": "datetime64[ns]"}),
        City("none", "NONE", "UTC", False),
        FeatureParams(),
    )


# ----------------------------------------------------------------------------------------------
# array helpers


def _require(frame: pd.DataFrame, columns: list[str], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(
            f"{name}: missing column(s) {missing}; the data contract requires {columns}."
        )


def _index_in(values: pd.Series, keys: pd.Series) -> np.ndarray:
    """Position of each value in ``keys`` (unique), -1 when absent; hashed in Arrow."""
    values = pa.array(values.astype("str"))
    found = pc.index_in(values, value_set=pa.array(keys.astype("str")).cast(values.type))
    return found.fill_null(-1).to_numpy().astype(np.int64)


def _to_ns(values: pd.Series) -> np.ndarray:
    """UTC nanoseconds since the epoch as int64, whatever the input's unit (naive = UTC)."""
    stamps = pd.to_datetime(pd.Series(values), utc=True).dt.tz_localize(None)
    return stamps.to_numpy().astype("datetime64[ns]").view(np.int64)


def _to_days(values: pd.Series) -> np.ndarray:
    """Dates (date objects, strings or datetimes) as int64 days since 1970-01-01."""
    stamps = pd.to_datetime(pd.Series(values))
    if isinstance(stamps.dtype, pd.DatetimeTZDtype):
        stamps = stamps.dt.tz_localize(None)
    return stamps.to_numpy().astype("datetime64[D]").view(np.int64)


def _timestamps(ns: np.ndarray) -> pd.arrays.DatetimeArray:
    """int64 UTC nanoseconds (NAT = missing) as a tz-aware datetime64[ns, UTC] array."""
    return pd.array(ns.view("datetime64[ns]")).tz_localize("UTC")


def _sort_order(market: np.ndarray, ns: np.ndarray) -> np.ndarray | None:
    """None when rows are already ordered by (market, ts), else the ordering permutation."""
    if len(market) < 2:
        return None
    step_m, step_t = np.diff(market), np.diff(ns)
    if np.all((step_m > 0) | ((step_m == 0) & (step_t >= 0))):
        return None
    return np.lexsort((ns, market))


def _carry(pos: np.ndarray, use: np.ndarray, n_pos: int, segment_start: np.ndarray) -> np.ndarray:
    """Index of the latest used row at or before each grid position of the same market, or -1.

    ``pos`` is non-decreasing (rows ordered by market, ts); of several rows on one position the
    last (latest) wins.
    """
    rows = np.flatnonzero(use)
    where = pos[rows]
    last = np.ones(len(rows), bool)
    last[:-1] = where[1:] != where[:-1]
    source = np.full(n_pos, -1, dtype=np.int64)
    source[where[last]] = rows[last]
    filled = np.where(source >= 0, np.arange(n_pos), -1)
    np.maximum.accumulate(filled, out=filled)
    filled[filled < segment_start] = -1  # never carry across markets
    return np.where(filled >= 0, source[np.maximum(filled, 0)], -1)


def _take(values: np.ndarray, index: np.ndarray) -> np.ndarray:
    """values[index] with NaN where index is -1."""
    if len(values) == 0:
        return np.full(len(index), np.nan)
    return np.where(index >= 0, values[np.maximum(index, 0)], np.nan)


def _take_int(values: np.ndarray, index: np.ndarray) -> np.ndarray:
    """values[index] for int64 nanoseconds, NAT where index is -1."""
    if len(values) == 0:
        return np.full(len(index), NAT)
    return np.where(index >= 0, values[np.maximum(index, 0)], NAT)


def local_clock_hour(utc_ns: np.ndarray, tz: str) -> np.ndarray:
    """The hour (0..23) a clock in ``tz`` shows at each UTC nanosecond, daylight saving time
    included."""
    stamps = pd.DatetimeIndex(utc_ns.view("datetime64[ns]")).tz_localize("UTC").tz_convert(tz)
    return stamps.hour.to_numpy().astype(np.int8)


def _prefix(values: np.ndarray) -> np.ndarray:
    out = np.zeros(len(values) + 1)
    np.cumsum(values, out=out[1:])
    return out


def _window(prefix: np.ndarray, rows: np.ndarray, width: int) -> np.ndarray:
    """Sum over the ``width`` positions ending at each row, from a prefix-sum array."""
    return prefix[rows + 1] - prefix[rows + 1 - width]


def _window_root_sum_squares(sums: list[np.ndarray], rows: np.ndarray, width: int) -> np.ndarray:
    """Square root of the sum of the squared valid values in each window; NaN with none (an
    empty window is no evidence of a quiet book)."""
    s2, n = _window(sums[1], rows, width), _window(sums[2], rows, width)
    return np.where(n >= 1, np.sqrt(np.maximum(s2, 0.0)), np.nan)


def _window_std(sums: list[np.ndarray], rows: np.ndarray, width: int) -> np.ndarray:
    """Sample std (ddof=1) of the valid values in each window; NaN with fewer than two."""
    s1, s2, n = (_window(s, rows, width) for s in sums)
    with np.errstate(invalid="ignore", divide="ignore"):
        var = (s2 - s1 * s1 / n) / (n - 1)
    return np.where(n >= 2, np.sqrt(np.maximum(var, 0.0)), np.nan)


def _slope(values: np.ndarray, rows: np.ndarray, width: int) -> np.ndarray:
    """Least-squares slope per minute of ``values`` over the ``width`` positions ending at each
    row, using the non-NaN points; NaN with fewer than two."""
    n = np.zeros(len(rows))
    sx, sxx, sy, sxy = n.copy(), n.copy(), n.copy(), n.copy()
    for x in range(width):
        y = values[rows - (width - 1) + x]
        ok = ~np.isnan(y)
        y = np.where(ok, y, 0.0)
        n += ok
        sx += ok * x
        sxx += ok * (x * x)
        sy += y
        sxy += y * x
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = (n * sxy - sx * sy) / (n * sxx - sx * sx)
    return np.where(n >= 2, slope, np.nan)


def _ema(series: np.ndarray, tau: float, block: int = 128) -> np.ndarray:
    """Exponential average with time constant ``tau`` steps, started at the first non-NaN value.

    ``y[k] = a x[k] + (1 - a) y[k-1]`` with ``a = 1 - exp(-1/tau)``, evaluated in closed form
    block by block (decay**-block stays far from overflow); NaN inputs after the start are not
    expected (the series is carried forward).
    """
    out = np.full(len(series), np.nan)
    valid = np.flatnonzero(~np.isnan(series))
    if not len(valid):
        return out
    decay = math.exp(-1.0 / tau)
    steps = np.arange(block, dtype=np.float64)
    grow, shrink = decay**-steps, decay**steps
    start, previous = valid[0], series[valid[0]]  # makes the first output equal the first input
    for i in range(start, len(series), block):
        x = series[i : i + block]
        n = len(x)
        y = shrink[:n] * (decay * previous + (1.0 - decay) * np.cumsum(x * grow[:n]))
        out[i : i + n] = y
        previous = y[-1]
    return out


# ----------------------------------------------------------------------------------------------
# partitions and the driver


@dataclass(frozen=True)
class Partition:
    """One (city, month of event_date): its markets and the weather and settlements they need."""

    city: City
    month: str  # "YYYY-MM"
    markets: pd.DataFrame
    weather: pd.DataFrame
    settlements: pd.DataFrame
    forecasts: pd.DataFrame | None = None  # its city's forecasts of its days; None: no table

    @property
    def tickers(self) -> list[str]:
        return sorted(self.markets["ticker"].astype(str))


def iter_partitions(
    markets: pd.DataFrame,
    weather: pd.DataFrame,
    settlements: pd.DataFrame,
    cities: Mapping[str, City],
    forecasts: pd.DataFrame | None = None,
) -> Iterator[Partition]:
    """Split the inputs by (city, month of event_date), in sorted order.

    Each partition's weather is its city's rows up to the last close, from the last observation
    before its earliest grid minute on (so carrying forward gives the same answer as on the full
    table); its forecasts (when ``forecasts`` is given) are its city's forecasts of its event
    dates. Raises ``DataError`` for a market whose city is not in ``cities``.
    """
    _require(markets, MARKET_COLUMNS, "markets")
    _require(weather, WEATHER_COLUMNS, "weather")
    unknown = ~markets["city"].isin(list(cities))
    if unknown.any():
        raise data_error(
            "markets",
            "city",
            f"must be one of {sorted(cities)} (params cities)",
            markets.loc[unknown, ["ticker", "city"]],
            len(markets),
        )
    days = _to_days(markets["event_date"])
    month = pd.Series(days.astype("datetime64[D]")).dt.strftime("%Y-%m").to_numpy(object)
    close_ns = _to_ns(markets["close_time"])
    weather_ns = _to_ns(weather["ts"])
    for code in sorted(markets["city"].unique()):
        city = cities[code]
        in_city = markets["city"].to_numpy(object) == code
        w_rows = np.flatnonzero(weather["city"].to_numpy(object) == code)
        w_rows = w_rows[np.argsort(weather_ns[w_rows], kind="stable")]
        w_ns = weather_ns[w_rows]
        own_settlements = settlements[settlements["city"] == code]
        own_forecasts = None if forecasts is None else forecasts[forecasts["city"] == code]
        for key in sorted(set(month[in_city])):
            rows = in_city & (month == key)
            first_ns = (days[rows].min() - 1) * 1440 * NS_PER_MINUTE  # before any grid start
            lo = max(int(np.searchsorted(w_ns, first_ns, side="right")) - 1, 0)
            hi = int(np.searchsorted(w_ns, close_ns[rows].max(), side="right"))
            yield Partition(
                city=city,
                month=key,
                markets=markets.loc[rows].reset_index(drop=True),
                weather=weather.iloc[w_rows[lo:hi]].reset_index(drop=True),
                settlements=own_settlements.reset_index(drop=True),
                forecasts=_forecasts_of_days(own_forecasts, days[rows]),
            )


def _forecasts_of_days(forecasts: pd.DataFrame | None, days: np.ndarray) -> pd.DataFrame | None:
    """The forecasts whose target_date is one of ``days`` (int days since 1970-01-01)."""
    if forecasts is None:
        return None
    wanted = np.isin(_to_days(forecasts["target_date"]), np.unique(days))
    return forecasts[wanted].reset_index(drop=True)


def build_features(
    partitions: Iterable[Partition],
    load_quotes: Callable[[Partition], pd.DataFrame],
    params: FeatureParams,
    sink: Callable[[Partition, pd.DataFrame], T] | None = None,
    n_jobs: int = 2,
) -> list[T]:
    """Build every partition in parallel (joblib, ``n_jobs`` processes) and hand it to ``sink``.

    ``load_quotes(partition)`` returns the quote rows of the partition's tickers (more are fine);
    it runs in the worker so only one partition's quotes are in memory per process. ``sink``
    (default: return the frame) runs in the worker too, so writing a partition never ships it
    back. Returns the sink results in partition order.
    """
    task = delayed(_run_partition)
    jobs = (task(part, load_quotes, params, sink) for part in partitions)
    return list(Parallel(n_jobs=n_jobs)(jobs))


def _run_partition(
    part: Partition,
    load_quotes: Callable[[Partition], pd.DataFrame],
    params: FeatureParams,
    sink: Callable[[Partition, pd.DataFrame], Any] | None,
) -> Any:
    frame = build_partition(
        part.markets,
        load_quotes(part),
        part.weather,
        part.settlements,
        part.city,
        params,
        part.forecasts,
    )
    return frame if sink is None else sink(part, frame)


def summarize_partition(part: Partition, frame: pd.DataFrame) -> dict[str, Any]:
    """Row counts of one built partition, for :func:`feature_metrics`."""
    empty_book = frame["yes_bid"].isna() & frame["yes_ask"].isna()
    return {
        "city": part.city.code,
        "month": part.month,
        "n_markets": int(len(part.markets)),
        "n_rows": int(len(frame)),
        "n_rows_empty_book": int(empty_book.sum()),
        "n_rows_without_weather": int(frame["temp_now"].isna().sum()),
    }


def feature_metrics(summaries: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Totals and per-city counts of rows, empty-book rows and rows without weather."""
    counts = ("n_markets", "n_rows", "n_rows_empty_book", "n_rows_without_weather")
    by_city: dict[str, dict[str, int]] = {}
    n_partitions = 0
    for summary in summaries:
        n_partitions += 1
        city = by_city.setdefault(summary["city"], dict.fromkeys(counts, 0))
        for name in counts:
            city[name] += int(summary[name])
    total = {name: sum(c[name] for c in by_city.values()) for name in counts}
    return {**total, "n_partitions": n_partitions, "by_city": dict(sorted(by_city.items()))}
