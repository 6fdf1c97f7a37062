"""Stage `windows`: check the committed plan and write one manifest per walk-forward window."""

import argparse
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from tmaxedge.core import io
from tmaxedge.core.errors import DataError
from tmaxedge.core.failures import run_stage
from tmaxedge.walkforward import windows


def daily_digests_of(features: Path) -> pd.DataFrame:
    """Per (city, event_date) content hashes, one feature partition at a time."""
    parts = [
        windows.daily_digests(pq.read_table(path).to_pandas())
        for path in sorted(features.glob("city=*/month=*/*.parquet"))
    ]
    if not parts:
        raise DataError(f"{features}: no feature partitions (city=*/month=*/*.parquet) found.")
    return pd.concat(parts, ignore_index=True).sort_values(
        ["city", "event_date"], ignore_index=True
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("features", type=Path)
    parser.add_argument("plan", type=Path, help="windows.yaml")
    parser.add_argument("out", type=Path, help="folder of <window>.json manifests")
    args = parser.parse_args()
    io.configure_logging()
    params = io.load_params("windows", windows.WindowParams)
    plan = io.read_yaml(args.plan)
    digests = daily_digests_of(args.features)
    dates = pd.to_datetime(digests["event_date"]).dt.date
    windows.check_plan(plan, set(dates), params)
    with io.atomic_directory(args.out) as tmp:
        for key in plan["window_keys"]:
            window = windows.make_window(key, params)
            io.write_json_atomic(
                windows.make_manifest(window, digests, params), tmp / f"{key}.json"
            )


if __name__ == "__main__":
    run_stage(main)
