"""Walk-forward scores against the market, on predictions whose numbers are worked out by hand.

Two events in two windows, two rows each (plus one row without a model prediction):

    event  window  y  p_model  p_market  (p_model-y)^2 - (p_market-y)^2
    e1     w1      1  0.8      0.6       0.04 - 0.16 = -0.12
    e1     w1      0  0.1      0.3       0.01 - 0.09 = -0.08
    e2     w2      0  0.5      0.4       0.25 - 0.16 =  0.09
    e2     w2      0  0.2      0.2       0.04 - 0.04 =  0
    e2     w2      1  -        0.7       (no model: left out)

Pooled: model Brier 0.085, market 0.1125, difference -0.0275; per-event residual sums -0.145
and +0.145, so the event-clustered SE is sqrt(2 * 2 * 0.145^2) / 4 = 0.0725.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from tmaxedge.cli.main import main
from tmaxedge.research import edge_study


def predictions(with_unpooled: bool = True) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "model": "ridge",
            "window": ["w1", "w1", "w2", "w2", "w2"],
            "bracket": ["between", "less", "between", "less", "greater"],
            "event_ticker": ["e1", "e1", "e2", "e2", "e2"],
            "market_ticker": ["e1-a", "e1-b", "e2-a", "e2-b", "e2-c"],
            "y": [1, 0, 0, 0, 1],
            "p_model": [0.8, 0.1, 0.5, 0.2, np.nan],
            "p_market": [0.6, 0.3, 0.4, 0.2, 0.7],
        }
    )
    if with_unpooled:
        frame["p_unpooled"] = [0.9, 0.1, 0.5, 0.2, np.nan]
    return frame


def test_pooled_scores_and_clustered_se_by_hand():
    table = edge_study.score_table(predictions(), ["model", "window"])
    pooled = table[(table["window"] == "all") & (table["forecast"] == "model")].iloc[0]
    assert pooled["brier"] == pytest.approx(0.085)
    assert pooled["market_brier"] == pytest.approx(0.1125)
    assert pooled["brier_diff"] == pytest.approx(pooled["brier"] - pooled["market_brier"])
    assert pooled["brier_diff_se"] == pytest.approx(0.0725)
    assert pooled[["n_events", "n_markets", "n_rows"]].tolist() == [2, 4, 4]
    assert pooled["coverage"] == pytest.approx(0.8)


def test_one_row_per_window_and_forecast_then_all():
    table = edge_study.score_table(predictions(), ["model", "window"])
    assert table[["window", "forecast"]].values.tolist() == [
        ["w1", "model"],
        ["w1", "model before pooling"],
        ["w2", "model"],
        ["w2", "model before pooling"],
        ["all", "model"],
        ["all", "model before pooling"],
    ]
    w1 = table[(table["window"] == "w1") & (table["forecast"] == "model")].iloc[0]
    assert w1["brier_diff"] == pytest.approx(-0.1)
    assert np.isnan(w1["brier_diff_se"])  # one event: no standard error
    unpooled = table[(table["window"] == "w1") & (table["forecast"] == "model before pooling")]
    assert unpooled["brier"].iloc[0] == pytest.approx((0.01 + 0.01) / 2)


def test_without_the_unpooled_column_only_the_model_is_scored():
    table = edge_study.score_table(predictions(with_unpooled=False), ["model", "bracket"])
    assert set(table["forecast"]) == {"model"}
    greater = table[table["bracket"] == "greater"].iloc[0]
    assert greater["n_rows"] == 0 and np.isnan(greater["brier"])


def write_run(root, frame: pd.DataFrame) -> None:
    for (model, window), part in frame.groupby(["model", "window"]):
        folder = root / window / "evaluate" / model
        folder.mkdir(parents=True)
        part.to_parquet(folder / "nyc_between.preds_test.parquet")
        (folder / "scores.json").write_text("{}")  # the entry's, not a group's: not read


def test_command_reads_a_walkforward_folder(tmp_path):
    write_run(tmp_path / "runs", predictions())
    result = CliRunner().invoke(
        main,
        ["study", "walkforward-scores", str(tmp_path / "runs"), "--out", str(tmp_path / "out")],
    )
    assert result.exit_code == 0, result.output
    windows = pd.read_csv(tmp_path / "out" / "walkforward_windows.csv")
    assert windows["brier_diff_se"].iloc[-2] == pytest.approx(0.0725)
    assert (tmp_path / "out" / "walkforward_scores.md").read_text().startswith("## Walk-forward")
    assert "model before pooling" in result.output


def test_command_names_the_missing_column_and_the_empty_folder(tmp_path):
    write_run(tmp_path / "runs", predictions().drop(columns="event_ticker"))
    result = CliRunner().invoke(
        main,
        ["study", "walkforward-scores", str(tmp_path / "runs"), "--out", str(tmp_path / "out")],
    )
    assert result.exit_code == 2
    assert "nyc_between.preds_test.parquet: column 'event_ticker' is missing" in result.output
    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(
        main,
        ["study", "walkforward-scores", str(tmp_path / "empty"), "--out", str(tmp_path / "out")],
    )
    assert result.exit_code == 2
    assert "no <window>/evaluate/<model>/<group>.preds_test.parquet" in result.output
