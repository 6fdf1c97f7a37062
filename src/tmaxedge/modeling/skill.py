"""How sure a score difference is: event-clustered bootstrap intervals, the Murphy decomposition
of the Brier score, the ranked probability score over an event's ladder, skill by hours to close.

The minutes of one market are near copies of each other and the six bins of one event share one
outcome (the day's high), so the unit of independent evidence is the event: every interval here
resamples whole events with replacement, never rows. The point estimate is the improvement of
the pooled score, ``1 - sum(model) / sum(reference)`` over every scored row, which is what the
gate and the report state; the interval is the percentile interval of the same ratio over the
resampled events.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from tmaxedge.core.params import Interval, Params, declare
from tmaxedge.core.probability import row_log_loss
from tmaxedge.modeling.scoring import N_RELIABILITY_BINS, reliability

SCORES = ("brier", "log_loss")
HOURS_TO_CLOSE_EDGES = (0.0, 2.0, 4.0, 8.0, 12.0, 24.0, np.inf)


def event_score_sums(
    frame: pd.DataFrame, p_column: str = "p_model", reference_column: str = "p_market"
) -> pd.DataFrame:
    """Per event: rows scored and the summed Brier and log loss of ``p_column`` and of
    ``reference_column`` on the rows where both exist (the head-to-head rows)."""
    both = frame[p_column].notna() & frame[reference_column].notna()
    rows = frame.loc[both]
    y = rows["y"].to_numpy(float)
    sums = pd.DataFrame({"event_ticker": rows["event_ticker"].to_numpy(), "n": 1})
    for name, column in (("model", p_column), ("reference", reference_column)):
        p = rows[column].to_numpy(float)
        sums[f"brier_{name}"] = (p - y) ** 2
        sums[f"log_loss_{name}"] = row_log_loss(y, p)
    return sums.groupby("event_ticker", sort=True).sum()


@dataclass(frozen=True)
class ImprovementInterval:
    """``1 - model / reference`` of one score: the point and its event-bootstrap interval."""

    point: float
    low: float
    high: float
    level: float
    n_events: int

    @property
    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Bootstrap(Params):
    """params.yaml ``summarize``: ``n_resamples`` event resamples drawn from ``seed``; intervals
    at ``level``."""

    constraints = declare(
        n_resamples=Interval(int, 100, None),
        seed=Interval(int, 0, None),
        level=Interval(float, 0.5, 1, closed="left"),
    )

    n_resamples: int = 2000
    seed: int = 0
    level: float = 0.95

    def draws(self, n_events: int) -> np.ndarray:
        """Event indices drawn with replacement, one resample per row: the same draws for every
        score and entry with the same event count, so intervals of two entries are paired."""
        rng = np.random.default_rng(self.seed)
        return rng.integers(0, n_events, size=(self.n_resamples, n_events))


def improvement_interval(
    sums: pd.DataFrame, score: str, bootstrap: Bootstrap = Bootstrap()
) -> ImprovementInterval:
    """The improvement in ``score`` (brier | log_loss) of the model over the reference
    (``event_score_sums``), with its event-bootstrap percentile interval."""
    resampled = _improvements(sums, score, bootstrap.draws(len(sums)))
    low, high = _percentiles(resampled, bootstrap.level)
    return ImprovementInterval(_improvement(sums, score), low, high, bootstrap.level, len(sums))


def paired_difference_interval(
    first: pd.DataFrame, second: pd.DataFrame, score: str, bootstrap: Bootstrap = Bootstrap()
) -> ImprovementInterval:
    """Improvement of ``first`` minus that of ``second`` on the events both scored, each resample
    drawing the same events for both: whether one entry ranks above the other or the gap is
    noise."""
    events = first.index.intersection(second.index)
    first, second = first.loc[events], second.loc[events]
    draws = bootstrap.draws(len(events))
    gaps = _improvements(first, score, draws) - _improvements(second, score, draws)
    low, high = _percentiles(gaps, bootstrap.level)
    point = _improvement(first, score) - _improvement(second, score)
    return ImprovementInterval(point, low, high, bootstrap.level, len(events))


def murphy_decomposition(y: np.ndarray, p: np.ndarray, n_bins: int = N_RELIABILITY_BINS) -> dict:
    """Brier = reliability - resolution + uncertainty (+ the spread of forecasts inside a bin).

    Over the equal-width bins of ``reliability``: reliability is the count-weighted squared gap
    between a bin's mean forecast and its observed rate (lower is better), resolution the
    count-weighted squared distance of a bin's rate from the base rate (higher is better),
    uncertainty the base rate's variance. ``within_bin`` is what binning leaves over, so the
    four add up to the Brier score exactly.
    """
    y, p = np.asarray(y, float), np.asarray(p, float)
    if len(y) == 0:
        return dict.fromkeys(("brier", "reliability", "resolution", "uncertainty", "within_bin"))
    table = reliability(y, p, n_bins)
    used = table[table["n"] > 0]
    weights = used["n"].to_numpy(float) / len(y)
    base = y.mean()
    result = {
        "brier": float(np.mean((p - y) ** 2)),
        "reliability": float(np.sum(weights * (used["p_mean"] - used["y_rate"]) ** 2)),
        "resolution": float(np.sum(weights * (used["y_rate"] - base) ** 2)),
        "uncertainty": float(base * (1 - base)),
    }
    explained = result["reliability"] - result["resolution"] + result["uncertainty"]
    result["within_bin"] = result["brier"] - explained
    return result


def ladder_positions(markets: pd.DataFrame) -> pd.Series:
    """Each market's rank in its event's ladder, coldest bin 0 (``less``, then the ``between``
    bins by floor, then ``greater``), indexed by ticker."""
    kind = markets["strike_type"].map({"less": 0, "between": 1, "greater": 2})
    edge = markets["floor_strike"].fillna(markets["cap_strike"])
    order = pd.DataFrame({"event": markets["event_ticker"], "kind": kind, "edge": edge})
    order.index = markets["ticker"].to_numpy()
    order = order.sort_values(["event", "kind", "edge"], kind="mergesort")
    return order.groupby("event", sort=False).cumcount().rename("position")


def ranked_probability_score(ladders: pd.DataFrame, p_column: str) -> float:
    """Mean ranked probability score over complete ladders (lower is better).

    ``ladders``: one row per (event, timestamp, bin) with ``event_ticker``, ``timestamp``,
    ``position`` (the bin's rank from the coldest to the warmest) and ``y``. A ladder is scored
    only when every bin of its event has a probability at that time and one bin resolved YES; its
    probabilities are divided by their sum first (a market's mids need not add up to 1), then
    RPS = sum over the first K-1 ranks of (cumulative forecast - cumulative outcome)^2 / (K - 1).
    """
    rows = ladders.dropna(subset=[p_column]).sort_values(["event_ticker", "timestamp", "position"])
    keys = ["event_ticker", "timestamp"]
    size = rows.groupby(keys, sort=False)["position"].transform("size")
    bins = ladders.groupby("event_ticker")["position"].nunique()
    complete = size.to_numpy() == rows["event_ticker"].map(bins).to_numpy()
    rows = rows.loc[complete]
    if rows.empty:
        return float("nan")
    groups = rows.groupby(keys, sort=False)
    p = rows[p_column].to_numpy(float) / groups[p_column].transform("sum").to_numpy(float)
    y = rows["y"].to_numpy(float)
    frame = pd.DataFrame({"ladder": groups.ngroup().to_numpy(), "p": p, "y": y})
    ladder = frame.groupby("ladder", sort=False)
    cumulative_gap = ladder["p"].cumsum() - ladder["y"].cumsum()
    last = ladder.cumcount(ascending=False).to_numpy() == 0  # the K-th term is 0 - 0
    per_ladder = (cumulative_gap.where(~last, 0.0) ** 2).groupby(frame["ladder"]).sum()
    width = ladder.size() - 1
    one_winner = ladder["y"].sum() == 1
    return float((per_ladder / width)[one_winner & (width > 0)].mean())


def improvement_by_hours_to_close(
    frame: pd.DataFrame,
    p_column: str = "p_model",
    reference_column: str = "p_market",
    edges: tuple[float, ...] = HOURS_TO_CLOSE_EDGES,
) -> pd.DataFrame:
    """Brier of the model and the reference and the improvement per band of hours to close."""
    both = frame.loc[frame[p_column].notna() & frame[reference_column].notna()]
    hours = both["minutes_to_close"].to_numpy(float) / 60
    band = pd.cut(hours, list(edges), right=False)
    y = both["y"].to_numpy(float)
    table = pd.DataFrame(
        {
            "band": band,
            "event_ticker": both["event_ticker"].to_numpy(),
            "brier_model": (both[p_column].to_numpy(float) - y) ** 2,
            "brier_reference": (both[reference_column].to_numpy(float) - y) ** 2,
        }
    )
    result = table.groupby("band", observed=False).agg(
        n_rows=("brier_model", "size"),
        n_events=("event_ticker", "nunique"),
        brier_model=("brier_model", "mean"),
        brier_reference=("brier_reference", "mean"),
    )
    result["improvement"] = 1 - result["brier_model"] / result["brier_reference"]
    result.index = [
        f"{b.left:g}-{b.right:g}h" if np.isfinite(b.right) else f"{b.left:g}h+"
        for b in result.index
    ]
    return result


def edge_verdict(interval: ImprovementInterval, min_improvement: float) -> str:
    """Plain words for a reader who bets on them."""
    stated = (
        f"{interval.point:+.1%} ({interval.level:.0%} interval {interval.low:+.1%} .. "
        f"{interval.high:+.1%} over {interval.n_events} events)"
    )
    if interval.low <= 0 <= interval.high:
        return f"no edge found: {stated}; the interval includes zero"
    if interval.high < 0:
        return f"worse than the market: {stated}"
    if interval.point < min_improvement:
        return f"better than the market by less than the {min_improvement:.0%} asked: {stated}"
    return f"an edge: {stated}"


def _improvement(sums: pd.DataFrame, score: str) -> float:
    return float(1 - sums[f"{score}_model"].sum() / sums[f"{score}_reference"].sum())


def _improvements(sums: pd.DataFrame, score: str, draws: np.ndarray) -> np.ndarray:
    model = sums[f"{score}_model"].to_numpy(float)[draws].sum(axis=1)
    reference = sums[f"{score}_reference"].to_numpy(float)[draws].sum(axis=1)
    return 1 - model / reference


def _percentiles(values: np.ndarray, level: float) -> tuple[float, float]:
    tail = (1 - level) / 2
    low, high = np.quantile(values, [tail, 1 - tail])
    return float(low), float(high)
