"""Model entries, compute settings and helpers shared by the tests of one walk-forward window.

Tests import these from here (and the ``world`` and ``three_cities`` fixtures from
conftest.py), never from another test module: a test file is then read, run and moved alone.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tmaxedge.modeling.coherence import CoherenceParams
from tmaxedge.modeling.tuning import ModelParams
from tmaxedge.walkforward import windows
from tmaxedge.walkforward.compute import ComputeParams
from tmaxedge.walkforward.evaluate import evaluate_window
from tmaxedge.walkforward.groups import groups_of

WINDOW_PARAMS = windows.WindowParams(10, 3, 3, 0.2, 0, 10)
RIDGE = ModelParams("ridge_safe_climate", n_trials=4, l1_ratio=0.0, n_splits=2)
TMAX_DIST = ModelParams(
    "distribution", n_trials=4, l1_ratio=0.0, n_splits=2, class_weights=["none"]
)
SEQUENTIAL = ComputeParams(n_jobs=1, backend="sequential")


def window_rows(folder, key="2024-05-11"):
    """The window ``key`` and its feature rows split into fit, calibrate and test."""
    window = windows.make_window(key, WINDOW_PARAMS)
    return window, windows.read_window_rows(folder, window)


def assert_whole_events(test: pd.DataFrame, cards: dict) -> None:
    """Without the coherence step, every event-minute's six probabilities sum to 1."""
    evaluated = evaluate_window(
        groups_of(test), cards, None, "tmax_dist", "w", CoherenceParams("none")
    )
    predictions = pd.concat([p for p, _ in evaluated.values()], ignore_index=True)
    sums = predictions.groupby(["event_ticker", "timestamp"])["p_model"].sum()
    np.testing.assert_allclose(sums, 1.0, atol=1e-5)
