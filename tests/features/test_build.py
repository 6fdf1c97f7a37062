"""Feature table: leakage (perturb the future), DST and climate days, empty books, labels, bytes."""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tmaxedge.core.config import City
from tmaxedge.core.errors import DataError, ParamsError
from tmaxedge.features import build as features
from tmaxedge.features.build import FEATURE_SETS, FeatureParams, build_partition
from tmaxedge.features.event_features import EVENT_COLUMNS

CHI = City("chi", "KXHIGHCHI", "America/Chicago", True)
NYC = City("nyc", "KXHIGHNY", "America/New_York", False)
ROOT = Path(__file__).resolve().parents[2]
MINUTE = pd.Timedelta(minutes=1)
# (suffix, strike_type, floor_strike, cap_strike): T < 70 | 70..71 | T > 71
BINS = (
    ("T70", "less", None, 70.0),
    ("B70.5", "between", 70.0, 71.0),
    ("T71", "greater", 71.0, None),
)


# ----------------------------------------------------------------------------------------------
# a small world, built in code


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def climate_day_start(city: City, day: dt.date) -> pd.Timestamp:
    return pd.Timestamp(day, tz="UTC") - city.standard_offset


def make_world(city: City, days: list[dt.date], seed: int = 0) -> dict[str, pd.DataFrame]:
    """Markets closing 23:59 ET; quotes from 04:00 LST to 20 min after close (~80% of minutes,
    some stamped mid-minute, some one-sided or empty, nulls in price/volume/open_interest);
    weather every ~5 min with jitter and gaps, from the day before to 2 h after close."""
    rng = np.random.default_rng(seed)
    markets, quotes, weather, settlements = [], [], [], []
    for day in days:
        event = f"{city.series}-{day:%y%b%d}".upper()
        close = pd.Timestamp(f"{day} 23:59", tz="America/New_York").tz_convert("UTC")
        start = climate_day_start(city, day)
        for suffix, kind, floor, cap in BINS:
            ticker = f"{event}-{suffix}"
            markets.append(
                {
                    "ticker": ticker,
                    "event_ticker": event,
                    "city": city.code,
                    "event_date": day,
                    "strike_type": kind,
                    "floor_strike": floor,
                    "cap_strike": cap,
                    "open_time": start - pd.Timedelta(hours=20),
                    "close_time": close,
                    "result": None,
                }
            )
            ts = pd.date_range(
                start + pd.Timedelta(hours=4), close + pd.Timedelta(minutes=20), freq="min"
            )
            ts = ts[rng.random(len(ts)) < 0.8]
            jitter = np.where(rng.random(len(ts)) < 0.1, rng.integers(1, 60, len(ts)), 0)
            ts = ts - pd.to_timedelta(jitter, unit="s")
            n = len(ts)
            bid = np.clip(50 + np.cumsum(rng.integers(-2, 3, n)), 1, 96).astype(float)
            ask = bid + rng.integers(1, 4, n)
            one_sided, empty = rng.random(n) < 0.05, rng.random(n) < 0.03
            bid[one_sided | empty] = np.nan
            ask[empty] = np.nan
            quotes.append(
                pd.DataFrame(
                    {
                        "ticker": ticker,
                        "ts": ts,
                        "yes_bid": pd.array(bid, dtype="Int64"),
                        "yes_ask": pd.array(ask, dtype="Int64"),
                        "price": pd.array(
                            np.where(rng.random(n) < 0.4, ask, np.nan), dtype="Int64"
                        ),
                        "volume": pd.array(
                            np.where(rng.random(n) < 0.05, np.nan, rng.integers(0, 20, n)),
                            dtype="Int64",
                        ),
                        "open_interest": pd.array(
                            np.where(rng.random(n) < 0.1, np.nan, rng.integers(0, 500, n)),
                            dtype="Int64",
                        ),
                    }
                )
            )
        settlements.append({"city": city.code, "date": day, "tmax_f": int(rng.integers(68, 74))})
        w_ts = pd.date_range(
            start - pd.Timedelta(days=1), close + pd.Timedelta(hours=2), freq="5min"
        )
        w_ts = w_ts[rng.random(len(w_ts)) < 0.9]
        weather.append(
            pd.DataFrame(
                {
                    "city": city.code,
                    "ts": w_ts,
                    "temp_f": np.round(70 + np.cumsum(rng.normal(0, 0.3, len(w_ts))), 1),
                }
            )
        )
    quotes_frame = pd.concat(quotes, ignore_index=True)
    quotes_frame = quotes_frame.sort_values(["ticker", "ts"], kind="mergesort", ignore_index=True)
    weather_frame = pd.concat(weather, ignore_index=True).sort_values("ts", ignore_index=True)
    weather_frame["ts"] += pd.to_timedelta(rng.integers(-90, 90, len(weather_frame)), unit="s")
    weather_frame = weather_frame.sort_values("ts", kind="mergesort", ignore_index=True)
    return {
        "markets": pd.DataFrame(markets),
        "quotes": quotes_frame,
        "weather": weather_frame,
        "settlements": pd.DataFrame(settlements),
    }


def build(world: dict[str, pd.DataFrame], city: City = CHI, **params: int | str) -> pd.DataFrame:
    return build_partition(
        world["markets"],
        world["quotes"],
        world["weather"],
        world["settlements"],
        city,
        FeatureParams(**params),
    )


WORLD_DAYS = [dt.date(2024, 7, 14), dt.date(2024, 7, 15)]


@functools.cache
def base_world() -> dict[str, pd.DataFrame]:
    return make_world(CHI, WORLD_DAYS, seed=7)


@functools.cache
def base_features(every: int, one_sided_book: str = "bounds") -> pd.DataFrame:
    return build(base_world(), every_minutes=every, one_sided_book=one_sided_book)


# ----------------------------------------------------------------------------------------------
# the leakage checker and the future perturbation


def leaked_columns(before: pd.DataFrame, after: pd.DataFrame, cutoff: pd.Timestamp) -> list[str]:
    """Columns whose values differ on rows with ts <= cutoff (NaN equals NaN); '<rows>' if the
    rows themselves differ."""
    a = before[before["ts"] <= cutoff].reset_index(drop=True)
    b = after[after["ts"] <= cutoff].reset_index(drop=True)
    if len(a) != len(b) or not (a[["ticker", "ts"]].equals(b[["ticker", "ts"]])):
        return ["<rows>"]
    leaked = []
    for name in a.columns:
        x, y = a[name], b[name]
        if pd.api.types.is_float_dtype(x.dtype):
            same = np.array_equal(x.to_numpy(), y.to_numpy(), equal_nan=True)
        else:
            same = x.equals(y)
        if not same:
            leaked.append(name)
    return leaked


def perturb_after(
    world: dict[str, pd.DataFrame], after: pd.Timestamp, seed: int, ops: frozenset, tables: str
) -> dict[str, pd.DataFrame]:
    """Modify, drop and/or add quote and/or weather rows stamped strictly after ``after``."""
    rng = np.random.default_rng(seed)
    out = dict(world)
    if tables in ("quotes", "both"):
        q = world["quotes"].copy()
        future = (q["ts"] > after).to_numpy()
        if "modify" in ops:
            hit = future & (rng.random(len(q)) < 0.5)
            n = int(hit.sum())
            bid = rng.integers(1, 90, n)
            q.loc[hit, "yes_bid"] = bid
            q.loc[hit, "yes_ask"] = bid + rng.integers(1, 9, n)
            price = np.where(rng.random(n) < 0.5, bid, np.nan)
            q.loc[hit, "price"] = pd.array(price, dtype="Int64")
            q.loc[hit, "volume"] = rng.integers(0, 1000, n)
            q.loc[hit, "open_interest"] = rng.integers(0, 9000, n)
        if "drop" in ops:
            q = q[~(future & (rng.random(len(q)) < 0.3))]
        if "add" in ops:
            n = 200
            tickers = np.append(world["markets"]["ticker"].to_numpy(object), "KXHIGHCHI-OTHER")
            bid = rng.integers(1, 90, n)
            extra = pd.DataFrame(
                {
                    "ticker": rng.choice(tickers, n),
                    "ts": after + pd.to_timedelta(rng.integers(1, 12 * 3600, n), unit="s"),
                    "yes_bid": pd.array(bid, dtype="Int64"),
                    "yes_ask": pd.array(bid + 5, dtype="Int64"),
                    "price": pd.array(bid + 1, dtype="Int64"),
                    "volume": pd.array(rng.integers(0, 99, n), dtype="Int64"),
                    "open_interest": pd.array(rng.integers(0, 99, n), dtype="Int64"),
                }
            )
            q = pd.concat([q, extra], ignore_index=True)
        out["quotes"] = q.sort_values(["ticker", "ts"], kind="mergesort", ignore_index=True)
    if tables in ("weather", "both"):
        w = world["weather"].copy()
        future = (w["ts"] > after).to_numpy()
        if "modify" in ops:
            hit = future & (rng.random(len(w)) < 0.5)
            w.loc[hit, "temp_f"] = rng.uniform(-20, 120, int(hit.sum()))
        if "drop" in ops:
            w = w[~(future & (rng.random(len(w)) < 0.3))]
        if "add" in ops:
            extra = pd.DataFrame(
                {
                    "city": "chi",
                    "ts": after + pd.to_timedelta(rng.integers(1, 12 * 3600, 100), unit="s"),
                    "temp_f": rng.uniform(-20, 120, 100),
                }
            )
            w = pd.concat([w, extra], ignore_index=True)
        out["weather"] = w.sort_values("ts", kind="mergesort", ignore_index=True)
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    every=st.sampled_from([1, 5, 7]),
    day=st.sampled_from(WORLD_DAYS),
    minute=st.integers(6 * 60 + 7, 24 * 60),  # from the first eligible minutes to past close
    second=st.integers(0, 59),
    seed=st.integers(0, 2**32 - 1),
    ops=st.frozensets(st.sampled_from(["modify", "drop", "add"]), min_size=1),
    tables=st.sampled_from(["quotes", "weather", "both"]),
    one_sided_book=st.sampled_from(features.ONE_SIDED_BOOK),
)
def test_build_partition_ignores_rows_after_each_decision_time(
    every, day, minute, second, seed, ops, tables, one_sided_book
):
    cutoff = climate_day_start(CHI, day) + pd.Timedelta(minutes=minute, seconds=second)
    before = base_features(every, one_sided_book)
    after = build(
        perturb_after(base_world(), cutoff, seed, ops, tables),
        every_minutes=every,
        one_sided_book=one_sided_book,
    )
    assert (before["ts"] <= cutoff).any()
    assert leaked_columns(before, after, cutoff) == []


def test_build_partition_ignores_everything_after_close():
    world = base_world()
    last_close = world["markets"]["close_time"].max()
    for tables in ("quotes", "weather"):
        changed = perturb_after(world, last_close, 1, frozenset({"modify", "drop", "add"}), tables)
        assert leaked_columns(base_features(1), build(changed, every_minutes=1), last_close) == []
    # per market too: perturbing quotes after the first event's close leaves that event alone
    first_close = world["markets"]["close_time"].min()
    q = world["quotes"]
    late = (q["ts"] > first_close).to_numpy()
    changed = dict(
        world,
        quotes=q.assign(
            yes_bid=q["yes_bid"].where(~late, 1), yes_ask=q["yes_ask"].where(~late, 99)
        ),
    )
    assert leaked_columns(base_features(5), build(changed, every_minutes=5), first_close) == []


def shifted_forward(world, city, params):
    """Leaky on purpose: each row sees the next row's mid (one step into the future)."""
    frame = build_partition(
        world["markets"], world["quotes"], world["weather"], world["settlements"], city, params
    )
    frame["yes_mid"] = frame.groupby("ticker")["yes_mid"].shift(-1)
    return frame


def forward_asof_weather(world, city, params):
    """Leaky on purpose: temp_now from the next observation (merge_asof direction='forward')."""
    frame = build_partition(
        world["markets"], world["quotes"], world["weather"], world["settlements"], city, params
    )
    obs = world["weather"][["ts", "temp_f"]].sort_values("ts")
    obs["ts"] = obs["ts"].astype(frame["ts"].dtype)
    order = frame["ts"].argsort(kind="stable")
    matched = pd.merge_asof(frame[["ts"]].iloc[order], obs, on="ts", direction="forward")
    frame.loc[frame.index[order], "temp_now"] = matched["temp_f"].to_numpy()
    return frame


@pytest.mark.parametrize(
    "leaky, column",
    [
        (shifted_forward, "yes_mid"),  # a feature shifted one step forward
        (forward_asof_weather, "temp_now"),  # carried backward instead of forward
    ],
)
def test_leaked_columns_detects_a_leaky_builder(leaky, column):
    world, params = base_world(), FeatureParams(every_minutes=5)
    cutoff = utc("2024-07-15 18:00")
    q, w = world["quotes"], world["weather"]
    later_q, later_w = q["ts"] > cutoff, w["ts"] > cutoff
    future = dict(
        world,
        quotes=q.assign(
            yes_bid=q["yes_bid"].mask(later_q, 1), yes_ask=q["yes_ask"].mask(later_q, 99)
        ),
        weather=w.assign(temp_f=w["temp_f"].mask(later_w, w["temp_f"] + 5)),
    )
    honest = leaked_columns(build(world, every_minutes=5), build(future, every_minutes=5), cutoff)
    caught = leaked_columns(leaky(world, CHI, params), leaky(future, CHI, params), cutoff)
    assert honest == []
    assert caught == [column]


# ----------------------------------------------------------------------------------------------
# reference: every feature of some rows recomputed from its definition with rows <= t only


def reference_row(
    world: dict[str, pd.DataFrame], ticker: str, t: pd.Timestamp, first, one_sided_book: str
) -> dict:
    q = world["quotes"][world["quotes"]["ticker"] == ticker]
    q = q[q["ts"] <= t]  # nothing stamped after t
    market = world["markets"].set_index("ticker").loc[ticker]
    w = world["weather"]
    w = w[(w["ts"] <= t) & w["temp_f"].notna()]

    def latest(frame, column, u):
        rows = frame[(frame["ts"] <= u) & frame[column].notna()]
        return float(rows[column].iloc[-1]) if len(rows) else math.nan

    def sides(row, book=one_sided_book):
        """Bid and ask of a quote row; with ``bounds`` an empty side priced at 0 / 100 when the
        other is quoted."""
        bid = math.nan if pd.isna(row["yes_bid"]) else float(row["yes_bid"])
        ask = math.nan if pd.isna(row["yes_ask"]) else float(row["yes_ask"])
        if book == "bounds" and math.isnan(bid) and not math.isnan(ask):
            bid = 0.0
        if book == "bounds" and math.isnan(ask) and not math.isnan(bid):
            ask = 100.0
        return bid, ask

    def mid_at(u, book=one_sided_book):
        rows = q[q["ts"] <= u]
        if not len(rows):
            return math.nan
        bid, ask = sides(rows.iloc[-1], book)
        return (bid + ask) / 2

    def changes(width):
        found = [mid_at(t - k * MINUTE) - mid_at(t - (k + 1) * MINUTE) for k in range(width)]
        return [c for c in found if not math.isnan(c)]

    def rv(width):
        found = changes(width)
        return math.sqrt(sum(c * c for c in found)) if found else math.nan

    def rv_sd(width):
        found = changes(width)
        return float(np.std(found, ddof=1)) if len(found) >= 2 else math.nan

    points = [(k, mid_at(t - (4 - k) * MINUTE)) for k in range(5)]
    points = [(k, m) for k, m in points if not math.isnan(m)]
    window = q[q["ts"] > t - 5 * MINUTE]
    start = climate_day_start(CHI, market["event_date"])
    day = w[(w["ts"] >= start) & (w["ts"] < start + pd.Timedelta(days=1))]
    timeline = pd.DataFrame({"ts": pd.date_range(first - pd.Timedelta(hours=6), t, freq="min")})
    timeline["ts"] = timeline["ts"].astype(w["ts"].dtype)
    carried = pd.merge_asof(timeline, w[["ts", "temp_f"]], on="ts")["temp_f"]  # backward
    ema = {}
    for tau in (5, 15):
        value, alpha = math.nan, 1 - math.exp(-1 / tau)
        for now in carried:
            value = now if math.isnan(value) else alpha * now + (1 - alpha) * value
        ema[tau] = value
    book = q.iloc[-1] if len(q) else None
    market_mid = mid_at(t, "bounds")  # p_market's mid, whatever book the features see
    clock_hour = t.tz_convert(CHI.tz).hour
    climate_hour = (t - start) / pd.Timedelta(hours=1)
    return {
        "yes_bid": math.nan if book is None else sides(book)[0],
        "yes_ask": math.nan if book is None else sides(book)[1],
        "yes_mid": mid_at(t),
        "quote_ts": pd.NaT if book is None else book["ts"],
        "p_market": (market_mid if not math.isnan(market_mid) else latest(q, "price", t)) / 100,
        "oi_level": latest(q, "open_interest", t),
        "vol_5m": math.nan if window["volume"].isna().any() else float(window["volume"].sum()),
        "mid_chg_5m": mid_at(t) - mid_at(t - 5 * MINUTE),
        "rv_15m": rv(15),
        "rv_60m": rv(60),
        "rv_15m_sd": rv_sd(15),
        "rv_60m_sd": rv_sd(60),
        "mid_slope_5m": np.polyfit(*zip(*points, strict=True), 1)[0]
        if len(points) >= 2
        else math.nan,
        "temp_now": latest(w, "temp_f", t),
        "weather_ts": w["ts"].iloc[-1] if len(w) else pd.NaT,
        "running_max": float(day["temp_f"].max()) if len(day) else math.nan,
        "temp_5m_ema": ema[5],
        "temp_15m_ema": ema[15],
        "minutes_to_close": (market["close_time"] - t) / MINUTE,
        "hour_of_day_local": clock_hour,
        "climate_day_hour": climate_hour,
        "sin_hour": math.sin(2 * math.pi * clock_hour / 24),
        "cos_hour": math.cos(2 * math.pi * clock_hour / 24),
        "sin_climate_hour": math.sin(2 * math.pi * climate_hour / 24),
        "cos_climate_hour": math.cos(2 * math.pi * climate_hour / 24),
    }


@pytest.mark.parametrize("one_sided_book", features.ONE_SIDED_BOOK)
def test_build_partition_matches_point_in_time_reference(one_sided_book):
    world, frame = base_world(), base_features(5, one_sided_book)
    rng = np.random.default_rng(0)
    first = frame.groupby("ticker")["ts"].transform("min")
    one_sided = frame["yes_bid"].isna() != frame["yes_ask"].isna()
    picked = sorted(rng.choice(len(frame), 12, replace=False)) + [0, len(frame) - 1]
    picked += list(np.flatnonzero(one_sided)[:3])  # (base_world quotes 5% of rows one-sided)
    assert one_sided.any() == (one_sided_book == "as_quoted")
    for i in picked:
        row = frame.iloc[i]
        expected = reference_row(world, row["ticker"], row["ts"], first.iloc[i], one_sided_book)
        for name, value in expected.items():
            got = row[name]
            if isinstance(value, pd.Timestamp) or value is pd.NaT:
                assert (pd.isna(got) and pd.isna(value)) or got == value, (i, name, got, value)
            else:
                assert got == pytest.approx(value, nan_ok=True, rel=1e-9, abs=1e-9), (i, name)


# ----------------------------------------------------------------------------------------------
# clocks: close_time, DST, climate days in standard time


@pytest.mark.parametrize(
    "day, n_rows",
    [
        # first row 06:00 CST = 12:00 UTC; close 23:59 EDT = 03:59 UTC: 959 min -> 959 // 5 + 1
        (dt.date(2024, 3, 10), 192),  # spring forward
        # close 23:59 EST = 04:59 UTC: 1019 min -> 1019 // 5 + 1
        (dt.date(2024, 11, 3), 204),  # fall back
    ],
)
def test_build_partition_minutes_to_close_decrease_across_dst(day, n_rows):
    frame = build(make_world(CHI, [day], seed=1), every_minutes=5)
    for _, rows in frame.groupby("ticker"):
        assert len(rows) == n_rows
        assert rows["ts"].iloc[0] == pd.Timestamp(f"{day} 12:00", tz="UTC")
        assert (rows["ts"] <= rows["close_time"]).all()
        assert (rows["minutes_to_close"] >= 0).all()
        assert (np.diff(rows["minutes_to_close"]) == -5).all()  # UTC arithmetic: no 60-min jumps
        assert rows["climate_day_hour"].iloc[0] == 6.0  # standard time, whatever the DST state
        assert rows["climate_day_hour"].iloc[-1] == pytest.approx(6 + (n_rows - 1) * 5 / 60)
        assert (rows["day_of_week"] == 6).all()  # both dates are Sundays (Monday = 0)


def test_build_partition_climate_day_follows_local_standard_time():
    # 2024-07-15 is in CDT: the climate day starts 00:00 CST = 01:00 CDT = 06:00 UTC.
    days = [dt.date(2024, 7, 14), dt.date(2024, 7, 15)]
    world = make_world(CHI, days, seed=2)
    world["markets"].loc[world["markets"]["event_date"] == days[0], "close_time"] = utc(
        "2024-07-15 07:00"
    )  # 14th's markets trade past the end of their climate day
    obs = [
        ("2024-07-15 05:30", 99.0),  # 00:30 CDT on the 15th = 23:30 CST on the 14th
        ("2024-07-15 06:00", 60.0),  # 00:00 CST: the first minute of the 15th's climate day
        ("2024-07-15 06:10", 100.0),
    ]
    weather = pd.DataFrame(
        {"city": "chi", "ts": [utc(t) for t, _ in obs], "temp_f": [v for _, v in obs]}
    )
    world["weather"] = weather
    frame = build(world, every_minutes=5, eligible_start_hour=0)

    def at(day: dt.date, ts: str) -> pd.Series:
        rows = frame[(frame["event_date"] == day) & (frame["ts"] == utc(ts))]
        return rows.iloc[0]

    assert at(days[1], "2024-07-15 06:00")["climate_day_hour"] == 0.0
    assert at(days[1], "2024-07-15 06:00")["hour_of_day_local"] == 1  # 01:00 CDT on the clock
    assert at(days[1], "2024-07-15 06:00")["running_max"] == 60.0  # the 99 belongs to the 14th
    assert at(days[1], "2024-07-15 06:05")["running_max"] == 60.0
    assert at(days[1], "2024-07-15 06:10")["running_max"] == 100.0
    assert math.isnan(at(days[0], "2024-07-15 05:25")["running_max"])  # nothing observed yet
    assert at(days[0], "2024-07-15 05:30")["running_max"] == 99.0
    assert at(days[0], "2024-07-15 07:00")["running_max"] == 99.0  # later obs are the 15th's
    assert at(days[0], "2024-07-15 07:00")["temp_now"] == 100.0  # but temp_now is carried on
    assert at(days[0], "2024-07-15 07:00")["climate_day_hour"] == 25.0
    assert at(days[0], "2024-07-15 07:00")["hour_of_day_local"] == 2  # 02:00 CDT
    assert frame.loc[frame["event_date"] == days[0], "ts"].max() == utc("2024-07-15 07:00")


# ----------------------------------------------------------------------------------------------
# cities without weather, empty books, labels


def test_build_partition_city_without_weather_gets_null_weather_columns():
    nyc_world = make_world(NYC, [dt.date(2024, 7, 15)], seed=3)
    nyc = build(nyc_world, NYC)
    chi = base_features(5)
    assert list(nyc.columns) == list(chi.columns) == features.COLUMNS
    assert nyc.dtypes.equals(chi.dtypes)
    for name in features.weather_columns() + ["weather_ts"]:
        assert nyc[name].isna().all(), name
        assert chi[name].notna().any(), name
    assert nyc["yes_mid"].notna().mean() > 0.5
    assert set(features.weather_columns()) == {
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
    }


def test_build_partition_keeps_empty_book_rows_with_last_trade_price():
    world = make_world(CHI, [dt.date(2024, 7, 15)], seed=4)
    no_book, no_quotes = "KXHIGHCHI-24JUL15-T70", "KXHIGHCHI-24JUL15-T71"
    q = world["quotes"]
    trades = pd.DataFrame(
        {
            "ticker": no_book,
            "ts": [utc("2024-07-15 13:00:30"), utc("2024-07-15 14:00")],
            "yes_bid": pd.array([None, None], dtype="Int64"),
            "yes_ask": pd.array([None, None], dtype="Int64"),
            "price": pd.array([31, 35], dtype="Int64"),
            "volume": pd.array([4, 2], dtype="Int64"),
            "open_interest": pd.array([None, None], dtype="Int64"),
        }
    )
    world["quotes"] = pd.concat([q[~q["ticker"].isin([no_book, no_quotes])], trades])
    frame = build(world, every_minutes=5)
    counts = frame.groupby("ticker").size()
    assert counts[no_book] == counts[no_quotes] == counts["KXHIGHCHI-24JUL15-B70.5"]
    for ticker in (no_book, no_quotes):
        rows = frame[frame["ticker"] == ticker]
        book = [
            "yes_mid",
            "yes_bid",
            "yes_ask",
            "spread_cents",
            "spread_pct",
            "mid_chg_5m",
            "rv_15m",
            "rv_60m",
            "rv_15m_sd",
            "rv_60m_sd",
            "mid_slope_5m",
            "oi_level",
        ]
        assert rows[book].isna().all().all()
    rows = frame[frame["ticker"] == no_book].set_index("ts")
    assert math.isnan(rows.loc[utc("2024-07-15 13:00"), "p_market"])
    assert rows.loc[utc("2024-07-15 13:05"), "p_market"] == 0.31  # carried from 13:00:30
    assert rows.loc[utc("2024-07-15 13:05"), "quote_ts"] == utc("2024-07-15 13:00:30")
    assert rows.loc[utc("2024-07-15 14:00"), "p_market"] == 0.35
    assert rows.loc[utc("2024-07-15 14:00"), "vol_5m"] == 2
    assert rows.loc[utc("2024-07-15 14:05"), "vol_5m"] == 0
    assert rows["p_market"].iloc[-1] == 0.35
    assert frame.loc[frame["ticker"] == no_quotes, "p_market"].isna().all()
    summary = features.summarize_partition(
        features.Partition(
            CHI, "2024-07", world["markets"], world["weather"], world["settlements"]
        ),
        frame,
    )
    assert summary["n_rows_empty_book"] >= 2 * counts[no_book]


@pytest.mark.parametrize(
    "strike_type, floor, cap, tmax, y",
    [
        ("between", 70.0, 71.0, 69, 0),
        ("between", 70.0, 71.0, 70, 1),  # floor <= T
        ("between", 70.0, 71.0, 71, 1),  # T <= cap
        ("between", 70.0, 71.0, 72, 0),
        ("greater", 71.0, None, 71, 0),  # T > floor, strictly
        ("greater", 71.0, None, 72, 1),
        ("less", None, 70.0, 69, 1),  # T < cap, strictly
        ("less", None, 70.0, 70, 0),
    ],
)
def test_build_partition_labels_follow_yes_rule(strike_type, floor, cap, tmax, y):
    world = make_world(CHI, [dt.date(2024, 7, 15)], seed=5)
    world["markets"] = (
        world["markets"]
        .iloc[:1]
        .assign(strike_type=strike_type, floor_strike=floor, cap_strike=cap)
    )
    world["settlements"] = world["settlements"].assign(tmax_f=tmax)
    frame = build(world)
    assert len(frame) > 0 and (frame["y"] == y).all() and frame["y"].dtype == np.int8


def test_build_partition_without_settlement_raises():
    world = make_world(CHI, [dt.date(2024, 7, 15)], seed=5)
    world["settlements"] = world["settlements"].iloc[:0]
    with pytest.raises(
        DataError,
        match=re.escape(
            "markets: column 'event_date' must have a settlement for its city and date; 3 of 3 rows"
        ),
    ):
        build(world)


@pytest.mark.parametrize(
    "values, message",
    [
        ({"every_minutes": 0}, "every_minutes must be an int >= 1; got 0."),
        ({"eligible_start_hour": 24}, "eligible_start_hour must be an int in [0, 23]; got 24."),
    ],
)
def test_feature_params_rejects_out_of_range(values, message):
    with pytest.raises(ParamsError, match=re.escape(message)):
        FeatureParams(**values)


# the brief's words, as it lists its sets
BRIEF_BASELINE = (
    "yes_mid, yes_bid, yes_ask, spread_cents, minutes_to_close, temp_now, temp_to_floor, "
    "temp_to_cap, hour_of_day_local, day_of_week"
).split(", ")
BRIEF_RIDGE_SAFE = BRIEF_BASELINE + "mid_chg_5m, spread_pct, log_minutes_to_close".split(", ")
BRIEF_RICH = BRIEF_RIDGE_SAFE + (
    "rv_15m, rv_60m, oi_level, vol_5m, mid_slope_5m, temp_5m_ema, temp_15m_ema, temp_accel, "
    "sin_hour, cos_hour, temp_x_spread_pct, temp_x_log_minutes"
).split(", ")


def test_the_brief_feature_sets_are_its_lists_and_the_climate_sets_keep_their_order():
    assert FEATURE_SETS["baseline"] == BRIEF_BASELINE
    assert FEATURE_SETS["ridge_safe"] == BRIEF_RIDGE_SAFE
    assert FEATURE_SETS["rich"] == BRIEF_RICH
    # the default's sets: the columns its models had before the brief's names were given back,
    # in the same order (a model's coefficients follow the order of its columns)
    climate = {
        "hour_of_day_local": "climate_day_hour",
        "rv_15m": "rv_15m_sd",
        "rv_60m": "rv_60m_sd",
        "sin_hour": "sin_climate_hour",
        "cos_hour": "cos_climate_hour",
    }
    assert FEATURE_SETS["ridge_safe_climate"] == [climate.get(c, c) for c in BRIEF_RIDGE_SAFE]
    assert FEATURE_SETS["rich_climate"] == [climate.get(c, c) for c in BRIEF_RICH] + [
        "running_max",
        "running_max_to_floor",
        "running_max_to_cap",
    ]
    for name, columns in FEATURE_SETS.items():
        assert len(columns) == len(set(columns)), name
    every_feature = {c for columns in FEATURE_SETS.values() for c in columns}
    assert every_feature <= set(features.COLUMNS)
    assert set(features.weather_columns()) < every_feature | set(EVENT_COLUMNS)


@pytest.mark.parametrize(
    "day, times, clock, climate",
    [
        # spring forward: 02:00 CST became 03:00 CDT at 08:00 UTC; the climate day starts 06:00 UTC
        (
            dt.date(2024, 3, 10),
            ["07:55", "08:00", "12:00", "23:55"],
            [1, 3, 7, 18],
            [1 + 55 / 60, 2.0, 6.0, 17 + 55 / 60],
        ),
        # fall back: 02:00 CDT became 01:00 CST at 07:00 UTC: 01:xx twice on the clock
        (
            dt.date(2024, 11, 3),
            ["06:00", "06:55", "07:00", "08:00", "23:55"],
            [1, 1, 1, 2, 17],
            [0.0, 55 / 60, 1.0, 2.0, 17 + 55 / 60],
        ),
        # summer: the clock runs an hour ahead of the climate day all day
        (dt.date(2024, 7, 15), ["06:00", "17:30"], [1, 12], [0.0, 11.5]),
    ],
)
def test_hour_of_day_local_is_the_clock_and_climate_day_hour_standard_time(
    day, times, clock, climate
):
    frame = build(make_world(CHI, [day], seed=1), every_minutes=5, eligible_start_hour=0)
    rows = frame[frame["strike_type"] == "between"].set_index("ts")
    stamps = [pd.Timestamp(f"{day} {hhmm}", tz="UTC") for hhmm in times]
    assert rows.loc[stamps, "hour_of_day_local"].tolist() == clock
    assert rows.loc[stamps, "climate_day_hour"].to_numpy() == pytest.approx(climate)
    assert rows.loc[stamps, "sin_hour"].to_numpy() == pytest.approx(
        np.sin(2 * np.pi * np.array(clock) / 24)
    )
    assert rows.loc[stamps, "cos_climate_hour"].to_numpy() == pytest.approx(
        np.cos(2 * np.pi * np.array(climate) / 24)
    )


def one_market_world(book: list[tuple[str, float | None, float | None]]) -> dict:
    """The world's 70..71 market on 2024-07-15 with only the quote rows ``(UTC time, bid, ask)``."""
    world = make_world(CHI, [dt.date(2024, 7, 15)], seed=8)
    world["markets"] = world["markets"][world["markets"]["strike_type"] == "between"]
    ticker = world["markets"]["ticker"].iloc[0]
    world["quotes"] = pd.DataFrame(
        {
            "ticker": ticker,
            "ts": [utc(f"2024-07-15 {hhmm}") for hhmm, _, _ in book],
            "yes_bid": pd.array([bid for _, bid, _ in book], dtype="Int64"),
            "yes_ask": pd.array([ask for _, _, ask in book], dtype="Int64"),
            "price": pd.array([None] * len(book), dtype="Int64"),
            "volume": pd.array([0] * len(book), dtype="Int64"),
            "open_interest": pd.array([None] * len(book), dtype="Int64"),
        }
    )
    return world


def test_rv_is_the_root_sum_of_squared_changes_and_rv_sd_their_sample_sd():
    # mid 41 from 11:00, 43 at 12:50 (+2), 42 at 12:55 (-1), an empty book at 12:58, 45 at 13:00:
    # the changes into 12:58, 12:59 and 13:00 have a missing mid on one end and are not counted
    world = one_market_world(
        [
            ("11:00", 40, 42),
            ("12:50", 42, 44),
            ("12:55", 41, 43),
            ("12:58", None, None),
            ("13:00", 44, 46),
        ]
    )
    row = build(world, every_minutes=5).set_index("ts").loc[utc("2024-07-15 13:00")]
    # 15 minutes: the changes into 12:46 .. 12:57, 12 of them: +2, -1 and ten zeros
    assert row["rv_15m"] == pytest.approx(math.sqrt(2**2 + 1**2))
    assert row["rv_15m_sd"] == pytest.approx(math.sqrt((5 - 1**2 / 12) / 11))
    # 60 minutes: into 12:01 .. 12:57, 57 changes with the same two moves: the root sum of
    # squares does not grow with the quiet minutes counted, the sample sd shrinks with them
    assert row["rv_60m"] == pytest.approx(math.sqrt(5))
    assert row["rv_60m_sd"] == pytest.approx(math.sqrt((5 - 1**2 / 57) / 56))
    quiet = build(world, every_minutes=5).set_index("ts").loc[utc("2024-07-15 12:45")]
    assert quiet["rv_15m"] == quiet["rv_15m_sd"] == 0.0  # changes of zero are counted
    nothing = one_market_world([("13:01", 40, 42)])
    empty = build(nothing, every_minutes=5).set_index("ts").loc[utc("2024-07-15 13:00")]
    assert math.isnan(empty["rv_15m"]) and math.isnan(empty["rv_15m_sd"])  # no change: null


def test_one_sided_book_bounds_prices_the_empty_side_and_as_quoted_leaves_it_null():
    # an ask alone from 12:30, then a bid alone from 12:40, a full book from 12:50
    world = one_market_world(
        [("11:00", 40, 42), ("12:30", None, 20), ("12:40", 90, None), ("12:50", 30, 34)]
    )
    bounds = build(world, every_minutes=5, one_sided_book="bounds").set_index("ts")
    quoted = build(world, every_minutes=5, one_sided_book="as_quoted").set_index("ts")
    ask_only, bid_only = utc("2024-07-15 12:30"), utc("2024-07-15 12:40")
    book = ["yes_bid", "yes_ask", "yes_mid", "spread_cents", "spread_pct", "mid_logit"]
    assert bounds.loc[ask_only, book].tolist() == pytest.approx(
        [0, 20, 10, 20, 20 / 10, math.log(10 / 90)]
    )
    assert bounds.loc[bid_only, book].tolist() == pytest.approx(
        [90, 100, 95, 10, 10 / 95, math.log(95 / 5)]
    )
    assert bounds.loc[ask_only, "mid_chg_5m"] == 10 - 41
    # five minutes into each one-sided spell every window of the mid has only missing mids
    derived = book + ["mid_chg_5m", "mid_slope_5m", "temp_x_spread_pct"]
    for stamp, side in ((ask_only + 5 * MINUTE, "yes_ask"), (bid_only + 5 * MINUTE, "yes_bid")):
        assert quoted.loc[stamp, derived].drop(side).isna().all(), stamp
        assert quoted.loc[stamp, side] == bounds.loc[stamp, side]
    assert math.isnan(quoted.loc[bid_only + 5 * MINUTE, "rv_15m"])  # 12:31 .. 12:45: no change
    # at 13:00 the 15-minute window holds the change into 12:50: 95 -> 32 with bounds, from a
    # missing mid as quoted (not counted; the nine after it are zero)
    at_one = utc("2024-07-15 13:00")
    assert (bounds.loc[at_one, "rv_15m"], quoted.loc[at_one, "rv_15m"]) == (63.0, 0.0)
    assert quoted.loc[at_one, "yes_mid"] == bounds.loc[at_one, "yes_mid"] == 32
    # the market every model is scored and traded against does not move with the switch
    market = ["p_market", *EVENT_COLUMNS, *features.IMPLIED_EXCEEDANCE_COLUMNS]
    pd.testing.assert_frame_equal(bounds[market], quoted[market])
    assert quoted.loc[ask_only, "p_market"] == 0.10 and quoted.loc[bid_only, "p_market"] == 0.95
    whole = base_features(5, "bounds"), base_features(5, "as_quoted")
    pd.testing.assert_series_equal(whole[0]["p_market"], whole[1]["p_market"])
    assert whole[1]["yes_mid"].isna().sum() > whole[0]["yes_mid"].isna().sum()


def test_one_sided_book_takes_only_its_two_values():
    with pytest.raises(
        ParamsError,
        match=re.escape("one_sided_book must be a str among ['bounds', 'as_quoted']; got 'zero'."),
    ):
        FeatureParams(one_sided_book="zero")


# ----------------------------------------------------------------------------------------------
# units, partitions, the stage


def test_build_partition_does_not_depend_on_timestamp_unit():
    world = base_world()
    coarse = dict(world)
    for name in ("quotes", "weather"):
        coarse[name] = world[name].assign(ts=world[name]["ts"].dt.as_unit("s"))
    coarse["markets"] = world["markets"].assign(
        close_time=world["markets"]["close_time"].dt.as_unit("ms")
    )
    pd.testing.assert_frame_equal(build(coarse, every_minutes=5), base_features(5))


def test_build_features_partitions_change_nothing():
    days = [dt.date(2024, 3, 30), dt.date(2024, 3, 31), dt.date(2024, 4, 1)]
    world = make_world(CHI, days, seed=6)
    parts = list(
        features.iter_partitions(
            world["markets"], world["weather"], world["settlements"], {"chi": CHI}
        )
    )
    assert [(p.city.code, p.month) for p in parts] == [("chi", "2024-03"), ("chi", "2024-04")]
    frames = features.build_features(parts, lambda p: world["quotes"], FeatureParams(), n_jobs=1)
    joined = pd.concat(frames).sort_values(["ticker", "ts"], ignore_index=True)
    pd.testing.assert_frame_equal(joined, build(world))


def test_feature_metrics_adds_up_per_city():
    summaries = [
        {
            "city": "chi",
            "month": "2024-03",
            "n_markets": 3,
            "n_rows": 10,
            "n_rows_empty_book": 1,
            "n_rows_without_weather": 0,
        },
        {
            "city": "chi",
            "month": "2024-04",
            "n_markets": 3,
            "n_rows": 5,
            "n_rows_empty_book": 0,
            "n_rows_without_weather": 2,
        },
        {
            "city": "nyc",
            "month": "2024-03",
            "n_markets": 3,
            "n_rows": 7,
            "n_rows_empty_book": 0,
            "n_rows_without_weather": 7,
        },
    ]
    assert features.feature_metrics(summaries) == {
        "n_markets": 9,
        "n_rows": 22,
        "n_rows_empty_book": 1,
        "n_rows_without_weather": 9,
        "n_partitions": 3,
        "by_city": {
            "chi": {
                "n_markets": 6,
                "n_rows": 15,
                "n_rows_empty_book": 1,
                "n_rows_without_weather": 2,
            },
            "nyc": {
                "n_markets": 3,
                "n_rows": 7,
                "n_rows_empty_book": 0,
                "n_rows_without_weather": 7,
            },
        },
    }


PARAMS_YAML = """\
features:
  every_minutes: 5
  eligible_start_hour: 6
cities:
  chi: {series: KXHIGHCHI, tz: America/Chicago, weather_features: true}
  nyc: {series: KXHIGHNY, tz: America/New_York, weather_features: false}
"""


def test_stage_features_is_deterministic(tmp_path):
    days = [dt.date(2024, 3, 31), dt.date(2024, 4, 1)]
    chi, nyc = make_world(CHI, days, seed=8), make_world(NYC, days[:1], seed=9)
    raw = tmp_path / "raw"
    raw.mkdir()
    for name in ("markets", "quotes", "weather", "settlements"):
        table = pd.concat([chi[name], nyc[name]], ignore_index=True)
        if name == "quotes":
            table = table.sort_values(["ticker", "ts"], kind="mergesort", ignore_index=True)
        table.to_parquet(raw / f"{name}.parquet", index=False)
    (tmp_path / "params.yaml").write_text(PARAMS_YAML)
    outputs = []
    for run, n_jobs in enumerate(["1", "2"]):
        out, metrics = tmp_path / f"features{run}", tmp_path / f"metrics{run}.json"
        subprocess.run(
            [
                sys.executable,
                str(ROOT / "stages" / "features.py"),
                "raw",
                out.name,
                metrics.name,
                "--n-jobs",
                n_jobs,
            ],
            cwd=tmp_path,
            check=True,
        )
        files = sorted(p for p in out.rglob("*") if p.is_file())
        outputs.append({str(p.relative_to(out)): p.read_bytes() for p in files})
        outputs[-1]["metrics"] = metrics.read_bytes()
    assert outputs[0] == outputs[1]
    assert set(outputs[0]) == {
        "city=chi/month=2024-03/part-0.parquet",
        "city=chi/month=2024-04/part-0.parquet",
        "city=nyc/month=2024-03/part-0.parquet",
        "metrics",
    }
    written = pd.read_parquet(tmp_path / "features0" / "city=chi" / "month=2024-04")
    assert written["ticker"].nunique() == 3 and (written["event_date"] == dt.date(2024, 4, 1)).all()
    pd.testing.assert_frame_equal(written, written.sort_values(["ticker", "ts"], ignore_index=True))
    assert not (tmp_path / ".features0.old").exists()
