"""Stage `simulate`: write the embedded synthetic world as the data-contract tables."""

import argparse
import sys
from pathlib import Path

from tmaxedge.core import io
from tmaxedge.core.config import parse_cities
from tmaxedge.core.errors import ParamsError
from tmaxedge.inputs import simulate

TABLES = ("markets", "quotes", "weather", "settlements", "oracle")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path, help="folder for markets/quotes/weather/settlements/oracle")
    args = parser.parse_args()
    io.configure_logging()
    try:
        params = io.load_params("simulate", simulate.SimulateParams)
        cities = parse_cities(io.load_section("cities"))
        world = list(simulate.simulate(params, cities))
    except ParamsError as error:
        sys.exit(f"ParamsError: {error}")
    with io.atomic_directory(args.out) as tmp:
        for name in TABLES:
            io.write_parquet_parts_atomic((tables[name] for tables in world), tmp / f"{name}.parquet")


if __name__ == "__main__":
    main()
