"""`tmaxedge study ...`: measurements on real data that are not pipeline stages.

- ``market-reliability``: how good the market's last trade price is as a forecast (scores by
  horizon before close, reliability by price bucket, the favourite-longshot check);
  ``tmaxedge.research.market_study``.
- ``walkforward-scores``: per-window model-vs-market scores of ``tmaxedge walkforward`` output,
  with the event-clustered SE of the Brier difference; ``tmaxedge.research.edge_study``.

Each writes a markdown report section and CSV tables to ``--out`` and prints the tables.
Registered on the ``tmaxedge`` group by ``tmaxedge.cli.main``.
"""

from __future__ import annotations

from pathlib import Path

import click
import pandas as pd

from tmaxedge.core import io
from tmaxedge.core.errors import DataError
from tmaxedge.research import edge_study, market_study
from tmaxedge.walkforward import layout

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
_OUT = click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the markdown section and the CSV tables.",
)


def _hours(_context, _parameter, value: str) -> tuple[float, ...]:
    """Click callback: comma-separated positive hours before close, e.g. '6,3,1'."""
    try:
        hours = tuple(float(part) for part in value.split(","))
    except ValueError:
        message = f"must be hours separated by commas, e.g. 6,3,1; got {value!r}."
        raise click.BadParameter(message) from None
    if not hours or min(hours) <= 0 or len(set(hours)) != len(hours):
        raise click.BadParameter(f"must be distinct positive hours before close; got {value!r}.")
    return hours


def _echo_table(title: str, frame: pd.DataFrame) -> None:
    click.echo(f"\n{title}")
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        click.echo(frame.to_string(index=False, float_format=lambda v: f"{v:.4f}"))


@click.group("study")
def study_group() -> None:
    """Measurements on real data: the market's own reliability, walk-forward scores."""


@study_group.command("market-reliability")
@click.option(
    "--markets",
    "markets_path",
    required=True,
    type=_FILE,
    help="Contract markets table (.parquet or .csv) with Kalshi's result.",
)
@click.option(
    "--quotes",
    "quotes_path",
    required=True,
    type=_FILE,
    help="Contract quotes table whose 'price' holds last trade prices.",
)
@click.option(
    "--settlements",
    "settlements_path",
    type=_FILE,
    help="Contract settlements: results are checked against them, nulls filled.",
)
@click.option(
    "--horizons",
    default=",".join(f"{h:g}" for h in market_study.DEFAULT_HORIZONS_HOURS),
    show_default=True,
    callback=_hours,
    help="Hours before close_time at which to take the last trade.",
)
@_OUT
def market_reliability(markets_path, quotes_path, settlements_path, horizons, out) -> None:
    """Brier, log loss and reliability of the last trade price at fixed horizons before close."""
    paths = {"markets": markets_path, "quotes": quotes_path}
    if settlements_path is not None:
        paths["settlements"] = settlements_path
    where = {name: str(path) for name, path in paths.items()}
    tables = {
        name: market_study.contract_table(io.read_source_table(path), name, where[name])
        for name, path in paths.items()
    }
    result = market_study.study(
        tables["markets"], tables["quotes"], tables.get("settlements"), horizons, where
    )
    files = {
        "market_scores.csv": result["scores"],
        "market_reliability.csv": result["reliability"],
        "market_longshot.csv": result["longshot"],
    }
    for name, frame in files.items():
        io.write_csv_atomic(frame, out / name)
    with io.atomic_path(out / "market_reliability.md") as tmp:
        tmp.write_text(market_study.markdown_section(result, where))
    _echo_market_study(result)
    click.echo(f"\nwrote {out / 'market_reliability.md'} and {', '.join(files)}")


def _echo_market_study(result: dict) -> None:
    """The sample, the three tables, and a warning per biased horizon (on stderr)."""
    counts = result["counts"]
    click.echo(
        f"{counts['n_events']} events ({counts['first_event']} .. {counts['last_event']}), "
        f"{counts['n_markets']} markets, {counts['n_markets_unlabelled']} without a result, "
        f"{counts['n_labelled_from_settlements']} labelled from the settlements"
    )
    _echo_table("Scores by horizon (hours before close)", result["scores"])
    _echo_table("Reliability by price bucket (cents)", result["reliability"])
    _echo_table("Favourite-longshot check (gap = mean price - YES rate, cents)", result["longshot"])
    for hours in result["scores"].loc[result["scores"]["biased"], "horizon_h"]:
        click.echo(
            f"WARNING: horizon {hours:g} h: YES and NO markets are priced at different "
            "rates; its scores describe a selected sample.",
            err=True,
        )


@study_group.command("walkforward-scores")
@click.argument("runs", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--title", default="Walk-forward scores against the market", show_default=True)
@_OUT
def walkforward_scores(runs: Path, title: str, out: Path) -> None:
    """Per-window scores of RUNS, a `tmaxedge walkforward --out` folder, against the market."""
    predictions = read_predictions(runs)
    windows = edge_study.score_table(predictions, ["model", "window"])
    brackets = edge_study.score_table(predictions, ["model", "bracket"])
    io.write_csv_atomic(windows, out / "walkforward_windows.csv")
    io.write_csv_atomic(brackets, out / "walkforward_brackets.csv")
    with io.atomic_path(out / "walkforward_scores.md") as tmp:
        tmp.write_text(edge_study.markdown_section(windows, brackets, title))
    _echo_table(f"{title}: per window (all brackets)", windows)
    _echo_table(f"{title}: per bracket (all windows)", brackets)
    click.echo(
        f"\nwrote {out / 'walkforward_scores.md'}, walkforward_windows.csv, "
        "walkforward_brackets.csv"
    )


def read_predictions(runs: Path) -> pd.DataFrame:
    """Every group's preds_test.parquet under RUNS/<window>/evaluate/<model>/, checked."""
    paths = [found.path for found in layout.entry_files(runs, "evaluate", "preds_test.parquet")]
    if not paths:
        raise DataError(
            f"{runs}: no <window>/evaluate/<model>/<group>.preds_test.parquet found; "
            "is it the pipeline's models folder or the --out folder of `tmaxedge walkforward`?"
        )
    frames = []
    for path in paths:
        frame = pd.read_parquet(path)
        edge_study.check_predictions(frame, str(path))
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)
