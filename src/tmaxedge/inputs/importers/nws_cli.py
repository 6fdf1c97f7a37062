"""NWS Daily Climate Reports (CLI) -> ``settlements`` rows of one city (``--city``).

Two inputs, told apart by content:

- CLI text products (as issued, or several in one file): the climate day comes from the header
  ``...THE <STATION> CLIMATE SUMMARY FOR <MONTH> <DAY> <YEAR>...`` and the official high from
  the ``MAXIMUM`` line under ``TEMPERATURE (F)`` / ``YESTERDAY`` or ``TODAY`` (a trailing ``R``
  marks a record and is dropped). A ``TODAY`` report may be preliminary (issued in the
  afternoon); when a ``YESTERDAY`` report of the same day is present it wins
  (``n_preliminary_replaced``), otherwise the ``TODAY`` value is kept and counted
  (``n_from_today_reports``) so it can be checked.
- IEM's CLI CSV: columns ``station``, ``valid`` (the climate day, YYYY-MM-DD) and ``high``.

A missing maximum (``MM``, ``M`` or empty) is an error naming the file and the day: a market
cannot be settled without it. One file holds one station.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence

import pandas as pd

from tmaxedge.core.errors import DataError, data_error
from tmaxedge.inputs.importers import values as v
from tmaxedge.inputs.importers.common import (
    SOURCE,
    Imported,
    ImportOptions,
    require_city,
    rows_frame,
)

KIND = "nws-cli"
_HEADER = re.compile(
    r"\.\.\.\s*THE\s+(?P<station>.+?)\s+CLIMATE\s+SUMMARY\s+FOR\s+"
    r"(?P<month>[A-Z]+)\.?\s+(?P<day>\d{1,2}),?\s+(?P<year>\d{4})",
    re.IGNORECASE,
)
_MISSING = ("MM", "M", "")
_HIGH_RULE = "must be the official maximum in whole °F (MM = missing is refused)"


def parse(files: Sequence[tuple[str, str]], options: ImportOptions) -> Imported:
    """Settlement rows from ``(file name, text)`` pairs of CLI products or IEM CLI CSVs."""
    city = require_city(options, KIND)
    reports = pd.concat([_reports(text, name) for name, text in files], ignore_index=True)
    for is_csv in (True, False):  # text products name the place, IEM CSVs the station id
        of_kind = reports[(reports["section"] == "CSV") == is_csv]
        files = of_kind.groupby("station")["source"].first()
        if len(files) > 1:
            named = "; ".join(f"{station!r} in {file}" for station, file in files.items())
            raise DataError(
                f"{KIND}: the files hold several stations ({named}); import one per city."
            )
    final_days = set(reports.loc[reports["section"] != "TODAY", "date"])
    replaced = (reports["section"] == "TODAY") & reports["date"].isin(final_days)
    kept = reports[~replaced]
    rows = [
        {"city": city, "date": r.date, "tmax_f": r.tmax_f, SOURCE: r.source}
        for r in kept.itertuples()
    ]
    counts = {
        "n_reports": len(reports),
        "n_preliminary_replaced": int(replaced.sum()),
        "n_from_today_reports": int((kept["section"] == "TODAY").sum()),
    }
    return Imported({"settlements": rows_frame("settlements", rows)}, counts)


def _reports(text: str, where: str) -> pd.DataFrame:
    first = text.lstrip().splitlines()[0].lower() if text.strip() else ""
    is_csv = all(name in first.split(",") for name in ("station", "valid", "high"))
    return csv_reports(text, where) if is_csv else text_reports(text, where)


def text_reports(text: str, where: str) -> pd.DataFrame:
    """One row per CLI product in ``text``: station, date, tmax_f, section, source."""
    headers = list(_HEADER.finditer(text))
    if not headers:
        raise DataError(
            f"{where}: no '...THE <STATION> CLIMATE SUMMARY FOR <MONTH> <DAY> <YEAR>...' header; "
            "is this an NWS CLI product?"
        )
    rows = []
    for i, header in enumerate(headers):
        end = headers[i + 1].start() if i + 1 < len(headers) else len(text)
        day = _header_date(header, where)
        section, value = maximum(text[header.end() : end], f"{where} ({day})")
        if value.upper().rstrip("R") in _MISSING:
            raise DataError(f"{where}: the MAXIMUM for {day} is missing ({value!r}); {_HIGH_RULE}.")
        try:
            tmax = int(value.upper().rstrip("R"))
        except ValueError:
            message = f"{where}: the MAXIMUM for {day} reads {value!r}; {_HIGH_RULE}."
            raise DataError(message) from None
        station = " ".join(header.group("station").split()).upper()
        rows.append(
            {"station": station, "date": day, "tmax_f": tmax, "section": section, "source": where}
        )
    return pd.DataFrame(rows)


def maximum(product: str, where: str) -> tuple[str, str]:
    """(section, raw value) of the MAXIMUM line under TEMPERATURE (F) / YESTERDAY or TODAY."""
    lines = product.splitlines()
    start = next((i for i, line in enumerate(lines) if "TEMPERATURE (F)" in line.upper()), None)
    if start is None:
        raise DataError(f"{where}: no 'TEMPERATURE (F)' section.")
    section = None
    for line in lines[start + 1 : start + 8]:
        words = line.split()
        if not words:
            continue
        if words[0].upper() in ("YESTERDAY", "TODAY"):
            section = words[0].upper()
        elif words[0].upper() == "MAXIMUM" and section is not None:
            return section, words[1] if len(words) > 1 else ""
    raise DataError(f"{where}: no MAXIMUM line under 'TEMPERATURE (F)' / 'YESTERDAY' or 'TODAY'.")


def csv_reports(text: str, where: str) -> pd.DataFrame:
    """Rows of an IEM CLI CSV: station, date, tmax_f, section ("CSV"), source."""
    raw = v.read_csv_text(text, where)
    v.require_columns(raw, ["station", "valid", "high"], where, "an IEM CLI CSV")
    day = v.convert_column(raw, "valid", _date, where, "must be a date YYYY-MM-DD", required=True)
    high = v.convert_column(raw, "high", _whole, where, _HIGH_RULE, required=True)
    empty = raw["station"].isna()
    if empty.any():
        raise data_error(where, "station", "must not be empty", raw[empty], len(raw))
    return pd.DataFrame(
        {
            "station": raw["station"].str.strip().str.upper(),
            "date": day,
            "tmax_f": high,
            "section": "CSV",
            "source": where,
        }
    )


def _header_date(header: re.Match, where: str) -> dt.date:
    month = v.MONTHS.get(header.group("month")[:3].upper())
    try:
        return dt.date(int(header.group("year")), month or 0, int(header.group("day")))
    except ValueError:
        raise DataError(f"{where}: the header date {header.group(0)!r} is not a date.") from None


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise v.Invalid(value) from None


def _whole(value: str) -> int:
    text = value.strip().upper()
    if text in _MISSING or not re.fullmatch(r"-?\d+(?:\.0*)?", text):
        raise v.Invalid(value)
    return int(float(text))
