"""Kalshi ``GET /markets`` and ``GET /historical/markets`` responses -> ``markets`` rows.

A response is a JSON object ``{"markets": [...], "cursor": "..."}`` (one file per page; a single
``{"market": {...}}`` from ``GET /markets/{ticker}`` is accepted too). Per market:

- city from the series prefix of ``event_ticker`` (KXHIGHCHI -> chi, and the older HIGHCHI),
  event_date from its date token (``KXHIGHCHI-25NOV14`` -> 2025-11-14);
- ``strike_type``/``floor_strike``/``cap_strike`` as given for ``between``, ``greater``,
  ``less``; ``greater_or_equal`` floor F becomes ``greater`` floor F-1 and ``less_or_equal``
  cap C becomes ``less`` cap C+1, so the contract's YES rule (``greater`` ⇔ T > floor,
  ``less`` ⇔ T < cap) keeps its meaning on integer highs. Without strike fields the strikes
  come from ``subtitle``, ``yes_sub_title`` or ``title`` ("88° to 89°", "94° or above" ->
  greater floor 93, "73° or below" -> less cap 74, ">93°", "<74°");
- ``open_time``/``close_time`` as given (ISO 8601 with zone); ``result`` "yes"/"no", and ""
  (unsettled) as null.

Prices in the response (``last_price``, ``yes_bid``...) are snapshots, look-ahead for a settled
market: they are never imported as quotes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from tmaxedge.core.errors import DataError, data_error
from tmaxedge.inputs.importers import values as v
from tmaxedge.inputs.importers.common import SOURCE, Imported, ImportOptions, rows_frame

KIND = "kalshi-markets"
_TITLES = ("subtitle", "yes_sub_title", "title")
_SHIFTED = {"greater_or_equal": "greater", "less_or_equal": "less"}
_RESULTS = {"yes": "yes", "no": "no", "": None}


def parse(files: Sequence[tuple[str, str]], options: ImportOptions) -> Imported:
    """Markets rows from ``(file name, text)`` pairs; ``options.start``/``end`` filter events.

    Returns ``Imported`` with a ``markets`` table and ``n_markets_outside_dates``. Raises
    ``DataError`` naming the file, the field and the markets for anything it cannot map, and
    naming the files when none of them lists a market (a page may be empty; all of them not).
    """
    series_city = v.series_cities(options.cities)
    frames, n_outside, n_listed = [], 0, 0
    for name, text in files:
        rows = market_rows(load_markets(text, name), name, series_city)
        # bool: the map of an empty column is of object dtype, which would select columns
        keep = rows["event_date"].map(lambda day: _in_range(day, options)).to_numpy(dtype=bool)
        n_outside += int((~keep).sum())
        n_listed += len(rows)
        frames.append(rows[keep])
    if n_listed == 0:  # a wrong series or date range, most likely: nothing to import is no success
        raise DataError(f"{_names(files)}: no markets (every 'markets' list is empty).")
    markets = pd.concat(frames, ignore_index=True)
    return Imported({"markets": markets}, {"n_markets_outside_dates": n_outside})


def _names(files: Sequence[tuple[str, str]], n_shown: int = 3) -> str:
    names = ", ".join(name for name, _ in files[:n_shown])
    return names if len(files) <= n_shown else f"{names} and {len(files) - n_shown:,} more"


def load_markets(text: str, where: str) -> list[dict[str, Any]]:
    """The market objects of one saved response."""
    content = v.load_json(text, where)
    if isinstance(content, dict) and isinstance(content.get("market"), dict):
        return [content["market"]]
    if not isinstance(content, dict) or not isinstance(content.get("markets"), list):
        raise DataError(f"{where}: not a Kalshi markets response (no 'markets' list).")
    bad = [i for i, item in enumerate(content["markets"]) if not isinstance(item, dict)]
    if bad:
        raise DataError(f"{where}: markets[{bad[0]}] is not an object.")
    return content["markets"]


def market_rows(
    markets: list[dict[str, Any]], where: str, series_city: dict[str, str]
) -> pd.DataFrame:
    """Contract rows of the market objects of one file (checked field by field)."""
    fields = [{name: market.get(name) for name in _FIELDS} for market in markets]
    raw = pd.DataFrame(fields, columns=_FIELDS, dtype=object)
    if raw.empty:
        return rows_frame("markets", [])
    ticker = v.convert_column(raw, "ticker", _text, where, "must be a market ticker (text)", True)
    raw["event_ticker"] = [
        e if isinstance(e, str) and e else t.rsplit("-", 1)[0]
        for e, t in zip(raw["event_ticker"], ticker, strict=True)
    ]
    mismatch = [not t.startswith(f"{e}-") for t, e in zip(ticker, raw["event_ticker"], strict=True)]
    rule = "must start with its event_ticker and '-'"
    _require(raw, mismatch, "ticker", ["ticker", "event_ticker"], where, rule)
    rule = f"must start with a known series ({sorted(series_city)}) and a date like 25NOV14"
    events = v.convert_column(
        raw, "event_ticker", lambda e: v.event_of(e, series_city), where, rule
    )
    strikes = [_strike(row) for row in raw.to_dict("records")]
    columns = "strike_type, floor_strike, cap_strike"
    shown = ["ticker", "strike_type", "floor_strike", "cap_strike", "subtitle"]
    _require(raw, [s is None for s in strikes], columns, shown, where, _STRIKE_RULE)
    opened = v.convert_column(raw, "open_time", v.iso_utc, where, _TIME_RULE, required=True)
    closed = v.convert_column(raw, "close_time", v.iso_utc, where, _TIME_RULE, required=True)
    result = v.convert_column(raw, "result", _result, where, _RESULT_RULE)
    rows = [
        {
            "ticker": t,
            "event_ticker": e,
            "city": c,
            "event_date": d,
            "strike_type": s[0],
            "floor_strike": s[1],
            "cap_strike": s[2],
            "open_time": o,
            "close_time": x,
            "result": r,
            SOURCE: where,
        }
        for t, e, (c, d), s, o, x, r in zip(
            ticker, raw["event_ticker"], events, strikes, opened, closed, result, strict=True
        )
    ]
    return rows_frame("markets", rows)


_FIELDS = [
    "ticker",
    "event_ticker",
    "strike_type",
    "floor_strike",
    "cap_strike",
    *_TITLES,
    "open_time",
    "close_time",
    "result",
]
_STRIKE_RULE = (
    "must give the bracket: strike_type between/greater/less/greater_or_equal/less_or_equal "
    f"with its strikes, or a title such as '88° to 89°' (looked up in {list(_TITLES)})"
)
_TIME_RULE = "must be an ISO 8601 timestamp with its zone (e.g. 2025-11-15T04:59:00Z)"
_RESULT_RULE = "must be 'yes', 'no' or '' (unsettled)"


def _require(
    raw: pd.DataFrame, bad: list[bool], column: str, shown: list[str], where: str, rule: str
) -> None:
    """DataError on the rows of ``raw`` flagged in ``bad``, showing the ``shown`` fields."""
    if any(bad):
        raise data_error(where, column, rule, raw[bad][shown], len(raw))


def _strike(row: dict[str, Any]) -> tuple[str, float | None, float | None] | None:
    """(strike_type, floor, cap) under the contract's YES rule, or None when undeterminable."""
    kind = row["strike_type"]
    floor, cap = (None if v.is_missing(x) else x for x in (row["floor_strike"], row["cap_strike"]))
    if not all(x is None or _is_number(x) for x in (floor, cap)):
        return None
    if kind == "between" and floor is not None and cap is not None:
        return "between", float(floor), float(cap)
    if kind in ("greater", "greater_or_equal") and floor is not None:
        return "greater", float(floor) - (kind == "greater_or_equal"), None
    if kind in ("less", "less_or_equal") and cap is not None:
        return "less", None, float(cap) + (kind == "less_or_equal")
    if not v.is_missing(kind) and kind not in ("between", *_SHIFTED, "greater", "less"):
        return None  # functional, custom...: not a temperature bracket
    for field in _TITLES:
        label = row[field]
        if isinstance(label, str) and label:
            try:
                return v.strike_from_label(label)
            except v.Invalid:
                continue
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise v.Invalid(value)
    return value


def _result(value: Any) -> str | None:
    if not isinstance(value, str) or value.lower() not in _RESULTS:
        raise v.Invalid(value)
    return _RESULTS[value.lower()]


def _in_range(day, options: ImportOptions) -> bool:
    return (options.start is None or day >= options.start) and (
        options.end is None or day <= options.end
    )
