"""Visual Crossing timeline weather (JSON or CSV) -> ``weather`` rows of one city (``--city``).

JSON: ``{"days": [{..., "hours": [{"datetimeEpoch": ..., "temp": ..., "minutes": [...]}]}]}``.
Observations are the hours' and (sub-hourly requests) the minutes' ``temp`` at ``datetimeEpoch``
(Unix seconds, UTC); a day's own ``temp`` is a daily mean, not an observation, and is never
imported. Where an hour and a minute share a time, the minute wins
(``n_hours_replaced_by_minutes``).

CSV: a ``datetime`` column (ISO 8601 with offset; without one, ``--tz`` gives the zone) and a
``temp`` column; other columns are ignored.

Temperatures are °F (``unitGroup=us``); with ``units="metric"`` they are °C and converted.
Empty temperatures are skipped and counted (``n_missing_temp``); anything else that is not a
number is an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from tmaxedge.core.errors import DataError
from tmaxedge.inputs.importers import values as v
from tmaxedge.inputs.importers.common import (
    SOURCE,
    Imported,
    ImportOptions,
    require_city,
    rows_frame,
)

KIND = "visual-crossing"
_TEMP_RULE = "must be a temperature (a number)"


def parse(files: Sequence[tuple[str, str]], options: ImportOptions) -> Imported:
    """Weather rows from ``(file name, text)`` pairs (JSON or CSV, told apart by content)."""
    city = require_city(options, KIND)
    if options.units not in ("us", "metric"):
        units = options.units
        raise DataError(f"{KIND}: units must be 'us' (°F) or 'metric' (°C); got {units!r}.")
    tz = v.check_tz(options.tz)
    frames = []
    for name, text in files:
        is_json = text.lstrip().startswith("{")
        frames.append(json_rows(text, name) if is_json else csv_rows(text, name, tz))
    observed = pd.concat(frames, ignore_index=True)
    minute_times = observed.loc[observed["level"] == 0, "ts"].unique()
    replaced = (observed["level"] == 1) & observed["ts"].isin(minute_times)
    observed = observed[~replaced]
    missing = observed["temp_f"].isna()
    temp = observed["temp_f"].astype("float64")
    if options.units == "metric":
        temp = temp * 9 / 5 + 32
    rows = pd.DataFrame(
        {"city": city, "ts": observed["ts"], "temp_f": temp, SOURCE: observed[SOURCE]}
    )[~missing.to_numpy()]
    return Imported(
        {"weather": rows_frame("weather", rows.to_dict("records"))},
        {"n_missing_temp": int(missing.sum()), "n_hours_replaced_by_minutes": int(replaced.sum())},
    )


def json_rows(text: str, where: str) -> pd.DataFrame:
    """Hour and minute observations of a timeline response: ts, temp_f, level, source."""
    content = v.load_json(text, where)
    if not isinstance(content, dict) or not isinstance(content.get("days"), list):
        raise DataError(f"{where}: not a Visual Crossing timeline response (no 'days' list).")
    found = []
    for d, day in enumerate(content["days"]):
        for h, hour in enumerate(_items(day, "hours", f"days[{d}]", where)):
            found.append((f"days[{d}].hours[{h}]", hour, 1))
            for m, minute in enumerate(_items(hour, "minutes", f"days[{d}].hours[{h}]", where)):
                found.append((f"days[{d}].hours[{h}].minutes[{m}]", minute, 0))
    raw = pd.DataFrame(
        {
            "datetimeEpoch": [item.get("datetimeEpoch") for _, item, _ in found],
            "temp": [item.get("temp") for _, item, _ in found],
        },
        index=[path for path, _, _ in found],
        dtype=object,
    )
    rule = "must be Unix seconds (an integer)"
    ts = v.convert_column(raw, "datetimeEpoch", v.epoch_utc, where, rule, required=True)
    temp = v.convert_column(raw, "temp", v.finite, where, _TEMP_RULE)
    level = [lvl for _, _, lvl in found]
    return _observations(ts, temp, level, where)


def csv_rows(text: str, where: str, tz: str | None) -> pd.DataFrame:
    """Observations of a timeline CSV export: ts, temp_f, level, source."""
    raw = v.read_csv_text(text, where)
    v.require_columns(raw, ["datetime", "temp"], where, "a Visual Crossing CSV")
    ts = v.parse_times(raw, "datetime", where, tz, "pass --tz with the location's time zone")
    temp = v.convert_column(raw, "temp", v.finite, where, _TEMP_RULE)
    return _observations(list(ts), temp, [0] * len(raw), where)


def _items(parent: Any, key: str, path: str, where: str) -> list[dict]:
    items = (parent.get(key) or []) if isinstance(parent, dict) else None
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise DataError(f"{where}: {path}.{key} must be a list of objects.")
    return items


def _observations(ts: list, temp: list, level: list, where: str) -> pd.DataFrame:
    """ts (UTC), temp_f (nullable), level (0 = minute or CSV row, 1 = hour), source."""
    times = pd.to_datetime(pd.Series(ts, dtype=object), utc=True)
    temps = pd.array(temp, dtype="Float64")
    return pd.DataFrame({"ts": times, "temp_f": temps, "level": level, SOURCE: where})
