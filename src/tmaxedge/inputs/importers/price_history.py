"""Kalshi website price-history downloads (CSV) -> price-only ``quotes`` and their ``markets``.

A download is one event: a ``timestamp`` column (UTC) then one column per bracket label
(``78° or below``, ``79° to 80°``, ``87° or above``) holding the chart price in cents with
decimals, empty when the chart has no point. The series and event date come from
``--series``/``--event-date`` or the file name
(``kalshi-price-history-kxhighmia-26apr20-minute.csv``; ``-hour`` files hold hourly points).

Prices: the chart value is not a trade price (its meaning, last/mean/mid, is undocumented), so
it is already an approximation; the contract stores integer cents, so it is ROUNDED HALF UP to
whole cents (1.29 -> 1, 25.50 -> 26). Refusing would make these files unusable, and the rounding
error (at most half a cent) is far below the chart's own uncertainty. Because the chart point's
stamp may mark the start of its period, ``ts`` = timestamp + one period (a minute, or an hour for
``-hour`` files): a point is never used before its period has ended.

Markets (unless ``with_markets`` is off) get Kalshi's tickers from the labels: "X° or below" ->
``T{X+1}`` less cap X+1; "X° or above" -> ``T{X-1}`` greater floor X-1; "a° to b°" -> ``B{a+.5}``
between a..b. The download has no trading window: ``open_time`` defaults to 10:00 New York time
the day before the event and ``close_time`` to 23:59 New York time on the event day (Kalshi's
schedule for these series, as the simulator uses), inferred, not read, and overridable
with ``--open-time``/``--close-time``. ``result`` is null.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from tmaxedge.core.errors import DataError
from tmaxedge.inputs.importers import values as v
from tmaxedge.inputs.importers.common import SOURCE, Imported, ImportOptions, rows_frame

KIND = "kalshi-price-history"
KALSHI_TZ = "America/New_York"
_NAME = re.compile(
    r"price-history-(?P<series>[a-z0-9]+)-(?P<date>\d{2}[a-z]{3}\d{2})"
    r"(?:-(?P<period>minute|hour))?",
    re.IGNORECASE,
)


def parse(files: Sequence[tuple[str, str]], options: ImportOptions) -> Imported:
    """Quote rows (and market rows) from ``(file name, text)`` pairs, one event per file."""
    series_city = v.series_cities(options.cities)
    quotes, markets, n_rounded, periods = [], [], 0, {}
    for name, text in files:
        series, day, period = event_of_file(name, options, series_city)
        other = periods.setdefault((series, day), (period, name))
        if other[0] != period:
            raise DataError(
                f"{name}: {other[1]} holds the same event at another resolution; import the "
                "-minute or the -hour download of an event, not both (their chart prices differ)."
            )
        raw = v.read_csv_text(text, name)
        brackets = bracket_markets(name, _labels(raw, name), series, day)
        frame, rounded = price_rows(raw, name, brackets, period)
        quotes.append(frame)
        n_rounded += rounded
        if options.with_markets:
            city = series_city[series]
            markets.append(market_rows(brackets, series, day, city, name, options))
    tables = {"quotes": _concat("quotes", quotes)}
    if options.with_markets:
        tables["markets"] = _concat("markets", markets)
    return Imported(tables, {"n_prices_rounded": n_rounded})


def event_of_file(
    name: str, options: ImportOptions, series_city: dict[str, str]
) -> tuple[str, dt.date, pd.Timedelta]:
    """(series, event date, period) from the options, else from the file name."""
    match = _NAME.search(Path(name).name)
    series = options.series or (match.group("series").upper() if match else None)
    day = options.event_date
    if day is None and match:
        try:
            day = v.event_date(match.group("date"))
        except v.Invalid:
            day = None
    if series is None or day is None:
        raise DataError(
            f"{name}: cannot tell the event: pass --series and --event-date, or keep the "
            "download's name (kalshi-price-history-<series>-<yyMONdd>-minute.csv)."
        )
    series = series.upper()
    if series not in series_city:
        raise DataError(f"{name}: series {series!r} is not among {sorted(series_city)}.")
    hourly = match is not None and (match.group("period") or "").lower() == "hour"
    return series, day, pd.Timedelta(hours=1) if hourly else pd.Timedelta(minutes=1)


def bracket_markets(
    where: str, labels: list[str], series: str, day: dt.date
) -> dict[str, tuple[str, str, float | None, float | None]]:
    """Label -> (ticker, strike_type, floor, cap) for every bracket column."""
    found, bad = {}, []
    event = f"{series}-{v.date_token(day)}"
    for label in labels:
        try:
            kind, floor, cap = v.strike_from_label(label)
        except v.Invalid:
            bad.append(label)
            continue
        found[label] = (f"{event}-{v.strike_suffix(kind, floor, cap)}", kind, floor, cap)
    if bad:
        raise DataError(
            f"{where}: column(s) {bad} are not bracket labels such as '78° or below', "
            "'79° to 80°' or '87° or above'."
        )
    return found


def price_rows(
    raw: pd.DataFrame, where: str, brackets: dict, period: pd.Timedelta
) -> tuple[pd.DataFrame, int]:
    """Long quote rows (one per non-empty cell), prices rounded half up; and the rounded count."""
    time = v.parse_times(raw, "timestamp", where, None, "the download is in UTC ('...Z')")
    rows, n_rounded = [], 0
    for label, (ticker, *_strikes) in brackets.items():
        cells = raw[[label]].assign(ts=time + period)
        cells = cells[cells[label].notna()]
        rule = "must be a chart price in cents 0..100 (decimals are rounded half up)"
        cents = v.convert_column(cells, label, _chart_cents, where, rule)
        exact = [c == float(t) for c, t in zip(cents, cells[label], strict=True)]
        n_rounded += exact.count(False)
        rows += [
            {
                "ticker": ticker,
                "ts": ts,
                "yes_bid": None,
                "yes_ask": None,
                "price": c,
                "volume": None,
                "open_interest": None,
                SOURCE: where,
            }
            for ts, c in zip(cells["ts"], cents, strict=True)
        ]
    return rows_frame("quotes", rows), n_rounded


def market_rows(
    brackets: dict, series: str, day: dt.date, city: str, where: str, options: ImportOptions
) -> pd.DataFrame:
    """One market per bracket, with the inferred (or given) trading window."""
    event = f"{series}-{v.date_token(day)}"
    opened = options.open_time or _new_york(day - dt.timedelta(days=1), dt.time(10, 0))
    closed = options.close_time or _new_york(day, dt.time(23, 59))
    rows = [
        {
            "ticker": ticker,
            "event_ticker": event,
            "city": city,
            "event_date": day,
            "strike_type": kind,
            "floor_strike": floor,
            "cap_strike": cap,
            "open_time": opened,
            "close_time": closed,
            "result": None,
            SOURCE: where,
        }
        for ticker, kind, floor, cap in brackets.values()
    ]
    return rows_frame("markets", rows)


def _labels(raw: pd.DataFrame, where: str) -> list[str]:
    columns = [str(name) for name in raw.columns]
    if len(columns) < 2 or columns[0] != "timestamp":
        raise DataError(
            f"{where}: not a price-history download: the first column must be 'timestamp', "
            f"then one column per bracket (found {columns})."
        )
    return columns[1:]


def _chart_cents(value: str) -> int:
    number = v.finite(value)
    if not 0 <= number <= 100:
        raise v.Invalid(value)
    return v.round_half_up(value)


def _new_york(day: dt.date, clock: dt.time) -> pd.Timestamp:
    return pd.Timestamp(dt.datetime.combine(day, clock), tz=KALSHI_TZ).tz_convert("UTC")


def _concat(table: str, frames: list[pd.DataFrame]) -> pd.DataFrame:
    return pd.concat(frames, ignore_index=True) if frames else rows_frame(table, [])
