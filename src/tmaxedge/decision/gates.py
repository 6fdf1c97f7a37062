"""Release gates per model type, and the choice of the model type to promote.

Every check is a pure function returning ``{passed, value, threshold, message}`` (and
``details``, more numbers, for some) with a message in plain words. ``GATE_CHECKS`` is the one
list of them: each entry's name, its keys in ``metrics/gate.json``, the ``GateParams`` field that
sets its limit, whether it is enforced and how to run it. :func:`evaluate_gates` runs them all
for each model type, :func:`flat_gate_metrics` turns the result into the small
``metrics/gate.json`` that ``dvc metrics diff`` shows, :func:`failed_checks` and
:func:`recorded_checks` read it back (the verdict stage, the report), and
:func:`choose_promotion` picks the model type for ``models/promoted.json`` (or none, saying why).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd

from tmaxedge.core.config import BETA_MAX, DEFAULT_BETA_MAX, parse_beta_max
from tmaxedge.core.params import Boolean, Interval, Params, declare
from tmaxedge.modeling.skill import ImprovementInterval, edge_verdict

_EPS = 1e-12  # float slack so a value exactly on a threshold passes
# label -> (the model's key, the market's key) in metrics/walkforward.json, on common test rows
_SCORES_VS_MARKET = {
    "Brier": ("brier_common", "market_brier"),
    "log loss": ("log_loss_common", "market_log_loss"),
}


@dataclass(frozen=True)
class GateParams(Params):
    """params.yaml ``gate``: thresholds of the release gates and whether a failure stops the run."""

    constraints = declare(
        brier_improvement=Interval(float, 0, 1, closed="left"),
        coverage=Interval(float, 0, 1),
        beta_max=BETA_MAX,
        one_sided_max=Interval(float, 0.5, 1),
        leakage_sample_rows=Interval(int, 1, None),
        enforce=Boolean(),
    )
    brier_improvement: float = 0.02  # model Brier <= (1 - this) x market Brier on common rows
    coverage: float = 0.95  # share of eligible test rows with a model prediction
    beta_max: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_BETA_MAX))
    one_sided_max: float = 0.99  # largest share of orders, or of predicted edge, on one side
    leakage_sample_rows: int = 300  # feature rows re-derived from inputs truncated at their ts
    enforce: bool = True  # false: the verdict stage reports failures but exits 0

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "beta_max", parse_beta_max(self.beta_max))


# --- one function per check ----------------------------------------------------------------------


def check_brier(model: str, metrics: Mapping[str, Any], min_improvement: float) -> dict:
    """Model Brier must be at most ``(1 - min_improvement)`` x the market's, on common test rows,
    and the event-bootstrap interval of that improvement must lie above zero.

    ``metrics`` is the model's entry of metrics/walkforward.json (``brier_common``,
    ``market_brier``, ``brier_improvement_low``/``_high``, ``n_events``, ``interval_level``).
    ``value`` is the relative improvement ``1 - model / market``; a value exactly on the
    threshold passes. No common rows, a market Brier of 0, or no interval recorded fails: a
    point estimate alone does not say the edge is more than the luck of the test events.
    """
    score = _VsMarket.of(metrics, "Brier")
    if not score.comparable:
        return _result(False, None, min_improvement, score.not_comparable(model))
    needs = f"the gate needs {min_improvement:.1%} better and an interval above zero"
    interval = _improvement_interval(metrics, score.improvement)
    if interval is None:
        message = f"{score.compared(model)}, with no event-bootstrap interval recorded; {needs}."
        return _result(False, score.improvement, min_improvement, message)
    passed = score.ours <= (1.0 - min_improvement) * score.market + _EPS and interval.low > 0
    verdict = edge_verdict(interval, min_improvement)
    message = f"{score.compared(model)}: {verdict}; {needs}."
    return _result(passed, score.improvement, min_improvement, message)


def _improvement_interval(metrics: Mapping[str, Any], point: float) -> ImprovementInterval | None:
    low, high = (
        _number(metrics, "brier_improvement_low"),
        _number(metrics, "brier_improvement_high"),
    )
    if low is None or high is None:
        return None
    level = _number(metrics, "interval_level") or 0.95
    return ImprovementInterval(point, low, high, level, int(metrics.get("n_events") or 0))


def check_log_loss_vs_market(model: str, metrics: Mapping[str, Any]) -> dict:
    """Informational: model log loss below the market's on common rows (promotion needs it)."""
    score = _VsMarket.of(metrics, "log loss")
    if not score.comparable:
        return _result(False, None, 0.0, score.not_comparable(model))
    informational = "(informational: not a gate, but promotion needs it better)"
    message = f"{score.compared(model)} {informational}."
    return _result(score.ours < score.market, score.improvement, 0.0, message)


@dataclass(frozen=True)
class _VsMarket:
    """One score of the model and of the market on the test rows where both have a probability
    (``None`` where metrics/walkforward.json has none)."""

    label: str  # a key of _SCORES_VS_MARKET: "Brier" or "log loss"
    ours: float | None
    market: float | None

    @classmethod
    def of(cls, metrics: Mapping[str, Any], label: str) -> _VsMarket:
        key, market_key = _SCORES_VS_MARKET[label]
        return cls(label, _number(metrics, key), _number(metrics, market_key))

    @property
    def comparable(self) -> bool:
        """Both present and a market score above 0 (the improvement divides by it)."""
        return self.ours is not None and self.market is not None and self.market > 0

    @property
    def improvement(self) -> float:
        return 1.0 - self.ours / self.market

    def not_comparable(self, model: str) -> str:
        return (
            f"{model} has no test rows where both it and the market have a probability, "
            f"so its {self.label} cannot be compared."
        )

    def compared(self, model: str) -> str:
        return (
            f"{model} {self.label} {self.ours:.4f} is {_better_or_worse(self.improvement)} "
            f"the market's {self.market:.4f}"
        )


def check_coverage(model: str, metrics: Mapping[str, Any], min_coverage: float) -> dict:
    """The model must predict on at least ``min_coverage`` of the eligible test rows of every
    test window (``coverage_lowest_window``; walk-forward metrics without it are held to it
    over all windows together)."""
    coverage = _number(metrics, "coverage")
    lowest = _number(metrics, "coverage_lowest_window")
    if coverage is None:
        return _result(
            False, None, min_coverage, f"{model} has no coverage in the walk-forward metrics."
        )
    if lowest is None:
        passed = coverage + _EPS >= min_coverage
        message = (
            f"{model} predicts on {coverage:.1%} of eligible test rows; "
            f"the gate needs at least {min_coverage:.1%}."
        )
        return _result(passed, coverage, min_coverage, message)
    message = (
        f"{model} predicts on {coverage:.1%} of eligible test rows, {lowest:.1%} in its lowest "
        f"test window; the gate needs at least {min_coverage:.1%} in every window."
    )
    return _result(lowest + _EPS >= min_coverage, lowest, min_coverage, message)


def count_rows_after_close(diagnostics: pd.DataFrame) -> pd.DataFrame:
    """Per model, test rows stamped after their market's close, and all test rows.

    ``diagnostics`` holds ``model`` and ``minutes_to_close`` (edge_diagnostics.parquet). A row is
    after the close when ``timestamp > timestamp + minutes_to_close``, that is when
    ``minutes_to_close < 0``; a missing ``minutes_to_close`` counts as after (it cannot be shown
    to be before).
    Returns columns ``model``, ``n_rows_after_close``, ``n_rows`` sorted by model.
    """
    after = ~(diagnostics["minutes_to_close"].to_numpy(float) >= 0)  # NaN -> True
    frame = pd.DataFrame({"model": diagnostics["model"].to_numpy(), "after": after})
    counts = frame.groupby("model", sort=True)["after"].agg(["sum", "size"]).reset_index()
    return counts.rename(columns={"sum": "n_rows_after_close", "size": "n_rows"}).astype(
        {"n_rows_after_close": int, "n_rows": int}
    )


def check_no_future_features(model: str, n_rows_after_close: int, n_rows: int) -> dict:
    """No test row of the model may be stamped after its market's close (threshold 0 rows).

    No test rows at all fails: there is nothing to show the guarantee on.
    """
    if n_rows == 0:
        return _result(False, 0, 0, f"{model} has no test rows in the edge diagnostics.")
    message = (
        f"{n_rows_after_close:,} of {n_rows:,} {model} test rows are stamped after their market's "
        f"close (minutes_to_close < 0 in the edge diagnostics); the gate allows none."
    )
    return _result(n_rows_after_close == 0, int(n_rows_after_close), 0, message)


class RederivedSample(Protocol):
    """What the leakage check reads of ``tmaxedge.decision.leakage.LeakageAudit``; not imported,
    because the report and verdict stages import this module and must not depend on the
    feature build."""

    n_rows: int
    n_cutoffs: int
    n_columns: int
    differences: pd.DataFrame

    @property
    def n_rows_differing(self) -> int: ...


def check_features_rederived(model: str, audit: RederivedSample) -> dict:
    """Every sampled feature row must come out the same when re-derived from the raw inputs with
    every quote and weather row stamped after its timestamp deleted (threshold 0 rows).

    The feature table is shared by every model entry, so each gets the same verdict. ``value``
    is the number of differing rows; ``details`` the number re-derived. No rows re-derived fails:
    there is nothing to show the guarantee on.
    """
    details = {"n_rows_rederived": audit.n_rows}
    if audit.n_rows == 0:
        message = f"{model}: no feature rows were re-derived, so leakage is not ruled out."
        return _result(False, None, 0, message, details)
    n_bad = audit.n_rows_differing
    what = (
        f"{n_bad:,} of {audit.n_rows:,} sampled feature rows ({audit.n_columns} columns each, "
        f"{audit.n_cutoffs:,} rebuilds) re-derived from the raw inputs truncated at their "
        "timestamp"
    )
    if n_bad == 0:
        message = f"{what} differ; the gate allows none (the features every entry uses)."
        return _result(True, 0, 0, message, details)
    first = "; ".join(
        f"{row.ticker} at {row.ts:%Y-%m-%d %H:%M} {row.column}: stored {row.stored!r}, "
        f"re-derived {row.rederived!r}"
        for row in audit.differences.head(5).itertuples()
    )
    message = f"{what} differ, the first: {first}; the gate allows none."
    return _result(False, n_bad, 0, message, details)


EDGE_SIDES = ("yes", "no")  # the sides of tmaxedge.decision.backtest.predicted_edges


def check_predicted_edge_two_sided(
    model: str, edges: Mapping[str, Any] | None, one_sided_max: float
) -> dict:
    """At most ``one_sided_max`` of the model's positive predicted edge after costs may sit on
    one side.

    ``edges`` is the model's row of :func:`tmaxedge.decision.backtest.predicted_edges`.
    ``value`` is the busier side's share of the edge per row, summed over both sides;
    ``details`` the mean edge and row count of each side. No row where it would trade fails:
    there is no edge to speak of.
    """
    edges = edges or {}
    per_row = {side: _number(edges, f"edge_per_row_{side}") or 0.0 for side in EDGE_SIDES}
    details = {}
    for side in EDGE_SIDES:
        details[f"mean_edge_{side}_cents"] = _number(edges, f"mean_edge_{side}")
        details[f"n_rows_edge_{side}"] = int(edges.get(f"n_rows_{side}", 0))
    total = sum(per_row.values())
    if not total > 0:
        message = f"{model} has no test row with a predicted edge after costs to trade."
        return _result(False, None, one_sided_max, message, details)
    share = max(per_row.values()) / total
    described = ", ".join(
        f"{side.upper()} {per_row[side] / total:.1%} "
        + (
            f"(mean {details[f'mean_edge_{side}_cents']:.1f}c on "
            f"{details[f'n_rows_edge_{side}']:,} rows)"
            if details[f"n_rows_edge_{side}"]
            else "(no rows)"
        )
        for side in EDGE_SIDES
    )
    message = (
        f"{model} predicted edge after costs where it would trade, by side: {described}; "
        f"the gate allows at most {one_sided_max:.1%} on one side."
    )
    return _result(share <= one_sided_max + _EPS, share, one_sided_max, message, details)


def coefficient_norms(records: Iterable[tuple[str, str, str, Mapping[str, Any]]]) -> pd.DataFrame:
    """L2 norm of each fitted model's standardised coefficients.

    ``records`` yields ``(model, window, group, model_json)`` with ``group`` = ``<city>_<strike>``
    and ``model_json`` the content of calibrate/<model>/<group>.model.json. Returns columns
    ``model``, ``window``, ``group``, ``strike``, ``norm`` sorted by model, window and group.
    """
    rows = [
        {
            "model": model,
            "window": window,
            "group": group,
            "strike": group.rsplit("_", 1)[-1],
            "norm": float(np.linalg.norm(np.asarray(content["coef"], dtype=float))),
        }
        for model, window, group, content in records
    ]
    frame = pd.DataFrame(rows, columns=["model", "window", "group", "strike", "norm"])
    return frame.sort_values(["model", "window", "group"], kind="mergesort", ignore_index=True)


def check_beta_norm(model: str, norms: pd.DataFrame, beta_max: Mapping[str, float]) -> dict:
    """Every fitted group's ||β||₂ must be at most ``beta_max`` of its strike type.

    ``norms`` are the model's rows of :func:`coefficient_norms`. ``value`` is the largest norm
    relative to its limit (reported as that norm) and ``threshold`` that strike type's limit.
    No fitted group, or a strike type without a limit, fails.
    """
    if norms.empty:
        message = f"{model} has no fitted model.json to check the coefficient norm on."
        return _result(False, None, None, message)
    unknown = sorted(set(norms["strike"]) - set(beta_max))
    if unknown:
        return _result(
            False,
            None,
            None,
            f"{model} has strike type(s) {unknown} without a "
            f"gate.beta_max limit; known: {sorted(beta_max)}.",
        )
    limit = norms["strike"].map(beta_max).astype(float)
    ratio = norms["norm"] / limit
    worst = int(np.argmax(ratio.to_numpy()))
    value, threshold = float(norms["norm"].iloc[worst]), float(limit.iloc[worst])
    over = norms[norms["norm"] > limit + _EPS]
    if over.empty:
        spans = ", ".join(
            f"{strike} <= {part['norm'].max():.2f} (limit {beta_max[strike]:g})"
            for strike, part in norms.groupby("strike", sort=True)
        )
        message = (
            f"{model} coefficient norm ||beta||2 stays within its limits in all {len(norms)} "
            f"fitted groups: {spans}."
        )
        return _result(True, value, threshold, message)
    parts = []
    for strike, part in over.groupby("strike", sort=True):
        top = part.loc[part["norm"].idxmax()]
        parts.append(
            f"{strike} up to {top['norm']:.2f} ({top['group']}, window {top['window']}; "
            f"limit {beta_max[strike]:g})"
        )
    message = (
        f"{model} coefficient norm ||beta||2 exceeds its limit in {len(over)} of {len(norms)} "
        f"fitted groups: " + "; ".join(parts) + "."
    )
    return _result(False, value, threshold, message)


def check_edge_two_sided(model: str, orders: pd.DataFrame, one_sided_max: float) -> dict:
    """At most ``one_sided_max`` of the model's orders (filled or not) may be on one side.

    ``orders`` are the model's rows of data/backtest/trades.parquet (``side`` "yes"/"no",
    ``edge_cents``). ``value`` is the share on the busier side. No orders fails: there is no
    edge to speak of.
    """
    n_orders = len(orders)
    if n_orders == 0:
        message = f"{model} placed no orders in the backtest, so it shows no edge."
        return _result(False, None, one_sided_max, message)
    sides = orders["side"].astype(str).str.lower()
    described, shares = [], {}
    for side in ("yes", "no"):
        mask = (sides == side).to_numpy()
        shares[side] = mask.sum() / n_orders
        if mask.any():
            edge = float(orders["edge_cents"].to_numpy(float)[mask].mean())
            described.append(f"{shares[side]:.1%} {side.upper()} (mean edge {edge:.1f}c)")
        else:
            described.append(f"0.0% {side.upper()}")
    share = float(max(shares.values()))
    passed = share <= one_sided_max + _EPS
    message = (
        f"{model} placed {n_orders:,} orders: "
        + ", ".join(described)
        + f"; the gate allows at most {one_sided_max:.1%} on one side."
    )
    return _result(passed, share, one_sided_max, message)


# --- the registry: every check once ------------------------------------------------------------


@dataclass(frozen=True)
class ModelEvidence:
    """What the checks read about one model type."""

    metrics: Mapping[str, Any]  # its entry of metrics/walkforward.json
    n_rows_after_close: int  # its test rows stamped after their market's close
    n_rows: int  # all its test rows
    norms: pd.DataFrame  # its rows of coefficient_norms
    orders: pd.DataFrame  # its rows of trades.parquet
    edges: Mapping[str, Any] | None  # its row of backtest.predicted_edges, None without rows
    leakage: RederivedSample  # the shared feature table's re-derived sample


@dataclass(frozen=True)
class GateCheck:
    """One release check: its name, where metrics/gate.json records it, the ``GateParams`` field
    that sets its limit (None: a fixed limit), whether a failure fails the gate, what it requires
    in plain words, and how to run it on one model type's evidence and limit."""

    name: str
    value_key: str
    threshold_param: str | None
    enforced: bool
    requirement: str
    evaluate: Callable[[str, ModelEvidence, Any], dict]
    detail_keys: tuple[str, ...] = ()  # more numbers it records in metrics/gate.json

    @property
    def flag_key(self) -> str:
        """Key of its pass/fail boolean in metrics/gate.json."""
        return f"{self.name}_check"

    def run(self, model: str, evidence: ModelEvidence, params: GateParams) -> dict:
        limit = getattr(params, self.threshold_param) if self.threshold_param else None
        return self.evaluate(model, evidence, limit)


GATE_CHECKS = (
    GateCheck(
        name="brier",
        value_key="brier_improvement",
        threshold_param="brier_improvement",
        enforced=True,
        requirement="test Brier at least gate.brier_improvement below the market's, on common rows",
        evaluate=lambda model, evidence, limit: check_brier(model, evidence.metrics, limit),
    ),
    GateCheck(
        name="log_loss_vs_market",
        value_key="log_loss_improvement",
        threshold_param=None,
        enforced=False,
        requirement="test log loss below the market's, on common rows (informational)",
        evaluate=lambda model, evidence, _: check_log_loss_vs_market(model, evidence.metrics),
    ),
    GateCheck(
        name="coverage",
        value_key="coverage_lowest_window",
        threshold_param="coverage",
        enforced=True,
        requirement="forecasts on at least gate.coverage of the eligible test rows of every window",
        evaluate=lambda model, evidence, limit: check_coverage(model, evidence.metrics, limit),
    ),
    GateCheck(
        name="no_future_features",
        value_key="n_rows_after_close",
        threshold_param=None,
        enforced=True,
        requirement="no test row stamped after its market's close",
        evaluate=lambda model, evidence, _: check_no_future_features(
            model, evidence.n_rows_after_close, evidence.n_rows
        ),
    ),
    GateCheck(
        name="features_rederived",
        value_key="n_rows_rederived_differing",
        threshold_param=None,
        enforced=True,
        requirement=(
            "a sample of gate.leakage_sample_rows feature rows re-derived unchanged from the raw "
            "inputs truncated at each row's timestamp"
        ),
        evaluate=lambda model, evidence, _: check_features_rederived(model, evidence.leakage),
        detail_keys=("n_rows_rederived",),
    ),
    GateCheck(
        name="beta_norm",
        value_key="beta_norm_max",
        threshold_param="beta_max",
        enforced=True,
        requirement="every fitted group's ||beta||2 within gate.beta_max of its strike type",
        evaluate=lambda model, evidence, limit: check_beta_norm(model, evidence.norms, limit),
    ),
    GateCheck(
        name="edge_two_sided",
        value_key="one_sided_share",
        threshold_param="one_sided_max",
        enforced=True,
        requirement="at most gate.one_sided_max of the backtest's orders on one side",
        evaluate=lambda model, evidence, limit: check_edge_two_sided(model, evidence.orders, limit),
    ),
    GateCheck(
        name="predicted_edge_two_sided",
        value_key="predicted_edge_one_sided_share",
        threshold_param="one_sided_max",
        enforced=True,
        requirement=(
            "at most gate.one_sided_max of the predicted edge after costs (where the model would "
            "trade) on one side"
        ),
        evaluate=lambda model, evidence, limit: check_predicted_edge_two_sided(
            model, evidence.edges, limit
        ),
        detail_keys=(
            "mean_edge_yes_cents",
            "mean_edge_no_cents",
            "n_rows_edge_yes",
            "n_rows_edge_no",
        ),
    ),
)
CHECKS = tuple(check.name for check in GATE_CHECKS)
ENFORCED_CHECKS = tuple(check.name for check in GATE_CHECKS if check.enforced)


# --- all gates, the flat metrics and the promotion -----------------------------------------------


def evaluate_gates(
    walkforward_metrics: Mapping[str, Mapping[str, Any]],
    norms: pd.DataFrame,
    orders: pd.DataFrame,
    diagnostics: pd.DataFrame,
    params: GateParams,
    edges: pd.DataFrame,
    leakage: RederivedSample,
) -> dict[str, dict]:
    """Run every check of ``GATE_CHECKS`` for each model type of ``walkforward_metrics``.

    ``norms`` comes from :func:`coefficient_norms`, ``orders`` is trades.parquet (``model``,
    ``side``, ``edge_cents``; other "models" such as the market baseline are ignored),
    ``diagnostics`` edge_diagnostics.parquet (``model``, ``minutes_to_close``), ``edges`` the
    predicted edge after costs per model (:func:`tmaxedge.decision.backtest.predicted_edges`)
    and ``leakage`` the feature table's audit (:func:`tmaxedge.decision.leakage.audit`).
    Returns ``{model: {"passed": bool, "checks": {name: check}}}``; ``passed`` ignores the
    informational checks.
    """
    after_close = count_rows_after_close(diagnostics).set_index("model")
    edges = edges.set_index("model")
    gates = {}
    for model in sorted(walkforward_metrics):
        n_after, n_rows = (
            (int(after_close.at[model, "n_rows_after_close"]), int(after_close.at[model, "n_rows"]))
            if model in after_close.index
            else (0, 0)
        )
        evidence = ModelEvidence(
            metrics=walkforward_metrics[model],
            n_rows_after_close=n_after,
            n_rows=n_rows,
            norms=norms[norms["model"] == model],
            orders=orders[orders["model"] == model],
            edges=edges.loc[model].to_dict() if model in edges.index else None,
            leakage=leakage,
        )
        checks = {check.name: check.run(model, evidence, params) for check in GATE_CHECKS}
        passed = all(checks[name]["passed"] for name in ENFORCED_CHECKS)
        gates[model] = {"passed": passed, "checks": checks}
    return gates


def flat_gate_metrics(gates: Mapping[str, Mapping[str, Any]]) -> dict[str, dict]:
    """metrics/gate.json: per model ``passed``, each check's ``flag_key`` boolean and
    ``value_key`` value, and ``messages`` (check name -> plain-words message)."""
    flat = {}
    for model, gate in sorted(gates.items()):
        row: dict[str, Any] = {"passed": bool(gate["passed"]), "messages": {}}
        for check in GATE_CHECKS:
            result = gate["checks"][check.name]
            row[check.flag_key] = bool(result["passed"])
            row[check.value_key] = _rounded(result["value"])
            for key in check.detail_keys:
                row[key] = _rounded(result["details"][key])
            row["messages"][check.name] = result["message"]
        flat[model] = row
    return flat


SUMMARY_SCORES = [  # metrics/walkforward.json keys, as they are named there
    "log_loss_window_mean",
    "brier_window_mean",
    "log_loss_common",
    "brier_common",
    "market_log_loss",
    "market_brier",
    "brier_improvement",
    "ece",
    "coverage",
    "coverage_lowest_window",
    "n_windows",
]
SUMMARY_TRADING = ["net_pnl", "daily_sharpe", "max_drawdown", "n_fills"]  # metrics/backtest.json


def model_summary(
    walkforward_metrics: Mapping[str, Mapping[str, Any]],
    backtest_metrics: Mapping[str, Mapping[str, Any]],
    gates: Mapping[str, Mapping[str, Any]],
    promoted: str | None,
) -> dict[str, dict]:
    """metrics/summary.json: per model entry, the brief's cross-window comparison in one flat
    record (mean log loss and Brier over the test windows, the pooled scores against the market,
    the backtest's P&L and Sharpe) with its gate verdict and whether it was promoted."""
    summary = {}
    for model in sorted(gates):
        scores, trading = walkforward_metrics.get(model, {}), backtest_metrics.get(model, {})
        summary[model] = {
            **{k: _rounded(scores[k]) for k in SUMMARY_SCORES if k in scores},
            **{k: _rounded(trading[k]) for k in SUMMARY_TRADING if k in trading},
            "passed_gates": bool(gates[model]["passed"]),
            "promoted": model == promoted,
        }
    return summary


def recorded_checks(row: Mapping[str, Any]) -> dict[str, dict]:
    """The checks one model's row of metrics/gate.json records, in ``GATE_CHECKS`` order:
    ``{name: {"passed", "value", "message"}}``; a check without a message gets its requirement."""
    messages = row.get("messages") or {}
    return {
        check.name: {
            "passed": bool(row[check.flag_key]),
            "value": row.get(check.value_key),
            "message": messages.get(check.name) or _not_recorded(check),
        }
        for check in GATE_CHECKS
        if check.flag_key in row
    }


def failed_checks(flat_gates: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, str, str]]:
    """``(model, check, message)`` for every enforced check that failed in metrics/gate.json;
    an enforced check with no result recorded counts as failed."""
    failures = []
    for model, row in sorted(flat_gates.items()):
        recorded = recorded_checks(row)
        for check in GATE_CHECKS:
            result = recorded.get(check.name, {"passed": False, "message": _not_recorded(check)})
            if check.enforced and not result["passed"]:
                failures.append((model, check.name, result["message"]))
    return failures


def _not_recorded(check: GateCheck) -> str:
    return f"no result recorded for this check; it needs {check.requirement}"


def choose_promotion(
    gates: Mapping[str, Mapping[str, Any]],
    walkforward_metrics: Mapping[str, Mapping[str, Any]],
    backtest_metrics: Mapping[str, Mapping[str, Any]],
) -> dict:
    """Pick the model type to promote.

    A candidate must pass every gate, have a lower Brier and a lower log loss than the market on
    common test rows, and a backtest net P&L > 0; among candidates the highest net P&L wins, a
    tie going to the lower Brier, then to the name. Returns ``{"promoted": model or None,
    "reason": str, "candidates": {model: {"eligible", "net_pnl", "reasons"}}}``; when none
    qualifies the reason starts "no edge found:" and names why each model type failed.
    """
    candidates = {}
    for model in sorted(gates):
        metrics = walkforward_metrics.get(model, {})
        reasons = [
            f"fails gate {name}"
            for name in ENFORCED_CHECKS
            if not gates[model]["checks"][name]["passed"]
        ]
        for label in _SCORES_VS_MARKET:
            score = _VsMarket.of(metrics, label)
            if score.ours is None or score.market is None:
                reasons.append(f"no common-row {label} to compare with the market")
            elif not score.ours < score.market:
                reasons.append(
                    f"{label} {score.ours:.4f} is not below the market's {score.market:.4f}"
                )
        net_pnl = _number(backtest_metrics.get(model, {}), "net_pnl")
        if net_pnl is None:
            reasons.append("no backtest net P&L")
        elif not net_pnl > 0:
            reasons.append(f"backtest net P&L ${net_pnl:,.2f} is not above zero")
        candidates[model] = {"eligible": not reasons, "net_pnl": net_pnl, "reasons": reasons}
    eligible = [model for model, info in candidates.items() if info["eligible"]]
    if not eligible:
        why = "; ".join(
            f"{model}: {', '.join(info['reasons'])}" for model, info in candidates.items()
        )
        why = why or "no model types were evaluated"
        return {"promoted": None, "reason": f"no edge found: {why}.", "candidates": candidates}
    best = min(
        eligible,
        key=lambda m: (
            -candidates[m]["net_pnl"],
            _number(walkforward_metrics[m], "brier_common"),
            m,
        ),
    )
    others = [m for m in eligible if m != best]
    reason = (
        f"{best} passes every gate, beats the market on Brier and log loss and has the highest "
        f"backtest net P&L (${candidates[best]['net_pnl']:,.2f})"
    )
    if others:
        reason += "; also eligible: " + ", ".join(
            f"{m} (${candidates[m]['net_pnl']:,.2f})" for m in others
        )
    return {"promoted": best, "reason": reason + ".", "candidates": candidates}


# --- helpers -------------------------------------------------------------------------------------


def _result(
    passed: bool, value: Any, threshold: Any, message: str, details: Mapping | None = None
) -> dict:
    result = {"passed": bool(passed), "value": value, "threshold": threshold, "message": message}
    return {**result, "details": dict(details)} if details else result


def _number(metrics: Mapping[str, Any], key: str) -> float | None:
    """``metrics[key]`` as a float; missing, null or NaN is None."""
    value = metrics.get(key)
    if value is None or isinstance(value, bool):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _better_or_worse(improvement: float) -> str:
    if improvement >= 0:
        return f"{improvement:.1%} better than"
    return f"{-improvement:.1%} worse than"


def _rounded(value: Any) -> Any:
    """Six decimals for floats so metrics diffs show real changes, not float noise."""
    if isinstance(value, float | np.floating):
        return round(float(value), 6)
    if isinstance(value, np.integer):
        return int(value)
    return value
