"""Tests for importers.kalshi_candles: Kalshi candlesticks -> quotes rows."""

from __future__ import annotations

import json

import pytest
from importer_support import (
    EVENT,
    FIXTURES,
    MARKET_PAGES,
    read_out,
    rows,
    run,
    snapshot,
    starts,
    utc,
    write_json,
)

from tmaxedge.core.errors import DataError
from tmaxedge.inputs.importers import ImportOptions, kalshi_candles
from tmaxedge.inputs.importers import values as v

CURRENT = FIXTURES / f"{EVENT}-B44.5.json"
HISTORICAL = FIXTURES / f"historical_candles_{EVENT}-B42.5.json"
COLUMNS = ["ticker", "ts", "yes_bid", "yes_ask", "price", "volume", "open_interest"]


def candle(ts=1763136060, bid=41, ask=43, price=42, **extra) -> dict:
    """A candle in the older integer-cents spelling."""
    return {
        "end_period_ts": ts,
        "yes_bid": {"close": bid},
        "yes_ask": {"close": ask},
        "price": {"close": price},
        "volume": 1,
        "open_interest": 2,
        **extra,
    }


def parse_text(content: dict, name: str = f"{EVENT}-B44.5.json", ticker=None):
    options = ImportOptions(ticker=ticker)
    return kalshi_candles.parse([(name, json.dumps(content))], options)


def test_import_kalshi_candles_maps_current_and_historical_spellings(tmp_path):
    counts = run("kalshi-candles", [CURRENT, HISTORICAL], tmp_path)
    quotes = read_out(tmp_path)["quotes"]
    b44, b42 = f"{EVENT}-B44.5", f"{EVENT}-B42.5"
    assert rows(quotes, COLUMNS) == {
        (b44, utc("2025-11-14 16:00"), None, None, None, 0, 0),  # empty book 0.00/1.00 -> null
        (b44, utc("2025-11-14 16:01"), 41, 43, 42, 12, 12),
        (b44, utc("2025-11-14 16:02"), 41, None, None, 0, 12),  # no ask side, no trade
        (b44, utc("2025-11-15 05:00"), 98, 99, 99, 5, 30),  # no market known: kept
        (b42, utc("2025-11-14 16:01"), 22, 24, 23, 3, 40),  # bare open/high/low/close strings
        (b42, utc("2025-11-14 16:03"), 22, 25, None, 0, 40),
    }
    assert counts["n_empty_bid"] == 1 and counts["n_empty_ask"] == 2


def test_import_kalshi_candles_drops_rows_after_the_market_close(tmp_path):
    run("kalshi-markets", MARKET_PAGES, tmp_path)
    counts = run("kalshi-candles", [CURRENT], tmp_path)
    quotes = read_out(tmp_path)["quotes"]
    assert quotes["ts"].max() == utc("2025-11-14 16:02")  # 05:00 is after close_time 04:59
    assert counts["quotes"]["n_dropped_after_close"] == 1


def test_parse_gives_the_same_rows_for_cents_and_dollar_spellings():
    cents = [candle(), candle(ts=1763136120, bid=0, ask=100, price=None)]
    dollars = [
        {
            **c,
            "yes_bid": {"close_dollars": f"{c['yes_bid']['close'] / 100:.4f}"},
            "yes_ask": {"close_dollars": f"{c['yes_ask']['close'] / 100:.4f}"},
            "price": {
                "close_dollars": None
                if c["price"]["close"] is None
                else f"{c['price']['close'] / 100:.4f}"
            },
            "volume_fp": "1.00",
            "open_interest_fp": "2.00",
        }
        for c in cents
    ]
    from_cents = parse_text({"candlesticks": cents}).tables["quotes"]
    from_dollars = parse_text({"candlesticks": dollars}).tables["quotes"]
    assert rows(from_cents, COLUMNS) == rows(from_dollars, COLUMNS)


def test_parse_takes_the_ticker_from_the_option_the_field_or_the_file_name():
    content = {"candlesticks": [candle()]}
    by_name = parse_text(content).tables["quotes"]
    by_field = parse_text({**content, "ticker": f"{EVENT}-T40"}, name="c.json").tables["quotes"]
    by_option = parse_text(content, name="c.json", ticker=f"{EVENT}-T47").tables["quotes"]
    assert set(by_name["ticker"]) == {f"{EVENT}-B44.5"}
    assert set(by_field["ticker"]) == {f"{EVENT}-T40"}
    assert set(by_option["ticker"]) == {f"{EVENT}-T47"}


@pytest.mark.parametrize(
    "bad, column, rule",
    [
        (
            {"yes_bid": {"close_dollars": "0.4250"}},
            "yes_bid.close",
            v.PRICE_RULE,
        ),  # not a whole cent
        ({"price": {"close": 42.5}}, "price.close", v.PRICE_RULE),
        ({"yes_ask": {"close": 130}}, "yes_ask.close", v.PRICE_RULE),
        ({"volume_fp": "1.50"}, "volume", v.COUNT_RULE),  # fractional contracts
        ({"end_period_ts": "2025-11-14T16:01:00Z"}, "end_period_ts", "must be Unix seconds"),
    ],
)
def test_import_kalshi_candles_refuses_bad_values_and_writes_nothing(tmp_path, bad, column, rule):
    run("kalshi-candles", [CURRENT], tmp_path / "out")
    before = snapshot(tmp_path / "out")
    source = write_json(
        tmp_path, f"{EVENT}-B40.5.json", {"candlesticks": [candle(), candle(ts=1763136120, **bad)]}
    )
    with pytest.raises(DataError, match=starts(f"{source}: column '{column}' {rule}")):
        run("kalshi-candles", [source], tmp_path / "out")
    assert snapshot(tmp_path / "out") == before


def test_import_kalshi_candles_refuses_a_ticker_option_the_file_contradicts(tmp_path):
    source = write_json(tmp_path, "c.json", {"ticker": f"{EVENT}-B40.5", "candlesticks": []})
    with pytest.raises(DataError, match=starts(f"{source}: --ticker says '{EVENT}-T40' but")):
        run("kalshi-candles", [source], tmp_path / "out", ticker=f"{EVENT}-T40")


def test_import_kalshi_candles_needs_a_ticker(tmp_path):
    source = write_json(tmp_path, "candles.json", {"candlesticks": [candle()]})
    with pytest.raises(DataError, match=starts(f"{source}: no market ticker: pass --ticker")):
        run("kalshi-candles", [source], tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_import_kalshi_candles_refuses_crossed_candles(tmp_path):
    source = write_json(tmp_path, f"{EVENT}-B40.5.json", {"candlesticks": [candle(bid=50, ask=45)]})
    with pytest.raises(DataError, match="column 'yes_bid, yes_ask' must satisfy yes_bid < yes_ask"):
        run("kalshi-candles", [source], tmp_path / "out")
