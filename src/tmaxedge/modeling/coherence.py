"""Coherent bins: an event's six markets partition the outcomes, so at any minute their
probabilities should sum to 1. ``logit_shift`` adds one common λ to all six logits so they do.
"""

from __future__ import annotations

from dataclasses import dataclass

from tmaxedge.core.errors import ParamsError

COHERENCE_METHODS = ("none", "logit_shift")


@dataclass(frozen=True)
class CoherenceParams:
    """params.yaml ``coherence``."""

    method: str = "none"

    def __post_init__(self) -> None:
        if self.method not in COHERENCE_METHODS:
            raise ParamsError(f"method must be a str among {list(COHERENCE_METHODS)}; got {self.method!r}.")




