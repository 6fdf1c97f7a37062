"""Tests for importers.kalshi_trades on trade tables: Parquet, CSV, JSON lines and JSON arrays.

Every table here is written by the test itself from a few trades.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from importer_support import EVENT, read_out, rows, run, snapshot, starts, utc, write, write_json

from tmaxedge.core.errors import DataError
from tmaxedge.inputs.importers import kalshi_trades
from tmaxedge.inputs.importers import values as v

T40, B46 = f"{EVENT}-T40", f"{EVENT}-B46.5"
SAME = "2025-11-14T17:00:10Z"  # three trades at one instant
TRADES = [
    # trade_id, ticker, created_time, yes_price, count, taker_side
    ("a1", T40, "2025-11-14T17:00:00Z", 6, 5, "yes"),
    ("c3", T40, SAME, 8, 10, "no"),
    ("a9", T40, SAME, 7, 1, "yes"),
    ("b2", T40, SAME, 9, 2, None),
    ("d4", T40, "2025-11-14T17:01:30Z", 7, 4, "no"),
    ("e5", B46, "2025-11-14T17:00:30Z", 15, 1, "yes"),
]
COLUMNS = ["ticker", "ts", "yes_bid", "yes_ask", "price", "volume", "open_interest"]


def table(trades=TRADES, **extra) -> pd.DataFrame:
    """Trades as a table of Kalshi's fields (times as text), plus ``extra`` columns."""
    frame = pd.DataFrame(
        trades, columns=["trade_id", "ticker", "created_time", "yes_price", "count", "taker_side"]
    )
    frame["no_price"] = 100 - frame["yes_price"]
    return frame.assign(**extra)


def write_table(folder: Path, name: str, frame: pd.DataFrame) -> Path:
    """``frame`` in the format of ``name``'s suffix; Parquet times as tz-aware timestamps."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    if path.suffix == ".parquet":
        times = pd.to_datetime(frame["created_time"], utc=True)
        frame.assign(created_time=times).to_parquet(path, index=False)
    elif path.suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        objects = [
            {key: value for key, value in item.items() if not pd.isna(value)}
            for item in frame.to_dict("records")
        ]
        if path.suffix == ".jsonl":
            path.write_text("".join(json.dumps(item) + "\n" for item in objects))
        else:
            path.write_text(json.dumps(objects))
    return path


@pytest.mark.parametrize("name", ["t.parquet", "t.csv", "t.jsonl", "t.json"])
def test_a_trade_table_gives_the_last_price_and_total_size_per_minute(tmp_path, name):
    counts = run("kalshi-trades", [write_table(tmp_path, name, table())], tmp_path / "out")
    assert rows(read_out(tmp_path / "out")["quotes"], COLUMNS) == {
        # 17:00 of T40: a1 6x5 then c3, a9, b2 at one instant; the greatest id, c3, is last
        (T40, utc("2025-11-14 17:01"), None, None, 8, 18, None),
        (T40, utc("2025-11-14 17:02"), None, None, 7, 4, None),
        (B46, utc("2025-11-14 17:01"), None, None, 15, 1, None),
    }
    assert counts["n_trades"] == 6 and counts["n_duplicate_trades"] == 0


def test_parquet_csv_and_json_of_the_same_trades_give_byte_identical_tables(tmp_path):
    shuffled = table().iloc[[4, 2, 0, 5, 3, 1]]  # row order does not matter either
    outputs = []
    for name, frame in [
        ("t.parquet", table()),
        ("t.csv", table()),
        ("t.json", table()),
        ("t.jsonl", table()),
        ("shuffled.csv", shuffled),
    ]:
        out = tmp_path / f"out-{name}"
        run("kalshi-trades", [write_table(tmp_path / "in", name, frame)], out)
        outputs.append(snapshot(out))
    assert all(output == outputs[0] for output in outputs[1:])
    assert set(outputs[0]) == {"quotes.parquet", "trades.parquet"}


def test_the_ledger_keeps_the_taker_side_null_when_not_given(tmp_path):
    run("kalshi-trades", [write_table(tmp_path, "t.parquet", table())], tmp_path / "out")
    assert sides(tmp_path / "out") == {
        "a1": "yes",
        "c3": "no",
        "a9": "yes",
        "b2": None,
        "d4": "no",
        "e5": "yes",
    }


def test_a_table_without_taker_side_or_no_price_is_read(tmp_path):
    frame = table().drop(columns=["taker_side", "no_price"])
    run("kalshi-trades", [write_table(tmp_path, "t.csv", frame)], tmp_path / "out")
    trades = pd.read_parquet(tmp_path / "out" / "trades.parquet")
    assert trades["taker_side"].isna().all() and len(trades) == 6


def test_extra_columns_are_ignored_counted_and_named(tmp_path):
    frame = table(source_file="2025-11-14.json", price=0.5)
    counts = run("kalshi-trades", [source := write_table(tmp_path, "t.csv", frame)], tmp_path / "o")
    assert counts["n_ignored_columns"] == 2
    assert counts["notes"] == [f"{source}: columns ignored: source_file, price"]


def test_dollar_and_fixed_point_spellings_are_read_as_the_api_writes_them(tmp_path):
    frame = table().drop(columns=["yes_price", "no_price", "count"])
    frame = frame.assign(
        yes_price_dollars=[f"{p / 100:.4f}" for p in table()["yes_price"]],
        count_fp=[f"{c}.00" for c in table()["count"]],
    )
    run("kalshi-trades", [write_table(tmp_path, "t.parquet", frame)], tmp_path / "dollars")
    run("kalshi-trades", [write_table(tmp_path, "t.csv", table())], tmp_path / "cents")
    assert snapshot(tmp_path / "dollars") == snapshot(tmp_path / "cents")


# --- each trade once, by trade_id -----------------------------------------------------------------


def test_a_trade_in_two_tables_is_counted_once(tmp_path):
    first = write_table(tmp_path, "first.parquet", table(TRADES[:4]))
    again = write_table(tmp_path, "again.csv", table(TRADES[2:]))  # a9, b2 in both
    counts = run("kalshi-trades", [first, again], tmp_path / "out")
    assert counts["n_trades"] == 8 and counts["n_duplicate_trades"] == 2
    assert counts["trades"]["n_rows"] == 6
    quotes = read_out(tmp_path / "out")["quotes"]
    assert (T40, utc("2025-11-14 17:01"), 8, 18) in rows(
        quotes, ["ticker", "ts", "price", "volume"]
    )


def test_a_table_repeating_a_response_adds_only_its_new_trades(tmp_path):
    out = tmp_path / "out"
    response = {"trades": [json_trade(*trade) for trade in reversed(TRADES[:3])]}
    run("kalshi-trades", [write_json(tmp_path, "page.json", response)], out)
    counts = run("kalshi-trades", [write_table(tmp_path, "t.parquet", table())], out)
    assert counts["trades"]["n_already_present"] == 3 and counts["trades"]["n_rows"] == 6
    assert counts["n_duplicate_trades"] == 0  # repeats of the ledger are counted there


def test_one_trade_id_for_two_trades_across_a_table_and_a_response_is_refused(tmp_path):
    out = tmp_path / "out"
    page = write_json(tmp_path, "page.json", {"trades": [json_trade(*TRADES[0])]})
    run("kalshi-trades", [page], out)
    before = snapshot(out)
    changed = table([("a1", T40, "2025-11-14T17:00:00Z", 6, 50, "yes")])  # another size
    source = write_table(tmp_path, "t.csv", changed)
    with pytest.raises(DataError, match=starts(f"{out / 'trades.parquet'}: column 'trade_id'")):
        run("kalshi-trades", [source], out)
    assert snapshot(out) == before
    other_side = write_table(tmp_path, "side.csv", table([(*TRADES[0][:5], "no")]))
    with pytest.raises(DataError, match="differ in ticker, created_time, yes_price, count or"):
        run("kalshi-trades", [page, other_side], tmp_path / "other")


def json_trade(trade_id, ticker, time, price, size, side) -> dict:
    """A trade as the API lists it (dollar and fixed-point spellings)."""
    return {
        "trade_id": trade_id,
        "ticker": ticker,
        "created_time": time,
        "yes_price_dollars": f"{price / 100:.4f}",
        "no_price_dollars": f"{(100 - price) / 100:.4f}",
        "count_fp": f"{size}.00",
        "taker_side": side,
    }


# --- the ledger's taker_side, old ledgers ---------------------------------------------------------


def test_a_ledger_written_without_taker_side_loads_and_learns_the_sides(tmp_path):
    out = tmp_path / "out"
    run("kalshi-trades", [write_table(tmp_path, "first.csv", table(TRADES[:3]))], out)
    ledger_path = out / "trades.parquet"
    pd.read_parquet(ledger_path).drop(columns="taker_side").to_parquet(ledger_path, index=False)
    counts = run("kalshi-trades", [write_table(tmp_path, "all.parquet", table())], out)
    assert counts["trades"] == {
        "n_imported": 6,
        "n_already_present": 3,
        "n_taker_sides_filled": 3,
        "n_rows": 6,
    }
    trades = pd.read_parquet(ledger_path)
    assert trades["taker_side"].notna().sum() == 5  # all but b2, which no file sides


def test_a_ledger_without_taker_side_takes_new_trades_without_one(tmp_path):
    out = tmp_path / "out"
    run("kalshi-trades", [write_table(tmp_path, "first.csv", table(TRADES[:1]))], out)
    ledger_path = out / "trades.parquet"
    pd.read_parquet(ledger_path).drop(columns="taker_side").to_parquet(ledger_path, index=False)
    page = write_json(tmp_path, "page.json", {"trades": [json_trade(*TRADES[4])]})
    run("kalshi-trades", [page], out)
    assert sides(out) == {"a1": None, "d4": "no"}


def sides(out: Path) -> dict[str, str | None]:
    """trade_id -> taker_side of the ledger in ``out`` (None where it holds no side)."""
    trades = pd.read_parquet(out / "trades.parquet")
    side = trades["taker_side"].astype(object).where(trades["taker_side"].notna(), None)
    return dict(zip(trades["trade_id"], side, strict=True))


# --- refused --------------------------------------------------------------------------------------


def test_a_no_price_that_is_not_100_minus_yes_price_is_refused_naming_its_rows(tmp_path):
    frame = table()
    frame.loc[[1, 4], "no_price"] = [90, 50]
    source = write_table(tmp_path, "t.parquet", frame)
    with pytest.raises(DataError, match=starts(f"{source}: column 'no_price' must equal")) as error:
        run("kalshi-trades", [source], tmp_path / "out")
    assert "2 of 6 rows break it" in str(error.value) and "c3" in str(error.value)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", ["t.parquet", "t.csv"])
def test_a_naive_timestamp_is_refused(tmp_path, name):
    frame = table()
    if name.endswith(".parquet"):  # a timestamp column without a zone
        path = tmp_path / name
        naive = frame.assign(
            created_time=pd.to_datetime(frame["created_time"], utc=True).dt.tz_localize(None)
        )
        naive.to_parquet(path, index=False)
    else:
        frame.loc[2, "created_time"] = "2025-11-14 17:00:10"
        path = write_table(tmp_path, name, frame)
    rule = f"{path}: column 'created_time' {kalshi_trades.TIME_RULE}"
    with pytest.raises(DataError, match=starts(rule)):
        run("kalshi-trades", [path], tmp_path / "out")


@pytest.mark.parametrize(
    "column, value, rule",
    [
        ("yes_price", "0.42", v.PRICE_RULE),  # a CSV's yes_price is cents: not 42¢ in dollars
        ("count", "2.5", v.COUNT_RULE),
        ("taker_side", "buy", kalshi_trades.SIDE_RULE),
    ],
)
def test_a_bad_cell_in_a_csv_is_refused(tmp_path, column, value, rule):
    frame = table().astype({column: object})
    frame.loc[0, column] = value
    frame["no_price"] = None
    source = write_table(tmp_path, "t.csv", frame)
    with pytest.raises(DataError, match=starts(f"{source}: column '{column}' {rule}")):
        run("kalshi-trades", [source], tmp_path / "out")


def test_a_table_without_a_price_column_is_refused_naming_both_spellings(tmp_path):
    source = write_table(tmp_path, "t.csv", table().drop(columns="yes_price"))
    message = f"{source}: column 'yes_price_dollars' or 'yes_price' is missing"
    with pytest.raises(DataError, match=starts(message)):
        run("kalshi-trades", [source], tmp_path / "out")


@pytest.mark.parametrize(
    "name, text, message",
    [
        ("t.parquet", "not parquet", "cannot be read as Parquet"),
        ("t.jsonl", '{"trade_id": "x"}\n[1]\n', "every line must be an object"),
        ("t.json", '{"cursor": ""}', "not a Kalshi trades response"),
    ],
)
def test_a_file_that_is_no_trade_table_is_refused_naming_it(tmp_path, name, text, message):
    source = write(tmp_path, name, text)
    with pytest.raises(DataError, match=starts(f"{source}: {message}")):
        run("kalshi-trades", [source], tmp_path / "out")
