"""Merging imported rows into the output folder (data/external), one import at a time.

``merge_into`` is the edge: under the folder's lock it reads the tables an import touches,
merges the imported rows into them (``merge_tables``) and writes the changed tables. Merging:
rows equal to an existing row are skipped, rows with an existing key but other values are
refused (one ``DataError`` naming the table, the key, the rule and the rows on both sides, with
the imported files), and the single-table contract rules are checked; nothing is written when
anything fails. Trades go to the folder's trade ledger first (``importers.ledger``), and the
quote rows of the minutes they land in are recomputed from it.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from tmaxedge.core import io
from tmaxedge.core.config import City
from tmaxedge.core.errors import DataError, data_error
from tmaxedge.inputs import contract
from tmaxedge.inputs.importers import ledger
from tmaxedge.inputs.importers.common import IMPORT_TABLES, SOURCE, Imported
from tmaxedge.inputs.ingest import check_schema, coerce_table

log = logging.getLogger("tmaxedge")

_CONFLICT = (
    "must be unique: rows with the same key hold different values (column 'source' names the "
    "existing table or the imported file of each); fix or remove one side, nothing was written"
)
_CROSSED = "must satisfy yes_bid < yes_ask when both are present"
_STRIKES = (
    "must fit strike_type (less: floor null, cap set; greater: floor set, cap null; "
    "between: both set, floor <= cap)"
)
_CLOSE = "must be later than 'open_time' (a market closes after it opens)"
_EVENT = "must name exactly one (city, event_date), and each event one ticker"


def merge_into(imports: Sequence[Imported], out: Path, cities: Mapping[str, City]) -> dict:
    """Merge ``imports`` into the tables in ``out`` and write the changed ones; the counts.

    The read-merge-write holds ``out``'s lock: two imports into one folder at once would each
    merge into the tables as they were before the other wrote, and the later write would drop
    the earlier import's rows.
    """
    out = Path(out)
    with io.folder_lock(out):
        existing = read_existing(out, tables_needed(imports))
        tables, counts = merge_tables(existing, imports, cities, out)
        write_tables(tables, out)
    return counts


def read_existing(out: Path, tables: Sequence[str] = IMPORT_TABLES) -> dict[str, pd.DataFrame]:
    """``tables`` already in ``out`` (Parquet only), normalised, with ``source``."""
    found = {}
    for table in tables:
        if (out / f"{table}.csv").exists():
            raise DataError(
                f"{out / f'{table}.csv'}: the importers write {table}.parquet, and ingest refuses "
                "a folder holding both; convert the CSV to Parquet or import into another folder."
            )
        path = out / f"{table}.parquet"
        if not path.exists():
            continue
        frame = io.read_source_table(path)
        if table == ledger.TABLE:
            found[table] = ledger.read_ledger(frame, str(path))
            continue
        # the importers write typed columns: text in a numeric one is a hand edit, not a format
        frame, _ = coerce_table(frame, table, str(path), numbers_from_text=False)
        found[table] = frame.assign(**{SOURCE: str(path)})
    return found


def tables_needed(imports: Sequence[Imported]) -> list[str]:
    """The existing tables a merge reads: those imported into, quotes for trades (their minutes
    are recomputed), and markets for quotes (rows after close are dropped)."""
    touched = {table for item in imports for table in item.tables}
    if ledger.TABLE in touched:
        touched.add("quotes")
    if "quotes" in touched:
        touched.add("markets")
    return [table for table in (*IMPORT_TABLES, ledger.TABLE) if table in touched]


def merge_tables(
    existing: Mapping[str, pd.DataFrame],
    imports: Sequence[Imported],
    cities: Mapping[str, City],
    out: Path,
) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """Existing tables plus imported rows, checked; returns the changed tables and counts.

    Per table: exact repeats are skipped (``n_already_present`` when the folder held the row,
    ``n_repeated_in_import`` when an earlier imported row was the same); a market whose
    ``result`` is null on one side and set on the other takes the set value (a market imported
    before and after it settled; ``n_results_filled``); any other two rows with one key are a
    DataError. Trades are added to the ledger (each ``trade_id`` once) and the quote rows of the
    minutes they land in are recomputed from it (``n_trade_minutes_recomputed`` replaced rows).
    Quote rows stamped after their market's ``close_time`` are dropped
    (``n_dropped_after_close``); crossed quotes, unknown cities, strikes that do not fit their
    type, markets closing before they open and event tickers naming two days are DataErrors.
    Events that do not yet partition the integers only warn (``ingest`` refuses them).
    Returns ``(tables, counts)``: ``tables`` holds only tables that received rows, in contract
    columns and dtypes, sorted by ``contract.KEYS``; ``counts`` also holds the importers'
    ``notes`` (a list of lines) when they left any.
    """
    merged: dict[str, pd.DataFrame] = {}
    counts: dict[str, Any] = {}
    for item in imports:
        for name, value in item.counts.items():
            counts[name] = counts.get(name, 0) + value
    book = _merge_ledger(existing, imports, out)
    if book is not None:
        if book.n_new or book.n_sides_filled:
            merged[ledger.TABLE] = book.trades[list(ledger.DTYPES)]
        counts[ledger.TABLE] = {
            "n_imported": book.n_new + book.n_already_present,
            "n_already_present": book.n_already_present,
            "n_taker_sides_filled": book.n_sides_filled,
            "n_rows": len(book.trades),
        }
        counts["n_duplicate_trades"] = counts.get("n_duplicate_trades", 0) + book.n_repeated
    for table in IMPORT_TABLES:
        new = [item.tables[table] for item in imports if table in item.tables]
        if table == "quotes" and book is not None and len(book.quotes):
            new.append(book.quotes)
        if not new:
            continue
        where = str(out / f"{table}.parquet")
        old = existing.get(table, contract.empty_table(table).assign(**{SOURCE: ""}))
        if table == "quotes" and book is not None:
            old, n_recomputed = _without_rows(old, book.stale, list(contract.RAW_DTYPES[table]))
        pending = pd.concat(new, ignore_index=True)
        with _naming_files(new):
            frame, table_counts = _merge_one(table, old, pending, where)
            if table == "quotes":
                markets = merged.get("markets", existing.get("markets"))
                frame, table_counts["n_dropped_after_close"] = _drop_after_close(frame, markets)
                if book is not None:
                    table_counts["n_trade_minutes_recomputed"] = n_recomputed
            _check_rules(table, frame, cities, where)
        keys = contract.KEYS[table]
        frame = frame.sort_values(keys, kind="mergesort", ignore_index=True)
        merged[table] = frame[list(contract.RAW_DTYPES[table])]
        table_counts["n_rows"] = len(frame)
        counts[table] = table_counts
    notes = [note for item in imports for note in item.notes]
    if notes:
        counts["notes"] = notes
    return merged, counts


def _merge_ledger(
    existing: Mapping[str, pd.DataFrame], imports: Sequence[Imported], out: Path
) -> ledger.Merged | None:
    """The imported trades added to the folder's ledger; None when no import holds trades."""
    trades = [item.tables[ledger.TABLE] for item in imports if ledger.TABLE in item.tables]
    if not trades:
        return None
    old = existing.get(ledger.TABLE, ledger.empty())
    with _naming_files(trades):
        return ledger.merge(old, trades, str(out / f"{ledger.TABLE}.parquet"))


@contextlib.contextmanager
def _naming_files(frames: Sequence[pd.DataFrame]) -> Iterator[None]:
    """Add the imported files to a DataError: its message names the output table, and the rows
    it shows may cut a long file name short."""
    try:
        yield
    except DataError as error:
        files = ", ".join(sorted({name for frame in frames for name in frame[SOURCE]}))
        raise DataError(f"{error}\n  imported from: {files}") from None


def _merge_one(
    table: str, old: pd.DataFrame, new: pd.DataFrame, where: str
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Old rows then new rows: repeats dropped, results filled, conflicts refused."""
    columns = list(contract.RAW_DTYPES[table])
    new_typed, _ = coerce_table(new[columns], table, where, numbers_from_text=False)
    new = new_typed.assign(**{SOURCE: new[SOURCE].to_numpy()})
    combined = pd.concat([old, new], ignore_index=True)
    n_filled = 0
    if table == "markets":
        combined, n_filled = _fill_results(combined)
    repeated = combined.duplicated(subset=columns, keep="first").to_numpy()
    # a new row equal to an earlier new row repeats within the import, else it was present
    within = combined.iloc[len(old) :].duplicated(subset=columns, keep="first").to_numpy()
    n_present = int((repeated[len(old) :] & ~within).sum())
    combined = combined[~repeated]
    key = contract.KEYS[table]
    clash = contract.conflicting_duplicates(combined, key).sort_values(key, kind="mergesort")
    if len(clash):
        raise data_error(where, ", ".join(key), _CONFLICT, clash, len(combined))
    check_schema(combined[columns], table, where, shown=combined)
    counts = {
        "n_imported": len(new),
        "n_already_present": n_present,
        "n_repeated_in_import": int(within.sum()),
    }
    if table == "markets":
        counts["n_results_filled"] = n_filled
    return combined, counts


def _without_rows(
    frame: pd.DataFrame, rows: pd.DataFrame, columns: list[str]
) -> tuple[pd.DataFrame, int]:
    """``frame`` without the rows equal (on ``columns``) to a row of ``rows``; how many went."""
    if frame.empty or rows.empty:
        return frame, 0
    unique = rows[columns].drop_duplicates()
    both = pd.concat([unique, frame[columns]], ignore_index=True)
    listed = both.duplicated(keep="first").to_numpy()[len(unique) :]
    return frame[~listed], int(listed.sum())


def _fill_results(markets: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Null ``result`` takes the ticker's one known result (a market seen before it settled)."""
    known = markets.dropna(subset=["result"]).groupby("ticker")["result"]
    single = known.first()[known.nunique() == 1]
    fill = markets["ticker"].map(single)
    gaps = markets["result"].isna() & fill.notna()
    markets = markets.copy()
    markets.loc[gaps, "result"] = fill[gaps]
    return markets, int(gaps.sum())


def _drop_after_close(
    quotes: pd.DataFrame, markets: pd.DataFrame | None
) -> tuple[pd.DataFrame, int]:
    """Quotes stamped after their market's close_time (look-ahead), when the market is known."""
    if markets is None or markets.empty:
        return quotes, 0
    late = contract.quotes_after_close(quotes, markets)
    return quotes[~late], int(late.sum())


def _check_rules(table: str, frame: pd.DataFrame, cities: Mapping[str, City], where: str) -> None:
    """The contract rules that need no other table (ingest checks the rest)."""
    if table in ("markets", "weather", "settlements", "forecasts"):
        unknown = contract.unknown_values(frame, "city", cities)
        rule = f"must be a city code from params.yaml 'cities' ({sorted(cities)})"
        _require(where, "city", rule, unknown, frame)
    if table == "quotes":
        _require(where, "yes_bid, yes_ask", _CROSSED, contract.bid_not_below_ask(frame), frame)
    if table != "markets":
        return
    strikes = "floor_strike, cap_strike"
    _require(where, strikes, _STRIKES, contract.strikes_inconsistent(frame), frame)
    _require(where, "close_time", _CLOSE, contract.close_not_after_open(frame), frame)
    _require(where, "event_ticker", _EVENT, contract.events_inconsistent(frame), frame)
    gaps = sorted(contract.events_not_partitioning(frame)["event_ticker"].unique())
    if gaps:
        log.warning(
            "%s: %d event(s) do not partition the integers yet (%s); ingest refuses them until "
            "their other markets are imported",
            where,
            len(gaps),
            ", ".join(gaps[:5]),
        )


def _require(where: str, column: str, rule: str, offending: pd.DataFrame, checked: pd.DataFrame):
    if len(offending):
        raise data_error(where, column, rule, offending, len(checked))


# --- writing -----------------------------------------------------------------------------------


def write_tables(tables: Mapping[str, pd.DataFrame], out: Path) -> None:
    """Write every table to ``out/<table>.parquet``; the files are moved in place only after all
    were written, so an error leaves the folder as it was.

    The moves run in reverse order of writing, and the trade ledger moves last: a crash between
    two moves then leaves quote rows whose trades the ledger lacks (a re-import adds them), never
    trades the ledger holds whose quote rows are missing (a re-import would skip them as known).
    """
    first_the_ledger = sorted(tables.items(), key=lambda item: (item[0] != ledger.TABLE, item[0]))
    with contextlib.ExitStack() as stack:
        for table, frame in first_the_ledger:
            target = Path(out) / f"{table}.parquet"
            tmp = stack.enter_context(io.atomic_path(target))
            arrow = pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(None)
            pq.write_table(arrow, tmp, row_group_size=io.ROW_GROUP_SIZE, compression="zstd")
            log.info("wrote %s: %d rows x %d columns", target, frame.shape[0], frame.shape[1])
