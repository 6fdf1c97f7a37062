"""Which official highs resolve a market YES: the one rule every layer reads.

A market's bin is given by ``strike_type`` and its ``floor_strike`` / ``cap_strike``; the
official high is an integer °F, so each bin is an inclusive interval of integers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def resolves_yes(
    strike_type: pd.Series, floor_strike: pd.Series, cap_strike: pd.Series, tmax_f: pd.Series
) -> np.ndarray:
    """The YES rule on the integer official high ``tmax_f``, element-wise.

    ``between`` ⇔ floor ≤ T ≤ cap; ``greater`` ⇔ T > floor; ``less`` ⇔ T < cap. So with
    floor 45, cap 46: T = 45 and 46 are YES for ``between``; ``greater`` floor 46 needs T ≥ 47.
    """
    kind = np.asarray(strike_type, dtype=object)
    low = np.asarray(floor_strike, dtype="float64")
    high = np.asarray(cap_strike, dtype="float64")
    temp = np.asarray(tmax_f, dtype="float64")
    with np.errstate(invalid="ignore"):
        between = (low <= temp) & (temp <= high)
        greater = temp > low
        less = temp < high
    conditions = [kind == "between", kind == "greater", kind == "less"]
    return np.select(conditions, [between, greater, less], default=False).astype(bool)


def yes_interval(markets: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The integer highs ``[low, high]`` (inclusive, ±inf for tails) where each market is YES."""
    kind = markets["strike_type"].to_numpy(dtype=object)
    floor = markets["floor_strike"].to_numpy(dtype="float64")
    cap = markets["cap_strike"].to_numpy(dtype="float64")
    is_less, is_greater = kind == "less", kind == "greater"
    low = np.select([is_less, is_greater], [-np.inf, np.floor(floor) + 1], np.ceil(floor))
    high = np.select([is_greater, is_less], [np.inf, np.ceil(cap) - 1], np.floor(cap))
    return low, high
