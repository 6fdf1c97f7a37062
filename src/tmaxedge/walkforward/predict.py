"""A group's P(YES) from its (calibrated) model, before pooling with the market."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tmaxedge.modeling import distribution
from tmaxedge.modeling.cards import ModelCard, unit_card
from tmaxedge.walkforward.groups import design_matrix, distribution_unit, with_nowcast


def predict_groups(
    parts: dict[str, pd.DataFrame], cards: dict[str, ModelCard | None]
) -> dict[str, np.ndarray]:
    """``predict_alone`` for each group, except that a tmax_dist model prices all the groups of
    its cities in one call, so that each event-minute's distribution is whole (rearranged, it
    then sums to 1: ``distribution.bin_probability``)."""
    units = {name: distribution_unit(name, cards.get(name)) for name in parts}
    alone = {
        name: predict_alone(part, cards.get(name))
        for name, part in parts.items()
        if units[name] is None
    }
    for unit in sorted({u for u in units.values() if u is not None}):
        names = [name for name in parts if units[name] == unit]
        rows = pd.concat([parts[n] for n in names], ignore_index=True)
        p = distribution.bin_probability(unit_card([cards[n] for n in names]), rows)
        bounds = np.cumsum([0] + [len(parts[n]) for n in names])
        alone.update({name: p[bounds[i] : bounds[i + 1]] for i, name in enumerate(names)})
    return alone


def predict_alone(part: pd.DataFrame, card: ModelCard | None) -> np.ndarray:
    """The (calibrated) model's P(YES) for each row, before pooling; NaN without a model. (A
    tmax_dist model sees only these rows' events: ``predict_groups`` gives it whole events.)"""
    if card is None:
        return np.full(len(part), np.nan)
    if card.kind == distribution.KIND:
        return distribution.bin_probability(card, part)
    return card.predict(design_matrix(with_nowcast(part, card), card.preprocessor.columns))
