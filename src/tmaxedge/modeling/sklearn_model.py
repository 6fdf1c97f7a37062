"""The fitted model as a scikit-learn classifier, for calibration with ``FrozenEstimator`` and
for model.joblib. Kept apart from ``tmaxedge.modeling.logistic`` so that predicting from model.json
does not import scikit-learn (a second or more per stage).
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin

from tmaxedge.modeling.logistic import LinearFit, Preprocessor


class ScoredClassifier(ClassifierMixin, BaseEstimator):
    """A binary classifier whose probability is the logistic of its ``decision_function``, which
    each subclass defines."""

    def predict_proba(self, x) -> np.ndarray:
        p = expit(self.decision_function(x))
        return np.column_stack([1 - p, p])

    def predict(self, x) -> np.ndarray:
        return (self.decision_function(x) > 0).astype(int)


class LinearProbabilityModel(ScoredClassifier):
    """A fitted preprocessing + logistic model as a scikit-learn classifier.

    It is built from fitted parts (never ``fit`` on data itself), so that scikit-learn's
    ``CalibratedClassifierCV`` can wrap it in a ``FrozenEstimator``.
    """

    def __init__(self, preprocessor: Preprocessor | None = None, linear: LinearFit | None = None):
        self.preprocessor = preprocessor
        self.linear = linear

    def fit(self, x, y=None):  # noqa: D401 - the model arrives fitted
        self.classes_ = np.array([0, 1])
        return self

    def __sklearn_is_fitted__(self) -> bool:
        return self.linear is not None

    def decision_function(self, x) -> np.ndarray:
        return self.linear.decision(self.preprocessor.transform(np.asarray(x, float)))


class ScoreModel(ScoredClassifier):
    """The identity on a column of linear scores, so that ``CalibratedClassifierCV`` can calibrate
    scores that several models made (out-of-fold):
    ``tmaxedge.modeling.calibration.calibrate_scores``."""

    def fit(self, x, y=None):  # noqa: D401 - nothing to learn
        self.classes_ = np.array([0, 1])
        return self

    def __sklearn_is_fitted__(self) -> bool:
        return True

    def decision_function(self, x) -> np.ndarray:
        return np.asarray(x, float)[:, 0]
