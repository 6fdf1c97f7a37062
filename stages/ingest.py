"""Stage `ingest`: check the source tables against the data contract, write normalised copies."""

import argparse
import contextlib
import logging
from pathlib import Path

from tqdm import tqdm

from tmaxedge.core import config, io
from tmaxedge.core.errors import ParamsError
from tmaxedge.core.failures import run_stage
from tmaxedge.core.params import check_params_file
from tmaxedge.inputs import contract, ingest

log = logging.getLogger("tmaxedge")

# quote rows checked at once (with their oracle rows): about 1 GB of memory at its peak
ROWS_PER_SLICE = 2_000_000


def write_checked_tables(source: Path, out: Path, cities: dict) -> dict:
    """Check the tables in ``source`` and write their normalised copies to ``out``; the metrics.

    All tables or none: they go to a temporary sibling folder that then replaces ``out``, so an
    error in a later slice, a full disk or a kill leaves ``out`` as the last run wrote it.
    """
    tables = (*contract.TABLES, *contract.SIDE_TABLES)
    paths = io.find_source_tables(
        source, tables, (*contract.OPTIONAL_TABLES, *contract.SIDE_TABLES)
    )
    names = {name: path.name for name, path in paths.items()}
    where = ingest.table_locations(str(source), names)
    typed = {name: ingest.table_is_typed(name, names) for name in tables}
    reference = {name: io.read_source_table(paths[name]) for name in ingest.REFERENCE_TABLES}
    checked, metrics = ingest.check_reference_tables(reference, cities, where, typed)
    del reference
    if "forecasts" in paths:  # written only when present: without it data/raw is as before
        forecasts = io.read_source_table(paths["forecasts"])
        checked["forecasts"], metrics["forecasts"] = ingest.check_forecasts(
            forecasts, cities, where["forecasts"], typed
        )
    markets = checked["markets"]
    # quotes and oracle a slice of tickers at a time, so memory stays bounded at any size
    slices = ingest.ticker_slices(io.count_values(paths["quotes"], "ticker"), ROWS_PER_SLICE)
    feeds = [name for name in ingest.FEED_TABLES if name in paths]
    tally = ingest.FeedTally(has_oracle="oracle" in paths, where=where)
    with io.atomic_directory(out) as folder, contextlib.ExitStack() as files:
        for name, frame in checked.items():
            io.write_parquet_atomic(frame, folder / f"{name}.parquet")
        append = {
            name: files.enter_context(io.parquet_appender(folder / f"{name}.parquet"))
            for name in ingest.FEED_TABLES
        }
        for part in tqdm(slices, desc="ingest quotes", unit="slice", disable=len(slices) == 1):
            located = {
                name: ingest.slice_location(where[name], part, len(slices)) for name in where
            }
            rows = {name: io.read_source_slice(paths[name], "ticker", *part) for name in feeds}
            result = ingest.check_feed_slice(rows, markets, located, typed)
            tally.add(result)
            for name, frame in result.frames.items():
                append[name](frame)
    metrics.update(tally.metrics(markets))
    return metrics


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
    # an import into the source folder waits until ingest has read it, and ingest for an import
    with io.folder_lock(args.source):
        metrics = write_checked_tables(args.source, args.out, cities)
    io.write_json_atomic(metrics, args.metrics)
    return 0


if __name__ == "__main__":
    run_stage(main)
