"""What every importer shares: its options, its result, and turning rows into contract frames.

An importer turns source files into contract rows (``Imported``: frames with the contract
columns plus ``source``, the file each row came from), counts of what it skipped or changed, and
notes: one line for each thing it did that a reader of the file would not expect (a unit
converted, a declared time zone honoured). Merging them into the output folder is
``importers.merge``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from tmaxedge.core import config
from tmaxedge.core.config import City
from tmaxedge.core.errors import DataError
from tmaxedge.inputs import contract
from tmaxedge.inputs.ingest import coerce_table

SOURCE = "source"  # extra column: the file a row came from (never written)
IMPORT_TABLES = ("markets", "quotes", "weather", "settlements", "forecasts")
# the CLI reads params.yaml `cities` when it exists, else these
DEFAULT_CITIES: dict[str, City] = config.DEFAULT_CITIES
PRICE_UNITS = ("cents", "dollars")


@dataclasses.dataclass(frozen=True)
class ImportOptions:
    """Options of ``tmaxedge import``; each importer reads the ones it documents."""

    cities: Mapping[str, City] = dataclasses.field(default_factory=lambda: dict(DEFAULT_CITIES))
    city: str | None = None  # weather and settlements: the city code the files belong to
    tz: str | None = None  # time zone of timestamps written without one
    ticker: str | None = None  # kalshi-candles: the market, when the file does not say
    series: str | None = None  # kalshi-price-history: e.g. KXHIGHMIA
    event_date: dt.date | None = None  # kalshi-price-history
    open_time: pd.Timestamp | None = None  # kalshi-price-history: overrides the inferred time
    close_time: pd.Timestamp | None = None
    with_markets: bool = True  # kalshi-price-history: also write markets rows
    units: str = "us"  # visual-crossing: "us" (°F) or "metric" (°C)
    price_units: str | None = None  # kalshi-price-history: "cents", "dollars" or None (detect)
    start: dt.date | None = None  # kalshi-markets: keep events on or after this date
    end: dt.date | None = None  # ... and on or before this one
    visible_from: str = "end"  # vc-forecasts: issued_at at the "end" or "start" of the basis date


@dataclasses.dataclass
class Imported:
    """Contract rows from one importer run: ``tables`` (with a ``source`` column), counts, notes."""

    tables: dict[str, pd.DataFrame]
    counts: dict[str, int] = dataclasses.field(default_factory=dict)
    notes: list[str] = dataclasses.field(default_factory=list)


def rows_frame(table: str, rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Rows (dicts with the contract columns and ``source``) as a frame in contract dtypes."""
    columns = [*contract.RAW_DTYPES[table], SOURCE]
    if not rows:
        return contract.empty_table(table).assign(**{SOURCE: pd.Series([], dtype="str")})
    frame = pd.DataFrame(list(rows), columns=columns)
    files = ", ".join(sorted(set(frame[SOURCE].astype("str"))))  # a bad value names its file
    typed, _ = coerce_table(frame[columns[:-1]], table, files, numbers_from_text=False)
    return typed.assign(**{SOURCE: frame[SOURCE].astype("str").to_numpy()})


def require_city(options: ImportOptions, kind: str) -> str:
    """``options.city``, which weather and settlement files need; DataError when absent/unknown."""
    if options.city is None:
        raise DataError(f"{kind}: --city is required (one of {sorted(options.cities)}).")
    if options.city not in options.cities:
        raise DataError(
            f"{kind}: --city must be a city code from params.yaml 'cities' "
            f"({sorted(options.cities)}); got {options.city!r}."
        )
    return options.city
