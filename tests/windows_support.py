"""Model entries, compute settings and helpers shared by the tests of one walk-forward window.

Tests import these from here (and the ``world`` and ``three_cities`` fixtures from
conftest.py), never from another test module: a test file is then read, run and moved alone.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tmaxedge.core import io
from tmaxedge.modeling.coherence import CoherenceParams
from tmaxedge.modeling.tuning import ModelParams
from tmaxedge.walkforward import steps as walkforward
from tmaxedge.walkforward import windows

WINDOW_PARAMS = windows.WindowParams(10, 3, 3, 0.2, 0, 10)
RIDGE = ModelParams("ridge_safe", n_trials=4, l1_ratio=0.0, n_splits=2)
TMAX_DIST = ModelParams(
    "distribution", n_trials=4, l1_ratio=0.0, n_splits=2, class_weights=["none"]
)
SEQUENTIAL = walkforward.ComputeParams(n_jobs=1, backend="sequential")


def window_rows(folder, key="2024-05-11"):
    """The window ``key`` and its feature rows split into fit, calibrate and test."""
    window = windows.make_window(key, WINDOW_PARAMS)
    rows = io.read_features(folder, window.train_start, window.test_end)
    split = windows.split_of(rows["event_date"], window)
    return window, {name: rows[split.eq(name).to_numpy()].reset_index(drop=True)
                    for name in ["fit", "calibrate", "test"]}  # fmt: skip


def assert_whole_events(test: pd.DataFrame, cards: dict) -> None:
    """Without the coherence step, every event-minute's six probabilities sum to 1."""
    evaluated = walkforward.evaluate_window(
        walkforward.groups_of(test), cards, None, "tmax_dist", "w", CoherenceParams("none")
    )
    predictions = pd.concat([p for p, _ in evaluated.values()], ignore_index=True)
    sums = predictions.groupby(["event_ticker", "timestamp"])["p_model"].sum()
    np.testing.assert_allclose(sums, 1.0, atol=1e-5)
