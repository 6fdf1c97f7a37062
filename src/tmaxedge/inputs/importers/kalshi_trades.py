"""Kalshi trades -> price-only ``quotes``: saved ``GET /markets/trades`` (and
``/historical/trades``) responses, or tables of the same trades (Parquet, CSV, JSON).

Sources, told apart by the file suffix:

- a response (``.json`` holding ``{"trades": [...], "cursor": "..."}``), as the API lists it;
- a table of trades: ``.parquet``, ``.csv``, ``.jsonl`` (one trade object a line) or ``.json``
  holding a list of trade objects.

Each trade has ``trade_id``, ``ticker``, ``created_time`` (ISO 8601 text naming its zone, or a
tz-aware Parquet timestamp; naive times are refused, as the contract does), ``yes_price`` (cents)
or ``yes_price_dollars`` (``"0.4200"``), ``count`` or ``count_fp`` (``"10.00"``), and optionally
``taker_side`` (``yes``/``no``) and ``no_price`` / ``no_price_dollars``, which must equal 100 −
the YES price. A table's other columns are ignored, counted (``n_ignored_columns``) and named in
a note. In a CSV every cell is text: ``yes_price`` and ``no_price`` there are whole cents.

All trades of all files are pooled and each is kept once by its ``trade_id`` (overlapping
pages, a page saved twice, a table repeating a response: the repeats are dropped and counted as
``n_duplicate_trades``; one id with two different trades is an error). The trades go to the
folder's trade ledger (``importers.ledger``, with their ``taker_side``), and per market and
minute one quote row is computed from every trade the ledger holds for that minute: ``ts`` = the
end of that minute, ``price`` = the last trade's YES price, ``volume`` = the contracts traded
that minute; ``yes_bid``, ``yes_ask`` and ``open_interest`` are null (trades carry no book).

Which trade is last among trades at the same instant: in a response, the first listed (the API
lists the newest first); in a table, the one with the greatest ``trade_id`` (see
``_newest_first``).

What the market price is when only trades exist: the last trade's YES price, whichever side
took it (features: ``p_market`` = the latest trade price /100 when the latest quote row has no
book; the backtest trades no row without a book). The taker side is the side that crossed the
spread: a YES taker bought at about the ask, a NO taker sold YES at about the bid, so the last
trade lies somewhere in a spread the trades do not show, nearer the ask after YES takers and the
bid after NO takers. The ledger keeps the side; no quote column uses it.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import PurePath

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from tmaxedge.core.errors import DataError, data_error
from tmaxedge.inputs.importers import ledger
from tmaxedge.inputs.importers import values as v
from tmaxedge.inputs.importers.common import SOURCE, Imported, ImportOptions

KIND = "kalshi-trades"
BINARY_SUFFIXES = (".parquet",)  # read as bytes; every other file as text
# a trade's field -> its spellings, the API's exact one (dollars, fixed point) first
SPELLINGS = {
    "trade_id": ("trade_id",),
    "ticker": ("ticker",),
    "created_time": ("created_time",),
    "yes_price": ("yes_price_dollars", "yes_price"),
    "no_price": ("no_price_dollars", "no_price"),
    "count": ("count_fp", "count"),
    "taker_side": ("taker_side",),
}
REQUIRED = ["trade_id", "ticker", "created_time", "yes_price", "count"]
_KNOWN = {name for names in SPELLINGS.values() for name in names}
TIME_RULE = (
    "must be an ISO 8601 timestamp with its zone (Z or an offset) or a tz-aware timestamp; "
    "naive times are refused: their zone is unknown"
)
SIDE_RULE = "must be the taker's side, 'yes' or 'no' (or empty)"
NO_PRICE_RULE = "must equal 100 - yes_price (the NO side of the same trade), when present"


@dataclass
class Read:
    """The trades of one file, newest first, and the table columns it ignored."""

    where: str
    trades: pd.DataFrame
    ignored: list[str]


def parse(files: Sequence[tuple[str, str | bytes]], options: ImportOptions) -> Imported:
    """Trades (for the ledger) from ``(file name, content)`` pairs: saved trades responses or
    trade tables (bytes for Parquet, text otherwise)."""
    read = [read_trades(content, name) for name, content in files]
    listed = ledger.listed_trades([item.trades for item in read])
    trades, n_repeated = ledger.unique_trades(listed)
    counts = {
        "n_trades": len(listed),
        "n_duplicate_trades": n_repeated,
        "n_ignored_columns": sum(len(item.ignored) for item in read),
    }
    notes = [
        f"{item.where}: columns ignored: {', '.join(item.ignored)}" for item in read if item.ignored
    ]
    return Imported({ledger.TABLE: trades}, counts, notes)


def read_trades(content: str | bytes, where: str) -> Read:
    """One file's trades, newest first; the format from the suffix of ``where``."""
    suffix = PurePath(where).suffix.lower()
    if suffix == ".parquet":
        return table_trades(_read_parquet(content, where), where)
    if suffix == ".csv":
        return table_trades(_cents_from_text(v.read_csv_text(content, where)), where)
    if suffix == ".jsonl":
        return table_trades(_json_lines(content, where), where)
    loaded = v.load_json(content, where)
    if isinstance(loaded, list):
        return table_trades(_objects(loaded, where, "every item"), where)
    if not isinstance(loaded, dict) or not isinstance(loaded.get("trades"), list):
        raise DataError(
            f"{where}: not a Kalshi trades response (no 'trades' list) nor a list of trades."
        )
    # the API lists the newest first: its order is kept, so ties at one instant keep it too
    raw = _objects(loaded["trades"], where, "every item of 'trades'")
    return Read(where, trade_rows(raw, where), [])


def table_trades(table: pd.DataFrame, where: str) -> Read:
    """A trade table's trades, newest first, and its columns outside the trade fields."""
    found = {field for field, names in SPELLINGS.items() if set(names) & set(table.columns)}
    missing = [field for field in REQUIRED if field not in found]
    if missing:
        spellings = " or ".join(f"'{name}'" for name in SPELLINGS[missing[0]])
        raise DataError(
            f"{where}: column {spellings} is missing; a Kalshi trade "
            f"table needs {REQUIRED} (found: {list(map(str, table.columns))})"
        )
    ignored = [str(name) for name in table.columns if name not in _KNOWN]
    return Read(where, _newest_first(trade_rows(table, where)), ignored)


def trade_rows(raw: pd.DataFrame, where: str) -> pd.DataFrame:
    """One row per trade (the ledger's fields and source), in the order of ``raw``."""
    fields = pd.DataFrame({field: _field(raw, names) for field, names in SPELLINGS.items()})
    if fields.empty:
        return fields
    # without its id a repeated trade cannot be told from a second one at the same price
    rule = "must be the trade's id (text): trades are de-duplicated by it"
    trade_id = v.convert_column(fields, "trade_id", _text, where, rule, required=True)
    ticker = v.convert_column(fields, "ticker", _text, where, "must be a market ticker", True)
    time = v.convert_column(fields, "created_time", _utc, where, TIME_RULE, required=True)
    price = v.convert_column(fields, "yes_price", v.price_cents, where, v.PRICE_RULE, True)
    no_price = v.convert_column(fields, "no_price", v.price_cents, where, v.PRICE_RULE)
    size = v.convert_column(fields, "count", v.count, where, v.COUNT_RULE, required=True)
    side = v.convert_column(fields, "taker_side", _side, where, SIDE_RULE)
    _require_sides_agree(fields, price, no_price, where)
    return pd.DataFrame(
        {
            "trade_id": trade_id,
            "ticker": ticker,
            "created_time": time,
            "yes_price": price,
            "count": size,
            "taker_side": pd.Series(side, dtype="str"),
            SOURCE: where,
        }
    )


def _newest_first(trades: pd.DataFrame) -> pd.DataFrame:
    """A table's trades in the order of a response: newest first, ties by trade_id.

    A table has no listing order to trust: it may have been sorted, concatenated from several
    downloads or de-duplicated, and in saved tables the rows of one instant follow no order a
    trade could have been made in. Sorting by created_time, then trade_id, makes the same trades
    give the same quotes in any row order and any format; at one instant the greatest trade_id
    counts as the last trade (an arbitrary but fixed choice).
    """
    return trades.sort_values(
        ["created_time", "trade_id"], ascending=False, kind="mergesort", ignore_index=True
    )


def _field(raw: pd.DataFrame, names: Sequence[str]) -> pd.Series:
    """The first of ``names`` that a row holds, per row (None when it holds none)."""
    value = pd.Series(None, index=raw.index, dtype=object)
    for name in reversed(names):  # the first spelling is applied last, so it wins
        if name in raw.columns:
            column = raw[name].astype(object)
            value = column.where(column.notna(), value)
    return value


def _require_sides_agree(fields: pd.DataFrame, yes: list, no: list, where: str) -> None:
    """DataError naming the rows whose NO price is not 100 - their YES price."""
    bad = [
        i for i, (y, n) in enumerate(zip(yes, no, strict=True)) if n is not None and y + n != 100
    ]
    if bad:
        raise data_error(where, "no_price", NO_PRICE_RULE, fields.iloc[bad], len(fields))


def _objects(items: list, where: str, what: str) -> pd.DataFrame:
    """Trade objects as a frame of their values, as given (no type inference)."""
    if not all(isinstance(item, dict) for item in items):
        raise DataError(f"{where}: {what} must be an object.")
    return pd.DataFrame(items, dtype=object)


def _json_lines(text: str, where: str) -> pd.DataFrame:
    """The trade objects of a JSON-lines file, one a line (blank lines skipped)."""
    lines = [(n, line) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]
    items = [v.load_json(line, f"{where} line {n}") for n, line in lines]
    return _objects(items, where, "every line")


def _read_parquet(content: str | bytes, where: str) -> pd.DataFrame:
    if not isinstance(content, bytes):
        raise DataError(f"{where}: a Parquet file must be read as bytes, not text.")
    try:
        return pq.read_table(io.BytesIO(content)).to_pandas()
    except (pa.ArrowException, OSError, ValueError) as error:
        raise DataError(f"{where}: cannot be read as Parquet: {error}") from None


def _cents_from_text(table: pd.DataFrame) -> pd.DataFrame:
    """A CSV's ``yes_price``/``no_price`` text as numbers: those columns hold cents, so "42" is
    42¢, where the price rule would refuse text without a point as possibly dollars."""
    columns = {
        name: table[name].map(_number) for name in ("yes_price", "no_price") if name in table
    }
    return table.assign(**columns)


def _number(text):
    """Number text as an int when whole, else a float (the price rule refuses it); other text
    and nulls unchanged."""
    if not isinstance(text, str):
        return text
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        return text
    if not number.is_finite():
        return text
    return int(number) if number == number.to_integral_value() else float(number)


def _utc(value) -> pd.Timestamp:
    """A UTC timestamp from zoned ISO 8601 text or a tz-aware datetime; Invalid when naive."""
    if isinstance(value, str):
        return v.iso_utc(value)
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return pd.Timestamp(value).tz_convert("UTC")
    raise v.Invalid(value)


def _side(value) -> str:
    if value not in ("yes", "no"):
        raise v.Invalid(value)
    return value


def _text(value) -> str:
    if not isinstance(value, str) or not value:
        raise v.Invalid(value)
    return value
