"""Opinion pooling with the market: logit(p*) = w * logit(p_model) + (1 - w) * logit(p_market).

w is chosen on a grid by log loss on predictions the model made out of sample inside the
training window (its calibration split: the model was fitted on the days before it). With
``scope: strike_type`` one w is shared by every city's groups of a strike type in the window:
a tail group's calibration split holds a couple of dozen outcomes, too few to pin w down on
its own (see docs/modelling.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from scipy.special import expit

from tmaxedge.core.keys import Group
from tmaxedge.core.params import Boolean, Interval, Options, Params, declare
from tmaxedge.core.probability import log_loss, safe_logit

POOL_SCOPES = ("group", "strike_type")


@dataclass(frozen=True)
class PoolParams(Params):
    """params.yaml ``pool``."""

    constraints = declare(
        enabled=Boolean(),
        scope=Options(POOL_SCOPES),
        w_grid_step=Interval(float, 0, 1, closed="right"),
    )
    enabled: bool = True
    scope: str = "strike_type"
    w_grid_step: float = 0.05

    def grid(self) -> np.ndarray:
        n = int(round(1 / self.w_grid_step))
        return np.linspace(0.0, 1.0, n + 1)


class PoolEvidence(NamedTuple):
    """What w is fitted on: the calibrated model's and the market's P(YES) on rows the model
    was not fitted on, and the outcomes."""

    p_model: np.ndarray
    p_market: np.ndarray
    y: np.ndarray


# a group whose scope had no calibration rows keeps the model's own forecast
NO_POOL_FIT = {"w": None, "reason": "no calibration rows in scope", "n_rows": 0, "n_positive": 0}


def pool_probability(p_model: np.ndarray, p_market: np.ndarray, w: float | None) -> np.ndarray:
    """The pooled probability; the model's own where the market has no price or w is None."""
    p_model = np.asarray(p_model, float)
    if w is None:
        return p_model.copy()
    p_market = np.asarray(p_market, float)
    pooled = expit(w * safe_logit(p_model) + (1 - w) * safe_logit(p_market))
    return np.where(np.isnan(p_market), p_model, pooled)


def fit_pool_weight(
    p_model: np.ndarray, p_market: np.ndarray, y: np.ndarray, params: PoolParams
) -> dict:
    """The grid w with the lowest log loss on rows where both probabilities exist.

    Ties go to the larger w (the grid is scanned from 1 down), so a market that adds nothing
    leaves the model alone. Returns w (None when there is nothing to fit on) and the evidence.
    """
    both = ~np.isnan(p_model) & ~np.isnan(p_market)
    info = {"n_rows": int(both.sum()), "n_positive": int(np.asarray(y)[both].sum())}
    if not both.any() or len(np.unique(np.asarray(y)[both])) < 2:
        return {"w": None, "reason": "no rows with both probabilities and both outcomes", **info}
    y, p_model, p_market = np.asarray(y, float)[both], p_model[both], p_market[both]
    grid = params.grid()[::-1]
    losses = [log_loss(y, pool_probability(p_model, p_market, w)) for w in grid]
    best = int(np.argmin(losses))
    return {
        "w": float(grid[best]),
        "log_loss": float(losses[best]),
        "log_loss_model": float(losses[0]),
        "log_loss_market": float(losses[-1]),
        **info,
    }


def fit_pool_weights(
    evidence: dict[str, list[PoolEvidence]], params: PoolParams
) -> dict[str, dict]:
    """w of each scope key (``scope_key``), fitted on all its pieces together: every group's in
    the scope, from every fold (one fold: the calibration split)."""
    return {key: fit_pool_weight(*joined(pieces), params) for key, pieces in evidence.items()}


def joined(pieces: list[PoolEvidence]) -> PoolEvidence:
    """The pieces' rows in one."""
    return PoolEvidence(*(np.concatenate(column) for column in zip(*pieces, strict=True)))


def scope_key(group: Group, scope: str) -> str:
    """Groups sharing a key share one w: the group's own name, or its strike type."""
    return group.name if scope == "group" else group.strike_type
