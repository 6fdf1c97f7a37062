"""Calibration around a frozen model: on the last part of the training window (``holdout``, the
brief's), or on out-of-fold scores over all of it (``crossfit``:
``tmaxedge.walkforward.crossfit``)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from tmaxedge.core.params import Interval, Options, Params, declare
from tmaxedge.modeling.cards import CLIP_BOUNDS, Calibrator
from tmaxedge.modeling.logistic import LinearFit, Preprocessor

CALIBRATION_METHODS = ("auto", "isotonic", "sigmoid", "none")
# holdout: the tuned model, calibrated (and pooled) on the last calibration_fraction of the
# training days. crossfit: refitted with the tuned hyperparameters on ``folds`` blocks of the
# training days, calibrated and pooled on each block's out-of-fold scores, then refitted on them all
FIT_ON = ("holdout", "crossfit")
# market_days: independent outcomes (a market-day's minutes share one); rows: the brief's count
ISOTONIC_COUNTS = ("market_days", "rows")


@dataclass(frozen=True)
class CalibrateParams(Params):
    """params.yaml ``calibrate``."""

    constraints = declare(
        method=Options(CALIBRATION_METHODS),
        isotonic_min=Interval(int, 1, None),
        clip=Interval(float, *CLIP_BOUNDS, closed="neither"),
        fit_on=Options(FIT_ON),
        folds=Interval(int, 2, None),
        isotonic_counts=Options(ISOTONIC_COUNTS),
    )
    method: str = (
        "auto"  # auto: isotonic with isotonic_min outcomes, else sigmoid; or one of them; or none
    )
    isotonic_min: int = 1000  # independent outcomes (market-days) needed for isotonic
    clip: float = 0.001  # probabilities are kept in [clip, 1 - clip]
    fit_on: str = "holdout"  # among FIT_ON
    folds: int = 5  # crossfit: blocks of consecutive training days
    isotonic_counts: str = "market_days"  # what isotonic_min counts: among ISOTONIC_COUNTS


class FittedCalibration(NamedTuple):
    """A fitted calibrator: as plain numbers (for model.json), as the fitted scikit-learn
    ``CalibratedClassifierCV`` (None when nothing could be fitted: the raw model is used), and
    its description for calibration_fit.json."""

    calibrator: Calibrator
    fitted: object | None
    info: dict


class ScoredOutcomes(NamedTuple):
    """A model's linear scores on rows it was not fitted on, their outcomes and market tickers
    (a market-day is one independent outcome, however many minutes it has)."""

    score: np.ndarray
    y: np.ndarray
    tickers: np.ndarray


def choose_method(n_outcomes: int, params: CalibrateParams) -> str:
    """Isotonic needs many independent outcomes; a market-day is one, however many minutes it
    has."""
    if params.method != "auto":
        return params.method
    return "isotonic" if n_outcomes >= params.isotonic_min else "sigmoid"


def calibrate_model(
    preprocessor: Preprocessor,
    linear: LinearFit,
    x: np.ndarray,
    y: np.ndarray,
    n_outcomes: int,
    params: CalibrateParams,
) -> FittedCalibration:
    """Fit the calibrator on ``(x, y)`` with the model (``preprocessor`` then ``linear``) frozen.

    Returns the calibrator as plain numbers, the fitted ``CalibratedClassifierCV`` around the
    model (the model alone when the slice cannot be calibrated: no rows or a single class) and a
    description for calibration_fit.json.
    """
    score = linear.decision(preprocessor.transform(np.asarray(x, float))) if len(y) else np.empty(0)
    calibrator, fitted, info = calibrate_scores(score, y, n_outcomes, params)
    return FittedCalibration(calibrator, with_model(fitted, preprocessor, linear), info)


def fit_calibrator(pieces: list[ScoredOutcomes], params: CalibrateParams) -> FittedCalibration:
    """The calibrator of one model (or of several, each scoring the rows it did not see: one
    piece per fold) fitted on all the pieces' scores together."""
    if pieces:
        score, y, tickers = (np.concatenate(column) for column in zip(*pieces, strict=True))
    else:
        score, y, tickers = (np.empty(0),) * 3
    return calibrate_scores(score, y.astype(int), len(np.unique(tickers)), params)


def calibrate_scores(
    score: np.ndarray, y: np.ndarray, n_outcomes: int, params: CalibrateParams
) -> FittedCalibration:
    """``calibrate_model`` on a model's linear scores: the same calibrator, fitted by
    ``CalibratedClassifierCV`` around a frozen identity; the scores may come from several models
    (out-of-fold), each scoring the rows it did not see. ``with_model`` puts the model to serve
    in."""
    info = {"n_rows": int(len(y)), "n_outcomes": int(n_outcomes), "n_positive": int(np.sum(y))}
    if params.method == "none":
        info.update(method="none", reason="calibrate.method is none")
        return FittedCalibration(Calibrator("none", clip=params.clip), None, info)
    if len(y) == 0 or len(np.unique(y)) < 2:
        info["method"] = "none"
        info["reason"] = "calibration split has no rows" if len(y) == 0 else "single class"
        return FittedCalibration(Calibrator("none", clip=params.clip), None, info)
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.frozen import FrozenEstimator

    from tmaxedge.modeling.sklearn_model import ScoreModel

    method = choose_method(len(y) if params.isotonic_counts == "rows" else n_outcomes, params)
    calibrated = CalibratedClassifierCV(FrozenEstimator(ScoreModel().fit(None)), method=method)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        calibrated.fit(np.asarray(score, float).reshape(-1, 1), y)
    fitted = calibrated.calibrated_classifiers_[0].calibrators[0]
    if method == "isotonic":
        calibrator = Calibrator(
            "isotonic",
            x=np.asarray(fitted.X_thresholds_, float).tolist(),
            y=np.asarray(fitted.y_thresholds_, float).tolist(),
            clip=params.clip,
        )
    else:
        calibrator = Calibrator("sigmoid", a=float(fitted.a_), b=float(fitted.b_), clip=params.clip)
    info["method"] = method
    return FittedCalibration(calibrator, calibrated, info)


def with_model(calibrated, preprocessor: Preprocessor, linear: LinearFit):
    """The ``CalibratedClassifierCV`` fitted on scores, made to score rows with the model
    (``preprocessor`` then ``linear``): its calibrator maps scores, so it serves any model whose
    scores it was fitted on. Without one (``None``: no calibrator fitted), the model alone as a
    scikit-learn classifier, so every fitted group has a model.joblib."""
    from tmaxedge.modeling.sklearn_model import LinearProbabilityModel

    model = LinearProbabilityModel(preprocessor, linear).fit(None)
    if calibrated is None:
        return model
    from sklearn.frozen import FrozenEstimator

    frozen = FrozenEstimator(model)
    calibrated.estimator = frozen
    for part in calibrated.calibrated_classifiers_:
        part.estimator = frozen
    return calibrated
