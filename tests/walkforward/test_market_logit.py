"""The extra feature ``market_logit``: the model sees the price it is scored against, the mid or,
on trade-only data, the last trade, where ``mid_logit`` has nothing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tmaxedge.features.build import FEATURE_SETS
from tmaxedge.features.feature_groups import feature_group
from tmaxedge.modeling.tuning import EXTRA_FEATURES
from tmaxedge.walkforward.groups import design_matrix, model_columns


def trade_only_rows() -> pd.DataFrame:
    """Rows of a market without a book: no mid, a last trade at 20, 50 and 100 cents."""
    rows = pd.DataFrame({"p_market": [0.2, 0.5, 1.0], "city": "chi", "strike_type": "between"})
    for column in [*FEATURE_SETS["baseline"], "mid_logit"]:  # book and weather: none
        rows[column] = np.nan
    rows["minutes_to_close"] = [300.0, 200.0, 100.0]
    return rows


def test_market_logit_is_the_log_odds_of_the_scored_price_where_mid_logit_is_null():
    rows = trade_only_rows()
    columns = model_columns(rows, "baseline", ["mid_logit", "market_logit"])
    assert "market_logit" in columns and "mid_logit" not in columns  # no mid: nothing there
    x = design_matrix(rows, ["minutes_to_close", "market_logit"])
    expected = np.log([0.2 / 0.8, 1.0, 99.5 / 0.5])  # 100 cents clipped to 99.5, as mid_logit
    np.testing.assert_allclose(x[:, 1], expected)
    assert "market_logit" not in rows.columns  # computed for the model, not stored


def test_market_logit_is_an_extra_feature_of_the_market_group():
    assert "market_logit" in EXTRA_FEATURES
    assert feature_group("market_logit") == "market"


@pytest.mark.parametrize("extra", [[], ["mid_logit"]])
def test_without_asking_no_model_gets_market_logit(extra):
    assert "market_logit" not in model_columns(trade_only_rows(), "baseline", extra)
