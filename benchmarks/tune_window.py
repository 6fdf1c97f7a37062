"""Benchmark per-window tuning: tmaxedge's tuner against the brief's scikit-learn baseline.

For one walk-forward window of the features table (the fit split: ``windows.make_window`` and
``windows.split_rows``) and a few (city, strike type) groups, each model type is tuned three ways
on the same design matrix (the stage's columns, nowcast included), single process, one BLAS
thread, the same number of Optuna trials:

  sklearn        the brief's baseline: Optuna TPE (the model's sampler seed, 1337) around a
                 Pipeline(median imputation, StandardScaler, LogisticRegression) scored by
                 cross_val_predict with GroupKFold(n_splits) grouped by event date, log loss, on
                 every fit row (no thinning); ridge = solver lbfgs with l1_ratio 0, elastic net /
                 lasso = solver saga (l1_ratio tuned / fixed), scikit-learn's default tol and
                 max_iter; then the best trial is refitted on all rows (as tune_group does).
  tune_group     tmaxedge.modeling.tuning.tune_group on every fit row (no thinning): the solver
                 alone.
  stage          walkforward.tune.tune_one exactly as the tune stage calls it: nowcast columns
                 + tune_group with the study thinned to tune_every_minutes (params.yaml).

The search space (C range, class weights, l1_ratio) comes from params.yaml ``tune.<model>``;
parameter names and order are the tuner's, so with at most 10 trials (TPE's random start-up)
every method evaluates the same (C, class_weight, l1_ratio) sequence. Printed per (model, group,
method): study rows, trials (pruned), seconds, seconds per trial, the best CV log loss on the
method's own study rows, the CV log loss of the method's best parameters re-scored on all rows by
one common scorer (tmaxedge's folds and exact solver), the final fit's log loss on the window's
test week (the same rows for every method, so a shortcut's cost shows there), the best C /
l1_ratio / class weight, scikit-learn convergence warnings, and the speed ratio sklearn / method.

``--every-minutes 1`` rebuilds the groups' cities from the ingested tables (``data/raw``) at
one-minute cadence, as the features stage would with ``features.every_minutes: 1`` (about five
times the rows of the default five-minute table; ~280k fit rows for a city's between bins).
``--dump`` writes the groups' fit and test rows (city, bracket, market_ticker, timestamp,
event_date, split, y, p_market and the feature columns) as Parquet, so another implementation
can be timed on exactly the same rows; ``--results`` writes the numbers as JSON.

Then the optimum check: at one fixed (C, l1_ratio, class_weight), scikit-learn's solver (the
baseline's settings, and for lbfgs also tight ones) and tmaxedge.modeling.logistic.fit_logistic
fit the same standardised rows; printed: max |coef difference|, the in-sample mean log-loss
difference and the relative difference of the penalised objective both minimise (positive =
tmaxedge lower).

    .venv/bin/python benchmarks/tune_window.py                      # ~5 minutes on 2 cores
    .venv/bin/python benchmarks/tune_window.py --trials 20 --groups chi_between --window 2024-07-07
    .venv/bin/python benchmarks/tune_window.py --groups chi_between --every-minutes 1  # ~25 min
    .venv/bin/python benchmarks/tune_window.py --results runs/tune_benchmark.json \\
        --dump rows.parquet
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import os
import platform
import shutil
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import yaml
from scipy.special import expit
from threadpoolctl import threadpool_limits
from tqdm import tqdm

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))

import sklearn  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.impute import SimpleImputer  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import log_loss as sklearn_log_loss  # noqa: E402
from sklearn.model_selection import GroupKFold, cross_val_predict  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from tmaxedge.core import io
from tmaxedge.core.config import parse_cities
from tmaxedge.core.keys import Group
from tmaxedge.core.probability import log_loss as tmaxedge_log_loss
from tmaxedge.features import build as features
from tmaxedge.features import nowcast
from tmaxedge.modeling.logistic import Preprocessor, class_weights, fit_logistic
from tmaxedge.modeling.tuning import ModelParams, TuneResult, thin_rows, tune_group
from tmaxedge.walkforward import groups as walkforward
from tmaxedge.walkforward.tune import tune_one
from tmaxedge.walkforward.windows import WindowParams, make_window, read_window_rows

optuna.logging.set_verbosity(optuna.logging.WARNING)

ROOT = Path(__file__).resolve().parents[1]
SKLEARN_DEFAULT_TOL = 1e-4
SKLEARN_DEFAULT_MAX_ITER = 100
METHODS = ("sklearn", "tune_group", "stage")


@dataclass
class Design:
    """One group's fit-split design for one model type, built as tune.tune_one does."""

    part: pd.DataFrame  # the raw rows (tune_one gets these)
    x: np.ndarray
    y: np.ndarray
    dates: np.ndarray
    columns: list[str]
    study_rows: np.ndarray  # the stage's thinning mask
    prep_seconds: float
    x_test: np.ndarray  # the window's test rows, nowcast from the fit rows' tables
    y_test: np.ndarray


def design(part: pd.DataFrame, test: pd.DataFrame, params: ModelParams) -> Design:
    t0 = time.perf_counter()
    rows = part
    if "nowcast" in params.extra_features:
        tables = nowcast.fit_tables(part)
        rows = nowcast.add_columns(part, tables, leave_own_day_out=True)
        test = nowcast.add_columns(test, tables)
    columns = walkforward.model_columns(rows, params.feature_set, params.extra_features)
    x = walkforward.design_matrix(rows, columns)
    seconds = time.perf_counter() - t0
    return Design(
        part,
        x,
        rows["y"].to_numpy(int),
        rows["event_date"].astype(str).to_numpy(),
        columns,
        thin_rows(rows["ts"], params.tune_every_minutes),
        seconds,
        walkforward.design_matrix(test, columns),
        test["y"].to_numpy(int),
    )


def solver_of(params: ModelParams) -> str:
    """The brief's scikit-learn solver: lbfgs for pure L2, saga whenever L1 enters."""
    return "lbfgs" if params.l1_ratio == 0 else "saga"


def sklearn_model(
    c, l1_ratio, scheme, solver, tol=SKLEARN_DEFAULT_TOL, max_iter=SKLEARN_DEFAULT_MAX_ITER
) -> LogisticRegression:
    # scikit-learn >= 1.8: no penalty= (deprecated); l1_ratio alone picks L2 / elastic net / L1
    return LogisticRegression(
        C=c,
        l1_ratio=l1_ratio,
        class_weight=None if scheme in (None, "none") else scheme,
        solver=solver,
        tol=tol,
        max_iter=max_iter,
    )


# ----------------------------------------------------------------------------------------------
# the three ways to tune


def run_sklearn(
    d: Design, model: str, params: ModelParams, n_trials: int, max_iter: int, bar: tqdm
) -> dict:
    """The brief's baseline: TPE around a Pipeline scored by cross_val_predict, all rows."""
    solver = solver_of(params)
    cv = GroupKFold(n_splits=params.n_splits)
    warned = {"folds": 0}

    def pipeline(c, l1_ratio, scheme):
        estimator = sklearn_model(c, l1_ratio, scheme, solver, max_iter=max_iter)
        return make_pipeline(SimpleImputer(strategy="median"), StandardScaler(), estimator)

    def decode(values: dict) -> tuple[float, str, float]:
        l1 = params.l1_ratio if params.l1_ratio is not None else values[f"{model}_l1_ratio"]
        return values[f"{model}_C"], values[f"{model}_class_weight"], float(l1)

    def objective(trial: optuna.Trial) -> float:
        # same names, ranges and order as tmaxedge.modeling.tuning.CrossValidatedLogLoss.suggest
        trial.suggest_float(f"{model}_C", params.c_min, params.c_max, log=True)
        trial.suggest_categorical(f"{model}_class_weight", list(params.class_weights))
        if params.l1_ratio is None:
            trial.suggest_float(f"{model}_l1_ratio", 0.0, 1.0)
        c, scheme, l1 = decode(trial.params)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            p = cross_val_predict(
                pipeline(c, l1, scheme), d.x, d.y, groups=d.dates, cv=cv, method="predict_proba"
            )[:, 1]
        warned["folds"] += sum(issubclass(w.category, ConvergenceWarning) for w in caught)
        return sklearn_log_loss(d.y, p, labels=[0, 1])

    t0 = time.perf_counter()
    study = optuna.create_study(
        direction="minimize", sampler=optuna.samplers.TPESampler(seed=params.sampler_seed)
    )
    study.optimize(objective, n_trials=n_trials, n_jobs=1, callbacks=[lambda s, t: bar.update()])
    c, scheme, l1 = decode(study.best_params)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        final = pipeline(c, l1, scheme).fit(
            d.x, d.y
        )  # the final fit on all rows, as tune_group does
    warned["folds"] += sum(issubclass(w.category, ConvergenceWarning) for w in caught)
    seconds = time.perf_counter() - t0
    return {
        "test_log_loss": test_log_loss(d, final.predict_proba(d.x_test)[:, 1]),
        "method": "sklearn",
        "solver": solver,
        "seconds": seconds,
        "n_trials": len(study.trials),
        "n_pruned": 0,
        "n_study_rows": len(d.y),
        "cv_log_loss": study.best_value,
        "C": c,
        "l1_ratio": l1,
        "class_weight": scheme,
        "convergence_warnings": warned["folds"],
        "n_fits": len(study.trials) * params.n_splits + 1,
    }


def run_tune_group(d: Design, model: str, params: ModelParams) -> dict:
    """tmaxedge.modeling.tuning.tune_group on every fit row: the solver without the thinning."""
    t0 = time.perf_counter()
    result = tune_group(d.x, d.y, d.dates, d.columns, model, params)
    return _tmaxedge_row("tune_group", time.perf_counter() - t0, result, d)


def run_stage(d: Design, model: str, params: ModelParams) -> dict:
    """tune.tune_one as the stage calls it (nowcast + thinned study + final fit)."""
    t0 = time.perf_counter()
    result = tune_one(d.part, model, params)
    row = _tmaxedge_row("stage", time.perf_counter() - t0, result, d)
    # tune_one builds its own design: make sure it is the one the other methods got
    assert result.best_params["columns"] == d.columns, (result.best_params["columns"], d.columns)
    assert result.best_params["n_study_rows"] == int(d.study_rows.sum())
    return row


def _tmaxedge_row(method: str, seconds: float, result: TuneResult, d: Design) -> dict:
    best = result.best_params
    if best["status"] != "ok":
        raise SystemExit(f"{method}: the group was not tuned ({best['status']})")
    p_test = expit(result.fit.decision(result.preprocessor.transform(d.x_test)))
    return {
        "test_log_loss": test_log_loss(d, p_test),
        "method": method,
        "solver": "fit_logistic",
        "seconds": seconds,
        "n_trials": best["n_trials"],
        "n_pruned": best["n_pruned"],
        "n_study_rows": best["n_study_rows"],
        "cv_log_loss": best["cv_log_loss"],
        "C": best["C"],
        "l1_ratio": best["l1_ratio"],
        "class_weight": best["class_weight"],
        "convergence_warnings": None,
        "n_fits": None,
    }


def test_log_loss(d: Design, p: np.ndarray) -> float:
    """Log loss of the final fit on the window's test week (probabilities clipped as the
    pipeline clips them); NaN without test rows."""
    return tmaxedge_log_loss(d.y_test, p) if len(d.y_test) else float("nan")


def common_cv_log_loss(
    z: np.ndarray, d: Design, folds: list, c: float, l1: float, scheme: str
) -> float:
    """Out-of-fold log loss on all fit rows with tmaxedge's scorer (what tune_group's
    objective returns for these parameters without thinning or pruning)."""
    oof = np.empty(len(d.y))
    for train, valid in folds:
        y_train = d.y[train]
        if len(np.unique(y_train)) < 2:
            oof[valid] = np.clip(y_train.mean(), 1e-3, 1 - 1e-3)
            continue
        weights = class_weights(y_train, None if scheme == "none" else scheme)
        fit = fit_logistic(z[train], y_train, c, l1, weights)
        oof[valid] = expit(fit.decision(z[valid]))
    return tmaxedge_log_loss(d.y, oof)


# ----------------------------------------------------------------------------------------------
# the optimum check


def penalised_objective(z, y, weights, coef, intercept, c, l1) -> float:
    """scikit-learn's objective: C sum_i s_i logloss_i + l1 |w|_1 + (1 - l1) / 2 |w|^2."""
    score = z @ coef + intercept
    loss = weights @ (np.logaddexp(0, score) - y * score)
    return float(c * loss + l1 * np.abs(coef).sum() + (1 - l1) / 2 * coef @ coef)


def check_optimum(
    d: Design,
    params: ModelParams,
    c: float,
    l1_free: float,
    scheme: str,
    max_iter: int,
    saga_check_iter: int,
) -> list[dict]:
    """Fit tmaxedge and scikit-learn at one fixed point on the same standardised rows."""
    l1 = params.l1_ratio if params.l1_ratio is not None else l1_free
    solver = solver_of(params)
    z = Preprocessor.fit(d.x, d.columns).transform(d.x)
    weights = class_weights(d.y, None if scheme == "none" else scheme)
    t0 = time.perf_counter()
    ours = fit_logistic(z, d.y, c, l1, weights)
    t_ours = time.perf_counter() - t0
    p_ours = expit(ours.decision(z))
    obj_ours = penalised_objective(z, d.y, weights, ours.coef, ours.intercept, c, l1)
    settings = [("baseline", SKLEARN_DEFAULT_TOL, max_iter)]
    tight_iter = 10_000 if solver == "lbfgs" else saga_check_iter
    if tight_iter > 0:
        settings.append(("tight", 1e-10, tight_iter))
    out = []
    for label, tol, iters in settings:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            t0 = time.perf_counter()
            theirs = sklearn_model(c, l1, scheme, solver, tol=tol, max_iter=iters).fit(z, d.y)
            t_theirs = time.perf_counter() - t0
        coef, intercept = theirs.coef_[0], float(theirs.intercept_[0])
        obj_theirs = penalised_objective(z, d.y, weights, coef, intercept, c, l1)
        out.append(
            {
                "C": c,
                "l1_ratio": l1,
                "class_weight": scheme,
                "n_rows": len(d.y),
                "solver": f"{solver} {label}",
                "tol": tol,
                "max_iter": iters,
                "n_iter": int(theirs.n_iter_[0]),
                "converged": not any(issubclass(w.category, ConvergenceWarning) for w in caught),
                "seconds_sklearn": t_theirs,
                "seconds_tmaxedge": t_ours,
                "max_abs_coef_diff": float(np.abs(coef - ours.coef).max()),
                "abs_intercept_diff": abs(intercept - ours.intercept),
                "log_loss_diff": tmaxedge_log_loss(d.y, expit(z @ coef + intercept))
                - tmaxedge_log_loss(d.y, p_ours),
                "objective_sklearn": obj_theirs,
                "objective_tmaxedge": obj_ours,
                "objective_rel_diff": (obj_theirs - obj_ours) / abs(obj_ours),
            }
        )
    return out


# ----------------------------------------------------------------------------------------------


def load_window_rows(features: Path, key: str, window_params: WindowParams) -> pd.DataFrame:
    """The window's fit and test rows, with their split in ``split``."""
    rows = read_window_rows(features, make_window(key, window_params))
    fit, test = rows.fit.assign(split="fit"), rows.test.assign(split="test")
    return pd.concat([fit, test], ignore_index=True)


def build_window_features(
    raw: Path,
    key: str,
    window_params: WindowParams,
    cities: list[str],
    every_minutes: int,
    params_file: Path,
    out: Path,
) -> Path:
    """The features stage's partitions for ``cities`` over the window's months at another
    cadence, written under ``out`` as the stage writes them (so read back the same way)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("features_stage", ROOT / "stages" / "features.py")
    stage = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(stage)
    window = make_window(key, window_params)
    months = {f"{d:%Y-%m}" for d in pd.date_range(window.train_start, window.test_end)}
    markets = pd.read_parquet(raw / "markets.parquet", columns=features.MARKET_COLUMNS)
    weather = pd.read_parquet(raw / "weather.parquet", columns=features.WEATHER_COLUMNS)
    settlements = pd.read_parquet(raw / "settlements.parquet", columns=features.SETTLEMENT_COLUMNS)
    all_cities = parse_cities(io.load_section("cities", params_file))
    chosen = {code: all_cities[code] for code in cities}
    markets = markets[markets["city"].isin(cities)]
    parts = [
        p
        for p in features.iter_partitions(markets, weather, settlements, chosen)
        if p.month in months
    ]
    base = io.load_params("features", features.FeatureParams, params_file)
    params = dataclasses.replace(base, every_minutes=every_minutes)
    load = functools.partial(stage.read_quotes, raw / "quotes.parquet")
    features.build_features(
        parts, load, params, functools.partial(stage.write_partition, out), n_jobs=1
    )
    return out


def dump_rows(
    rows: pd.DataFrame, groups: list[str], models: dict[str, ModelParams], path: Path
) -> None:
    """The benchmarked groups' fit and test rows as Parquet: the brief's identifying columns,
    the split, and every model type's feature columns (nowcast ones from the fit rows' tables)."""
    frames = []
    for group in groups:
        key = Group.parse(group)
        part = rows[(rows["city"] == key.city) & (rows["strike_type"] == key.strike_type)]
        fit, test = part[part["split"] == "fit"], part[part["split"] == "test"]
        columns: list[str] = []
        if any("nowcast" in p.extra_features for p in models.values()):
            tables = nowcast.fit_tables(fit)
            fit = nowcast.add_columns(fit, tables, leave_own_day_out=True)
            test = nowcast.add_columns(test, tables)
        for p in models.values():
            columns += [
                c
                for c in walkforward.model_columns(fit, p.feature_set, p.extra_features)
                if c not in columns
            ]
        both = pd.concat([fit, test], ignore_index=True)
        frames.append(
            pd.DataFrame(
                {
                    "city": both["city"],
                    "bracket": both["strike_type"],
                    "market_ticker": both["ticker"],
                    "timestamp": both["ts"],
                    "event_date": both["event_date"],
                    "split": both["split"],
                    "y": both["y"].astype(int),
                    "p_market": both["p_market"],
                    **{c: both[c].astype(float) for c in columns},
                }
            )
        )
    io.write_parquet_atomic(pd.concat(frames, ignore_index=True), path)


def print_tables(results: list[dict], checks: list[dict], header: str) -> None:
    print(header)
    cols = (
        f"{'model':<11}{'group':<13}{'method':<11}{'rows':>7}{'trials':>8}{'seconds':>9}"
        f"{'s/trial':>9}{'best CV LL':>12}{'all-rows LL':>12}{'test LL':>10}"
        f"{'C':>10}{'l1_ratio':>9}"
        f"{'weight':>10}{'conv.w':>8}{'sklearn/x':>11}"
    )
    print(cols)
    print("-" * len(cols))
    for r in results:
        trials = f"{r['n_trials']}({r['n_pruned']})" if r["n_pruned"] else f"{r['n_trials']}"
        warned = r["convergence_warnings"]
        warned = "" if warned is None else f"{warned}/{r['n_fits']}"
        print(
            f"{r['model']:<11}{r['group']:<13}{r['method']:<11}{r['n_study_rows']:>7,}"
            f"{trials:>8}{r['seconds']:>9.2f}{r['seconds_per_trial']:>9.3f}"
            f"{r['cv_log_loss']:>12.5f}{r['common_cv_log_loss']:>12.5f}{r['test_log_loss']:>10.5f}"
            f"{r['C']:>10.4g}"
            f"{r['l1_ratio']:>9.3f}{r['class_weight']:>10}{warned:>8}"
            f"{r['ratio_sklearn_over']:>10.1f}x"
        )
    totals = {m: sum(r["seconds"] for r in results if r["method"] == m) for m in METHODS}
    print(
        "total seconds: "
        + ", ".join(f"{m} {s:.1f}" for m, s in totals.items())
        + f"; sklearn / tune_group {totals['sklearn'] / totals['tune_group']:.1f}x, "
        f"sklearn / stage {totals['sklearn'] / totals['stage']:.1f}x"
    )
    prep = {(r["model"], r["group"]): r["prep_seconds"] for r in results}
    print(
        "of which nowcast columns + design matrix (stage only): "
        + ", ".join(f"{m} {g} {s:.2f} s" for (m, g), s in prep.items())
    )
    print()
    if not checks:
        return
    c0 = checks[0]
    print(
        f"optimum check at C={c0['C']:g}, class_weight={c0['class_weight']} (ridge l1_ratio 0, "
        f"elastic net l1_ratio {max(c['l1_ratio'] for c in checks):g}), all fit rows, tmaxedge "
        f"standardisation; 'tight' = tol 1e-10"
    )
    cols = (
        f"{'model':<11}{'group':<13}{'sklearn solver':<16}{'iters':>7}{'conv':>6}"
        f"{'sk s':>8}{'tm s':>7}{'max|dcoef|':>12}{'d logloss':>11}{'d objective':>13}"
    )
    print(cols)
    print("-" * len(cols))
    for r in checks:
        print(
            f"{r['model']:<11}{r['group']:<13}{r['solver']:<16}{r['n_iter']:>7}"
            f"{'yes' if r['converged'] else 'no':>6}{r['seconds_sklearn']:>8.2f}"
            f"{r['seconds_tmaxedge']:>7.2f}{r['max_abs_coef_diff']:>12.2e}"
            f"{r['log_loss_diff']:>11.2e}{r['objective_rel_diff']:>13.2e}"
        )
    print(
        "d logloss = sklearn - tmaxedge in-sample mean log loss; d objective = relative "
        "difference of the penalised objective (> 0: tmaxedge's fit is lower)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    plan = yaml.safe_load((ROOT / "windows.yaml").read_text())
    parser.add_argument(
        "--window",
        default=plan["window_keys"][0],
        help="window key = first test day (default: the plan's first window)",
    )
    parser.add_argument(
        "--groups",
        default="chi_between,den_greater,lax_greater",
        help="comma-separated city_striketype groups",
    )
    parser.add_argument("--models", default="ridge,elasticnet", help="among params.yaml tune.*")
    parser.add_argument("--trials", type=int, default=10, help="Optuna trials per study (10)")
    parser.add_argument("--features", type=Path, default=ROOT / "data" / "features")
    parser.add_argument("--params", type=Path, default=ROOT / "params.yaml")
    parser.add_argument(
        "--max-iter",
        type=int,
        default=SKLEARN_DEFAULT_MAX_ITER,
        help="scikit-learn max_iter in the baseline (its default, 100)",
    )
    parser.add_argument(
        "--check",
        default="1.0,0.5,balanced",
        help="optimum check point C,l1_ratio,class_weight (ridge uses l1_ratio 0)",
    )
    parser.add_argument(
        "--saga-check-iter",
        type=int,
        default=0,
        help="also fit saga at tol 1e-10 with this many epochs in the check "
        "(0: skip; ~30 s per 1000 epochs per 10k rows)",
    )
    parser.add_argument(
        "--every-minutes",
        type=int,
        default=None,
        help="decision cadence of the rows: the features table's (default), or "
        "rebuild the groups' cities at this cadence from --raw (1: ~5x rows)",
    )
    parser.add_argument(
        "--raw",
        type=Path,
        default=ROOT / "data" / "raw",
        help="ingested tables for --every-minutes (default data/raw)",
    )
    parser.add_argument(
        "--dump",
        type=Path,
        help="write the groups' fit and test rows as Parquet, to time another "
        "implementation on exactly these rows",
    )
    parser.add_argument("--results", type=Path, help="write the results as JSON")
    args = parser.parse_args()
    threadpool_limits(limits=1)  # as the stage's workers; and the machine is shared

    t_start = time.perf_counter()
    load_start = os.getloadavg()
    window_params = io.load_params("windows", WindowParams, args.params)
    models = args.models.split(",")
    model_params = {
        m: dataclasses.replace(
            io.load_model_params(m, ModelParams, args.params), n_trials=args.trials
        )
        for m in models
    }
    check_c, check_l1, check_scheme = args.check.split(",")
    groups = args.groups.split(",")
    t0 = time.perf_counter()
    features_dir = args.features
    cadence = io.load_params("features", features.FeatureParams, args.params).every_minutes
    if args.every_minutes not in (None, cadence):
        cadence = args.every_minutes
        built = Path(tempfile.mkdtemp(prefix="tune_window_features_"))
        features_dir = build_window_features(
            args.raw,
            args.window,
            window_params,
            sorted({Group.parse(g).city for g in groups}),
            cadence,
            args.params,
            built,
        )
    window_rows = load_window_rows(features_dir, args.window, window_params)
    if features_dir != args.features:
        shutil.rmtree(features_dir)
    t_read = time.perf_counter() - t0
    fit_rows = window_rows[window_rows["split"] == "fit"].reset_index(drop=True)
    test_parts = walkforward.groups_of(window_rows[window_rows["split"] == "test"])
    parts = walkforward.groups_of(fit_rows)
    missing = sorted(set(groups) - set(parts))
    if missing:
        raise SystemExit(
            f"no fit rows for {missing} in window {args.window}; groups: {sorted(parts)}"
        )

    results, checks = [], []
    bar = tqdm(
        total=len(models) * len(groups) * args.trials,
        desc="sklearn trials",
        unit="trial",
        file=sys.stderr,
    )
    for group in groups:
        for model in models:
            params = model_params[model]
            d = design(parts[group], test_parts.get(group, parts[group].iloc[:0]), params)
            runs = [
                run_stage(d, model, params),
                run_tune_group(d, model, params),
                run_sklearn(d, model, params, args.trials, args.max_iter, bar),
            ]
            z = Preprocessor.fit(d.x, d.columns).transform(d.x)
            folds = list(GroupKFold(n_splits=params.n_splits).split(z, d.y, groups=d.dates))
            by_method = {r["method"]: r for r in runs}
            for method in METHODS:
                r = by_method[method]
                r.update(
                    model=model,
                    group=group,
                    window=args.window,
                    n_rows=len(d.y),
                    tune_every_minutes=params.tune_every_minutes if method == "stage" else 0,
                    n_columns=len(d.columns),
                    prep_seconds=d.prep_seconds,
                    seconds_per_trial=r["seconds"] / r["n_trials"],
                    ratio_sklearn_over=by_method["sklearn"]["seconds"] / r["seconds"],
                    common_cv_log_loss=common_cv_log_loss(
                        z, d, folds, r["C"], r["l1_ratio"], r["class_weight"]
                    ),
                )
                results.append(r)
            for row in check_optimum(
                d,
                params,
                float(check_c),
                float(check_l1),
                check_scheme,
                args.max_iter,
                args.saga_check_iter,
            ):
                checks.append({"model": model, "group": group, **row})
    bar.close()
    wall = time.perf_counter() - t_start

    load = os.getloadavg()
    thinning = ", ".join(f"{m} {p.tune_every_minutes} min" for m, p in model_params.items())
    sizes = ", ".join(f"{g} {len(parts[g]):,} rows" for g in groups)
    header = (
        f"per-window tuning, window {args.window}: fit split {fit_rows['event_date'].nunique()} "
        f"days at {cadence}-minute cadence (read in {t_read:.1f} s); {sizes}; test week "
        + ", ".join(f"{g} {len(test_parts[g]) if g in test_parts else 0:,} rows" for g in groups)
        + "\n"
        f"{args.trials} trials per study, GroupKFold({model_params[models[0]].n_splits}) by "
        f"event date, 1 process, 1 BLAS thread; stage thinning: {thinning}\n"
        f"sklearn {sklearn.__version__} (tol {SKLEARN_DEFAULT_TOL:g}, max_iter {args.max_iter}), "
        f"optuna {optuna.__version__}, numpy {np.__version__}; {os.cpu_count()} CPUs, 1-min load "
        f"average {load_start[0]:.2f} at the start, {load[0]:.2f} at the end\n"
        f"rows = study rows; trials(pruned); all-rows LL = the method's best parameters re-scored "
        f"on all fit rows by one scorer (tmaxedge's folds and solver); test LL = the final fit's "
        f"log loss on the window's test week;\nconv.w = scikit-learn "
        f"fits that hit max_iter / fits; seconds include the final fit (stage: also the nowcast "
        f"columns)\n"
    )
    print_tables(results, checks, header)
    print(f"wall time {wall:.0f} s")
    if args.dump:
        dump_rows(window_rows, groups, model_params, args.dump)
        print(f"wrote {args.dump}")
    if args.results:
        args.results.parent.mkdir(parents=True, exist_ok=True)
        args.results.write_text(
            json.dumps(
                {
                    "window": args.window,
                    "groups": groups,
                    "models": models,
                    "trials": args.trials,
                    "versions": {
                        "sklearn": sklearn.__version__,
                        "optuna": optuna.__version__,
                        "numpy": np.__version__,
                        "python": platform.python_version(),
                    },
                    "cpus": os.cpu_count(),
                    "load_average_start": load_start,
                    "load_average_end": load,
                    "wall_seconds": wall,
                    "results": results,
                    "optimum_check": checks,
                },
                indent=2,
                default=float,
            )
            + "\n"
        )
        print(f"wrote {args.results}")


if __name__ == "__main__":
    main()
