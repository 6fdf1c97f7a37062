"""Per-window hyperparameter search: Optuna TPE over C, class weights and (elastic net) l1_ratio.

The objective is the out-of-fold log loss of GroupKFold(n_splits) grouped by event date on the
fit split (the first ``1 - calibration_fraction`` of the training days); the out-of-fold Brier
score is stored as a trial attribute. Trials run one at a time so a study repeats exactly from
its seed, and a study in shared storage resumes exactly after a kill
(``tmaxedge.modeling.studies``); hopeless trials are pruned fold by fold, and each fold's fit
warm-starts from the same fold of the nearest finished trial.

A fit whose solver stopped before its stopping rule held (``LinearFit.converged``: at the
iteration limit, or unable to lower the objective further) is counted, never passed over: a trial
records how many of its fold fits did (``NOT_CONVERGED``), best_params.json the study's and the
final fit's total (and ``final_fit_converged: false`` when the served fit is one). These keys are
written only when there is such a fit, so a study without one leaves the same files as before.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy.special import expit

from tmaxedge.core.errors import ParamsError
from tmaxedge.core.params import (  # MODEL_TYPES: params.yaml's models are checked against it
    MODEL_TYPES,
    Interval,
    Nullable,
    Options,
    Params,
    Subset,
    broken,
    declare,
)
from tmaxedge.core.probability import brier, log_loss
from tmaxedge.features.feature_groups import GROUPS
from tmaxedge.modeling import logistic, studies
from tmaxedge.modeling.logistic import (
    PREPROCESSING_ORDERS,
    LinearFit,
    Preprocessor,
    class_weights,
    fit_logistic,
)

if TYPE_CHECKING:
    import optuna

# city: each city on its own (per city and strike type; tmax_dist per city). pooled: the cities
# with weather features share one model (per strike type; tmax_dist one in all) with a 0/1
# column per city, so a tail's few YES days are pooled across cities; a city without weather
# features keeps its own
SCOPES = ("city", "pooled")
# beyond the brief's feature sets: the market's log-odds (of the mid; market_logit: of the price
# the market is scored by, the last trade where there is no book), the weather nowcast of the bin
# (tmaxedge.features.nowcast), fitted inside each training window, and the event's implied
# distribution of the high (tmaxedge.features.event_features), and what the latest public
# weather forecast says of the bin (tmaxedge.features.forecasts; needs a forecasts table)
EXTRA_FEATURES = ("mid_logit", "market_logit", "nowcast", "event", "forecast")


CLASS_WEIGHTS = ("none", "balanced")
PRUNERS = ("median", "none")
# per_trial: each trial's TPE draw seeded from (seed, finished trials), so a killed study resumes
# exactly; one_stream: one TPESampler(seed) for the whole study, the brief's draws
SAMPLER_DRAWS = ("per_trial", "one_stream")


@dataclass(frozen=True)
class ModelParams(Params):
    """params.yaml ``tune.<model>``: one model type's feature set and search space."""

    constraints = declare(
        n_trials=Interval(int, 1, None),
        l1_ratio=Nullable(Interval(float, 0, 1)),  # null: tuned in [0, 1]
        c_min=Interval(float, 0, None, closed="neither"),
        c_max=Interval(float, 0, None, closed="neither"),
        class_weights=Subset(CLASS_WEIGHTS, nonempty=True),
        n_splits=Interval(int, 2, None),
        sampler_seed=Interval(int, 0, None),  # numpy refuses a negative seed
        pruner=Options(PRUNERS),
        sampler_draws=Options(SAMPLER_DRAWS),
        tune_every_minutes=Interval(int, 0, None),
        extra_features=Subset(EXTRA_FEATURES),
        min_class_days=Interval(int, 1, None),
        type=Nullable(Options(MODEL_TYPES)),
        scope=Options(SCOPES),
        drop_groups=Subset(tuple(GROUPS)),
        preprocessing=Options(PREPROCESSING_ORDERS),
    )

    feature_set: str
    n_trials: int
    l1_ratio: float | None = None  # fixed value, or None to tune it in [0, 1]
    c_min: float = 1e-4
    c_max: float = 1e4
    class_weights: list[str] = field(default_factory=lambda: ["none", "balanced"])
    n_splits: int = 4
    sampler_seed: int = 1337
    pruner: str = "median"
    sampler_draws: str = "per_trial"  # among SAMPLER_DRAWS
    # the study and the final fit answer to the gate's coefficient-norm limit (gate.beta_max)
    hold_to_beta_max: bool = True
    tune_every_minutes: int = 0  # 0: tune on every row; k: on rows k minutes apart
    extra_features: list[str] = field(default_factory=list)  # among EXTRA_FEATURES
    min_class_days: int = 1  # fewest event days on which each outcome (YES, NO) must occur
    type: str | None = (
        None  # the model type, when the entry's name is not one (ridge_pooled: ridge)
    )
    scope: str = "city"  # among SCOPES
    drop_groups: list[str] = field(default_factory=list)  # feature groups left out (an ablation)
    preprocessing: str = "impute_then_scale"  # among PREPROCESSING_ORDERS

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.c_min < self.c_max:  # the search runs over [c_min, c_max] on a log scale
            raise broken("c_max", f"a number > c_min ({self.c_min:g})", self.c_max)


def model_type(name: str, params: ModelParams) -> str:
    """The type of the model entry ``tune.<name>``: its ``type``, else its name."""
    kind = params.type or name
    if kind not in MODEL_TYPES:
        raise ParamsError(
            f"tune.{name} needs a type among {list(MODEL_TYPES)} (its name is not one); "
            f"got type {params.type!r}."
        )
    return kind


@dataclass
class TuneResult:
    """The study's outcome for one (window, city, strike type)."""

    status: str  # "ok" | "single_class" | "too_few_days" | "too_few_class_days"
    best_params: dict
    fit: LinearFit | None
    preprocessor: Preprocessor | None
    trials: pd.DataFrame
    nowcast: dict | None = None
    kind: str = "bin"  # ModelCard.kind


def thin_rows(ts: pd.Series, every_minutes: int) -> np.ndarray:
    """Mask of rows whose decision minute is a multiple of ``every_minutes`` (all rows for 0)."""
    if every_minutes <= 1:
        return np.ones(len(ts), dtype=bool)
    minutes = (ts.astype("int64") // (60 * _unit_per_second(ts))).to_numpy()
    return minutes % every_minutes == 0


def _unit_per_second(ts: pd.Series) -> int:
    unit = np.datetime_data(ts.dtype.base if hasattr(ts.dtype, "base") else ts.dtype)[0]
    return {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}[unit]


def tune_group(
    x: np.ndarray,
    y: np.ndarray,
    event_dates: np.ndarray,
    columns: list[str],
    model: str,
    params: ModelParams,
    study_storage: str | None = None,
    study_label: str = "study",
    study_rows: np.ndarray | None = None,
    beta_max: float | None = None,
) -> TuneResult:
    """Run the study on the fit split of one group and refit the best trial on all of it.

    ``study_rows`` (a mask) restricts the study, not the final fit, to a subset of the rows; the
    final fit's C is rescaled to the row count (``final_fit_c``).
    ``beta_max`` (the gate's coefficient-norm limit for this strike type) makes the search a
    constrained one: a trial whose fold fits exceed it is infeasible, and the best feasible
    trial wins (the least infeasible one when none is feasible, flagged in best_params).
    ``study_storage`` (``compute.study_storage``, see ``studies.open_storage``) keeps the study
    as ``<study_label>-<digest of its inputs>`` so a killed run resumes it; the result is the
    same as without storage.
    """
    # imported here: the stages that only predict need neither (about a second each to import)
    import optuna
    from sklearn.model_selection import GroupKFold

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    n_days = len(pd.unique(event_dates))
    if len(np.unique(y)) < 2:
        return _untuned("single_class", y, event_dates)
    if n_days < params.n_splits:
        return _untuned("too_few_days", y, event_dates)
    if min(class_days(y, event_dates)) < params.min_class_days:
        return _untuned("too_few_class_days", y, event_dates)
    preprocessor = Preprocessor.fit(x, columns, params.preprocessing)
    z = preprocessor.transform(x)
    if study_rows is None:
        study_rows = np.ones(len(y), dtype=bool)
    z_study, y_study = z[study_rows], y[study_rows]
    folds = list(
        GroupKFold(n_splits=params.n_splits).split(z_study, y_study, groups=event_dates[study_rows])
    )
    objective = CrossValidatedLogLoss(z_study, y_study, folds, model, params, beta_max)
    pruner = (
        optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1)
        if params.pruner == "median"
        else optuna.pruners.NopPruner()
    )
    study_name = (
        f"{study_label}-"
        f"{study_key(x, y, event_dates, study_rows, columns, model, params, beta_max)}"
    )
    storage = studies.open_storage(study_storage, study_name)
    study = optuna.create_study(
        direction="minimize",
        pruner=pruner,
        storage=storage,
        study_name=study_name,
        load_if_exists=storage is not None,
    )
    if storage is not None:
        studies.fail_interrupted_trials(storage, study_name)
    run_trials(study, objective, params.n_trials, params.sampler_seed, params.sampler_draws)
    finished = studies.finished_trials(study)
    best, feasible = best_trial(study, beta_max)
    c, weight_scheme, l1_ratio = objective.decode(best.params)
    c_fit = final_fit_c(c, int(study_rows.sum()), len(y))
    weights = class_weights(y, weight_scheme)
    fit = fit_logistic(z, y, c_fit, l1_ratio, weights)
    c_unlimited = c_fit
    if beta_max is not None and feasible:
        c_fit, fit = within_norm(z, y, c_fit, l1_ratio, weights, fit, beta_max)
    best_params = {
        "status": "ok",
        "C": c,
        "C_fit": c_fit,
        "class_weight": weight_scheme or "none",
        "l1_ratio": l1_ratio,
        "cv_log_loss": best.value,
        "cv_brier": best.user_attrs.get("brier"),
        "n_trials": len(finished),
        "n_pruned": sum(t.state == optuna.trial.TrialState.PRUNED for t in finished),
        "n_rows": int(len(y)),
        "n_study_rows": int(study_rows.sum()),
        "n_days": int(n_days),
        "yes_days": class_days(y, event_dates)[0],
        "no_days": class_days(y, event_dates)[1],
        "n_nonzero_coef": int(np.sum(np.abs(fit.coef) > 1e-10)),
        "beta_norm": float(np.linalg.norm(fit.coef)),
        "beta_max": beta_max,
        "beta_feasible": feasible,
        "columns": list(columns),
    }
    if c_fit != c_unlimited:
        best_params["C_fit_before_norm_limit"] = c_unlimited
    n_not_converged = sum(t.user_attrs.get(NOT_CONVERGED, 0) for t in finished)
    if not fit.converged:
        best_params["final_fit_converged"] = False
        n_not_converged += 1
    if n_not_converged:
        best_params[NOT_CONVERGED] = n_not_converged
    return TuneResult("ok", best_params, fit, preprocessor, trials_table(study))


NORM_SHRINK = 0.9  # C's step down when the final fit's norm is over the limit


def within_norm(z, y, c, l1_ratio, weights, fit: LinearFit, beta_max: float, max_steps: int = 60):
    """The final fit kept within the gate's norm limit: the study's fold fits were, but the fit
    on every row is less regularised per row and can end just over it (a pooled fit, mostly).
    C steps down by ``NORM_SHRINK`` until the norm is within the limit. Returns (C, fit)."""
    for _ in range(max_steps):
        if np.linalg.norm(fit.coef) <= beta_max:
            break
        c *= NORM_SHRINK
        fit = fit_logistic(z, y, c, l1_ratio, weights, fit)
    return c, fit


def study_key(x, y, event_dates, study_rows, columns, model, params, beta_max) -> str:
    """The digest naming a study: its rows, search space, limits and the objective's code."""
    settings = {
        "columns": list(columns),
        "model": model,
        "params": dataclasses.asdict(params),
        "beta_max": beta_max,
    }
    return studies.study_digest(
        [x, y, event_dates, study_rows], settings, [sys.modules[__name__], logistic]
    )


def run_trials(
    study: optuna.Study,
    objective: CrossValidatedLogLoss,
    n_trials: int,
    seed: int,
    draws: str = "per_trial",
) -> None:
    """Run trials one at a time until ``n_trials`` have finished (completed or pruned).

    ``per_trial``: each trial's TPE draw is seeded from (seed, finished trials so far) and TPE
    reads only the finished trials, so the k-th finished trial is the same whether or not the
    run was killed and resumed in between. ``one_stream``: one ``TPESampler(seed)`` draws every
    trial, as ``study.optimize(n_trials=...)`` under it would (a resumed study then draws anew).
    """
    import optuna

    if draws == "one_stream":
        study.sampler = optuna.samplers.TPESampler(seed=seed)
    while (n_finished := len(studies.finished_trials(study))) < n_trials:
        studies.kill_if_asked(study.study_name, n_finished)
        if draws == "per_trial":
            study.sampler = optuna.samplers.TPESampler(seed=studies.trial_seed(seed, n_finished))
        study.optimize(objective, n_trials=1)


def trials_table(study: optuna.Study) -> pd.DataFrame:
    """The finished trials in order, numbered 0, 1, ... (an interrupted trial is not one), with
    their parameters, objective, Brier score and coefficient norm."""
    finished = studies.finished_trials(study)
    table = pd.DataFrame(
        {
            "number": range(len(finished)),
            "value": [t.value for t in finished],
            **{
                f"params_{name}": [t.params.get(name) for t in finished]
                for name in sorted({name for t in finished for name in t.params})
            },
            **{
                f"user_attrs_{name}": [t.user_attrs.get(name) for t in finished]
                for name in sorted({n for t in finished for n in t.user_attrs} - {FOLD_FITS})
            },
            "state": [t.state.name for t in finished],
        }
    )
    return table


def final_fit_c(c: float, n_study_rows: int, n_rows: int) -> float:
    """The C of the final fit on ``n_rows`` that matches the study's C on ``n_study_rows``.

    C multiplies a *sum* of per-row losses, so the same C on six times the rows is six times less
    regularised. Scaling C by the row ratio keeps the penalty per row the study chose; where the
    rows are repeats (minute rows of one market-day are nearly so) it gives the study's fit.
    """
    return c * n_study_rows / n_rows


def best_trial(
    study: optuna.Study, beta_max: float | None
) -> tuple[optuna.trial.FrozenTrial, bool | None]:
    """The completed trial with the lowest objective among those within ``beta_max``; without a
    feasible one, the trial with the smallest norm. The flag says whether it is feasible."""
    import optuna

    if beta_max is None:
        return study.best_trial, None
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    feasible = [t for t in complete if t.user_attrs["beta_norm"] <= beta_max]
    if feasible:
        return min(feasible, key=lambda t: (t.value, t.number)), True
    return min(complete, key=lambda t: (t.user_attrs["beta_norm"], t.number)), False


def class_days(y: np.ndarray, event_dates: np.ndarray) -> tuple[int, int]:
    """On how many event days the group saw a YES outcome, and on how many a NO.

    A tail market is one outcome a day, so a tail that resolved YES on one day of ninety has
    one YES to learn from however many minutes it traded.
    """
    # counted by hashing: sorting date strings, as np.unique does, was seconds per window
    return len(pd.unique(event_dates[y == 1])), len(pd.unique(event_dates[y == 0]))


def _untuned(status: str, y: np.ndarray, event_dates: np.ndarray) -> TuneResult:
    yes_days, no_days = class_days(y, event_dates)
    return TuneResult(
        status,
        {
            "status": status,
            "n_rows": int(len(y)),
            "n_days": len(pd.unique(event_dates)),
            "n_positive": int(y.sum()),
            "yes_days": yes_days,
            "no_days": no_days,
        },
        None,
        None,
        pd.DataFrame(),
    )


FOLD_FITS = "fold_fits"  # trial attribute: each fold's [intercept, *coef], the next trials' starts
# trial attribute and best_params key, set only when nonzero: fits whose solver stopped before its
# stopping rule held (tmaxedge.modeling.logistic.LinearFit.converged)
NOT_CONVERGED = "n_fits_not_converged"


def nearest_fold_fits(
    finished: list[optuna.trial.FrozenTrial], point: tuple[float, str | None, float], objective
) -> list[LinearFit | None]:
    """For each fold, the fit of the finished trial nearest to ``point`` (C, class weights,
    l1_ratio) that fitted that fold: a start close to the optimum saves Newton steps, and being
    read from the study, it is the same start after a resume. Distance: decades of C, plus
    l1_ratio, plus one for other class weights; ties go to the earlier trial."""

    def distance(trial: optuna.trial.FrozenTrial) -> float:
        c, scheme, l1_ratio = objective.decode(trial.params)
        return abs(math.log10(c / point[0])) + abs(l1_ratio - point[2]) + (scheme != point[1])

    ranked = sorted(finished, key=lambda t: (distance(t), t.number))
    starts: list[LinearFit | None] = []
    for k in range(len(objective.folds)):
        stored = next((t.user_attrs[FOLD_FITS][k] for t in ranked if _has_fold(t, k)), None)
        starts.append(None if stored is None else LinearFit(np.array(stored[1:]), stored[0]))
    return starts


def _has_fold(trial: optuna.trial.FrozenTrial, k: int) -> bool:
    fits = trial.user_attrs.get(FOLD_FITS, [])
    return len(fits) > k and fits[k] is not None


class CrossValidatedLogLoss:
    """The Optuna objective, holding the standardised data and fixed folds of one group."""

    def __init__(self, z, y, folds, model: str, params: ModelParams, beta_max: float | None = None):
        self.z, self.y, self.folds, self.model, self.params = z, y, folds, model, params
        self.beta_max = beta_max

    def suggest(self, trial: optuna.Trial) -> dict:
        p = self.params
        values = {
            f"{self.model}_C": trial.suggest_float(f"{self.model}_C", p.c_min, p.c_max, log=True),
            f"{self.model}_class_weight": trial.suggest_categorical(
                f"{self.model}_class_weight", list(p.class_weights)
            ),
        }
        if p.l1_ratio is None:
            values[f"{self.model}_l1_ratio"] = trial.suggest_float(
                f"{self.model}_l1_ratio", 0.0, 1.0
            )
        return values

    def decode(self, values: dict) -> tuple[float, str | None, float]:
        c = values[f"{self.model}_C"]
        scheme = values[f"{self.model}_class_weight"]
        l1_ratio = self.params.l1_ratio
        if l1_ratio is None:
            l1_ratio = values[f"{self.model}_l1_ratio"]
        return c, (None if scheme == "none" else scheme), float(l1_ratio)

    def __call__(self, trial: optuna.Trial) -> float:
        import optuna

        c, scheme, l1_ratio = self.decode(self.suggest(trial))
        starts = nearest_fold_fits(
            studies.finished_trials(trial.study), (c, scheme, l1_ratio), self
        )
        fold_fits: list[list[float] | None] = []
        n_not_converged = 0
        oof = np.empty(len(self.y))
        seen = np.zeros(len(self.y), dtype=bool)
        largest_norm = 0.0
        try:
            for k, (train, valid) in enumerate(self.folds):
                y_train = self.y[train]
                if len(np.unique(y_train)) < 2:
                    oof[valid] = np.clip(y_train.mean(), 1e-3, 1 - 1e-3)
                    fold_fits.append(None)
                else:
                    weights = class_weights(y_train, scheme)
                    fit = fit_logistic(self.z[train], y_train, c, l1_ratio, weights, starts[k])
                    fold_fits.append([fit.intercept, *fit.coef.tolist()])
                    n_not_converged += not fit.converged
                    oof[valid] = expit(fit.decision(self.z[valid]))
                    largest_norm = max(largest_norm, float(np.linalg.norm(fit.coef)))
                seen[valid] = True
                trial.report(log_loss(self.y[seen], oof[seen]), k)
                if k < len(self.folds) - 1 and trial.should_prune():
                    raise optuna.TrialPruned()
        finally:
            # once per trial, pruned or not: each write to a stored study is a synced append
            trial.set_user_attr(FOLD_FITS, fold_fits)
            if any(f is not None for f in fold_fits):
                trial.set_user_attr("beta_norm", largest_norm)
            if n_not_converged:
                trial.set_user_attr(NOT_CONVERGED, n_not_converged)
        value = log_loss(self.y, oof)
        trial.set_user_attr("brier", brier(self.y, oof))
        if self.beta_max is not None:  # TPE then models feasibility too
            trial.set_constraint("beta_norm", largest_norm - self.beta_max)
        if not math.isfinite(value):
            raise optuna.TrialPruned()
        return value
