"""The helpers of examples/real_nyc.sh that decide what the real-data walk-forward sees."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd

_PATH = Path(__file__).parents[2] / "examples" / "real_nyc_inputs.py"
_SPEC = importlib.util.spec_from_file_location("real_nyc_inputs", _PATH)
real_nyc_inputs = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(real_nyc_inputs)


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(f"2025-12-05 {text}", tz="UTC")


def test_live_rows_drop_minutes_after_an_hour_of_silence_in_the_event_log():
    markets = pd.DataFrame({"ticker": ["a1", "a2", "b1"], "event_ticker": ["a", "a", "b"]})
    # event a changed at 10:00 (market a1) and 10:30 (market a2); event b at 11:00
    quotes = pd.DataFrame(
        {"ticker": ["a1", "a2", "b1"], "ts": [utc("10:00"), utc("10:30"), utc("11:00")]}
    )
    features = pd.DataFrame(
        {
            "event_ticker": ["a", "a", "a", "a", "b"],
            "ts": [utc("09:55"), utc("10:15"), utc("11:30"), utc("11:35"), utc("11:30")],
        }
    )
    live = real_nyc_inputs.live_rows(features, quotes, markets)
    # before the first change: unknown book; 60 min after a2's change: live; 65: logger down
    assert live.tolist() == [False, True, True, False, True]


def test_workspace_params_change_only_what_the_run_needs():
    base = {
        "ingest": {"source": "data/synthetic"},
        "cities": {
            "chi": {"series": "KXHIGHCHI", "tz": "America/Chicago", "weather_features": True},
            "nyc": {"series": "KXHIGHNY", "tz": "America/New_York", "weather_features": True},
        },
        "windows": {"train_days": 90},
        "models": ["ridge", "elasticnet", "lasso"],
        "tune": {
            "ridge": {"n_trials": 40, "extra_features": ["mid_logit", "nowcast"]},
            "elasticnet": {"n_trials": 60, "extra_features": ["nowcast", "mid_logit"]},
        },
        "pool": {"enabled": True},
    }
    params = real_nyc_inputs.workspace_params(base, "external", {"ridge": 5, "elasticnet": None})
    assert params["ingest"] == {"source": "external"}
    assert params["cities"] == {
        "nyc": {"series": "KXHIGHNY", "tz": "America/New_York", "weather_features": False}
    }
    assert params["windows"]["train_days"] == 14 and params["models"] == ["ridge", "elasticnet"]
    assert params["tune"]["ridge"] == {"n_trials": 5, "extra_features": ["mid_logit"]}
    assert params["tune"]["elasticnet"] == {"n_trials": 60, "extra_features": ["mid_logit"]}
    assert params["pool"] == {"enabled": True}
    assert base["tune"]["ridge"]["extra_features"] == ["mid_logit", "nowcast"]  # not mutated
