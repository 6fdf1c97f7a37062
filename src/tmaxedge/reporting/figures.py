"""The figures' common style, and the reliability diagram: the report's over all test windows
(one column per model entry) and the summarize stage's, one per model entry and test window.

Pure: frames in, matplotlib ``Figure`` objects or PNG bytes out. Same inputs, same bytes: figures
of fixed size and dpi, PNGs without metadata. Kept apart from ``report`` so the summarize stage
draws its per-window diagrams without depending on the report's code (or the gate's, which the
report imports): an edit to the report then reruns neither summarize nor what follows it.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

import matplotlib
import matplotlib.ticker
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from tmaxedge.modeling.scoring import N_RELIABILITY_BINS, expected_calibration_error, reliability

MARKET = "market"
DPI = 100
RC_PARAMS = {
    "svg.hashsalt": "tmaxedge",  # fixed ids if a figure is ever saved as SVG
    "font.family": "DejaVu Sans",  # ships with matplotlib: same glyphs on every machine
    "font.size": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "legend.frameon": False,
}
PNG_METADATA = {"Software": None}  # no matplotlib version in the bytes
MARKET_COLOR = "0.35"
MODEL_COLORS = ("#1f77b4", "#d62728", "#9467bd", "#ff7f0e", "#8c564b", "#17becf")
CURVE_COLUMNS = ["source", "bin", "lower", "upper", "p_mean", "y_rate", "n"]


def model_colors(models: list[str]) -> dict[str, str]:
    """Each model's colour, by its place in ``models``: the same entry, the same colour in
    every figure drawn from the same list."""
    return {m: MODEL_COLORS[i % len(MODEL_COLORS)] for i, m in enumerate(models)}


def figure_png(fig: Figure) -> bytes:
    """PNG bytes of ``fig`` at the fixed dpi, without metadata: same figure, same bytes."""
    buffer = io.BytesIO()
    with matplotlib.rc_context(RC_PARAMS):
        fig.savefig(buffer, format="png", dpi=DPI, metadata=PNG_METADATA)
    return buffer.getvalue()


def reliability_curves(
    diagnostics: pd.DataFrame,
    n_bins: int = N_RELIABILITY_BINS,
    keys: Sequence[str] = ("model",),
) -> pd.DataFrame:
    """Per value of ``keys`` (a model entry; or an entry and a test window), the equal-width
    reliability of the model's forecasts (rows it predicted) and of the market's (rows where it
    predicted and the market had a price).

    Columns ``keys``, then source ("model" or "market"), bin, lower, upper, p_mean, y_rate, n.
    """
    keys = list(keys)
    frames = []
    for key, part in diagnostics.groupby(keys, sort=True):
        y = part["y"].to_numpy(float)
        p_model = part["p_model"].to_numpy(float, na_value=np.nan)
        p_market = part["p_market"].to_numpy(float, na_value=np.nan)
        predicted = np.isfinite(p_model)
        both = predicted & np.isfinite(p_market)
        for source, p, rows in (("model", p_model, predicted), (MARKET, p_market, both)):
            table = reliability(y[rows], p[rows], n_bins)
            labels = dict(zip(keys, key, strict=True))
            frames.append(table.assign(**labels, source=source, bin=np.arange(n_bins)))
    if not frames:
        return pd.DataFrame(columns=keys + CURVE_COLUMNS)
    return pd.concat(frames, ignore_index=True)[keys + CURVE_COLUMNS]


def _draw_reliability(
    ax, counts, curves: pd.DataFrame, name: str, color: str, ece: dict[str, float]
) -> None:
    """One model's reliability panel (``ax``: the diagonal, model and market) and, below it
    (``counts``), the forecasts per bin; ``ece`` holds the model's and the market's ECE under
    "model" and "market"."""
    ax.plot([0, 1], [0, 1], color="0.6", linestyle=":", linewidth=1, label="perfect")
    for source, line_color, marker in ((MARKET, MARKET_COLOR, "s"), ("model", color, "o")):
        part = curves[curves["source"] == source]
        used = part[part["n"] > 0]
        label = f"{name if source == 'model' else MARKET} (ECE {_ece_text(ece.get(source))})"
        ax.plot(
            used["p_mean"],
            used["y_rate"],
            marker=marker,
            markersize=4,
            color=line_color,
            linewidth=1.5,
            label=label,
        )
        width = (part["upper"] - part["lower"]).to_numpy() * 0.45
        middle = (part["lower"] + part["upper"]).to_numpy() / 2
        counts.bar(
            middle + (-width / 2 if source == MARKET else width / 2),
            part["n"],
            width=width,
            color=line_color,
            alpha=0.8,
        )
    ax.set(xlim=(0, 1), ylim=(0, 1), ylabel="observed YES rate")
    ax.legend(loc="upper left")
    ax.tick_params(labelbottom=False)
    n_bins = len(curves[curves["source"] == "model"])
    counts.set(xlabel=f"forecast probability ({n_bins} equal-width bins)", ylabel="rows")
    if (curves["n"] > 0).any():
        counts.set_yscale("log")
        _count_ticks(counts, curves["n"])
    else:  # an entry without a forecast in a window (a group it could not fit): no log axis
        ax.text(0.5, 0.5, "no forecasts", ha="center", va="center", color="0.4")


def _ece_text(value: float | None) -> str:
    return "—" if value is None or not math.isfinite(value) else f"{value:.4f}"


def plot_reliability(curves: pd.DataFrame, ece: dict[str, float]) -> Figure:
    """One column per model: observed YES rate against mean forecast per bin, model and market
    on the same rows, the diagonal, and below the number of forecasts per bin (log scale).
    ``ece``: each model's ECE under its name, the market's on its rows under
    ``<model>:market``."""
    models = sorted(curves["model"].unique())
    colors = model_colors(models)
    with matplotlib.rc_context(RC_PARAMS):
        fig = Figure(figsize=(4.6 * max(len(models), 1) + 0.4, 6.0), dpi=DPI, layout="constrained")
        grid = fig.add_gridspec(2, max(len(models), 1), height_ratios=(3, 1))
        for i, model in enumerate(models):
            ax = fig.add_subplot(grid[0, i])
            counts = fig.add_subplot(grid[1, i], sharex=ax)
            scores = {"model": ece.get(model, math.nan), MARKET: ece.get(f"{model}:market")}
            part = curves[curves["model"] == model]
            _draw_reliability(ax, counts, part, model, colors[model], scores)
            ax.set_title(model)
    return fig


def plot_window_reliability(curves: pd.DataFrame, model: str, window: str, color: str) -> Figure:
    """Model entry ``model``'s reliability in the test window ``window`` (``curves``: its rows
    of ``reliability_curves`` by model and window), the market's on the same rows, and each
    one's ECE. Fixed margins instead of a layout engine: a third of the time to draw, and
    the default draws one per entry and window."""
    ece = {
        source: expected_calibration_error(curves[curves["source"] == source])
        for source in ("model", MARKET)
    }
    with matplotlib.rc_context(RC_PARAMS):
        fig = Figure(figsize=(5.0, 5.6), dpi=DPI)
        grid = fig.add_gridspec(
            2, 1, height_ratios=(3, 1), left=0.15, right=0.96, top=0.93, bottom=0.1, hspace=0.08
        )
        ax = fig.add_subplot(grid[0])
        counts = fig.add_subplot(grid[1], sharex=ax)
        _draw_reliability(ax, counts, curves, model, color, ece)
        ax.set_title(f"{model}, test week from {window}", fontsize=10)
    return fig


def window_reliability_figures(predictions: pd.DataFrame) -> dict[tuple[str, str], bytes]:
    """One reliability diagram (PNG bytes) per model entry and test window of ``predictions``
    (the edge-diagnostics rows: model, window, y, p_model, p_market), keyed (entry, window);
    each entry keeps its colour of the report's figures."""
    curves = reliability_curves(predictions, keys=("model", "window"))
    colors = model_colors(sorted(curves["model"].unique()))
    figures = {}
    for (model, window), part in curves.groupby(["model", "window"], sort=True):
        figure = plot_window_reliability(part, model, window, colors[model])
        figures[model, window] = figure_png(figure)
    return figures


def _count_ticks(ax, counts: pd.Series) -> None:
    """Log-scale count axis labelled 20, 1k, 10k ...: decades only when the counts span one."""
    positive = counts[counts > 0]
    span = positive.max() / positive.min() if len(positive) else 1.0
    subs = (1.0,) if span >= 10 else (1.0, 2.0, 5.0)
    ax.yaxis.set_major_locator(matplotlib.ticker.LogLocator(base=10, subs=subs))
    ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(_compact))
    # no minor ticks: unlabelled, and making them was most of a diagram's drawing time
    ax.yaxis.set_minor_locator(matplotlib.ticker.NullLocator())


def _compact(value: float, _position=None) -> str:
    for size, suffix in ((1e6, "M"), (1e3, "k")):
        if value >= size:
            return f"{value / size:g}{suffix}"
    return f"{value:g}"
