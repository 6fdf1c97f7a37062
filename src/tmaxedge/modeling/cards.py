"""Model cards: everything needed to predict without unpickling, written as ``model.json``,
and the calibrator that maps a linear score to a probability.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.special import expit

from tmaxedge.core.probability import PROB_CLIP
from tmaxedge.modeling.logistic import LinearFit, Preprocessor


@dataclass
class Calibrator:
    """Maps the linear score to a probability: isotonic (a step function) or sigmoid (Platt)."""

    method: str  # "isotonic" | "sigmoid" | "none"
    x: list[float] = field(default_factory=list)  # isotonic thresholds
    y: list[float] = field(default_factory=list)
    a: float = 0.0  # sigmoid: p = 1 / (1 + exp(a * score + b))
    b: float = 0.0
    clip: float = PROB_CLIP

    def __call__(self, score: np.ndarray) -> np.ndarray:
        if self.method == "isotonic":
            p = np.interp(score, self.x, self.y)
        elif self.method == "sigmoid":
            p = expit(-(self.a * score + self.b))
        else:
            p = expit(score)
        return np.clip(p, self.clip, 1 - self.clip)

    def to_dict(self) -> dict:
        return {
            "method": self.method,
            "x": self.x,
            "y": self.y,
            "a": self.a,
            "b": self.b,
            "clip": self.clip,
        }


@dataclass
class ModelCard:
    """Everything needed to predict without unpickling: written as model.json."""

    preprocessor: Preprocessor
    linear: LinearFit
    calibrator: Calibrator
    nowcast: dict | None = None  # tmaxedge.features.nowcast tables fitted in the training window
    pool_weight: float | None = (
        None  # tmaxedge.modeling.pooling: the model's weight against the market
    )
    # "bin": P(YES) of a market | "distribution": P(high >= k) (tmaxedge.modeling.distribution)
    kind: str = "bin"

    def predict(self, x: np.ndarray) -> np.ndarray:
        score = self.linear.decision(self.preprocessor.transform(np.asarray(x, float)))
        return self.calibrator(score)

    def to_dict(self) -> dict:
        return {
            "preprocessor": self.preprocessor.to_dict(),
            "coef": self.linear.coef.tolist(),
            "intercept": self.linear.intercept,
            "calibrator": self.calibrator.to_dict(),
            "nowcast": self.nowcast,
            "pool_weight": self.pool_weight,
            "kind": self.kind,
        }

    @classmethod
    def from_dict(cls, d: dict) -> ModelCard:
        return cls(
            Preprocessor.from_dict(d["preprocessor"]),
            LinearFit(np.asarray(d["coef"], float), float(d["intercept"])),
            Calibrator(**d["calibrator"]),
            d.get("nowcast"),
            d.get("pool_weight"),
            d.get("kind", "bin"),
        )
