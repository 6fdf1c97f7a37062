"""Visual Crossing historical daily forecasts (Parquet or CSV) -> ``forecasts`` rows of one city
(``--city``).

Columns read: ``target_date`` (the local day forecast), ``forecast_basis_date`` (the local day
the forecast was made), ``lead_days`` and ``tempmax_f`` (the forecast high, °F); others are
ignored. ``lead_days`` must equal ``target_date - forecast_basis_date`` (a row where it does not
is refused). Rows without ``tempmax_f`` are skipped and counted (``n_missing_tempmax``).

The basis date is a calendar date without a time, so when the forecast became public is a rule
(``--visible-from``), applied in the city's time zone and stored in ``issued_at`` (UTC):

- ``end`` (the default): the end of the basis date, i.e. local midnight starting basis_date + 1.
  Conservative: a forecast made during its basis day may have been published late in it, so it
  is used only from the next day on; a lead-0 forecast is never used on its own target day, and
  the day-ahead (lead-1) one is visible the whole event day.
- ``start``: local midnight starting the basis date, as if the forecast were public all of its
  basis day (optimistic: a same-day forecast may then be seen before it was made).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from tmaxedge.core.errors import DataError, data_error
from tmaxedge.inputs.importers import values as v
from tmaxedge.inputs.importers.common import SOURCE, Imported, ImportOptions, require_city
from tmaxedge.inputs.ingest import coerce_column

KIND = "vc-forecasts"
VISIBLE_FROM = ("end", "start")
COLUMNS = ["target_date", "forecast_basis_date", "lead_days", "tempmax_f"]
_LEAD_RULE = "must equal target_date - forecast_basis_date in days"


def parse(files: Sequence[tuple[str, pd.DataFrame]], options: ImportOptions) -> Imported:
    """Forecast rows from ``(file name, frame)`` pairs, the frames as ``io.read_source_table``
    reads them (Parquet typed, CSV as text)."""
    city = require_city(options, KIND)
    if options.visible_from not in VISIBLE_FROM:
        raise DataError(
            f"{KIND}: --visible-from must be one of {list(VISIBLE_FROM)}; "
            f"got {options.visible_from!r}."
        )
    tz = options.cities[city].tz
    frames = [_forecast_rows(raw, name, city, tz, options.visible_from) for name, raw in files]
    rows = pd.concat([frame for frame, _ in frames], ignore_index=True)
    n_missing = sum(missing for _, missing in frames)
    note = (
        f"issued_at = {_RULE_TEXT[options.visible_from]} of forecast_basis_date in {tz} "
        f"(--visible-from {options.visible_from})"
    )
    return Imported({"forecasts": rows}, {"n_missing_tempmax": n_missing}, [note])


_RULE_TEXT = {"end": "the end (local midnight starting the next day)", "start": "the start"}


def _forecast_rows(
    raw: pd.DataFrame, where: str, city: str, tz: str, visible_from: str
) -> tuple[pd.DataFrame, int]:
    """One file's forecasts in contract columns (with ``source``), and how many rows had no
    forecast high."""
    v.require_columns(raw, COLUMNS, where, "a Visual Crossing forecast file")
    raw = raw.reset_index(drop=True)
    n = len(raw)
    target = coerce_column(raw["target_date"], "date", where, "target_date", n)
    basis = coerce_column(raw["forecast_basis_date"], "date", where, "forecast_basis_date", n)
    lead = coerce_column(raw["lead_days"], "int64", where, "lead_days", n)
    high = coerce_column(raw["tempmax_f"], "float64", where, "tempmax_f", n)
    for name, days in (("target_date", target), ("forecast_basis_date", basis)):
        if days.isna().any():
            raise data_error(where, name, "must not be null", raw[COLUMNS][days.isna()], n)
    days_ahead = (pd.to_datetime(target) - pd.to_datetime(basis)).dt.days
    wrong = days_ahead != lead
    if wrong.any():
        raise data_error(where, "lead_days", _LEAD_RULE, raw[COLUMNS][wrong], n)
    keep = high.notna()
    rows = pd.DataFrame(
        {
            "city": city,
            "target_date": target,
            "issued_at": issued_at(basis, tz, visible_from),
            "lead_days": lead,
            "tmax_forecast_f": high,
            SOURCE: where,
        }
    )
    return rows[keep.to_numpy()].reset_index(drop=True), int((~keep).sum())


def issued_at(basis: pd.Series, tz: str, visible_from: str) -> pd.Series:
    """When a forecast made on local day ``basis`` counts as public (module docstring), UTC."""
    start = pd.to_datetime(basis) + pd.Timedelta(days=1 if visible_from == "end" else 0)
    # local midnight exists and is unique in US zones (clocks change at 2 a.m.); raise otherwise
    local = start.dt.tz_localize(tz, ambiguous="raise", nonexistent="raise")
    return local.dt.tz_convert("UTC").dt.as_unit("us")
