"""Coherent bins: an event's six markets partition the outcomes, so at any minute their
probabilities should sum to 1. ``logit_shift`` adds one common λ to all six logits so they do.
"""

from __future__ import annotations

from dataclasses import dataclass

from tmaxedge.core.params import Options, Params, declare

COHERENCE_METHODS = ("none", "logit_shift")


@dataclass(frozen=True)
class CoherenceParams(Params):
    """params.yaml ``coherence``."""

    constraints = declare(method=Options(COHERENCE_METHODS))

    method: str = "none"
