"""What every importer shares: its options and result, and merging results into the output folder.

An importer turns source files into contract rows (``Imported``: frames with the contract
columns plus ``source``, the file each row came from). ``merge_tables`` adds them to what is
already in the output folder: rows equal to an existing row are skipped, rows with an existing
key but other values are refused (one ``DataError`` naming the table, the key, the rule and the
rows on both sides), and the single-table contract rules are checked. ``write_tables`` then
replaces the changed tables together; nothing is written when anything fails.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from tmaxedge.core import config, io
from tmaxedge.core.config import City
from tmaxedge.core.errors import DataError, data_error
from tmaxedge.inputs import contract
from tmaxedge.inputs.ingest import check_schema, coerce_table

log = logging.getLogger("tmaxedge")

SOURCE = "source"  # extra column: the file a row came from (never written)
IMPORT_TABLES = ("markets", "quotes", "weather", "settlements")
# the CLI reads params.yaml `cities` when it exists, else these
DEFAULT_CITIES: dict[str, City] = config.DEFAULT_CITIES


@dataclasses.dataclass(frozen=True)
class ImportOptions:
    """Options of ``tmaxedge import``; each importer reads the ones it documents."""

    cities: Mapping[str, City] = dataclasses.field(default_factory=lambda: dict(DEFAULT_CITIES))
    city: str | None = None  # weather and settlements: the city code the files belong to
    tz: str | None = None  # time zone of timestamps written without one
    ticker: str | None = None  # kalshi-candles: the market, when the file does not say
    series: str | None = None  # kalshi-price-history: e.g. KXHIGHMIA
    event_date: dt.date | None = None  # kalshi-price-history
    open_time: pd.Timestamp | None = None  # kalshi-price-history: overrides the inferred time
    close_time: pd.Timestamp | None = None
    with_markets: bool = True  # kalshi-price-history: also write markets rows
    units: str = "us"  # visual-crossing: "us" (°F) or "metric" (°C)
    start: dt.date | None = None  # kalshi-markets: keep events on or after this date
    end: dt.date | None = None  # ... and on or before this one


@dataclasses.dataclass
class Imported:
    """Contract rows from one importer run: ``tables`` (with a ``source`` column) and counts."""

    tables: dict[str, pd.DataFrame]
    counts: dict[str, int] = dataclasses.field(default_factory=dict)


def rows_frame(table: str, rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Rows (dicts with the contract columns and ``source``) as a frame in contract dtypes."""
    columns = [*contract.RAW_DTYPES[table], SOURCE]
    if not rows:
        return contract.empty_table(table).assign(**{SOURCE: pd.Series([], dtype="str")})
    frame = pd.DataFrame(list(rows), columns=columns)
    typed, _ = coerce_table(frame[columns[:-1]], table, f"imported {table}")
    return typed.assign(**{SOURCE: frame[SOURCE].astype("str").to_numpy()})


def require_city(options: ImportOptions, kind: str) -> str:
    """``options.city``, which weather and settlement files need; DataError when absent/unknown."""
    if options.city is None:
        raise DataError(f"{kind}: --city is required (one of {sorted(options.cities)}).")
    if options.city not in options.cities:
        raise DataError(
            f"{kind}: --city must be a city code from params.yaml 'cities' "
            f"({sorted(options.cities)}); got {options.city!r}."
        )
    return options.city


# --- merging -----------------------------------------------------------------------------------

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
        if path.exists():
            frame, _ = coerce_table(io.read_source_table(path), table, str(path))
            found[table] = frame.assign(**{SOURCE: str(path)})
    return found


def tables_needed(imports: Sequence[Imported]) -> list[str]:
    """The existing tables a merge reads: those imported into, and markets for quotes."""
    touched = {table for item in imports for table in item.tables}
    if "quotes" in touched:
        touched.add("markets")
    return [table for table in IMPORT_TABLES if table in touched]


def merge_tables(
    existing: Mapping[str, pd.DataFrame],
    imports: Sequence[Imported],
    cities: Mapping[str, City],
    out: Path,
) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """Existing tables plus imported rows, checked; returns the changed tables and counts.

    Per table: exact repeats are skipped (counted as ``n_already_present``); a market whose
    ``result`` is null on one side and set on the other takes the set value (a market imported
    before and after it settled; ``n_results_filled``); any other two rows with one key are a
    DataError. Quote rows stamped after their market's ``close_time`` are dropped
    (``n_dropped_after_close``); crossed quotes, unknown cities, strikes that do not fit their
    type, markets closing before they open and event tickers naming two days are DataErrors.
    Events that do not yet partition the integers only warn (``ingest`` refuses them).
    Returns ``(tables, counts)``: ``tables`` holds only tables that received rows, in contract
    columns and dtypes, sorted by ``contract.KEYS``.
    """
    merged: dict[str, pd.DataFrame] = {}
    counts: dict[str, Any] = {}
    for item in imports:
        for name, value in item.counts.items():
            counts[name] = counts.get(name, 0) + value
    for table in IMPORT_TABLES:
        new = [item.tables[table] for item in imports if table in item.tables]
        if not new:
            continue
        where = str(out / f"{table}.parquet")
        old = existing.get(table, contract.empty_table(table).assign(**{SOURCE: ""}))
        frame, table_counts = _merge_one(table, old, pd.concat(new, ignore_index=True), where)
        if table == "quotes":
            markets = merged.get("markets", existing.get("markets"))
            frame, table_counts["n_dropped_after_close"] = _drop_after_close(frame, markets)
        _check_rules(table, frame, cities, where)
        keys = contract.KEYS[table]
        frame = frame.sort_values(keys, kind="mergesort", ignore_index=True)
        merged[table] = frame[list(contract.RAW_DTYPES[table])]
        table_counts["n_rows"] = len(frame)
        counts[table] = table_counts
    return merged, counts


def _merge_one(
    table: str, old: pd.DataFrame, new: pd.DataFrame, where: str
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Old rows then new rows: repeats dropped, results filled, conflicts refused."""
    columns = list(contract.RAW_DTYPES[table])
    new_typed, _ = coerce_table(new[columns], table, where)
    new = new_typed.assign(**{SOURCE: new[SOURCE].to_numpy()})
    combined = pd.concat([old, new], ignore_index=True)
    n_filled = 0
    if table == "markets":
        combined, n_filled = _fill_results(combined)
    repeated = combined.duplicated(subset=columns, keep="first")
    n_repeated = int(repeated.iloc[len(old) :].sum())
    combined = combined[~repeated]
    key = contract.KEYS[table]
    clash = contract.conflicting_duplicates(combined, key).sort_values(key, kind="mergesort")
    if len(clash):
        raise data_error(where, ", ".join(key), _CONFLICT, clash, len(combined))
    check_schema(combined[columns], table, where)
    counts = {"n_imported": len(new), "n_already_present": n_repeated}
    if table == "markets":
        counts["n_results_filled"] = n_filled
    return combined, counts


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
    if table in ("markets", "weather", "settlements"):
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
    were written, so an error leaves the folder as it was."""
    with contextlib.ExitStack() as stack:
        for table, frame in sorted(tables.items()):
            target = Path(out) / f"{table}.parquet"
            tmp = stack.enter_context(io.atomic_path(target))
            arrow = pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(None)
            pq.write_table(arrow, tmp, row_group_size=io.ROW_GROUP_SIZE, compression="zstd")
            log.info("wrote %s: %d rows x %d columns", target, frame.shape[0], frame.shape[1])
