"""Coherent bins: an event's six markets partition the outcomes, so at any minute their
probabilities should sum to 1. ``logit_shift`` adds one common λ to all six logits so they do.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from tmaxedge.core import probability
from tmaxedge.core.params import Options, Params, declare

COHERENCE_METHODS = ("none", "logit_shift")


@dataclass(frozen=True)
class CoherenceParams(Params):
    """params.yaml ``coherence``."""

    constraints = declare(method=Options(COHERENCE_METHODS))

    method: str = "none"


def coherent_probabilities(predictions: pd.DataFrame, column: str = "p_model") -> np.ndarray:
    """``column`` of a predictions table (a forecast, or the market's price) after the common
    logit shift per event and minute (``probability.logit_shift``: complete sets only)."""
    n_markets = probability.markets_per_event(
        predictions["event_ticker"], predictions["market_ticker"]
    )
    return probability.logit_shift(
        predictions[column].to_numpy(float),
        predictions["event_ticker"].to_numpy(),
        predictions["timestamp"].to_numpy(),
        n_markets,
    )
