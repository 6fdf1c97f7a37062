"""Tests for importers.kalshi_markets: Kalshi /markets pages -> markets rows."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from importer_support import (
    EVENT,
    MARKET_PAGES,
    read_out,
    rows,
    run,
    snapshot,
    starts,
    utc,
    write_json,
)

from tmaxedge.core import strikes
from tmaxedge.core.errors import DataError
from tmaxedge.inputs import contract
from tmaxedge.inputs.importers import ImportOptions, kalshi_markets
from tmaxedge.inputs.importers import values as v

DAY = dt.date(2025, 11, 14)


def market(**fields) -> dict:
    """One market object as the API returns it, with the fields a test changes."""
    base = {
        "ticker": f"{EVENT}-B44.5",
        "event_ticker": EVENT,
        "strike_type": "between",
        "floor_strike": 44,
        "cap_strike": 45,
        "open_time": "2025-11-13T15:00:00Z",
        "close_time": "2025-11-15T04:59:00Z",
        "status": "active",
        "result": "",
    }
    return {**base, **fields}


def parse_one(**fields):
    """The markets rows of a one-market response."""
    text = json.dumps({"markets": [market(**fields)], "cursor": ""})
    return kalshi_markets.parse([("m.json", text)], ImportOptions()).tables["markets"]


def test_import_kalshi_markets_maps_every_bracket_of_two_pages(tmp_path):
    counts = run("kalshi-markets", MARKET_PAGES, tmp_path)
    tables = read_out(tmp_path)
    assert set(tables) == {"markets"}  # last_price and book snapshots never become quotes
    markets = tables["markets"]
    assert rows(markets, ["ticker", "strike_type", "floor_strike", "cap_strike", "result"]) == {
        (f"{EVENT}-T40", "less", None, 40.0, "no"),
        (f"{EVENT}-B40.5", "between", 40.0, 41.0, "no"),
        (f"{EVENT}-B42.5", "between", 42.0, 43.0, "no"),
        (f"{EVENT}-B44.5", "between", 44.0, 45.0, "yes"),
        (f"{EVENT}-B46.5", "between", 46.0, 47.0, "no"),  # no strike fields: from the subtitle
        (f"{EVENT}-T47", "greater", 47.0, None, "no"),  # greater_or_equal 48 -> greater 47
    }
    assert set(markets["city"]) == {"chi"} and set(markets["event_date"]) == {DAY}
    assert set(markets["close_time"]) == {utc("2025-11-15 04:59")}
    assert counts["markets"]["n_rows"] == 6
    assert contract.events_not_partitioning(markets).empty


@pytest.mark.parametrize(
    "fields, expected",
    [
        # API strike fields, the *_or_equal ones shifted by one degree
        (
            {"strike_type": "less_or_equal", "floor_strike": None, "cap_strike": 39},
            ("less", None, 40.0),
        ),
        (
            {"strike_type": "greater_or_equal", "floor_strike": 48, "cap_strike": None},
            ("greater", 47.0, None),
        ),
        ({"strike_type": "less", "floor_strike": None, "cap_strike": 40}, ("less", None, 40.0)),
        # no strike fields: the titles
        (
            {
                "strike_type": None,
                "floor_strike": None,
                "cap_strike": None,
                "subtitle": "94° or above",
            },
            ("greater", 93.0, None),
        ),
        (
            {
                "strike_type": None,
                "floor_strike": None,
                "cap_strike": None,
                "subtitle": "73° or below",
            },
            ("less", None, 74.0),
        ),
        (
            {
                "strike_type": None,
                "floor_strike": None,
                "cap_strike": None,
                "subtitle": "88° to 89°",
            },
            ("between", 88.0, 89.0),
        ),
        (
            {
                "strike_type": None,
                "floor_strike": None,
                "cap_strike": None,
                "title": "Will the high be >93° on Aug 4, 2025?",
            },
            ("greater", 93.0, None),
        ),
        (
            {
                "strike_type": None,
                "floor_strike": None,
                "cap_strike": None,
                "title": "Will the high be 88-89° on Aug 4, 2025?",
            },
            ("between", 88.0, 89.0),
        ),
        # strike_type given but its strike missing: the title decides
        (
            {
                "strike_type": "greater",
                "floor_strike": None,
                "cap_strike": None,
                "yes_sub_title": "80° or above",
            },
            ("greater", 79.0, None),
        ),
    ],
)
def test_parse_maps_strikes_to_the_contract_yes_rule(fields, expected):
    markets = parse_one(**fields)
    assert rows(markets, ["strike_type", "floor_strike", "cap_strike"]) == {expected}


def test_parse_reads_city_and_date_from_the_older_series_prefix():
    markets = parse_one(ticker="HIGHNY-23AUG01-B80.5", event_ticker="HIGHNY-23AUG01")
    assert rows(markets, ["city", "event_date"]) == {("nyc", dt.date(2023, 8, 1))}


def test_parse_derives_the_event_ticker_from_the_ticker_when_absent():
    markets = parse_one(event_ticker=None)
    assert set(markets["event_ticker"]) == {EVENT}


def test_parse_keeps_only_events_between_start_and_end():
    options = ImportOptions(start=dt.date(2025, 11, 15))
    files = [(str(p), p.read_text()) for p in MARKET_PAGES]
    imported = kalshi_markets.parse(files, options)
    assert imported.tables["markets"].empty
    assert imported.counts == {"n_markets_outside_dates": 6}


@given(x=st.integers(-30, 120))
def test_strike_from_label_resolves_yes_exactly_on_the_label_integers(x):
    cases = {
        f"{x}° or below": range(x - 40, x + 1),
        f"{x}° or above": range(x, x + 41),
        f"{x}° to {x + 1}°": range(x, x + 2),
    }
    for label, yes in cases.items():
        kind, floor, cap = v.strike_from_label(label)
        highs = list(range(x - 40, x + 41))
        got = strikes.resolves_yes(
            [kind] * len(highs), [floor] * len(highs), [cap] * len(highs), highs
        )
        assert {h for h, y in zip(highs, got, strict=True) if y} == set(yes), label


# --- malformed input: one clear error, nothing written ------------------------------------------


@pytest.mark.parametrize(
    "fields, column, rule",
    [
        (
            {"ticker": "KXHIGHXYZ-25NOV14-B44.5", "event_ticker": "KXHIGHXYZ-25NOV14"},
            "event_ticker",
            "must start with a known series",
        ),
        (
            {"ticker": "KXHIGHCHI-25XYZ14-B44.5", "event_ticker": "KXHIGHCHI-25XYZ14"},
            "event_ticker",
            "must start with a known series",
        ),
        ({"event_ticker": "KXHIGHCHI-25NOV15"}, "ticker", "must start with its event_ticker"),
        (
            {"strike_type": "functional", "floor_strike": None, "cap_strike": None},
            "strike_type, floor_strike, cap_strike",
            "must give the bracket",
        ),
        (
            {"strike_type": None, "floor_strike": None, "cap_strike": None, "subtitle": "warm"},
            "strike_type, floor_strike, cap_strike",
            "must give the bracket",
        ),
        (
            {"close_time": "2025-11-15T04:59:00"},
            "close_time",
            "must be an ISO 8601 timestamp with its zone",
        ),
        ({"result": "void"}, "result", "must be 'yes', 'no' or ''"),
    ],
)
def test_import_kalshi_markets_refuses_a_bad_market_and_writes_nothing(
    tmp_path, fields, column, rule
):
    run("kalshi-markets", MARKET_PAGES[:1], tmp_path / "out")
    before = snapshot(tmp_path / "out")
    source = write_json(tmp_path, "bad.json", {"markets": [market(**fields)], "cursor": ""})
    with pytest.raises(DataError, match=starts(f"{source}: column '{column}' {rule}")):
        run("kalshi-markets", [source], tmp_path / "out")
    assert snapshot(tmp_path / "out") == before


def test_import_kalshi_markets_refuses_a_file_that_is_no_markets_response(tmp_path):
    source = write_json(tmp_path, "trades.json", {"trades": []})
    with pytest.raises(DataError, match=starts(f"{source}: not a Kalshi markets response")):
        run("kalshi-markets", [source], tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_import_kalshi_markets_takes_an_empty_page_beside_a_full_one(tmp_path):
    empty = write_json(tmp_path, "empty.json", {"markets": [], "cursor": ""})
    run("kalshi-markets", [empty, MARKET_PAGES[0]], tmp_path / "out")
    assert len(read_out(tmp_path / "out")["markets"]) == 3


def test_import_kalshi_markets_refuses_files_without_any_market(tmp_path):
    empty = write_json(tmp_path, "empty.json", {"markets": [], "cursor": ""})
    with pytest.raises(DataError, match=starts(f"{empty}: no markets (every 'markets' list")):
        run("kalshi-markets", [empty], tmp_path / "out")
    assert not (tmp_path / "out").exists()
