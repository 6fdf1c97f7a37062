"""Tests for importers.vc_forecasts: Visual Crossing daily forecasts -> forecasts rows.

The fixture is a few rows written by each test (Parquet and CSV), shaped like a Visual Crossing
historical-forecast export: target_date, forecast_basis_date, lead_days, tempmax_f and columns
the importer ignores.
"""

from __future__ import annotations

import datetime as dt
import re

import pandas as pd
import pytest
from importer_support import read_out, rows, run, utc

from tmaxedge.core.errors import DataError

D = dt.date


def export(*items) -> pd.DataFrame:
    """(target_date, basis_date, lead_days, tempmax_f) rows plus a column that is ignored."""
    frame = pd.DataFrame(
        items, columns=["target_date", "forecast_basis_date", "lead_days", "tempmax_f"]
    )
    return frame.assign(conditions="Partially cloudy")


# 2024-03-10: daylight saving time starts in Chicago (midnight is 06:00 UTC before, 05:00 after)
ROWS = export(
    (D(2024, 3, 10), D(2024, 3, 9), 1, 51.0),
    (D(2024, 3, 10), D(2024, 3, 10), 0, 53.5),
    (D(2024, 3, 11), D(2024, 3, 10), 1, 60.0),
    (D(2024, 3, 11), D(2024, 3, 11), 0, None),  # no forecast high: skipped, counted
)


def parquet(tmp_path, frame=ROWS, name="chicago_forecasts_daily.parquet"):
    path = tmp_path / name
    frame.to_parquet(path, index=False)
    return path


def test_issued_at_is_the_end_of_the_basis_date_by_default(tmp_path):
    counts = run("vc-forecasts", [parquet(tmp_path)], tmp_path / "out", city="chi")
    forecasts = read_out(tmp_path / "out")["forecasts"]
    assert rows(
        forecasts, ["city", "target_date", "issued_at", "lead_days", "tmax_forecast_f"]
    ) == {
        ("chi", D(2024, 3, 10), utc("2024-03-10 06:00"), 1, 51.0),  # midnight CST starting 3-10
        ("chi", D(2024, 3, 10), utc("2024-03-11 05:00"), 0, 53.5),  # midnight CDT starting 3-11
        ("chi", D(2024, 3, 11), utc("2024-03-11 05:00"), 1, 60.0),
    }
    assert counts["n_missing_tempmax"] == 1
    assert counts["forecasts"]["n_imported"] == 3
    assert any("--visible-from end" in note for note in counts["notes"])


def test_visible_from_start_is_the_start_of_the_basis_date(tmp_path):
    run("vc-forecasts", [parquet(tmp_path)], tmp_path / "out", city="chi", visible_from="start")
    forecasts = read_out(tmp_path / "out")["forecasts"]
    assert set(forecasts["issued_at"]) == {utc("2024-03-09 06:00"), utc("2024-03-10 06:00")}


def test_csv_and_parquet_merge_and_repeats_are_counted(tmp_path):
    csv = tmp_path / "chicago.csv"
    ROWS.to_csv(csv, index=False)
    out = tmp_path / "out"
    run("vc-forecasts", [parquet(tmp_path)], out, city="chi")
    again = run("vc-forecasts", [csv], out, city="chi")
    assert again["forecasts"]["n_already_present"] == 3 and again["forecasts"]["n_rows"] == 3


def test_lead_days_that_disagree_with_the_dates_are_refused(tmp_path):
    bad = export((D(2024, 3, 10), D(2024, 3, 8), 1, 51.0))
    path = parquet(tmp_path, bad, "bad.parquet")
    message = f"{path}: column 'lead_days' must equal target_date - forecast_basis_date"
    with pytest.raises(DataError, match=re.escape(message)):
        run("vc-forecasts", [path], tmp_path / "out", city="chi")
    assert not (tmp_path / "out" / "forecasts.parquet").exists()


def test_unknown_or_missing_city_and_missing_columns_are_refused(tmp_path):
    path = parquet(tmp_path)
    with pytest.raises(DataError, match="--city must be a city code"):
        run("vc-forecasts", [path], tmp_path / "out", city="xyz")
    with pytest.raises(DataError, match="--city is required"):
        run("vc-forecasts", [path], tmp_path / "out")
    other = parquet(tmp_path, ROWS.drop(columns="tempmax_f"), "no_high.parquet")
    with pytest.raises(DataError, match=re.escape(f"{other}: column 'tempmax_f' is missing")):
        run("vc-forecasts", [other], tmp_path / "out", city="chi")


def test_a_conflicting_forecast_names_table_key_and_files(tmp_path):
    out = tmp_path / "out"
    run("vc-forecasts", [parquet(tmp_path)], out, city="chi")
    changed = ROWS.assign(tempmax_f=ROWS["tempmax_f"] + 1)
    path = parquet(tmp_path, changed, "changed.parquet")
    key = "column 'city, target_date, issued_at' must be unique"
    with pytest.raises(DataError, match=re.escape(f"{out / 'forecasts.parquet'}: {key}")):
        run("vc-forecasts", [path], out, city="chi")
