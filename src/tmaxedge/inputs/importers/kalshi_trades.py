"""Kalshi ``GET /markets/trades`` (and ``/historical/trades``) responses -> price-only ``quotes``.

A response is ``{"trades": [...], "cursor": "..."}``; each trade has ``ticker``,
``created_time`` (ISO 8601), ``yes_price_dollars`` (``"0.4200"``) or ``yes_price`` (cents), and
``count_fp`` (``"10.00"``) or ``count``. All pages of all files are pooled, then per market and
minute one row: ``ts`` = the end of that minute, ``price`` = the last trade's YES price,
``volume`` = the contracts traded that minute; ``yes_bid``, ``yes_ask`` and ``open_interest`` are
null (trades carry no book). Trades at the same instant keep the order of the response, which
lists the newest first, so the first listed is the last trade.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from tmaxedge.core.errors import DataError
from tmaxedge.inputs.importers import values as v
from tmaxedge.inputs.importers.common import SOURCE, Imported, ImportOptions, rows_frame

KIND = "kalshi-trades"


def parse(files: Sequence[tuple[str, str]], options: ImportOptions) -> Imported:
    """Price-only quote rows from ``(file name, text)`` pairs of saved trades responses."""
    trades = [trade_rows(text, name) for name, text in files]
    trades = [frame for frame in trades if len(frame)]
    if not trades:
        return Imported({"quotes": rows_frame("quotes", [])}, {"n_trades": 0})
    pooled = pd.concat(trades, ignore_index=True)
    return Imported({"quotes": per_minute(pooled)}, {"n_trades": len(pooled)})


def trade_rows(text: str, where: str) -> pd.DataFrame:
    """One row per trade (ticker, time, price, count, source), in response order."""
    content = v.load_json(text, where)
    if not isinstance(content, dict) or not isinstance(content.get("trades"), list):
        raise DataError(f"{where}: not a Kalshi trades response (no 'trades' list).")
    trades = content["trades"]
    if not all(isinstance(trade, dict) for trade in trades):
        raise DataError(f"{where}: every item of 'trades' must be an object.")
    raw = pd.DataFrame(
        {
            "ticker": [t.get("ticker") for t in trades],
            "created_time": [t.get("created_time") for t in trades],
            "yes_price": [_first(t, "yes_price_dollars", "yes_price") for t in trades],
            "count": [_first(t, "count_fp", "count") for t in trades],
        },
        dtype=object,
    )
    if raw.empty:
        return raw
    ticker = v.convert_column(raw, "ticker", _ticker, where, "must be a market ticker", True)
    rule = "must be an ISO 8601 timestamp with its zone"
    time = v.convert_column(raw, "created_time", v.iso_utc, where, rule, required=True)
    price = v.convert_column(raw, "yes_price", v.price_cents, where, v.PRICE_RULE, required=True)
    size = v.convert_column(raw, "count", v.count, where, v.COUNT_RULE, required=True)
    return pd.DataFrame(
        {"ticker": ticker, "time": time, "price": price, "count": size, SOURCE: where}
    )


def per_minute(trades: pd.DataFrame) -> pd.DataFrame:
    """Last price and total contracts per (ticker, minute), stamped at the minute's end."""
    trades = trades.iloc[::-1]  # newest-first listing: reversed, a stable sort puts it last
    trades = trades.assign(time=pd.to_datetime(trades["time"], utc=True))
    trades = trades.sort_values(["ticker", "time"], kind="mergesort")
    trades["ts"] = v.minute_end(trades["time"])
    groups = trades.groupby(["ticker", "ts"], sort=True)
    last = groups.last()
    table = pd.DataFrame(
        {
            "ticker": last.index.get_level_values("ticker"),
            "ts": last.index.get_level_values("ts"),
            "yes_bid": None,
            "yes_ask": None,
            "price": last["price"].to_numpy(),
            "volume": groups["count"].sum().to_numpy(),
            "open_interest": None,
            SOURCE: last[SOURCE].to_numpy(),
        }
    )
    return rows_frame("quotes", table.to_dict("records"))


def _first(item: dict, *names: str):
    for name in names:
        if not v.is_missing(item.get(name)):
            return item[name]
    return None


def _ticker(value) -> str:
    if not isinstance(value, str) or not value:
        raise v.Invalid(value)
    return value
