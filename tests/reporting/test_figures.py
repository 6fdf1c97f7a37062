"""The reliability diagram per model entry and test window: one per pair, its curves those of
the pair's own rows, the same bytes every time."""

import io as bytes_io

import numpy as np
import pandas as pd
from PIL import Image

from tmaxedge.modeling.scoring import reliability
from tmaxedge.reporting.figures import reliability_curves, window_reliability_figures


def diagnostics() -> pd.DataFrame:
    """Two entries over three windows; ridge forecasts nothing in the last one."""
    rng = np.random.default_rng(11)
    frames = []
    for entry in ("elasticnet", "ridge"):
        for window in ("2024-06-30", "2024-07-07", "2024-07-14"):
            n = 60
            p_model = rng.uniform(0, 1, n)
            if (entry, window) == ("ridge", "2024-07-14"):
                p_model[:] = np.nan
            frames.append(
                pd.DataFrame(
                    {
                        "model": entry,
                        "window": window,
                        "y": rng.integers(0, 2, n),
                        "p_model": p_model,
                        "p_market": rng.uniform(0, 1, n),
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)


def test_one_diagram_per_entry_and_window_even_one_without_forecasts():
    figures = window_reliability_figures(diagnostics())
    assert set(figures) == {
        (entry, window)
        for entry in ("elasticnet", "ridge")
        for window in ("2024-06-30", "2024-07-07", "2024-07-14")
    }
    for png in figures.values():
        assert Image.open(bytes_io.BytesIO(png)).size == (500, 560)


def test_the_diagrams_are_the_same_bytes_every_time():
    assert window_reliability_figures(diagnostics()) == window_reliability_figures(diagnostics())


def test_a_windows_curves_are_its_own_rows_reliability():
    frame = diagnostics()
    curves = reliability_curves(frame, keys=("model", "window"))
    rows = frame[(frame["model"] == "elasticnet") & (frame["window"] == "2024-07-07")]
    part = curves[(curves["model"] == "elasticnet") & (curves["window"] == "2024-07-07")]
    model = part[part["source"] == "model"].reset_index(drop=True)
    expected = reliability(rows["y"].to_numpy(float), rows["p_model"].to_numpy(float))
    pd.testing.assert_frame_equal(model[expected.columns.tolist()], expected)
    assert part.loc[part["source"] == "market", "n"].sum() == len(rows)
    assert sorted(curves["window"].unique()) == ["2024-06-30", "2024-07-07", "2024-07-14"]
