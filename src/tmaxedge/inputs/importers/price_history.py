"""Kalshi website price-history downloads (CSV) -> price-only ``quotes`` and their ``markets``.

A download is one event: a ``timestamp`` column (UTC) then one column per bracket label
(``78° or below``, ``79° to 80°``, ``87° or above``) holding the chart price in cents with
decimals, empty when the chart has no point. The series and event date come from
``--series``/``--event-date`` or the file name
(``kalshi-price-history-kxhighmia-26apr20-minute.csv``; ``-hour`` files hold hourly points).

Prices: the chart value is not a trade price (its meaning, last/mean/mid, is undocumented), so
it is already an approximation; the contract stores integer cents, so it is ROUNDED HALF UP to
whole cents (1.29 -> 1, 25.50 -> 26). Refusing would make these files unusable, and the rounding
error (at most half a cent) is far below the chart's own uncertainty.

Units: the download is in cents. A file whose every price lies within 0..1 looks like dollars
(a resaved or hand-made file; in cents the brackets of an event sum to about 100, so one of them
is far above 1): read as cents, 0.45 would become 0 and 0.55 1. Such a file is refused, naming
the file, the columns and the first rows, unless ``--price-units`` says what it is: ``dollars``
converts every price to cents (x100, then rounded as above) and says so in the import's notes,
``cents`` keeps them as they are.

Times: because the chart point's stamp may mark the start of its period, ``ts`` = timestamp +
one period (a minute, or an hour for ``-hour`` files): a point is never used before its period
has ended.

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
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pandas as pd

from tmaxedge.core.errors import DataError, data_error
from tmaxedge.inputs.importers import values as v
from tmaxedge.inputs.importers.common import (
    PRICE_UNITS,
    SOURCE,
    Imported,
    ImportOptions,
    rows_frame,
)

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
    quotes, markets, n_rounded, periods, notes = [], [], 0, {}, []
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
        units = price_units(raw, list(brackets), name, options.price_units)
        if units == "dollars":
            notes.append(f"{name}: chart prices read as dollars and converted to cents (x100)")
        frame, rounded = price_rows(raw, name, brackets, period, units)
        quotes.append(frame)
        n_rounded += rounded
        if options.with_markets:
            city = series_city[series]
            markets.append(market_rows(brackets, series, day, city, name, options))
    tables = {"quotes": _concat("quotes", quotes)}
    if options.with_markets:
        tables["markets"] = _concat("markets", markets)
    return Imported(tables, {"n_prices_rounded": n_rounded}, notes)


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


def price_units(raw: pd.DataFrame, labels: list[str], where: str, given: str | None) -> str:
    """The units of a file's prices: ``given`` (``--price-units``) when set, else cents; a file
    whose every price lies within 0..1 is refused (see the module notes)."""
    if given is not None:
        if given not in PRICE_UNITS:
            raise DataError(f"--price-units must be one of {list(PRICE_UNITS)}; got {given!r}.")
        return given
    cells = raw[labels].apply(pd.to_numeric, errors="coerce")  # text is refused later, by cell
    priced = cells.notna().any(axis=1)
    if not priced.any() or (cells.abs() > 1).any().any():
        return "cents"
    rule = (
        "must be chart prices in cents, but every price in the file lies within 0..1, as dollars "
        "would; pass --price-units dollars to convert them to cents (x100), or --price-units "
        "cents if they are cents"
    )
    raise data_error(where, ", ".join(labels), rule, raw[priced], len(raw))


def price_rows(
    raw: pd.DataFrame, where: str, brackets: dict, period: pd.Timedelta, units: str = "cents"
) -> tuple[pd.DataFrame, int]:
    """Long quote rows (one per non-empty cell), prices rounded half up; and the rounded count."""
    time = v.parse_times(raw, "timestamp", where, None, "the download is in UTC ('...Z')")
    convert, rule = _CONVERTERS[units]
    rows, n_rounded = [], 0
    for label, (ticker, *_strikes) in brackets.items():
        cells = raw[[label]].assign(ts=time + period)
        cells = cells[cells[label].notna()]
        converted = v.convert_column(cells, label, convert, where, rule)
        n_rounded += sum(not exact for _, exact in converted)
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
            for ts, (c, _) in zip(cells["ts"], converted, strict=True)
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


def _chart_cents(value: str, scale: int = 1) -> tuple[int, bool]:
    """(whole cents, whether no rounding was needed) of a chart price in cents (``scale`` 1) or
    dollars (``scale`` 100); Invalid outside 0..100 cents."""
    number = v.finite(value)
    if not 0 <= number * scale <= 100:
        raise v.Invalid(value)
    try:
        cents = Decimal(value.strip()) * scale
    except InvalidOperation:
        raise v.Invalid(value) from None
    return v.round_half_up(cents), cents == cents.to_integral_value()


_CONVERTERS = {
    "cents": (_chart_cents, "must be a chart price in cents 0..100 (decimals are rounded half up)"),
    "dollars": (
        lambda value: _chart_cents(value, 100),
        "must be a chart price in dollars 0..1 (--price-units dollars; x100, rounded half up)",
    ),
}


def _new_york(day: dt.date, clock: dt.time) -> pd.Timestamp:
    return pd.Timestamp(dt.datetime.combine(day, clock), tz=KALSHI_TZ).tz_convert("UTC")


def _concat(table: str, frames: list[pd.DataFrame]) -> pd.DataFrame:
    return pd.concat(frames, ignore_index=True) if frames else rows_frame(table, [])
