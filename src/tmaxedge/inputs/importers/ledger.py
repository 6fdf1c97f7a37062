"""The trade ledger: every Kalshi trade imported into a folder, once, by its ``trade_id``.

Why a ledger: a quote row holds one market-minute with the minute's contracts summed over its
trades. From those sums alone a later import cannot tell a trade it already counted from a new
one in the same minute, so it would double a volume (the same trade twice) or miss one (a new
trade whose minute happens to sum to the stored row). The ledger (``trades.parquet`` beside the
contract tables; ``ingest`` does not read it) keeps each trade once, and a minute's trade-only
quote row is recomputed from it whenever a new trade lands in that minute.

One trade_id is one trade: the same id with another ticker, time, price or size is refused,
never resolved by picking one. Trades at the very same instant keep their listing order (the
API lists the newest first; a table is sorted by trade_id, ``kalshi_trades``); a trade imported
later sorts after the ones already held (``seq``).

``taker_side`` (``yes``/``no``, null when the source does not say) is kept for the record; no
quote column depends on it. A null side agrees with either side, so a listing without it and one
with it are the same trade, and the side one of them gives is kept (also for a trade the ledger
already held without it: ``n_taker_sides_filled``). A ledger written before the column existed
reads as all null.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tmaxedge.core.errors import DataError, data_error
from tmaxedge.inputs import contract
from tmaxedge.inputs.importers import values as v
from tmaxedge.inputs.importers.common import SOURCE, rows_frame

TABLE = "trades"
DTYPES = {
    "trade_id": "str",
    "ticker": "str",
    "created_time": contract.TIME_DTYPE,
    "yes_price": "int64",  # cents
    "count": "int64",
    "seq": "int64",  # order among trades at one instant: listing order, then import order
    "taker_side": "str",  # "yes" / "no", null when the source does not say
}
NULLABLE = {"taker_side"}
# what one trade_id must agree on wherever it is listed (a null taker_side agrees with any)
IDENTITY = ["ticker", "created_time", "yes_price", "count", "taker_side"]
_ONE_TRADE = (
    "must identify one trade: rows with the same trade_id differ in ticker, created_time, "
    "yes_price, count or taker_side (column 'source' names the file or ledger of each); "
    "nothing was written"
)


@dataclass
class Merged:
    """The ledger after an import and the quote rows it changes."""

    trades: pd.DataFrame  # the whole ledger, sorted (with ``source``)
    quotes: pd.DataFrame  # trade-only quote rows of every minute a new trade landed in
    stale: pd.DataFrame  # the rows those minutes held before (computed from the old ledger)
    n_new: int
    n_already_present: int
    n_repeated: int  # trades listed by two imports merged at once (``fetch --import-to``)
    n_sides_filled: int  # trades the ledger held without a taker_side that an import gave


def listed_trades(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Trades of several responses (each newest first, pages in order) in ledger dtypes.

    ``seq`` counts from the oldest listed trade, so a stable sort on (created_time, seq) puts
    trades of one instant in the order they were made.
    """
    frames = [frame for frame in frames if len(frame)]
    if not frames:
        return empty()
    pooled = pd.concat(frames, ignore_index=True).iloc[::-1].reset_index(drop=True)
    return typed(pooled.assign(seq=np.arange(len(pooled))))


def empty() -> pd.DataFrame:
    return typed(pd.DataFrame({name: [] for name in [*DTYPES, SOURCE]}))


def typed(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` in ledger dtypes (values already checked by the converters or read back)."""
    columns = {
        "trade_id": frame["trade_id"].astype("str"),
        "ticker": frame["ticker"].astype("str"),
        "created_time": pd.to_datetime(frame["created_time"], utc=True).dt.as_unit("us"),
        "yes_price": frame["yes_price"].astype("int64"),
        "count": frame["count"].astype("int64"),
        "seq": frame["seq"].astype("int64"),
        "taker_side": frame["taker_side"].astype("str"),  # nulls stay null
        SOURCE: frame[SOURCE].astype("str"),
    }
    return pd.DataFrame(columns).reset_index(drop=True)


def read_ledger(frame: pd.DataFrame, where: str) -> pd.DataFrame:
    """A ledger read back from ``where``; DataError when it is not one (edited, truncated).

    A ledger written before ``taker_side`` existed has no such column: its sides are unknown.
    """
    if "taker_side" not in frame.columns:
        frame = frame.assign(taker_side=pd.Series(None, index=frame.index, dtype="str"))
    missing = [name for name in DTYPES if name not in frame.columns]
    if missing:
        raise DataError(
            f"{where}: column '{missing[0]}' is missing; a trade ledger has {[*DTYPES]}"
        )
    wrong = [name for name in DTYPES if not _has_type(frame[name], DTYPES[name])]
    if wrong:  # converting would guess: an integer read as a time is nanoseconds since 1970
        raise DataError(
            f"{where}: column '{wrong[0]}' has type {frame[wrong[0]].dtype}, not "
            f"{DTYPES[wrong[0]]}; not a trade ledger written by tmaxedge."
        )
    required = [name for name in DTYPES if name not in NULLABLE]
    nulls = frame[required].isna().any(axis=1)
    if nulls.any():
        raise data_error(where, ", ".join(required), "must not be null", frame[nulls], len(frame))
    return typed(frame.assign(**{SOURCE: where}))


def _has_type(column: pd.Series, dtype: str) -> bool:
    if dtype == contract.TIME_DTYPE:
        return isinstance(column.dtype, pd.DatetimeTZDtype)
    if dtype == "int64":
        return pd.api.types.is_integer_dtype(column.dtype)
    return pd.api.types.is_string_dtype(column.dtype) or pd.api.types.is_object_dtype(column.dtype)


def unique_trades(trades: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Each trade_id once (the first listed kept), and how many repeats were dropped."""
    trades = with_known_sides(trades)
    repeated = trades.duplicated(["trade_id", *IDENTITY], keep="first")
    trades = trades[~repeated]
    _refuse_clashes(trades, ", ".join(sorted(set(trades[SOURCE]))))
    return trades, int(repeated.sum())


def merge(old: pd.DataFrame, imports: Sequence[pd.DataFrame], where: str) -> Merged:
    """The trades of ``imports`` (each in listing order) added to the ledger ``old``."""
    offset, parts = 0, []
    for frame in imports:  # a later import's trades sort after an earlier one's at one instant
        parts.append(frame.assign(seq=frame["seq"] + offset))
        offset += int(frame["seq"].max()) + 1 if len(frame) else 0
    new, n_repeated = unique_trades(pd.concat(parts, ignore_index=True))
    held = new["trade_id"].isin(old["trade_id"].unique()).to_numpy()
    fresh = new[~held]
    fresh = fresh.assign(seq=fresh["seq"] + (int(old["seq"].max()) + 1 if len(old) else 0))
    combined = with_known_sides(pd.concat([old, new[held]], ignore_index=True))
    _refuse_clashes(combined[~combined.duplicated(["trade_id", *IDENTITY])], where)
    sided = combined["taker_side"].iloc[: len(old)]  # old rows come first, index as old's
    n_filled = int((old["taker_side"].isna() & sided.notna()).sum())
    ledger = pd.concat([old.assign(taker_side=sided), fresh], ignore_index=True)
    ledger = ledger.sort_values(["ticker", "created_time", "seq"], kind="mergesort")
    landed = set(_minutes(fresh))
    return Merged(
        trades=ledger.reset_index(drop=True),
        quotes=per_minute(ledger[_minutes(ledger).isin(landed).to_numpy()]),
        stale=per_minute(old[_minutes(old).isin(landed).to_numpy()]),
        n_new=len(fresh),
        n_already_present=int(held.sum()),
        n_repeated=n_repeated,
        n_sides_filled=n_filled,
    )


def per_minute(trades: pd.DataFrame) -> pd.DataFrame:
    """Last price and total contracts per (ticker, minute), stamped at the minute's end.

    ``yes_bid``, ``yes_ask`` and ``open_interest`` are null: trades carry no book.
    """
    if trades.empty:
        return rows_frame("quotes", [])
    trades = trades.sort_values(["ticker", "created_time", "seq"], kind="mergesort")
    trades = trades.assign(ts=v.minute_end(trades["created_time"]))
    groups = trades.groupby(["ticker", "ts"], sort=True)
    last = groups.last()
    table = pd.DataFrame(
        {
            "ticker": last.index.get_level_values("ticker"),
            "ts": last.index.get_level_values("ts"),
            "yes_bid": None,
            "yes_ask": None,
            "price": last["yes_price"].to_numpy(),
            "volume": groups["count"].sum().to_numpy(),
            "open_interest": None,
            SOURCE: last[SOURCE].to_numpy(),
        }
    )
    return rows_frame("quotes", table.to_dict("records"))


def with_known_sides(trades: pd.DataFrame) -> pd.DataFrame:
    """A null taker_side takes the side another listing of its trade_id gives: the listing
    without it is the same trade, and two listings giving two sides still differ."""
    known = trades.groupby("trade_id", sort=False)["taker_side"].transform("first")
    return trades.assign(taker_side=trades["taker_side"].fillna(known))


def _minutes(trades: pd.DataFrame) -> pd.Series:
    """(ticker, minute end) of each trade, as one hashable label per row."""
    minutes = v.minute_end(trades["created_time"])
    return pd.Series(list(zip(trades["ticker"], minutes, strict=True)), dtype=object)


def _refuse_clashes(trades: pd.DataFrame, where: str) -> None:
    """DataError when one trade_id is listed with two different trades."""
    clash = trades[trades.duplicated("trade_id", keep=False)]
    if len(clash):
        shown = clash.sort_values(["trade_id", "seq"], kind="mergesort").drop(columns="seq")
        raise data_error(where, "trade_id", _ONE_TRADE, shown, len(trades))
