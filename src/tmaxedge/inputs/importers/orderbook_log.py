"""Top-of-book change logs (CSV) -> ``quotes`` rows, one per market per minute.

A log has one row each time the best bid on either side changed: ``timestamp``,
``market_ticker`` (or ``ticker``), ``best_yes_bid`` and ``best_no_bid`` in integer cents, 0 when
that side is empty (other columns, such as implied asks, are ignored). YES ask = 100 - best NO
bid; an empty side is null. Timestamps without a zone are read in ``--tz`` (required then: a
logger's clock zone cannot be guessed).

All files are pooled, then each market's last book state in each minute becomes one row stamped
at the END of that minute (the state at the period's close, as a candle's). A change listed
twice (overlapping logs) changes no state; it is counted (``n_repeated_book_changes``). Minutes
whose last state is crossed (bid >= ask) are dropped and counted (``n_crossed_dropped``): the
minute is then absent, so the pipeline carries the previous minute's quote forward. Price,
volume and open interest are null: a book log has no trades.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from tmaxedge.core.errors import data_error
from tmaxedge.inputs.importers import values as v
from tmaxedge.inputs.importers.common import SOURCE, Imported, ImportOptions, rows_frame

KIND = "orderbook-log"
_RULE = "must be integer cents 0..100 (0 = empty side)"


def parse(files: Sequence[tuple[str, str]], options: ImportOptions) -> Imported:
    """Quote rows from ``(file name, text)`` pairs of book logs; ``options.tz`` for naive times."""
    tz = v.check_tz(options.tz)
    books = [book_rows(text, name, tz) for name, text in files]
    if not books:
        return Imported({"quotes": rows_frame("quotes", [])}, {"n_book_changes": 0})
    pooled = pd.concat(books, ignore_index=True)
    quotes, n_crossed = last_per_minute(pooled)
    # overlapping logs list a change twice: harmless for the last state, but counted
    repeated = pooled.duplicated(["ticker", "time", "yes_bid", "yes_ask"])
    counts = {
        "n_book_changes": len(pooled),
        "n_repeated_book_changes": int(repeated.sum()),
        "n_crossed_dropped": n_crossed,
    }
    return Imported({"quotes": quotes}, counts)


def book_rows(text: str, where: str, tz: str | None) -> pd.DataFrame:
    """One row per logged change: ticker, UTC time, yes_bid, yes_ask (nulls for empty sides)."""
    raw = v.read_csv_text(text, where)
    if "market_ticker" not in raw.columns and "ticker" in raw.columns:
        raw = raw.rename(columns={"ticker": "market_ticker"})
    v.require_columns(
        raw,
        ["timestamp", "market_ticker", "best_yes_bid", "best_no_bid"],
        where,
        "a top-of-book log",
    )
    missing = raw["market_ticker"].isna()
    if missing.any():
        raise data_error(where, "market_ticker", "must not be empty", raw[missing], len(raw))
    what = "pass --tz with the logger's time zone (e.g. America/Los_Angeles)"
    time = v.parse_times(raw, "timestamp", where, tz, what)
    yes_bid = v.convert_column(raw, "best_yes_bid", _cents, where, _RULE, required=True)
    no_bid = v.convert_column(raw, "best_no_bid", _cents, where, _RULE, required=True)
    return pd.DataFrame(
        {
            "ticker": raw["market_ticker"].to_numpy(),
            "time": time.to_numpy(),
            "yes_bid": [None if b == 0 else b for b in yes_bid],
            "yes_ask": [None if b == 0 else 100 - b for b in no_bid],
            SOURCE: where,
        }
    )


def last_per_minute(book: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Each market's last state per minute at the minute's end; crossed minutes dropped."""
    book = book.assign(time=pd.to_datetime(book["time"], utc=True))
    book = book.sort_values(["ticker", "time"], kind="mergesort")  # file order breaks ties
    book["ts"] = v.minute_end(book["time"])
    last = book.drop_duplicates(["ticker", "ts"], keep="last")
    bid = pd.to_numeric(last["yes_bid"]).astype("Int64")
    ask = pd.to_numeric(last["yes_ask"]).astype("Int64")
    crossed = (bid >= ask).fillna(False).astype(bool)
    kept = last[~crossed.to_numpy()]
    rows = kept.assign(price=None, volume=None, open_interest=None).drop(columns="time")
    return rows_frame("quotes", rows.to_dict("records")), int(crossed.sum())


def _cents(value: str) -> int:
    number = v.finite(value)
    if number != int(number) or not 0 <= number <= 100:
        raise v.Invalid(value)
    return int(number)
