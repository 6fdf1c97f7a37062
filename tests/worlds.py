"""Tiny simulated worlds turned into feature folders, for tests of the walk-forward steps."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from tmaxedge.core import io
from tmaxedge.core.config import parse_cities
from tmaxedge.features import build as features
from tmaxedge.inputs.simulate import MarketParams, SimulateParams, simulate

CITIES = parse_cities(
    {
        "aus": {"series": "KXHIGHAUS", "tz": "America/Chicago", "weather_features": True},
        "chi": {"series": "KXHIGHCHI", "tz": "America/Chicago", "weather_features": True},
        "nyc": {"series": "KXHIGHNY", "tz": "America/New_York", "weather_features": False},
    }
)


def simulated_tables(days: int, start: str = "2024-05-01", seed: int = 3, cities=("chi", "nyc")):
    params = SimulateParams(seed, start, days, list(cities), MarketParams())
    parts = list(simulate(params, CITIES))
    return {name: pd.concat([p[name] for p in parts], ignore_index=True) for name in parts[0]}


def write_feature_folder(tables: dict, folder: Path, every_minutes: int = 30) -> None:
    """Build and write the partitioned feature table as the features stage lays it out."""
    params = features.FeatureParams(every_minutes=every_minutes, eligible_start_hour=6)
    for part in features.iter_partitions(
        tables["markets"], tables["weather"], tables["settlements"], CITIES
    ):
        quotes = tables["quotes"][tables["quotes"]["ticker"].isin(part.tickers)]
        frame = features.build_partition(
            part.markets, quotes, part.weather, part.settlements, part.city, params
        )
        target = folder / f"city={part.city.code}" / f"month={part.month}" / "part-0.parquet"
        io.write_parquet_atomic(frame, target, sort_by=["ticker", "ts"])
