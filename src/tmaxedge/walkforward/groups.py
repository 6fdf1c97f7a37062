"""A window's rows by (city, strike type) group, and each group's model inputs.

Dicts of groups are keyed by the groups' on-disk names (``chi_between``: ``Group.name``), with
which the stages' per-group files begin (``chi_between.model.json``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tmaxedge.core.errors import ParamsError
from tmaxedge.core.keys import Group
from tmaxedge.features import nowcast, scopes
from tmaxedge.features.build import FEATURE_SETS, MARKET_LOGIT, PRICE_LOGIT, cents_logit
from tmaxedge.features.event_features import EVENT_COLUMNS
from tmaxedge.features.forecasts import FORECAST_COLUMNS
from tmaxedge.modeling import distribution
from tmaxedge.modeling.cards import ModelCard

GROUP_KEYS = ["city", "strike_type"]


def groups_of(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Split rows by (city, strike type), in a fixed order."""
    return {
        Group(city, strike).name: part.reset_index(drop=True)
        for (city, strike), part in frame.groupby(GROUP_KEYS, sort=True)
    }


def parts_of(rows: pd.DataFrame, names) -> dict[str, pd.DataFrame]:
    """The rows of each group in ``names`` (none for a group without any)."""
    found = groups_of(rows)
    return {name: found.get(name, rows.iloc[0:0]) for name in names}


def model_columns(frame: pd.DataFrame, feature_set: str, extra: list[str] = ()) -> list[str]:
    """The feature set's columns (and the extra features') that carry data in ``frame``: weather
    columns are all null for cities without weather features, a tail has no floor or no cap."""
    if feature_set not in FEATURE_SETS:
        raise ParamsError(
            f"feature_set must be a str among {sorted(FEATURE_SETS)}; got {feature_set!r}."
        )
    wanted = list(FEATURE_SETS[feature_set])
    if "mid_logit" in extra:
        wanted.append(MARKET_LOGIT)
    if "market_logit" in extra:
        wanted.append(PRICE_LOGIT)
    if "nowcast" in extra:
        wanted += nowcast.COLUMNS
    if "event" in extra:
        wanted += EVENT_COLUMNS
    if "forecast" in extra:
        wanted += FORECAST_COLUMNS
    frame = with_price_logit(frame, wanted)
    return [c for c in wanted if frame[c].notna().any()]


def require_extra_columns(entry: str, extra: list[str], frame: pd.DataFrame) -> None:
    """ParamsError when ``tune.<entry>`` asks for the extra feature ``forecast`` and the feature
    table has no forecast columns: they exist only when ingest found a forecasts table, and a
    model silently fitted without them would not be the one asked for."""
    if "forecast" not in extra:
        return
    missing = [c for c in FORECAST_COLUMNS if c not in frame.columns]
    if missing:
        raise ParamsError(
            f"tune.{entry}: extra_features 'forecast' needs the forecast columns {missing} in "
            "the feature table, which has none: there is no forecasts table (data/raw/"
            "forecasts.parquet; put forecasts.parquet or .csv in the ingest source, e.g. with "
            "`tmaxedge import vc-forecasts`), or drop 'forecast' from extra_features."
        )


def with_price_logit(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """``frame`` with ``market_logit`` (log-odds of ``p_market``) when ``columns`` name it."""
    if PRICE_LOGIT not in columns or PRICE_LOGIT in frame.columns:
        return frame
    cents = 100 * frame["p_market"].to_numpy(dtype=float, na_value=np.nan)
    return frame.assign(**{PRICE_LOGIT: cents_logit(cents)})


def design_matrix(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    frame = with_price_logit(scopes.with_city_columns(frame, columns), columns)
    return frame[columns].to_numpy(dtype=float, na_value=np.nan)


def with_nowcast(part: pd.DataFrame, card: ModelCard) -> pd.DataFrame:
    """The rows with the card's nowcast columns added, when the model uses them."""
    return part if card.nowcast is None else nowcast.add_columns(part, card.nowcast)


def distribution_unit(group: str, card: ModelCard | None) -> str | None:
    """Which tmax_dist fit prices ``group``: its city's, or the pooled one (None: not tmax_dist)."""
    if card is None or card.kind != distribution.KIND:
        return None
    if scopes.pooled_cities(card.preprocessor.columns):
        return scopes.pooled_unit()
    return Group.parse(group).city
