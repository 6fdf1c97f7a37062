"""One event's six bins, as a real KXHIGH event splits them, and a rounded normal over them."""

import numpy as np
import pandas as pd
from scipy.stats import norm

from tmaxedge.core import strikes

# T < 78 | 78-79 | 80-81 | 82-83 | 84-85 | T > 85
BINS = pd.DataFrame(
    {
        "strike_type": ["less", "between", "between", "between", "between", "greater"],
        "floor_strike": [np.nan, 78, 80, 82, 84, 85],
        "cap_strike": [78, 79, 81, 83, 85, np.nan],
    }
)
LOW, HIGH = strikes.yes_interval(BINS)


def discretised_normal(mean: float, sd: float) -> np.ndarray:
    """P(integer high in each bin) when the high is a rounded normal."""
    upper = np.where(np.isinf(HIGH), np.inf, HIGH + 0.5)
    lower = np.where(np.isinf(LOW), -np.inf, LOW - 0.5)
    return norm.cdf(upper, mean, sd) - norm.cdf(lower, mean, sd)
