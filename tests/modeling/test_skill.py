import numpy as np
import pandas as pd
import pytest

from tmaxedge.modeling.skill import (
    Bootstrap,
    ImprovementInterval,
    edge_verdict,
    event_score_sums,
    improvement_by_hours_to_close,
    improvement_interval,
    ladder_positions,
    murphy_decomposition,
    paired_difference_interval,
    ranked_probability_score,
)


def scored_rows(n_events: int, rows_per_event: int, model_skill: float, seed: int) -> pd.DataFrame:
    """Events with one outcome each; the market's price is noisy around the truth and the model
    removes ``model_skill`` of that noise (0: as good as the market, in expectation)."""
    rng = np.random.default_rng(seed)
    truth = rng.uniform(0.05, 0.95, n_events)
    y = (rng.random(n_events) < truth).astype(float)
    event = np.repeat([f"E{i:04d}" for i in range(n_events)], rows_per_event)
    truth_rows, y_rows = np.repeat(truth, rows_per_event), np.repeat(y, rows_per_event)
    market_noise = rng.normal(0, 0.15, n_events * rows_per_event)
    model_noise = rng.normal(0, 0.15, n_events * rows_per_event) * (1 - model_skill)
    return pd.DataFrame(
        {
            "event_ticker": event,
            "y": y_rows,
            "p_market": np.clip(truth_rows + market_noise, 0.01, 0.99),
            "p_model": np.clip(truth_rows + model_noise, 0.01, 0.99),
            "minutes_to_close": np.tile(np.linspace(0, 900, rows_per_event), n_events),
        }
    )


def test_copies_of_an_events_rows_do_not_narrow_its_interval():
    once = scored_rows(80, 1, model_skill=0.3, seed=1)
    copied = once.loc[once.index.repeat(50)]  # 50 identical minutes per event: no new evidence
    first = improvement_interval(event_score_sums(once), "brier")
    second = improvement_interval(event_score_sums(copied), "brier")
    assert second.n_events == first.n_events == 80
    assert (second.low, second.point, second.high) == pytest.approx(
        (first.low, first.point, first.high), rel=1e-12
    )


def test_a_model_no_better_than_the_market_gets_an_interval_holding_zero_about_95_percent():
    held = []
    for seed in range(120):
        sums = event_score_sums(scored_rows(60, 5, model_skill=0.0, seed=seed))
        interval = improvement_interval(sums, "brier", Bootstrap(n_resamples=400, seed=seed))
        held.append(interval.low <= 0 <= interval.high)
    assert 0.88 <= np.mean(held) <= 1.0


def test_a_real_edge_over_many_events_is_found_and_said_in_words():
    sums = event_score_sums(scored_rows(400, 10, model_skill=0.6, seed=3))
    interval = improvement_interval(sums, "brier")
    assert interval.excludes_zero and interval.low > 0
    assert interval.low < interval.point < interval.high
    assert edge_verdict(interval, 0.02).startswith("an edge: +")
    log_loss = improvement_interval(sums, "log_loss")
    assert log_loss.low > 0


def test_the_verdict_says_no_edge_when_the_interval_includes_zero():
    unsure = ImprovementInterval(point=0.031, low=-0.004, high=0.066, level=0.95, n_events=10)
    assert edge_verdict(unsure, 0.02).startswith("no edge found: +3.1%")
    small = ImprovementInterval(point=0.012, low=0.002, high=0.022, level=0.95, n_events=300)
    assert edge_verdict(small, 0.02).startswith("better than the market by less than the 2%")
    worse = ImprovementInterval(point=-0.03, low=-0.05, high=-0.01, level=0.95, n_events=300)
    assert edge_verdict(worse, 0.02).startswith("worse than the market")


def test_paired_difference_of_an_entry_with_itself_is_exactly_zero_and_a_better_one_ranks():
    rows = scored_rows(300, 4, model_skill=0.0, seed=5)
    better = rows.assign(p_model=scored_rows(300, 4, model_skill=0.7, seed=5)["p_model"])
    same = paired_difference_interval(event_score_sums(rows), event_score_sums(rows), "brier")
    assert (same.low, same.point, same.high) == (0.0, 0.0, 0.0)
    ranked = paired_difference_interval(event_score_sums(better), event_score_sums(rows), "brier")
    assert ranked.low > 0 and ranked.n_events == 300


def test_murphy_components_add_up_to_the_brier_score():
    rows = scored_rows(200, 3, model_skill=0.2, seed=7)
    parts = murphy_decomposition(rows["y"].to_numpy(), rows["p_model"].to_numpy())
    total = parts["reliability"] - parts["resolution"] + parts["uncertainty"] + parts["within_bin"]
    assert total == pytest.approx(parts["brier"], abs=1e-12)
    assert parts["resolution"] > 0 and parts["reliability"] >= 0


def test_a_constant_forecast_at_the_base_rate_has_no_reliability_error_and_no_resolution():
    y = np.array([1.0, 0.0, 0.0, 0.0] * 25)
    parts = murphy_decomposition(y, np.full(100, 0.25))
    assert parts["reliability"] == pytest.approx(0.0, abs=1e-15)
    assert parts["resolution"] == pytest.approx(0.0, abs=1e-15)
    assert parts["brier"] == pytest.approx(parts["uncertainty"]) == pytest.approx(0.1875)


def ladder(event: str, ts: int, probabilities: list[float], winner: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "event_ticker": event,
            "timestamp": ts,
            "position": range(len(probabilities)),
            "p": probabilities,
            "y": [float(k == winner) for k in range(len(probabilities))],
        }
    )


def test_ranked_probability_score_by_hand_and_incomplete_ladders_left_out():
    # cumulative forecast 0.2, 0.7 against outcome 0, 1: (0.2**2 + 0.3**2) / 2 = 0.065
    hand = ladder("A", 0, [0.2, 0.5, 0.3], winner=1)
    assert ranked_probability_score(hand, "p") == pytest.approx(0.065)
    doubled = hand.assign(p=hand["p"] * 2)  # divided by their sum first: the same ladder
    assert ranked_probability_score(doubled, "p") == pytest.approx(0.065)
    partial = ladder("A", 1, [0.9, np.nan, 0.1], winner=0)
    far = ladder("A", 2, [0.0, 0.0, 1.0], winner=0)  # all mass two ranks off: (1 + 1) / 2
    both = pd.concat([hand, partial, far])
    assert ranked_probability_score(both, "p") == pytest.approx((0.065 + 1.0) / 2)


def test_ranked_probability_score_prefers_mass_near_the_outcome():
    near = ladder("B", 0, [0.1, 0.2, 0.6, 0.1], winner=3)
    far = ladder("B", 0, [0.6, 0.2, 0.1, 0.1], winner=3)
    assert ranked_probability_score(near, "p") < ranked_probability_score(far, "p")


def test_improvement_by_hours_to_close_bands_every_scored_row_once():
    rows = scored_rows(50, 16, model_skill=0.4, seed=9)
    table = improvement_by_hours_to_close(rows)
    assert table["n_rows"].sum() == len(rows)
    assert list(table.index[:3]) == ["0-2h", "2-4h", "4-8h"]
    expected = 1 - table["brier_model"] / table["brier_reference"]
    np.testing.assert_allclose(table["improvement"], expected)


def test_ladder_positions_run_from_the_coldest_bin_to_the_warmest():
    markets = pd.DataFrame(
        {
            "ticker": ["E-B72.5", "E-T77", "E-B70.5", "E-T70", "F-T60", "F-B60.5"],
            "event_ticker": ["E", "E", "E", "E", "F", "F"],
            "strike_type": ["between", "greater", "between", "less", "less", "between"],
            "floor_strike": [72.0, 77.0, 70.0, np.nan, np.nan, 60.0],
            "cap_strike": [73.0, np.nan, 71.0, 70.0, 60.0, 61.0],
        }
    )
    positions = ladder_positions(markets)
    assert positions.to_dict() == {
        "E-T70": 0,
        "E-B70.5": 1,
        "E-B72.5": 2,
        "E-T77": 3,
        "F-T60": 0,
        "F-B60.5": 1,
    }
