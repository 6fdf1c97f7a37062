"""dvc.yaml's `plots:` draw every model the pipeline runs (params.yaml `models`)."""

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
MODELS = yaml.safe_load((ROOT / "params.yaml").read_text())["models"]
PLOTS = yaml.safe_load((ROOT / "dvc.yaml").read_text())["plots"]


def y_columns(plot: dict) -> list[str]:
    """The plotted columns of one `plots:` entry, over all its files."""
    (definition,) = plot.values()
    return [column for columns in definition["y"].values() for column in columns]


@pytest.mark.parametrize("plot", PLOTS, ids=[title for plot in PLOTS for title in plot])
def test_every_model_is_drawn_in_every_plot(plot):
    missing = [model for model in MODELS if model not in y_columns(plot)]
    assert missing == [], "add them to the plot's y columns in dvc.yaml"
