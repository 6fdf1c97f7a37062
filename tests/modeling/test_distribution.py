"""tmax_dist: the event's high as one distribution, its bins' probabilities from it."""

import dataclasses

import numpy as np
import pandas as pd
import pytest
from event_bins import BINS, HIGH, LOW, discretised_normal
from windows_support import SEQUENTIAL, TMAX_DIST, window_rows

from tmaxedge.core.errors import ParamsError
from tmaxedge.features.event_features import IMPLIED_EXCEEDANCE_COLUMNS, implied_exceedance
from tmaxedge.modeling import distribution
from tmaxedge.modeling.calibration import CalibrateParams
from tmaxedge.modeling.cards import Calibrator, ModelCard
from tmaxedge.modeling.coherence import CoherenceParams
from tmaxedge.modeling.logistic import LinearFit, Preprocessor
from tmaxedge.modeling.pooling import PoolParams
from tmaxedge.walkforward.run import StepParams, run_window
from tmaxedge.walkforward.tune import tune_window


def event_rows(q: np.ndarray, minutes: int = 3) -> pd.DataFrame:
    """One event's six markets at ``minutes`` minutes, priced at the coherent ``q``."""
    n = len(BINS)
    at_least, above = implied_exceedance(
        np.tile(q, minutes), np.repeat(np.arange(minutes), n), np.tile(LOW, minutes)
    )
    return pd.DataFrame(
        {
            **{c: np.tile(BINS[c].to_numpy(), minutes) for c in BINS},
            "climate_day_hour": np.repeat(9.0 + np.arange(minutes), n),
            "running_max": 79.0,
            "temp_now": 78.0,
            "event_date": "2024-05-01",
            "event_ticker": "E",
            "city": "chi",
            "ts": np.repeat(
                pd.date_range("2024-05-01 14:00", periods=minutes, freq="min", tz="UTC"), n
            ),
            IMPLIED_EXCEEDANCE_COLUMNS[0]: at_least,
            IMPLIED_EXCEEDANCE_COLUMNS[1]: above,
        }
    )


def linear_card(weights: dict[str, float], intercept: float = 0.0) -> ModelCard:
    """A tmax_dist card scoring S(k) as ``intercept + sum(weight * column)``, no standardising."""
    columns = list(weights)
    zeros, ones = np.zeros(len(columns)), np.ones(len(columns))
    return ModelCard(
        Preprocessor(columns, zeros, zeros, ones),
        LinearFit(np.array(list(weights.values())), intercept),
        Calibrator("none", clip=1e-12),
        kind=distribution.KIND,
    )


def all_day(term: str, weight: float) -> dict[str, float]:
    """``term`` at ``weight`` at every hour: the hat functions sum to one."""
    return {f"{term}_at_h{knot}": weight for knot in distribution.HOUR_KNOTS}


def test_implied_exceedance_is_the_market_survival_function_at_each_edge():
    q = discretised_normal(81.3, 2.0)
    at_least, above = implied_exceedance(q, np.zeros(len(q), int), LOW)
    for i in range(len(q)):
        assert at_least[i] == pytest.approx(q[LOW >= LOW[i]].sum(), abs=1e-12)
        assert above[i] == pytest.approx(q[LOW > HIGH[i]].sum(), abs=1e-12)
    assert at_least[0] == pytest.approx(1.0) and above[-1] == 0.0  # the tails: S(-inf), S(+inf)


def test_a_missing_price_leaves_its_event_minute_without_a_distribution():
    q = np.tile(discretised_normal(81.0, 2.0), 2)
    q[8] = np.nan
    at_least, above = implied_exceedance(q, np.repeat([0, 1], len(BINS)), np.tile(LOW, 2))
    assert (
        np.isfinite(at_least[:6]).all()
        and np.isnan(at_least[6:]).all()
        and np.isnan(above[6:]).all()
    )


def test_a_model_that_is_the_market_gives_back_the_market_coherent_bins():
    q = discretised_normal(80.6, 1.8)
    rows = event_rows(q)
    p = distribution.bin_probability(linear_card(all_day("market_logit", 1.0)), rows)
    wide = np.tile(q, 3) > 2 * distribution.MARKET_CLIP  # the clip bends only the far tails
    np.testing.assert_allclose(p[wide], np.tile(q, 3)[wide], rtol=1e-9)


def test_an_event_probabilities_telescope_to_one_whatever_the_weights():
    q = discretised_normal(82.2, 2.4)
    rows = event_rows(q)
    card = linear_card(
        {**all_day("market_logit", 0.7), "gap_max": -0.4, "gap_now": -0.2, "level_at_h10": 0.3}, 0.1
    )
    p = distribution.bin_probability(card, rows)
    np.testing.assert_allclose(p.reshape(3, len(BINS)).sum(axis=1), 1.0, atol=1e-12)
    assert (p > 0).all()


def test_a_survival_that_rises_in_k_is_rearranged_into_non_negative_bins_that_sum_to_one():
    q = discretised_normal(81.0, 2.0)
    rows = event_rows(q)
    rising = linear_card({**all_day("market_logit", -0.5), "gap_max": 0.3})  # S increases in k
    p = distribution.bin_probability(rising, rows)
    np.testing.assert_allclose(p.reshape(3, len(BINS)).sum(axis=1), 1.0, atol=1e-12)
    assert (p > 0).all()
    one_group = distribution.bin_probability(rising, rows[rows["strike_type"] == "between"])
    assert (one_group == 1e-6).any()  # without the whole event it cannot be rearranged: clipped


def test_an_event_minute_without_a_distribution_gets_no_probability():
    rows = event_rows(discretised_normal(81.0, 2.0), minutes=2)
    rows.loc[7, IMPLIED_EXCEEDANCE_COLUMNS] = np.nan
    p = distribution.bin_probability(linear_card(all_day("market_logit", 1.0)), rows)
    assert np.isnan(p[6:]).all() and np.isfinite(p[:6]).all()  # the second minute, all its markets


def test_hour_weights_move_linearly_between_knots_and_sum_to_one():
    basis = np.array(distribution.hour_basis(np.array([4.0, 6.0, 8.0, 12.0, 22.0, 23.5])))
    np.testing.assert_allclose(basis.sum(axis=0), 1.0)
    np.testing.assert_allclose(basis[:, 2], [0.5, 0.5, 0, 0, 0])  # 08:00: half way from 06 to 10
    np.testing.assert_allclose(basis[:, 0], [1, 0, 0, 0, 0])  # flat before the first knot


def test_fitting_rows_are_each_event_minutes_interior_thresholds_labelled_by_the_high(world):
    folder, _ = world
    _, rows = window_rows(folder)
    kept, x, y = distribution.threshold_rows(rows.fit, None)
    low = np.where(kept["strike_type"] == "greater", kept["floor_strike"] + 1, kept["floor_strike"])
    np.testing.assert_array_equal(y, (kept["tmax_f"] >= low).astype(int))
    per_minute = kept.groupby(["event_ticker", "ts"]).size()
    markets = rows.fit.groupby(["event_ticker", "ts"]).size()
    assert per_minute.equals(markets.loc[per_minute.index] - 1)  # all but the lower tail
    assert list(x.columns) == distribution.COLUMNS


def tmax_dist_predictions(
    rows, calibrate: CalibrateParams, pool: PoolParams
) -> tuple[dict, pd.DataFrame]:
    steps = StepParams(calibrate, pool, CoherenceParams("logit_shift"), SEQUENTIAL, None)
    run = run_window(rows, "tmax_dist", TMAX_DIST, steps, "w")
    return run.cards, run.predictions


@pytest.mark.parametrize("method", ["none", "sigmoid"])
def test_one_model_per_city_prices_every_market_coherently_calibrated_or_not(world, method):
    folder, _ = world
    _, rows = window_rows(folder)
    cards, predictions = tmax_dist_predictions(
        rows, CalibrateParams(method=method), PoolParams(enabled=False)
    )
    for city in ["chi", "nyc"]:
        mine = [cards[f"{city}_{strike}"] for strike in ["between", "greater", "less"]]
        assert all(card.to_dict() == mine[0].to_dict() for card in mine), city
        assert mine[0].calibrator.method == method
    assert "gap_max" in cards["chi_between"].preprocessor.columns
    assert not {"gap_max", "nowcast_max_logit_at_h14"} & set(
        cards["nyc_between"].preprocessor.columns
    )
    assert predictions["p_unpooled"].notna().all()
    sums = predictions.groupby(["event_ticker", "timestamp"])["p_unpooled"].sum()
    np.testing.assert_allclose(sums, 1.0, atol=1e-5)  # coherent before the coherence step


def test_tmax_dist_takes_only_its_own_inputs(world):
    folder, _ = world
    _, rows = window_rows(folder)
    for wrong in [
        dataclasses.replace(TMAX_DIST, feature_set="rich"),
        dataclasses.replace(TMAX_DIST, extra_features=["mid_logit"]),
    ]:
        with pytest.raises(
            ParamsError,
            match="tune.tmax_dist takes feature_set 'distribution' and no extra_features",
        ):
            tune_window(rows.fit, "tmax_dist", wrong, SEQUENTIAL)
