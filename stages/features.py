"""Stage `features`: one row per (market, eligible minute), partitioned by city and month."""

import argparse
import functools
import logging
from pathlib import Path

import pandas as pd
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tmaxedge.core import io
from tmaxedge.core.config import parse_cities
from tmaxedge.core.failures import run_stage
from tmaxedge.features import build as features
from tmaxedge.features.forecasts import read_forecasts

log = logging.getLogger("tmaxedge")


def read_quotes(path: Path, part: features.Partition) -> pd.DataFrame:
    """The quote rows of one partition's tickers; the ticker range prunes row groups."""
    tickers = part.tickers
    ticker = pc.field("ticker")
    wanted = (ticker >= tickers[0]) & (ticker <= tickers[-1]) & ticker.isin(tickers)
    return pq.read_table(path, columns=features.QUOTE_COLUMNS, filters=wanted).to_pandas()


def write_partition(out: Path, part: features.Partition, frame: pd.DataFrame) -> dict:
    """Write one partition deterministically and return its row counts."""
    target = out / f"city={part.city.code}" / f"month={part.month}" / "part-0.parquet"
    io.write_parquet_atomic(frame, target, sort_by=["ticker", "ts"])
    return features.summarize_partition(part, frame)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("raw", type=Path, help="folder with markets/quotes/weather/settlements")
    parser.add_argument("out", type=Path, help="feature folder: city=<code>/month=<YYYY-MM>/")
    parser.add_argument("metrics", type=Path, help="metrics JSON (row counts)")
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args()
    io.configure_logging()
    params = io.load_params("features", features.FeatureParams)
    cities = parse_cities(io.load_section("cities"))
    markets = pd.read_parquet(args.raw / "markets.parquet", columns=features.MARKET_COLUMNS)
    weather = pd.read_parquet(args.raw / "weather.parquet", columns=features.WEATHER_COLUMNS)
    settlements = pd.read_parquet(
        args.raw / "settlements.parquet", columns=features.SETTLEMENT_COLUMNS
    )
    forecasts = read_forecasts(args.raw)
    parts = features.iter_partitions(markets, weather, settlements, cities, forecasts)
    load = functools.partial(read_quotes, args.raw / "quotes.parquet")
    with io.atomic_directory(args.out) as tmp:
        sink = functools.partial(write_partition, tmp)
        summaries = features.build_features(parts, load, params, sink, n_jobs=args.n_jobs)
    metrics = features.feature_metrics(summaries)
    io.write_json_atomic(metrics, args.metrics)
    log.info(
        "wrote %s: %d partitions, %d rows (%d with an empty book, %d without weather)",
        args.out,
        metrics["n_partitions"],
        metrics["n_rows"],
        metrics["n_rows_empty_book"],
        metrics["n_rows_without_weather"],
    )


if __name__ == "__main__":
    run_stage(main)
