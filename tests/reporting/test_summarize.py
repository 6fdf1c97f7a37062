"""Walk-forward summaries: the forecast's steps and the pooling weights."""

import numpy as np
import pandas as pd

from tmaxedge.core.probability import brier
from tmaxedge.reporting import summarize
from tmaxedge.reporting.summarize import pool_weight_table, step_scores, summarize_predictions


def predictions():
    rng = np.random.default_rng(3)
    n = 400
    y = rng.integers(0, 2, n)
    p_market = np.clip(0.5 + (y - 0.5) * 0.3 + rng.normal(0, 0.1, n), 0.01, 0.99)
    p_unpooled = np.clip(0.5 + (y - 0.5) * 0.1 + rng.normal(0, 0.1, n), 0.01, 0.99)
    p_model = np.where(np.arange(n) < 10, np.nan, (p_market + p_unpooled) / 2)
    return pd.DataFrame(
        {
            "window": "w",
            "y": y,
            "p_market": p_market,
            "p_unpooled": p_unpooled,
            "p_incoherent": p_model,
            "p_model": p_model,
            "p_oracle": np.nan,
        }
    )


def test_step_scores_compare_each_step_on_the_final_forecasts_rows():
    frame = predictions()
    scores = step_scores(frame)
    kept = frame["p_model"].notna()
    y = frame.loc[kept, "y"].to_numpy(float)
    assert scores["brier_unpooled"] == brier(y, frame.loc[kept, "p_unpooled"].to_numpy())
    market = brier(y, frame.loc[kept, "p_market"].to_numpy())
    assert np.isclose(scores["brier_improvement_unpooled"], 1 - scores["brier_unpooled"] / market)
    assert scores["brier_incoherent"] == summarize_predictions(frame)["brier_common"]
    assert "brier_unpooled" not in step_scores(frame.drop(columns=["p_unpooled", "p_incoherent"]))


def test_pool_weight_table_keeps_groups_with_a_pool_fit():
    records = [
        (
            "ridge",
            "2024-07-07",
            "chi_less",
            {"method": "none", "pool": {"scope": "less", "w": 0.35, "n_rows": 90}},
        ),
        ("ridge", "2024-06-30", "mia_less", {"method": "none", "reason": "no model"}),
        (
            "ridge",
            "2024-06-30",
            "chi_less",
            {"method": "none", "pool": {"scope": "less", "w": None, "n_rows": 0}},
        ),
    ]
    table = pool_weight_table(records)
    assert table["window"].tolist() == ["2024-06-30", "2024-07-07"]
    assert table["strike"].tolist() == ["less", "less"]
    assert table["w"].isna().tolist() == [True, False]


def test_fits_stopped_at_the_iteration_limit_are_counted_per_entry():
    records = [
        ("ridge", {"status": "ok"}),
        ("elasticnet", {"status": "ok", "n_fits_not_converged": 2}),
        ("elasticnet", {"status": "ok", "n_fits_not_converged": 3, "final_fit_converged": False}),
        ("elasticnet", {"status": "too_few_yes_days"}),
    ]
    counts = summarize.not_converged_fits(records, ["elasticnet", "ridge", "tmax_dist"])
    assert counts == {"elasticnet": 5, "ridge": 0, "tmax_dist": 0}
