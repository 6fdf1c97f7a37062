"""Stage `simulate`: write the embedded synthetic world as the data-contract tables."""

import argparse
import contextlib
from pathlib import Path

from tmaxedge.core import io
from tmaxedge.core.config import parse_cities
from tmaxedge.core.failures import run_stage
from tmaxedge.core.params import check_params_file
from tmaxedge.inputs import simulate

TABLES = ("markets", "quotes", "weather", "settlements", "oracle")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "out", type=Path, help="folder for markets/quotes/weather/settlements/oracle"
    )
    args = parser.parse_args()
    io.configure_logging()
    check_params_file(io.PARAMS_FILE)  # the whole file, before anything runs on it
    params = io.load_params("simulate", simulate.SimulateParams)
    cities = parse_cities(io.load_section("cities"))
    # one city at a time into every table, so memory holds one city's tables, not the world's
    with io.atomic_directory(args.out) as tmp, contextlib.ExitStack() as files:
        append = {
            name: files.enter_context(io.parquet_appender(tmp / f"{name}.parquet"))
            for name in TABLES
        }
        for tables in simulate.simulate(params, cities):
            for name in TABLES:
                append[name](tables[name])


if __name__ == "__main__":
    run_stage(main)
