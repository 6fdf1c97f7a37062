"""Stage `ingest`: check the source tables against the data contract, write normalised copies."""

import argparse
import logging
from pathlib import Path

from tmaxedge.core import config, io
from tmaxedge.core.errors import ParamsError
from tmaxedge.core.failures import run_stage
from tmaxedge.core.params import check_params_file
from tmaxedge.inputs import contract, ingest

log = logging.getLogger("tmaxedge")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("source", type=Path, help="folder with the tables (.parquet or .csv)")
    parser.add_argument("out", type=Path, help="folder for the normalised tables (data/raw)")
    parser.add_argument("metrics", type=Path, help="metrics JSON (metrics/ingest.json)")
    args = parser.parse_args()
    io.configure_logging()
    check_params_file(io.PARAMS_FILE)  # the whole file, before anything runs on it
    params = io.load_params("ingest", ingest.IngestParams)  # checked here, once
    cities = config.parse_cities(io.load_section("cities"))
    if Path(params.source) != args.source:
        log.warning("reading %s, not params.yaml ingest.source %s", args.source, params.source)
    out, source = args.out.resolve(), args.source.resolve()
    if out == source or source in out.parents:
        raise ParamsError(f"out folder {args.out} must lie outside the source {args.source}.")
    paths = io.find_source_tables(args.source, contract.TABLES, contract.OPTIONAL_TABLES)
    tables = {name: io.read_source_table(path) for name, path in paths.items()}
    names = {name: path.name for name, path in paths.items()}
    # validated everything first: an error leaves nothing written
    raw, metrics = ingest.validate_tables(tables, cities, str(args.source), names)
    del tables  # the normalised copies are all that is written; the tables as read can go
    # all tables or none: written into a temporary sibling folder that then replaces the old one,
    # so a failure midway (disk full, a kill) leaves data/raw as the last run wrote it
    with io.atomic_directory(args.out) as folder:
        for name in list(raw):
            # validate_tables returns each table sorted by its key already; popped to free memory
            io.write_parquet_atomic(raw.pop(name), folder / f"{name}.parquet")
    io.write_json_atomic(metrics, args.metrics)
    return 0


if __name__ == "__main__":
    run_stage(main)
