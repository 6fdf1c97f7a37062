"""Tests for importers.kalshi_trades: Kalshi trades -> price-only quotes per minute."""

from __future__ import annotations

import pytest
from importer_support import EVENT, FIXTURES, read_out, rows, run, snapshot, starts, utc, write_json

from tmaxedge.core.errors import DataError
from tmaxedge.inputs.importers import values as v

COLUMNS = ["ticker", "ts", "yes_bid", "yes_ask", "price", "volume", "open_interest"]


def trade(time: str, price: int, count: int, ticker: str = f"{EVENT}-T40") -> dict:
    return {
        "trade_id": time,
        "ticker": ticker,
        "created_time": time,
        "yes_price": price,
        "no_price": 100 - price,
        "count": count,
        "taker_side": "yes",
    }


def test_import_kalshi_trades_keeps_the_last_price_and_total_size_per_minute(tmp_path):
    counts = run("kalshi-trades", [FIXTURES / "kalshi_trades.json"], tmp_path)
    quotes = read_out(tmp_path)["quotes"]
    assert rows(quotes, COLUMNS) == {
        # 17:00:00 6x5, 17:00:10 8x10, 17:00:59.9 9x2 -> last 9, 17 contracts, stamped 17:01
        (f"{EVENT}-T40", utc("2025-11-14 17:01"), None, None, 9, 17, None),
        (f"{EVENT}-T40", utc("2025-11-14 17:02"), None, None, 7, 4, None),
        (f"{EVENT}-B46.5", utc("2025-11-14 17:01"), None, None, 15, 1, None),
    }
    assert counts["n_trades"] == 5


def test_import_kalshi_trades_pools_one_minute_split_across_pages(tmp_path):
    # newest first, as the API lists them; the minute 17:00 spans both pages
    page1 = write_json(
        tmp_path, "p1.json", {"trades": [trade("2025-11-14T17:00:50Z", 30, 1)], "cursor": "x"}
    )
    page2 = write_json(
        tmp_path, "p2.json", {"trades": [trade("2025-11-14T17:00:05Z", 20, 3)], "cursor": ""}
    )
    run("kalshi-trades", [page1, page2], tmp_path / "out")
    quotes = read_out(tmp_path / "out")["quotes"]
    assert rows(quotes, ["ts", "price", "volume"]) == {(utc("2025-11-14 17:01"), 30, 4)}


def test_import_kalshi_trades_breaks_ties_by_listing_order(tmp_path):
    same = "2025-11-14T17:00:05Z"
    page = write_json(tmp_path, "p.json", {"trades": [trade(same, 31, 1), trade(same, 29, 1)]})
    run("kalshi-trades", [page], tmp_path / "out")
    assert rows(read_out(tmp_path / "out")["quotes"], ["price"]) == {(31,)}  # listed first = newest


@pytest.mark.parametrize(
    "bad, column, rule",
    [
        ({"yes_price": None}, "yes_price", v.PRICE_RULE),  # a trade without a price
        ({"yes_price": None, "yes_price_dollars": "0.305"}, "yes_price", v.PRICE_RULE),
        ({"count": None, "count_fp": "2.50"}, "count", v.COUNT_RULE),
        (
            {"created_time": "2025-11-14 17:00:05"},
            "created_time",
            "must be an ISO 8601 timestamp with its zone",
        ),
    ],
)
def test_import_kalshi_trades_refuses_bad_trades_and_writes_nothing(tmp_path, bad, column, rule):
    run("kalshi-trades", [FIXTURES / "kalshi_trades.json"], tmp_path / "out")
    before = snapshot(tmp_path / "out")
    source = write_json(
        tmp_path, "bad.json", {"trades": [{**trade("2025-11-14T17:05:00Z", 5, 1), **bad}]}
    )
    with pytest.raises(DataError, match=starts(f"{source}: column '{column}' {rule}")):
        run("kalshi-trades", [source], tmp_path / "out")
    assert snapshot(tmp_path / "out") == before
