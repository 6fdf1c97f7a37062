"""Calibration on the last part of the training window, around the frozen tuned model."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from tmaxedge.errors import ParamsError
from tmaxedge.models import Calibrator, LinearFit, Preprocessor


CALIBRATION_METHODS = ("auto", "isotonic", "sigmoid", "none")


@dataclass(frozen=True)
class CalibrateParams:
    """params.yaml ``calibrate``."""

    method: str = "auto"  # auto: isotonic with isotonic_min outcomes, else sigmoid; or one of them; or none
    isotonic_min: int = 1000  # independent outcomes (market-days) needed for isotonic
    clip: float = 0.001  # probabilities are kept in [clip, 1 - clip]

    def __post_init__(self) -> None:
        if self.method not in CALIBRATION_METHODS:
            raise ParamsError(
                f"method must be a str among {list(CALIBRATION_METHODS)}; got {self.method!r}."
            )
        if self.isotonic_min < 1:
            raise ParamsError(f"isotonic_min must be an int >= 1; got {self.isotonic_min}.")
        if not 0 < self.clip < 0.5:
            raise ParamsError(f"clip must be a number in (0, 0.5); got {self.clip}.")


def choose_method(n_outcomes: int, params: CalibrateParams) -> str:
    """Isotonic needs many independent outcomes; a market-day is one, however many minutes it has."""
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
) -> tuple[Calibrator, object | None, dict]:
    """Fit the calibrator on ``(x, y)`` with the model (``preprocessor`` then ``linear``) frozen.

    Returns the calibrator as plain numbers, the fitted ``CalibratedClassifierCV`` (``None`` when the
    slice cannot be calibrated: no rows or a single class, and then the raw model is used) and
    a description for calibration_fit.json.
    """
    info = {"n_rows": int(len(y)), "n_outcomes": int(n_outcomes), "n_positive": int(y.sum())}
    if params.method == "none":
        info.update(method="none", reason="calibrate.method is none")
        return Calibrator("none", clip=params.clip), None, info
    if len(y) == 0 or len(np.unique(y)) < 2:
        info["method"] = "none"
        info["reason"] = "calibration split has no rows" if len(y) == 0 else "single class"
        return Calibrator("none", clip=params.clip), None, info
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.frozen import FrozenEstimator

    from tmaxedge.sklearn_model import LinearProbabilityModel

    method = choose_method(n_outcomes, params)
    model = LinearProbabilityModel(preprocessor, linear).fit(None)
    calibrated = CalibratedClassifierCV(FrozenEstimator(model), method=method)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        calibrated.fit(x, y)
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
    return calibrator, calibrated, info
