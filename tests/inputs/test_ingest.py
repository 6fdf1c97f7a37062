"""Tests for tmaxedge.inputs.ingest and stages/ingest.py: one test per contract rule, drops, same
bytes."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from corruptions import corrupt
from hypothesis import event, given, settings
from hypothesis import strategies as st
from tables import CITIES, NO_BOOK_TICKER, valid_tables

from tmaxedge.core import io
from tmaxedge.core.errors import DataError, UserError
from tmaxedge.inputs import contract
from tmaxedge.inputs.ingest import check_schema, ticker_slices, validate_tables

REPO = Path(__file__).resolve().parents[2]
SOURCE = "data/external"


def validate(tables: dict[str, pd.DataFrame]):
    """Validate as if every table came from ``data/external/<table>.csv``."""
    return validate_tables(tables, CITIES, SOURCE, {name: f"{name}.csv" for name in tables})


def expect(table: str, column: str, rule: str) -> str:
    """The start of the message: file, column, rule."""
    return re.escape(f"{SOURCE}/{table}.csv: column '{column}' {rule}")


def set_value(frame: pd.DataFrame, row: int, column: str, value) -> None:
    """Put ``value`` in one cell, loosening the column's dtype to ``object`` so any value fits."""
    frame[column] = frame[column].astype(object)
    frame.loc[row, column] = value


def write_csv_source(tables: dict[str, pd.DataFrame], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        frame.to_csv(folder / f"{name}.csv", index=False)


def write_parquet_source(tables: dict[str, pd.DataFrame], folder: Path) -> None:
    for name, frame in tables.items():
        io.write_parquet_atomic(frame, folder / f"{name}.parquet")


def read_source(folder: Path) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    paths = io.find_source_tables(folder, contract.TABLES, contract.OPTIONAL_TABLES)
    tables = {name: io.read_source_table(path) for name, path in paths.items()}
    return tables, {name: path.name for name, path in paths.items()}


# --- valid input -------------------------------------------------------------------------------


def test_validate_tables_returns_valid_tables_unchanged_with_contract_dtypes():
    tables = valid_tables()
    raw, metrics = validate(valid_tables())
    assert set(raw) == set(contract.TABLES)
    for name, frame in raw.items():
        assert list(frame.columns) == list(contract.RAW_DTYPES[name])
        dtypes = {c: str(d) for c, d in frame.dtypes.items()}
        expected = {c: "object" if d == "date" else d for c, d in contract.RAW_DTYPES[name].items()}
        assert dtypes == expected, name
        expected_rows = tables[name].sort_values(contract.KEYS[name], ignore_index=True)
        pd.testing.assert_frame_equal(frame, expected_rows)
    assert metrics["quotes"] == {
        "n_read": 72,
        "n_dropped_duplicate": 0,
        "n_dropped_after_close": 0,  # the last quote of each market is exactly at close_time
        "n_columns_ignored": 0,
        "n_written": 72,
    }
    assert (metrics["has_oracle"], metrics["n_markets"], metrics["n_events"]) == (True, 24, 4)
    assert (metrics["n_markets_without_book"], metrics["n_markets_without_quotes"]) == (1, 0)


def test_validate_tables_gives_the_same_tables_for_shuffled_rows():
    reference, _ = validate(valid_tables())
    rng = np.random.default_rng(7)
    shuffled = {n: f.sample(frac=1, random_state=rng) for n, f in valid_tables().items()}
    raw, _ = validate(shuffled)
    for name in contract.TABLES:
        pd.testing.assert_frame_equal(raw[name], reference[name])


def test_validate_tables_gives_identical_tables_from_csv_and_parquet(tmp_path):
    write_csv_source(valid_tables(), tmp_path / "csv")
    write_parquet_source(valid_tables(), tmp_path / "parquet")
    from_csv, _ = validate_tables(read_source(tmp_path / "csv")[0], CITIES, "csv")
    from_parquet, _ = validate_tables(read_source(tmp_path / "parquet")[0], CITIES, "parquet")
    for name in contract.TABLES:
        pd.testing.assert_frame_equal(from_csv[name], from_parquet[name])
    expected = valid_tables()["quotes"].sort_values(["ticker", "ts"], ignore_index=True)
    pd.testing.assert_frame_equal(from_csv["quotes"], expected)


def test_validate_tables_converts_zone_offsets_to_utc():
    tables = valid_tables()
    weather = tables["weather"]
    weather["ts"] = weather["ts"].dt.tz_convert("America/Chicago").astype(str)  # "-05:00" text
    raw, _ = validate(tables)
    assert str(raw["weather"]["ts"].dtype) == "datetime64[us, UTC]"
    pd.testing.assert_series_equal(raw["weather"]["ts"], valid_tables()["weather"]["ts"])


def test_validate_tables_writes_an_empty_oracle_when_the_source_has_none():
    tables = valid_tables()
    del tables["oracle"]
    raw, metrics = validate(tables)
    assert raw["oracle"].empty and list(raw["oracle"].columns) == ["ticker", "ts", "p_true"]
    assert metrics["has_oracle"] is False and metrics["oracle"]["n_read"] == 0


def test_validate_tables_accepts_markets_with_trade_prices_only():
    tables = valid_tables()
    quotes = tables["quotes"]
    no_book = quotes["ticker"].str.startswith("KXHIGHAUS-24APR02")
    quotes.loc[no_book, ["yes_bid", "yes_ask"]] = pd.NA
    quotes.loc[no_book, "price"] = 50
    _, metrics = validate(tables)
    assert metrics["n_markets_without_book"] == 1 + 6  # NO_BOOK_TICKER and one whole event


def test_validate_tables_ignores_and_counts_extra_columns():
    tables = valid_tables()
    tables["markets"]["title"] = "Highest temperature in Chicago"
    raw, metrics = validate(tables)
    assert "title" not in raw["markets"].columns
    assert metrics["markets"]["n_columns_ignored"] == 1


# --- droppable rows ----------------------------------------------------------------------------


def test_validate_tables_drops_and_counts_quotes_after_close():
    tables = valid_tables()
    markets = tables["markets"].set_index("ticker")
    late = tables["quotes"].iloc[[2, 5]].copy()  # last rows of two markets: at close_time
    late["ts"] = late["ts"] + pd.Timedelta(minutes=1)
    late_oracle = late[["ticker", "ts"]].assign(p_true=1.0)
    tables["quotes"] = pd.concat([tables["quotes"], late], ignore_index=True)
    tables["oracle"] = pd.concat([tables["oracle"], late_oracle], ignore_index=True)
    raw, metrics = validate(tables)
    assert metrics["quotes"]["n_dropped_after_close"] == 2
    assert metrics["oracle"]["n_dropped_after_close"] == 2
    assert metrics["quotes"]["n_written"] == 72
    close = raw["quotes"]["ticker"].map(markets["close_time"])
    assert (raw["quotes"]["ts"] <= close).all()


def test_validate_tables_drops_and_counts_exact_duplicates():
    tables = valid_tables()
    for name in ("quotes", "weather", "markets"):
        tables[name] = pd.concat([tables[name], tables[name].iloc[[0, 3]]], ignore_index=True)
    raw, metrics = validate(tables)
    for name, n_written in (("quotes", 72), ("weather", 16), ("markets", 24)):
        assert metrics[name]["n_dropped_duplicate"] == 2
        assert metrics[name]["n_written"] == len(raw[name]) == n_written


# --- refused input: one test per rule ------------------------------------------------------------


def test_validate_tables_refuses_missing_column():
    tables = valid_tables()
    tables["markets"] = tables["markets"].drop(columns="close_time")
    with pytest.raises(DataError, match=expect("markets", "close_time", "is missing")):
        validate(tables)


def test_validate_tables_refuses_missing_table():
    tables = valid_tables()
    del tables["settlements"]
    with pytest.raises(DataError, match=re.escape("table(s) ['settlements'] missing")):
        validate(tables)


@pytest.mark.parametrize(
    ("table", "column", "value", "rule"),
    [
        ("quotes", "yes_bid", "abc", "must be an integer"),  # text in a cents column
        ("quotes", "price", 42.5, "must be an integer"),  # a fraction of a cent
        ("quotes", "volume", True, "must be an integer"),
        ("quotes", "open_interest", "1e30", "must be an integer of at most 2**53"),  # a TypeError
        ("markets", "floor_strike", "high", "must be a number"),
        ("markets", "ticker", 17, "must be text"),
        ("markets", "open_time", "2024-13-45T00:00Z", "must be an ISO 8601 timestamp"),
        ("settlements", "date", "2024-04-01 05:00", "must be a calendar date"),
        ("settlements", "tmax_f", None, "must not be null"),
    ],
)
def test_validate_tables_refuses_wrong_type(table, column, value, rule):
    tables = valid_tables()
    if column == "volume":  # a whole boolean column
        tables[table][column] = tables[table][column].notna()
    else:
        set_value(tables[table], 1, column, value)
    with pytest.raises(DataError, match=expect(table, column, rule)):
        validate(tables)


@pytest.mark.parametrize(
    ("table", "column", "value", "rule"),
    [
        ("quotes", "yes_bid", -1, "must be integer cents in 0..100"),
        ("quotes", "yes_ask", 101, "must be integer cents in 0..100"),
        ("quotes", "price", 250, "must be integer cents in 0..100"),
        ("quotes", "volume", -3, "must be an integer >= 0"),
        ("quotes", "open_interest", -1, "must be an integer >= 0"),
        ("oracle", "p_true", 1.5, "must be a probability in 0..1"),
        ("weather", "temp_f", -9999.0, "must be a plausible temperature"),  # a missing-value code
        ("weather", "temp_f", np.inf, "must be a finite number"),
        ("settlements", "tmax_f", 999, "must be a plausible temperature"),
        ("markets", "strike_type", "greater_or_equal", "must be one of"),
        ("markets", "result", "maybe", "must be 'yes', 'no' or null"),
        ("markets", "event_date", None, "must not be null"),
    ],
)
def test_validate_tables_refuses_value_out_of_range(table, column, value, rule):
    tables = valid_tables()
    tables[table].loc[1, column] = value
    with pytest.raises(DataError, match=expect(table, column, rule)) as error:
        validate(tables)
    assert "1 of " in str(error.value)  # counts the one offending row


def test_validate_tables_names_other_broken_schema_rules():
    tables = valid_tables()
    tables["quotes"].loc[4, "price"] = 101
    tables["quotes"].loc[5, "yes_bid"] = -1
    with pytest.raises(DataError, match=expect("quotes", "yes_bid", "must be integer")) as error:
        validate(tables)
    assert "also broken: column 'price' must be integer cents in 0..100" in str(error.value)


def test_validate_tables_refuses_bid_not_below_ask():
    tables = valid_tables()
    tables["quotes"].loc[3, "yes_ask"] = tables["quotes"].loc[3, "yes_bid"]
    with pytest.raises(DataError, match=expect("quotes", "yes_bid, yes_ask", "must satisfy")):
        validate(tables)


def test_validate_tables_refuses_conflicting_duplicate_quotes():
    tables = valid_tables()
    twin = tables["quotes"].iloc[[0]].assign(price=77)
    tables["quotes"] = pd.concat([tables["quotes"], twin], ignore_index=True)
    with pytest.raises(DataError, match=expect("quotes", "ticker, ts", "must be unique")) as error:
        validate(tables)
    assert "2 of 73 rows break it" in str(error.value)


def test_validate_tables_refuses_conflicting_duplicate_markets():
    tables = valid_tables()
    twin = tables["markets"].iloc[[0]].assign(result="yes")  # the original says "no"
    tables["markets"] = pd.concat([tables["markets"], twin], ignore_index=True)
    with pytest.raises(DataError, match=expect("markets", "ticker", "must be unique")):
        validate(tables)


@pytest.mark.parametrize("table", ["markets", "weather", "settlements"])
def test_validate_tables_refuses_unknown_city(table):
    tables = valid_tables()
    tables[table].loc[0, "city"] = "sfo"
    with pytest.raises(DataError, match=expect(table, "city", "must be a city code")):
        validate(tables)


@pytest.mark.parametrize("table", ["quotes", "oracle"])
def test_validate_tables_refuses_unknown_ticker(table):
    tables = valid_tables()
    tables[table].loc[0, "ticker"] = "KXHIGHCHI-24APR01-B99.5"
    with pytest.raises(DataError, match=expect(table, "ticker", "must name a market")):
        validate(tables)


def test_validate_tables_refuses_event_without_settlement():
    tables = valid_tables()
    tables["settlements"] = tables["settlements"].iloc[1:]
    message = expect("markets", "city, event_date", "must have a settlement")
    with pytest.raises(DataError, match=message):
        validate(tables)


def test_validate_tables_refuses_result_disagreeing_with_settlement():
    tables = valid_tables()
    tables["settlements"].loc[0, "tmax_f"] += 2  # aus 04-01: 45 -> 47 moves YES to B46.5
    with pytest.raises(DataError, match=expect("markets", "result", "must agree")) as error:
        validate(tables)
    assert "2 of 24 rows break it" in str(error.value)  # B44.5 says yes, B46.5 says no


@pytest.mark.parametrize(
    ("row", "column", "value"),
    [
        (2, "cap_strike", 42.0),  # B42.5 becomes 42..42: T = 43 is YES for no market
        (5, "floor_strike", 46.0),  # greater than 46: T = 47 is YES for two markets
        (1, "floor_strike", 39.0),  # B40.5 becomes 39..41: overlaps the lower tail at 39
    ],
)
def test_validate_tables_refuses_event_not_partitioning_the_integers(row, column, value):
    tables = valid_tables()
    tables["markets"].loc[row, column] = value
    message = expect("markets", "floor_strike, cap_strike", "must partition")
    with pytest.raises(DataError, match=message) as error:
        validate(tables)
    assert "6 of 24 rows break it" in str(error.value)  # every market of the one event


def test_validate_tables_refuses_event_without_a_tail():
    tables = valid_tables()
    tables["markets"] = tables["markets"].drop(index=0)  # no "less" market: T = 39 is nobody's
    message = expect("markets", "floor_strike, cap_strike", "must partition")
    with pytest.raises(DataError, match=message):
        validate(tables)


@pytest.mark.parametrize(
    ("row", "column", "value"),
    [
        (0, "floor_strike", 30.0),  # less with a floor
        (5, "cap_strike", 90.0),  # greater with a cap
        (1, "cap_strike", np.nan),  # between without a cap
        (1, "floor_strike", 42.0),  # between with floor > cap
    ],
)
def test_validate_tables_refuses_strikes_inconsistent_with_strike_type(row, column, value):
    tables = valid_tables()
    tables["markets"].loc[row, column] = value
    message = expect("markets", "floor_strike, cap_strike", "must fit strike_type")
    with pytest.raises(DataError, match=message):
        validate(tables)


def test_validate_tables_refuses_close_not_after_open():
    tables = valid_tables()
    tables["markets"].loc[3, "close_time"] = tables["markets"].loc[3, "open_time"]
    message = expect("markets", "close_time", "must be later than 'open_time'")
    with pytest.raises(DataError, match=message):
        validate(tables)


def test_validate_tables_refuses_event_ticker_for_two_days():
    tables = valid_tables()
    tables["markets"].loc[6:11, "event_ticker"] = tables["markets"].loc[0, "event_ticker"]
    with pytest.raises(DataError, match=expect("markets", "event_ticker", "must name exactly one")):
        validate(tables)


def test_validate_tables_refuses_oracle_not_matching_quotes():
    tables = valid_tables()
    tables["oracle"] = tables["oracle"].drop(index=4)
    with pytest.raises(DataError, match=expect("quotes", "ticker, ts", "must have an oracle row")):
        validate(tables)


def test_validate_tables_refuses_naive_timestamp_in_csv(tmp_path):
    write_csv_source(valid_tables(), tmp_path)
    path = tmp_path / "quotes.csv"
    text = path.read_text().splitlines()
    text[3] = text[3].replace("+00:00", "")  # third data row, 0-based row 2
    path.write_text("\n".join(text) + "\n")
    tables, names = read_source(tmp_path)
    message = f"{tmp_path}/quotes.csv: column 'ts' must be a timezone-aware UTC"
    with pytest.raises(DataError, match=re.escape(message)) as error:
        validate_tables(tables, CITIES, str(tmp_path), names)
    assert "1 of 72 rows break it" in str(error.value)


def test_validate_tables_refuses_naive_timestamp_in_parquet():
    tables = valid_tables()
    tables["weather"]["ts"] = tables["weather"]["ts"].dt.tz_localize(None)
    with pytest.raises(DataError, match=expect("weather", "ts", "must be a timezone-aware UTC")):
        validate(tables)


def test_find_source_tables_refuses_csv_and_parquet_of_one_table(tmp_path):
    write_csv_source(valid_tables(), tmp_path)
    io.write_parquet_atomic(valid_tables()["weather"], tmp_path / "weather.parquet")
    with pytest.raises(DataError, match="both weather.parquet and weather.csv exist"):
        io.find_source_tables(tmp_path, contract.TABLES, contract.OPTIONAL_TABLES)


# --- the stage script ----------------------------------------------------------------------------


def run_stage(workdir: Path, source: str = "data/synthetic") -> subprocess.CompletedProcess:
    shutil.copy(REPO / "params.yaml", workdir / "params.yaml")
    script = str(REPO / "stages" / "ingest.py")
    command = [sys.executable, script, source, "data/raw", "metrics/ingest.json"]
    return subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=120)


def snapshot(folder: Path) -> dict[str, bytes]:
    files = sorted(path for path in folder.rglob("*") if path.is_file())
    return {str(path.relative_to(folder)): path.read_bytes() for path in files}


def test_ingest_stage_on_bad_source_exits_nonzero_and_writes_nothing(tmp_path):
    tables = valid_tables()
    tables["quotes"].loc[3, "yes_ask"] = tables["quotes"].loc[3, "yes_bid"]
    source = tmp_path / "data" / "synthetic"
    write_parquet_source(tables, source)
    before = snapshot(source)
    result = run_stage(tmp_path)
    assert result.returncode == 2
    message = result.stderr[result.stderr.find("\ntmaxedge: ") + 1 :]  # after the INFO lines
    assert message.startswith(
        "tmaxedge: data/synthetic/quotes.parquet: column 'yes_bid, yes_ask' must satisfy"
    )
    assert "Traceback" not in result.stderr
    assert snapshot(source) == before
    assert not (tmp_path / "data" / "raw").exists() and not (tmp_path / "metrics").exists()


def test_ingest_waits_for_an_import_into_its_source_folder(tmp_path):
    # an import holds the folder's lock around its read-merge-write; ingest reading meanwhile
    # could take some tables from before the import and others from after it
    write_parquet_source(valid_tables(), tmp_path / "data" / "external")
    shutil.copy(REPO / "params.yaml", tmp_path / "params.yaml")
    script = str(REPO / "stages" / "ingest.py")
    command = [sys.executable, script, "data/external", "data/raw", "metrics/ingest.json"]
    with io.folder_lock(tmp_path / "data" / "external"):
        stage = subprocess.Popen(command, cwd=tmp_path, stderr=subprocess.PIPE, text=True)
        said = ""
        while "waiting for another import into" not in said:
            line = stage.stderr.readline()
            assert line or stage.poll() is None, f"ingest ended without waiting: {said}"
            said += line
        assert stage.poll() is None and not (tmp_path / "data" / "raw").exists()
    assert stage.wait(timeout=120) == 0, stage.stderr.read()
    assert (tmp_path / "data" / "raw" / "quotes.parquet").exists()


def test_ingest_stage_writes_the_same_bytes_twice(tmp_path):
    write_csv_source(valid_tables(), tmp_path / "data" / "synthetic")
    first = run_stage(tmp_path)
    assert first.returncode == 0, first.stderr
    outputs = snapshot(tmp_path / "data" / "raw") | snapshot(tmp_path / "metrics")
    assert set(outputs) == {f"{name}.parquet" for name in contract.TABLES} | {"ingest.json"}
    shutil.rmtree(tmp_path / "data" / "raw")
    second = run_stage(tmp_path)
    assert second.returncode == 0, second.stderr
    assert snapshot(tmp_path / "data" / "raw") | snapshot(tmp_path / "metrics") == outputs
    quotes = pd.read_parquet(tmp_path / "data" / "raw" / "quotes.parquet")
    assert str(quotes["ts"].dtype) == "datetime64[us, UTC]"
    assert NO_BOOK_TICKER in set(quotes["ticker"])


def test_validate_tables_refuses_numbers_stored_as_text_in_parquet(tmp_path):
    tables = valid_tables()
    tables["quotes"]["yes_bid"] = tables["quotes"]["yes_bid"].astype("str")  # "12", "<NA>"...
    write_parquet_source(tables, tmp_path)
    read, names = read_source(tmp_path)
    message = f"{SOURCE}/quotes.parquet: column 'yes_bid' must be stored as a number, not as text"
    with pytest.raises(DataError, match=re.escape(message)):
        validate_tables(read, CITIES, SOURCE, names)


def test_validate_tables_parses_numbers_from_csv_text(tmp_path):
    write_csv_source(valid_tables(), tmp_path)  # every CSV cell is text: parsed, as documented
    read, names = read_source(tmp_path)
    normalised, _ = validate_tables(read, CITIES, SOURCE, names)
    assert str(normalised["quotes"]["yes_bid"].dtype) == "Int64"


def run_stage_here(
    workdir: Path, monkeypatch, source: str = "data/synthetic", rows_per_slice: int | None = None
) -> int:
    """stages/ingest.py's main() in this process, so a test can make one of its writes fail or
    make its slices of quote rows small."""
    shutil.copy(REPO / "params.yaml", workdir / "params.yaml")
    monkeypatch.chdir(workdir)
    monkeypatch.setattr(sys, "argv", ["ingest.py", source, "data/raw", "metrics/ingest.json"])
    spec = importlib.util.spec_from_file_location("ingest_stage", REPO / "stages" / "ingest.py")
    stage = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(stage)
    if rows_per_slice is not None:
        stage.ROWS_PER_SLICE = rows_per_slice
    return stage.main()


def write_small_row_groups(tables: dict[str, pd.DataFrame], folder: Path, shuffle: bool) -> None:
    """Parquet tables in row groups of 10 rows, the rows sorted as given or shuffled."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        if shuffle:
            frame = frame.sample(frac=1, random_state=3)
        table = pa.Table.from_pandas(frame, preserve_index=False)
        pq.write_table(table, folder / f"{name}.parquet", row_group_size=10)


def written_tables(workdir: Path) -> tuple[dict[str, pd.DataFrame], bytes]:
    raw = workdir / "data" / "raw"
    frames = {name: pd.read_parquet(raw / f"{name}.parquet") for name in contract.TABLES}
    return frames, (workdir / "metrics" / "ingest.json").read_bytes()


@pytest.mark.parametrize("layout", ["csv", "parquet sorted", "parquet shuffled"])
def test_ingest_stage_in_slices_of_tickers_writes_what_one_pass_writes(
    tmp_path, monkeypatch, caplog, layout
):
    # 72 quote rows, 3 per market: slices of at most 7 rows are 24 // 2 = 12 slices
    source = tmp_path / "data" / "synthetic"
    tables = valid_tables()
    tables["quotes"] = pd.concat([tables["quotes"], tables["quotes"].iloc[[5, 40]]])  # repeats
    tables["quotes"]["venue_note"] = "x"  # a column outside the contract: ignored, said once
    if layout == "csv":
        write_csv_source(tables, source)
        monkeypatch.setattr(io, "CSV_CHUNK_ROWS", 10)
    else:
        write_small_row_groups(tables, source, shuffle=layout.endswith("shuffled"))
    assert run_stage_here(tmp_path, monkeypatch) == 0
    whole = written_tables(tmp_path)
    shutil.rmtree(tmp_path / "data" / "raw")
    reads = []
    monkeypatch.setattr(io, "read_source_slice", spy(io.read_source_slice, reads))
    assert run_stage_here(tmp_path, monkeypatch, rows_per_slice=7) == 0
    sliced = written_tables(tmp_path)
    assert len(reads) == 2 * 12  # quotes and oracle, 12 slices each
    for name in contract.TABLES:
        pd.testing.assert_frame_equal(sliced[0][name], whole[0][name], check_exact=True)
    assert sliced[1] == whole[1]  # the metrics file, byte for byte
    quotes = json.loads(sliced[1])["quotes"]
    assert (quotes["n_dropped_duplicate"], quotes["n_columns_ignored"]) == (2, 1)
    said = [r for r in caplog.records if "outside the contract: ['venue_note']" in r.getMessage()]
    assert len(said) == 2  # once in each run, not once per slice


def spy(function, calls: list):
    def recorded(*args, **kwargs):
        calls.append(args)
        return function(*args, **kwargs)

    return recorded


def test_a_bad_row_in_a_slice_is_named_by_its_row_in_the_file(tmp_path, monkeypatch):
    tables = valid_tables()
    quotes = tables["quotes"].sample(frac=1, random_state=5, ignore_index=True)
    quotes.loc[50, "yes_ask"] = quotes.loc[50, "yes_bid"]  # crossed, in the file's row 50
    tables["quotes"] = quotes
    source = tmp_path / "data" / "synthetic"
    write_small_row_groups(tables, source, shuffle=False)
    ticker = quotes.loc[50, "ticker"]
    with pytest.raises(DataError) as refused:
        run_stage_here(tmp_path, monkeypatch, rows_per_slice=7)
    message = str(refused.value)
    assert message.startswith("data/synthetic/quotes.parquet (tickers from ")
    assert "column 'yes_bid, yes_ask' must satisfy yes_bid < yes_ask" in message
    assert re.search(rf"\n\s*50\s+{ticker}\b", message), message
    assert not (tmp_path / "data" / "raw").exists()


def test_ticker_slices_hold_at_most_the_budget_and_cover_every_ticker():
    rows = {"B": 3, "A": 3, "C": 3, "D": 1, "E": 9}
    assert ticker_slices(rows, 6) == [(None, "C"), ("C", "E"), ("E", None)]
    assert ticker_slices(rows, 100) == [(None, None)]
    assert ticker_slices({}, 6) == [(None, None)]


def test_read_source_slice_puts_null_and_unknown_tickers_in_a_slice(tmp_path):
    frame = pd.DataFrame({"ticker": ["B", None, "A", "Z", "C"], "x": [1, 2, 3, 4, 5]})
    for kind in ("csv", "parquet"):
        path = tmp_path / f"t.{kind}"
        frame.to_csv(path, index=False) if kind == "csv" else frame.to_parquet(path)
        parts = [
            io.read_source_slice(path, "ticker", lo, hi) for lo, hi in [(None, "B"), ("B", None)]
        ]
        assert [p.index.tolist() for p in parts] == [[1, 2], [0, 3, 4]], kind
        assert io.count_values(path, "ticker") == {"A": 1, "B": 1, "C": 1, "Z": 1}


def test_ingest_stage_writes_every_table_or_none(tmp_path, monkeypatch):
    source = tmp_path / "data" / "synthetic"
    write_parquet_source(valid_tables(), source)
    assert run_stage_here(tmp_path, monkeypatch) == 0
    changed = valid_tables()  # the next run's markets, quotes and weather differ
    changed["markets"]["open_time"] -= pd.Timedelta(minutes=1)
    changed["quotes"]["volume"] += 1
    changed["weather"]["temp_f"] += 1.0
    write_parquet_source(changed, source)
    before = snapshot(tmp_path / "data" / "raw")
    real, written = io.write_parquet_atomic, []

    def failing(frame, target, *args, **kwargs):  # the second table's write fails
        written.append(target)
        if len(written) == 2:
            raise OSError("disk full")
        return real(frame, target, *args, **kwargs)

    monkeypatch.setattr(io, "write_parquet_atomic", failing)
    with pytest.raises(OSError, match="disk full"):
        run_stage_here(tmp_path, monkeypatch)
    assert snapshot(tmp_path / "data" / "raw") == before  # not one table replaced
    left = sorted(p.name for p in (tmp_path / "data").iterdir())
    assert left == [".synthetic.import.lock", "raw", "synthetic"]  # no temporary folder left


# --- fuzz: corrupted source tables -------------------------------------------------------------


def corrupt_parquet(data, frame: pd.DataFrame) -> tuple[pd.DataFrame, bool]:
    """A table as a careless writer might save it; True when only rows were repeated."""
    op = data.draw(st.sampled_from(["drop", "as_text", "repeat", "head"]), label="frame_op")
    column = data.draw(st.sampled_from(list(frame.columns)), label="column")
    if op == "drop":
        return frame.drop(columns=column), False
    if op == "as_text":  # numbers (or times) stored as strings
        return frame.assign(**{column: frame[column].astype("str")}), False
    rows = data.draw(st.lists(st.integers(0, len(frame) - 1), max_size=5), label="rows")
    if op == "repeat":
        return pd.concat([frame, frame.iloc[rows]], ignore_index=True), True
    return frame.head(len(rows)), False


@settings(max_examples=50, deadline=None, derandomize=True)
@given(data=st.data())
def test_a_corrupted_source_table_is_read_exactly_or_refused_naming_a_file(data):
    kind = data.draw(st.sampled_from(["csv", "parquet"]), label="format")
    table = data.draw(st.sampled_from(contract.TABLES), label="table")
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "external"
        tables = valid_tables()
        path = source / f"{table}.{kind}"
        write = write_csv_source if kind == "csv" else write_parquet_source
        if kind == "parquet" and data.draw(st.booleans(), label="frame_level"):
            tables[table], neutral = corrupt_parquet(data, tables[table])
            write(tables, source)
        else:  # the file's bytes: truncated, garbage, and for a CSV its lines and fields
            write(tables, source)
            content, neutral = corrupt(data, path.name, path.read_bytes())
            path.write_bytes(content)
        given_bytes = snapshot(source)
        try:
            read, names = read_source(source)
            normalised, _ = validate_tables(read, CITIES, str(source), names)
        except UserError as error:
            event(f"refused: {str(error).split(': ', 2)[1][:30]}")  # --hypothesis-show-statistics
            message = str(error)
            assert any(f"{source}/{name}.{kind}" in message for name in contract.TABLES), message
        else:
            event(f"read{' (repeated rows only)' if neutral else ''}")
            if neutral:
                clean, _ = validate(valid_tables())
                for name, frame in clean.items():
                    pd.testing.assert_frame_equal(normalised[name], frame)
            for name, frame in normalised.items():
                check_schema(frame, name, name)
        assert snapshot(source) == given_bytes
