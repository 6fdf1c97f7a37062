"""Step 1 of a window: the Optuna study and final fit of every (city, strike type) group,
on the window's fit split. The tune stage and ``run_window`` call ``tune_window``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

import numpy as np
import pandas as pd

from tmaxedge.core.errors import ParamsError
from tmaxedge.core.io import log
from tmaxedge.core.keys import Group
from tmaxedge.features import nowcast, scopes
from tmaxedge.features.feature_groups import without_groups
from tmaxedge.modeling import distribution
from tmaxedge.modeling.cards import Calibrator, ModelCard
from tmaxedge.modeling.tuning import (
    NOT_CONVERGED,
    ModelParams,
    TuneResult,
    model_type,
    thin_rows,
    tune_group,
)
from tmaxedge.walkforward.compute import ComputeParams, largest_first, stream_jobs
from tmaxedge.walkforward.groups import design_matrix, model_columns, require_extra_columns

DISTRIBUTION_MODEL = "tmax_dist"  # one model per city of its event's high (tmaxedge.distribution)


class TunedModels(NamedTuple):
    """What calibration starts from: each group's uncalibrated model (None where tuning found
    none) and its study's best_params.json (the hyperparameters a cross-fitted refit reuses)."""

    cards: dict[str, ModelCard | None]
    best_params: dict[str, dict]


def tune_window(
    fit_rows: pd.DataFrame,
    model: str,
    params: ModelParams,
    compute: ComputeParams,
    beta_max: dict[str, float] | None = None,
    window: str = "window",
) -> dict[str, TuneResult]:
    """Every group's study; ``beta_max`` maps strike type to the gate's coefficient-norm limit.

    The model's scope (``scopes``) says which groups share a fit: each group gets its unit's
    result. tmax_dist answers to every strike type's limit, so it gets the strictest.
    Stored studies are named ``<model>-<window>-<unit>-<digest>``.
    """
    return dict(tune_entries(fit_rows, {model: params}, compute, beta_max, window))[model]


def tune_entries(
    fit_rows: pd.DataFrame,
    entries: dict[str, ModelParams],
    compute: ComputeParams,
    beta_max: dict[str, float] | None,
    window: str,
) -> Iterator[tuple[str, dict[str, TuneResult]]]:
    """``tune_window`` of each model entry, yielded in order as each finishes. The units of
    every entry are one queue of jobs, so the workers go on with the next entry's units while
    the last ones of an entry finish, instead of waiting for them."""
    plans = {
        entry: entry_jobs(fit_rows, entry, params, beta_max, compute.study_storage, window)
        for entry, params in entries.items()
    }
    results = stream_jobs(tune_one, [job for plan in plans.values() for job in plan.jobs], compute)
    for entry, plan in plans.items():
        finished = [next(results) for _ in plan.jobs]
        warn_not_converged(entry, window, plan.names, finished)
        yield entry, plan.by_group(finished)


def warn_not_converged(
    entry: str, window: str, units: list[str], results: list[TuneResult]
) -> None:
    """Log each unit whose study had fits stop at the solver's iteration limit."""
    for unit, result in zip(units, results, strict=True):
        if n := result.best_params.get(NOT_CONVERGED):
            log.warning(
                "%s-%s-%s: %d fits stopped before the solver's stopping rule held "
                "(best_params.json %s)",
                entry,
                window,
                unit,
                n,
                NOT_CONVERGED,
            )


class EntryJobs(NamedTuple):
    """One entry's study jobs (the largest first), their units' names and the groups each job's
    result serves."""

    jobs: list[tuple]
    names: list[str]
    groups: list[list[str]]

    def by_group(self, results: list[TuneResult]) -> dict[str, TuneResult]:
        """The jobs' results as each group's, groups in order."""
        found = {
            group: result
            for groups, result in zip(self.groups, results, strict=True)
            for group in groups
        }
        return dict(sorted(found.items()))


def entry_jobs(
    fit_rows: pd.DataFrame,
    model: str,
    params: ModelParams,
    beta_max: dict[str, float] | None,
    study_storage: str | None,
    window: str,
) -> EntryJobs:
    """The ``tune_one`` jobs of one entry: one per fitting unit of its scope."""
    kind = model_type(model, params)
    if kind == DISTRIBUTION_MODEL:
        check_distribution_params(params)
    require_extra_columns(model, params.extra_features, fit_rows)
    units = list(
        scopes.fit_units(fit_rows, params.scope, per_strike=kind != DISTRIBUTION_MODEL).items()
    )
    units = [units[i] for i in largest_first([len(rows) for _, (rows, _) in units])]
    limits = beta_max if params.hold_to_beta_max else None
    jobs = [
        (rows, kind, params, norm_limit(kind, name, limits), study_storage, label, cities)
        for name, (rows, cities) in units
        for label in [f"{model}-{window}-{name}"]
    ]
    names = [name for name, _ in units]
    return EntryJobs(jobs, names, [scopes.groups_of_unit(rows) for _, (rows, _) in units])


def norm_limit(kind: str, unit: str, beta_max: dict[str, float] | None) -> float | None:
    """The gate's coefficient-norm limit a unit's fit answers to: its strike type's (a bin
    model's unit is named like a group: ``chi_between``, ``pooled_between``); tmax_dist prices
    every strike type, so the strictest."""
    limits = beta_max or {}
    if kind == DISTRIBUTION_MODEL:
        return min(limits.values()) if limits else None
    return limits.get(Group.parse(unit).strike_type)


def tune_one(
    part: pd.DataFrame,
    kind: str,
    params: ModelParams,
    beta_max: float | None = None,
    study_storage: str | None = None,
    study_label: str = "study",
    cities: list[str] = (),
) -> TuneResult:
    """Study and final fit of one fitting unit's fit-split rows (``scopes.fit_units``; the last
    three: see ``tune_group``): a bin model's group, or with ``cities`` one pooled model for
    their rows of a strike type, with a 0/1 column each; tmax_dist's city (or pooled cities),
    all its markets together: the survival function of the high, fitted on every market's
    lower edge."""
    kept, x, y, tables = training_rows(part, kind, "nowcast" in params.extra_features, cities)
    columns = unit_columns(kept, x, kind, params, cities)
    design = x[columns].to_numpy(float) if kind == DISTRIBUTION_MODEL else design_matrix(x, columns)
    result = tune_rows(kept, design, y, columns, kind, params, beta_max, study_storage, study_label)
    result.nowcast = tables
    if kind == DISTRIBUTION_MODEL:
        result.kind = distribution.KIND
    return result


def unit_columns(
    rows: pd.DataFrame, x: pd.DataFrame, kind: str, params: ModelParams, cities: list[str]
) -> list[str]:
    """The inputs a unit's model is fitted on: those of its feature set (tmax_dist: its fixed
    ones) that carry data, and a pooled bin model's city columns, less ``drop_groups``."""
    if kind == DISTRIBUTION_MODEL:
        columns = [c for c in x.columns if x[c].notna().any()]
    else:
        columns = model_columns(rows, params.feature_set, params.extra_features)
        columns += scopes.city_columns(list(cities))
    return without_groups(columns, params.drop_groups)


def check_distribution_params(params: ModelParams) -> None:
    if params.feature_set != distribution.KIND or params.extra_features:
        raise ParamsError(
            f"tune.{DISTRIBUTION_MODEL} takes feature_set '{distribution.KIND}' and no "
            f"extra_features (its inputs are fixed: tmaxedge.distribution.COLUMNS); got "
            f"feature_set {params.feature_set!r}, extra_features {list(params.extra_features)}."
        )


def training_rows(
    rows: pd.DataFrame, kind: str, uses_nowcast: bool, cities: list[str] = ()
) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray, dict | None]:
    """What a model of ``kind`` is fitted on from a unit's training rows: (the rows, one per
    fitted row; their inputs; outcomes; the nowcast tables fitted on them, None when unused).
    A bin model's rows are the markets' own; tmax_dist's, one per market's lower edge
    (``distribution.threshold_rows``). Nowcast inputs leave each row's own day out of the tables."""
    if kind == DISTRIBUTION_MODEL:
        tables = nowcast.fit_tables(rows)
        kept, x, y = distribution.threshold_rows(
            rows, tables, leave_own_day_out=True, cities=cities
        )
        return kept, x, y, tables
    tables = nowcast.fit_tables(rows) if uses_nowcast else None
    if tables is not None:
        rows = nowcast.add_columns(rows, tables, leave_own_day_out=True)
    return rows, rows, rows["y"].to_numpy(int), tables


def tune_rows(
    rows: pd.DataFrame,
    x: np.ndarray,
    y: np.ndarray,
    columns: list[str],
    model: str,
    params: ModelParams,
    beta_max: float | None,
    study_storage: str | None,
    study_label: str,
) -> TuneResult:
    """``tune_group`` on ``x``, grouped by the rows' event dates, studied on every
    ``tune_every_minutes``-th minute."""
    return tune_group(
        x,
        y,
        rows["event_date"].astype(str).to_numpy(),
        columns,
        model,
        params,
        study_storage=study_storage,
        study_label=study_label,
        study_rows=thin_rows(rows["ts"], params.tune_every_minutes),
        beta_max=beta_max,
    )


def tuned_models(tuned: dict[str, TuneResult]) -> TunedModels:
    """``tune_window``'s results as calibration reads them (the tune stage's files, in memory)."""
    return TunedModels(
        {name: uncalibrated_card(result) for name, result in tuned.items()},
        {name: result.best_params for name, result in tuned.items()},
    )


def uncalibrated_card(result: TuneResult) -> ModelCard | None:
    """The tuned model, not yet calibrated (None when tuning found none)."""
    if result.fit is None:
        return None
    return ModelCard(
        result.preprocessor, result.fit, Calibrator("none"), result.nowcast, kind=result.kind
    )
