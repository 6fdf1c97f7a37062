"""Tests for importers.price_history: Kalshi website price-history CSV -> quotes + markets."""

from __future__ import annotations

import datetime as dt

import pytest
from importer_support import (
    EVENT,
    FIXTURES,
    MARKET_PAGES,
    read_out,
    rows,
    run,
    snapshot,
    starts,
    utc,
    write,
)

from tmaxedge.core.errors import DataError
from tmaxedge.inputs import contract

DOWNLOAD = FIXTURES / "kalshi-price-history-kxhighchi-25nov14-minute.csv"


def test_import_price_history_rounds_half_up_and_stamps_the_period_end(tmp_path):
    counts = run("kalshi-price-history", [DOWNLOAD], tmp_path)
    tables = read_out(tmp_path)
    quotes = tables["quotes"]
    assert rows(quotes, ["ticker", "ts", "price"]) == {
        (f"{EVENT}-T40", utc("2025-11-14 18:01"), 2),
        (f"{EVENT}-T40", utc("2025-11-14 18:02"), 1),  # 1.29
        (f"{EVENT}-B40.5", utc("2025-11-14 18:02"), 11),
        (f"{EVENT}-B42.5", utc("2025-11-14 18:01"), 21),  # 20.50 rounds half up
        (f"{EVENT}-B42.5", utc("2025-11-14 18:03"), 19),
        (f"{EVENT}-B44.5", utc("2025-11-14 18:01"), 45),
        (f"{EVENT}-B44.5", utc("2025-11-14 18:02"), 47),  # 46.51
        (f"{EVENT}-B46.5", utc("2025-11-14 18:01"), 25),  # 25.49
        (f"{EVENT}-T47", utc("2025-11-14 18:02"), 3),
    }
    assert quotes[["yes_bid", "yes_ask", "volume", "open_interest"]].isna().all().all()
    assert counts["n_prices_rounded"] == 4


def test_import_price_history_derives_markets_by_kalshi_naming(tmp_path):
    run("kalshi-price-history", [DOWNLOAD], tmp_path)
    markets = read_out(tmp_path)["markets"]
    assert rows(markets, ["ticker", "strike_type", "floor_strike", "cap_strike", "result"]) == {
        (f"{EVENT}-T40", "less", None, 40.0, None),  # 39° or below
        (f"{EVENT}-B40.5", "between", 40.0, 41.0, None),
        (f"{EVENT}-B42.5", "between", 42.0, 43.0, None),
        (f"{EVENT}-B44.5", "between", 44.0, 45.0, None),
        (f"{EVENT}-B46.5", "between", 46.0, 47.0, None),
        (f"{EVENT}-T47", "greater", 47.0, None, None),  # 48° or above
    }
    # inferred window: 10:00 New York the day before, 23:59 New York on the event day
    assert set(markets["open_time"]) == {utc("2025-11-13 15:00")}
    assert set(markets["close_time"]) == {utc("2025-11-15 04:59")}
    assert contract.events_not_partitioning(markets).empty


def test_import_price_history_agrees_with_api_markets_and_takes_their_results(tmp_path):
    run("kalshi-markets", MARKET_PAGES, tmp_path)
    counts = run("kalshi-price-history", [DOWNLOAD], tmp_path)
    markets = read_out(tmp_path)["markets"]
    assert len(markets) == 6 and markets["result"].notna().all()
    assert counts["markets"]["n_already_present"] == 6


def test_import_price_history_takes_series_and_date_from_options_for_any_name(tmp_path):
    source = write(
        tmp_path,
        "chart.csv",
        "timestamp,73° or below,74° or above\n2026-04-20T12:00:00Z,40.00,60.00\n",
    )
    run(
        "kalshi-price-history",
        [source],
        tmp_path / "out",
        series="KXHIGHMIA",
        event_date=dt.date(2026, 4, 20),
        with_markets=False,
    )
    tables = read_out(tmp_path / "out")
    assert set(tables) == {"quotes"}
    assert set(tables["quotes"]["ticker"]) == {"KXHIGHMIA-26APR20-T74", "KXHIGHMIA-26APR20-T73"}


def test_import_price_history_stamps_hourly_points_an_hour_later(tmp_path):
    source = write(
        tmp_path,
        "kalshi-price-history-kxhighmia-26apr20-hour.csv",
        "timestamp,73° or below,74° or above\n2026-04-20T12:00:00Z,40.00,60.00\n",
    )
    run("kalshi-price-history", [source], tmp_path / "out")
    assert set(read_out(tmp_path / "out")["quotes"]["ts"]) == {utc("2026-04-20 13:00")}


def test_import_price_history_refuses_a_different_close_time_than_known(tmp_path):
    run("kalshi-markets", MARKET_PAGES, tmp_path)
    before = snapshot(tmp_path)
    with pytest.raises(
        DataError, match=starts(f"{tmp_path / 'markets.parquet'}: column 'ticker' must be unique")
    ):
        run("kalshi-price-history", [DOWNLOAD], tmp_path, close_time=utc("2025-11-15 05:59"))
    assert snapshot(tmp_path) == before


def test_import_price_history_refuses_two_resolutions_of_one_event(tmp_path):
    text = "timestamp,73° or below,74° or above\n2026-04-20T12:00:00Z,40.00,60.00\n"
    minute = write(tmp_path, "kalshi-price-history-kxhighmia-26apr20-minute.csv", text)
    hour = write(tmp_path, "kalshi-price-history-kxhighmia-26apr20-hour.csv", text)
    with pytest.raises(
        DataError, match=starts(f"{minute}: {hour} holds the same event at another")
    ):
        run("kalshi-price-history", [hour, minute], tmp_path / "out")


@pytest.mark.parametrize(
    "name, text, message",
    [
        (
            "kalshi-price-history-kxhighmia-26apr20-minute.csv",
            "timestamp,warm\n2026-04-20T12:00:00Z,4\n",
            "column(s) ['warm'] are not bracket labels",
        ),
        (
            "kalshi-price-history-kxhighmia-26apr20-minute.csv",
            "time,73° or below\n",
            "not a price-history download",
        ),
        (
            "chart.csv",
            "timestamp,73° or below\n2026-04-20T12:00:00Z,4\n",
            "cannot tell the event: pass --series and --event-date",
        ),
        (
            "kalshi-price-history-kxhighxyz-26apr20-minute.csv",
            "timestamp,73° or below\n",
            "series 'KXHIGHXYZ' is not among",
        ),
        (
            "kalshi-price-history-kxhighmia-26apr20-minute.csv",
            "timestamp,73° or below\n2026-04-20T12:00:00Z,101.5\n",
            "column '73° or below' must be a chart price",
        ),
        (
            "kalshi-price-history-kxhighmia-26apr20-minute.csv",
            "timestamp,73° or below\n2026-04-20 12:00,4\n",
            "column 'timestamp' must name its time zone",
        ),
    ],
)
def test_import_price_history_refuses_malformed_downloads(tmp_path, name, text, message):
    source = write(tmp_path, name, text)
    with pytest.raises(DataError, match=starts(f"{source}: {message}")):
        run("kalshi-price-history", [source], tmp_path / "out")
    assert not (tmp_path / "out").exists()


# --- units: cents, or dollars said so -------------------------------------------------------------

DOLLARS = "timestamp,73° or below,74° or above\n2026-04-20T12:00:00Z,0.45,0.55\n"
MIA = "kalshi-price-history-kxhighmia-26apr20-minute.csv"


def test_import_price_history_refuses_prices_that_look_like_dollars(tmp_path):
    source = write(tmp_path, MIA, DOLLARS)  # read as cents, 0.45 and 0.55 would be 0 and 1
    message = f"{source}: column '73° or below, 74° or above' must be chart prices in cents"
    with pytest.raises(DataError, match=starts(message)) as error:
        run("kalshi-price-history", [source], tmp_path / "out")
    assert "--price-units dollars" in str(error.value) and "0.45" in str(error.value)
    assert not (tmp_path / "out").exists()


def test_import_price_history_converts_dollars_when_told_and_says_so(tmp_path):
    source = write(tmp_path, MIA, DOLLARS.replace("0.55", "0.555"))
    counts = run("kalshi-price-history", [source], tmp_path / "out", price_units="dollars")
    quotes = read_out(tmp_path / "out")["quotes"]
    assert sorted(quotes["price"]) == [45, 56]  # 55.5 cents rounds half up
    assert counts["notes"] == [
        f"{source}: chart prices read as dollars and converted to cents (x100)"
    ]
    assert counts["n_prices_rounded"] == 1


def test_import_price_history_keeps_small_prices_as_cents_when_told(tmp_path):
    source = write(tmp_path, MIA, DOLLARS)
    counts = run("kalshi-price-history", [source], tmp_path / "out", price_units="cents")
    assert sorted(read_out(tmp_path / "out")["quotes"]["price"]) == [0, 1]
    assert "notes" not in counts


def test_import_price_history_refuses_a_dollar_price_above_one(tmp_path):
    source = write(tmp_path, MIA, DOLLARS.replace("0.55", "55"))
    with pytest.raises(DataError, match=starts(f"{source}: column '74° or above' must be a chart")):
        run("kalshi-price-history", [source], tmp_path / "out", price_units="dollars")
