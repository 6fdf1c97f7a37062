"""Cell converters shared by the importers: prices, counts, timestamps, tickers, strike labels.

Each converter takes one raw value and returns the contract value, or raises ``Invalid``;
``convert_column`` applies one to a column and turns every failure into a single ``DataError``
naming the file, the column, the rule and the offending rows.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import math
import re
import zoneinfo
from collections.abc import Callable, Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import pandas as pd

from tmaxedge.core.config import City
from tmaxedge.core.errors import DataError, data_error

MONTHS = {
    m: i
    for i, m in enumerate(
        ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"),
        start=1,
    )
}
# KXHIGHCHI-25NOV14-B45.5: series, event date (yyMONdd), strike suffix
TICKER_PATTERN = r"[A-Z][A-Z0-9]*-\d{2}[A-Z]{3}\d{2}-[A-Z]+-?\d+(?:\.\d+)?"
_ZONE_SUFFIX = r"(?:Z|[+-]\d{2}(?::?\d{2})?)\s*$"  # as ingest: ...Z, ...+00:00, ...-0500

PRICE_RULE = (
    "must be a price: integer cents 0..100, or a dollar string in whole cents such as "
    "'0.4200' (fractions of a cent are refused, not rounded; text without a decimal point, "
    "such as '1', is refused: it could be one cent or one dollar)"
)
COUNT_RULE = (
    "must be a count: an integer 0..2**53, or a fixed-point string of a whole number ('12.00')"
)
_MAX_COUNT = 2**53  # beyond it a count stored as a float (as pandas does) loses its digits


class Invalid(ValueError):
    """One raw value that cannot be converted."""


def is_missing(value: Any) -> bool:
    """None, NaN or NA: the source has no value."""
    if value is None or value is pd.NA:
        return True
    return isinstance(value, float) and math.isnan(value)


def convert_column(
    raw: pd.DataFrame,
    column: str,
    convert: Callable[[Any], Any],
    where: str,
    rule: str,
    required: bool = False,
) -> list[Any]:
    """``convert`` applied to every cell of ``raw[column]``; failures become one DataError.

    Missing cells give None, or fail when ``required``.
    """
    values, bad = [], []
    for position, value in enumerate(raw[column].tolist()):
        try:
            if is_missing(value) and required:
                raise Invalid(value)
            values.append(None if is_missing(value) else convert(value))
        except Invalid:
            bad.append(position)
            values.append(None)
    if bad:
        raise data_error(where, column, rule, raw.iloc[bad], len(raw))
    return values


def load_json(text: str, where: str) -> Any:
    """The JSON content of one file; DataError naming the file when it is not JSON."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise DataError(f"{where}: not valid JSON ({error}).") from None


def read_csv_text(text: str, where: str) -> pd.DataFrame:
    """A CSV's cells as text (empty cells null); comment lines starting with '#' are skipped."""
    try:
        return pd.read_csv(
            io.StringIO(text), dtype=str, keep_default_na=False, na_values=[""], comment="#"
        )
    except (ValueError, pd.errors.ParserError) as error:
        raise DataError(f"{where}: cannot be read as CSV: {error}") from None


def require_columns(frame: pd.DataFrame, columns: list[str], where: str, what: str) -> None:
    """DataError naming the first of ``columns`` missing from ``frame``."""
    missing = [name for name in columns if name not in frame.columns]
    if missing:
        raise DataError(
            f"{where}: column '{missing[0]}' is missing; {what} needs {columns} "
            f"(found: {list(map(str, frame.columns))})"
        )


# --- numbers -----------------------------------------------------------------------------------


def price_cents(value: Any) -> int:
    """Integer cents from cents (``42``) or a dollar string (``"0.4200"``); never rounds.

    Kalshi writes every dollar string with its decimals; text without a point (``"1"``) could be
    a cent or a dollar, so it is refused rather than guessed.
    """
    if isinstance(value, bool):
        raise Invalid(value)
    if isinstance(value, str):
        if "." not in value:
            raise Invalid(value)
        cents = _decimal(value) * 100
        if cents != cents.to_integral_value():
            raise Invalid(value)
    elif isinstance(value, int | float):
        if not math.isfinite(value) or value != int(value):
            raise Invalid(value)
        cents = int(value)
    else:
        raise Invalid(value)
    if not 0 <= cents <= 100:
        raise Invalid(value)
    return int(cents)


def count(value: Any) -> int:
    """A count from an integer or a fixed-point string (``"12.00"``) holding a whole number."""
    if isinstance(value, bool):
        raise Invalid(value)
    number = _decimal(value) if isinstance(value, str) else value
    if not isinstance(number, int | float | Decimal) or not math.isfinite(number):
        raise Invalid(value)
    if number != int(number) or not 0 <= number <= _MAX_COUNT:
        raise Invalid(value)
    return int(number)


def round_half_up(value: Any) -> int:
    """A decimal number as whole units, halves rounded up (``1.5 -> 2``, ``1.49 -> 1``)."""
    number = _decimal(value) if isinstance(value, str) else Decimal(str(value))
    return int(number.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def finite(value: Any) -> float:
    """A finite float from a number or number text."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise Invalid(value) from None
    if isinstance(value, bool) or not math.isfinite(number):
        raise Invalid(value)
    return number


def _decimal(text: str) -> Decimal:
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        raise Invalid(text) from None
    if not number.is_finite():
        raise Invalid(text)
    return number


# --- times -------------------------------------------------------------------------------------


def epoch_utc(value: Any) -> pd.Timestamp:
    """A UTC timestamp from Unix seconds (an integer, or a whole float)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise Invalid(value)
    if value != int(value):
        raise Invalid(value)
    try:
        return pd.Timestamp(int(value), unit="s", tz="UTC")
    except (OverflowError, ValueError):  # beyond the years a timestamp can hold
        raise Invalid(value) from None


def iso_utc(value: Any) -> pd.Timestamp:
    """A UTC timestamp from ISO 8601 text that names its zone (``Z`` or an offset)."""
    if not isinstance(value, str) or not re.search(_ZONE_SUFFIX, value):
        raise Invalid(value)
    try:
        return pd.Timestamp(value).tz_convert("UTC")
    except (ValueError, TypeError):
        raise Invalid(value) from None


def parse_times(raw: pd.DataFrame, column: str, where: str, tz: str | None, what: str) -> pd.Series:
    """ISO 8601 text as UTC timestamps; text without a zone is read in ``tz``.

    Naive text when ``tz`` is None is a DataError (``what`` names the option that fixes it), as
    are times that do not exist or repeat in ``tz`` (DST changes) and text that is no timestamp.
    """
    text = raw[column].astype("str").str.strip()
    aware = text.str.contains(_ZONE_SUFFIX, regex=True).fillna(False).astype(bool)
    parsed = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[us, UTC]")
    if aware.any():
        stamps = pd.to_datetime(text[aware], format="ISO8601", utc=True, errors="coerce")
        parsed[aware] = stamps.dt.as_unit("us")
    naive = ~aware & raw[column].notna()
    if naive.any():
        if tz is None:
            rule = f"must name its time zone (Z or +00:00); these have none: {what}"
            raise data_error(where, column, rule, raw[naive], len(raw))
        local = pd.to_datetime(text[naive], format="ISO8601", errors="coerce")
        stamps = local.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT").dt.tz_convert("UTC")
        parsed[naive] = stamps.dt.as_unit("us")
    bad = parsed.isna()
    if bad.any():
        rule = "must be an ISO 8601 timestamp that exists once in its time zone"
        raise data_error(where, column, rule, raw[bad], len(raw))
    return parsed


def check_tz(tz: str | None) -> str | None:
    """``tz`` itself when it is an IANA zone name (or None); DataError otherwise."""
    if tz is None:
        return None
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise DataError(
            f"--tz must be an IANA time zone such as 'America/Chicago'; got {tz!r}."
        ) from None
    return tz


def minute_end(times: pd.Series) -> pd.Series:
    """The end of the one-minute period holding each time: 12:00:00 and 12:00:59.9 -> 12:01."""
    return times.dt.floor("min") + pd.Timedelta(minutes=1)


# --- tickers and cities ------------------------------------------------------------------------


def series_cities(cities: Mapping[str, City]) -> dict[str, str]:
    """Series ticker -> city code, with the older names without ``KX`` (HIGHCHI -> chi)."""
    found = {}
    for code, city in cities.items():
        found[city.series] = code
        found[city.series.removeprefix("KX")] = code
    return found


def event_date(token: str) -> dt.date:
    """The date of a ticker's date token: ``25NOV14`` -> 2025-11-14."""
    match = re.fullmatch(r"(\d{2})([A-Z]{3})(\d{2})", token.upper())
    if not match or match.group(2) not in MONTHS:
        raise Invalid(token)
    try:
        return dt.date(2000 + int(match.group(1)), MONTHS[match.group(2)], int(match.group(3)))
    except ValueError:
        raise Invalid(token) from None


def date_token(day: dt.date) -> str:
    """The inverse of ``event_date``: 2025-11-14 -> ``25NOV14``."""
    month = next(name for name, number in MONTHS.items() if number == day.month)
    return f"{day:%y}{month}{day:%d}"


def event_of(event_ticker: str, series_city: Mapping[str, str]) -> tuple[str, dt.date]:
    """(city, event_date) of ``KXHIGHCHI-25NOV14``; Invalid for an unknown series or date."""
    parts = event_ticker.split("-")
    if len(parts) != 2 or parts[0] not in series_city:
        raise Invalid(event_ticker)
    return series_city[parts[0]], event_date(parts[1])


# --- strike labels -----------------------------------------------------------------------------

_DEG = r"\s*°\s*F?"
_LABELS = (  # pattern -> (strike_type, floor, cap) from the integers in the label
    (re.compile(rf"(-?\d+)(?:{_DEG})?\s*(?:to|-)\s*(-?\d+){_DEG}"), "between"),
    (re.compile(rf"(-?\d+){_DEG}\s*or\s*(?:above|higher|more)"), "or_above"),
    (re.compile(rf"(-?\d+){_DEG}\s*or\s*(?:below|lower|less)"), "or_below"),
    (re.compile(rf">\s*(-?\d+){_DEG}"), "greater"),
    (re.compile(rf"<\s*(-?\d+){_DEG}"), "less"),
)


def strike_from_label(label: str) -> tuple[str, float | None, float | None]:
    """(strike_type, floor_strike, cap_strike) of a bracket label, under the contract's YES rule.

    "88° to 89°" -> between 88..89; "94° or above" -> greater floor 93 (T > 93 ⇔ T ≥ 94);
    "73° or below" -> less cap 74 (T < 74 ⇔ T ≤ 73); ">93°" -> greater floor 93;
    "<74°" -> less cap 74. Invalid when no pattern matches.
    """
    for pattern, kind in _LABELS:
        match = pattern.search(label)
        if not match:
            continue
        low = float(match.group(1))
        if kind == "between":
            return "between", low, float(match.group(2))
        if kind == "or_above":
            return "greater", low - 1, None
        if kind == "or_below":
            return "less", None, low + 1
        if kind == "greater":
            return "greater", low, None
        return "less", None, low
    raise Invalid(label)


def strike_suffix(strike_type: str, floor: float | None, cap: float | None) -> str:
    """Kalshi's ticker suffix for a bracket: between 79..80 -> B79.5, less cap 79 -> T79."""
    if strike_type == "between":
        return f"B{_number(floor + 0.5)}"
    return f"T{_number(cap if strike_type == 'less' else floor)}"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))
