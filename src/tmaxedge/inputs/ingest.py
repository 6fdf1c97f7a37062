"""Check source tables against the data contract and normalise them for the pipeline.

Pure functions on DataFrames: the stage reads the files (``io.read_source_table``) and passes
only their names here, for messages. Normalised dtypes are listed in ``tmaxedge.inputs.contract``:
timestamps ``datetime64[us, UTC]``, dates ``datetime.date``, cents and counts nullable ``Int64``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandas.api.types import infer_dtype

from tmaxedge.core.config import City
from tmaxedge.core.errors import DataError, data_error
from tmaxedge.core.params import Params, Text, declare
from tmaxedge.inputs import contract

log = logging.getLogger("tmaxedge")

# an ISO 8601 timestamp that names its offset: ...Z, ...+00:00, ...-0500, ...+01
_ZONE_SUFFIX = r"(?:Z|[+-]\d{2}(?::?\d{2})?)\s*$"
_SCHEMA_RULES = {"not_nullable": "must not be null", "field_uniqueness": "must be unique"}


@dataclass(frozen=True)
class IngestParams(Params):
    """The ``ingest`` section of params.yaml."""

    constraints = declare(source=Text())

    source: str  # data/synthetic (the simulator's output) or data/external (your data)


REFERENCE_TABLES = ("markets", "weather", "settlements")  # small: checked whole
FEED_TABLES = ("quotes", "oracle")  # large: checked a slice of tickers at a time


def validate_tables(
    tables: Mapping[str, pd.DataFrame],
    cities: Mapping[str, City],
    source_label: str,
    file_names: Mapping[str, str] | None = None,
) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """Check the contract tables and return them normalised, with ingest metrics.

    ``tables`` maps table name (``markets quotes weather settlements``, optional ``oracle`` and
    ``forecasts``) to the frame as read; string columns (CSV) and typed columns (Parquet) are
    both accepted.
    ``cities`` are the known city codes; messages name ``source_label/file_names[table]``
    (default ``source_label/table``) and the row numbers of the frames as given (0-based).
    In a table whose file name ends in ``.parquet`` a numeric column holding text is refused as
    a wrong type; elsewhere (CSV) numbers are parsed from text.

    Dropped, and counted in the metrics: rows equal to an earlier row in every column, and quote
    and oracle rows stamped after their market's ``close_time`` (look-ahead; a row at exactly
    ``close_time`` is kept). Extra columns are ignored and counted.

    Returns ``(normalised, metrics)``: ``normalised`` holds all five tables (``oracle`` empty
    when absent), and ``forecasts`` when given, with the contract columns in order, contract
    dtypes, rows sorted by ``contract.KEYS`` and a fresh RangeIndex. ``metrics`` is small and
    JSON-friendly: ``{table: {n_read, n_dropped_duplicate, [n_dropped_after_close,] n_written,
    n_columns_ignored}, has_oracle, n_events, n_markets, n_markets_without_quotes,
    n_markets_without_book}``, and ``forecasts`` counts when that table is given.
    Raises ``DataError`` naming file, column, rule and the first offending rows for anything else
    that breaks the contract.

    The ingest stage checks the same way with bounded memory: ``check_reference_tables`` whole,
    then ``check_feed_slice`` on one slice of tickers at a time (``ticker_slices``), whose
    results a ``FeedTally`` adds up; this is that with a single slice.
    """
    where = table_locations(source_label, file_names)
    missing = [t for t in contract.TABLES if t not in tables and t not in contract.OPTIONAL_TABLES]
    if missing:
        raise DataError(
            f"{source_label}: table(s) {missing} missing; the contract needs markets, quotes, "
            "weather and settlements (as .parquet or .csv)."
        )
    typed = {
        table: table_is_typed(table, file_names)
        for table in (*contract.TABLES, *contract.SIDE_TABLES)
    }
    # messages number the rows by position in the frames as given
    tables = {table: frame.reset_index(drop=True) for table, frame in tables.items()}
    normalised, metrics = check_reference_tables(tables, cities, where, typed)
    feeds = {table: tables.get(table) for table in FEED_TABLES}
    checked = check_feed_slice(feeds, normalised["markets"], where, typed)
    tally = FeedTally(has_oracle="oracle" in tables, where=where)
    tally.add(checked)
    normalised.update(checked.frames)
    metrics.update(tally.metrics(normalised["markets"]))
    out = {table: normalised[table] for table in contract.TABLES}
    if "forecasts" in tables:
        out["forecasts"], metrics["forecasts"] = check_forecasts(
            tables["forecasts"], cities, where["forecasts"], typed
        )
    return out, metrics


def table_locations(source_label: str, file_names: Mapping[str, str] | None) -> dict[str, str]:
    """What messages call each table: ``source_label/<file name>``."""
    names = dict(file_names or {})
    return {
        table: f"{source_label}/{names.get(table, table)}"
        for table in (*contract.TABLES, *contract.SIDE_TABLES)
    }


def table_is_typed(table: str, file_names: Mapping[str, str] | None) -> bool:
    """A Parquet column's type says what its values are; a CSV's cells are all text."""
    return dict(file_names or {}).get(table, "").endswith(".parquet")


def check_reference_tables(
    tables: Mapping[str, pd.DataFrame],
    cities: Mapping[str, City],
    where: Mapping[str, str],
    typed: Mapping[str, bool],
) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """``markets``, ``weather`` and ``settlements`` checked and normalised (sorted by key), with
    their metrics; the rules within and across them, every event settled."""
    frames: dict[str, pd.DataFrame] = {}
    metrics: dict[str, Any] = {}
    for table in REFERENCE_TABLES:
        frames[table], metrics[table], ignored = _checked_rows(
            tables[table], table, where[table], typed
        )
        warn_ignored(where[table], ignored)
    markets = frames["markets"]
    _check_markets(markets, set(cities), where["markets"])
    _check_events(markets, frames["settlements"], frames["weather"], set(cities), where)
    for table, frame in frames.items():
        frames[table] = contract.sort_by_key(frame, contract.KEYS[table])
        metrics[table]["n_written"] = len(frame)
    return frames, metrics


def check_forecasts(
    raw: pd.DataFrame, cities: Mapping[str, City], where: str, typed: Mapping[str, bool]
) -> tuple[pd.DataFrame, dict[str, int]]:
    """The optional ``forecasts`` table checked and normalised (sorted by key), with its counts:
    the schema, known cities, one forecast per (city, target_date, issued_at), and no forecast
    public before the local day it was made on."""
    frame, counts, ignored = _checked_rows(raw, "forecasts", where, typed)
    warn_ignored(where, ignored)
    unknown = contract.unknown_values(frame, "city", cities)
    _require(where, "city", _city_rule(set(cities)), unknown, frame)
    repeated = contract.conflicting_duplicates(frame, contract.KEYS["forecasts"])
    _require(where, "city, target_date, issued_at", _ONE_FORECAST, repeated, frame)
    zones = {code: city.tz for code, city in cities.items()}
    early = contract.issued_before_issue_date(frame, zones)
    _require(where, "issued_at", _ISSUED, early, frame)
    frame = contract.sort_by_key(frame, contract.KEYS["forecasts"])
    counts["n_written"] = len(frame)
    return frame, counts


def _checked_rows(
    raw: pd.DataFrame, table: str, where: str, typed: Mapping[str, bool]
) -> tuple[pd.DataFrame, dict[str, int], list[str]]:
    """One table's rows coerced to the contract, exact repeats dropped, the schema checked; its
    counts and the columns outside the contract, which are ignored."""
    frame, ignored = coerce_table(
        raw, table, where, numbers_from_text=not typed.get(table, False), keep_index=True
    )
    duplicate = contract.exact_duplicates(frame, contract.KEYS[table])
    frame = frame[~duplicate]
    check_schema(frame, table, where)
    counts = {
        "n_read": len(raw),
        "n_dropped_duplicate": int(duplicate.sum()),
        "n_columns_ignored": len(ignored),
    }
    return frame, counts, ignored


def warn_ignored(where: str, ignored: list[str]) -> None:
    if ignored:
        log.warning("%s: ignoring column(s) outside the contract: %s", where, ignored)


class FeedSlice(NamedTuple):
    """One slice of quotes and oracle rows, checked: normalised frames (sorted by key) and
    counts."""

    frames: dict[str, pd.DataFrame]
    counts: dict[str, dict[str, int]]
    quoted: np.ndarray  # tickers with a quote row
    booked: np.ndarray  # tickers with a quote row holding a bid or an ask
    ignored: dict[str, list[str]]  # each table's columns outside the contract


def check_feed_slice(
    feeds: Mapping[str, pd.DataFrame | None],
    markets: pd.DataFrame,
    where: Mapping[str, str],
    typed: Mapping[str, bool],
) -> FeedSlice:
    """Quotes and oracle rows of some tickers (all rows of each), checked against the checked
    ``markets``: known tickers, rows after close dropped, one row per (ticker, ts), no crossed
    book, and one oracle row per quote row when the oracle is given (``feeds["oracle"]`` not
    None). Row numbers in messages are the frames' index (the source rows)."""
    frames: dict[str, pd.DataFrame] = {}
    counts: dict[str, dict[str, int]] = {}
    ignored: dict[str, list[str]] = {}
    for table in FEED_TABLES:
        raw = feeds.get(table)
        raw = contract.empty_table(table) if raw is None else raw
        frame, counts[table], ignored[table] = _checked_rows(raw, table, where[table], typed)
        frames[table], counts[table]["n_dropped_after_close"] = _check_feed(
            frame, markets, where[table]
        )
    quotes = frames["quotes"]
    crossed = contract.bid_not_below_ask(quotes)
    _require(where["quotes"], "yes_bid, yes_ask", _CROSSED, crossed, quotes)
    if feeds.get("oracle") is not None:
        oracle = frames["oracle"]
        keys = contract.KEYS["oracle"]
        lonely = contract.unmatched_keys(oracle, quotes, keys)
        _require(where["oracle"], "ticker, ts", _ORACLE_ROW, lonely, oracle)
        lonely = contract.unmatched_keys(quotes, oracle, keys)
        _require(where["quotes"], "ticker, ts", _QUOTE_ROW, lonely, quotes)
    for table, frame in frames.items():
        frames[table] = contract.sort_by_key(frame, contract.KEYS[table])
        counts[table]["n_written"] = len(frame)
    has_book = quotes["yes_bid"].notna() | quotes["yes_ask"].notna()
    quoted, booked = quotes["ticker"].unique(), quotes.loc[has_book, "ticker"].unique()
    return FeedSlice(frames, counts, quoted, booked, ignored)


@dataclass
class FeedTally:
    """The feed metrics summed over the slices ``check_feed_slice`` checked; the columns a
    feed file has outside the contract are logged once (``where``: each table's location)."""

    has_oracle: bool
    where: Mapping[str, str]
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    quoted: set = field(default_factory=set)
    booked: set = field(default_factory=set)

    def add(self, checked: FeedSlice) -> None:
        if not self.counts:  # every slice has the file's columns
            for table, ignored in checked.ignored.items():
                warn_ignored(self.where[table], ignored)
        for table, counts in checked.counts.items():
            total = self.counts.setdefault(table, {})
            for key, value in counts.items():
                # every slice has every column, so columns ignored are counted once
                total[key] = value if key == "n_columns_ignored" else total.get(key, 0) + value
        self.quoted.update(checked.quoted)
        self.booked.update(checked.booked)

    def metrics(self, markets: pd.DataFrame) -> dict[str, Any]:
        """The feed tables' counts and the ingest metrics that need every slice."""
        return {
            **self.counts,
            "has_oracle": self.has_oracle,
            "n_markets": len(markets),
            "n_events": int(markets[["city", "event_date"]].drop_duplicates().shape[0]),
            "n_markets_without_quotes": int((~markets["ticker"].isin(self.quoted)).sum()),
            "n_markets_without_book": int((~markets["ticker"].isin(self.booked)).sum()),
        }


TickerSlice = tuple[str | None, str | None]  # tickers t with lo <= t < hi; None: unbounded


def ticker_slices(rows_per_ticker: Mapping[str, int], max_rows: int) -> list[TickerSlice]:
    """Consecutive ranges of tickers, each holding at most ``max_rows`` rows where one ticker
    allows, together covering every string (so a ticker no market has still lands in one)."""
    bounds: list[str] = []
    held = 0
    for ticker in sorted(rows_per_ticker):
        rows = rows_per_ticker[ticker]
        if held and held + rows > max_rows:
            bounds.append(ticker)
            held = 0
        held += rows
    edges = [None, *bounds, None]
    return list(zip(edges[:-1], edges[1:], strict=True))


def slice_location(where: str, part: TickerSlice, n_slices: int) -> str:
    """A table's location in messages, naming the slice when there are several."""
    if n_slices == 1:
        return where
    lo, hi = part
    bounds = [f"from {lo}" if lo is not None else "", f"before {hi}" if hi is not None else ""]
    return f"{where} (tickers {' '.join(b for b in bounds if b)})"


# rules checked across rows and tables, as they read after "column '<name>' "
_STRIKES = (
    "must fit strike_type (less: floor null, cap set; greater: floor set, cap null; "
    "between: both set, floor <= cap)"
)
_CLOSE = "must be later than 'open_time' (a market closes after it opens)"
_EVENT = "must name exactly one (city, event_date), and each event one ticker"
_PARTITION = (
    "must partition the integers within each event (exactly one market YES for every integer "
    "high; bad_tmax_f is the first integer where n_yes_there != 1)"
)
_SETTLED = "must have a settlement: every event (city, event_date) needs a row in settlements"
_RESULT = "must agree with the settlement when present (YES rule on settlements.tmax_f)"
_ONE_HIGH = "must be unique (conflicting official highs for one city-day)"
_ONE_OBSERVATION = "must be unique (conflicting observations at one time)"
_ONE_FORECAST = "must be unique (conflicting forecasts for one city, target day and issue time)"
_ISSUED = (
    "must not precede the local day the forecast was made on (target_date - lead_days, in the "
    "city's time zone)"
)
_TICKER = "must name a market in markets (unknown ticker)"
_ONE_QUOTE = "must be unique (duplicate (ticker, ts) rows disagree)"
_CROSSED = "must satisfy yes_bid < yes_ask when both are present"
_ORACLE_ROW = "must match a quote row (one oracle row per quote row)"
_QUOTE_ROW = "must have an oracle row (one oracle row per quote row)"


def _check_markets(markets: pd.DataFrame, cities: set[str], where: str) -> None:
    """The rules across the columns and rows of ``markets``, in the order a reader fixes them."""
    unknown = contract.unknown_values(markets, "city", cities)
    _require(where, "city", _city_rule(cities), unknown, markets)
    strikes = "floor_strike, cap_strike"
    _require(where, strikes, _STRIKES, contract.strikes_inconsistent(markets), markets)
    _require(where, "close_time", _CLOSE, contract.close_not_after_open(markets), markets)
    _require(where, "event_ticker", _EVENT, contract.events_inconsistent(markets), markets)
    _require(where, strikes, _PARTITION, contract.events_not_partitioning(markets), markets)


def _check_events(
    markets: pd.DataFrame,
    settlements: pd.DataFrame,
    weather: pd.DataFrame,
    cities: set[str],
    where: dict[str, str],
) -> None:
    """Cities of settlements and weather, one value per key, and every event settled."""
    for table, frame in (("settlements", settlements), ("weather", weather)):
        unknown = contract.unknown_values(frame, "city", cities)
        _require(where[table], "city", _city_rule(cities), unknown, frame)
    repeated = contract.conflicting_duplicates(settlements, contract.KEYS["settlements"])
    _require(where["settlements"], "city, date", _ONE_HIGH, repeated, settlements)
    repeated = contract.conflicting_duplicates(weather, contract.KEYS["weather"])
    _require(where["weather"], "city, ts", _ONE_OBSERVATION, repeated, weather)
    unsettled = contract.events_without_settlement(markets, settlements)
    _require(where["markets"], "city, event_date", _SETTLED, unsettled, markets)
    disagreeing = contract.results_disagreeing(markets, settlements)
    _require(where["markets"], "result", _RESULT, disagreeing, markets)


def _check_feed(frame: pd.DataFrame, markets: pd.DataFrame, where: str) -> tuple[pd.DataFrame, int]:
    """Quotes or oracle: known tickers, drop rows after close, then one row per (ticker, ts)."""
    unknown = contract.unknown_values(frame, "ticker", markets["ticker"])
    _require(where, "ticker", _TICKER, unknown, frame)
    late = contract.quotes_after_close(frame, markets)
    frame = frame[~late]
    repeated = contract.conflicting_duplicates(frame, ["ticker", "ts"])
    _require(where, "ticker, ts", _ONE_QUOTE, repeated, frame)
    return frame, int(late.sum())


def _city_rule(cities: set[str]) -> str:
    return f"must be a city code from params.yaml 'cities' ({sorted(cities)})"


def _require(
    where: str, column: str, rule: str, offending: pd.DataFrame, checked: pd.DataFrame
) -> None:
    """Raise the contract error unless ``offending`` (rows of ``checked``) is empty."""
    if len(offending):
        raise data_error(where, column, rule, offending, len(checked))


def check_schema(
    frame: pd.DataFrame, table: str, where: str, shown: pd.DataFrame | None = None
) -> None:
    """Validate ``frame`` against the pandera schema of ``table``; one DataError on failure.

    The message shows the first rule broken (in column order) with its offending rows (taken
    from ``shown`` when given: the same rows with more columns, such as the file of each), and
    names the other broken rules on a last line.
    """
    try:
        contract.SCHEMAS[table].validate(frame, lazy=True)
    except pa.errors.SchemaErrors as error:
        rows = frame if shown is None else shown
        raise _schema_error(error.failure_cases, rows, table, where) from None


def _schema_error(cases: pd.DataFrame, frame: pd.DataFrame, table: str, where: str) -> DataError:
    """Pandera's failure cases as one ``data_error`` message (first rule in column order)."""
    order = {name: i for i, name in enumerate(contract.RAW_DTYPES[table])}
    cases = cases.assign(
        rule=cases["check"].map(lambda c: _SCHEMA_RULES.get(str(c), _rule_text(str(c)))),
        position=cases["column"].map(order).fillna(len(order)),
    ).sort_values("position", kind="mergesort")
    groups = list(cases.groupby(["column", "rule"], sort=False))
    (column, rule), first = groups[0]
    rows = first["index"].dropna()
    if len(rows):
        offending = frame.loc[pd.unique(rows.to_numpy())]
    else:
        offending = first[["failure_case"]].rename(columns={"failure_case": column})
    error = data_error(where, str(column), rule, offending, len(frame))
    if len(groups) > 1:
        others = "; ".join(f"column '{c}' {r}" for (c, r), _ in groups[1:])
        error = DataError(f"{error}\n  also broken: {others}")
    return error


def _rule_text(check: str) -> str:
    """A pandera check name as a rule; our checks carry their rule text as their error."""
    if check.startswith("dtype("):
        return f"must have type {check[len('dtype(') : -1]}"
    return check


def coerce_table(
    frame: pd.DataFrame,
    table: str,
    where: str,
    numbers_from_text: bool = True,
    keep_index: bool = False,
) -> tuple[pd.DataFrame, list[str]]:
    """Bring ``frame`` to the contract columns and dtypes of ``table``.

    Accepts text (CSV read as strings) or typed columns. Timestamps must carry a zone (``Z`` or
    an offset such as ``+00:00``; any zone is converted to UTC, a naive one is an error) and are
    stored in microseconds; dates are ``YYYY-MM-DD``; integers may arrive as whole floats
    (``42.0``) but not as ``42.5``. Numbers are parsed from text only when
    ``numbers_from_text`` (a CSV, where every cell is text); in a typed table (Parquet) a
    numeric column holding text is a wrong type, since its writer did not mean it as a number.
    Returns the frame (index = 0-based source row: the position in ``frame``, or its index as
    given with ``keep_index``, for a slice of a file) and the names of ignored extra columns.
    Raises ``DataError`` for a missing column or a wrong type.
    """
    dtypes = contract.RAW_DTYPES[table]
    if not keep_index:
        frame = frame.reset_index(drop=True)
    missing = [name for name in dtypes if name not in frame.columns]
    if missing:
        raise DataError(
            f"{where}: column '{missing[0]}' is missing (required columns: {list(dtypes)}; "
            f"found: {list(map(str, frame.columns))})"
        )
    ignored = [str(name) for name in frame.columns if name not in dtypes]
    if not numbers_from_text:
        for name, dtype in dtypes.items():
            if dtype in ("float64", "Int64", "int64"):
                _refuse_text(frame[name], where, name, len(frame))
    columns = {
        name: coerce_column(frame[name], dtype, where, name, len(frame))
        for name, dtype in dtypes.items()
    }
    return pd.DataFrame(columns, index=frame.index), ignored


_TEXT_NUMBER = (
    "must be stored as a number, not as text (in a Parquet table the column's type says what a "
    "value is; numbers are parsed from text only in a CSV)"
)


def _refuse_text(values: pd.Series, where: str, name: str, n: int) -> None:
    """DataError when a numeric column of a typed table holds text."""
    if pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(values.dtype):
        return
    is_text = values.map(lambda v: isinstance(v, str), na_action="ignore")
    bad = is_text.fillna(False).astype(bool)
    if bad.any():
        raise _wrong_type(where, name, _TEXT_NUMBER, values, bad, n)


def coerce_column(values: pd.Series, dtype: str, where: str, name: str, n: int) -> pd.Series:
    """One column as the contract dtype ``dtype`` (see ``coerce_table``); ``n`` rows checked in
    all, for the message. Importers use it for source columns outside the contract."""
    if dtype == "str":
        return _to_text(values, where, name, n)
    if dtype == "date":
        return _to_date(values, where, name, n)
    if dtype == contract.TIME_DTYPE:
        return _to_utc(values, where, name, n)
    if dtype == "float64":
        return _to_number(values, where, name, n)
    return _to_integer(values, dtype, where, name, n)


def _wrong_type(where: str, name: str, rule: str, values: pd.Series, bad, n: int) -> DataError:
    return data_error(where, name, rule, values[bad].to_frame(name), n)


def _is_text(values: pd.Series) -> bool:
    if isinstance(values.dtype, pd.StringDtype):
        return True
    return values.dtype == object and infer_dtype(values, skipna=True) in ("string", "empty")


def _to_text(values: pd.Series, where: str, name: str, n: int) -> pd.Series:
    if isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype(object)
    if not _is_text(values):
        is_text = values.map(lambda v: isinstance(v, str), na_action="ignore")
        bad = values.notna() & ~is_text.astype(bool)
        raise _wrong_type(where, name, "must be text", values, bad, n)
    return values.astype("str")


def _to_date(values: pd.Series, where: str, name: str, n: int) -> pd.Series:
    rule = "must be a calendar date YYYY-MM-DD (not a timestamp)"
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        raise _wrong_type(where, name, rule, values, values.notna(), n)
    if pd.api.types.is_datetime64_dtype(values.dtype):
        bad = values.notna() & (values != values.dt.normalize())
        if bad.any():
            raise _wrong_type(where, name, rule, values, bad, n)
        return values.dt.date.astype(object).where(values.notna(), None)
    kind = infer_dtype(values, skipna=True)
    if kind in ("date", "empty") and values.dtype == object:
        return values.astype(object).where(values.notna(), None)
    if not _is_text(values):
        raise _wrong_type(where, name, rule, values, values.notna(), n)
    parsed = pd.to_datetime(values, format="%Y-%m-%d", errors="coerce")
    bad = values.notna() & parsed.isna()
    if bad.any():
        raise _wrong_type(where, name, rule, values, bad, n)
    return parsed.dt.date.astype(object).where(parsed.notna(), None)


def _to_utc(values: pd.Series, where: str, name: str, n: int) -> pd.Series:
    aware = (
        "must be a timezone-aware UTC timestamp (ending in Z or +00:00); "
        "naive timestamps are refused"
    )
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert("UTC").dt.as_unit("us")
    if pd.api.types.is_datetime64_dtype(values.dtype):
        raise _wrong_type(where, name, aware, values, values.notna(), n)
    if not (_is_text(values) or values.dtype == object):
        raise _wrong_type(where, name, aware, values, values.notna(), n)
    # text, or Python datetimes whose str() shows their offset ("...+00:00") when they have one
    text = values.map(str, na_action="ignore").astype("str")
    bad = text.notna() & ~text.str.contains(_ZONE_SUFFIX, regex=True).fillna(False).astype(bool)
    if bad.any():
        raise _wrong_type(where, name, aware, values, bad, n)
    parsed = pd.to_datetime(text, format="ISO8601", utc=True, errors="coerce")
    bad = values.notna() & parsed.isna()
    if bad.any():
        raise _wrong_type(where, name, "must be an ISO 8601 timestamp", values, bad, n)
    return parsed.dt.as_unit("us")


def _as_numbers(values: pd.Series, rule: str, where: str, name: str, n: int) -> pd.Series:
    """``values`` as float64, from numbers or number text; anything else is a wrong type."""
    if pd.api.types.is_bool_dtype(values.dtype):
        raise _wrong_type(where, name, rule, values, values.notna(), n)
    if pd.api.types.is_numeric_dtype(values.dtype):
        return values.astype("float64")
    if _is_text(values):
        numbers = pd.to_numeric(values.astype("str"), errors="coerce").astype("float64")
    else:
        numbers = pd.to_numeric(values, errors="coerce").astype("float64")
    bad = values.notna() & numbers.isna()
    if bad.any():
        raise _wrong_type(where, name, rule, values, bad, n)
    return numbers


def _to_number(values: pd.Series, where: str, name: str, n: int) -> pd.Series:
    return _as_numbers(values, "must be a number", where, name, n)


# integers that reach us as floats (or as text parsed to floats) are exact only up to 2**53
_EXACT = 2.0**53


def _to_integer(values: pd.Series, dtype: str, where: str, name: str, n: int) -> pd.Series:
    rule = "must be an integer (whole cents or counts, no fractions)"
    if pd.api.types.is_integer_dtype(values.dtype):
        numbers = values
    else:
        numbers = _as_numbers(values, rule, where, name, n)
        bad = numbers.notna() & (np.isinf(numbers) | (numbers != np.round(numbers)))
        if bad.any():
            raise _wrong_type(where, name, rule, values, bad, n)
        huge = numbers.notna() & (numbers.abs() > _EXACT)
        if huge.any():
            rule = "must be an integer of at most 2**53 in size (a larger one loses its digits)"
            raise _wrong_type(where, name, rule, values, huge, n)
    if dtype == "int64" and numbers.isna().any():
        raise _wrong_type(where, name, "must not be null", values, numbers.isna(), n)
    return numbers.astype("Int64").astype(dtype)
