"""A group's calibration.json (``evaluate.group_report``): today's ``scores`` and
``reliability``, and the brief's flat keys computed from the same rows."""

import json

import numpy as np
import pandas as pd
import pytest

from tmaxedge.core.probability import brier, log_loss
from tmaxedge.walkforward.evaluate import group_report


def predictions() -> pd.DataFrame:
    """Six rows: four the model and the market price, one only the model, one neither."""
    return pd.DataFrame(
        {
            "y": [0, 1, 0, 1, 1, 0],
            "p_model": [0.05, 0.15, 0.12, 0.95, 0.6, np.nan],
            "p_market": [0.1, 0.2, 0.1, 0.9, np.nan, 0.5],
            "p_oracle": np.nan,
        }
    )


def test_calibration_json_holds_the_briefs_keys_beside_todays():
    frame = predictions()
    report = group_report(frame)
    assert {"scores", "reliability"} <= set(report)  # today's keys stay
    assert report["n_bins"] == 15 and len(report["bins"]) == 15
    assert report["n_predicted"] == 5
    assert sum(b["count"] for b in report["bins"]) == 5  # the rows the model predicted
    assert [b["count"] for b in report["bins"]] == report["reliability"]["n"]
    assert report["bins"][0]["lower"] == 0.0 and report["bins"][-1]["upper"] == 1.0
    # ECE by hand: bins [0, 1/15) {0.05}, [1/15, 2/15) {0.12}, [2/15, 3/15) {0.15},
    # [9/15, 10/15) {0.6}, [14/15, 1] {0.95}: one row each, weighted 1/5
    gaps = [0.05 - 0, 0.12 - 0, 1 - 0.15, 1 - 0.6, 1 - 0.95]
    assert report["ece"] == pytest.approx(sum(gaps) / 5)
    assert report["ece"] == report["scores"]["ece"]
    predicted = frame["p_model"].notna()
    y, p = frame.loc[predicted, "y"].to_numpy(float), frame.loc[predicted, "p_model"].to_numpy()
    assert report["brier"] == pytest.approx(brier(y, p))
    assert report["log_loss"] == pytest.approx(log_loss(y, p))
    # the market's on the four rows both price: bins {0.1, 0.1} (no YES: gap 0.1, two rows),
    # {0.2} (a YES: gap 0.8), {0.9} (a YES: gap 0.1)
    assert report["market_ece"] == pytest.approx((2 * 0.1 + 0.8 + 0.1) / 4)
    brief_keys = {k: v for k, v in report.items() if k not in ("scores", "reliability")}
    json.dumps(brief_keys, allow_nan=False)  # no NaN, which JSON lacks (today's keys have it)


def test_a_group_without_predictions_has_null_scores_and_empty_bins():
    frame = predictions().assign(p_model=np.nan)
    report = group_report(frame)
    assert report["ece"] is None and report["brier"] is None and report["log_loss"] is None
    assert report["market_ece"] is None and report["n_predicted"] == 0
    assert all(b["count"] == 0 and b["mean_predicted"] is None for b in report["bins"])
