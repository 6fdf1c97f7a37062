"""Tests for importers.common and the `tmaxedge import` command: merging, atomic writes, the
whole set of importers feeding `ingest.validate_tables`."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from importer_support import (
    EVENT,
    FIXTURES,
    MARKET_PAGES,
    read_out,
    run,
    snapshot,
    starts,
    write_json,
)

from tmaxedge.cli.main import main
from tmaxedge.core.errors import DataError
from tmaxedge.inputs import contract
from tmaxedge.inputs.importers.common import DEFAULT_CITIES
from tmaxedge.inputs.ingest import validate_tables

F = FIXTURES
EVERYTHING = [  # (kind, files, options): one event of Chicago from every kind of source
    ("kalshi-markets", MARKET_PAGES, {}),
    (
        "kalshi-candles",
        [F / f"{EVENT}-B44.5.json", F / f"historical_candles_{EVENT}-B42.5.json"],
        {},
    ),
    ("kalshi-trades", [F / "kalshi_trades.json"], {}),
    ("orderbook-log", [F / f"orderbook_log_{EVENT}.csv"], {"tz": "America/Los_Angeles"}),
    ("kalshi-price-history", [F / "kalshi-price-history-kxhighchi-25nov14-minute.csv"], {}),
    (
        "visual-crossing",
        [F / "visual_crossing_chi.json", F / "visual_crossing_chi.csv"],
        {"city": "chi"},
    ),
    ("asos", [F / "asos_mdw_5min.csv", F / "asos_mdw_1min.csv"], {"city": "chi"}),
    ("nws-cli", [F / "cli_mdw_25nov14.txt", F / "iem_cli_mdw.csv"], {"city": "chi"}),
]


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
        assert pq.read_schema(path).names == list(contract.RAW_DTYPES[path.stem])


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
