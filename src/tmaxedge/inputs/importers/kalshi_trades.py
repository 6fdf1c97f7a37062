"""Kalshi ``GET /markets/trades`` (and ``/historical/trades``) responses -> price-only ``quotes``.

A response is ``{"trades": [...], "cursor": "..."}``; each trade has ``trade_id``, ``ticker``,
``created_time`` (ISO 8601), ``yes_price_dollars`` (``"0.4200"``) or ``yes_price`` (cents), and
``count_fp`` (``"10.00"``) or ``count``. All pages of all files are pooled and each trade is
kept once by its ``trade_id`` (overlapping pages, a page saved twice: the repeats are dropped and
counted as ``n_duplicate_trades``; one id with two different trades is an error). The trades go
to the folder's trade ledger (``importers.ledger``), and per market and minute one quote row is
computed from every trade the ledger holds for that minute: ``ts`` = the end of that minute,
``price`` = the last trade's YES price, ``volume`` = the contracts traded that minute;
``yes_bid``, ``yes_ask`` and ``open_interest`` are null (trades carry no book). Trades at the
same instant keep the order of the response, which lists the newest first, so the first listed
is the last trade.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from tmaxedge.core.errors import DataError
from tmaxedge.inputs.importers import ledger
from tmaxedge.inputs.importers import values as v
from tmaxedge.inputs.importers.common import SOURCE, Imported, ImportOptions

KIND = "kalshi-trades"


def parse(files: Sequence[tuple[str, str]], options: ImportOptions) -> Imported:
    """Trades (for the ledger) from ``(file name, text)`` pairs of saved trades responses."""
    listed = ledger.listed_trades([trade_rows(text, name) for name, text in files])
    trades, n_repeated = ledger.unique_trades(listed)
    counts = {"n_trades": len(listed), "n_duplicate_trades": n_repeated}
    return Imported({ledger.TABLE: trades}, counts)


def trade_rows(text: str, where: str) -> pd.DataFrame:
    """One row per trade (trade_id, ticker, time, price, count, source), in response order."""
    content = v.load_json(text, where)
    if not isinstance(content, dict) or not isinstance(content.get("trades"), list):
        raise DataError(f"{where}: not a Kalshi trades response (no 'trades' list).")
    trades = content["trades"]
    if not all(isinstance(trade, dict) for trade in trades):
        raise DataError(f"{where}: every item of 'trades' must be an object.")
    raw = pd.DataFrame(
        {
            "trade_id": [t.get("trade_id") for t in trades],
            "ticker": [t.get("ticker") for t in trades],
            "created_time": [t.get("created_time") for t in trades],
            "yes_price": [_first(t, "yes_price_dollars", "yes_price") for t in trades],
            "count": [_first(t, "count_fp", "count") for t in trades],
        },
        dtype=object,
    )
    if raw.empty:
        return raw
    # without its id a repeated trade cannot be told from a second one at the same price
    rule = "must be the trade's id (text): trades are de-duplicated by it"
    trade_id = v.convert_column(raw, "trade_id", _text, where, rule, required=True)
    ticker = v.convert_column(raw, "ticker", _text, where, "must be a market ticker", True)
    rule = "must be an ISO 8601 timestamp with its zone"
    time = v.convert_column(raw, "created_time", v.iso_utc, where, rule, required=True)
    price = v.convert_column(raw, "yes_price", v.price_cents, where, v.PRICE_RULE, required=True)
    size = v.convert_column(raw, "count", v.count, where, v.COUNT_RULE, required=True)
    return pd.DataFrame(
        {
            "trade_id": trade_id,
            "ticker": ticker,
            "created_time": time,
            "yes_price": price,
            "count": size,
            SOURCE: where,
        }
    )


def _first(item: dict, *names: str):
    for name in names:
        if not v.is_missing(item.get(name)):
            return item[name]
    return None


def _text(value) -> str:
    if not isinstance(value, str) or not value:
        raise v.Invalid(value)
    return value
