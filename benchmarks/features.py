"""Benchmark the feature builder at scale against a naive pandas implementation.

Generates a synthetic input in the data-contract shape with plain numpy (random-walk books,
diurnal weather; no dependency on the simulator), one (city, month) partition at a time inside
the workers so the full 29 M-row design budget fits in memory, and builds features at
every_minutes=1. Prints rows, seconds, rows/s and peak RSS, then the speed-up over a
straightforward pandas merge_asof + groupby-rolling implementation on one city-month (and the
largest disagreement between the two, which should be ~0).

    .venv/bin/python benchmarks/features.py --days 30
    .venv/bin/python benchmarks/features.py            # full scale: 7 cities x 684 days
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))

from tmaxedge.core.config import DEFAULT_CITIES, City
from tmaxedge.features import build as features

CITIES = DEFAULT_CITIES
START = dt.date(2024, 4, 1)
NS = features.NS_PER_MINUTE


# ----------------------------------------------------------------------------------------------
# synthetic input, one city-month at a time


def generate(city: City, dates: list[dt.date], seed: int) -> dict[str, pd.DataFrame]:
    """markets, quotes, weather, settlements for ``city`` on ``dates`` (contract shape)."""
    rng = np.random.default_rng(seed)
    n_days = len(dates)
    day_ns = pd.DatetimeIndex(dates).as_unit("ns").asi8
    et = pd.DatetimeIndex(dates).tz_localize("America/New_York")
    open_ns = (et - pd.Timedelta(days=1) + pd.Timedelta(hours=10)).tz_convert("UTC").as_unit("ns")
    close_ns = (et + pd.Timedelta(hours=23, minutes=59)).tz_convert("UTC").as_unit("ns")
    open_ns, close_ns = open_ns.asi8, close_ns.asi8
    doy = np.array([d.timetuple().tm_yday for d in dates])
    center = np.round(65 + 20 * np.sin(2 * np.pi * (doy - 110) / 365) + rng.normal(0, 4, n_days))
    tmax = (center + rng.integers(-6, 7, n_days)).astype(np.int64)

    # six markets per event: less, four 2-degree bins, greater (they partition the integers)
    lows = center[:, None] + np.array([-3, -1, 1, 3])
    floor = np.column_stack([np.full(n_days, np.nan), lows, center + 4])
    cap = np.column_stack([center - 3, lows + 1, np.full(n_days, np.nan)])
    kind = np.array(["less", "between", "between", "between", "between", "greater"])
    events = [f"{city.series}-{d:%y%b%d}".upper() for d in dates]
    labels = ["T{:.0f}", "B{:.1f}", "B{:.1f}", "B{:.1f}", "B{:.1f}", "T{:.0f}"]
    strikes = np.column_stack([cap[:, 0], lows + 0.5, floor[:, 5]])
    tickers = [
        f"{e}-{lab.format(s)}"
        for e, row in zip(events, strikes, strict=True)
        for lab, s in zip(labels, row, strict=True)
    ]
    n_markets = 6 * n_days
    markets = pd.DataFrame(
        {
            "ticker": tickers,
            "event_ticker": np.repeat(events, 6),
            "city": city.code,
            "event_date": np.repeat(np.array(dates, dtype=object), 6),
            "strike_type": np.tile(kind, n_days),
            "floor_strike": floor.ravel(),
            "cap_strike": cap.ravel(),
            "open_time": _utc(np.repeat(open_ns, 6)),
            "close_time": _utc(np.repeat(close_ns, 6)),
            "result": np.where(
                _yes(np.tile(kind, n_days), floor.ravel(), cap.ravel(), np.repeat(tmax, 6)),
                "yes",
                "no",
            ),
        }
    )

    # quotes: one row per market-minute (ts = end of the period), ~80% kept; logit random walk
    n_min = (close_ns - open_ns) // NS  # per day
    per_market = np.repeat(n_min, 6)
    market = np.repeat(np.arange(n_markets), per_market)
    first = np.cumsum(per_market) - per_market
    minute = np.arange(len(market)) - first[market] + 1
    ts = np.repeat(np.repeat(open_ns, 6), per_market) + minute * NS
    logit0 = rng.normal(-1.6, 1.0, n_markets)
    steps = rng.normal(0, 0.03, len(market))
    walk = np.cumsum(steps)
    walk -= (walk[first] - steps[first])[market]
    mid = 100 / (1 + np.exp(-(logit0[market] + walk)))
    half = rng.integers(1, 3, len(market))
    bid = np.clip(np.round(mid) - half, 1, 97).astype(np.int64)
    ask = np.minimum(bid + 2 * half, 99)
    kept = rng.random(len(market)) < 0.8
    traded = rng.random(len(market)) < 0.3
    price = np.where(rng.random(len(market)) < 0.5, bid, ask)
    volume = np.where(traded, rng.integers(1, 50, len(market)), 0)
    oi = np.cumsum(volume) - (np.cumsum(volume)[first] - volume[first])[market]
    quotes = pd.DataFrame(
        {
            "ticker": pd.array(np.asarray(tickers, dtype=object)[market[kept]], dtype="str"),
            "ts": _utc(ts[kept]),
            "yes_bid": pd.array(bid[kept], dtype="Int64"),
            "yes_ask": pd.array(ask[kept], dtype="Int64"),
            "price": pd.arrays.IntegerArray(price[kept], ~traded[kept]),
            "volume": pd.array(volume[kept], dtype="Int64"),
            "open_interest": pd.array(oi[kept], dtype="Int64"),
        }
    )
    quotes = quotes.sort_values(["ticker", "ts"], kind="mergesort", ignore_index=True)

    # weather every 5 minutes from the day before the first event to the day after the last
    w_ns = np.arange(day_ns[0] - 1440 * NS, day_ns[-1] + 2 * 1440 * NS, 5 * NS)
    w_ns = w_ns[rng.random(len(w_ns)) < 0.95]
    local_hour = (w_ns / NS / 60 + city.standard_offset.total_seconds() / 3600) % 24
    w_day = np.clip(np.searchsorted(day_ns, w_ns, side="right") - 1, 0, n_days - 1)
    noise = np.cumsum(rng.normal(0, 0.15, len(w_ns)))
    temp = center[w_day] - 8 + 8 * np.cos(2 * np.pi * (local_hour - 15) / 24) + noise - noise.mean()
    weather = pd.DataFrame({"city": city.code, "ts": _utc(w_ns), "temp_f": np.round(temp, 1)})
    settlements = pd.DataFrame({"city": city.code, "date": dates, "tmax_f": tmax})
    return {"markets": markets, "quotes": quotes, "weather": weather, "settlements": settlements}


def _utc(ns: np.ndarray) -> pd.arrays.DatetimeArray:
    return pd.array(np.asarray(ns, dtype=np.int64).view("datetime64[ns]")).tz_localize("UTC")


def _yes(kind: np.ndarray, floor: np.ndarray, cap: np.ndarray, high: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return np.select(
            [kind == "between", kind == "greater", kind == "less"],
            [(floor <= high) & (high <= cap), high > floor, high < cap],
        )


def partitions(n_days: int, city_codes: list[str]) -> list[tuple[City, list[dt.date], int]]:
    dates = [START + dt.timedelta(days=i) for i in range(n_days)]
    by_month: dict[str, list[dt.date]] = {}
    for d in dates:
        by_month.setdefault(f"{d:%Y-%m}", []).append(d)
    return [
        (CITIES[c], days, zlib.crc32(f"{c}{m}".encode()))
        for c in city_codes
        for m, days in sorted(by_month.items())
    ]


def run_one(city: City, dates: list[dt.date], seed: int, params: features.FeatureParams) -> tuple:
    """Generate and build one partition in this worker; (rows, generate s, build s, peak RSS)."""
    t0 = time.perf_counter()
    data = generate(city, dates, seed)
    t1 = time.perf_counter()
    frame = features.build_partition(
        data["markets"], data["quotes"], data["weather"], data["settlements"], city, params
    )
    t2 = time.perf_counter()
    return len(frame), t1 - t0, t2 - t1, _peak_rss_mb()


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


# ----------------------------------------------------------------------------------------------
# naive baseline: merge_asof + groupby-rolling, the obvious pandas way


def naive_partition(
    data: dict[str, pd.DataFrame], city: City, params: features.FeatureParams
) -> pd.DataFrame:
    """Same features as features.build_partition, computed market by market with pandas."""
    markets, quotes = data["markets"], data["quotes"]
    every, offset = params.every_minutes, city.standard_offset
    out = []
    for m in markets.itertuples():
        start = pd.Timestamp(m.event_date).tz_localize("UTC") - offset
        first = start + pd.Timedelta(minutes=-(-params.eligible_start_hour * 60 // every) * every)
        close = m.close_time.floor("min")
        step = pd.Timedelta(minutes=every)
        last = start + ((close - start) // step) * step
        grid = pd.DataFrame({"ts": pd.date_range(first - pd.Timedelta(hours=1), last, freq="min")})
        q = quotes[quotes["ticker"] == m.ticker].copy()
        q["ts"] = q["ts"].dt.ceil("min").astype(grid["ts"].dtype)
        q = q.drop_duplicates("ts", keep="last")
        book = pd.merge_asof(grid, q[["ts", "yes_bid", "yes_ask"]], on="ts")
        for name in ("price", "open_interest"):
            book[name] = pd.merge_asof(grid, q.dropna(subset=[name])[["ts", name]], on="ts")[name]
        vol = grid.merge(q[["ts", "volume"]], on="ts", how="left")["volume"].astype(float)
        book["vol_5m"] = vol.fillna(0).rolling(5).sum()  # the generator always reports volume
        book["yes_mid"] = (book["yes_bid"].astype(float) + book["yes_ask"].astype(float)) / 2
        change = book["yes_mid"].diff()
        for width in (15, 60):
            squares = (change**2).rolling(width, min_periods=1).sum()  # NaN skipped, as built
            book[f"rv_{width}m"] = np.sqrt(squares)
            book[f"rv_{width}m_sd"] = change.rolling(width, min_periods=2).std()
        book["mid_chg_5m"] = book["yes_mid"].diff(5)
        book["mid_slope_5m"] = book["yes_mid"].rolling(5, min_periods=2).apply(_ls_slope, raw=True)
        book = book[
            (book["ts"] >= first)
            & ((book["ts"] - start) % pd.Timedelta(minutes=every) == pd.Timedelta(0))
        ].copy()
        book["ticker"] = m.ticker
        book["event_date"] = m.event_date
        out.append(book)
    table = pd.concat(out, ignore_index=True)
    if city.weather_features:
        table = table.sort_values("ts", kind="mergesort")
        weather = data["weather"].sort_values("ts")
        weather["ts"] = weather["ts"].astype(table["ts"].dtype)
        table = pd.merge_asof(table, weather[["ts", "temp_f"]], on="ts").rename(
            columns={"temp_f": "temp_now"}
        )
        table = table.sort_values(["ticker", "ts"], kind="mergesort", ignore_index=True)
    return table


def _ls_slope(y: np.ndarray) -> float:
    x = np.arange(len(y), dtype=float)
    ok = ~np.isnan(y)
    return np.polyfit(x[ok], y[ok], 1)[0] if ok.sum() >= 2 else np.nan


# ----------------------------------------------------------------------------------------------
# the whole stage: raw parquet in, partitioned feature parquet out


def run_stage(parts: list, workdir: Path, n_jobs: int) -> tuple[float, float, float, dict]:
    """Write the synthetic raw tables, run stages/features.py on them; (generate+write s,
    stage s, stage peak RSS MB, metrics)."""
    raw = workdir / "raw"
    raw.mkdir(parents=True)
    t0 = time.perf_counter()
    small: dict[str, list[pd.DataFrame]] = {"markets": [], "weather": [], "settlements": []}
    writer = None
    # quotes sorted by ticker: cities by series, then months by their ticker prefix (24APR < 24AUG)
    order = sorted(parts, key=lambda p: (p[0].series, f"{p[1][0]:%y%b}".upper()))
    for city, dates, seed in order:
        data = generate(city, dates, seed)
        table = pa.Table.from_pandas(data["quotes"], preserve_index=False)
        if writer is None:
            writer = pq.ParquetWriter(raw / "quotes.parquet", table.schema, compression="zstd")
        writer.write_table(table, row_group_size=1_000_000)
        for name in small:
            small[name].append(data[name])
    writer.close()
    for name, frames in small.items():
        pd.concat(frames, ignore_index=True).to_parquet(raw / f"{name}.parquet", index=False)
    cities = "".join(
        f"  {c.code}: {{series: {c.series}, tz: {c.tz}, weather_features: "
        f"{str(c.weather_features).lower()}}}\n"
        for c in CITIES.values()
    )
    (workdir / "params.yaml").write_text(
        f"features:\n  every_minutes: 1\n  eligible_start_hour: 6\ncities:\n{cities}"
    )
    t1 = time.perf_counter()
    script = Path(__file__).resolve().parents[1] / "stages" / "features.py"
    subprocess.run(
        [sys.executable, str(script), "raw", "features", "metrics.json", "--n-jobs", str(n_jobs)],
        cwd=workdir,
        check=True,
    )
    t2 = time.perf_counter()
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return t1 - t0, t2 - t1, rss, json.loads((workdir / "metrics.json").read_text())


# ----------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--days", type=int, default=684, help="event days per city (684)")
    parser.add_argument("--cities", default=",".join(CITIES), help="comma-separated city codes")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument(
        "--stage",
        action="store_true",
        help="also write the input as raw parquet and time stages/features.py",
    )
    args = parser.parse_args()
    from joblib import Parallel, delayed

    params = features.FeatureParams(every_minutes=1, eligible_start_hour=6)
    parts = partitions(args.days, args.cities.split(","))

    # naive vs vectorised on one city-month, same process
    city, dates, seed = parts[0]
    data = generate(city, dates[:7], seed)
    t0 = time.perf_counter()
    fast = features.build_partition(
        data["markets"], data["quotes"], data["weather"], data["settlements"], city, params
    )
    t_fast = time.perf_counter() - t0
    t0 = time.perf_counter()
    slow = naive_partition(data, city, params)
    t_slow = time.perf_counter() - t0
    shared = [
        "yes_bid",
        "yes_ask",
        "yes_mid",
        "oi_level",
        "vol_5m",
        "rv_15m",
        "rv_60m",
        "rv_15m_sd",
        "rv_60m_sd",
        "mid_chg_5m",
        "mid_slope_5m",
        "temp_now",
    ]
    slow = slow.rename(columns={"open_interest": "oi_level"})
    assert len(fast) == len(slow) and (fast["ts"].to_numpy() == slow["ts"].to_numpy()).all()
    diff = max(
        float(np.nanmax(np.abs(fast[c].to_numpy(float) - slow[c].to_numpy(float)), initial=0.0))
        for c in shared
    )

    # full run: generate + build each partition in the workers
    t0 = time.perf_counter()
    results = Parallel(n_jobs=args.n_jobs)(delayed(run_one)(c, d, s, params) for c, d, s in parts)
    wall = time.perf_counter() - t0
    rows = sum(r[0] for r in results)
    t_gen, t_build = sum(r[1] for r in results), sum(r[2] for r in results)
    rss = max([r[3] for r in results] + [_peak_rss_mb()])

    n_cities = len(args.cities.split(","))
    print(
        f"feature builder, every_minutes=1, {len(parts)} partitions "
        f"({n_cities} cities x {args.days} days), n_jobs={args.n_jobs}"
    )
    print(f"{'what':<34}{'rows':>12}{'seconds':>10}{'rows/s':>14}")
    for what, n, sec in [
        ("naive pandas, 1 city-week", len(slow), t_slow),
        ("vectorised, same slice", len(fast), t_fast),
    ]:
        print(f"{what:<34}{n:>12,}{sec:>10.3f}{n / sec:>14,.0f}")
    print(f"{'full run, wall (generate + build)':<34}{rows:>12,}{wall:>10.1f}{rows / wall:>14,.0f}")
    build_wall = t_build / args.n_jobs
    print(
        f"{'full run, build only (sum / n_jobs)':<34}{rows:>12,}{build_wall:>10.1f}"
        f"{rows / build_wall:>14,.0f}"
    )
    print(
        f"generation CPU {t_gen:.1f} s, build CPU {t_build:.1f} s; "
        f"peak RSS per process {rss:,.0f} MB (max over parent and workers)"
    )
    print(
        f"speed-up vectorised / naive on the same slice: {t_slow / t_fast:,.0f}x "
        f"(largest disagreement on shared columns: {diff:.2e})"
    )
    if args.stage:
        sys.stdout.flush()
        with tempfile.TemporaryDirectory(prefix="bench-features-") as tmp:
            t_input, t_stage, rss, metrics = run_stage(parts, Path(tmp), args.n_jobs)
            size = sum(f.stat().st_size for f in (Path(tmp) / "features").rglob("*.parquet"))
        n_rows = metrics["n_rows"]
        print(
            f"stage (read quotes per partition, build, write parquet): {n_rows:,} rows in "
            f"{t_stage:.1f} s = {n_rows / t_stage:,.0f} rows/s, output {size / 1e6:,.0f} MB, "
            f"peak RSS {rss:,.0f} MB per process (input written in {t_input:.1f} s)"
        )


if __name__ == "__main__":
    main()
