"""The embedded market simulator: a synthetic world written as the data-contract tables.

The world, per city and climate day ``d``:

* A public forecast ``F_d`` (seasonal climatology plus a persistent anomaly) is known when the
  day's markets open, the day before. The true continuous high is ``X_d = F_d + sigma_F * B_d(1)``
  where ``B_d`` is a standard Brownian motion run on an information clock ``tau(h)`` that goes
  from 0 before dawn to 1 at the city's peak hour ``h*`` (local standard time). The official high
  (the NWS climate report) is ``round(X_d)``.
* The station reports every ~5 minutes, with jitter, noise, dropped reports and outages:
  ``temp = (1 - w) m_d(h) + w F_{d+1} - D(h) + noise``, where ``m_d(h) = F_d + sigma_F B_d(tau(h))``
  is the information revealed so far, ``D(h)`` the (known) diurnal deficit, zero at ``h*``, and
  ``w`` blends the evening into the next day's forecast so the series is continuous at midnight.
* The oracle ``p_true(t)`` is the exact posterior ``P(YES | forecast, reports up to t)``: the
  model above is linear and Gaussian in ``m``, so a scalar Kalman filter over the reports gives
  ``X_d | public info ~ N(mu, V)`` and each bin's probability follows. It is correct by
  construction, not fitted.
* The market quotes a lagged, noisy, favourite-longshot-biased version of the oracle:
  ``logit(q_t) = slope * logit(p_true(t - lag)) + u_t`` with ``u`` a persistent AR(1) mispricing,
  spreads wider overnight and far from the money, minutes without a row, empty books,
  trades, volume and open interest.

Everything is drawn from ``numpy.random.default_rng`` streams seeded by ``SimulateParams.seed`` and
the city's fixed position in ``CLIMATES``, so a city's data do not depend on which other cities run.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit, logit, ndtr

from tmaxedge.core.config import City
from tmaxedge.core.errors import ParamsError
from tmaxedge.core.params import Interval, IsoDate, Params, Subset, declare

SLOTS_PER_DAY = 288  # station reports every 5 minutes
SLOT_MINUTES = 5
EVENING_BLEND_START = 18.0  # local standard hour from which the series drifts to the next day
DAWN_HOUR = 6.0  # diurnal minimum, local standard time
INFO_START_HOUR = 5.0  # the information clock starts before dawn
REPORT_NOISE_SD = 0.4  # station noise, degF
REPORT_ROUNDING = 0.1  # reports carry one decimal
OPEN_HOUR_ET = 10  # markets open 10:00 ET the day before the event
CLOSE_TIME_ET = dt.time(23, 59)  # and close 23:59 ET on the event day
KALSHI_TZ = "America/New_York"


@dataclass(frozen=True)
class Climate:
    """A city's climate: seasonal mean high, day-to-day anomalies, forecast skill, diurnal shape."""

    mean_high: float  # annual mean of the daily high, degF
    amplitude: float  # seasonal half-range, degF (peak in late July)
    anomaly_sd: float  # standard deviation of the daily anomaly, degF
    persistence: float  # AR(1) coefficient of the anomaly from day to day
    forecast_sd: float  # sd of the true high around the day-before forecast, degF
    diurnal_range: float  # high minus the dawn low, degF
    peak_hour: float  # hour of the high, local standard time


CLIMATES: dict[str, Climate] = {
    "aus": Climate(81.0, 15.0, 5.5, 0.65, 2.6, 20.0, 16.0),
    "chi": Climate(59.0, 23.0, 8.0, 0.60, 3.2, 16.0, 15.5),
    "den": Climate(64.0, 20.0, 8.5, 0.55, 3.8, 26.0, 15.0),
    "lax": Climate(72.0, 6.0, 4.0, 0.75, 2.2, 12.0, 13.0),
    "mia": Climate(84.0, 6.0, 2.5, 0.70, 1.8, 11.0, 14.0),
    "nyc": Climate(62.0, 20.0, 7.0, 0.60, 2.8, 15.0, 15.0),
    "phl": Climate(64.0, 21.0, 7.0, 0.60, 3.0, 17.0, 15.0),
}


@dataclass(frozen=True)
class MarketParams(Params):
    """How (in)efficient the simulated market is; see params.yaml ``simulate.market``."""

    constraints = declare(
        lag_minutes=Interval(int, 0, None),
        longshot_slope=Interval(float, 0, 2, closed="right"),
        noise_sd=Interval(float, 0, None),
        noise_halflife_minutes=Interval(float, 0, None, closed="neither"),
        quote_update_share=Interval(float, 0, 1, closed="right"),
        empty_book_share=Interval(float, 0, 1),
    )

    lag_minutes: int = 20
    longshot_slope: float = 0.8
    noise_sd: float = 0.25
    noise_halflife_minutes: float = 30.0
    quote_update_share: float = 0.8
    empty_book_share: float = 0.03


@dataclass(frozen=True)
class SimulateParams(Params):
    """params.yaml ``simulate``: seed, first event date, number of event days, cities, market."""

    constraints = declare(
        seed=Interval(int, 0, None),  # numpy refuses a negative seed
        start=IsoDate(),
        days=Interval(int, 1, None),
        cities=Subset(tuple(CLIMATES), nonempty=True, distinct=True),  # simulated climates
    )

    seed: int
    start: str
    days: int
    cities: list[str]
    market: MarketParams = dataclasses.field(default_factory=MarketParams)


def simulate(params: SimulateParams, cities: dict[str, City]) -> Iterator[dict[str, pd.DataFrame]]:
    """Yield the contract tables (markets, quotes, weather, settlements, oracle) city by city.

    Cities come in the order of their series ticker, so concatenating the yielded tables keeps
    every table sorted by its key. Raises ``ParamsError`` for a simulated city missing from
    ``cities``.
    """
    missing = sorted(set(params.cities) - set(cities))
    if missing:
        raise ParamsError(
            f"params.yaml: simulate.cities names {missing}, which the cities section lacks."
        )
    for code in sorted(params.cities, key=lambda c: cities[c].series):
        rng = np.random.default_rng([params.seed, list(CLIMATES).index(code)])
        yield simulate_city(cities[code], CLIMATES[code], params, rng)


def simulate_city(
    city: City, climate: Climate, params: SimulateParams, rng: np.random.Generator
) -> dict[str, pd.DataFrame]:
    """All tables for one city. Climate day 0 is the day before the first event; the last
    simulated day follows the last event so the evening blend has a forecast to reach for."""
    first_day = dt.date.fromisoformat(params.start) - dt.timedelta(days=1)
    days = pd.date_range(first_day, periods=params.days + 2, freq="D")
    forecast = simulate_forecasts(days, climate, rng)
    reports = simulate_reports(days, forecast, city, climate, rng)
    posterior_mean, posterior_var = filter_high(reports, forecast, climate)
    events = slice(1, params.days + 1)
    markets = make_markets(city, days[events], forecast[events], reports.high[events])
    quotes, oracle = simulate_quotes(
        markets,
        reports.time[events],
        posterior_mean[events],
        posterior_var[events],
        forecast[events],
        climate,
        city,
        params.market,
        rng,
    )
    weather = reports_table(city, reports)
    settlements = pd.DataFrame(
        {
            "city": city.code,
            "date": days[events].date,
            "tmax_f": reports.high[events].astype("int64"),
        }
    )
    return {
        "markets": markets.drop(columns=["event_index"]),
        "quotes": quotes,
        "weather": weather,
        "settlements": settlements,
        "oracle": oracle,
    }


def climatology(days: pd.DatetimeIndex, climate: Climate) -> np.ndarray:
    """Seasonal mean high for each day, peaking near 20 July."""
    day_of_year = days.day_of_year.to_numpy()
    return climate.mean_high + climate.amplitude * np.cos(2 * np.pi * (day_of_year - 201) / 365.25)


def simulate_forecasts(
    days: pd.DatetimeIndex, climate: Climate, rng: np.random.Generator
) -> np.ndarray:
    """Day-before forecasts: climatology plus an AR(1) anomaly."""
    n_days = len(days)
    shocks = rng.standard_normal(n_days)
    anomaly = np.empty(n_days)
    anomaly[0] = climate.anomaly_sd * shocks[0]
    scale = climate.anomaly_sd * np.sqrt(1 - climate.persistence**2)
    for i in range(1, n_days):
        anomaly[i] = climate.persistence * anomaly[i - 1] + scale * shocks[i]
    return climatology(days, climate) + anomaly


def diurnal_deficit(hour: np.ndarray, climate: Climate) -> np.ndarray:
    """How far below the day's high the temperature sits at a local standard ``hour`` (0..24)."""
    peak = climate.peak_hour
    hour = np.asarray(hour, dtype=float)
    night = 24 + DAWN_HOUR - peak
    rising = (1 - np.cos(np.pi * (hour - DAWN_HOUR) / (peak - DAWN_HOUR))) / 2
    falling = (1 + np.cos(np.pi * (hour - peak) / night)) / 2
    before_dawn = (1 + np.cos(np.pi * (hour + 24 - peak) / night)) / 2
    shape = np.where(hour < DAWN_HOUR, before_dawn, np.where(hour <= peak, rising, falling))
    return climate.diurnal_range * (1 - shape)


def information_clock(hour: np.ndarray, climate: Climate) -> np.ndarray:
    """Share of the forecast error revealed by a local standard ``hour``: 0 before 05:00, 1 at the
    peak."""
    span = climate.peak_hour - INFO_START_HOUR
    return np.clip((np.asarray(hour, dtype=float) - INFO_START_HOUR) / span, 0, 1) ** 1.5


def evening_weight(hour: np.ndarray) -> np.ndarray:
    """Weight of the next day's forecast in the evening series, 0 until 18:00, 1 at midnight."""
    return np.clip((np.asarray(hour, dtype=float) - EVENING_BLEND_START) / 6, 0, 1)


@dataclass(frozen=True)
class Reports:
    """Station reports on a (climate day, 5-minute slot) grid; ``present`` marks received ones."""

    time: np.ndarray  # datetime64[us] UTC, shape (n_days, SLOTS_PER_DAY)
    hour: np.ndarray  # local standard hour of each report
    temp: np.ndarray  # reported temperature (NaN where absent)
    present: np.ndarray  # bool
    high: np.ndarray  # official high round(X_d), shape (n_days,)


def simulate_reports(
    days: pd.DatetimeIndex,
    forecast: np.ndarray,
    city: City,
    climate: Climate,
    rng: np.random.Generator,
) -> Reports:
    """The intraday information path and the station's reports of it."""
    n_days = len(days)
    slot_hours = np.arange(SLOTS_PER_DAY) / (60 / SLOT_MINUTES)
    clock = information_clock(slot_hours, climate)
    clock_steps = np.diff(clock, prepend=0.0)
    increments = rng.standard_normal((n_days, SLOTS_PER_DAY)) * np.sqrt(clock_steps)
    revealed = forecast[:, None] + climate.forecast_sd * np.cumsum(increments, axis=1)
    true_high = revealed[:, -1]

    jitter_seconds = rng.integers(0, 30, size=(n_days, SLOTS_PER_DAY)).astype(float)
    hour = slot_hours[None, :] + jitter_seconds / 3600
    next_forecast = np.append(forecast[1:], forecast[-1])
    weight = evening_weight(hour)
    path = (
        (1 - weight) * revealed + weight * next_forecast[:, None] - diurnal_deficit(hour, climate)
    )
    noise = rng.normal(0, REPORT_NOISE_SD, size=path.shape)
    temp = np.round((path + noise) / REPORT_ROUNDING) * REPORT_ROUNDING

    present = rng.uniform(size=path.shape) > 0.03
    outage_days = np.flatnonzero(rng.uniform(size=n_days) < 0.08)
    for day in outage_days:
        start = rng.integers(0, SLOTS_PER_DAY)
        length = rng.integers(12, 48)
        present[day, start : start + length] = False

    climate_day_start = (days.to_numpy().astype("datetime64[us]") - _offset_us(city))[:, None]
    time = (
        climate_day_start
        + (np.arange(SLOTS_PER_DAY) * SLOT_MINUTES * 60_000_000).astype("timedelta64[us]")[None, :]
        + jitter_seconds.astype("int64").astype("timedelta64[s]")
    )
    high = np.floor(true_high + 0.5)
    return Reports(time, hour, np.where(present, temp, np.nan), present, high)


def _offset_us(city: City) -> np.timedelta64:
    return np.timedelta64(int(city.standard_offset.total_seconds() * 1e6), "us")


def filter_high(
    reports: Reports, forecast: np.ndarray, climate: Climate
) -> tuple[np.ndarray, np.ndarray]:
    """Posterior mean and variance of each day's true high after each slot's report.

    A scalar Kalman filter on the revealed level ``m``: it is a random walk on the information
    clock, and a report is ``a * m + b + noise`` with ``a = 1 - w`` and ``b = w F_next - D(h)``.
    After slot ``k`` the high is ``N(mu_k, P_k + sigma_F^2 (1 - tau_k))``.
    """
    n_days = len(forecast)
    slot_hours = np.arange(SLOTS_PER_DAY) / (60 / SLOT_MINUTES)
    clock = information_clock(slot_hours, climate)
    clock_steps = np.diff(clock, prepend=0.0)
    sigma2 = climate.forecast_sd**2
    noise_var = REPORT_NOISE_SD**2 + REPORT_ROUNDING**2 / 12
    next_forecast = np.append(forecast[1:], forecast[-1])
    weight = evening_weight(reports.hour)
    loading = 1 - weight
    offset = weight * next_forecast[:, None] - diurnal_deficit(reports.hour, climate)

    mean = forecast.astype(float).copy()
    var = np.zeros(n_days)
    posterior_mean = np.empty((n_days, SLOTS_PER_DAY))
    posterior_var = np.empty((n_days, SLOTS_PER_DAY))
    for k in range(SLOTS_PER_DAY):
        var = var + sigma2 * clock_steps[k]
        seen = reports.present[:, k] & (loading[:, k] > 0)
        a = loading[:, k]
        innovation_var = a * a * var + noise_var
        gain = np.where(seen, a * var / innovation_var, 0.0)
        residual = np.where(seen, reports.temp[:, k] - a * mean - offset[:, k], 0.0)
        mean = mean + gain * residual
        var = var - gain * a * var
        posterior_mean[:, k] = mean
        posterior_var[:, k] = var + sigma2 * (1 - clock[k])
    return posterior_mean, posterior_var


def bin_edges(markets: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Continuous-high interval ``[lo, hi)`` on which each market resolves YES.

    With ``T = round(X)``: ``T >= a`` iff ``X >= a - 0.5`` and ``T <= b`` iff ``X < b + 0.5``.
    """
    floor = markets["floor_strike"].to_numpy(dtype=float)
    cap = markets["cap_strike"].to_numpy(dtype=float)
    kind = markets["strike_type"].to_numpy()
    lo = np.where(kind == "between", floor - 0.5, np.where(kind == "greater", floor + 0.5, -np.inf))
    hi = np.where(kind == "between", cap + 0.5, np.where(kind == "less", cap - 0.5, np.inf))
    return lo, hi


def make_markets(
    city: City, event_days: pd.DatetimeIndex, forecast: np.ndarray, high: np.ndarray
) -> pd.DataFrame:
    """Six markets per event: four two-degree bins around the forecast and two tails."""
    rows = []
    opens = _eastern_to_utc(event_days - pd.Timedelta(days=1) + pd.Timedelta(hours=OPEN_HOUR_ET))
    closes = _eastern_to_utc(
        event_days + pd.Timedelta(hours=CLOSE_TIME_ET.hour, minutes=CLOSE_TIME_ET.minute)
    )
    for i, day in enumerate(event_days):
        center = int(np.floor(forecast[i] + 0.5))
        event_ticker = f"{city.series}-{day.strftime('%y%b%d').upper()}"
        low = center - 4
        specs = [("less", None, float(low), f"T{low}")]
        specs += [
            ("between", float(low + 2 * j), float(low + 2 * j + 1), f"B{low + 2 * j}.5")
            for j in range(4)
        ]
        specs += [("greater", float(low + 7), None, f"T{low + 7}")]
        for strike_type, floor, cap, suffix in specs:
            rows.append(
                {
                    "ticker": f"{event_ticker}-{suffix}",
                    "event_ticker": event_ticker,
                    "city": city.code,
                    "event_date": day.date(),
                    "strike_type": strike_type,
                    "floor_strike": floor,
                    "cap_strike": cap,
                    "open_time": opens[i],
                    "close_time": closes[i],
                    "event_index": i,
                }
            )
    markets = pd.DataFrame(rows)
    markets["floor_strike"] = markets["floor_strike"].astype("float64")
    markets["cap_strike"] = markets["cap_strike"].astype("float64")
    lo, hi = bin_edges(markets)
    settled = high[markets["event_index"].to_numpy()]
    markets["result"] = np.where((settled >= lo + 0.5) & (settled < hi + 0.5), "yes", "no")
    return markets


def _eastern_to_utc(local: pd.DatetimeIndex) -> pd.DatetimeIndex:
    return local.tz_localize(KALSHI_TZ).tz_convert("UTC").as_unit("us")


def simulate_quotes(
    markets: pd.DataFrame,
    report_time: np.ndarray,
    posterior_mean: np.ndarray,
    posterior_var: np.ndarray,
    forecast: np.ndarray,
    climate: Climate,
    city: City,
    market: MarketParams,
    rng: np.random.Generator,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One-minute quotes for every market, and the oracle at each quote row.

    Works on a (market, minute) grid: minute ``k`` ends ``k`` minutes after the market opens.
    """
    opens = _naive_utc(markets["open_time"])
    closes = _naive_utc(markets["close_time"])
    n_minutes = ((closes - opens) // np.timedelta64(1, "m")).astype(int)
    width = int(n_minutes.max())
    step = np.arange(1, width + 1)
    minute_time = opens[:, None] + (step * 60_000_000).astype("timedelta64[us]")[None, :]
    alive = step[None, :] <= n_minutes[:, None]
    event = markets["event_index"].to_numpy()
    lo, hi = bin_edges(markets)
    sigma_f = climate.forecast_sd

    def truth_at(times: np.ndarray) -> np.ndarray:
        """P(YES) for each market given the reports received up to ``times``."""
        prob = np.empty(times.shape)
        for row in range(times.shape[0]):
            e = event[row]
            seen = np.isfinite(posterior_mean[e])  # every slot carries a posterior
            slot_times = report_time[e][seen]
            n_seen = np.searchsorted(slot_times, times[row], side="right")
            # before the first slot of the climate day only the forecast is known
            mean = np.where(n_seen > 0, posterior_mean[e][np.maximum(n_seen - 1, 0)], forecast[e])
            sd = np.sqrt(
                np.where(n_seen > 0, posterior_var[e][np.maximum(n_seen - 1, 0)], sigma_f**2)
            )
            prob[row] = ndtr((hi[row] - mean) / sd) - ndtr((lo[row] - mean) / sd)
        return prob

    p_true = truth_at(minute_time)
    lag = np.timedelta64(market.lag_minutes * 60_000_000, "us")
    p_seen = truth_at(minute_time - lag)

    rho = 0.5 ** (1 / market.noise_halflife_minutes)
    shocks = rng.standard_normal(minute_time.shape) * market.noise_sd * np.sqrt(1 - rho**2)
    shocks[:, 0] = rng.standard_normal(len(markets)) * market.noise_sd
    mispricing = _ar1(shocks, rho)
    belief = expit(market.longshot_slope * logit(np.clip(p_seen, 1e-5, 1 - 1e-5)) + mispricing)

    local_hour = _local_standard_hour(minute_time, city)
    overnight = (local_hour < 7) | (local_hour >= 22)
    far = 1 - 4 * belief * (1 - belief)
    spread = 1 + rng.poisson(0.6 + 1.5 * overnight + 1.5 * far)
    mid = 100 * belief
    bid = np.round(mid - spread / 2)
    ask = bid + spread
    bid = np.where((bid >= 1) & (bid <= 99), bid, np.nan)
    ask = np.where((ask >= 1) & (ask <= 99), ask, np.nan)

    empty = rng.uniform(size=len(markets)) < market.empty_book_share
    empty_until = np.where(empty, rng.integers(60, 8 * 60, size=len(markets)), 0)
    no_book = step[None, :] <= empty_until[:, None]
    bid = np.where(no_book, np.nan, bid)
    ask = np.where(no_book, np.nan, ask)

    update = rng.uniform(size=minute_time.shape) < market.quote_update_share
    update[:, 0] = True
    last_update = np.maximum.accumulate(np.where(update, step[None, :] - 1, 0), axis=1)
    bid = np.take_along_axis(bid, last_update, axis=1)
    ask = np.take_along_axis(ask, last_update, axis=1)

    activity = 0.02 + 0.10 * np.exp(-(((local_hour - climate.peak_hour + 2) / 4) ** 2))
    traded = (rng.uniform(size=minute_time.shape) < activity) & np.isfinite(bid) & np.isfinite(ask)
    buyer_lifts = rng.uniform(size=minute_time.shape) < 0.5
    price = np.where(traded, np.where(buyer_lifts, ask, bid), np.nan)
    volume = np.where(traded, rng.geometric(0.15, size=minute_time.shape), 0)
    open_interest = np.floor(0.6 * np.cumsum(volume, axis=1))

    keep = (update | traded) & alive
    rows, cols = np.nonzero(keep)
    quotes = pd.DataFrame(
        {
            "ticker": markets["ticker"].to_numpy()[rows],
            "ts": pd.DatetimeIndex(minute_time[rows, cols]).tz_localize("UTC"),
            "yes_bid": pd.array(bid[rows, cols], dtype="Int64"),
            "yes_ask": pd.array(ask[rows, cols], dtype="Int64"),
            "price": pd.array(price[rows, cols], dtype="Int64"),
            "volume": pd.array(volume[rows, cols], dtype="Int64"),
            "open_interest": pd.array(open_interest[rows, cols], dtype="Int64"),
        }
    )
    oracle = pd.DataFrame(
        {"ticker": quotes["ticker"], "ts": quotes["ts"], "p_true": p_true[rows, cols]}
    )
    order = np.argsort(quotes["ticker"].to_numpy(), kind="stable")
    return quotes.iloc[order].reset_index(drop=True), oracle.iloc[order].reset_index(drop=True)


def _naive_utc(times: pd.Series) -> np.ndarray:
    return pd.DatetimeIndex(times).tz_convert(None).as_unit("us").to_numpy()


def _ar1(shocks: np.ndarray, rho: float) -> np.ndarray:
    """AR(1) along axis 1: x_t = rho x_{t-1} + shock_t."""
    from scipy.signal import lfilter

    return lfilter([1.0], [1.0, -rho], shocks, axis=1)


def _local_standard_hour(times: np.ndarray, city: City) -> np.ndarray:
    local = times + _offset_us(city)
    since_midnight = (local - local.astype("datetime64[D]")).astype("timedelta64[s]").astype(float)
    return since_midnight / 3600


def reports_table(city: City, reports: Reports) -> pd.DataFrame:
    """The station reports that were received, as the contract's weather table."""
    present = reports.present.ravel()
    return pd.DataFrame(
        {
            "city": city.code,
            "ts": pd.DatetimeIndex(reports.time.ravel()[present]).tz_localize("UTC"),
            "temp_f": reports.temp.ravel()[present],
        }
    )
