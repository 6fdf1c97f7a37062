"""The helpers of examples/real_markets.sh that turn the saved five-city files into contract
tables: schedules where Kalshi's payload is missing, Kalshi's result only, complete events."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd

_PATH = Path(__file__).parents[2] / "examples" / "real_markets_inputs.py"
_SPEC = importlib.util.spec_from_file_location("real_markets_inputs", _PATH)
real_markets_inputs = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(real_markets_inputs)


def listed(tickers, dates, results, finals, basis="kalshi_api_result"):
    n = len(tickers)
    return pd.DataFrame(
        {
            "ticker": tickers,
            "event_ticker": [t.rsplit("-", 1)[0] for t in tickers],
            "city": "chi",
            "date": dates,
            "strike_type": ["less", "between", "greater"][:n],
            "floor_strike": [None, 50.0, 51.0][:n],
            "cap_strike": [50.0, 51.0, None][:n],
            "result": results,
            "result_final": pd.array(finals, dtype="boolean"),
            "result_basis": basis,
        }
    )


def test_missing_times_take_the_citys_usual_offset_from_the_event_day_on_new_yorks_clock():
    summer = listed(["E1-T50", "E1-B50.5", "E1-T51"], ["2024-08-20"] * 3, ["no"] * 3, [None] * 3)
    winter = listed(["E2-T50", "E2-B50.5", "E2-T51"], ["2024-01-10"] * 3, ["no"] * 3, [None] * 3)
    payloads = pd.DataFrame(
        {
            "ticker": ["E1-T50", "E1-B50.5", "E1-T51"],
            "open_time": ["2024-08-19T14:00:00Z"] * 3,  # 10:00 EDT the day before
            "close_time": ["2024-08-21T03:59:00Z"] * 3,  # 23:59 EDT
        }
    )
    markets, off = real_markets_inputs.market_table(pd.concat([summer, winter]), payloads)
    assert off == 0.0
    january = markets[markets["event_ticker"] == "E2"].iloc[0]
    assert january["open_time"] == pd.Timestamp("2024-01-09T15:00:00Z")  # 10:00 EST
    assert january["close_time"] == pd.Timestamp("2024-01-11T04:59:00Z")  # 23:59 EST


def test_only_kalshis_result_counts_and_an_event_needs_it_on_every_market():
    api = listed(
        ["E1-T50", "E1-B50.5", "E1-T51"], ["2024-08-20"] * 3, ["no", "yes", "no"], [None] * 3
    )
    copied = listed(
        ["E2-T50", "E2-B50.5", "E2-T51"],
        ["2024-08-21"] * 3,
        [""] * 3,
        [True, False, False],
        basis="kalshi result via a saved copy",
    )
    derived = listed(
        ["E3-T50", "E3-B50.5", "E3-T51"],
        ["2024-08-22"] * 3,
        [""] * 3,
        [False, True, False],
        basis="derived from tmax_f via strike rule",
    )
    payloads = pd.DataFrame(
        {
            "ticker": ["E1-T50"],
            "open_time": ["2024-08-19T14:00:00Z"],
            "close_time": ["2024-08-21T03:59:00Z"],
        }
    )
    markets, _ = real_markets_inputs.market_table(pd.concat([api, copied, derived]), payloads)
    assert markets["result"].tolist()[:6] == ["no", "yes", "no", "yes", "no", "no"]
    assert markets["result"].iloc[6:].isna().all()  # derived from the high: not Kalshi's
    highs = pd.DataFrame(
        {
            "city": "chi",
            "date": pd.to_datetime(["2024-08-20", "2024-08-21", "2024-08-22"]).date,
            "tmax_f": [50, 49, 51],
        }
    )
    kept = real_markets_inputs.settled_events(markets, highs)
    # E1: 50 is the between bin's, as Kalshi said; E2: 49 < 50, the low tail's; E3: no result
    assert kept.tolist() == [True] * 6 + [False] * 3
    wrong = highs.assign(tmax_f=[52, 49, 51])  # E1's results disagree with a high of 52
    assert real_markets_inputs.settled_events(markets, wrong).tolist()[:3] == [False] * 3


def test_hourly_candles_keep_the_book_leave_the_ambiguous_price_out_and_settled_events_only():
    candles = pd.DataFrame(
        {
            "market_ticker": ["KXHIGHNY-26JAN05-B40.5", "KXHIGHNY-26JAN06-B40.5"],
            "ts_utc": pd.to_datetime(["2026-01-05 15:00", "2026-01-06 15:00"], utc=True),
            "yes_bid": [20.0, 30.0],
            "yes_ask": [24.0, 33.0],
            "price_close_or_mid": [22.0, 31.5],  # a mid: not a trade
            "volume": [61.0, 0.0],
        }
    )
    listed = pd.DataFrame(
        {
            "event_ticker": ["KXHIGHNY-26JAN05", "KXHIGHNY-26JAN06"],
            "market_ticker": ["KXHIGHNY-26JAN05-B40.5", "KXHIGHNY-26JAN06-B40.5"],
            "strike_type": "between",
            "floor_strike": 40.0,
            "cap_strike": 41.0,
            "close_time": ["2026-01-06T04:59:00Z", "2026-01-07T04:59:00Z"],
        }
    )
    highs = pd.DataFrame(
        {
            "event_ticker": ["KXHIGHNY-26JAN05", "KXHIGHNY-26JAN06"],
            "city": "nyc",
            "date": ["2026-01-05", "2026-01-06"],
            "tmax_f": [41.0, None],  # the second event has no settled high
        }
    )
    tables = real_markets_inputs.hourly_tables(candles, listed, highs)
    markets, quotes = tables["markets"], tables["quotes"]
    assert markets["ticker"].tolist() == ["KXHIGHNY-26JAN05-B40.5"]
    assert markets["open_time"].iloc[0] == pd.Timestamp("2026-01-04T15:00:00Z")  # 10:00 EST
    assert markets["result"].isna().all()  # derived from the high, not Kalshi's
    assert quotes[["yes_bid", "yes_ask"]].iloc[0].tolist() == [20, 24]
    assert quotes["price"].isna().all() and len(quotes) == 1
    assert tables["settlements"]["tmax_f"].tolist() == [41]
