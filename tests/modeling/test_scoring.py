"""Tests for tmaxedge.modeling.scoring: the reliability table and its bins."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from tmaxedge.modeling.scoring import expected_calibration_error, reliability, reliability_bins


@pytest.mark.parametrize("n_bins", [5, 10, 15, 20, 50, 100])
def test_whole_cent_prices_fall_in_the_bin_their_value_says(n_bins):
    cents = np.arange(0, 101)
    table = reliability(np.zeros(len(cents)), cents / 100, n_bins)
    # exact arithmetic: bin k holds k/n <= p < (k+1)/n, and the last bin holds 1
    expected = [min(int(Fraction(int(c), 100) * n_bins), n_bins - 1) for c in cents]
    assert table["n"].tolist() == np.bincount(expected, minlength=n_bins).tolist()


def test_reliability_means_and_empty_bins():
    p = np.array([0.05, 0.15, 0.12, 0.95])
    y = np.array([0, 1, 0, 1])
    table = reliability(y, p, n_bins=10)
    assert table["n"].tolist() == [1, 2, 0, 0, 0, 0, 0, 0, 0, 1]
    assert table.loc[1, "p_mean"] == pytest.approx(0.135)
    assert table.loc[1, "y_rate"] == 0.5
    assert np.isnan(table.loc[2, "p_mean"])
    assert table["lower"].tolist()[:3] == [0.0, 0.1, 0.2]
    # ECE: |0.05 - 0| * 1 + |0.135 - 0.5| * 2 + |0.95 - 1| * 1, over 4 rows
    assert expected_calibration_error(table) == pytest.approx((0.05 + 0.73 + 0.05) / 4)


def test_reliability_bins_are_the_tables_rows_with_null_for_an_empty_bin():
    table = reliability(np.array([0, 1, 0, 1]), np.array([0.05, 0.15, 0.12, 0.95]), n_bins=10)
    bins = reliability_bins(table)
    assert len(bins) == 10
    assert bins[1] == {
        "lower": 0.1,
        "upper": 0.2,
        "count": 2,
        "mean_predicted": pytest.approx(0.135),
        "observed_frequency": 0.5,
    }
    assert bins[2]["count"] == 0
    assert bins[2]["mean_predicted"] is None and bins[2]["observed_frequency"] is None
    assert [b["count"] for b in bins] == table["n"].tolist()
