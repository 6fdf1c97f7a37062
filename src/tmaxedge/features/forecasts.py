"""Forecast features: what the latest weather forecast public at a decision row says of its bin.

Point in time: a row of event (city, event_date) at minute ``ts`` sees the forecasts of that city
with ``target_date = event_date`` and ``issued_at <= ts`` (a forecast issued at exactly ``ts``
is visible), and nothing else; the join is an as-of join per (city, target_date). With no
forecast visible, every column is null.

- ``fc_high``: the latest visible forecast of the high, °F.
- ``fc_minus_floor`` = fc_high − floor_strike (null for ``less``); ``fc_minus_cap`` = fc_high −
  cap_strike (null for ``greater``).
- ``fc_revision``: the latest visible forecast minus the one visible before it (null with fewer
  than two).
- ``fc_lead_days``: the latest visible forecast's ``lead_days``; ``fc_age_hours``: hours from its
  ``issued_at`` to ``ts``.
- ``fc_bin_logit``: the log-odds of the bin's YES integers [low, high] (``strikes.yes_interval``)
  under a normal around fc_high with sd ``features.forecast_sd_f``, continuity-corrected (the
  high is an integer, so P = Φ((high + 0.5 − fc) / sd) − Φ((low − 0.5 − fc) / sd)), the
  probability clipped to [1e-4, 1 − 1e-4].
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import norm

from tmaxedge.core import strikes

FORECAST_COLUMNS = [
    "fc_high",
    "fc_minus_floor",
    "fc_minus_cap",
    "fc_revision",
    "fc_lead_days",
    "fc_age_hours",
    "fc_bin_logit",
]
FORECAST_INPUTS = ["city", "target_date", "issued_at", "lead_days", "tmax_forecast_f"]
PROBABILITY_CLIP = 1e-4  # a forecast is no evidence of a bin below 0.0001 or above 0.9999
_NS_PER_HOUR = 3_600_000_000_000


def read_forecasts(raw: Path) -> pd.DataFrame | None:
    """``raw/forecasts.parquet`` (ingest's copy of the optional table), None when there is none:
    the feature table then has no forecast columns."""
    path = Path(raw) / "forecasts.parquet"
    return pd.read_parquet(path, columns=FORECAST_INPUTS) if path.exists() else None


def latest_visible(rows: pd.DataFrame, forecasts: pd.DataFrame) -> pd.DataFrame:
    """Per row (``city``, ``event_date``, ``ts``), the latest forecast of its (city, event_date)
    with ``issued_at <= ts``, and the high of the one issued before that.

    Returns a frame aligned with ``rows`` (same index) holding ``high``, ``previous_high``,
    ``lead_days`` (NaN without a visible forecast) and ``issued_ns`` (UTC nanoseconds, -1
    without one).
    """
    ordered = _with_previous(forecasts)
    left = pd.DataFrame(
        {
            "row": np.arange(len(rows)),
            "key": _target_key(rows["city"], rows["event_date"]),
            "ns": _ns(rows["ts"]),
        }
    ).astype({"key": "str"})  # one key type on both sides, also for an empty side
    left = left.sort_values("ns", kind="mergesort")
    right = pd.DataFrame(
        {
            "key": _target_key(ordered["city"], ordered["target_date"]),
            "ns": _ns(ordered["issued_at"]),
            "issued_ns": _ns(ordered["issued_at"]),
            "high": ordered["tmax_forecast_f"].to_numpy(np.float64),
            "previous_high": ordered["previous_high"].to_numpy(np.float64),
            "lead_days": ordered["lead_days"].to_numpy(np.float64),
        }
    ).astype({"key": "str"})
    right = right.sort_values("ns", kind="mergesort")
    # backward with exact matches: the forecast issued at ts itself is visible at ts
    joined = pd.merge_asof(
        left, right, on="ns", by="key", direction="backward", allow_exact_matches=True
    )
    joined = joined.sort_values("row", kind="mergesort")
    found = joined[["high", "previous_high", "lead_days", "issued_ns"]].set_axis(rows.index)
    return found.assign(issued_ns=found["issued_ns"].fillna(-1).astype(np.int64))


def _with_previous(forecasts: pd.DataFrame) -> pd.DataFrame:
    """Forecasts sorted by (city, target_date, issued_at), each with the high of the forecast
    of its target issued just before it (NaN for the first)."""
    ordered = forecasts.sort_values(["city", "target_date", "issued_at"], kind="mergesort")
    previous = ordered.groupby(["city", "target_date"], sort=False)["tmax_forecast_f"].shift(1)
    return ordered.assign(previous_high=previous)


def forecast_columns(rows: pd.DataFrame, forecasts: pd.DataFrame, sd_f: float) -> pd.DataFrame:
    """``FORECAST_COLUMNS`` for feature rows (``city``, ``event_date``, ``ts``, ``strike_type``,
    ``floor_strike``, ``cap_strike``) from a ``forecasts`` table (contract columns); aligned with
    ``rows``."""
    seen = latest_visible(rows, forecasts)
    high = seen["high"].to_numpy(np.float64)
    floor = rows["floor_strike"].to_numpy(np.float64, na_value=np.nan)
    cap = rows["cap_strike"].to_numpy(np.float64, na_value=np.nan)
    issued = seen["issued_ns"].to_numpy()
    age = np.where(issued >= 0, (_ns(rows["ts"]) - issued) / _NS_PER_HOUR, np.nan)
    low, top = strikes.yes_interval(rows)
    columns = {
        "fc_high": high,
        "fc_minus_floor": high - floor,
        "fc_minus_cap": high - cap,
        "fc_revision": high - seen["previous_high"].to_numpy(np.float64),
        "fc_lead_days": seen["lead_days"].to_numpy(np.float64),
        "fc_age_hours": age,
        "fc_bin_logit": bin_logit(high, low, top, sd_f),
    }
    return pd.DataFrame(columns, index=rows.index)


def bin_logit(centre: np.ndarray, low: np.ndarray, high: np.ndarray, sd_f: float) -> np.ndarray:
    """Log-odds that an integer high in [low, high] (inclusive, ±inf for tails) comes out of a
    normal(centre, sd_f) rounded to the integer; NaN where ``centre`` is NaN."""
    with np.errstate(invalid="ignore"):
        upper = norm.cdf((high + 0.5 - centre) / sd_f)
        lower = norm.cdf((low - 0.5 - centre) / sd_f)
    p = np.clip(upper - lower, PROBABILITY_CLIP, 1 - PROBABILITY_CLIP)
    return np.where(np.isnan(centre), np.nan, np.log(p / (1 - p)))


def _target_key(city: pd.Series, day: pd.Series) -> np.ndarray:
    """One string per (city, local day): the as-of join's ``by`` key."""
    days = pd.to_datetime(pd.Series(day).to_numpy()).strftime("%Y-%m-%d").to_numpy(object)
    return pd.Series(city).astype("str").to_numpy(object) + "|" + days


def _ns(values: pd.Series) -> np.ndarray:
    """UTC nanoseconds since the epoch of tz-aware timestamps."""
    stamps = pd.to_datetime(pd.Series(values), utc=True).dt.tz_localize(None)
    return stamps.to_numpy().astype("datetime64[ns]").view(np.int64)
