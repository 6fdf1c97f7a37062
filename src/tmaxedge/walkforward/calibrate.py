"""Step 2 of a window: each group's calibrator, then its market pooling weight w.

This module gathers the evidence (which rows, scored by which model) and hands it out; the
fitting itself is ``modeling.calibration.fit_calibrator`` and
``modeling.pooling.fit_pool_weights``.
``crossfit.calibrate_tuned`` (what the calibrate stage and ``run_window`` call) chooses the folds.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd

from tmaxedge.core.keys import Group
from tmaxedge.features import scopes
from tmaxedge.modeling import distribution
from tmaxedge.modeling.calibration import (
    CalibrateParams,
    FittedCalibration,
    ScoredOutcomes,
    fit_calibrator,
    with_model,
)
from tmaxedge.modeling.cards import ModelCard, unit_card
from tmaxedge.modeling.pooling import (
    NO_POOL_FIT,
    PoolEvidence,
    PoolParams,
    fit_pool_weights,
    scope_key,
)
from tmaxedge.walkforward.groups import design_matrix, distribution_unit, with_nowcast
from tmaxedge.walkforward.predict import predict_groups


class CalibratedGroup(NamedTuple):
    """One group's calibration result: the card that prices its test week (None: no model), the
    same model as a scikit-learn classifier (model.joblib: calibrated when a calibrator was
    fitted; before the market blend) and calibration_fit.json."""

    card: ModelCard | None
    fitted: object | None
    info: dict


@dataclass
class CalibrationFold:
    """Rows to calibrate on (per group) and the models that did not see them."""

    parts: dict[str, pd.DataFrame]
    cards: dict[str, ModelCard | None]


def calibrate_window(
    parts: dict[str, pd.DataFrame],
    cards: dict[str, ModelCard | None],
    params: CalibrateParams,
    pool: PoolParams,
) -> dict[str, CalibratedGroup]:
    """Calibrator, then pooling weight, of every group, on the window's calibration split.

    ``parts`` are the calibration rows of every group in ``cards`` (maybe none), ``cards`` the
    tuned models (None where tuning found no model). ``calibrate_folds`` says the rest.
    """
    return calibrate_folds([CalibrationFold(parts, cards)], cards, params, pool)


def calibrate_folds(
    folds: list[CalibrationFold],
    cards: dict[str, ModelCard | None],
    params: CalibrateParams,
    pool: PoolParams,
) -> dict[str, CalibratedGroup]:
    """Calibrator, then pooling weight, of every group's model in ``cards``, fitted on every
    fold's rows as scored by that fold's models (one fold: the calibration split and the tuned
    models; several: ``tmaxedge.crossfit``).

    With ``pool.scope == "strike_type"`` the groups of one strike type share a w fitted on all
    their rows. A tmax_dist model is one per city (or one pooled), so its calibrator is fitted
    once on all the rows it prices and given to each of its groups.
    """
    keys = {name: calibration_key(name, card) for name, card in cards.items() if card is not None}
    calibrators = {
        key: fit_calibrator(pieces, params)
        for key, pieces in calibration_evidence(folds, keys).items()
    }
    results = {
        name: calibrated_group(card, calibrators.get(keys.get(name)))
        for name, card in cards.items()
    }
    if not pool.enabled:
        return results
    fits = fit_pool_weights(pool_evidence(folds, keys, calibrators, pool.scope), pool)
    return {
        name: with_pool_weight(name, result, fits, pool.scope) for name, result in results.items()
    }


def calibration_key(group: str, card: ModelCard) -> str:
    """Groups sharing a key share a calibrator: a bin model's group, a tmax_dist fit's unit."""
    return distribution_unit(group, card) or group


def calibration_evidence(
    folds: list[CalibrationFold], keys: dict[str, str]
) -> dict[str, list[ScoredOutcomes]]:
    """Per calibration key, each fold's scores on the rows of the groups sharing it (a fold
    where none of them has a model adds nothing)."""
    evidence: dict[str, list[ScoredOutcomes]] = {key: [] for key in keys.values()}
    for fold in folds:
        for key, pieces in evidence.items():
            names = [n for n in keys if keys[n] == key and fold.cards.get(n) is not None]
            if names:
                rows = pd.concat([fold.parts[name] for name in names], ignore_index=True)
                card = unit_card([fold.cards[name] for name in names])
                pieces.append(calibration_scores(rows, card))
    return evidence


def calibration_scores(part: pd.DataFrame, card: ModelCard) -> ScoredOutcomes:
    """The card's linear scores, outcomes and tickers on the rows it is calibrated on; a
    tmax_dist model's are those of S(k) at its rows' lower edges, so calibration keeps the
    distribution whole."""
    if card.kind == distribution.KIND:
        cities = scopes.pooled_cities(card.preprocessor.columns)
        kept, frame, y = distribution.threshold_rows(part, card.nowcast, cities=cities)
        x, tickers = frame[card.preprocessor.columns].to_numpy(float), kept["ticker"]
    else:
        x = design_matrix(with_nowcast(part, card), card.preprocessor.columns)
        y, tickers = part["y"].to_numpy(int), part["ticker"]
    score = card.linear.decision(card.preprocessor.transform(x)) if len(y) else np.empty(0)
    return ScoredOutcomes(score, np.asarray(y, int), tickers.astype(str).to_numpy())


def calibrated_group(card: ModelCard | None, fit: FittedCalibration | None) -> CalibratedGroup:
    """The tuned ``card`` with its calibrator, before pooling."""
    if card is None:
        return CalibratedGroup(None, None, {"method": "none", "reason": "no model"})
    calibrated = dataclasses.replace(card, calibrator=fit.calibrator)
    serving = with_model(fit.fitted, card.preprocessor, card.linear)
    return CalibratedGroup(calibrated, serving, fit.info)


def pool_evidence(
    folds: list[CalibrationFold],
    keys: dict[str, str],
    calibrators: dict[str, FittedCalibration],
    scope: str,
) -> dict[str, list[PoolEvidence]]:
    """Per pooling scope key, each fold's calibrated forecasts, market prices and outcomes on
    the rows of its groups (the fold's models with the calibrators fitted on all folds)."""
    evidence: dict[str, list[PoolEvidence]] = {}
    for fold in folds:
        served = {
            name: dataclasses.replace(card, calibrator=calibrators[keys[name]].calibrator)
            for name in keys
            if (card := fold.cards.get(name)) is not None
        }
        alone = predict_groups({name: fold.parts[name] for name in served}, served)
        for name in served:
            part = fold.parts[name]
            if not part.empty:
                p_market = part["p_market"].to_numpy(float, na_value=np.nan)
                piece = PoolEvidence(alone[name], p_market, part["y"].to_numpy(int))
                evidence.setdefault(scope_key(Group.parse(name), scope), []).append(piece)
    return evidence


def with_pool_weight(
    name: str, result: CalibratedGroup, fits: dict[str, dict], scope: str
) -> CalibratedGroup:
    """The group's calibrated card with its scope's w, the fit recorded in calibration_fit.json."""
    if result.card is None:
        return result
    key = scope_key(Group.parse(name), scope)
    fit = fits.get(key, NO_POOL_FIT)
    card = dataclasses.replace(result.card, pool_weight=fit["w"])
    return CalibratedGroup(card, result.fitted, {**result.info, "pool": {"scope": key, **fit}})
