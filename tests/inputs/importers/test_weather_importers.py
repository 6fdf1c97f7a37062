"""Tests for importers.visual_crossing and importers.asos: observations -> weather rows."""

from __future__ import annotations

import pytest
from importer_support import FIXTURES, read_out, rows, run, snapshot, starts, utc, write

from tmaxedge.core.errors import DataError

VC_JSON, VC_CSV = FIXTURES / "visual_crossing_chi.json", FIXTURES / "visual_crossing_chi.csv"
ASOS_5, ASOS_1 = FIXTURES / "asos_mdw_5min.csv", FIXTURES / "asos_mdw_1min.csv"


def test_import_visual_crossing_reads_hours_minutes_and_csv_offsets(tmp_path):
    counts = run("visual-crossing", [VC_JSON, VC_CSV], tmp_path, city="chi")
    weather = read_out(tmp_path)["weather"]
    assert rows(weather, ["city", "ts", "temp_f"]) == {
        ("chi", utc("2025-11-14 06:00"), 38.2),  # the minute wins over the hour's 38.0
        ("chi", utc("2025-11-14 06:05"), 38.1),
        ("chi", utc("2025-11-14 07:00"), 37.5),  # an hour without minutes
        ("chi", utc("2025-11-14 14:00"), 40.3),  # CSV 08:00-06:00
        ("chi", utc("2025-11-14 14:30"), 40.9),
    }  # the day's mean 38.4 is no observation
    assert counts["n_missing_temp"] == 2


def test_import_visual_crossing_converts_metric_units(tmp_path):
    source = write(tmp_path, "vc.csv", "datetime,temp\n2025-11-14T08:00:00,10.0\n")
    run(
        "visual-crossing",
        [source],
        tmp_path / "out",
        city="chi",
        tz="America/Chicago",
        units="metric",
    )
    assert rows(read_out(tmp_path / "out")["weather"], ["ts", "temp_f"]) == {
        (utc("2025-11-14 14:00"), 50.0)
    }


def test_import_asos_reads_five_and_one_minute_downloads(tmp_path):
    counts = run("asos", [ASOS_5, ASOS_1], tmp_path, city="chi")
    weather = read_out(tmp_path)["weather"]
    assert rows(weather, ["ts", "temp_f"]) == {
        (utc("2025-11-14 12:00"), 39.0),
        (utc("2025-11-14 12:10"), 39.2),  # 12:05 was M: skipped
        (utc("2025-11-14 13:00"), 40.0),
        (utc("2025-11-14 13:01"), 40.0),
        (utc("2025-11-14 13:02"), 41.0),
    }
    assert counts["n_missing_temp"] == 1


def test_import_weather_refuses_a_conflicting_observation_and_writes_nothing(tmp_path):
    out = tmp_path / "out"
    run("asos", [ASOS_5], out, city="chi")
    before = snapshot(out)
    other = write(tmp_path, "other.csv", "station,valid,tmpf\nMDW,2025-11-14 12:00,41.0\n")
    with pytest.raises(
        DataError, match=starts(f"{out / 'weather.parquet'}: column 'city, ts' must be unique")
    ):
        run("asos", [other], out, city="chi")
    assert snapshot(out) == before


@pytest.mark.parametrize(
    "kind, name, text, options, message",
    [
        ("visual-crossing", "vc.json", '{"days": []}', {}, "visual-crossing: --city is required"),
        (
            "visual-crossing",
            "vc.json",
            '{"days": []}',
            {"city": "xyz"},
            "visual-crossing: --city must be a city code",
        ),
        (
            "visual-crossing",
            "vc.csv",
            "datetime,temp\n2025-11-14T08:00:00,40\n",
            {"city": "chi"},
            "{source}: column 'datetime' must name its time zone",
        ),
        (
            "visual-crossing",
            "vc.csv",
            "datetime,temp\n2025-11-14T08:00:00Z,warm\n",
            {"city": "chi"},
            "{source}: column 'temp' must be a temperature",
        ),
        (
            "visual-crossing",
            "vc.json",
            '{"days": [{"hours": [{"temp": 40}]}]}',
            {"city": "chi"},
            "{source}: column 'datetimeEpoch' must be Unix seconds",
        ),
        (
            "visual-crossing",
            "vc.json",
            '{"locations": {}}',
            {"city": "chi"},
            "{source}: not a Visual Crossing timeline response",
        ),
        (
            "asos",
            "a.csv",
            "station,valid,tmpf\nMDW,2025-11-14 12:00,T\n",
            {"city": "chi"},
            "{source}: column 'tmpf' must be °F",
        ),
        (
            "asos",
            "a.csv",
            "station,valid,tmpf\nMDW,2025-11-14 12:00,40\nORD,2025-11-14 12:00,41\n",
            {"city": "chi"},
            "{source}: holds several stations ['MDW', 'ORD']",
        ),
        (
            "asos",
            "a.csv",
            "station,valid,temp\n",
            {"city": "chi"},
            "{source}: column 'tmpf' is missing",
        ),
        (
            "asos",
            "a.csv",
            "station,valid,tmpf\nMDW,2025-11-14 12:00,400\n",
            {"city": "chi"},
            "{out}/weather.parquet: column 'temp_f' must be a plausible temperature",
        ),
    ],
)
def test_import_weather_refuses_malformed_files(tmp_path, kind, name, text, options, message):
    source = write(tmp_path, name, text)
    out = tmp_path / "out"
    with pytest.raises(DataError, match=starts(message.format(source=source, out=out))):
        run(kind, [source], out, **options)
    assert not out.exists()


# --- ASOS: the time zone the file declares --------------------------------------------------------

LOCAL_5MIN = (
    "#DEBUG: Format Typ    -> comma\n"
    "#DEBUG: Time Zone     -> America/Chicago\n"
    "station,valid,tmpf\n"
    "MDW,2025-11-14 12:00,39.00\n"
)


def test_import_asos_converts_times_the_header_declares_local(tmp_path):
    source = write(tmp_path, "asos.csv", LOCAL_5MIN)
    counts = run("asos", [source], tmp_path / "out", city="chi")
    # noon in Chicago (CST, UTC-6) is 18:00 UTC, not 12:00
    assert rows(read_out(tmp_path / "out")["weather"], ["ts", "temp_f"]) == {
        (utc("2025-11-14 18:00"), 39.0)
    }
    note = f"{source}: 'valid' read in America/Chicago, as the file declares, and converted"
    assert counts["notes"] == [note]


def test_import_asos_converts_times_the_column_name_declares_local(tmp_path):
    text = "station,station_name,valid(America/Chicago),tmpf\nMDW,MIDWAY,2025-07-14 12:00,80\n"
    run("asos", [write(tmp_path, "asos1min.csv", text)], tmp_path / "out", city="chi")
    # noon in Chicago in July (CDT, UTC-5) is 17:00 UTC
    assert set(read_out(tmp_path / "out")["weather"]["ts"]) == {utc("2025-07-14 17:00")}


@pytest.mark.parametrize(
    "text, options, message",
    [
        (
            LOCAL_5MIN.replace("America/Chicago", "Central"),
            {},
            "its times are declared in 'Central', which is no IANA time zone",
        ),
        (
            LOCAL_5MIN,
            {"tz": "America/New_York"},
            "the file declares its times in America/Chicago but --tz says America/New_York",
        ),
        (
            LOCAL_5MIN.replace("station,valid", "station,valid(UTC)"),
            {},
            "declares its times in several zones ['America/Chicago', 'UTC']",
        ),
        (  # 01:30 happened twice on 2025-11-02 in Chicago: which one cannot be told
            LOCAL_5MIN.replace("2025-11-14 12:00", "2025-11-02 01:30"),
            {},
            "column 'valid' must be an ISO 8601 timestamp that exists once in its time zone",
        ),
    ],
)
def test_import_asos_refuses_a_zone_it_cannot_honour(tmp_path, text, options, message):
    source = write(tmp_path, "asos.csv", text)
    with pytest.raises(DataError, match=starts(f"{source}: {message}")):
        run("asos", [source], tmp_path / "out", city="chi", **options)
    assert not (tmp_path / "out").exists()
