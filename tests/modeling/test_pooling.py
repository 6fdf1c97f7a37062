"""Opinion pooling with the market, and coherent bins."""

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit, logit

from tmaxedge.core.errors import ParamsError
from tmaxedge.core.probability import logit_shift, markets_per_event
from tmaxedge.modeling.coherence import CoherenceParams
from tmaxedge.modeling.pooling import PoolParams, fit_pool_weight, pool_probability


def test_pooling_is_linear_in_log_odds_and_keeps_the_model_where_the_market_is_missing():
    p_model, p_market = np.array([0.8, 0.3, 0.6]), np.array([0.5, 0.1, np.nan])
    pooled = pool_probability(p_model, p_market, 0.25)
    expected = expit(0.25 * logit(p_model[:2]) + 0.75 * logit(p_market[:2]))
    np.testing.assert_allclose(pooled[:2], expected)
    assert pooled[2] == 0.6
    np.testing.assert_array_equal(pool_probability(p_model, p_market, None), p_model)
    np.testing.assert_allclose(pool_probability(p_model, p_market, 1.0), p_model)


def simulated_opinions(n, model_noise, market_noise, seed=0):
    rng = np.random.default_rng(seed)
    truth = rng.normal(0, 1.5, n)
    y = (rng.random(n) < expit(truth)).astype(int)
    return (
        expit(truth + rng.normal(0, model_noise, n)),
        expit(truth + rng.normal(0, market_noise, n)),
        y,
    )


@pytest.mark.parametrize(
    ("model_noise", "market_noise", "low", "high"),
    [
        (0.1, 2.0, 0.9, 1.0),  # the market is noise: w near 1
        (2.0, 0.1, 0.0, 0.1),  # the model is noise: w near 0
        (0.6, 0.6, 0.3, 0.7),  # equally good, independent errors: w near one half
    ],
)
def test_pool_weight_goes_to_the_better_opinion(model_noise, market_noise, low, high):
    p_model, p_market, y = simulated_opinions(40_000, model_noise, market_noise)
    fit = fit_pool_weight(p_model, p_market, y, PoolParams())
    assert low <= fit["w"] <= high
    assert fit["log_loss"] <= min(fit["log_loss_model"], fit["log_loss_market"])


def test_pool_weight_is_none_without_both_outcomes_and_ties_keep_the_model():
    p = np.array([0.2, 0.4])
    assert fit_pool_weight(p, p, np.array([1, 1]), PoolParams())["w"] is None
    assert fit_pool_weight(p, np.full(2, np.nan), np.array([0, 1]), PoolParams())["w"] is None
    assert fit_pool_weight(p, p, np.array([0, 1]), PoolParams())["w"] == 1.0  # same opinion


def test_pool_params_reject_bad_values():
    with pytest.raises(ParamsError, match="scope must be"):
        PoolParams(scope="city")
    with pytest.raises(ParamsError, match="w_grid_step must be"):
        PoolParams(w_grid_step=0)
    with pytest.raises(ParamsError, match="method must be"):
        CoherenceParams(method="softmax")


def event_rows(probabilities_by_minute):
    """Rows of one event's markets: a list (per minute) of lists (per market) of probabilities."""
    rows = [
        {"event": "E", "ticker": f"E-{k}", "ts": minute, "p": p}
        for minute, ps in enumerate(probabilities_by_minute)
        for k, p in enumerate(ps)
    ]
    return pd.DataFrame(rows)


def shifted(frame):
    n = markets_per_event(frame["event"], frame["ticker"])
    return logit_shift(frame["p"].to_numpy(), frame["event"].to_numpy(), frame["ts"].to_numpy(), n)


def test_logit_shift_makes_every_complete_minute_sum_to_one_with_one_common_shift():
    frame = event_rows(
        [
            [0.02, 0.1, 0.3, 0.4, 0.2, 0.05],
            [0.9, 0.5, 0.3, 0.2, 0.1, 0.01],
            [0.001, 0.002, 0.003, 0.004, 0.005, 0.006],
        ]
    )
    out = shifted(frame)
    sums = pd.Series(out).groupby(frame["ts"]).sum()
    np.testing.assert_allclose(sums, 1.0, atol=1e-10)
    shifts = pd.Series(logit(out) - logit(frame["p"])).groupby(frame["ts"])
    assert (shifts.max() - shifts.min()).max() < 1e-8  # one λ per minute


def test_logit_shift_leaves_a_coherent_set_and_an_incomplete_set_unchanged():
    coherent = [0.05, 0.15, 0.3, 0.25, 0.2, 0.05]
    frame = event_rows([coherent, [0.2, 0.2, np.nan, 0.2, 0.2, 0.2]])
    out = shifted(frame)
    np.testing.assert_allclose(out[:6], coherent, atol=1e-12)
    np.testing.assert_array_equal(out[6:], frame["p"].to_numpy()[6:])
    missing_market = frame[frame["ticker"] != "E-5"].reset_index(drop=True)
    n = np.full(len(missing_market), 6.0)  # the event has six markets; one has no row here
    partial = logit_shift(
        missing_market["p"].to_numpy(),
        missing_market["event"].to_numpy(),
        missing_market["ts"].to_numpy(),
        n,
    )
    np.testing.assert_array_equal(partial, missing_market["p"].to_numpy())
