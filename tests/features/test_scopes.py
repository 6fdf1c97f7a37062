"""Model scopes: which groups share a fit, and what a pooled fit sees of each city."""

import dataclasses

import numpy as np
import pytest
from windows_support import RIDGE, SEQUENTIAL, TMAX_DIST, assert_whole_events

from tmaxedge.core.errors import ParamsError
from tmaxedge.features import nowcast, scopes
from tmaxedge.modeling.calibration import CalibrateParams
from tmaxedge.modeling.pooling import PoolParams
from tmaxedge.walkforward.calibrate import calibrate_window
from tmaxedge.walkforward.groups import distribution_unit, groups_of
from tmaxedge.walkforward.predict import predict_alone, predict_groups
from tmaxedge.walkforward.tune import tune_window, uncalibrated_card


def test_units_pool_the_weather_cities_and_leave_new_york_alone(three_cities):
    rows = three_cities.fit
    assert scopes.weather_cities(rows) == ["aus", "chi"]
    city = scopes.fit_units(rows, "city", per_strike=True)
    assert list(city) == [
        f"{c}_{s}" for c in ["aus", "chi", "nyc"] for s in ["between", "greater", "less"]
    ]
    pooled = scopes.fit_units(rows, "pooled", per_strike=True)
    assert list(pooled) == [
        "pooled_between",
        "pooled_greater",
        "pooled_less",
        "nyc_between",
        "nyc_greater",
        "nyc_less",
    ]
    assert pooled["pooled_less"][1] == ["aus", "chi"] and pooled["nyc_less"][1] == []
    assert scopes.groups_of_unit(pooled["pooled_less"][0]) == ["aus_less", "chi_less"]
    assert list(scopes.fit_units(rows, "pooled", per_strike=False)) == ["pooled", "nyc"]
    assert sum(len(r) for r, _ in pooled.values()) == len(rows)  # every row in exactly one unit


def test_one_weather_city_is_not_pooled(three_cities):
    rows = three_cities.fit
    one = rows[rows["city"] != "aus"]
    assert list(scopes.fit_units(one, "pooled", per_strike=False)) == ["chi", "nyc"]


def test_a_pooled_nowcast_keeps_each_city_its_own_tables(three_cities):
    rows = three_cities.fit
    both = nowcast.fit_tables(rows[rows["city"] != "nyc"])
    chi = rows[rows["city"] == "chi"].reset_index(drop=True)
    alone = nowcast.fit_tables(chi)
    assert both[nowcast.BY_CITY]["chi"] == alone
    pooled, own = nowcast.add_columns(chi, both), nowcast.add_columns(chi, alone)
    for column in nowcast.COLUMNS:
        np.testing.assert_array_equal(pooled[column], own[column])


def test_pooled_ridge_shares_one_fit_per_strike_type_with_a_level_per_city(three_cities):
    pooled = dataclasses.replace(RIDGE, scope="pooled", type="ridge")
    tuned = tune_window(three_cities.fit, "ridge_pooled", pooled, SEQUENTIAL)
    assert list(tuned) == [
        f"{c}_{s}" for c in ["aus", "chi", "nyc"] for s in ["between", "greater", "less"]
    ]
    aus, chi = tuned["aus_between"], tuned["chi_between"]
    assert aus is chi and aus.preprocessor.columns[-2:] == ["city_is_aus", "city_is_chi"]
    assert not any(c.startswith("city_is") for c in tuned["nyc_between"].preprocessor.columns)
    cards = {name: uncalibrated_card(result) for name, result in tuned.items()}
    test = groups_of(three_cities.test)
    p = predict_groups(test, cards)
    swapped = test["aus_between"].assign(city="chi")  # the same rows priced as Chicago's
    assert not np.allclose(p["aus_between"], predict_alone(swapped, cards["aus_between"]))


def test_pooled_tmax_dist_prices_every_weather_city_coherently(three_cities):
    pooled = dataclasses.replace(TMAX_DIST, scope="pooled", type="tmax_dist")
    tuned = tune_window(three_cities.fit, "tmax_dist_pooled", pooled, SEQUENTIAL)
    cards = {name: uncalibrated_card(result) for name, result in tuned.items()}
    assert cards["aus_less"].to_dict() == cards["chi_between"].to_dict()
    assert "city_is_chi" in cards["aus_less"].preprocessor.columns
    assert distribution_unit("chi_less", cards["chi_less"]) == "pooled"
    assert distribution_unit("nyc_less", cards["nyc_less"]) == "nyc"
    calibrated = calibrate_window(
        groups_of(three_cities.calibrate),
        cards,
        CalibrateParams(method="sigmoid"),
        PoolParams(enabled=False),
    )
    final = {name: card for name, (card, _, _) in calibrated.items()}
    assert (
        final["aus_less"].calibrator
        == final["chi_greater"].calibrator
        != final["nyc_less"].calibrator
    )
    assert_whole_events(three_cities.test, final)


def test_a_model_entry_needs_a_known_type_and_scope(three_cities):
    with pytest.raises(
        ParamsError, match=r"scope must be a str among \['city', 'pooled'\]; got 'world'"
    ):
        dataclasses.replace(RIDGE, scope="world")
    with pytest.raises(
        ParamsError,
        match=r"type must be null or a str among \['ridge', 'elasticnet', 'lasso', 'tmax_dist'\]",
    ):
        dataclasses.replace(RIDGE, type="forest")
    with pytest.raises(ParamsError, match="tune.ridge_pooled needs a type among"):
        tune_window(three_cities.fit, "ridge_pooled", RIDGE, SEQUENTIAL)
