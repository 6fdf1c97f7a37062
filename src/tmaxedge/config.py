"""Typed views of the params.yaml sections shared by several stages."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from typing import Any

from tmaxedge.errors import ParamsError

STRIKE_TYPES = ("between", "greater", "less")


@dataclass(frozen=True)
class City:
    """One city: its code, Kalshi series ticker, IANA time zone and whether it has weather features."""

    code: str
    series: str
    tz: str
    weather_features: bool

    @property
    def standard_offset(self) -> dt.timedelta:
        """UTC offset of local *standard* time: NWS climate days run midnight to midnight LST."""
        zone = zoneinfo.ZoneInfo(self.tz)
        january = dt.datetime(2024, 1, 15, 12, tzinfo=zone)
        july = dt.datetime(2024, 7, 15, 12, tzinfo=zone)
        return min(january.utcoffset() - january.dst(), july.utcoffset() - july.dst())


def parse_cities(raw: dict[str, Any], where: str = "params.yaml: cities") -> dict[str, City]:
    """Check the ``cities`` section and return City objects keyed by code."""
    cities = {}
    for code, entry in raw.items():
        if not isinstance(entry, dict):
            raise ParamsError(f"{where}.{code} must be a mapping with series, tz, weather_features.")
        missing = {"series", "tz", "weather_features"} - set(entry)
        if missing:
            raise ParamsError(f"{where}.{code}: missing key(s) {sorted(missing)}.")
        try:
            zoneinfo.ZoneInfo(entry["tz"])
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
            raise ParamsError(
                f"{where}.{code}.tz must be an IANA time zone such as 'America/Chicago'; "
                f"got {entry['tz']!r}."
            ) from None
        if not isinstance(entry["weather_features"], bool):
            raise ParamsError(f"{where}.{code}.weather_features must be true or false.")
        cities[code] = City(code, str(entry["series"]), entry["tz"], entry["weather_features"])
    return cities


# the cities of params.yaml as shipped, for tools that run without a params file
DEFAULT_CITIES: dict[str, City] = {
    "aus": City("aus", "KXHIGHAUS", "America/Chicago", True),
    "chi": City("chi", "KXHIGHCHI", "America/Chicago", True),
    "den": City("den", "KXHIGHDEN", "America/Denver", True),
    "lax": City("lax", "KXHIGHLAX", "America/Los_Angeles", True),
    "mia": City("mia", "KXHIGHMIA", "America/New_York", True),
    "nyc": City("nyc", "KXHIGHNY", "America/New_York", False),
    "phl": City("phl", "KXHIGHPHIL", "America/New_York", True),
}
