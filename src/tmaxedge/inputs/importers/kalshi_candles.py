"""Kalshi market candlesticks (``GET /series/{s}/markets/{t}/candlesticks`` and
``GET /historical/markets/{t}/candlesticks``) -> ``quotes`` rows.

One response is ``{"ticker": ..., "candlesticks": [...]}``; each candle becomes one quote row:

- ``ts`` = ``end_period_ts`` (Unix seconds, the end of the period) in UTC;
- ``yes_bid``/``yes_ask`` = the ``close`` of the bid and ask candles, ``price`` = the ``close`` of
  the trade candle (null when nothing traded). A close is read from ``close_dollars`` (current
  saves, ``"0.4200"``), else from ``close``: integer cents in older saves, a dollar string in the
  historical endpoint's bare ``open``/``high``/``low``/``close`` spelling. A dollar value that is
  not a whole cent is an error, never rounded;
- an empty side (bid 0 / ask 100, i.e. ``"0.0000"`` / ``"1.0000"``) is stored as null, not as a
  price (counted as ``n_empty_bid`` / ``n_empty_ask``);
- ``volume`` and ``open_interest`` from ``volume_fp``/``open_interest_fp`` (fixed-point strings)
  when present, else ``volume``/``open_interest`` (integers, or strings in the historical spelling).

The ticker is ``options.ticker`` (``--ticker``), else the response's ``ticker``, else a ticker in
the file name (``KXHIGHCHI-25NOV14-B45.5.json``); two that disagree are an error. Rows after the
market's ``close_time`` are dropped when the rows are merged with a known market.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from tmaxedge.core.errors import DataError
from tmaxedge.inputs.importers import values as v
from tmaxedge.inputs.importers.common import SOURCE, Imported, ImportOptions, rows_frame

KIND = "kalshi-candles"


def parse(files: Sequence[tuple[str, str]], options: ImportOptions) -> Imported:
    """Quote rows from ``(file name, text)`` pairs of saved candlestick responses."""
    frames, counts = [], {"n_empty_bid": 0, "n_empty_ask": 0}
    for name, text in files:
        content = v.load_json(text, name)
        if not isinstance(content, dict) or not isinstance(content.get("candlesticks"), list):
            raise DataError(f"{name}: not a Kalshi candlesticks response (no 'candlesticks' list).")
        ticker = resolve_ticker(options.ticker, content.get("ticker"), name)
        frame, found = candle_rows(content["candlesticks"], ticker, name)
        frames.append(frame)
        for key, value in found.items():
            counts[key] += value
    quotes = pd.concat(frames, ignore_index=True) if frames else rows_frame("quotes", [])
    return Imported({"quotes": quotes}, counts)


def resolve_ticker(option: str | None, field: Any, where: str) -> str:
    """The market of one file: --ticker, else the ``ticker`` field, else the file name."""
    field = field if isinstance(field, str) and field else None
    if option and field and option != field:
        raise DataError(f"{where}: --ticker says {option!r} but the file's 'ticker' says {field!r}")
    from_name = re.search(v.TICKER_PATTERN, Path(where).name)
    ticker = option or field or (from_name.group(0) if from_name else None)
    if ticker is None:
        raise DataError(
            f"{where}: no market ticker: pass --ticker, or name the file after the market "
            "(e.g. KXHIGHCHI-25NOV14-B45.5.json)."
        )
    return ticker


def candle_rows(candles: list[Any], ticker: str, where: str) -> tuple[pd.DataFrame, dict[str, int]]:
    """Contract quote rows of one response's candles, and the empty-side counts."""
    if not candles:
        return rows_frame("quotes", []), {"n_empty_bid": 0, "n_empty_ask": 0}
    if not all(isinstance(candle, dict) for candle in candles):
        raise DataError(f"{where}: every item of 'candlesticks' must be an object.")
    raw = pd.DataFrame(
        {
            "end_period_ts": [c.get("end_period_ts") for c in candles],
            "yes_bid.close": [_close(c.get("yes_bid")) for c in candles],
            "yes_ask.close": [_close(c.get("yes_ask")) for c in candles],
            "price.close": [_close(c.get("price")) for c in candles],
            "volume": [_count_field(c, "volume") for c in candles],
            "open_interest": [_count_field(c, "open_interest") for c in candles],
        },
        dtype=object,
    )
    rule = "must be Unix seconds (an integer)"
    ts = v.convert_column(raw, "end_period_ts", v.epoch_utc, where, rule)
    bid = v.convert_column(raw, "yes_bid.close", v.price_cents, where, v.PRICE_RULE)
    ask = v.convert_column(raw, "yes_ask.close", v.price_cents, where, v.PRICE_RULE)
    price = v.convert_column(raw, "price.close", v.price_cents, where, v.PRICE_RULE)
    volume = v.convert_column(raw, "volume", v.count, where, v.COUNT_RULE)
    interest = v.convert_column(raw, "open_interest", v.count, where, v.COUNT_RULE)
    counts = {"n_empty_bid": bid.count(0), "n_empty_ask": ask.count(100)}
    rows = [
        {
            "ticker": ticker,
            "ts": t,
            "yes_bid": None if b == 0 else b,
            "yes_ask": None if a == 100 else a,
            "price": p,
            "volume": n,
            "open_interest": oi,
            SOURCE: where,
        }
        for t, b, a, p, n, oi in zip(ts, bid, ask, price, volume, interest, strict=True)
    ]
    return rows_frame("quotes", rows), counts


def _close(ohlc: Any) -> Any:
    """The raw close of one OHLC object: ``close_dollars`` first, else ``close``."""
    if not isinstance(ohlc, dict):
        return None
    dollars = ohlc.get("close_dollars")
    return dollars if not v.is_missing(dollars) else ohlc.get("close")


def _count_field(candle: dict[str, Any], name: str) -> Any:
    fixed = candle.get(f"{name}_fp")
    return fixed if not v.is_missing(fixed) else candle.get(name)
