"""Stage `summarize`: merge every window's test predictions into the walk-forward summaries,
the edge diagnostics (Parquet, and the brief's CSV as params.yaml ``summarize`` says) and one
reliability diagram per model entry and test window."""

import argparse
from pathlib import Path

import pandas as pd

from tmaxedge.core import io
from tmaxedge.core.failures import run_stage
from tmaxedge.core.keys import Group
from tmaxedge.modeling import skill
from tmaxedge.modeling.tuning import NOT_CONVERGED
from tmaxedge.reporting import figures, summarize
from tmaxedge.walkforward import layout

LADDER_COLUMNS = ["ticker", "event_ticker", "strike_type", "floor_strike", "cap_strike"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "by_window",
        type=Path,
        help="data/by_window (<window>.predictions.parquet and <window>.models.json)",
    )
    parser.add_argument("manifests", type=Path, help="data/windows: each window's dates")
    parser.add_argument("markets", type=Path, help="data/raw/markets.parquet: each event's ladder")
    parser.add_argument("out", type=Path, help="folder for summaries and edge diagnostics")
    parser.add_argument("metrics", type=Path)
    args = parser.parse_args()
    io.configure_logging()
    params = io.load_params("summarize", summarize.SummarizeParams)  # checked before any work
    positions = skill.ladder_positions(pd.read_parquet(args.markets, columns=LADDER_COLUMNS))
    windows = layout.by_window_files(args.by_window, "predictions.parquet")
    predictions = pd.concat([pd.read_parquet(path) for path in windows.values()], ignore_index=True)
    # entry by entry, then window by window, as the entries' folders are read
    predictions = predictions.sort_values(["model", "window"], kind="mergesort", ignore_index=True)
    records = layout.group_records(args.by_window)
    bounds = {w: io.read_json(args.manifests / f"{w}.json")["window"] for w in windows}
    chosen = {(r.entry, r.group, r.window): r.content["best_params"] for r in records}
    metrics = {}
    with io.atomic_directory(args.out) as tmp:
        for model, rows in predictions.groupby("model", sort=True):
            by_window = summarize.per_window(rows)
            summary = {
                **summarize.summarize_predictions(rows),
                **summarize.window_means(by_window),
                **summarize.evidence(rows, positions, params.bootstrap),
            }
            metrics[model] = summarize.flat_metrics(summary)
            io.write_json_atomic(summary, tmp / "walkforward_summary" / model / "all.json")
            for (city, bracket), part in rows.groupby(["city", "bracket"], sort=True):
                group = Group(city, bracket).name
                best = {w: chosen[model, group, w] for w in windows if (model, group, w) in chosen}
                summary = summarize.summarize_predictions(part)
                summary["windows"] = summarize.window_records(part, bounds, best)
                io.write_json_atomic(summary, tmp / "walkforward_summary" / model / f"{group}.json")
            io.write_csv_atomic(by_window, tmp / "per_window" / f"{model}.csv")
        # hitting the solver's iteration limit is never silent: counted per entry for review
        tuned = [(r.entry, r.content) for r in records]
        for model, count in summarize.not_converged_fits(tuned, sorted(metrics)).items():
            metrics.setdefault(model, {})[NOT_CONVERGED] = count
        fits = [(r.entry, r.window, r.group, r.content["calibration_fit"]) for r in records]
        io.write_csv_atomic(summarize.pool_weight_table(fits), tmp / "pool_weights.csv")
        diagrams = figures.window_reliability_figures(predictions)
        for (model, window), png in diagrams.items():
            (tmp / "reliability" / model).mkdir(parents=True, exist_ok=True)
            (tmp / "reliability" / model / f"{window}.png").write_bytes(png)
        io.log.info("wrote %s: %d reliability diagrams", args.out / "reliability", len(diagrams))
        diagnostics = summarize.edge_diagnostics(predictions)
        io.write_parquet_atomic(diagnostics, tmp / "edge_diagnostics.parquet")
        if params.edge_csv_name is not None:
            table = diagnostics[summarize.EDGE_CSV_COLUMNS]
            io.write_csv_atomic(table, tmp / params.edge_csv_name)
            io.log.info(
                "wrote %s: %d rows x %d columns", args.out / params.edge_csv_name, *table.shape
            )
    io.write_json_atomic(metrics, args.metrics)


if __name__ == "__main__":
    run_stage(main)
