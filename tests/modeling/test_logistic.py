"""Solvers reach scikit-learn's optimum; the JSON model predicts what the fitted objects predict."""

import dataclasses
import functools

import numpy as np
import pytest
from scipy.optimize import Bounds, minimize
from scipy.special import expit
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from tmaxedge.core.errors import ParamsError
from tmaxedge.modeling import logistic, tuning
from tmaxedge.modeling.calibration import (
    CalibrateParams,
    calibrate_model,
    calibrate_scores,
    choose_method,
)
from tmaxedge.modeling.cards import Calibrator, ModelCard
from tmaxedge.modeling.logistic import Preprocessor, class_weights, fit_logistic
from tmaxedge.modeling.sklearn_model import LinearProbabilityModel
from tmaxedge.modeling.tuning import ModelParams, tune_group, within_norm


def logistic_data(n=3000, d=6, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d)) * rng.uniform(0.5, 3, d) + rng.uniform(-2, 2, d)
    beta = np.array([1.5, -1.0, 0.0, 0.5, 0.0, 0.25])[:d]
    p = 1 / (1 + np.exp(-(x - x.mean(0)) @ beta + 1.2))
    y = (rng.uniform(size=n) < p).astype(int)
    return x, y


def sklearn_objective(z, y, coef, intercept, c, l1_ratio, weights):
    score = z @ coef + intercept
    losses = np.logaddexp(0, score) - y * score
    penalty = l1_ratio * np.abs(coef).sum() + (1 - l1_ratio) / 2 * (coef**2).sum()
    return c * (weights * losses).sum() + penalty


@pytest.mark.parametrize(
    "c, l1_ratio, scheme",
    [
        (0.01, 0.0, None),  # ridge, strong penalty
        (10.0, 0.0, "balanced"),  # ridge, weak penalty, class weights
        (0.005, 0.5, None),  # elastic net
        (0.002, 1.0, "balanced"),  # lasso, zeroes some coefficients
        (1.0, 0.3, None),
    ],
)
def test_fit_logistic_matches_sklearn_optimum(c, l1_ratio, scheme):
    x, y = logistic_data()
    z = Preprocessor.fit(x, [f"x{i}" for i in range(x.shape[1])]).transform(x)
    weights = class_weights(y, scheme)
    ours = fit_logistic(z, y, c, l1_ratio, weights)
    reference = LogisticRegression(
        C=c,
        l1_ratio=l1_ratio,
        solver="saga" if l1_ratio > 0 else "lbfgs",
        class_weight=scheme,
        max_iter=20000,
        tol=1e-10,
    ).fit(z, y)
    np.testing.assert_allclose(ours.coef, reference.coef_[0], atol=2e-4)
    assert ours.intercept == pytest.approx(reference.intercept_[0], abs=2e-4)
    ours_value = sklearn_objective(z, y, ours.coef, ours.intercept, c, l1_ratio, weights)
    reference_value = sklearn_objective(
        z, y, reference.coef_[0], reference.intercept_[0], c, l1_ratio, weights
    )
    assert ours_value <= reference_value * (1 + 1e-6)


def test_fit_logistic_warm_start_reaches_the_same_optimum():
    x, y = logistic_data(seed=3)
    z = Preprocessor.fit(x, list("abcdef")).transform(x)
    weights = class_weights(y, None)
    cold = fit_logistic(z, y, 0.01, 0.6, weights)
    nearby = fit_logistic(z, y, 0.1, 0.2, weights)
    warm = fit_logistic(z, y, 0.01, 0.6, weights, start=nearby)
    np.testing.assert_allclose(warm.coef, cold.coef, atol=1e-5)


def test_class_weights_balanced_matches_sklearn_formula():
    y = np.array([1, 0, 0, 0])
    np.testing.assert_allclose(class_weights(y, "balanced"), [2.0, 2 / 3, 2 / 3, 2 / 3])
    np.testing.assert_allclose(class_weights(y, None), 1.0)


def test_preprocessor_imputes_training_medians_and_ignores_all_nan_columns():
    x = np.array([[1.0, np.nan], [3.0, np.nan], [np.nan, np.nan]])
    pre = Preprocessor.fit(x, ["a", "b"])
    assert pre.medians.tolist() == [2.0, 0.0]
    z = pre.transform(np.array([[np.nan, 5.0]]))
    assert np.isfinite(z).all()


@pytest.mark.parametrize("method", ["isotonic", "sigmoid"])
def test_model_card_json_predicts_like_the_calibrated_sklearn_model(method):
    x, y = logistic_data(n=4000, seed=5)
    pre = Preprocessor.fit(x[:2000], list("abcdef"))
    linear = fit_logistic(
        pre.transform(x[:2000]), y[:2000], 1.0, 0.0, class_weights(y[:2000], None)
    )
    params = CalibrateParams(isotonic_min=1 if method == "isotonic" else 10**9, clip=1e-6)
    calibrator, fitted, info = calibrate_model(
        pre, linear, x[2000:3000], y[2000:3000], 1000, params
    )
    assert info["method"] == method
    card = ModelCard.from_dict(ModelCard(pre, linear, calibrator).to_dict())
    expected = np.clip(fitted.predict_proba(x[3000:])[:, 1], 1e-6, 1 - 1e-6)
    np.testing.assert_allclose(card.predict(x[3000:]), expected, atol=1e-9)


def test_calibrate_model_is_the_frozen_sklearn_calibration():
    x, y = logistic_data(n=3000, seed=8)
    pre = Preprocessor.fit(x[:1500], list("abcdef"))
    linear = fit_logistic(
        pre.transform(x[:1500]), y[:1500], 0.5, 0.0, class_weights(y[:1500], None)
    )
    model = LinearProbabilityModel(pre, linear).fit(None)
    direct = CalibratedClassifierCV(FrozenEstimator(model), method="sigmoid").fit(
        x[1500:], y[1500:]
    )
    calibrator, _, _ = calibrate_model(
        pre, linear, x[1500:], y[1500:], 10, CalibrateParams(clip=1e-9)
    )
    np.testing.assert_allclose(
        calibrator(model.decision_function(x[:100])), direct.predict_proba(x[:100])[:, 1], atol=1e-9
    )
    # the frozen model itself is untouched by calibration
    np.testing.assert_array_equal(model.linear.coef, linear.coef)


def test_calibrate_model_without_both_classes_keeps_the_raw_model():
    x, y = logistic_data(n=200)
    pre = Preprocessor.fit(x, list("abcdef"))
    linear = fit_logistic(pre.transform(x), y, 1.0, 0.0, class_weights(y, None))
    calibrator, fitted, info = calibrate_model(
        pre, linear, x[:5], np.zeros(5, int), 5, CalibrateParams()
    )
    assert info["method"] == "none" and info["reason"] == "single class"
    assert calibrator.method == "none"
    raw = expit(linear.decision(pre.transform(x)))  # model.joblib serves the model alone
    np.testing.assert_array_equal(fitted.predict_proba(x)[:, 1], raw)


def test_choose_method_counts_outcomes_not_rows_and_a_fixed_method_wins():
    params = CalibrateParams(isotonic_min=1000)
    assert choose_method(999, params) == "sigmoid"
    assert choose_method(1000, params) == "isotonic"
    assert choose_method(10**6, CalibrateParams(method="sigmoid")) == "sigmoid"


def test_calibrate_method_none_keeps_the_raw_model():
    x, y = logistic_data(n=400)
    pre = Preprocessor.fit(x, list("abcdef"))
    linear = fit_logistic(pre.transform(x), y, 1.0, 0.0, class_weights(y, None))
    calibrator, fitted, info = calibrate_model(
        pre, linear, x, y, 400, CalibrateParams(method="none")
    )
    assert calibrator.method == "none" and info["method"] == "none"
    raw = expit(linear.decision(pre.transform(x)))
    np.testing.assert_array_equal(fitted.predict_proba(x)[:, 1], raw)
    with pytest.raises(ParamsError, match="method must be"):
        CalibrateParams(method="platt")


def test_predicting_from_model_json_imports_neither_sklearn_nor_optuna():
    import subprocess
    import sys

    code = (
        "import sys; import tmaxedge.walkforward.artifacts, tmaxedge.walkforward.run; "
        "print(sorted(m for m in ('sklearn', 'optuna') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_calibrator_clips_away_from_zero_and_one():
    calibrator = Calibrator("sigmoid", a=-50.0, b=0.0, clip=0.001)
    p = calibrator(np.array([-10.0, 10.0]))
    assert p.min() == pytest.approx(0.001) and p.max() == pytest.approx(0.999)


@pytest.mark.parametrize("n", [2_000, 20_000])
@pytest.mark.parametrize("l1_ratio", [0.3, 0.997])
def test_fit_logistic_meets_the_optimality_conditions_on_many_collinear_rows(n, l1_ratio):
    # many rows make the loss terms large next to the penalty: the active-set search must still
    # let informative coefficients in (it once stopped at all zeros here, with 20k rows)
    rng = np.random.default_rng(2)
    base = rng.standard_normal((n, 3))
    x = np.hstack([base, base + 0.01 * rng.standard_normal((n, 3)), rng.standard_normal((n, 4))])
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-(base @ [2.0, -1.0, 0.5]) + 1.5))).astype(int)
    z = Preprocessor.fit(x, [f"x{i}" for i in range(10)]).transform(x)
    weights = class_weights(y, None)
    c = 1.2
    fit = fit_logistic(z, y, c, l1_ratio, weights)
    assert np.count_nonzero(fit.coef) >= 3
    design = np.hstack([np.ones((n, 1)), z])
    theta = np.r_[fit.intercept, fit.coef]
    p = 1 / (1 + np.exp(-(design @ theta)))
    lam = 1 / c
    gradient = design.T @ (p - y) + np.r_[0.0, lam * (1 - l1_ratio) * fit.coef]
    tol = 1e-6 * n
    assert abs(gradient[0]) < tol
    active = fit.coef != 0
    np.testing.assert_array_less(
        np.abs(gradient[1:][active] + lam * l1_ratio * np.sign(fit.coef[active])), tol
    )
    np.testing.assert_array_less(np.abs(gradient[1:][~active]), lam * l1_ratio + tol)


def test_tune_group_refuses_a_group_with_too_few_yes_days():
    rng = np.random.default_rng(0)
    dates = np.repeat([f"2024-06-{d:02d}" for d in range(1, 21)], 30)
    y = np.zeros(len(dates), int)
    y[(dates == "2024-06-03") | (dates == "2024-06-11")] = 1  # a tail that won on two days
    x = rng.normal(size=(len(y), 3))
    params = ModelParams("ridge_safe", n_trials=2, l1_ratio=0.0, min_class_days=3)
    result = tune_group(x, y, dates, ["a", "b", "c"], "ridge", params)
    assert result.status == "too_few_class_days" and result.fit is None
    assert (result.best_params["yes_days"], result.best_params["no_days"]) == (2, 18)
    fitted = tune_group(
        x, y, dates, ["a", "b", "c"], "ridge", dataclasses.replace(params, min_class_days=2)
    )
    assert fitted.status == "ok" and fitted.best_params["yes_days"] == 2


def test_tune_group_keeps_to_the_coefficient_norm_limit():
    rng = np.random.default_rng(1)
    dates = np.repeat([f"2024-06-{d:02d}" for d in range(1, 21)], 50)
    base = rng.normal(size=len(dates))
    x = np.column_stack([base + rng.normal(0, 0.01, len(dates)) for _ in range(4)])  # collinear
    y = (rng.random(len(dates)) < 1 / (1 + np.exp(-3 * base))).astype(int)
    params = ModelParams("ridge_safe", n_trials=12, l1_ratio=0.0, c_min=1e-4, c_max=1e4)
    free = tune_group(x, y, dates, list("abcd"), "ridge", params)
    limit = free.best_params["beta_norm"] * 0.8
    bound = tune_group(x, y, dates, list("abcd"), "ridge", params, beta_max=limit)
    assert bound.best_params["beta_feasible"] is True and bound.best_params["beta_norm"] <= limit
    assert bound.best_params["C"] < free.best_params["C"]
    assert bound.trials["user_attrs_beta_norm"].max() > limit  # the search saw infeasible trials
    impossible = tune_group(x, y, dates, list("abcd"), "ridge", params, beta_max=1e-6)
    assert impossible.best_params["beta_feasible"] is False
    complete = impossible.trials[impossible.trials["state"] == "COMPLETE"]
    smallest = complete.loc[complete["user_attrs_beta_norm"].idxmin()]
    assert impossible.best_params["C"] == smallest["params_ridge_C"]


def test_final_fit_keeps_the_studys_penalty_per_row_when_the_study_is_thinned():
    rng = np.random.default_rng(2)
    dates = np.repeat([f"2024-06-{d:02d}" for d in range(1, 21)], 40)
    x = rng.normal(size=(len(dates), 3))
    y = (rng.random(len(dates)) < 1 / (1 + np.exp(-x @ [1.0, -0.5, 0.2]))).astype(int)
    params = ModelParams("ridge_safe", n_trials=6, l1_ratio=0.0)
    once = tune_group(x, y, dates, list("abc"), "ridge", params)
    # every row three times, the study on one copy: the study and its final fit are the same
    thrice = tune_group(
        np.vstack([x] * 3),
        np.tile(y, 3),
        np.tile(dates, 3),
        list("abc"),
        "ridge",
        params,
        study_rows=np.arange(3 * len(y)) < len(y),
    )
    assert thrice.best_params["C"] == once.best_params["C"]
    assert np.isclose(thrice.best_params["C_fit"], once.best_params["C"] / 3)
    np.testing.assert_allclose(thrice.fit.coef, once.fit.coef, atol=1e-7)


def test_a_final_fit_over_the_norm_limit_is_shrunk_to_it_and_one_within_is_left_alone():
    rng = np.random.default_rng(2)
    base = rng.normal(size=2000)
    z = np.column_stack([base + rng.normal(0, 0.05, len(base)) for _ in range(3)])
    y = (rng.random(len(base)) < 1 / (1 + np.exp(-4 * base))).astype(int)
    weights = np.ones(len(y))
    fit = fit_logistic(z, y, 100.0, 0.0, weights)
    norm = np.linalg.norm(fit.coef)
    c, shrunk = within_norm(z, y, 100.0, 0.0, weights, fit, norm * 0.7)
    assert (
        c < 100.0 and norm * 0.63 < np.linalg.norm(shrunk.coef) <= norm * 0.7
    )  # one step short of over
    assert within_norm(z, y, 100.0, 0.0, weights, fit, norm * 1.01) == (100.0, fit)


def separable_rows(n, noise=0.0, seed=0):
    """Standardised rows whose outcome is a threshold of three features, blurred by ``noise``
    (0: separable)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 6)) * rng.uniform(0.5, 3, 6) + rng.uniform(-2, 2, 6)
    z = Preprocessor.fit(x, list("abcdef")).transform(x)
    y = (z[:, :3] @ [2.0, -1.5, 1.0] + noise * rng.standard_normal(n) > 1.5).astype(int)
    return z, y


def scipy_optimum(z, y, c, l1_ratio, weights):
    """scikit-learn's objective (``sklearn_objective``, divided by C times the total weight)
    minimised by scipy on the split coef = u - v, u, v >= 0: L-BFGS-B, then trust-constr with
    the exact Hessian from there. Log loss and residuals in forms that keep their digits at the
    large scores of a separable fit."""
    n, d = z.shape
    a = np.hstack([np.ones((n, 1)), z, -z])
    scale = 1 / (c * weights.sum())
    split = np.block([[np.eye(d), -np.eye(d)], [-np.eye(d), np.eye(d)]])

    def value(p):
        s, coef = a @ p, p[1 : d + 1] - p[d + 1 :]
        loss = weights @ ((1 - y) * np.logaddexp(0, s) + y * np.logaddexp(0, -s))
        residual = weights * np.where(y == 1, -expit(-s), expit(s))
        ridge = (1 - l1_ratio) * coef
        total = c * loss + l1_ratio * p[1:].sum() + ridge @ coef / 2
        gradient = c * a.T @ residual + np.r_[0, l1_ratio + ridge, l1_ratio - ridge]
        return total * scale, gradient * scale

    def hessian(p):
        s = a @ p
        h = c * (a * (weights * expit(s) * expit(-s))[:, None]).T @ a
        h[1:, 1:] += (1 - l1_ratio) * split
        return h * scale

    start = minimize(
        value,
        np.zeros(2 * d + 1),
        jac=True,
        method="L-BFGS-B",
        bounds=[(None, None)] + [(0, None)] * (2 * d),
        options={"maxiter": 100_000, "maxfun": 200_000, "ftol": 1e-16, "gtol": 1e-14},
    )
    bounds = Bounds(np.r_[-np.inf, np.zeros(2 * d)], np.full(2 * d + 1, np.inf))
    polished = minimize(
        value,
        start.x,
        jac=True,
        hess=hessian,
        method="trust-constr",
        bounds=bounds,
        options={"gtol": 1e-16, "xtol": 1e-16, "maxiter": 3000},
    )
    p = polished.x if polished.fun <= start.fun else start.x
    return p[1 : d + 1] - p[d + 1 :], p[0]


@pytest.mark.parametrize(
    "n, noise, l1_ratio",
    [
        (10_000, 0.0, 1.0),  # lasso, separable: the old rule stopped 0.03 off in probability
        (10_000, 0.0, 0.99),  # elastic net, separable: 0.0025 off
        (2_000, 0.01, 1.0),  # lasso, nearly separable: 0.0005 off
    ],
)
def test_fit_logistic_reaches_the_optimum_on_separable_rows_at_the_top_of_the_c_range(
    n, noise, l1_ratio
):
    # C = 1e4 is params.yaml's c_max: C times the rows is 1e7 or more, where a tolerance of
    # 1e-8 of the total weight on the gradient exceeds the L1 penalty's own gradient
    z, y = separable_rows(n, noise)
    c, weights = 1e4, class_weights(y, None)
    fit = fit_logistic(z, y, c, l1_ratio, weights)
    coef, intercept = scipy_optimum(z, y, c, l1_ratio, weights)
    np.testing.assert_allclose(
        expit(fit.decision(z)), expit(z @ coef + intercept), rtol=0, atol=1e-4
    )
    assert fit.converged
    ours = sklearn_objective(z, y, fit.coef, fit.intercept, c, l1_ratio, weights)
    assert ours <= sklearn_objective(z, y, coef, intercept, c, l1_ratio, weights) * (1 + 1e-9)


def test_fit_logistic_reports_a_fit_stopped_at_its_iteration_limit():
    z, y = separable_rows(2_000)
    weights = class_weights(y, None)
    capped = fit_logistic(z, y, 1e4, 1.0, weights, max_iter=3)
    assert (capped.converged, capped.n_iter) == (False, 3)
    full = fit_logistic(z, y, 1e4, 1.0, weights)
    assert full.converged and full.n_iter < 100


def test_tune_group_records_the_fits_stopped_at_the_iteration_limit(monkeypatch):
    rng = np.random.default_rng(4)
    dates = np.repeat([f"2024-06-{d:02d}" for d in range(1, 13)], 40)
    x = rng.normal(size=(len(dates), 3))
    y = (rng.random(len(dates)) < 1 / (1 + np.exp(-x @ [1.0, -0.5, 0.2]))).astype(int)
    params = ModelParams("ridge_safe", n_trials=3, l1_ratio=0.0, pruner="none")
    converged = tune_group(x, y, dates, list("abc"), "ridge", params)
    # a study whose fits all converge leaves the files it always did
    assert tuning.NOT_CONVERGED not in converged.best_params
    assert "final_fit_converged" not in converged.best_params
    assert f"user_attrs_{tuning.NOT_CONVERGED}" not in converged.trials.columns
    monkeypatch.setattr(tuning, "fit_logistic", functools.partial(fit_logistic, max_iter=1))
    capped = tune_group(x, y, dates, list("abc"), "ridge", params)
    per_trial = capped.trials[f"user_attrs_{tuning.NOT_CONVERGED}"]
    assert per_trial.tolist() == [params.n_splits] * params.n_trials
    assert capped.best_params[tuning.NOT_CONVERGED] == params.n_splits * params.n_trials + 1
    assert capped.best_params["final_fit_converged"] is False


def test_the_lasso_step_goes_on_past_a_coefficient_left_at_a_rounding_residue():
    # one Newton step's model, x'Hx/2 + linear'x + l1 |x[1:]|, whose L1 term is strong enough to
    # zero every coefficient, from a point with one coefficient at -5e-17 (left by two nearly
    # simultaneous zero crossings): it reaches zero at once, a fall rounding hides. The step
    # returned the point itself, and the solver sat there until its iteration limit (warm-started
    # elastic-net folds on the default world, 0.3 off in probability)
    hessian = np.array(
        [
            [
                3.6114375516636854,
                -9.3180227188675315e-04,
                -0.51856194675242651,
                -0.86305011184015923,
            ],
            [
                -9.3180227188675315e-04,
                0.69565126044824499,
                1.6496112987826526,
                -0.37265556628796176,
            ],
            [-0.51856194675242651, 1.6496112987826526, 6.4348212617005007, 0.12191214709667650],
            [-0.86305011184015923, -0.37265556628796176, 0.12191214709667650, 0.84075194581007895],
        ]
    )
    theta = np.array(
        [-0.20252987069345152, -4.5834351246890701e-17, 6.8569861080925794, -8.7034064194717118]
    )
    gradient = np.array([0.0, -192.03405901180287, -81.40536639453595, -46.7597558892747])
    l1 = 14924.638840630338
    step = logistic._lasso_newton_step(theta, gradient, hessian, l1)
    linear = gradient - hessian @ theta

    def model(x):
        return 0.5 * x @ hessian @ x + linear @ x + l1 * np.abs(x[1:]).sum()

    assert step[1:].tolist() == [0.0, 0.0, 0.0]
    assert model(step) < model(theta) - 1e3
    assert abs((hessian @ step + linear)[0]) < 1e-9  # the intercept at its optimum


def collinear_weather_rows(seed: int, n: int = 7_000):
    """Ten noisy copies of three signals (the weather features' shape), one of them driving a
    rare outcome: strong L1 keeps a few copies."""
    rng = np.random.default_rng(seed)
    signals = rng.normal(size=(n, 3))
    z = np.hstack([signals + 0.3 * rng.normal(size=(n, 3)) for _ in range(10)])
    z = (z - z.mean(0)) / z.std(0)
    y = (rng.random(n) < expit(-1.4 + 0.8 * signals[:, 0])).astype(float)
    return z, y


@pytest.mark.parametrize("seed", [2, 5])
@pytest.mark.parametrize("c, l1_ratio", [(7.9e-4, 0.87), (2.5e-4, 0.9)])
def test_a_warm_start_a_rounding_away_from_the_optimum_converges(seed, c, l1_ratio):
    # the elastic-net studies' fold fits start from a neighbouring trial's fit: one 1e-7 off in
    # the intercept has a gradient just above the stopping bound, and a Newton step whose fall
    # (gradient squared) is below the rounding of the objective's sum over 7,000 rows. Judged by
    # the objective alone, the step was halved to nothing each time until the iteration limit
    # (3 fold fits of the default run; how many depended on the CPU's summation order)
    z, y = collinear_weather_rows(seed)
    weights = class_weights(y, None)
    cold = fit_logistic(z, y, c, l1_ratio, weights)
    start = dataclasses.replace(cold, intercept=cold.intercept + 1e-7)
    warm = fit_logistic(z, y, c, l1_ratio, weights, start)
    assert cold.converged and warm.converged and warm.n_iter <= 10
    # both within the stopping rule's promise: no probability more than 1e-6 from the optimum
    np.testing.assert_allclose(expit(warm.decision(z)), expit(cold.decision(z)), rtol=0, atol=2e-6)


def test_fit_logistic_refuses_labels_other_than_0_and_1():
    z, y = collinear_weather_rows(0, n=200)
    with pytest.raises(ValueError, match="labels y must be 0 or 1"):
        fit_logistic(z, np.where(y == 1, 1.0, 0.5), 1.0, 0.0, np.ones(len(y)))


def test_one_stream_draws_are_those_of_one_seeded_tpe_sampler_as_the_brief_runs_it():
    import optuna

    def objective(trial):
        return (trial.suggest_float("x", -1, 1) - 0.3) ** 2 + 0.1 * trial.suggest_float("y", 0, 1)

    def draws(study):
        return [t.params for t in study.trials]

    plain = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=1337))
    plain.optimize(objective, n_trials=14)  # past TPE's 10 start-up draws
    one_stream = optuna.create_study()
    tuning.run_trials(one_stream, objective, 14, 1337, "one_stream")
    per_trial = optuna.create_study()
    tuning.run_trials(per_trial, objective, 14, 1337, "per_trial")
    assert draws(one_stream) == draws(plain)
    assert draws(per_trial) != draws(plain)


def test_isotonic_counts_rows_where_the_brief_does_and_market_days_by_default():
    rng = np.random.default_rng(5)
    score = rng.normal(size=600)
    y = (rng.random(600) < expit(score)).astype(int)
    by_rows = CalibrateParams(method="auto", isotonic_min=500, isotonic_counts="rows")
    # 600 rows of 12 market-days: isotonic by the rows, sigmoid by the independent outcomes
    assert calibrate_scores(score, y, 12, by_rows).info["method"] == "isotonic"
    by_days = dataclasses.replace(by_rows, isotonic_counts="market_days")
    assert calibrate_scores(score, y, 12, by_days).info["method"] == "sigmoid"
    with pytest.raises(ParamsError, match="isotonic_counts"):
        CalibrateParams(isotonic_counts="minutes")


def rows_with_gaps(seed: int = 5) -> np.ndarray:
    """Skewed columns with a third of their values missing, one column empty, one constant."""
    rng = np.random.default_rng(seed)
    x = rng.lognormal(size=(300, 4)) * [1.0, 10.0, 0.1, 3.0]
    x[rng.random(x.shape) < 0.33] = np.nan
    x[:, 2] = np.nan
    x[:, 3] = np.where(np.isnan(x[:, 3]), np.nan, 7.0)
    return x


@pytest.mark.parametrize(
    "order, steps",
    [
        ("impute_then_scale", [SimpleImputer(strategy="median"), StandardScaler()]),
        ("scale_then_impute", [StandardScaler(), SimpleImputer(strategy="median")]),
    ],
)
def test_preprocessing_order_matches_the_sklearn_pipeline_in_that_order(order, steps):
    x = rows_with_gaps()
    usable = [0, 1, 3]  # scikit-learn's imputer drops an all-missing column; ours keeps it at 0
    reference = make_pipeline(*steps).fit(x[:, usable])
    unseen = rows_with_gaps(seed=6)
    ours = Preprocessor.fit(x, list("abcd"), order)
    np.testing.assert_allclose(
        ours.transform(unseen)[:, usable], reference.transform(unseen[:, usable]), atol=1e-12
    )
    np.testing.assert_array_equal(ours.transform(unseen)[:, 2], 0.0)


def test_the_two_preprocessing_orders_differ_only_in_mean_and_spread():
    x = rows_with_gaps()
    first, second = (
        Preprocessor.fit(x, list("abcd"), order)
        for order in ("impute_then_scale", "scale_then_impute")
    )
    np.testing.assert_array_equal(first.medians, second.medians)
    assert not np.allclose(first.scales[:2], second.scales[:2])  # medians shrink the spread
    again = Preprocessor.from_dict(second.to_dict())
    assert again.order == "scale_then_impute"
    np.testing.assert_array_equal(again.transform(x), second.transform(x))


def test_preprocessing_order_outside_the_list_is_refused():
    with pytest.raises(ValueError, match="scale_then_impute"):
        Preprocessor.fit(rows_with_gaps(), list("abcd"), "scale_only")
