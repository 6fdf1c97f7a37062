"""The embedded simulator: a world with a correct oracle and a beatable, imperfect market."""

import dataclasses
import functools
import re

import numpy as np
import pandas as pd
import pytest

from tmaxedge.core import io
from tmaxedge.core.config import parse_cities
from tmaxedge.core.errors import ParamsError
from tmaxedge.inputs.simulate import CLIMATES, MarketParams, SimulateParams, simulate

CITIES = parse_cities(
    {
        "chi": {"series": "KXHIGHCHI", "tz": "America/Chicago", "weather_features": True},
        "lax": {"series": "KXHIGHLAX", "tz": "America/Los_Angeles", "weather_features": True},
        "mia": {"series": "KXHIGHMIA", "tz": "America/New_York", "weather_features": True},
        "nyc": {"series": "KXHIGHNY", "tz": "America/New_York", "weather_features": False},
    }
)


def run(cities=("chi", "lax"), days=40, seed=7, start="2024-10-20", **market):
    params = SimulateParams(seed, start, days, list(cities), MarketParams(**market))
    parts = list(simulate(params, CITIES))
    return {name: pd.concat([p[name] for p in parts], ignore_index=True) for name in parts[0]}


@pytest.fixture(scope="module")
def world():
    # spans the November DST change in both time zones
    return run()


@pytest.fixture(scope="module")
def large_world():
    """Enough independent events (3 cities x 150 days) to check calibration."""
    return run(cities=("chi", "lax", "mia"), days=150, seed=11, start="2024-03-01")


def labelled(world):
    quotes = world["quotes"].assign(p_true=world["oracle"]["p_true"].to_numpy())
    merged = quotes.merge(world["markets"], on="ticker", validate="many_to_one")
    return merged.assign(y=(merged["result"] == "yes").astype(int))


def test_simulate_writes_six_markets_per_event_that_partition_the_integers(world):
    markets = world["markets"]
    for _, event in markets.groupby("event_ticker"):
        assert sorted(event["strike_type"]) == ["between"] * 4 + ["greater", "less"]
        low = event.loc[event.strike_type == "less", "cap_strike"].item()
        covered = []
        for t in range(int(low) - 5, int(low) + 15):
            yes = (
                (
                    (event.strike_type == "between")
                    & (event.floor_strike <= t)
                    & (t <= event.cap_strike)
                )
                | ((event.strike_type == "greater") & (t > event.floor_strike))
                | ((event.strike_type == "less") & (t < event.cap_strike))
            )
            covered.append(yes.sum())
        assert set(covered) == {1}
        assert (event["result"] == "yes").sum() == 1


def test_simulate_uses_kalshi_ticker_shapes(world):
    pattern = re.compile(r"^KXHIGH(CHI|LAX)-\d{2}[A-Z]{3}\d{2}-(B\d+\.5|T\d+)$")
    assert world["markets"]["ticker"].map(lambda t: bool(pattern.match(t))).all()
    first = world["markets"].iloc[0]
    assert first["ticker"].startswith(first["event_ticker"] + "-")


def test_simulate_results_follow_the_settled_high(world):
    merged = world["markets"].merge(
        world["settlements"], left_on=["city", "event_date"], right_on=["city", "date"]
    )
    t = merged["tmax_f"]
    yes = np.where(
        merged.strike_type == "between",
        (merged.floor_strike <= t) & (t <= merged.cap_strike),
        np.where(merged.strike_type == "greater", t > merged.floor_strike, t < merged.cap_strike),
    )
    assert (merged["result"].eq("yes") == yes).all()
    assert len(merged) == len(world["markets"])


def test_simulate_oracle_sums_to_one_across_an_event_at_every_minute(world):
    frame = labelled(world)
    # every market of an event quotes on its own schedule; compare where all six have a row
    sums = frame.groupby(["event_ticker", "ts"])["p_true"].agg(["sum", "size"])
    complete = sums[sums["size"] == 6]
    assert len(complete) > 1000
    np.testing.assert_allclose(complete["sum"], 1.0, atol=1e-9)


def test_simulate_oracle_is_calibrated_over_many_events(large_world):
    frame = labelled(large_world)
    # one decision a market at 13:00 UTC on the event day: independent across events
    day_ts = pd.to_datetime(frame["event_date"].astype(str)).dt.tz_localize("UTC")
    frame = frame[frame["ts"] >= day_ts + pd.Timedelta(hours=18)]
    first = frame.groupby("ticker").head(1)
    edges = np.array([0, 0.05, 0.2, 0.4, 0.6, 0.8, 1.0])
    groups = first.groupby(pd.cut(first["p_true"], edges), observed=True)
    for _, group in groups:
        if len(group) < 30:
            continue
        gap = group["y"].mean() - group["p_true"].mean()
        standard_error = np.sqrt((group["p_true"] * (1 - group["p_true"])).mean() / len(group))
        assert abs(gap) < 4 * standard_error + 0.01, (group["p_true"].mean(), group["y"].mean())


def test_simulate_oracle_beats_market_mid_which_beats_nothing(large_world):
    frame = labelled(large_world)
    book = frame.dropna(subset=["yes_bid", "yes_ask"])
    mid = (book["yes_bid"] + book["yes_ask"]).astype(float) / 200
    brier_oracle = ((book["p_true"] - book["y"]) ** 2).mean()
    brier_market = ((mid - book["y"]) ** 2).mean()
    brier_base_rate = ((book["y"].mean() - book["y"]) ** 2).mean()
    assert brier_oracle < 0.97 * brier_market
    assert brier_market < 0.95 * brier_base_rate


def test_simulate_market_overprices_longshots(large_world):
    frame = labelled(large_world)
    book = frame.dropna(subset=["yes_bid", "yes_ask"])
    mid = (book["yes_bid"] + book["yes_ask"]).astype(float) / 200
    cheap = book[(mid > 0.03) & (mid < 0.15)]
    assert cheap["y"].mean() < ((cheap["yes_bid"] + cheap["yes_ask"]) / 200).mean()


def test_simulate_quotes_are_valid_and_inside_the_market_window(world):
    quotes = world["quotes"].merge(world["markets"], on="ticker")
    both = quotes.dropna(subset=["yes_bid", "yes_ask"])
    assert (both["yes_bid"] < both["yes_ask"]).all()
    for column in ["yes_bid", "yes_ask", "price"]:
        values = quotes[column].dropna()
        assert values.between(0, 100).all()
    assert (quotes["ts"] > quotes["open_time"]).all()
    assert (quotes["ts"] <= quotes["close_time"]).all()
    assert not quotes.duplicated(["ticker", "ts"]).any()
    minutes = (quotes["close_time"] - quotes["open_time"]) / pd.Timedelta(minutes=1)
    share = len(quotes) / minutes.groupby(quotes["ticker"]).first().sum()
    assert 0.7 < share < 0.9  # ~20% of minutes carry no row


def test_simulate_market_hours_follow_eastern_time_across_dst(world):
    markets = world["markets"].drop_duplicates("event_ticker")
    local_open = markets["open_time"].dt.tz_convert("America/New_York")
    local_close = markets["close_time"].dt.tz_convert("America/New_York")
    assert (local_open.dt.hour == 10).all()
    assert ((local_close.dt.hour == 23) & (local_close.dt.minute == 59)).all()
    assert set(markets["open_time"].dt.hour) == {14, 15}  # EDT and EST both present


def test_simulate_weather_reports_have_gaps_and_climate_days_in_standard_time(world):
    weather = world["weather"]
    chi = weather[weather["city"] == "chi"]
    steps = chi["ts"].diff().dt.total_seconds().dropna() / 60
    assert steps.median() == pytest.approx(5, abs=0.6)
    assert steps.max() >= 60  # an outage
    # reports start at local standard midnight of the day before the first event
    first = chi["ts"].min()
    assert (
        pd.Timestamp("2024-10-19 06:00", tz="UTC")
        <= first
        < pd.Timestamp("2024-10-19 06:01", tz="UTC")
    )


def test_simulate_is_deterministic_and_seeded():
    first, again, other = run(days=5), run(days=5), run(days=5, seed=8)
    for name in first:
        pd.testing.assert_frame_equal(first[name], again[name])
    assert not first["quotes"]["yes_bid"].equals(other["quotes"]["yes_bid"])


def test_simulate_city_does_not_depend_on_the_other_cities():
    alone = run(cities=("lax",), days=5)
    together = run(cities=("chi", "lax"), days=5)
    lax = together["quotes"][together["quotes"]["ticker"].str.startswith("KXHIGHLAX")]
    pd.testing.assert_frame_equal(alone["quotes"], lax.reset_index(drop=True))


def test_simulate_efficient_market_is_harder_to_beat(large_world):
    efficient = run(
        cities=("chi", "lax", "mia"),
        days=150,
        seed=11,
        start="2024-03-01",
        lag_minutes=5,
        longshot_slope=0.95,
        noise_sd=0.1,
    )

    def gap(world):
        book = labelled(world).dropna(subset=["yes_bid", "yes_ask"])
        mid = (book["yes_bid"] + book["yes_ask"]).astype(float) / 200
        return ((mid - book["y"]) ** 2).mean() - ((book["p_true"] - book["y"]) ** 2).mean()

    assert 0 < gap(efficient) < gap(large_world)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"days": 0}, "days must be an int >= 1; got 0"),
        ({"start": "2024-13-01"}, "start must be a date 'YYYY-MM-DD'"),
        ({"cities": ["chi", "okc"]}, "cities must be a non-empty list among ['aus', 'chi'"),
        ({"cities": []}, "non-empty list"),
    ],
)
def test_simulate_params_reject_bad_values(change, message):
    base = {"seed": 1, "start": "2024-01-01", "days": 3, "cities": ["chi"]}
    with pytest.raises(ParamsError, match=re.escape(message)):
        SimulateParams(**{**base, **change})


def test_simulate_params_from_yaml_reject_unknown_market_key():
    raw = {
        "seed": 1,
        "start": "2024-01-01",
        "days": 3,
        "cities": ["chi"],
        "market": {"lag_minute": 5},
    }
    with pytest.raises(ParamsError, match=re.escape("unknown key(s) ['lag_minute']")):
        io.params_from_mapping(raw, SimulateParams, "params.yaml: simulate")


def test_simulate_market_params_reject_out_of_range():
    message = "quote_update_share must be a number in (0, 1]; got 0."
    with pytest.raises(ParamsError, match=re.escape(message)):
        MarketParams(quote_update_share=0)
    raw = {
        "seed": 1,
        "start": "2024-01-01",
        "days": 3,
        "cities": ["chi"],
        "market": {"quote_update_share": 0},
    }
    key = "params.yaml: simulate.market.quote_update_share must be a number in (0, 1]; got 0."
    with pytest.raises(ParamsError, match=re.escape(key)):
        io.params_from_mapping(raw, SimulateParams, "params.yaml: simulate")


def test_simulate_knows_every_default_city():
    assert set(CLIMATES) == {"aus", "chi", "den", "lax", "mia", "nyc", "phl"}
    assert dataclasses.is_dataclass(CLIMATES["chi"])


@functools.cache
def nowcast_improvement(**market):
    """Fit a weather nowcast + market logistic on 100 days, return its test Brier gain over the
    market mid on the next 30 (weather cities only, every 10 minutes)."""
    from sklearn.linear_model import LogisticRegression

    from tmaxedge.features import build as features
    from tmaxedge.features import nowcast

    tables = run(cities=("chi", "lax", "mia"), days=130, seed=5, start="2024-04-01", **market)
    params = features.FeatureParams(every_minutes=10, eligible_start_hour=6)
    parts = []
    for part in features.iter_partitions(
        tables["markets"], tables["weather"], tables["settlements"], CITIES
    ):
        quotes = tables["quotes"][tables["quotes"]["ticker"].isin(part.tickers)]
        parts.append(
            features.build_partition(
                part.markets, quotes, part.weather, part.settlements, part.city, params
            )
        )
    rows = pd.concat(parts, ignore_index=True).dropna(
        subset=["p_market", "running_max", "temp_now"]
    )
    is_train = pd.to_datetime(rows["event_date"]) < pd.Timestamp("2024-07-10")
    train, test = [], []
    for _, city_rows in rows.groupby("city"):
        fitted = nowcast.fit_tables(city_rows[is_train[city_rows.index]])
        train.append(
            nowcast.add_columns(
                city_rows[is_train[city_rows.index]], fitted, leave_own_day_out=True
            )
        )
        test.append(nowcast.add_columns(city_rows[~is_train[city_rows.index]], fitted))
    train, test = pd.concat(train), pd.concat(test)
    columns = ["mid_logit"] + nowcast.COLUMNS
    model = LogisticRegression(C=10).fit(train[columns], train["y"])
    p = model.predict_proba(test[columns])[:, 1]
    y = test["y"].to_numpy()
    return 1 - np.mean((p - y) ** 2) / np.mean((test["p_market"].to_numpy() - y) ** 2)


def test_simulate_market_is_beatable_by_a_weather_model_by_more_than_two_percent():
    # out of sample: fitted on the first 100 days, scored on the next 30
    assert nowcast_improvement() > 0.02


def test_simulate_efficient_market_leaves_less_for_the_same_weather_model():
    default = nowcast_improvement()
    efficient = nowcast_improvement(lag_minutes=5, longshot_slope=0.95, noise_sd=0.1)
    assert efficient < default
