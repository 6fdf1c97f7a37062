"""The optional forecasts table: checked like the others (file, column, rule, rows), written to
data/raw only when the source holds it."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from tables import CITIES, EVENT_DATES, valid_tables
from test_ingest import run_stage_here, snapshot, validate, write_csv_source

from tmaxedge.core.errors import DataError


def forecasts_csv() -> pd.DataFrame:
    """Three chi forecasts as a CSV holds them (text)."""
    day = str(EVENT_DATES[0])
    return pd.DataFrame(
        {
            "city": ["chi", "chi", "aus"],
            "target_date": [day, day, day],
            "issued_at": ["2024-03-31T05:00:00Z", "2024-04-01T05:00:00Z", "2024-03-31T05:00:00Z"],
            "lead_days": ["1", "0", "1"],
            "tmax_forecast_f": ["41.5", "40", "47"],
        }
    )


def refused(forecasts: pd.DataFrame, column: str, rule: str) -> None:
    tables = valid_tables() | {"forecasts": forecasts}
    with pytest.raises(
        DataError, match=re.escape(f"data/external/forecasts.csv: column '{column}' {rule}")
    ):
        validate(tables)


def test_forecasts_are_normalised_and_counted():
    checked, metrics = validate(valid_tables() | {"forecasts": forecasts_csv()})
    frame = checked["forecasts"]
    assert str(frame["issued_at"].dtype) == "datetime64[us, UTC]"
    assert list(frame["city"]) == ["aus", "chi", "chi"]  # sorted by key
    assert metrics["forecasts"]["n_written"] == 3


def test_without_forecasts_nothing_about_them_appears():
    checked, metrics = validate(valid_tables())
    assert "forecasts" not in checked and "forecasts" not in metrics


def test_duplicate_key_is_refused():
    frame = forecasts_csv()
    frame.loc[1, "issued_at"] = frame.loc[0, "issued_at"]
    refused(frame, "city, target_date, issued_at", "must be unique")


def test_naive_issued_at_is_refused():
    frame = forecasts_csv()
    frame.loc[0, "issued_at"] = "2024-03-31T05:00:00"
    refused(frame, "issued_at", "must be a timezone-aware UTC timestamp")


def test_unknown_city_is_refused():
    frame = forecasts_csv()
    frame.loc[2, "city"] = "xyz"
    refused(frame, "city", "must be a city code from params.yaml 'cities'")


def test_negative_lead_and_absurd_high_are_refused():
    frame = forecasts_csv()
    frame.loc[0, "lead_days"] = "-1"
    refused(frame, "lead_days", "must be an integer >= 0")
    frame = forecasts_csv()
    frame.loc[0, "tmax_forecast_f"] = "-9999"
    refused(frame, "tmax_forecast_f", "must be a plausible temperature")


def test_a_forecast_public_before_the_day_it_was_made_is_refused():
    frame = forecasts_csv()
    frame.loc[1, "issued_at"] = "2024-03-31T12:00:00Z"  # lead 0: made on 2024-04-01 local
    refused(frame, "issued_at", "must not precede the local day the forecast was made on")


def test_ingest_stage_writes_forecasts_only_when_the_source_has_them(tmp_path, monkeypatch):
    source = tmp_path / "data" / "synthetic"
    write_csv_source(valid_tables(), source)
    assert run_stage_here(tmp_path, monkeypatch) == 0
    without = snapshot(tmp_path / "data" / "raw") | snapshot(tmp_path / "metrics")
    assert "forecasts.parquet" not in without
    write_csv_source({"forecasts": forecasts_csv()}, source)
    assert run_stage_here(tmp_path, monkeypatch) == 0
    raw = tmp_path / "data" / "raw"
    assert len(pd.read_parquet(raw / "forecasts.parquet")) == 3
    with_them = snapshot(raw) | snapshot(tmp_path / "metrics")
    unchanged = {name for name in without if name != "ingest.json"}
    assert {name: with_them[name] for name in unchanged} == {n: without[n] for n in unchanged}
    assert set(CITIES) == {"aus", "chi"}  # the cities the rows above use
