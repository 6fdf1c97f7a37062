"""Tests for importers.nws_cli: NWS Daily Climate Reports and IEM CLI CSV -> settlements."""

from __future__ import annotations

import datetime as dt

import pytest
from importer_support import FIXTURES, read_out, rows, run, snapshot, starts, write

from tmaxedge.core.errors import DataError

PRODUCTS = FIXTURES / "cli_mdw_25nov14.txt"
IEM = FIXTURES / "iem_cli_mdw.csv"
NOV13, NOV14 = dt.date(2025, 11, 13), dt.date(2025, 11, 14)


def product(day: str = "NOVEMBER 14 2025", section: str = "YESTERDAY", maximum: str = "45") -> str:
    """A minimal CLI text product, as issued."""
    return (
        "CDUS43 KLOT 150734\nCLIMDW\n\nCLIMATE REPORT\nNATIONAL WEATHER SERVICE CHICAGO IL\n\n"
        f"...THE CHICAGO MIDWAY CLIMATE SUMMARY FOR {day}...\n\n"
        "TEMPERATURE (F)\n"
        f" {section}\n"
        f"  MAXIMUM         {maximum}   3:02 PM  70    1901  49     -4       55\n"
        "  MINIMUM         31   6:40 AM   8    1940  33     -2       41\n\n$$\n"
    )


def test_import_nws_cli_prefers_the_final_report_over_the_afternoon_one(tmp_path):
    counts = run("nws-cli", [PRODUCTS], tmp_path, city="chi")
    assert rows(read_out(tmp_path)["settlements"], ["city", "date", "tmax_f"]) == {
        ("chi", NOV14, 45)
    }
    assert counts["n_preliminary_replaced"] == 1 and counts["n_from_today_reports"] == 0


def test_import_nws_cli_reads_iem_csv_and_skips_known_days(tmp_path):
    run("nws-cli", [PRODUCTS], tmp_path, city="chi")
    counts = run("nws-cli", [IEM], tmp_path, city="chi")
    assert rows(read_out(tmp_path)["settlements"], ["date", "tmax_f"]) == {(NOV13, 50), (NOV14, 45)}
    assert counts["settlements"]["n_already_present"] == 1


def test_import_nws_cli_keeps_and_counts_a_today_report_alone(tmp_path):
    source = write(tmp_path, "today.txt", product(section="TODAY", maximum="61R"))  # R: a record
    counts = run("nws-cli", [source], tmp_path / "out", city="chi")
    assert rows(read_out(tmp_path / "out")["settlements"], ["date", "tmax_f"]) == {(NOV14, 61)}
    assert counts["n_from_today_reports"] == 1


def test_import_nws_cli_refuses_a_different_official_high(tmp_path):
    out = tmp_path / "out"
    run("nws-cli", [PRODUCTS], out, city="chi")
    before = snapshot(out)
    source = write(tmp_path, "corrected.txt", product(maximum="46"))
    with pytest.raises(
        DataError,
        match=starts(f"{out / 'settlements.parquet'}: column 'city, date' must be unique"),
    ):
        run("nws-cli", [source], out, city="chi")
    assert snapshot(out) == before


@pytest.mark.parametrize(
    "name, text, message",
    [
        ("mm.txt", product(maximum="MM"), "the MAXIMUM for 2025-11-14 is missing ('MM')"),
        ("bad.txt", product(maximum="4S"), "the MAXIMUM for 2025-11-14 reads '4S'"),
        (
            "noheader.txt",
            "TEMPERATURE (F)\n YESTERDAY\n  MAXIMUM  45\n",
            "no '...THE <STATION> CLIMATE SUMMARY FOR",
        ),
        (
            "nomax.txt",
            product().replace("MAXIMUM", "MAX"),
            "no MAXIMUM line under 'TEMPERATURE (F)'",
        ),
        ("baddate.txt", product(day="NOVEMBER 31 2025"), "the header date"),
        (
            "iem.csv",
            "station,valid,high\nKMDW,2025-11-14,M\n",
            "column 'high' must be the official maximum",
        ),
        (
            "iem.csv",
            "station,valid,high\nKMDW,2025-11-14,\n",
            "column 'high' must be the official maximum",
        ),
        (
            "iem.csv",
            "station,valid,high\nKMDW,11/14/2025,45\n",
            "column 'valid' must be a date YYYY-MM-DD",
        ),
    ],
)
def test_import_nws_cli_refuses_missing_or_unreadable_highs(tmp_path, name, text, message):
    source = write(tmp_path, name, text)
    with pytest.raises(DataError, match=starts(f"{source}") + ".*" + starts(message)):
        run("nws-cli", [source], tmp_path / "out", city="chi")
    assert not (tmp_path / "out").exists()


def test_import_nws_cli_refuses_two_stations(tmp_path):
    source = write(
        tmp_path, "iem.csv", "station,valid,high\nKMDW,2025-11-14,45\nKORD,2025-11-14,44\n"
    )
    stations = f"'KMDW' in {source}; 'KORD' in {source}"  # the file of each, to find them by
    with pytest.raises(
        DataError, match=starts(f"nws-cli: the files hold several stations ({stations})")
    ):
        run("nws-cli", [source], tmp_path / "out", city="chi")
