"""Tests for importers.orderbook_log: top-of-book change logs -> quotes per minute."""

from __future__ import annotations

import pytest
from importer_support import EVENT, FIXTURES, read_out, rows, run, snapshot, starts, utc, write

from tmaxedge.core.errors import DataError

LOG = FIXTURES / f"orderbook_log_{EVENT}.csv"
LA = "America/Los_Angeles"
COLUMNS = ["ticker", "ts", "yes_bid", "yes_ask", "price", "volume", "open_interest"]


def test_import_orderbook_log_keeps_the_last_state_per_minute_at_its_end(tmp_path):
    counts = run("orderbook-log", [LOG], tmp_path, tz=LA)
    quotes = read_out(tmp_path)["quotes"]
    b40, t47 = f"{EVENT}-B40.5", f"{EVENT}-T47"
    assert rows(quotes, COLUMNS) == {
        (b40, utc("2025-11-14 19:01"), 11, 15, None, None, None),  # 11:00:40 PST, ask = 100 - 85
        (t47, utc("2025-11-14 19:01"), None, 3, None, None, None),  # YES bid 0 = empty side
        (b40, utc("2025-11-14 19:02"), 12, None, None, None, None),  # NO bid 0 = no YES ask
        (b40, utc("2025-11-14 19:04"), 13, 14, None, None, None),  # 19:03 was crossed: dropped
    }
    assert counts["n_crossed_dropped"] == 1 and counts["n_book_changes"] == 6


def test_import_orderbook_log_reads_zoned_times_without_tz_and_the_ticker_spelling(tmp_path):
    text = (
        "timestamp,ticker,best_yes_bid,best_no_bid\n"
        f"2025-11-14T19:00:05-08:00,{EVENT}-B40.5,10,85\n"  # the same instant as 11:00:05 LA
    )
    run("orderbook-log", [write(tmp_path, "log.csv", text)], tmp_path / "out")
    assert rows(read_out(tmp_path / "out")["quotes"], ["ts", "yes_bid", "yes_ask"]) == {
        (utc("2025-11-15 03:01"), 10, 15)
    }


def test_import_orderbook_log_refuses_naive_times_without_tz(tmp_path):
    with pytest.raises(
        DataError, match=starts(f"{LOG}: column 'timestamp' must name its time zone")
    ):
        run("orderbook-log", [LOG], tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "row, column",
    [
        (f"2025-11-14T11:05:00,{EVENT}-B40.5,10,150", "best_no_bid"),  # outside 0..100
        (f"2025-11-14T11:05:00,{EVENT}-B40.5,1.5,80", "best_yes_bid"),  # not whole cents
        (f"2025-11-14T11:05:00,{EVENT}-B40.5,,80", "best_yes_bid"),  # empty
        (f"not a time,{EVENT}-B40.5,10,80", "timestamp"),
    ],
)
def test_import_orderbook_log_refuses_bad_rows_and_writes_nothing(tmp_path, row, column):
    run("orderbook-log", [LOG], tmp_path / "out", tz=LA)
    before = snapshot(tmp_path / "out")
    source = write(
        tmp_path, "bad.csv", f"timestamp,market_ticker,best_yes_bid,best_no_bid\n{row}\n"
    )
    with pytest.raises(DataError, match=starts(f"{source}: column '{column}' must")):
        run("orderbook-log", [source], tmp_path / "out", tz=LA)
    assert snapshot(tmp_path / "out") == before


def test_import_orderbook_log_names_a_missing_column(tmp_path):
    source = write(tmp_path, "bad.csv", "timestamp,market_ticker,best_yes_bid\n")
    with pytest.raises(DataError, match=starts(f"{source}: column 'best_no_bid' is missing")):
        run("orderbook-log", [source], tmp_path / "out", tz=LA)
