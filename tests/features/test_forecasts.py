"""Forecast features: point in time (nothing issued after ts), ties, close, nulls, the bin's
log-odds, the feature group and the extra feature, and the default table unchanged without them."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.stats import norm
from test_build import CHI, make_world

from tmaxedge.core.errors import ParamsError
from tmaxedge.decision import leakage
from tmaxedge.features.build import COLUMNS, FeatureParams, build_partition
from tmaxedge.features.feature_groups import GROUPS, feature_group
from tmaxedge.features.forecasts import FORECAST_COLUMNS, bin_logit
from tmaxedge.modeling.tuning import EXTRA_FEATURES
from tmaxedge.walkforward.groups import model_columns, require_extra_columns

DAYS = [dt.date(2024, 7, 1), dt.date(2024, 7, 2)]
EVERY_MINUTE = FeatureParams(every_minutes=1)
MINUTE = pd.Timedelta(minutes=1)


@pytest.fixture(scope="module")
def world():
    return make_world(CHI, DAYS)


def forecasts(*rows) -> pd.DataFrame:
    """Forecast rows (target_date, issued_at text, lead_days, high) of chi, contract dtypes."""
    frame = pd.DataFrame(rows, columns=["target_date", "issued_at", "lead_days", "tmax_forecast_f"])
    return frame.assign(
        city="chi",
        issued_at=pd.to_datetime(frame["issued_at"], utc=True).dt.as_unit("us"),
        lead_days=frame["lead_days"].astype("int64"),
        tmax_forecast_f=frame["tmax_forecast_f"].astype("float64"),
    )[["city", "target_date", "issued_at", "lead_days", "tmax_forecast_f"]]


BASE = forecasts(
    (DAYS[0], "2024-06-30T05:00Z", 1, 70.0),
    (DAYS[0], "2024-07-01T05:00Z", 0, 72.0),
    (DAYS[1], "2024-07-01T05:00Z", 1, 75.0),
)


def build(world, table, params=EVERY_MINUTE) -> pd.DataFrame:
    return build_partition(
        world["markets"],
        world["quotes"],
        world["weather"],
        world["settlements"],
        CHI,
        params,
        table,
    )


@pytest.fixture(scope="module")
def built(world):
    return build(world, BASE)


def test_without_a_forecasts_table_the_feature_table_is_unchanged(world, built):
    plain = build(world, None)
    assert list(plain.columns) == COLUMNS
    assert list(built.columns) == COLUMNS + FORECAST_COLUMNS
    pd.testing.assert_frame_equal(built[COLUMNS], plain)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_a_forecast_issued_after_ts_moves_nothing_at_ts(world, built, data):
    """Plant an absurd forecast one minute after some row's ts: that row (and every row before)
    is unchanged, the row a minute later sees it."""
    position = data.draw(st.integers(0, len(built) - 1), label="row")
    row = built.iloc[position]
    late = forecasts((row["event_date"], str(row["ts"] + MINUTE), 0, 140.0))
    planted = build(world, pd.concat([BASE, late], ignore_index=True))
    same_event = built["event_date"] == row["event_date"]
    before = ~same_event | (built["ts"] <= row["ts"])
    pd.testing.assert_frame_equal(planted[before.to_numpy()], built[before.to_numpy()])
    later = same_event & (built["ts"] == row["ts"] + MINUTE)
    assert (planted.loc[later.to_numpy(), "fc_high"] == 140.0).all()


def test_a_forecast_issued_at_ts_is_visible_at_ts(world, built):
    ts = built["ts"].iloc[100]
    tie = forecasts((built["event_date"].iloc[100], str(ts), 0, 66.0))
    rows = build(world, pd.concat([BASE, tie], ignore_index=True))
    at = (rows["ts"] == ts) & (rows["event_date"] == built["event_date"].iloc[100])
    assert (rows.loc[at, "fc_high"] == 66.0).all()
    assert (rows.loc[at, "fc_age_hours"] == 0.0).all()
    just_before = (rows["ts"] == ts - MINUTE) & (
        rows["event_date"] == built["event_date"].iloc[100]
    )
    assert (rows.loc[just_before, "fc_high"] != 66.0).all()


def test_no_row_after_close_and_forecasts_after_close_change_nothing(world, built):
    assert (built["ts"] <= built["close_time"]).all()
    after = forecasts((DAYS[1], "2024-07-03T12:00Z", 0, 140.0))
    rows = build(world, pd.concat([BASE, after], ignore_index=True))
    pd.testing.assert_frame_equal(rows, built)


def test_latest_visible_forecast_revision_lead_and_age(built):
    first = built[built["event_date"] == DAYS[0]]
    issued = pd.Timestamp("2024-07-01T05:00Z")
    after = first[first["ts"] >= issued]
    assert (after["fc_high"] == 72.0).all() and (after["fc_revision"] == 2.0).all()
    assert (after["fc_lead_days"] == 0).all()
    hours = (after["ts"] - issued).dt.total_seconds() / 3600
    np.testing.assert_allclose(after["fc_age_hours"], hours)
    second = built[built["event_date"] == DAYS[1]]
    assert second["fc_revision"].isna().all()  # one forecast visible: no revision
    assert (second["fc_high"] == 75.0).all()


def test_no_visible_forecast_gives_nulls(world):
    rows = build(world, forecasts((DAYS[1], "2024-07-02T20:00Z", 0, 75.0)))
    early = rows[(rows["event_date"] == DAYS[0]) | (rows["ts"] < pd.Timestamp("2024-07-02T20:00Z"))]
    assert early[FORECAST_COLUMNS].isna().all().all()
    empty = build(world, BASE.iloc[:0])
    assert empty[FORECAST_COLUMNS].isna().all().all()


def test_strike_distances_are_null_where_the_bin_has_no_such_strike(built):
    less, greater = built["strike_type"] == "less", built["strike_type"] == "greater"
    assert built.loc[less, "fc_minus_floor"].isna().all()
    assert built.loc[greater, "fc_minus_cap"].isna().all()
    between = built[built["strike_type"] == "between"]
    np.testing.assert_allclose(between["fc_minus_floor"], between["fc_high"] - 70.0)
    np.testing.assert_allclose(between["fc_minus_cap"], between["fc_high"] - 71.0)


def test_bin_logit_follows_the_yes_rule_with_a_continuity_correction(built):
    sd = FeatureParams().forecast_sd_f
    high = 72.0
    expected = {  # T < 70 | 70 <= T <= 71 | T > 71
        "less": norm.cdf((69.5 - high) / sd),
        "between": norm.cdf((71.5 - high) / sd) - norm.cdf((69.5 - high) / sd),
        "greater": norm.sf((71.5 - high) / sd),
    }
    row = built[(built["fc_high"] == high)].groupby("strike_type")["fc_bin_logit"].first()
    for kind, p in expected.items():
        assert row[kind] == pytest.approx(np.log(p / (1 - p)))
    assert sum(expected.values()) == pytest.approx(1.0)  # the bins partition the integers
    far = bin_logit(np.array([140.0, np.nan]), np.array([40.0, 40.0]), np.array([41.0, 41.0]), sd)
    assert far[0] == pytest.approx(np.log(1e-4 / (1 - 1e-4))) and np.isnan(far[1])


def test_forecast_sd_changes_only_the_bin_logit(world, built):
    wider = build(world, BASE, FeatureParams(every_minutes=1, forecast_sd_f=6.0))
    others = [c for c in wider.columns if c != "fc_bin_logit"]
    pd.testing.assert_frame_equal(wider[others], built[others])
    assert not np.allclose(wider["fc_bin_logit"].dropna(), built["fc_bin_logit"].dropna())


def test_the_leakage_audit_rederives_forecast_features(world, built):
    sample = leakage.sample_rows(built[leakage.SAMPLE_KEYS], 40)
    raw = leakage.RawInputs(
        world["markets"], world["quotes"], world["weather"], world["settlements"], BASE
    )
    stored = sample[["ticker", "ts"]].merge(built, on=["ticker", "ts"])
    rebuilt, _ = leakage.rederive(sample, raw, {"chi": CHI}, EVERY_MINUTE)
    assert leakage.feature_differences(stored, rebuilt).empty


def test_forecast_is_a_feature_group_and_an_extra_feature(built):
    assert "forecast" in GROUPS and "forecast" in EXTRA_FEATURES
    assert {feature_group(c) for c in FORECAST_COLUMNS} == {"forecast"}
    columns = model_columns(built, "ridge_safe_climate", ["forecast"])
    assert set(FORECAST_COLUMNS) <= set(columns)
    require_extra_columns("ridge", ["forecast"], built)  # present: no error


def test_asking_for_forecast_without_a_forecasts_table_names_entry_and_table(world):
    plain = build(world, None, FeatureParams())
    require_extra_columns("ridge", ["mid_logit", "nowcast"], plain)
    with pytest.raises(
        ParamsError,
        match=r"tune\.ridge_pooled: extra_features 'forecast'.*"
        r"no forecasts table \(data/raw/forecasts\.parquet",
    ):
        require_extra_columns("ridge_pooled", ["forecast"], plain)
