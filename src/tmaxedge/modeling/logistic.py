"""Linear probability models: preprocessing, exact penalised logistic fits, JSON round trip.

One model = median imputation and standardisation -> penalised logistic regression, with an
optional calibrator on top. Preprocessing is fitted once per (window, city, strike type) on the
fit split (it uses no labels), so every tuning trial reuses it.

Solvers, both minimising scikit-learn's objective
``C * sum_i s_i * logloss_i + l1_ratio * |w|_1 + (1 - l1_ratio) / 2 * |w|_2^2``:

one proximal Newton solver for ridge (``l1_ratio == 0``: plain Newton, as scikit-learn's
``newton-cholesky``), elastic net and lasso (coordinate descent on each Newton step's quadratic
model, as glum's IRLS-CD). The feature count is small (tens), so the (d+1)-square Hessian is
cheap and each fit costs a few passes over the rows. tests/modeling/test_logistic.py checks the
optimum against scikit-learn's solvers.

Class weights enter as sample weights ``s_i`` in both.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.special import expit

# impute_then_scale: the scaler's mean and spread are those of the rows the model is fitted on
# (missing values already at the median); scale_then_impute: the brief's order, a scaler fitted
# on the values present (as scikit-learn's StandardScaler skips NaN), then the median imputed on
# that scale. Both map a missing value to the column's median, so only the mean and spread differ.
PREPROCESSING_ORDERS = ("impute_then_scale", "scale_then_impute")


@dataclass
class Preprocessor:
    """Median imputation and standardisation, fitted on one training slice in ``order``."""

    columns: list[str]
    medians: np.ndarray
    means: np.ndarray
    scales: np.ndarray
    order: str = "impute_then_scale"  # among PREPROCESSING_ORDERS

    @classmethod
    def fit(
        cls, x: np.ndarray, columns: list[str], order: str = "impute_then_scale"
    ) -> Preprocessor:
        if order not in PREPROCESSING_ORDERS:
            raise ValueError(f"order must be one of {PREPROCESSING_ORDERS}; got {order!r}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN column: median 0, scale 1
            medians = np.nanmedian(x, axis=0)
            medians = np.where(np.isfinite(medians), medians, 0.0)
            if order == "impute_then_scale":
                filled = np.where(np.isnan(x), medians, x)
                means, scales = filled.mean(axis=0), filled.std(axis=0)
            else:
                means, scales = np.nanmean(x, axis=0), np.nanstd(x, axis=0)
        means = np.where(np.isfinite(means), means, 0.0)
        scales = np.where(scales > 1e-12, scales, 1.0)
        return cls(list(columns), medians, means, scales, order)

    def transform(self, x: np.ndarray) -> np.ndarray:
        filled = np.where(np.isnan(x), self.medians, x)
        return (filled - self.means) / self.scales

    def to_dict(self) -> dict:
        return {
            "columns": self.columns,
            "medians": self.medians.tolist(),
            "means": self.means.tolist(),
            "scales": self.scales.tolist(),
            "order": self.order,
        }

    @classmethod
    def from_dict(cls, d: dict) -> Preprocessor:
        arrays = (np.asarray(d[k], float) for k in ["medians", "means", "scales"])
        return cls(list(d["columns"]), *arrays, d.get("order", "impute_then_scale"))


def class_weights(y: np.ndarray, scheme: str | None) -> np.ndarray:
    """Per-row weights: ones, or scikit-learn's 'balanced' ``n / (2 * n_class)``."""
    if scheme is None:
        return np.ones(len(y))
    if scheme != "balanced":
        raise ValueError(f"class_weight must be None or 'balanced'; got {scheme!r}")
    n_pos = y.sum()
    n_neg = len(y) - n_pos
    return np.where(y == 1, len(y) / (2 * max(n_pos, 1)), len(y) / (2 * max(n_neg, 1)))


@dataclass
class LinearFit:
    """Coefficients on the standardised scale and the intercept; a fit also says how its solver
    ended (``n_iter`` Newton steps; ``converged`` False when it stopped without meeting its
    stopping rule: at the iteration limit, or unable to lower the objective any further). Only the
    coefficients and the intercept are part of the model (model.json)."""

    coef: np.ndarray
    intercept: float
    n_iter: int = 0
    converged: bool = True

    def decision(self, z: np.ndarray) -> np.ndarray:
        return z @ self.coef + self.intercept


def fit_logistic(
    z: np.ndarray,
    y: np.ndarray,
    c: float,
    l1_ratio: float,
    weights: np.ndarray,
    start: LinearFit | None = None,
    tol: float = 1e-8,
    max_iter: int = 100,
    prob_tol: float = 1e-6,
) -> LinearFit:
    """Penalised logistic regression on standardised ``z`` (see the module docstring).

    Proximal Newton: each step minimises the exact quadratic model of the weighted log loss
    plus the penalty by coordinate descent on the (d+1)-square Hessian, then backtracks on the
    true objective. With ``l1_ratio == 0`` the inner problem is solved in closed form (plain
    Newton). ``start`` warm-starts from a nearby fit, the optimum does not depend on it.

    Stopping rule, in two parts. First, the optimality conditions hold to ``tol`` relative to the
    total weight (under L1, or to the precision the step's own model is solved to, when that is
    coarser). That alone is no proof: where the rows are (nearly) separable and the penalty is
    weak (C times the total weight beyond about 1e7), the loss is so flat that its gradient is
    below that bound far from the optimum, whose coefficients are still growing. So, second, the
    next Newton step (near the optimum with a damping relative to the Hessian, not to the total
    weight, so it is the true step) would move no row's probability by more than ``prob_tol``:
    near the optimum a Newton step is the distance to it, on every scale of C and rows. When the
    objective can no longer tell a step from the current point, the fit ends there, converged if
    that step is that small. A fit that reaches ``max_iter`` steps, or ends unable to lower the
    objective by a larger step, is returned with ``converged`` False.
    """
    n, d = z.shape
    design = np.hstack([np.ones((n, 1)), z])
    total = weights.sum()
    lam = 1.0 / c
    l1 = lam * l1_ratio
    l2 = np.r_[0.0, np.full(d, lam * (1 - l1_ratio))]
    theta = np.zeros(d + 1)
    if start is not None:
        theta = np.r_[start.intercept, start.coef]
    else:
        rate = np.clip(np.average(y, weights=weights), 1e-6, 1 - 1e-6)
        theta[0] = np.log(rate / (1 - rate))

    # log(1 + e^-s) where y = 1, log(1 + e^s) where y = 0: no cancellation at the large scores
    # of a separable fit, where log(1 + e^s) - y s loses every digit of a small loss; for 0/1
    # labels one logaddexp of the signed score is the same number as the weighted sum of both
    if not np.all((y == 0) | (y == 1)):
        raise ValueError("fit_logistic: labels y must be 0 or 1")
    signs = 1.0 - 2.0 * y

    def objective(t: np.ndarray) -> float:
        loss = weights @ np.logaddexp(0, signs * (design @ t))
        return loss + 0.5 * l2 @ (t * t) + l1 * np.abs(t[1:]).sum()

    def fit(n_iter: int, converged: bool) -> LinearFit:
        return LinearFit(theta[1:].copy(), float(theta[0]), n_iter, converged)

    def largest_move(target: np.ndarray, p: np.ndarray) -> float:
        return float(np.abs(expit(design @ target) - p).max())

    def gradient_at(t: np.ndarray) -> np.ndarray:
        return design.T @ (weights * (expit(design @ t) - y)) + l2 * t

    value = objective(theta)
    for n_iter in range(1, max_iter + 1):
        p = expit(design @ theta)
        gradient = design.T @ (weights * (p - y)) + l2 * theta
        near = _optimal(gradient, theta, l1, tol * total)
        curvature = weights * p * (1 - p)
        hessian = (design * curvature[:, None]).T @ design + np.diag(l2)
        hessian[np.diag_indices_from(hessian)] += _damping(hessian, total, near)
        if l1 == 0:
            target = theta - np.linalg.solve(hessian, gradient)
        else:
            target = _lasso_newton_step(theta, gradient, hessian, l1)
            # the step's own optimality test is relative to its model's terms: where they are
            # large, the conditions cannot be met more closely than that
            near = near or _optimal(gradient, theta, l1, _model_tol(gradient - hessian @ theta, l1))
        # the probabilities the step would move (computed only when it can decide)
        if near and largest_move(target, p) <= prob_tol:
            return fit(n_iter, True)
        if np.array_equal(target, theta):
            # no improvement of the step's model is large enough to show in floating point:
            # every further iteration would repeat this one. Converged if the step that the
            # signs alone prescribe is one no probability would notice
            signs = _sign_fixed_step(theta, gradient, hessian, l1)
            return fit(n_iter, signs is not None and largest_move(signs, p) <= prob_tol)
        step = 1.0
        while True:
            candidate = theta + step * (target - theta)
            candidate_value = objective(candidate)
            if candidate_value <= value or step < 1e-10:
                break
            if _within_rounding(candidate_value, value) and _violation(
                gradient_at(candidate), candidate, l1
            ) < _violation(gradient, theta, l1):
                # the objective's rounding hides the step's fall (near the optimum the fall is
                # the gradient squared, below the sum's rounding once the gradient is near
                # 1e-8 of the total weight): the optimality conditions judge it instead, as in
                # scikit-learn's Newton solvers; halving instead crawls to the iteration limit
                break
            step /= 2
        if value - candidate_value <= 1e-15 * max(abs(value), 1.0) and step < 1e-10:
            # the objective cannot tell the step from here: as close as arithmetic allows if the
            # step is one no probability would notice
            return fit(n_iter, bool(largest_move(target, p) <= prob_tol))
        theta, value = candidate, candidate_value
    return fit(max_iter, False)


def _sign_fixed_step(theta, gradient, hessian, l1) -> np.ndarray | None:
    """The Newton step of the intercept and the nonzero coefficients with their signs fixed (the
    others stay zero); None when a zero coefficient breaks its optimality condition."""
    free = np.r_[True, theta[1:] != 0]
    slack = np.abs(gradient[~free]) - l1
    if np.any(slack > _model_tol(gradient - hessian @ theta, l1)):
        return None
    step = theta.copy()
    rhs = gradient[free] + l1 * np.r_[0.0, np.sign(theta[1:][free[1:]])]
    step[free] -= np.linalg.solve(hessian[np.ix_(free, free)], rhs)
    return step


def _model_tol(linear: np.ndarray, l1: float) -> float:
    """How closely a Newton step's model (``x'Hx/2 + linear'x + l1 |x[1:]|``) is minimised:
    relative to the size of its terms (they grow with the rows)."""
    return 1e-9 * max(1.0, float(np.abs(linear).max()), l1)


def _damping(hessian: np.ndarray, total: float, near: bool) -> float:
    """What the Hessian's diagonal gets so a singular one (collinear or constant columns under a
    pure L1 penalty) still solves: 1e-10 of the total weight on the way, 1e-10 of the Hessian's
    own largest entry near the optimum (of the total weight, it would shorten the steps ever more
    where the rows' curvature is far below their weight: a separable fit)."""
    if not near:
        return 1e-10 * total
    largest = hessian.diagonal().max()
    return 1e-10 * (largest if largest > 0 else total)


def _optimal(gradient: np.ndarray, theta: np.ndarray, l1: float, tol: float) -> bool:
    """Subgradient optimality to ``tol`` (``_violation``)."""
    return _violation(gradient, theta, l1) <= tol


def _violation(gradient: np.ndarray, theta: np.ndarray, l1: float) -> float:
    """The largest breach of the optimality conditions: the gradient at the intercept and at
    nonzero coefficients (after the L1 term), its excess over the L1 bound at zero ones."""
    beta, g = theta[1:], gradient[1:]
    active = beta != 0
    at_active = np.abs(g[active] + l1 * np.sign(beta[active]))
    at_zero = np.abs(g[~active]) - l1
    return float(max(abs(gradient[0]), at_active.max(initial=0.0), at_zero.max(initial=0.0)))


def _within_rounding(a: float, b: float) -> bool:
    """Two objective values that the rounding of a sum over the rows cannot tell apart."""
    return abs(a - b) <= 16 * np.finfo(float).eps * max(abs(a), abs(b), 1.0)


def _lasso_newton_step(
    theta: np.ndarray, gradient: np.ndarray, hessian: np.ndarray, l1: float
) -> np.ndarray:
    """Exact minimiser of the Newton step's model plus ``l1 * |beta|_1`` (intercept free).

    Feature-sign search (Lee, Battle, Raina and Ng, 2007): guess the signs, solve the
    sign-fixed quadratic on the active set exactly, walk back to the best point where a sign
    would flip, and let the worst optimality violator in. Each step strictly lowers the model, so
    it ends after finitely many small (active-set) linear solves; coordinate descent instead
    crawls on the nearly collinear weather features.
    """
    d = len(theta)
    linear = gradient - hessian @ theta  # model: x'Hx/2 + linear'x + l1 |x[1:]|_1
    penalised = np.arange(d) > 0

    def model(x: np.ndarray) -> float:
        return 0.5 * x @ hessian @ x + linear @ x + l1 * np.abs(x[1:]).sum()

    x = theta.copy()
    sign = np.sign(x) * penalised
    tol = _model_tol(linear, l1)
    active = ~penalised | (x != 0)
    for _ in range(20 * d):
        grad = hessian @ x + linear
        if np.all(np.abs(grad[active] + l1 * sign[active]) <= tol):
            if not _let_in_worst_violator(x, grad, sign, active, penalised, l1, tol):
                break
        index = np.flatnonzero(active)
        proposal = x.copy()
        proposal[index] = np.linalg.solve(
            hessian[np.ix_(index, index)], -(linear[index] + l1 * sign[index])
        )
        x_next = _best_before_sign_flip(x, proposal, index, penalised, model)
        if x_next is x:
            # the active set is solved as well as floating point allows: let a violator in
            if not _let_in_worst_violator(x, grad, sign, active, penalised, l1, tol):
                break
            continue
        x = x_next
        sign = np.sign(x) * penalised
        active = ~penalised | (x != 0)
    return x


def _let_in_worst_violator(x, grad, sign, active, penalised, l1, tol) -> bool:
    """Activate the zero coefficient whose gradient most exceeds the L1 bound (in place);
    False when every zero coefficient is optimal."""
    violation = np.where(penalised & ~active, np.abs(grad) - l1, -np.inf)
    j = int(np.argmax(violation))
    if violation[j] <= tol:
        return False
    sign[j] = -np.sign(grad[j])
    active[j] = True
    return True


def _best_before_sign_flip(x, proposal, index, penalised, model):
    """The lowest-model point among ``proposal`` and the points on the segment from ``x`` where a
    coefficient reaches zero (that coefficient set exactly to zero); ``x`` itself if none is
    lower and no coefficient reaches zero.

    Up to the first such point the model is the sign-fixed quadratic, which falls all the way to
    ``proposal``, so the first point is never above ``x``. When rounding hides its fall (a
    coefficient left at 1e-17 by two nearly simultaneous zero crossings reaches zero at once),
    it is taken all the same: it drops that coefficient, so the search goes on instead of stopping
    on an active set it cannot solve.
    """
    start, end = x[index], proposal[index]
    flips = penalised[index] & (start != 0) & (np.sign(end) != np.sign(start))
    candidates = [proposal]
    first, first_t = x, np.inf
    for k in np.flatnonzero(flips):
        t = start[k] / (start[k] - end[k])
        candidate = x + t * (proposal - x)
        candidate[index[k]] = 0.0
        candidates.append(candidate)
        if t < first_t:
            first, first_t = candidate, t
    best, best_value = x, model(x)
    for candidate in candidates:
        value = model(candidate)
        if value < best_value:
            best, best_value = candidate, value
    return first if best is x else best
