"""Walk-forward summaries: the forecast's steps and the pooling weights."""

import numpy as np
import pandas as pd

from tmaxedge.core.probability import brier
from tmaxedge.modeling.scoring import score
from tmaxedge.modeling.skill import Bootstrap
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


def test_window_records_give_each_windows_dates_scores_and_chosen_hyperparameters():
    rows = pd.concat(
        [predictions().assign(window="2024-07-07"), predictions().assign(window="2024-06-30")]
    )
    bounds = {
        w: {
            "key": w,
            "train_start": a,
            "fit_end": "x",
            "train_end": w,
            "test_start": w,
            "test_end": b,
        }
        for w, a, b in [
            ("2024-06-30", "2024-04-01", "2024-07-07"),
            ("2024-07-07", "2024-04-08", "2024-07-14"),
        ]
    }
    best = {
        "2024-06-30": {
            "status": "ok",
            "C": 2.0,
            "C_fit": 1.5,
            "class_weight": "none",
            "columns": ["a"],
        }
    }
    records = summarize.window_records(rows, bounds, best)
    assert [r["window"] for r in records] == ["2024-06-30", "2024-07-07"]
    first = records[0]
    assert (first["train_start"], first["train_end"], first["test_end"]) == (
        "2024-04-01",
        "2024-06-30",
        "2024-07-07",
    )
    assert first["best_params"] == {"status": "ok", "C": 2.0, "C_fit": 1.5, "class_weight": "none"}
    assert records[1]["best_params"] == {}  # no study recorded for that window
    own = predictions().dropna(subset=["p_model"])
    assert first["brier"] == brier(own["y"].to_numpy(float), own["p_model"].to_numpy(float))
    assert first["n_rows"] == 400 and first["coverage"] == 390 / 400
    assert first["brier_improvement"] == 1 - first["brier_common"] / first["market_brier"]


def test_window_means_weigh_each_window_alike_and_keep_the_lowest_coverage():
    full = predictions().assign(window="2024-06-30")
    half = predictions().assign(window="2024-07-07").iloc[:200]
    half.loc[half.index[:100], "p_model"] = np.nan  # one window forecasts fewer of its rows
    table = summarize.per_window(pd.concat([full, half], ignore_index=True))
    means = summarize.window_means(table)
    assert means["brier_window_mean"] == (table["brier"].iloc[0] + table["brier"].iloc[1]) / 2
    assert means["coverage_lowest_window"] == table["coverage"].min() == 100 / 200


def test_evidence_gives_intervals_around_the_pooled_improvement_and_both_decompositions():
    rng = np.random.default_rng(11)
    n_events, bins, minutes = 40, 3, 6
    event = np.repeat([f"E{i}" for i in range(n_events)], bins * minutes)
    position = np.tile(np.repeat(np.arange(bins), minutes), n_events)
    winner = np.repeat(rng.integers(0, bins, n_events), bins * minutes)
    y = (position == winner).astype(float)
    p_market = np.clip(0.33 + 0.4 * (y - 0.33) + rng.normal(0, 0.2, len(y)), 0.02, 0.98)
    p_model = np.clip(0.33 + 0.5 * (y - 0.33) + rng.normal(0, 0.1, len(y)), 0.02, 0.98)
    predictions = pd.DataFrame(
        {
            "event_ticker": event,
            "market_ticker": [f"{e}-{k}" for e, k in zip(event, position, strict=True)],
            "timestamp": np.tile(np.arange(minutes), n_events * bins),
            "y": y,
            "p_model": p_model,
            "p_market": p_market,
            "minutes_to_close": np.tile(np.arange(minutes) * 90.0, n_events * bins),
        }
    )
    positions = pd.Series(position, index=predictions["market_ticker"]).groupby(level=0).first()
    found = summarize.evidence(predictions, positions, Bootstrap(n_resamples=500))
    point = score(predictions)["brier_improvement"]
    assert found["n_events"] == n_events
    assert found["brier_improvement_low"] < point < found["brier_improvement_high"]
    assert found["rps"] < found["market_rps"]  # the sharper, truthful ladder ranks better
    assert found["resolution"] > found["market_resolution"]
    hours = pd.DataFrame(found["by_hours_to_close"])
    assert hours["n_rows"].sum() == len(predictions)
    metrics = summarize.flat_metrics(found)
    assert "by_hours_to_close" not in metrics and "brier_improvement_low" in metrics
