"""Event features: the implied distribution of the high from an event's six prices at one minute."""

import numpy as np
import pytest
from event_bins import BINS, HIGH, LOW, discretised_normal

from tmaxedge.features.event_features import event_columns, implied_normal


def one_event(p: np.ndarray, minutes: int = 1, event: str = "E", running_max=np.nan) -> dict:
    """Columns for an event whose six prices are ``p`` at each of ``minutes`` minutes."""
    n = len(BINS)
    return event_columns(
        np.tile(p, minutes),
        np.repeat(event, n * minutes),
        np.repeat(np.arange(minutes), n),
        np.tile(LOW, minutes),
        np.tile(HIGH, minutes),
        np.full(n * minutes, float(n)),
        np.full(n * minutes, running_max),
        np.full(n * minutes, np.nan),
    )


@pytest.mark.parametrize("mean, sd", [(81.2, 2.0), (80.0, 1.5), (82.7, 2.5)])
def test_a_rounded_normal_gives_back_its_mean_and_sd(mean, sd):
    p = discretised_normal(mean, sd)
    group = np.zeros(len(p), dtype=int)
    (fitted_mean,), (fitted_sd,) = implied_normal(p, group, LOW, HIGH)
    assert fitted_mean == pytest.approx(mean, abs=1e-9)
    assert fitted_sd == pytest.approx(sd, rel=1e-9)
    columns = one_event(p, running_max=mean + sd)
    assert columns["event_spread"][0] == pytest.approx(sd, rel=1e-6)
    assert columns["running_max_z"][0] == pytest.approx(1.0, abs=1e-6)


def test_a_skewed_distribution_gets_a_normal_near_its_centre():
    p = np.array([0.02, 0.08, 0.50, 0.30, 0.07, 0.03])  # mostly 80-81, leaning high
    (mean,), (sd,) = implied_normal(p, np.zeros(6, int), LOW, HIGH)
    assert 80.5 < mean < 82.0 and 1.0 < sd < 3.0


def test_edges_are_in_spreads_from_the_median_and_tails_have_one_edge():
    columns = one_event(discretised_normal(81.0, 2.0))
    median, spread = 81.0, columns["event_spread"]  # the rounded normal's mean: exact
    assert np.isnan(columns["floor_z"][0]) and np.isnan(columns["cap_z"][-1])
    # bin 80-81 spans 79.5..81.5
    assert columns["floor_z"][2] == pytest.approx((79.5 - median) / spread[2], abs=1e-6)
    assert columns["cap_z"][2] == pytest.approx((81.5 - median) / spread[2], abs=1e-6)
    assert np.all(np.diff(columns["cap_z"][:-1]) > 0)


def test_mid_gap_shares_out_the_overround():
    fair = discretised_normal(81.0, 2.0)
    quoted = np.clip(fair + 0.02, 0.01, 0.99)  # every bin two cents rich
    gap = one_event(quoted)["mid_gap"]
    assert gap.sum() == pytest.approx(quoted.sum() - 1, abs=1e-9)
    assert np.all(gap > 0)


def test_an_event_minute_with_a_missing_price_gets_nan_and_leaves_other_minutes_alone():
    p = discretised_normal(81.0, 2.0)
    complete = one_event(p, minutes=2)
    prices = np.tile(p, 2)
    prices[7] = np.nan  # second minute, second market
    n = len(BINS)
    broken = event_columns(
        prices,
        np.repeat("E", 2 * n),
        np.repeat([0, 1], n),
        np.tile(LOW, 2),
        np.tile(HIGH, 2),
        np.full(2 * n, float(n)),
        np.full(2 * n, 80.0),
        np.full(2 * n, 79.0),
    )
    for name, values in broken.items():
        assert np.isnan(values[n:]).all(), name
        assert np.array_equal(
            values[:n], one_event(p, running_max=80.0)[name][:n], equal_nan=True
        ) or (name == "temp_now_z")
    assert np.isnan(complete["event_spread"]).sum() == 0


def test_an_event_with_fewer_markets_than_it_has_is_not_complete():
    p = discretised_normal(81.0, 2.0)[:5]
    columns = event_columns(
        p,
        np.repeat("E", 5),
        np.zeros(5, int),
        LOW[:5],
        HIGH[:5],
        np.full(5, 6.0),
        np.full(5, np.nan),
        np.full(5, np.nan),
    )
    assert np.isnan(columns["event_spread"]).all()


def test_one_event_minute_does_not_depend_on_the_others_bit_for_bit():
    """The coherent shift converges per event-minute, so a far-off set elsewhere in the same
    call (a later minute, another event) cannot move this one's values in the last bit."""
    calm = discretised_normal(81.0, 2.0)
    wild = np.clip(discretised_normal(84.0, 0.7) * 1.6, 1e-3, 0.999)
    alone = one_event(calm)
    n = len(BINS)
    together = event_columns(
        np.r_[calm, wild],
        np.repeat(["E", "F"], n),
        np.zeros(2 * n, int),
        np.tile(LOW, 2),
        np.tile(HIGH, 2),
        np.full(2 * n, float(n)),
        np.full(2 * n, np.nan),
        np.full(2 * n, np.nan),
    )
    for name in alone:
        assert alone[name].tobytes() == together[name][:n].tobytes(), name
