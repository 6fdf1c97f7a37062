"""Tests for importers.kalshi_trades: Kalshi trades -> price-only quotes per minute."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from importer_support import EVENT, FIXTURES, read_out, rows, run, snapshot, starts, utc, write_json

from tmaxedge.core.errors import DataError
from tmaxedge.inputs.importers import values as v

COLUMNS = ["ticker", "ts", "yes_bid", "yes_ask", "price", "volume", "open_interest"]


def trade(time: str, price: int, count: int, ticker: str = f"{EVENT}-T40", trade_id=None) -> dict:
    """One trade object as the API lists it; its id from its fields unless given."""
    return {
        "trade_id": trade_id or f"{ticker}@{time}:{price}x{count}",
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
        ({"count": 10**30}, "count", v.COUNT_RULE),  # was an OverflowError (found by fuzzing)
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


# --- each trade once, by trade_id -----------------------------------------------------------------

T1 = trade("2025-11-14T17:00:10Z", 8, 10, trade_id="t1")
T2 = trade("2025-11-14T17:00:40Z", 9, 2, trade_id="t2")
MINUTE = utc("2025-11-14 17:01")


def test_import_kalshi_trades_counts_a_trade_listed_twice_in_one_file_once(tmp_path):
    page = write_json(tmp_path, "p.json", {"trades": [T2, T1, T1]})
    counts = run("kalshi-trades", [page], tmp_path / "out")
    assert rows(read_out(tmp_path / "out")["quotes"], ["ts", "price", "volume"]) == {
        (MINUTE, 9, 12)  # not 22: t1 once
    }
    assert counts["n_trades"] == 3 and counts["n_duplicate_trades"] == 1


def test_import_kalshi_trades_counts_a_trade_in_two_overlapping_pages_once(tmp_path):
    first = write_json(tmp_path, "p1.json", {"trades": [T2, T1]})
    again = write_json(tmp_path, "p2.json", {"trades": [T1]})  # a resumed download overlaps
    counts = run("kalshi-trades", [first, again], tmp_path / "out")
    assert rows(read_out(tmp_path / "out")["quotes"], ["price", "volume"]) == {(9, 12)}
    assert counts["n_duplicate_trades"] == 1 and counts["trades"]["n_rows"] == 2


def test_import_kalshi_trades_adds_a_later_page_of_a_minute_from_the_ledger(tmp_path):
    out = tmp_path / "out"
    run("kalshi-trades", [write_json(tmp_path, "p1.json", {"trades": [T1]})], out)
    later = write_json(tmp_path, "p2.json", {"trades": [T2, T1]})  # t1 again, t2 new
    counts = run("kalshi-trades", [later], out)
    assert rows(read_out(out)["quotes"], ["ts", "price", "volume"]) == {(MINUTE, 9, 12)}
    assert counts["trades"] == {
        "n_imported": 2,
        "n_already_present": 1,
        "n_taker_sides_filled": 0,
        "n_rows": 2,
    }
    assert counts["quotes"]["n_trade_minutes_recomputed"] == 1


def test_import_kalshi_trades_adds_a_new_trade_whose_minute_sums_to_the_same_row(tmp_path):
    # t3 alone gives the row t2 alone gave (price 9, 2 contracts): still a second trade
    out = tmp_path / "out"
    run("kalshi-trades", [write_json(tmp_path, "p1.json", {"trades": [T2]})], out)
    t3 = trade("2025-11-14T17:00:50Z", 9, 2, trade_id="t3")
    run("kalshi-trades", [write_json(tmp_path, "p2.json", {"trades": [t3]})], out)
    assert rows(read_out(out)["quotes"], ["price", "volume"]) == {(9, 4)}


def test_import_kalshi_trades_refuses_one_trade_id_for_two_trades(tmp_path):
    out = tmp_path / "out"
    run("kalshi-trades", [write_json(tmp_path, "p1.json", {"trades": [T1]})], out)
    before = snapshot(out)
    changed = write_json(tmp_path, "p2.json", {"trades": [{**T1, "count": 11}]})
    with pytest.raises(DataError, match=starts(f"{out / 'trades.parquet'}: column 'trade_id'")):
        run("kalshi-trades", [changed], out)
    assert snapshot(out) == before
    both = write_json(tmp_path, "p3.json", {"trades": [T1, {**T1, "yes_price": 7, "no_price": 93}]})
    with pytest.raises(DataError, match=starts(f"{both}: column 'trade_id' must identify one")):
        run("kalshi-trades", [both], tmp_path / "other")


def test_import_kalshi_trades_refuses_a_trade_without_its_id(tmp_path):
    page = write_json(tmp_path, "p.json", {"trades": [{**T1, "trade_id": None}]})
    with pytest.raises(DataError, match=starts(f"{page}: column 'trade_id' must be the trade's")):
        run("kalshi-trades", [page], tmp_path / "out")


def test_import_kalshi_trades_loses_no_trade_when_killed_between_two_file_moves(
    tmp_path, monkeypatch
):
    out, clean = tmp_path / "out", tmp_path / "clean"
    first = write_json(tmp_path, "p1.json", {"trades": [T1]})
    later = write_json(tmp_path, "p2.json", {"trades": [T2]})
    for folder in (out, clean):
        run("kalshi-trades", [first], folder)
    run("kalshi-trades", [later], clean)
    real, moved = os.replace, []

    def killed_after_one_move(source, target):
        if moved:
            raise KeyboardInterrupt  # as a kill between the quotes and the ledger
        moved.append(target)
        return real(source, target)

    monkeypatch.setattr(os, "replace", killed_after_one_move)
    with pytest.raises(KeyboardInterrupt):
        run("kalshi-trades", [later], out)
    monkeypatch.setattr(os, "replace", real)
    assert [Path(p).name for p in moved] == ["quotes.parquet"]  # the ledger moves last
    run("kalshi-trades", [later], out)  # imported again after the crash
    assert rows(read_out(out)["quotes"], COLUMNS) == rows(read_out(clean)["quotes"], COLUMNS)
