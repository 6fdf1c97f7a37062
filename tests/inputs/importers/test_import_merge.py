"""Tests for importers.merge and the `tmaxedge import` command: merging, the lock, atomic
writes, the whole set of importers feeding `ingest.validate_tables`."""

from __future__ import annotations

import concurrent.futures
import json
import time

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from importer_support import (
    EVENT,
    EVERYTHING,
    FIXTURES,
    MARKET_PAGES,
    read_out,
    run,
    snapshot,
    starts,
    write_json,
)

from tmaxedge.cli.main import main
from tmaxedge.core import io
from tmaxedge.core.errors import DataError
from tmaxedge.inputs import contract
from tmaxedge.inputs.importers import ledger
from tmaxedge.inputs.importers.common import DEFAULT_CITIES
from tmaxedge.inputs.ingest import validate_tables

F = FIXTURES


def import_everything(out):
    for kind, files, options in EVERYTHING:
        run(kind, files, out, **options)


def test_imports_of_every_kind_pass_ingest_validation(tmp_path):
    import_everything(tmp_path)
    tables = read_out(tmp_path)
    assert set(tables) == {"markets", "quotes", "weather", "settlements"}
    normalised, metrics = validate_tables(tables, DEFAULT_CITIES, str(tmp_path))
    assert metrics["n_markets"] == 6 and metrics["n_events"] == 1
    assert metrics["quotes"]["n_written"] == 21  # 22 imported, 1 candle after close dropped
    assert metrics["n_markets_without_book"] == 2  # T40 and B46.5: trades and chart prices only
    assert normalised["markets"]["result"].notna().all()
    for path in tmp_path.glob("*.parquet"):  # contract columns only, never 'source'
        columns = contract.RAW_DTYPES.get(path.stem, ledger.DTYPES)  # trades: the ledger's
        assert pq.read_schema(path).names == list(columns)


def test_importing_the_same_files_again_changes_no_byte(tmp_path):
    import_everything(tmp_path)
    before = snapshot(tmp_path)
    import_everything(tmp_path)
    assert snapshot(tmp_path) == before


def test_merge_fills_a_result_that_was_unknown_before_settlement(tmp_path):
    page = json.loads(MARKET_PAGES[1].read_text())
    page["markets"] = [{**m, "result": "", "status": "active"} for m in page["markets"]]
    early = write_json(tmp_path, "early.json", page)
    run("kalshi-markets", [early], tmp_path / "out")
    counts = run("kalshi-markets", [MARKET_PAGES[1]], tmp_path / "out")
    markets = read_out(tmp_path / "out")["markets"]
    assert len(markets) == 3 and set(markets["result"]) == {"yes", "no"}
    assert counts["markets"]["n_results_filled"] == 3


def test_merge_refuses_a_market_whose_close_time_changed(tmp_path):
    run("kalshi-markets", MARKET_PAGES, tmp_path / "out")
    page = json.loads(MARKET_PAGES[1].read_text())
    page["markets"][0]["close_time"] = "2025-11-15T05:59:00Z"
    changed = write_json(tmp_path, "changed.json", page)
    message = (
        f"{tmp_path / 'out' / 'markets.parquet'}: column 'ticker' must be unique: "
        "rows with the same key"
    )
    with pytest.raises(DataError, match=starts(message)):
        run("kalshi-markets", [changed], tmp_path / "out")


def test_merge_refuses_an_output_folder_holding_csv_tables(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "markets.csv").write_text("ticker\n")
    with pytest.raises(
        DataError, match=starts(f"{tmp_path / 'out' / 'markets.csv'}: the importers write")
    ):
        run("kalshi-markets", MARKET_PAGES, tmp_path / "out")


def test_merge_refuses_markets_of_one_event_on_two_days(tmp_path):
    page = json.loads(MARKET_PAGES[0].read_text())
    page["markets"][1]["ticker"] = "HIGHCHI-25NOV14-B40.5"  # the older series name, same day
    page["markets"][1]["event_ticker"] = "HIGHCHI-25NOV14"
    with pytest.raises(DataError, match="column 'event_ticker' must name exactly one"):
        run("kalshi-markets", [write_json(tmp_path, "p.json", page)], tmp_path / "out")


def test_write_leaves_every_table_untouched_when_one_write_fails(tmp_path, monkeypatch):
    run("kalshi-markets", MARKET_PAGES, tmp_path)
    before = snapshot(tmp_path)
    written = []

    def failing(table, where, **kwargs):  # the second table fails
        written.append(where)
        if len(written) == 2:
            raise OSError("disk full")
        return real(table, where, **kwargs)

    real = pq.write_table
    monkeypatch.setattr(pq, "write_table", failing)
    with pytest.raises(OSError, match="disk full"):
        run(
            "kalshi-price-history",
            [F / "kalshi-price-history-kxhighchi-25nov14-minute.csv"],
            tmp_path,
        )
    assert snapshot(tmp_path) == before  # markets was written to a temporary file, never moved


def test_import_command_reports_counts_and_fails_with_the_message(tmp_path):
    runner = CliRunner()
    out = tmp_path / "out"
    ok = runner.invoke(
        main,
        [
            "import",
            "asos",
            str(F / "asos_mdw_5min.csv"),
            "--city",
            "chi",
            "--out",
            str(out),
            "--params",
            str(tmp_path / "none.yaml"),
        ],
    )
    assert ok.exit_code == 0, ok.output
    assert f"{out / 'weather.parquet'}: 2 rows" in ok.output and "n_missing_temp: 1" in ok.output
    bad = runner.invoke(
        main, ["import", "orderbook-log", str(F / f"orderbook_log_{EVENT}.csv"), "--out", str(out)]
    )
    assert bad.exit_code == 2
    assert "tmaxedge: " in bad.output and "column 'timestamp' must name its time zone" in bad.output
    assert sorted(p.name for p in out.iterdir()) == ["weather.parquet"]


def test_merge_counts_rows_repeated_within_one_import_apart_from_known_ones(tmp_path):
    candles = F / f"{EVENT}-B44.5.json"
    first = run("kalshi-candles", [candles, candles], tmp_path)  # the same file given twice
    n_rows = first["quotes"]["n_rows"]
    assert first["quotes"]["n_repeated_in_import"] == n_rows
    assert first["quotes"]["n_already_present"] == 0
    again = run("kalshi-candles", [candles], tmp_path)
    assert again["quotes"]["n_already_present"] == n_rows
    assert again["quotes"]["n_repeated_in_import"] == 0


def test_two_imports_into_one_folder_at_once_keep_both(tmp_path, monkeypatch):
    """Each import reads the folder, merges and writes; without the lock both would read the
    tables before either wrote, and the second write would drop the first import's markets."""
    out = tmp_path / "out"
    run("kalshi-markets", [MARKET_PAGES[0]], out)
    page = json.loads(MARKET_PAGES[1].read_text())
    next_day = json.loads(
        json.dumps(page).replace("25NOV14", "25NOV15").replace("2025-11-1", "2025-11-2")
    )
    other = write_json(tmp_path, "next_day.json", next_day)
    real = io.read_source_table

    def slow_read(path):  # widens the window between an import's read and its write
        frame = real(path)
        time.sleep(0.5)
        return frame

    monkeypatch.setattr(io, "read_source_table", slow_read)
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        jobs = [pool.submit(run, "kalshi-markets", [p], out) for p in (MARKET_PAGES[1], other)]
        for job in jobs:
            job.result()
    tickers = set(read_out(out)["markets"]["ticker"])
    assert len(tickers) == 9  # 3 already there + 3 + 3
    assert {m["ticker"] for m in page["markets"] + next_day["markets"]} <= tickers
    assert sorted(p.name for p in out.iterdir()) == ["markets.parquet"]  # the lock is beside it


def test_import_command_prints_dropped_duplicates_and_notes(tmp_path):
    runner = CliRunner()
    out = tmp_path / "out"
    dollars = tmp_path / "kalshi-price-history-kxhighchi-25nov14-minute.csv"
    dollars.write_text("timestamp,39° or below,40° or above\n2025-11-14T18:00:00Z,0.45,0.55\n")
    args = ["--out", str(out), "--params", str(tmp_path / "none.yaml")]
    result = runner.invoke(
        main, ["import", "kalshi-price-history", str(dollars), "--price-units", "dollars", *args]
    )
    assert result.exit_code == 0, result.output
    assert f"note: {dollars}: chart prices read as dollars and converted to cents" in result.output
    page = write_json(tmp_path, "t.json", json.loads((F / "kalshi_trades.json").read_text()))
    result = runner.invoke(main, ["import", "kalshi-trades", str(page), str(page), *args])
    assert result.exit_code == 0, result.output
    assert "n_duplicate_trades: 5" in result.output
    assert f"{out / 'trades.parquet'}: 5 rows" in result.output


def test_merge_refuses_an_edited_table_or_ledger_in_the_folder(tmp_path):
    """Text in a numeric column of a Parquet table, or a ledger time stored as a number, would
    be converted by a guess; the importers refuse the folder's file instead, naming it."""
    run("kalshi-trades", [F / "kalshi_trades.json"], tmp_path)
    quotes = pq.read_table(tmp_path / "quotes.parquet").to_pandas()
    quotes.assign(volume=quotes["volume"].astype("str")).to_parquet(tmp_path / "quotes.parquet")
    message = f"{tmp_path / 'quotes.parquet'}: column 'volume' must be stored as a number"
    with pytest.raises(DataError, match=starts(message)):
        run("kalshi-candles", [F / f"{EVENT}-B44.5.json"], tmp_path)
    out = tmp_path / "other"
    run("kalshi-trades", [F / "kalshi_trades.json"], out)
    trades = pq.read_table(out / "trades.parquet").to_pandas()
    seconds = trades["created_time"].astype("int64") // 10**6
    trades.assign(created_time=seconds).to_parquet(out / "trades.parquet")
    message = f"{out / 'trades.parquet'}: column 'created_time' has type int64"
    with pytest.raises(DataError, match=starts(message)):
        run("kalshi-trades", [F / "kalshi_trades.json"], out)
