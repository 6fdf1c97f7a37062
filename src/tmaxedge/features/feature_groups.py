"""Feature groups: what each model input is about, so an ablation can remove one kind at a time.

``market``: the book and the market's own probability (mid, bid, ask, spread, changes, volume,
open interest, its log-odds; tmax_dist's implied S(k)). ``weather``: readings and their distance
to the strikes (tmax_dist: k above the running maximum and the current temperature). ``nowcast``:
the weather-only probabilities fitted in the window. ``time``: clock and calendar (tmax_dist: its
intercept at each hour). ``event``: the event's implied distribution (the extra feature
``event``). ``forecast``: what the latest public weather forecast says (the extra feature
``forecast``). ``city``: a pooled model's 0/1 city columns.
"""

from __future__ import annotations

import re

from tmaxedge.features.event_features import EVENT_COLUMNS
from tmaxedge.features.forecasts import FORECAST_COLUMNS
from tmaxedge.features.nowcast import COLUMNS as NOWCAST_COLUMNS
from tmaxedge.features.scopes import CITY_PREFIX

GROUPS = ("market", "weather", "nowcast", "time", "event", "forecast", "city")
_TIME = {
    "minutes_to_close",
    "hour_of_day_local",
    "climate_day_hour",
    "day_of_week",
    "log_minutes_to_close",
    "sin_hour",
    "cos_hour",
    "sin_climate_hour",
    "cos_climate_hour",
    "level",
}
_BY_HOUR = re.compile(r"_at_h\d+$")  # tmax_dist's hour-varying terms: market_logit_at_h10


def feature_group(column: str) -> str:
    """The group of a model input column (one of ``GROUPS``)."""
    if column.startswith(CITY_PREFIX):
        return "city"
    base = _BY_HOUR.sub("", column)
    if base in NOWCAST_COLUMNS:
        return "nowcast"
    if base in EVENT_COLUMNS:
        return "event"
    if base in FORECAST_COLUMNS:
        return "forecast"
    if base in _TIME:
        return "time"
    if "temp" in base or "running_max" in base or base.startswith("gap_"):
        return "weather"
    return "market"


def without_groups(columns: list[str], groups: list[str]) -> list[str]:
    return [c for c in columns if feature_group(c) not in groups]
