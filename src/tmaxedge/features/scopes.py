"""Model scopes: which (city, strike type) groups share one fitted model.

``city``: each city on its own: one model per (city, strike type), or per city for tmax_dist (one
distribution prices all of an event's markets). ``pooled``: the cities with weather features
share one model per strike type (tmax_dist: one in all), with a 0/1 column per city for its
level. A tail resolves YES on a handful of days per city in a training window; pooled, the
model learns the weather's effect from every city's tails and each city keeps its own intercept.
A city without weather features (New York) keeps its own model in either scope: its rows lack
the columns the others' model leans on.
"""

from __future__ import annotations

import pandas as pd

from tmaxedge.core.keys import Group

CITY_PREFIX = "city_is_"  # a pooled model's 0/1 column per city: city_is_chi
POOLED = "pooled"  # the name of the weather cities' shared fitting unit


def city_columns(codes: list[str]) -> list[str]:
    return [f"{CITY_PREFIX}{code}" for code in codes]


def pooled_cities(columns: list[str]) -> list[str]:
    """The city codes of a model's 0/1 city columns (none for a one-city model)."""
    return [c.removeprefix(CITY_PREFIX) for c in columns if c.startswith(CITY_PREFIX)]


def with_city_columns(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """``frame`` with the 0/1 city columns among ``columns`` that it lacks."""
    missing = [c for c in columns if c.startswith(CITY_PREFIX) and c not in frame.columns]
    if not missing:
        return frame
    city = frame["city"].astype(str).to_numpy()
    return frame.assign(**{c: (city == c.removeprefix(CITY_PREFIX)).astype(float) for c in missing})


def weather_cities(rows: pd.DataFrame) -> list[str]:
    """The cities whose rows carry a temperature reading."""
    has = rows["temp_now"].notna().groupby(rows["city"].astype(str), observed=True).any()
    return sorted(has.index[has.to_numpy()])


def fit_units(
    rows: pd.DataFrame, scope: str, per_strike: bool
) -> dict[str, tuple[pd.DataFrame, list[str]]]:
    """The fitting units of a window's rows: name -> (its rows, the city codes it pools).

    ``per_strike``: bin models fit each strike type apart; tmax_dist fits all together. Unit
    names: ``chi_between`` / ``chi`` (one city), ``pooled_between`` / ``pooled`` (the weather
    cities together, when ``scope`` is pooled and there are two or more of them).
    """
    pooled = weather_cities(rows) if scope == "pooled" else []
    if len(pooled) < 2:
        pooled = []
    keys = ["strike_type"] if per_strike else []
    city = rows["city"].astype(str)
    units: dict[str, tuple[pd.DataFrame, list[str]]] = {}
    together = rows[city.isin(pooled).to_numpy()]
    if pooled:
        parts = together.groupby(keys, sort=True, observed=True) if keys else [((), together)]
        for key, part in parts:
            name = pooled_unit(*(key if isinstance(key, tuple) else (key,)))
            units[name] = (part.reset_index(drop=True), pooled)
    alone = rows[~city.isin(pooled).to_numpy()]
    for key, part in alone.groupby(["city", *keys], sort=True, observed=True):
        units["_".join(map(str, key))] = (part.reset_index(drop=True), [])
    return units


def groups_of_unit(unit: pd.DataFrame) -> list[str]:
    """The (city, strike type) group names a unit's model serves."""
    pairs = (
        unit[["city", "strike_type"]]
        .astype(str)
        .drop_duplicates()
        .sort_values(["city", "strike_type"])
    )
    return [Group(city, strike).name for city, strike in pairs.itertuples(index=False)]


def pooled_unit(strike_type: str | None = None) -> str:
    """The pooled cities' unit: ``pooled`` (tmax_dist: all strike types) or ``pooled_between``."""
    return "_".join([POOLED, *([strike_type] if strike_type else [])])
