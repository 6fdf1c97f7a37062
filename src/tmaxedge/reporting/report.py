"""The walk-forward report: comparison tables, figures, `dvc plots` data, Markdown and HTML.

Pure: every function takes frames and mappings already read (``stages/report.py`` does the I/O)
and returns frames, matplotlib ``Figure`` objects, PNG bytes or strings. Output is deterministic:
rows and columns in a fixed order, figures of fixed size and dpi, PNGs without metadata, no
wall-clock times, so the same inputs give the same bytes. The figure style and the reliability
diagram live in ``figures``, which the summarize stage draws its per-window diagrams with.

Conventions. Scores of a model come from its walk-forward summary (``metrics/walkforward.json``,
``walkforward_summary/<model>/<city>_<strike>.json``), head to head with the market on the rows
where both have a probability (the ``*_common`` keys). The ``market`` and ``oracle`` rows are
computed from the edge diagnostics on the decision rows where every model and the market have a
probability (and, for the oracle, the oracle too); with equal coverage across models these are
the rows of every model's ``market_brier``. ``Brier improvement`` is
``1 - Brier / market Brier``: positive = better than the market. ``gap closed`` is the share of
the market-to-oracle Brier gap a model closes (synthetic data only: 0 = the market, 1 = the
oracle, negative = worse than the market).
"""

from __future__ import annotations

import base64
import html
import math
import re
from dataclasses import dataclass, field
from typing import ClassVar

import matplotlib
import matplotlib.dates
import matplotlib.ticker
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from tmaxedge.core.probability import brier, log_loss
from tmaxedge.decision.gates import recorded_checks
from tmaxedge.modeling import skill
from tmaxedge.modeling.scoring import N_RELIABILITY_BINS, expected_calibration_error, reliability
from tmaxedge.modeling.skill import Bootstrap
from tmaxedge.reporting.figures import (
    DPI,
    MARKET,
    MARKET_COLOR,
    RC_PARAMS,
    figure_png,
    model_colors,
    plot_reliability,
    reliability_curves,
)

AS_BRIEFED = "(as briefed)"  # the comparison table's rows of the brief's preset run
ORACLE = "oracle"
STRIKE_ORDER = ("less", "between", "greater")
DIAGNOSTIC_COLUMNS = [
    "model",
    "window",
    "event_ticker",
    "minutes_to_close",
    "city",
    "bracket",
    "timestamp",
    "market_ticker",
    "p_model",
    "p_market",
    "p_oracle",
    "y",
]
SCORE_COLUMNS = [
    "log_loss",
    "brier",
    "market_brier",
    "brier_improvement",
    "ece",
    "coverage",
    "gap_closed",
]
INTERVAL_COLUMNS = ["brier_improvement_low", "brier_improvement_high"]  # shown with the point
TRADING_COLUMNS = ["net_pnl", "daily_sharpe", "n_fills", "n_orders"]
COMPARISON_COLUMNS = SCORE_COLUMNS + INTERVAL_COLUMNS + TRADING_COLUMNS
GROUP_COLUMNS = ["city", "strike", "model"] + SCORE_COLUMNS + ["net_pnl", "n_fills", "n_rows"]


@dataclass(frozen=True)
class ReportInputs:
    """Everything the report reads, already parsed.

    ``walkforward``: ``metrics/walkforward.json`` ({model: flat scores}); ``group_summaries``:
    {model: {(city, strike): summary}}; ``per_window``: {model: frame of window, brier,
    market_brier, n_rows}; ``diagnostics``: the edge-diagnostics rows (``DIAGNOSTIC_COLUMNS``;
    ``p_oracle`` all NaN on real data); ``backtest``: ``metrics/backtest.json`` ({model or
    "market": trading metrics}); ``daily_pnl``: model, date, pnl_dollars, bankroll; ``trades``:
    the backtest's orders (model, city, bracket, filled, pnl_cents) or None; ``gate``,
    ``promoted``, ``sensitivity``: the gate's verdicts, the promotion decision and a sensitivity
    run's ``walkforward.json``, each None when absent; ``pool_weights``: the pooling weight per
    (model, window, group) (``tmaxedge.reporting.summarize.pool_weight_table``) or None;
    ``ablations``: each ``tmaxedge ablation`` result by model entry, or None; ``as_briefed``: the
    brief's preset run recorded by ``tmaxedge preset brief --record`` (its ``walkforward``,
    ``backtest`` and ``run`` files, by name), or None; ``bootstrap``: how the report draws the
    paired interval between the two best entries.
    """

    walkforward: dict[str, dict]
    group_summaries: dict[str, dict[tuple[str, str], dict]]
    per_window: dict[str, pd.DataFrame]
    diagnostics: pd.DataFrame
    backtest: dict[str, dict]
    daily_pnl: pd.DataFrame
    trades: pd.DataFrame | None = None
    gate: dict | None = None
    promoted: dict | None = None
    sensitivity: dict | None = None
    sensitivity_label: str = "windows.train_days=120"
    sensitivity_run: dict | None = None  # its run.json, when recorded by `tmaxedge preset`
    pool_weights: pd.DataFrame | None = None
    ablations: dict[str, dict] | None = None  # model entry -> its ablation/<entry>.json
    as_briefed: dict[str, dict] | None = None
    bootstrap: Bootstrap = Bootstrap()  # params.yaml summarize: how intervals are drawn

    @property
    def models(self) -> list[str]:
        return sorted(self.walkforward)


@dataclass(frozen=True)
class Report:
    """``blocks``: the document (``Heading``, ``Paragraph``, ``Table`` ...), rendered by
    ``render_markdown`` and ``render_html``; ``figures``: {name: PNG bytes}; ``plots``:
    {file name: `dvc plots` table}."""

    blocks: list[Block]
    figures: dict[str, bytes] = field(default_factory=dict)
    plots: dict[str, pd.DataFrame] = field(default_factory=dict)


# --- tables -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decisions:
    """One row per (market, decision time): ``base`` holds y, p_market, p_oracle, window, city
    and bracket, ``wide`` each model's ``p_model`` (NaN where a model has no prediction); both
    sorted by market ticker and timestamp, sharing a 0..n-1 index."""

    base: pd.DataFrame
    wide: pd.DataFrame

    @property
    def common(self) -> np.ndarray:
        """Rows where every model and the market have a probability."""
        return (self.wide.notna().all(axis=1) & self.base["p_market"].notna()).to_numpy()


def decision_rows(diagnostics: pd.DataFrame, models: list[str]) -> Decisions:
    """The decision rows of ``diagnostics`` (one row per model and decision) side by side."""
    keys = ["market_ticker", "timestamp"]
    frame = diagnostics.copy()
    if "p_oracle" not in frame:
        frame["p_oracle"] = np.nan
    frame = frame.sort_values(keys + ["model"], kind="mergesort", ignore_index=True)
    base = frame.drop_duplicates(keys, ignore_index=True)[
        keys + ["window", "city", "bracket", "y", "p_market", "p_oracle"]
    ]
    wide = frame.pivot(index=keys, columns="model", values="p_model")
    wide = wide.reindex(index=pd.MultiIndex.from_frame(base[keys]), columns=models)
    return Decisions(base.reset_index(drop=True), wide.reset_index(drop=True))


def reference_scores(decisions: Decisions) -> dict[str, dict]:
    """Scores of the market (and, when the data has one, the oracle) on the common rows.

    Returns {"market": {...}} or {"market": {...}, "oracle": {...}} with the ``SCORE_COLUMNS``
    keys; the oracle's improvement and gap are taken against the market on the oracle's rows.
    """
    base, common = decisions.base, decisions.common
    y = base["y"].to_numpy(float)
    market = base["p_market"].to_numpy(float, na_value=np.nan)
    oracle = base["p_oracle"].to_numpy(float, na_value=np.nan)
    result = {MARKET: _scores(y[common], market[common])}
    result[MARKET].update(
        market_brier=result[MARKET]["brier"],
        brier_improvement=0.0,
        coverage=float(np.isfinite(market).mean()) if len(market) else math.nan,
    )
    with_oracle = common & np.isfinite(oracle)
    if with_oracle.any():
        scores = _scores(y[with_oracle], oracle[with_oracle])
        market_brier = brier(y[with_oracle], market[with_oracle])
        scores.update(
            market_brier=market_brier,
            brier_improvement=1 - scores["brier"] / market_brier,
            coverage=float(np.isfinite(oracle).mean()),
            gap_closed=1.0,
        )
        result[MARKET]["gap_closed"] = 0.0
        result[ORACLE] = scores
    return result


def _scores(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    if not len(y):
        return {"log_loss": math.nan, "brier": math.nan, "ece": math.nan}
    table = reliability(y, p)
    return {
        "log_loss": log_loss(y, p),
        "brier": brier(y, p),
        "ece": expected_calibration_error(table),
    }


def comparison_table(inputs: ReportInputs, decisions: Decisions) -> pd.DataFrame:
    """Overall comparison: one row per model, then ``market`` and (synthetic data) ``oracle``.

    Columns ``COMPARISON_COLUMNS`` (NaN where a value does not apply), indexed by name.
    """
    rows = {}
    for model in inputs.models:
        rows[model] = {
            **_model_scores(inputs.walkforward[model]),
            **_trading(inputs.backtest.get(model)),
        }
    briefed = inputs.as_briefed or {}
    for model, metrics in sorted(briefed.get("walkforward", {}).items()):
        rows[f"{model} {AS_BRIEFED}"] = {
            **_model_scores(metrics),
            **_trading(briefed.get("backtest", {}).get(model)),
        }
    references = reference_scores(decisions)
    rows[MARKET] = {**references[MARKET], **_trading(inputs.backtest.get(MARKET))}
    if ORACLE in references:
        rows[ORACLE] = dict(references[ORACLE])
    table = pd.DataFrame.from_dict(rows, orient="index").reindex(columns=COMPARISON_COLUMNS)
    table.index.name = "name"
    return table.astype(float)


def run_label(run: dict) -> str:
    """What a recorded run changed, as its keys: ``windows.train_days=120`` (not the gate's
    enforcement, which only keeps the run whatever its verdict)."""
    keys = {k: v for k, v in run.get("params", {}).items() if k != "gate.enforce"}
    return ", ".join(f"{k}={v}" for k, v in keys.items()) or str(run.get("experiment"))


def recorded_note(run: dict) -> str:
    """When and from which code a recorded run ran, and the command that reruns it."""
    return (
        f"Run on {run.get('date')} from commit {str(run.get('commit'))[:7]}: "
        f"`{run.get('command')}` (recorded by `tmaxedge preset {run.get('experiment')} --record`)."
    )


def as_briefed_note(run: dict) -> str:
    """Where the "as briefed" rows come from: the recorded run's command, commit and date."""
    keys = run.get("params", {})
    cadence = keys.get("features.every_minutes")
    return (
        f"Rows marked {AS_BRIEFED}: the brief's specification as written (docs/brief.md), run "
        f"on {run.get('date')} from commit {str(run.get('commit'))[:7]} by "
        f"`tmaxedge preset brief --record` ({cadence}-minute decisions); the same test weeks, "
        "its own model, no market blend, no coherence."
    )


def _model_scores(summary: dict) -> dict[str, float]:
    """A summary's head-to-head scores (the ``*_common`` keys where present)."""

    def get(key: str, fallback: str | None = None) -> float:
        value = summary.get(key, summary.get(fallback) if fallback else None)
        return math.nan if value is None else float(value)

    return {
        "log_loss": get("log_loss_common", "log_loss"),
        "brier": get("brier_common", "brier"),
        "market_brier": get("market_brier"),
        "brier_improvement": get("brier_improvement"),
        "brier_improvement_low": get("brier_improvement_low"),
        "brier_improvement_high": get("brier_improvement_high"),
        "ece": get("ece"),
        "coverage": get("coverage"),
        "gap_closed": get("gap_closed"),
    }


def _trading(metrics: dict | None) -> dict[str, float]:
    metrics = metrics or {}
    return {
        key: math.nan if metrics.get(key) is None else float(metrics[key])
        for key in TRADING_COLUMNS
    }


def group_table(inputs: ReportInputs) -> pd.DataFrame:
    """One row per (city, strike type, model): the group's scores and, when the trades are
    given, its net P&L and fills. Sorted by city, strike (less, between, greater), model."""
    rows = []
    for model in inputs.models:
        for (city, strike), summary in inputs.group_summaries.get(model, {}).items():
            rows.append(
                {
                    "city": city,
                    "strike": strike,
                    "model": model,
                    **_model_scores(summary),
                    "n_rows": float(summary.get("n_rows", math.nan)),
                }
            )
    table = pd.DataFrame(
        rows, columns=[c for c in GROUP_COLUMNS if c not in ("net_pnl", "n_fills")]
    )
    if inputs.trades is not None and len(table):
        filled = inputs.trades[inputs.trades["filled"].astype(bool)]
        pnl = filled.groupby(["city", "bracket", "model"])["pnl_cents"].agg(["sum", "size"])
        pnl = pnl.rename_axis(["city", "strike", "model"]).reset_index()
        pnl = pnl.assign(net_pnl=pnl["sum"] / 100, n_fills=pnl["size"].astype(float))
        table = table.merge(
            pnl[["city", "strike", "model", "net_pnl", "n_fills"]],
            on=["city", "strike", "model"],
            how="left",
        )
        traded = table["model"].isin(inputs.trades["model"].unique())
        table.loc[traded, ["net_pnl", "n_fills"]] = table.loc[
            traded, ["net_pnl", "n_fills"]
        ].fillna(0.0)
    else:
        table["net_pnl"] = math.nan
        table["n_fills"] = math.nan
    table = table.reindex(columns=GROUP_COLUMNS)
    order = {strike: i for i, strike in enumerate(STRIKE_ORDER)}
    table["_strike"] = table["strike"].map(lambda s: order.get(s, len(order)))
    table = table.sort_values(["city", "_strike", "strike", "model"], kind="mergesort")
    return table.drop(columns="_strike").reset_index(drop=True)


def window_brier_table(inputs: ReportInputs, decisions: Decisions) -> pd.DataFrame:
    """Brier per test window: the market (common rows) and every model (its per-window file).

    Columns window_number (1, 2, ...), window (test-week start), market, then the models.
    """
    rows = decisions.base[decisions.common]
    market = {
        window: brier(part["y"].to_numpy(float), part["p_market"].to_numpy(float))
        for window, part in rows.groupby("window", sort=True)
    }
    windows = sorted(
        set(market) | {w for f in inputs.per_window.values() for w in f["window"].astype(str)}
    )
    table = pd.DataFrame({"window_number": np.arange(1, len(windows) + 1), "window": windows})
    table[MARKET] = table["window"].map(market).astype(float)
    for model in inputs.models:
        frame = inputs.per_window.get(model)
        values = (
            {}
            if frame is None
            else dict(zip(frame["window"].astype(str), frame["brier"], strict=True))
        )
        table[model] = table["window"].map(values).astype(float)
    return table


def cumulative_pnl_table(daily_pnl: pd.DataFrame, models: list[str]) -> pd.DataFrame:
    """Cumulative settled P&L in dollars per UTC day: columns day (1, 2, ...), date, the models,
    then ``market`` (the models and the baseline that ``daily_pnl`` holds, in that order)."""
    if daily_pnl.empty:
        return pd.DataFrame(columns=["day", "date"])
    frame = daily_pnl.assign(date=daily_pnl["date"].astype(str))
    wide = frame.pivot(index="date", columns="model", values="pnl_dollars").sort_index()
    order = [m for m in models if m in wide] + [
        m for m in sorted(wide) if m not in models and m != MARKET
    ]
    order += [MARKET] if MARKET in wide else []
    wide = wide[order].fillna(0.0).cumsum()
    wide.columns.name = None
    table = wide.reset_index()
    table.insert(0, "day", np.arange(1, len(table) + 1))
    return table


def sensitivity_table(
    walkforward: dict, sensitivity: dict, models: list[str], label: str
) -> pd.DataFrame:
    """This run and the sensitivity run, per model: one row each (run = "this run" or
    ``label``) with log loss, Brier and Brier improvement; a model missing from a run gets NaN."""
    rows = []
    for model in sorted(set(models) | set(sensitivity)):
        for run, metrics in (("this run", walkforward), (label, sensitivity)):
            scores = _model_scores(metrics.get(model, {}))
            rows.append(
                {
                    "model": model,
                    "run": run,
                    **{k: scores[k] for k in ("log_loss", "brier", "brier_improvement")},
                }
            )
    return pd.DataFrame(rows)


FORECAST_STEPS = (
    ("unpooled", "model alone"),
    ("incoherent", "pooled with the market"),
    ("", "final: pooled, then coherent"),
)


def step_table(walkforward: dict, models: list[str]) -> pd.DataFrame:
    """Per model, the forecast after each step (model alone, pooled, pooled and coherent) on the
    same rows: Brier, Brier improvement over the market and log loss; steps a run did not
    record are left out."""
    rows = []
    for model in models:
        metrics = walkforward.get(model, {})
        for step, label in FORECAST_STEPS:
            suffix = f"_{step}" if step else ""
            brier_key = f"brier{suffix}" if step else "brier_common"
            if brier_key not in metrics:
                continue
            rows.append(
                {
                    "model": model,
                    "step": label,
                    "brier": metrics[brier_key],
                    "brier_improvement": metrics.get(f"brier_improvement{suffix}", np.nan),
                    "log_loss": metrics.get(
                        f"log_loss{suffix}" if step else "log_loss_common", np.nan
                    ),
                }
            )
    return pd.DataFrame(rows, columns=["model", "step", "brier", "brier_improvement", "log_loss"])


def pool_weight_summary(weights: pd.DataFrame) -> pd.DataFrame:
    """Mean, lowest and highest pooling weight per model and strike type over the windows."""
    fitted = weights.dropna(subset=["w"])
    table = fitted.groupby(["model", "strike"], sort=True)["w"].agg(["mean", "min", "max", "count"])
    return table.reset_index()


def dvc_plot_tables(
    inputs: ReportInputs, decisions: Decisions, curves: pd.DataFrame
) -> dict[str, pd.DataFrame]:
    """The `dvc plots` data: {file name: wide table with one numeric x column}.

    ``reliability.csv``: bin, bin_mid, perfect (= bin_mid), market (common rows), one observed
    YES rate column per model; ``brier_by_window.csv``: see ``window_brier_table``;
    ``cumulative_pnl.csv``: see ``cumulative_pnl_table``.
    """
    n_bins = int(curves["bin"].max()) + 1 if len(curves) else N_RELIABILITY_BINS
    edges = np.linspace(0, 1, n_bins + 1)
    mid = (edges[:-1] + edges[1:]) / 2
    table = pd.DataFrame({"bin": np.arange(n_bins), "bin_mid": mid, "perfect": mid})
    base, common = decisions.base, decisions.common
    table[MARKET] = reliability(
        base["y"].to_numpy(float)[common], base["p_market"].to_numpy(float)[common], n_bins
    )["y_rate"]
    for model in inputs.models:
        part = curves[(curves["model"] == model) & (curves["source"] == "model")]
        table[model] = part.set_index("bin")["y_rate"].reindex(table["bin"]).to_numpy(float)
    return {
        "reliability.csv": table,
        "brier_by_window.csv": window_brier_table(inputs, decisions),
        "cumulative_pnl.csv": cumulative_pnl_table(inputs.daily_pnl, inputs.models),
    }


# --- words ------------------------------------------------------------------------------------


def better_than_market(models: list[str], better: list[str]) -> str:
    """Which of ``models`` forecast better than the market, named from the shorter side."""
    worse = [m for m in models if m not in better]
    if not better:
        return "No model forecasts better than the market's own price"
    if not worse:
        return "Every model forecasts better than the market's own price"
    if len(better) > len(worse):
        return f"Every model but {', '.join(worse)} forecasts better than the market's own price"
    verb = "forecasts" if len(better) == 1 else "forecast"
    return f"Only {', '.join(better)} {verb} better than the market's own price"


def headline(inputs: ReportInputs, comparison: pd.DataFrame) -> list[str]:
    """The opening paragraphs: the promotion decision (or its absence), then what the forecasts
    and the backtest say, in plain words."""
    lines = []
    promoted = inputs.promoted
    if promoted is None:
        lines.append("**No promotion decision yet**: the gate has not run, so nothing is promoted.")
    else:
        reason = re.sub(r"^no edge found:\s*", "", str(promoted.get("reason") or ""))
        if promoted.get("promoted"):
            lines.append(f"**Promoted: {promoted['promoted']}.** {reason}".strip())
        elif promoted.get("candidates"):
            lines.append("**No edge found: no model is promoted.** Why, per model:")
        else:
            lines.append(f"**No edge found: no model is promoted.** {reason}".strip())
    models = [m for m in inputs.models if m in comparison.index]
    better = [m for m in models if comparison.loc[m, "brier_improvement"] > 0]
    parts = [f"{m} {_plain_improvement(comparison.loc[m, 'brier_improvement'])}" for m in models]
    verdict = better_than_market(models, better)
    lines.append(f"{verdict} on the test weeks (Brier: {'; '.join(parts)}).")
    lines += interval_lines(inputs, comparison, models)
    trading = [
        f"{m} {_dollars(comparison.loc[m, 'net_pnl'])} "
        f"(Sharpe {_number(comparison.loc[m, 'daily_sharpe'], 2)})"
        for m in models
        if np.isfinite(comparison.loc[m, "net_pnl"])
    ]
    if trading:
        sentence = f"In the backtest: {'; '.join(trading)}"
        if MARKET in comparison.index and np.isfinite(comparison.loc[MARKET, "net_pnl"]):
            baseline = _dollars(comparison.loc[MARKET, "net_pnl"])
            sentence += f"; trading on the market's own price: {baseline}"
        lines.append(sentence + ".")
    return lines


def interval_lines(inputs: ReportInputs, comparison: pd.DataFrame, models: list[str]) -> list[str]:
    """How sure those improvements are: which intervals hold zero (no edge found for those), and
    whether the best entry ranks above the next or the gap between them is noise."""
    low, high = comparison["brier_improvement_low"], comparison["brier_improvement_high"]
    known = [m for m in models if np.isfinite(low[m]) and np.isfinite(high[m])]
    if not known:
        return []
    level = f"{inputs.bootstrap.level:.0%}"
    unsure = [m for m in known if low[m] <= 0 <= high[m]]
    worse = [m for m in known if high[m] < 0]
    lines = []
    if unsure:
        lines.append(
            f"For {', '.join(unsure)} the {level} interval of the Brier improvement includes "
            "zero: no edge found, whatever the point estimate says."
        )
    if worse:
        lines.append(f"For {', '.join(worse)} it lies below zero: worse than the market.")
    if not unsure and not worse:
        lines.append(
            f"Every {level} interval of those improvements lies above zero (whole test events "
            "resampled, since the minutes of an event share one outcome)."
        )
    ranked = sorted(known, key=lambda m: comparison.loc[m, "brier_improvement"], reverse=True)
    if len(ranked) >= 2:
        lines.append(ranking_line(inputs.diagnostics, ranked[0], ranked[1], inputs.bootstrap))
    return lines


def ranking_line(diagnostics: pd.DataFrame, best: str, second: str, bootstrap: Bootstrap) -> str:
    """The best entry against the next, the same events drawn for both in every resample."""
    sums = [skill.event_score_sums(diagnostics[diagnostics["model"] == m]) for m in (best, second)]
    gap = skill.paired_difference_interval(*sums, "brier", bootstrap)
    stated = (
        f"{best} leads {second} by {gap.point * 100:+.2f} points of Brier improvement "
        f"({bootstrap.level:.0%} interval {gap.low * 100:+.2f} .. {gap.high * 100:+.2f})"
    )
    if gap.low > 0:
        return f"{stated}: it ranks above it."
    return f"{stated}: the interval includes zero, so the two do not rank."


def _plain_improvement(value: float) -> str:
    if not np.isfinite(value):
        return "not scored"
    if value == 0:
        return "equal to the market"
    return f"{abs(value) * 100:.2f}% {'better' if value > 0 else 'worse'} than the market"


def normalize_gate(gate: dict) -> dict[str, dict]:
    """Gate verdicts as {model: {"passed", "checks": {name: {passed, value, threshold, message}}}}.

    Accepts that nested shape or the flat one of ``metrics/gate.json``, read by
    :func:`tmaxedge.gate.recorded_checks`; a flat check has no threshold, its message says it.
    """
    result = {}
    for model, verdict in sorted(gate.items()):
        verdict = verdict or {}
        if "checks" in verdict:
            checks = dict(verdict["checks"] or {})
        else:
            checks = recorded_checks(verdict)
        result[model] = {"passed": bool(verdict.get("passed")), "checks": checks}
    return result


def gate_lines(gate: dict | None) -> list[str | tuple[str, list[str]]]:
    """One bullet per model: passed or failed and the passed checks by name, with one sub-bullet
    per failed check in plain words (its message, or its value and threshold)."""
    if gate is None:
        return ["The gate has not run: no verdicts yet."]
    lines: list[str | tuple[str, list[str]]] = []
    for model, verdict in normalize_gate(gate).items():
        checks = verdict["checks"]
        failed = [name for name in sorted(checks) if not checks[name].get("passed")]
        passed = [name for name in sorted(checks) if checks[name].get("passed")]
        line = f"**{model}** {'passed' if verdict['passed'] else 'failed'} the gate: "
        line += f"{len(passed)} of {len(checks)} checks passed"
        line += f" ({', '.join(f'`{n}`' for n in passed)})" if passed else ""
        details = []
        for name in failed:
            check = checks[name]
            if check.get("message"):
                details.append(f"`{name}` failed: {check['message']}")
            else:
                details.append(
                    f"`{name}` failed: {_number(check.get('value'), 4)} against the "
                    f"threshold {_number(check.get('threshold'), 4)}"
                )
        lines.append((line + ("; failed:" if failed else "."), details) if failed else line + ".")
    return lines


def candidate_lines(promoted: dict | None) -> list[str]:
    """One bullet per model the promotion considered: eligible or not, and why not."""
    candidates = (promoted or {}).get("candidates") or {}
    lines = []
    for model, info in sorted(candidates.items()):
        reasons = info.get("reasons") or []
        if info.get("eligible"):
            lines.append(f"**{model}**: eligible for promotion.")
        else:
            lines.append(
                f"**{model}**: not eligible: {'; '.join(map(str, reasons)) or 'no reason given'}."
            )
    return lines


# --- formatting -------------------------------------------------------------------------------


def _number(value, digits: int) -> str:
    if value is None or isinstance(value, bool) or not isinstance(value, int | float | np.number):
        return "—" if value is None else str(value)
    return "—" if not np.isfinite(value) else f"{value:.{digits}f}"


def _percent(value: float, digits: int = 1, sign: bool = False) -> str:
    if not np.isfinite(value):
        return "—"
    return f"{value * 100:{'+' if sign else ''}.{digits}f}%"


def _dollars(value: float) -> str:
    if not np.isfinite(value):
        return "—"
    if round(value) == 0:
        return "$0"
    return f"{'-' if value < 0 else '+'}${abs(value):,.0f}"


def _count(value: float) -> str:
    return "—" if not np.isfinite(value) else f"{value:,.0f}"


def _gap(value: float) -> str:
    """Gap closed in percent; beyond +-999% (a tiny market-to-oracle gap) only the bound."""
    if np.isfinite(value) and abs(value) > 9.99:
        return "<-999%" if value < 0 else ">+999%"
    return _percent(value, 0, sign=True)


HEADERS = {
    "log_loss": "log loss",
    "brier": "Brier",
    "market_brier": "market Brier",
    "brier_improvement": "Brier improvement",
    "ece": "ECE",
    "coverage": "coverage",
    "gap_closed": "gap closed",
    "net_pnl": "net P&L",
    "daily_sharpe": "Sharpe",
    "n_fills": "fills",
    "n_rows": "rows",
}
FORMATS = {
    "log_loss": lambda v: _number(v, 4),
    "brier": lambda v: _number(v, 5),
    "market_brier": lambda v: _number(v, 5),
    "brier_improvement": lambda v: _percent(v, 2, sign=True),
    "ece": lambda v: _number(v, 4),
    "coverage": lambda v: _percent(v, 1),
    "gap_closed": lambda v: _gap(v),
    "net_pnl": _dollars,
    "daily_sharpe": lambda v: _number(v, 2),
    "n_fills": _count,
    "n_rows": _count,
}


def format_comparison(table: pd.DataFrame) -> pd.DataFrame:
    """The overall table as display strings; ``gap closed`` only when some row has it; fills
    as "fills of orders"."""
    columns = [c for c in COMPARISON_COLUMNS if c != "n_orders" and c not in INTERVAL_COLUMNS]
    if not table["gap_closed"].notna().any():
        columns.remove("gap_closed")
    shown = pd.DataFrame({"": table.index.astype(str)})
    for column in columns:
        values = [FORMATS[column](v) for v in table[column]]
        if column == "brier_improvement":
            values = [
                f"{v} ({_interval(low, high)})" if np.isfinite(low) and np.isfinite(high) else v
                for v, low, high in zip(
                    values,
                    table["brier_improvement_low"],
                    table["brier_improvement_high"],
                    strict=True,
                )
            ]
        if column == "n_fills":
            values = [
                f"{v} of {_count(o)}" if v != "—" else v
                for v, o in zip(values, table["n_orders"], strict=True)
            ]
        shown[HEADERS[column]] = values
    return shown


def _interval(low: float, high: float) -> str:
    return f"{_percent(low, 2, sign=True)} .. {_percent(high, 2, sign=True)}"


def format_groups(table: pd.DataFrame) -> pd.DataFrame:
    """The per city x strike table as display strings; empty columns left out."""
    shown = table[["city", "strike", "model"]].astype(str).copy()
    for column in GROUP_COLUMNS[3:]:
        if table[column].notna().any():
            shown[HEADERS[column]] = [FORMATS[column](v) for v in table[column]]
    return shown


def ablation_blocks(ablations: dict[str, dict] | None) -> list[Block]:
    """The ablation section: per model entry, each run's test scores on the rows every run of
    that entry priced, and the change against all features (positive = worse without)."""
    heading = Heading("Ablation: each feature group left out")
    if not ablations:
        how = "`tmaxedge ablation --model <entry>` writes ablation/<entry>.json"
        return [heading, Paragraph(f"Not run ({how}).")]
    rows = []
    for entry, result in sorted(ablations.items()):
        for run in result["runs"]:
            rows.append(
                {
                    "model": entry,
                    "run": run["run"],
                    "windows": len(result["windows"]),
                    HEADERS["brier"]: _formatted("brier", run),
                    "Brier change": f"{run['brier_change']:+.5f}",
                    HEADERS["log_loss"]: _formatted("log_loss", run),
                    "log loss change": f"{run['log_loss_change']:+.4f}",
                    HEADERS["brier_improvement"]: _formatted("brier_improvement", run),
                }
            )
    note = (
        "Each run retunes, recalibrates, pools and makes coherent as the pipeline does, on the "
        "same test weeks; scores are on the rows every run of that model priced."
    )
    return [heading, Table(pd.DataFrame(rows)), Note(note)]


def _formatted(key: str, values: dict) -> str:
    return FORMATS[key](values[key])


def format_sensitivity(table: pd.DataFrame) -> pd.DataFrame:
    shown = table[["model", "run"]].astype(str).copy()
    for column in ("log_loss", "brier", "brier_improvement"):
        shown[HEADERS[column]] = [FORMATS[column](v) for v in table[column]]
    return shown


# --- figures ----------------------------------------------------------------------------------


def plot_cumulative_pnl(table: pd.DataFrame) -> Figure:
    """Cumulative settled P&L per model and the market-price baseline, by UTC settlement day."""
    names = [c for c in table.columns if c not in ("day", "date")]
    models = [n for n in names if n != MARKET]
    colors = model_colors(models)
    with matplotlib.rc_context(RC_PARAMS):
        fig = Figure(figsize=(10, 4.2), dpi=DPI, layout="constrained")
        ax = fig.add_subplot()
        x = pd.to_datetime(table["date"]).to_numpy() if len(table) else []
        for name in names:
            style = (
                dict(color=MARKET_COLOR, linestyle="--")
                if name == MARKET
                else dict(color=colors[name])
            )
            label = "market price (baseline)" if name == MARKET else name
            ax.plot(
                x,
                table[name],
                linewidth=1.8,
                label=f"{label}: {_dollars(table[name].iloc[-1])}",
                **style,
            )
        ax.axhline(0, color="0.2", linewidth=0.8)
        ax.set(ylabel="cumulative P&L ($)", xlabel="settlement day (UTC)", title="Cumulative P&L")
        ax.yaxis.set_major_formatter(matplotlib.ticker.StrMethodFormatter("{x:,.0f}"))
        ax.xaxis.set_major_formatter(matplotlib.dates.DateFormatter("%Y-%m-%d"))
        ax.legend(loc="best")
    return fig


def plot_window_brier(table: pd.DataFrame) -> Figure:
    """Top: Brier per test window, market and models. Bottom: model minus market (below 0 =
    better than the market)."""
    models = [c for c in table.columns if c not in ("window_number", "window", MARKET)]
    colors = model_colors(models)
    x = np.arange(len(table))
    with matplotlib.rc_context(RC_PARAMS):
        fig = Figure(figsize=(10, 5.6), dpi=DPI, layout="constrained")
        top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(3, 2))
        top.plot(
            x,
            table[MARKET],
            color=MARKET_COLOR,
            linestyle="--",
            marker="s",
            markersize=4,
            label="market",
        )
        for model in models:
            top.plot(x, table[model], color=colors[model], marker="o", markersize=4, label=model)
        top.set(ylabel="Brier (lower is better)", title="Brier by test window")
        top.legend(loc="best", ncols=len(models) + 1)
        width = 0.8 / max(len(models), 1)
        for i, model in enumerate(models):
            bottom.bar(
                x - 0.4 + width * (i + 0.5),
                table[model] - table[MARKET],
                width=width,
                color=colors[model],
                label=model,
            )
        bottom.axhline(0, color="0.2", linewidth=0.8)
        bottom.set(ylabel="model − market\n(above 0 = worse)", xlabel="test week (start date)")
        bottom.set_xticks(x, table["window"].astype(str))
    return fig


def heatmap_limit(improvement: pd.Series) -> float:
    """Colour limit (percent) of the improvement heat map: the 80th percentile of the absolute
    values rounded up to 1, 2 or 5 x 10^k, at least 1%. Tails with a tiny market Brier give
    improvements of hundreds of percent; they saturate instead of washing out every other cell."""
    values = np.abs(improvement.to_numpy(float) * 100)
    values = values[np.isfinite(values)]
    if not len(values):
        return 1.0
    raw = max(float(np.percentile(values, 80)), 1.0)
    scale = 10 ** math.floor(math.log10(raw))
    return next(step * scale for step in (1, 2, 5, 10) if step * scale >= raw)


def plot_group_improvement(groups: pd.DataFrame) -> Figure:
    """Brier improvement over the market per city x strike type, one panel per model (blue =
    better than the market, red = worse; colours saturate at ``heatmap_limit``), each cell
    labelled in percent."""
    models = sorted(groups["model"].unique())
    cities = sorted(groups["city"].unique())
    strikes = [s for s in STRIKE_ORDER if s in set(groups["strike"])]
    strikes += sorted(set(groups["strike"]) - set(strikes))
    limit = heatmap_limit(groups["brier_improvement"])
    with matplotlib.rc_context({**RC_PARAMS, "axes.grid": False}):
        fig = Figure(
            figsize=(3.2 * max(len(models), 1) + 1.2, 0.42 * len(cities) + 1.6),
            dpi=DPI,
            layout="constrained",
        )
        axes = np.atleast_1d(fig.subplots(1, max(len(models), 1), sharey=True))
        image = None
        for ax, model in zip(axes, models, strict=False):
            part = groups[groups["model"] == model].set_index(["city", "strike"])[
                "brier_improvement"
            ]
            grid = np.array(
                [[part.get((c, s), np.nan) * 100 for s in strikes] for c in cities], float
            )
            image = ax.imshow(grid, cmap="RdBu", vmin=-limit, vmax=limit, aspect="auto")
            for (r, c), value in np.ndenumerate(grid):
                if np.isfinite(value):
                    ax.text(
                        c,
                        r,
                        f"{value:+.1f}%",
                        ha="center",
                        va="center",
                        fontsize=9,
                        color="white" if abs(value) > 0.6 * limit else "black",
                    )
            ax.set_xticks(range(len(strikes)), strikes)
            ax.set_yticks(range(len(cities)), cities)
            ax.set_title(model)
            ax.spines[:].set_visible(False)
        if image is not None:
            bar = fig.colorbar(
                image,
                ax=list(axes),
                label="Brier improvement vs market (%)",
                shrink=0.9,
                extend="both",
            )
            bar.ax.yaxis.set_major_formatter(matplotlib.ticker.StrMethodFormatter("{x:+.0f}%"))
    return fig


# --- the document -----------------------------------------------------------------------------


def build_report(inputs: ReportInputs) -> Report:
    """Tables, figures, `dvc plots` data and the document blocks of one report."""
    models = inputs.models
    decisions = decision_rows(inputs.diagnostics, models)
    comparison = comparison_table(inputs, decisions)
    groups = group_table(inputs)
    curves = reliability_curves(inputs.diagnostics)
    windows = window_brier_table(inputs, decisions)
    pnl = cumulative_pnl_table(inputs.daily_pnl, models)
    ece = {m: comparison.loc[m, "ece"] for m in models}
    for model in models:
        part = curves[(curves["model"] == model) & (curves["source"] == MARKET)]
        ece[f"{model}:market"] = expected_calibration_error(part)
    figures = {
        "reliability": figure_png(plot_reliability(curves, ece)),
        "cumulative_pnl": figure_png(plot_cumulative_pnl(pnl)),
        "brier_by_window": figure_png(plot_window_brier(windows)),
    }
    if len(groups):
        figures["improvement_by_group"] = figure_png(plot_group_improvement(groups))
    synthetic = ORACLE in comparison.index
    n_rows = {int(inputs.walkforward[m].get("n_rows", 0)) for m in models}
    n_windows = {int(inputs.walkforward[m].get("n_windows", 0)) for m in models}

    blocks: list[Block] = [Title("Walk-forward report: " + " vs ".join(models))]
    opening, *facts = headline(inputs, comparison)
    blocks.append(Paragraph(opening))
    if candidate_lines(inputs.promoted):
        blocks.append(Bullets(candidate_lines(inputs.promoted)))
    blocks += [Paragraph(line) for line in facts]
    blocks += [Heading("Gate"), Bullets(gate_lines(inputs.gate))]
    blocks += [
        Heading("Models against the market"),
        Paragraph(
            f"{_set_text(n_windows)} test weeks, {_set_text(n_rows, ',')} decision rows per model"
            + ("; synthetic data, so the oracle (the true probability) is scored too" * synthetic)
            + "."
        ),
        Table(format_comparison(comparison)),
        Note(_comparison_note(synthetic)),
        *([Note(as_briefed_note(inputs.as_briefed["run"]))] if inputs.as_briefed else []),
        FigureBlock(
            "reliability",
            "Reliability (15 equal-width bins): model and market on the same rows; "
            "on the diagonal = calibrated. Below: rows per bin.",
        ),
        FigureBlock(
            "cumulative_pnl",
            "Cumulative settled P&L of each model's backtest and of the "
            "baseline that trades on the market's own price.",
        ),
        FigureBlock(
            "brier_by_window",
            "Brier per test week; below 0 in the lower panel = better than the market that week.",
        ),
        *evidence_blocks(inputs, models),
        Heading("By city and strike type"),
    ]
    if len(groups):
        blocks += [
            FigureBlock(
                "improvement_by_group",
                "Brier improvement over the market per city and strike "
                "type (blue = better than the market; colours saturate at "
                f"±{heatmap_limit(groups['brier_improvement']):g}%). Tails with a tiny market "
                "Brier swing by hundreds of percent on a few surprises.",
            ),
            Table(format_groups(groups)),
            Note(
                "Net P&L and fills per group are the backtest's filled orders in that group."
                if inputs.trades is not None
                else "No trades table given: no P&L per group."
            ),
        ]
    else:
        blocks.append(Paragraph("No per-group summaries."))
    blocks += pooling_blocks(inputs)
    blocks.append(Heading(f"Sensitivity: {inputs.sensitivity_label}"))
    if inputs.sensitivity is None:
        blocks.append(Paragraph("Not run."))
    else:
        table = sensitivity_table(
            inputs.walkforward, inputs.sensitivity, models, inputs.sensitivity_label
        )
        blocks.append(Table(format_sensitivity(table)))
        if inputs.sensitivity_run is not None:
            blocks.append(Note(recorded_note(inputs.sensitivity_run)))
    blocks += ablation_blocks(inputs.ablations)
    return Report(blocks=blocks, figures=figures, plots=dvc_plot_tables(inputs, decisions, curves))


SKILL_COLUMNS = {  # metrics/walkforward.json key -> header; the market's is market_<key>
    "reliability": "reliability (model / market)",
    "resolution": "resolution (model / market)",
    "rps": "RPS (model / market)",
}


def skill_table(walkforward: dict[str, dict], models: list[str]) -> pd.DataFrame:
    """Per entry: the log-loss improvement with its interval, and the Murphy decomposition and
    ranked probability score beside the market's on the same rows."""
    rows = []
    for model in models:
        metrics = walkforward[model]
        row = {"": model}
        point = metrics.get("log_loss_improvement")
        if point is None and metrics.get("market_log_loss"):
            point = 1 - metrics.get("log_loss_common", math.nan) / metrics["market_log_loss"]
        low, high = (
            metrics.get("log_loss_improvement_low"),
            metrics.get("log_loss_improvement_high"),
        )
        row["log-loss improvement"] = (
            f"{_percent(point, 2, sign=True)} ({_interval(low, high)})"
            if None not in (point, low, high)
            else "—"
        )
        for key, header in SKILL_COLUMNS.items():
            ours, market = metrics.get(key), metrics.get(f"market_{key}")
            row[header] = (
                f"{_number(ours, 4)} / {_number(market, 4)}" if None not in (ours, market) else "—"
            )
        rows.append(row)
    return pd.DataFrame(rows)


def hours_to_close_table(diagnostics: pd.DataFrame, models: list[str]) -> pd.DataFrame:
    """The Brier improvement over the market per band of hours to close, one column per entry."""
    columns = {}
    for model in models:
        table = skill.improvement_by_hours_to_close(diagnostics[diagnostics["model"] == model])
        columns[model] = table.loc[table["n_rows"] > 0, "improvement"]
    shown = pd.DataFrame(columns)
    formatted = shown.map(lambda v: _percent(v, 1, sign=True))
    return formatted.reset_index(names="hours to close")


def evidence_blocks(inputs: ReportInputs, models: list[str]) -> list[Block]:
    """How sure the comparison is (intervals, Murphy decomposition, RPS) and where in the day
    the forecasts beat the market; nothing for metrics written before these existed."""
    if not any("reliability" in inputs.walkforward[m] for m in models):
        return []
    return [
        Heading("How sure, and when in the day"),
        Table(skill_table(inputs.walkforward, models)),
        Note(
            "On the rows both price. Log-loss improvement with its event-bootstrap interval. "
            "Murphy decomposition of the Brier score over 15 bins: reliability (lower is better) "
            "and resolution (higher is better), the model's beside the market's. RPS: ranked "
            "probability score over each event's complete ladder at each decision time, "
            "probabilities divided by their sum (lower is better). docs/modelling.md."
        ),
        Table(hours_to_close_table(inputs.diagnostics, models)),
        Note("Brier improvement over the market by hours left until the market closes."),
    ]


def pooling_blocks(inputs: ReportInputs) -> list[Block]:
    """The section on what pooling with the market and coherence each did."""
    steps = step_table(inputs.walkforward, inputs.models)
    if steps["step"].nunique() < 2:
        return []  # a run without the pooling and coherence columns
    shown = steps[["model", "step"]].astype(str).copy()
    for column in ("brier", "brier_improvement", "log_loss"):
        shown[HEADERS[column]] = [FORMATS[column](v) for v in steps[column]]
    blocks: list[Block] = [
        Heading("Pooling with the market and coherent bins"),
        Paragraph(
            "The forecast after each step, on the same test rows. Pooling: logit p = "
            "w·logit(model) + (1 − w)·logit(market), w chosen on the calibration split (out of "
            "sample for the model). Coherent: an event's six probabilities shifted by one common "
            "logit so they sum to 1 at every minute."
        ),
        Table(shown),
    ]
    if inputs.pool_weights is not None and len(inputs.pool_weights):
        weights = pool_weight_summary(inputs.pool_weights)
        table = weights[["model", "strike"]].astype(str).copy()
        for column in ("mean", "min", "max"):
            table[f"w {column}"] = [f"{v:.2f}" for v in weights[column]]
        table["windows × groups"] = weights["count"].astype(int).astype(str)
        blocks += [Table(table), Note("w = 1 keeps the model, w = 0 is the market's own price.")]
    return blocks


def _set_text(values: set[int], sep: str = "") -> str:
    return " / ".join(f"{v:{sep}d}" for v in sorted(values)) or "0"


def _comparison_note(synthetic: bool) -> str:
    note = (
        "Scores are over all test weeks, on the rows where both the model and the market have "
        "a probability. Brier improvement = 1 − Brier / market Brier (+ = better than the "
        "market), with its event-bootstrap interval in brackets (whole test events resampled, "
        "params.yaml summarize). ECE: count-weighted calibration error over 15 bins. Coverage: "
        "share of decision rows with a forecast. The market row scores the market's price on "
        "the rows every model forecasts; its P&L is the baseline that trades on that price."
    )
    if synthetic:
        note += (
            " Oracle: the simulator's true probability. Gap closed: the share of the "
            "market-to-oracle Brier gap a model closes (0 = the market, 100% = the oracle, "
            "negative = worse than the market)."
        )
    return note


# --- the document's blocks: each renders itself to Markdown and to HTML -----------------------


@dataclass(frozen=True)
class _TextBlock:
    """Inline text (with **bold** and `code` marks) set in one template per output format."""

    text: str
    MARKDOWN: ClassVar[str] = "{}"
    HTML: ClassVar[str] = "<p>{}</p>"

    def markdown(self, figure_folder: str) -> str:
        return self.MARKDOWN.format(self.text)

    def html(self, figures: dict[str, bytes]) -> str:
        return self.HTML.format(_inline_html(self.text))


class Title(_TextBlock):
    """The report's title, and the HTML page's."""

    MARKDOWN, HTML = "# {}", "<h1>{}</h1>"


class Heading(_TextBlock):
    MARKDOWN, HTML = "## {}", "<h2>{}</h2>"


class Paragraph(_TextBlock):
    pass  # the template defaults


class Note(_TextBlock):
    """Small print under a table or figure."""

    MARKDOWN, HTML = "<sub>{}</sub>", '<p class="note">{}</p>'


@dataclass(frozen=True)
class Bullets:
    """A list; an item that is a (text, sub-bullets) pair nests its sub-bullets one level."""

    items: list[str | tuple[str, list[str]]]

    def markdown(self, figure_folder: str) -> str:
        return "\n".join(_markdown_item(item) for item in self.items)

    def html(self, figures: dict[str, bytes]) -> str:
        return _html_list(self.items)


@dataclass(frozen=True, eq=False)  # a frame has no single truth value to compare by
class Table:
    """A table of display strings, one column of labels or numbers each."""

    frame: pd.DataFrame

    def markdown(self, figure_folder: str) -> str:
        return _markdown_table(self.frame)

    def html(self, figures: dict[str, bytes]) -> str:
        return _html_table(self.frame)


@dataclass(frozen=True)
class FigureBlock:
    """The figure ``name`` of ``Report.figures`` with its caption: linked as a file from the
    Markdown, embedded as base64 PNG in the HTML."""

    name: str
    caption: str

    def markdown(self, figure_folder: str) -> str:
        return f"![{self.caption}]({figure_folder}/{self.name}.png)\n\n*{self.caption}*"

    def html(self, figures: dict[str, bytes]) -> str:
        data = base64.b64encode(figures[self.name]).decode("ascii")
        caption = html.escape(self.caption)
        return (
            f'<figure><img alt="{caption}" src="data:image/png;base64,{data}">'
            f"<figcaption>{caption}</figcaption></figure>"
        )


Block = Title | Heading | Paragraph | Note | Bullets | Table | FigureBlock


def render_markdown(report: Report, figure_folder: str = "figures") -> str:
    """The report as GitHub Markdown; figures are linked as ``<figure_folder>/<name>.png``."""
    return "\n\n".join(block.markdown(figure_folder) for block in report.blocks) + "\n"


def _markdown_item(item: str | tuple[str, list[str]]) -> str:
    """A bullet; a (text, sub-bullets) pair nests its sub-bullets one level."""
    if isinstance(item, tuple):
        text, children = item
        return "\n".join([f"- {text}", *(f"  - {child}" for child in children)])
    return f"- {item}"


def _markdown_table(table: pd.DataFrame) -> str:
    header = "| " + " | ".join(str(c) for c in table.columns) + " |"
    align = "|" + "|".join("---" if _is_text(table[c]) else "---:" for c in table.columns) + "|"
    rows = [
        "| " + " | ".join(str(v).replace("|", "\\|") for v in row) + " |"
        for row in table.itertuples(index=False)
    ]
    return "\n".join([header, align, *rows])


def _is_text(column: pd.Series) -> bool:
    """A column of labels (left-aligned), not of numbers."""
    return not column.astype(str).str.match(r"^[-+<>$0-9.,%—]+( of [0-9,]+)?$").all()


CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #1f2328;
       max-width: 1180px; margin: 24px auto; padding: 0 16px; line-height: 1.45; }
h1 { font-size: 1.6em; border-bottom: 1px solid #d0d7de; padding-bottom: .3em; }
h2 { font-size: 1.3em; margin-top: 1.6em; border-bottom: 1px solid #d0d7de; padding-bottom: .2em; }
table { border-collapse: collapse; margin: 12px 0; font-size: 0.88em; }
th, td { border: 1px solid #d0d7de; padding: 4px 9px; }
th { background: #f6f8fa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tbody tr:nth-child(even) { background: #fafbfc; }
figure { margin: 18px 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eaeef2; }
figcaption, .note { color: #57606a; font-size: 0.85em; }
code { background: #f6f8fa; padding: 0 3px; border-radius: 3px; }
"""


def render_html(report: Report) -> str:
    """The report as one self-contained HTML page: inline CSS, figures as base64 PNG, no JS."""
    title = next((b.text for b in report.blocks if isinstance(b, Title)), "Report")
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>",
        f"<style>{CSS}</style>",
        "</head>",
        "<body>",
    ]
    out += [block.html(report.figures) for block in report.blocks]
    out += ["</body>", "</html>"]
    return "\n".join(out) + "\n"


def _html_list(items: list) -> str:
    out = []
    for item in items:
        if isinstance(item, tuple):
            text, children = item
            out.append(f"<li>{_inline_html(text)}{_html_list(children)}</li>")
        else:
            out.append(f"<li>{_inline_html(item)}</li>")
    return "<ul>" + "".join(out) + "</ul>"


def _html_table(table: pd.DataFrame) -> str:
    text = [_is_text(table[c]) for c in table.columns]
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in table.columns)
    body = []
    for row in table.itertuples(index=False):
        cells = "".join(
            f"<td>{html.escape(str(v))}</td>"
            if t
            else f'<td class="num">{html.escape(str(v))}</td>'
            for v, t in zip(row, text, strict=True)
        )
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _inline_html(text: str) -> str:
    """Escape, then the two inline Markdown marks the report uses: **bold** and `code`."""
    text = html.escape(text)
    text = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", text)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", text)
