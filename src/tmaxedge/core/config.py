"""Typed views of the params.yaml sections shared by several stages."""

from __future__ import annotations

import datetime as dt
import math
import zoneinfo
from dataclasses import dataclass
from typing import Any

from tmaxedge.core.errors import ParamsError

STRIKE_TYPES = ("between", "greater", "less")
# A one-SD move along β shifts the log-odds by ||β||₂ (standardised features): 10 takes p = 0.5
# to 0.99995, a near-separation artefact rather than a signal. On the synthetic run 230 of 240
# fitted groups have norms <= 3.9 and the largest ordinary ones 5.8-6.4; the next are 10.9-51.
DEFAULT_BETA_MAX = {"between": 10.0, "greater": 10.0, "less": 10.0}


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


def parse_beta_max(raw: Any) -> dict[str, float]:
    """``gate.beta_max``: the largest ||β||₂ per strike type. Tuning and the final fit keep to it
    and the gate checks it, so it is read here, below both."""
    if not isinstance(raw, dict):
        raise ParamsError(f"beta_max must be a mapping of strike type to number; got {raw!r}.")
    if set(raw) != set(STRIKE_TYPES):
        raise ParamsError(
            f"beta_max must have exactly the keys {list(STRIKE_TYPES)}; got {sorted(map(str, raw))}."
        )
    for strike in STRIKE_TYPES:
        value = raw[strike]
        is_number = isinstance(value, int | float) and not isinstance(value, bool)
        if not is_number or math.isnan(value) or not 0 < value < math.inf:
            raise ParamsError(f"beta_max.{strike} must be a number in (0, inf); got {value!r}.")
    return {strike: float(raw[strike]) for strike in STRIKE_TYPES}


def load_beta_max(section: dict[str, Any]) -> dict[str, float]:
    """The norm limits from the ``gate`` section, its default where the section has none."""
    return parse_beta_max(section.get("beta_max", DEFAULT_BETA_MAX))
