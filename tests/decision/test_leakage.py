"""The leakage gate's evidence: feature rows re-derived from inputs truncated at their timestamp."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest
from worlds import CITIES, simulated_tables

from tmaxedge.core.errors import DataError
from tmaxedge.decision import leakage
from tmaxedge.decision.gates import check_features_rederived
from tmaxedge.features import build as features

PARAMS = features.FeatureParams(every_minutes=30, eligible_start_hour=6)


@functools.cache
def world() -> dict[str, pd.DataFrame]:
    return simulated_tables(days=2)


def build_table(builder=features.build_partition) -> pd.DataFrame:
    """The whole feature table of the world, built partition by partition as the stage does."""
    tables = world()
    frames = [
        builder(part.markets, tables["quotes"], part.weather, part.settlements, part.city, PARAMS)
        for part in features.iter_partitions(
            tables["markets"], tables["weather"], tables["settlements"], CITIES
        )
    ]
    return pd.concat(frames, ignore_index=True)


def audit(stored: pd.DataFrame, n_rows: int = 60) -> leakage.LeakageAudit:
    sample = leakage.sample_rows(stored[leakage.SAMPLE_KEYS], n_rows)
    rows = sample[["ticker", "ts"]].merge(stored, on=["ticker", "ts"])
    tables = world()
    raw = leakage.RawInputs(
        tables["markets"], tables["quotes"], tables["weather"], tables["settlements"]
    )
    return leakage.audit(rows, raw, CITIES, PARAMS)


def peeking_builder(markets, quotes, weather, settlements, city, params):
    """Leaky on purpose: each row's yes_mid is the next decision time's (a future quote)."""
    frame = features.build_partition(markets, quotes, weather, settlements, city, params)
    frame["yes_mid"] = frame.groupby("ticker")["yes_mid"].shift(-1)
    return frame


def test_a_clean_table_re_derives_unchanged():
    stored = build_table()
    result = audit(stored)
    assert (result.n_rows, result.n_rows_differing) == (60, 0)
    assert result.differences.empty
    # every column but the keys ticker, ts and the labels; one rebuild per event and time
    assert result.n_columns == len(stored.columns) - 4
    sample = leakage.sample_rows(stored[leakage.SAMPLE_KEYS], 60)
    assert result.n_cutoffs == len(sample[["event_ticker", "ts"]].drop_duplicates()) < 60


def test_a_feature_computed_from_a_future_row_is_caught(monkeypatch):
    # the leaky code builds the table and re-derives it: the truncated inputs lack the future
    # quote the stored value used, so the two differ
    monkeypatch.setattr(leakage, "build_partition", peeking_builder)
    result = audit(build_table(peeking_builder))
    assert result.n_rows_differing > 0
    assert set(result.differences["column"]) == {"yes_mid"}
    first = result.differences.iloc[0]
    assert not np.isclose(first["stored"], first["rederived"], equal_nan=True)


def test_one_stored_cell_off_is_named_with_both_values():
    stored = build_table()
    sample = leakage.sample_rows(stored[leakage.SAMPLE_KEYS], 60)
    target = sample.iloc[7]
    at = (stored["ticker"] == target["ticker"]) & (stored["ts"] == target["ts"])
    true_value = float(stored.loc[at, "minutes_to_close"].iloc[0])
    stored.loc[at, "minutes_to_close"] = true_value + 1
    result = audit(stored)
    assert result.differences.to_dict("records") == [
        {
            "ticker": target["ticker"],
            "ts": target["ts"],
            "column": "minutes_to_close",
            "stored": true_value + 1,
            "rederived": true_value,
        }
    ]
    check = check_features_rederived("ridge", result)
    assert (check["passed"], check["value"], check["details"]) == (
        False,
        1,
        {"n_rows_rederived": 60},
    )
    assert (
        f"{target['ticker']} at {target['ts']:%Y-%m-%d %H:%M} minutes_to_close"
        in (check["message"])
    )
    assert f"stored {true_value + 1!r}, re-derived {true_value!r}" in check["message"]


@pytest.mark.parametrize(
    "stored, rederived, same",
    [
        (70.0, 70.0 * (1 + 1e-12), True),  # float noise
        (1e-5, 1e-5 + 1e-12, True),  # near zero the tolerance is absolute
        (70.0, 70.0 * (1 + 1e-5), False),
        (0.059436787007891845, 0.05943678811563984, True),  # seen: one event rebuilt alone
        (0.42, 0.43, False),  # a cent's move of a price: what a leaked future quote does
        (np.nan, np.nan, True),
        (np.nan, 0.0, False),
    ],
)
def test_feature_differences_tolerance(stored, rederived, same):
    ts = pd.Timestamp("2024-05-01 12:00", tz="UTC")
    a = pd.DataFrame({"ticker": ["T"], "ts": [ts], "temp_now": [stored], "y": [1]})
    b = pd.DataFrame({"ticker": ["T"], "ts": [ts], "temp_now": [rederived], "y": [0]})
    differences = leakage.feature_differences(a, b)
    assert differences.empty is same  # and the label y is never compared


def test_feature_differences_compares_every_column_the_table_holds():
    ts = pd.Timestamp("2024-05-01 12:00", tz="UTC")
    tickers = ["T", "U", "V", "W"]
    a = pd.DataFrame(
        {"ticker": tickers + ["X"], "ts": ts, "new_feature": ["a", pd.NA, None, "d", "e"]},
    ).astype({"new_feature": "string"})
    b = pd.DataFrame({"ticker": tickers, "ts": ts, "new_feature": ["b", pd.NA, "c", "d"]})
    differences = leakage.feature_differences(a, b)[["ticker", "column", "stored", "rederived"]]
    shown = differences.astype(object).where(differences.notna(), None)  # one spelling of missing
    assert shown.to_dict("records") == [
        {"ticker": "X", "column": "<row>", "stored": "present", "rederived": "absent"},
        {"ticker": "T", "column": "new_feature", "stored": "a", "rederived": "b"},
        {"ticker": "V", "column": "new_feature", "stored": None, "rederived": "c"},
    ]


def test_a_column_the_build_no_longer_makes_is_a_stale_table():
    stored = build_table().head(3).assign(renamed_away=1.0)
    with pytest.raises(DataError, match=r"\['renamed_away'\] are not produced"):
        audit(stored, n_rows=3)


def test_sample_rows_is_seeded_and_capped():
    keys = build_table()[leakage.SAMPLE_KEYS]
    first = leakage.sample_rows(keys, 25)
    assert len(first) == 25 and first.equals(leakage.sample_rows(keys, 25))
    assert not first.equals(leakage.sample_rows(keys, 25, seed=1))
    assert len(leakage.sample_rows(keys, 10**9)) == len(keys)


def test_nothing_re_derived_fails_the_check():
    empty = leakage.LeakageAudit(0, 0, 0, pd.DataFrame(columns=leakage.DIFFERENCE_COLUMNS))
    check = check_features_rederived("ridge", empty)
    assert check["passed"] is False
    assert "leakage is not ruled out" in check["message"]
