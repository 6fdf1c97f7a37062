"""IEM ASOS one- and five-minute CSV downloads -> ``weather`` rows of one city (``--city``).

Columns: ``station``, ``valid`` and ``tmpf`` (°F); others are ignored, and comment lines
starting with ``#`` are skipped. Missing temperatures (``M`` or empty) are skipped and counted
(``n_missing_temp``); other text is an error. A file may hold one station only: two stations
for one city would mix records.

Time zone of ``valid``: IEM writes the times in the zone the download asked for, and says which:
the five-minute service in a header line ``#DEBUG: Time Zone -> America/Chicago``, the one-minute
service in the column name ``valid(America/Chicago)`` (``valid(UTC)`` by default). A declared
zone is honoured, a local one converted to UTC and named in the import's notes, because reading
local clock times as UTC would shift every observation by hours. A declared zone that is no IANA
zone, two declarations that disagree, or a declaration that disagrees with ``--tz`` are errors
naming the file. Without a declaration ``valid`` is UTC unless it names a zone, or unless
``--tz`` gives the zone of the download. Local times repeated or skipped by a daylight saving
change cannot be placed and are refused (download in UTC to avoid them).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

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

KIND = "asos"
_MISSING = ("M", "")
_HEADER_ZONE = re.compile(r"^#\s*DEBUG:\s*Time\s*Zone\s*->\s*(?P<zone>.*?)\s*$", re.M | re.I)
# valid(UTC), valid(America/Chicago), and the old service's "valid (GMT timezone)"
_COLUMN_ZONE = re.compile(r"^valid\s*\((?P<zone>[^)]*?)(?:\s+timezone)?\)$", re.I)
_UTC_NAMES = ("utc", "etc/utc", "gmt", "etc/gmt", "z", "zulu", "universal", "etc/universal")


def parse(files: Sequence[tuple[str, str]], options: ImportOptions) -> Imported:
    """Weather rows from ``(file name, text)`` pairs of IEM ASOS CSV downloads."""
    city = require_city(options, KIND)
    tz = v.check_tz(options.tz)
    frames, n_missing, notes = [], 0, []
    for name, text in files:
        raw = v.read_csv_text(text, name).rename(columns=lambda column: str(column).strip())
        zone = file_zone(name, declared_zones(text, raw.columns), tz)
        if zone != "UTC":
            notes.append(f"{name}: 'valid' read in {zone}, as the file declares, and converted")
        frame, missing = asos_rows(raw, name, city, zone)
        frames.append(frame)
        n_missing += missing
    rows = pd.concat(frames, ignore_index=True)
    return Imported({"weather": rows}, {"n_missing_temp": n_missing}, notes)


def declared_zones(text: str, columns: Sequence[str]) -> list[str]:
    """The time zones a download names: in ``#DEBUG: Time Zone`` lines and ``valid(...)``."""
    found = [match.group("zone") for match in _HEADER_ZONE.finditer(text)]
    found += [match.group("zone") for c in columns if (match := _COLUMN_ZONE.match(str(c)))]
    return found


def file_zone(where: str, declared: list[str], tz: str | None) -> str:
    """The zone of the file's naive times: its declaration, else ``--tz``, else UTC."""
    zones = sorted({_zone_name(zone, where) for zone in declared})
    if len(zones) > 1:
        raise DataError(f"{where}: declares its times in several zones {zones}; import one.")
    if zones and tz is not None and _zone_name(tz, where) != zones[0]:
        raise DataError(
            f"{where}: the file declares its times in {zones[0]} but --tz says {tz}; leave out "
            "--tz (the declaration is used) or fix the file."
        )
    return zones[0] if zones else _zone_name(tz or "UTC", where)


def asos_rows(raw: pd.DataFrame, where: str, city: str, tz: str) -> tuple[pd.DataFrame, int]:
    """Contract weather rows of one download, and the number of missing temperatures."""
    valid = [c for c in raw.columns if c == "valid" or _COLUMN_ZONE.match(c)]
    if len(valid) > 1:
        raise DataError(f"{where}: several time columns {valid}; an IEM download has one.")
    raw = raw.rename(columns={valid[0]: "valid"}) if valid else raw
    v.require_columns(raw, ["valid", "tmpf"], where, "an IEM ASOS download")
    if "station" in raw.columns and raw["station"].nunique() > 1:
        stations = sorted(raw["station"].dropna().unique())
        raise DataError(f"{where}: holds several stations {stations}; import one station per city.")
    missing = raw["tmpf"].isna() | raw["tmpf"].str.strip().isin(_MISSING)
    raw = raw[~missing]
    ts = v.parse_times(raw, "valid", where, tz, "")
    temp = v.convert_column(raw, "tmpf", v.finite, where, "must be °F (a number) or M (missing)")
    if raw.empty:
        return rows_frame("weather", []), int(missing.sum())
    rows = [
        {"city": city, "ts": t, "temp_f": f, SOURCE: where} for t, f in zip(ts, temp, strict=True)
    ]
    return rows_frame("weather", rows), int(missing.sum())


def _zone_name(zone: str, where: str) -> str:
    """ "UTC" for UTC's spellings, else the IANA name itself; DataError naming the file if none."""
    if zone.strip().lower() in _UTC_NAMES:
        return "UTC"
    try:
        return v.check_tz(zone.strip())
    except DataError:
        raise DataError(
            f"{where}: its times are declared in {zone!r}, which is no IANA time zone; "
            "download the file in UTC or with a zone name such as America/Chicago."
        ) from None
