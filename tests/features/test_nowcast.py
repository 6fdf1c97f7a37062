"""The weather nowcast: empirical residuals from training days, cross-fitted on those days."""

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from tmaxedge.features import nowcast
from tmaxedge.features.build import COLUMNS, FEATURE_SETS, LABEL_COLUMNS, MARKET_LOGIT


def rows(days, highs, running_max, temp_now, hour=14.2, strike=("between", 70.0, 71.0)):
    kind, floor, cap = strike
    return pd.DataFrame(
        {
            "event_date": pd.to_datetime(days).date,
            "climate_day_hour": hour,
            "tmax_f": highs,
            "running_max": running_max,
            "temp_now": temp_now,
            "strike_type": kind,
            "floor_strike": floor,
            "cap_strike": cap,
        }
    )


def test_fit_tables_keeps_one_residual_per_day_and_half_hour():
    train = rows(
        ["2024-05-01", "2024-05-01", "2024-05-02"],
        [72, 72, 75],
        [70.0, 70.4, 71.0],
        [69.0, 69.5, 70.0],
    )
    tables = nowcast.fit_tables(train)
    assert tables["running_max"] == {"28": [["2024-05-01", "2024-05-02"], [2.0, 4.0]]}
    assert tables["temp_now"] == {"28": [["2024-05-01", "2024-05-02"], [3.0, 5.0]]}


def test_a_pooled_models_tables_split_by_city_and_merge_back():
    days = ["2024-05-01", "2024-05-02", "2024-05-03"]
    both = pd.concat(
        [
            rows(days, [71, 72, 75], [70.0] * 3, [70.0] * 3).assign(city="chi"),
            rows(days, [80, 81, 79], [78.0] * 3, [77.0] * 3).assign(city="aus"),
        ]
    )
    pooled = nowcast.fit_tables(both)
    chi = nowcast.of_city(pooled, "chi")
    assert list(chi[nowcast.BY_CITY]) == ["chi"]
    assert nowcast.of_city(pooled, "nyc") == {nowcast.BY_CITY: {}}
    assert nowcast.merged([chi, nowcast.of_city(pooled, "aus")]) == pooled
    one_city = nowcast.fit_tables(both[both["city"] == "chi"])
    assert nowcast.of_city(one_city, "aus") is one_city  # one city's model keeps its tables
    test = rows(["2024-05-10"], [0], [69.6], [np.nan]).assign(city="chi")
    pd.testing.assert_frame_equal(
        nowcast.add_columns(test, chi), nowcast.add_columns(test, pooled), check_exact=True
    )


def test_add_columns_counts_residuals_landing_in_the_bin():
    train = rows(["2024-05-01", "2024-05-02", "2024-05-03"], [71, 72, 75], [70.0] * 3, [70.0] * 3)
    tables = nowcast.fit_tables(train)  # residuals 1, 2, 5
    test = rows(["2024-05-10"], [0], [69.6], [np.nan], strike=("between", 71.0, 72.0))
    out = nowcast.add_columns(test, tables)
    # 69.6 + {1, 2, 5} rounds to {71, 72, 75}: two of three in [71, 72]; add-one smoothing
    assert expit(out["nowcast_max_logit"].iloc[0]) == pytest.approx(2.5 / 4)
    assert np.isnan(out["nowcast_now_logit"].iloc[0])  # no reading, no nowcast


def test_add_columns_leaves_the_rows_own_day_out_on_training_rows():
    train = rows(["2024-05-01", "2024-05-02"], [71, 80], [70.0, 70.0], [70.0, 70.0])
    tables = nowcast.fit_tables(train)  # residuals 1 (day 1) and 10 (day 2)
    crossed = nowcast.add_columns(train, tables, leave_own_day_out=True)
    # day 1 may only use day 2's residual (10): 70 + 10 = 80, not in [70, 71]
    assert expit(crossed["nowcast_max_logit"].iloc[0]) == pytest.approx(0.5 / 2)
    in_sample = nowcast.add_columns(train, tables)
    assert expit(in_sample["nowcast_max_logit"].iloc[0]) == pytest.approx(1.5 / 3)


@pytest.mark.parametrize(
    "strike, expected",  # residuals 1, 2, 5 on a reading of 70.0 give highs 71, 72, 75
    [
        (("greater", 71.0, np.nan), 2.5 / 4),  # T > 71: 72 and 75
        (("less", np.nan, 72.0), 1.5 / 4),  # T < 72: 71
        (("between", 73.0, 74.0), 0.5 / 4),  # none
    ],
)
def test_add_columns_follows_the_yes_rule_of_each_strike_type(strike, expected):
    train = rows(["2024-05-01", "2024-05-02", "2024-05-03"], [71, 72, 75], [70.0] * 3, [70.0] * 3)
    test = rows(["2024-05-10"], [0], [70.0], [70.0], strike=strike)
    out = nowcast.add_columns(test, nowcast.fit_tables(train))
    assert expit(out["nowcast_max_logit"].iloc[0]) == pytest.approx(expected)


def test_labels_are_never_features():
    for name, columns in FEATURE_SETS.items():
        assert not set(columns) & set(LABEL_COLUMNS), name
    assert MARKET_LOGIT in COLUMNS and MARKET_LOGIT not in LABEL_COLUMNS
    assert not set(nowcast.COLUMNS) & set(LABEL_COLUMNS)


def test_a_tables_iso_days_count_as_the_rows_dates_do():
    days = ["2024-02-28", "2024-02-29", "2024-03-01", "1969-12-31"]
    from_rows = nowcast._day_numbers(pd.Series(pd.to_datetime(days).date))
    np.testing.assert_array_equal(nowcast._day_numbers(days), from_rows)
    np.testing.assert_array_equal(nowcast._day_numbers(days), [19781, 19782, 19783, -1])
