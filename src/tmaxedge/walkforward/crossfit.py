"""Calibration and the market pooling weight, on the calibration split or cross-fitted.

``calibrate.fit_on: holdout`` (the brief's): the tuned model, fitted on the first 80% of the
training days, is calibrated and pooled on the last 20%. A tail group's last 18 days hold a
couple of YES outcomes, so its calibrator and w rest on very little.

``calibrate.fit_on: crossfit``: the training days are cut into ``calibrate.folds`` blocks of
consecutive days. Each block is scored by the model refitted, with the study's hyperparameters,
on the other blocks, so every training day is scored once by a model that did not see it; the
calibrator and w are fitted on all those scores, and the model that prices the test week is
refitted on every training day. Blocks are consecutive days because a day's minutes, and
neighbouring days' weather, are not independent draws.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from tmaxedge.core.keys import Group
from tmaxedge.features import scopes
from tmaxedge.modeling import distribution
from tmaxedge.modeling.calibration import CalibrateParams
from tmaxedge.modeling.cards import Calibrator, ModelCard
from tmaxedge.modeling.logistic import Preprocessor, class_weights, fit_logistic
from tmaxedge.modeling.pooling import PoolParams
from tmaxedge.modeling.tuning import within_norm
from tmaxedge.walkforward.calibrate import (
    CalibratedGroup,
    CalibrationFold,
    calibrate_folds,
    calibrate_window,
)
from tmaxedge.walkforward.groups import design_matrix, distribution_unit, parts_of
from tmaxedge.walkforward.tune import DISTRIBUTION_MODEL, norm_limit, training_rows
from tmaxedge.walkforward.windows import Window

Results = dict[str, CalibratedGroup]


def calibration_start(window: Window, params: CalibrateParams) -> dt.date:
    """The first event date a window's calibration reads."""
    return window.train_start if params.fit_on == "crossfit" else window.fit_end


def calibrate_tuned(
    fit_rows: pd.DataFrame,
    calibration_rows: pd.DataFrame,
    cards: dict[str, ModelCard | None],
    best_params: dict[str, dict],
    params: CalibrateParams,
    pool: PoolParams,
    beta_max: dict[str, float] | None = None,
) -> Results:
    """Every group's calibrated (and pooled) model from the tuned ``cards``, as ``params.fit_on``
    says, given a window's fit-split and calibration-split rows (holdout reads only the latter:
    ``calibration_start``). ``best_params`` are the studies' (best_params.json), ``beta_max`` the
    gate's coefficient-norm limits."""
    if params.fit_on == "holdout":
        return calibrate_window(parts_of(calibration_rows, cards), cards, params, pool)
    training = pd.concat([fit_rows, calibration_rows], ignore_index=True)
    return crossfit_window(parts_of(training, cards), cards, best_params, params, pool, beta_max)


def crossfit_window(
    parts: dict[str, pd.DataFrame],
    cards: dict[str, ModelCard | None],
    best_params: dict[str, dict],
    params: CalibrateParams,
    pool: PoolParams,
    beta_max: dict[str, float] | None = None,
) -> Results:
    """Cross-fitted calibration (module docstring) of the tuned ``cards`` on each group's training
    rows ``parts``. The served model is the refit on every training day (within the gate's
    coefficient-norm limit, as the tuned one is); calibration_fit.json says how it was made."""
    units = units_of(cards)
    all_dates = np.concatenate(
        [part["event_date"].astype(str).to_numpy() for part in parts.values()]
    )
    blocks = day_blocks(all_dates, params.folds)
    folds = []
    for block in blocks:
        held = {
            name: part[part["event_date"].astype(str).isin(block).to_numpy()]
            for name, part in parts.items()
        }
        kept = {
            name: part[~part["event_date"].astype(str).isin(block).to_numpy()]
            for name, part in parts.items()
        }
        folds.append(CalibrationFold(held, refit_units(units, kept, cards, best_params, beta_max)))
    final = refit_units(units, parts, cards, best_params, beta_max)
    served = {name: final.get(name) for name in cards}
    results = calibrate_folds(folds, served, params, pool)
    refit_info = {
        "fit_on": "crossfit",
        "folds": [[str(block[0]), str(block[-1])] for block in blocks],
        "fold_models": [sum(card is not None for card in fold.cards.values()) for fold in folds],
    }
    return {
        name: result._replace(info={**result.info, **refit_info})
        for name, result in results.items()
    }


def day_blocks(dates: np.ndarray, folds: int) -> list[np.ndarray]:
    """The distinct ``dates`` in order, cut into ``folds`` blocks of consecutive days (sizes
    differ by at most one; fewer blocks when there are fewer days)."""
    days = np.unique(dates)
    return [block for block in np.array_split(days, min(folds, len(days))) if len(block)]


def units_of(cards: dict[str, ModelCard | None]) -> dict[str, list[str]]:
    """The groups that share one fitted model: a tmax_dist unit's (its city, or the pooled
    cities), a pooled bin model's strike type, or a group alone."""
    units: dict[str, list[str]] = {}
    for name, card in cards.items():
        if card is None:
            continue
        if card.kind == distribution.KIND:
            unit = distribution_unit(name, card)
        elif scopes.pooled_cities(card.preprocessor.columns):
            unit = scopes.pooled_unit(Group.parse(name).strike_type)
        else:
            unit = name
        units.setdefault(unit, []).append(name)
    return units


def refit_units(
    units: dict[str, list[str]],
    parts: dict[str, pd.DataFrame],
    cards: dict[str, ModelCard | None],
    best_params: dict[str, dict],
    beta_max: dict[str, float] | None,
) -> dict[str, ModelCard | None]:
    """Each unit's model refitted on its groups' ``parts``, given to each of its groups."""
    refitted: dict[str, ModelCard | None] = {}
    for unit, names in units.items():
        rows = pd.concat([parts[name] for name in names], ignore_index=True)
        card = cards[names[0]]
        kind = DISTRIBUTION_MODEL if card.kind == distribution.KIND else "bin"
        # the limit the unit's study answered to (none when its entry is not held to one)
        best = best_params[names[0]]
        limit = norm_limit(kind, unit, beta_max) if best.get("beta_max") is not None else None
        model = refit(rows, card, best, limit)
        refitted.update({name: model for name in names})
    return refitted


def refit(
    rows: pd.DataFrame, card: ModelCard, best: dict, beta_max: float | None
) -> ModelCard | None:
    """``card``'s model (its kind, inputs, nowcast and pooled cities) fitted anew on ``rows`` with
    the study's hyperparameters (best_params.json: C_fit, class weights, l1_ratio), its nowcast
    tables refitted on them too; uncalibrated. Kept within ``beta_max`` as the tuned fit is (not
    when no trial was: the gate then reports it). None when the rows hold one outcome only."""
    kind = DISTRIBUTION_MODEL if card.kind == distribution.KIND else "bin"
    cities = scopes.pooled_cities(card.preprocessor.columns)
    kept, frame, y, tables = training_rows(rows, kind, card.nowcast is not None, cities)
    if len(np.unique(y)) < 2:
        return None
    x = design_matrix(frame, card.preprocessor.columns)
    preprocessor = Preprocessor.fit(x, card.preprocessor.columns, card.preprocessor.order)
    z = preprocessor.transform(x)
    scheme = None if best["class_weight"] == "none" else best["class_weight"]
    weights = class_weights(y, scheme)
    c, l1_ratio = float(best["C_fit"]), float(best["l1_ratio"])
    fit = fit_logistic(z, y, c, l1_ratio, weights, card.linear)
    if beta_max is not None and best.get("beta_feasible") is not False:
        c, fit = within_norm(z, y, c, l1_ratio, weights, fit, beta_max)
    return ModelCard(preprocessor, fit, Calibrator("none"), tables, kind=card.kind)
