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


def build(world: dict[str, pd.DataFrame], city: City = CHI, **params: int) -> pd.DataFrame:
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
def base_features(every: int) -> pd.DataFrame:
    return build(base_world(), every_minutes=every)


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
)
def test_build_partition_ignores_rows_after_each_decision_time(
    every, day, minute, second, seed, ops, tables
):
    cutoff = climate_day_start(CHI, day) + pd.Timedelta(minutes=minute, seconds=second)
    before = base_features(every)
    after = build(perturb_after(base_world(), cutoff, seed, ops, tables), every_minutes=every)
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


def reference_row(world: dict[str, pd.DataFrame], ticker: str, t: pd.Timestamp, first) -> dict:
    q = world["quotes"][world["quotes"]["ticker"] == ticker]
    q = q[q["ts"] <= t]  # nothing stamped after t
    market = world["markets"].set_index("ticker").loc[ticker]
    w = world["weather"]
    w = w[(w["ts"] <= t) & w["temp_f"].notna()]

    def latest(frame, column, u):
        rows = frame[(frame["ts"] <= u) & frame[column].notna()]
        return float(rows[column].iloc[-1]) if len(rows) else math.nan

    def sides(row):
        """Bid and ask of a quote row, an empty side priced at 0 / 100 when the other is quoted."""
        bid = math.nan if pd.isna(row["yes_bid"]) else float(row["yes_bid"])
        ask = math.nan if pd.isna(row["yes_ask"]) else float(row["yes_ask"])
        if math.isnan(bid) and not math.isnan(ask):
            bid = 0.0
        if math.isnan(ask) and not math.isnan(bid):
            ask = 100.0
        return bid, ask

    def mid_at(u):
        rows = q[q["ts"] <= u]
        if not len(rows):
            return math.nan
        bid, ask = sides(rows.iloc[-1])
        return (bid + ask) / 2

    def rv(width):
        changes = [mid_at(t - k * MINUTE) - mid_at(t - (k + 1) * MINUTE) for k in range(width)]
        changes = [c for c in changes if not math.isnan(c)]
        return float(np.std(changes, ddof=1)) if len(changes) >= 2 else math.nan

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
    return {
        "yes_bid": math.nan if book is None else sides(book)[0],
        "yes_ask": math.nan if book is None else sides(book)[1],
        "yes_mid": mid_at(t),
        "quote_ts": pd.NaT if book is None else book["ts"],
        "p_market": (mid_at(t) if not math.isnan(mid_at(t)) else latest(q, "price", t)) / 100,
        "oi_level": latest(q, "open_interest", t),
        "vol_5m": math.nan if window["volume"].isna().any() else float(window["volume"].sum()),
        "mid_chg_5m": mid_at(t) - mid_at(t - 5 * MINUTE),
        "rv_15m": rv(15),
        "rv_60m": rv(60),
        "mid_slope_5m": np.polyfit(*zip(*points, strict=True), 1)[0]
        if len(points) >= 2
        else math.nan,
        "temp_now": latest(w, "temp_f", t),
        "weather_ts": w["ts"].iloc[-1] if len(w) else pd.NaT,
        "running_max": float(day["temp_f"].max()) if len(day) else math.nan,
        "temp_5m_ema": ema[5],
        "temp_15m_ema": ema[15],
        "minutes_to_close": (market["close_time"] - t) / MINUTE,
        "hour_of_day_local": (t - start) / pd.Timedelta(hours=1),
    }


def test_build_partition_matches_point_in_time_reference():
    world, frame = base_world(), base_features(5)
    rng = np.random.default_rng(0)
    first = frame.groupby("ticker")["ts"].transform("min")
    for i in sorted(rng.choice(len(frame), 12, replace=False)) + [0, len(frame) - 1]:
        row = frame.iloc[i]
        expected = reference_row(world, row["ticker"], row["ts"], first.iloc[i])
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
        assert rows["hour_of_day_local"].iloc[0] == 6.0  # standard time, whatever the DST state
        assert rows["hour_of_day_local"].iloc[-1] == pytest.approx(6 + (n_rows - 1) * 5 / 60)
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

    assert at(days[1], "2024-07-15 06:00")["hour_of_day_local"] == 0.0
    assert at(days[1], "2024-07-15 06:00")["running_max"] == 60.0  # the 99 belongs to the 14th
    assert at(days[1], "2024-07-15 06:05")["running_max"] == 60.0
    assert at(days[1], "2024-07-15 06:10")["running_max"] == 100.0
    assert math.isnan(at(days[0], "2024-07-15 05:25")["running_max"])  # nothing observed yet
    assert at(days[0], "2024-07-15 05:30")["running_max"] == 99.0
    assert at(days[0], "2024-07-15 07:00")["running_max"] == 99.0  # later obs are the 15th's
    assert at(days[0], "2024-07-15 07:00")["temp_now"] == 100.0  # but temp_now is carried on
    assert at(days[0], "2024-07-15 07:00")["hour_of_day_local"] == 25.0
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


def test_feature_sets_are_nested():
    assert FEATURE_SETS["baseline"] == [
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
    assert FEATURE_SETS["ridge_safe"][:10] == FEATURE_SETS["baseline"]
    assert FEATURE_SETS["rich"][:13] == FEATURE_SETS["ridge_safe"]
    assert len(FEATURE_SETS["rich"]) == len(set(FEATURE_SETS["rich"])) == 28
    assert set(features.weather_columns()) < set(FEATURE_SETS["rich"] + EVENT_COLUMNS)


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
