"""Stage `summarize`: merge every window's test predictions into the walk-forward summaries."""

import argparse
from pathlib import Path

import pandas as pd

from tmaxedge.core import io
from tmaxedge.core.failures import run_stage
from tmaxedge.core.keys import Group
from tmaxedge.modeling.tuning import NOT_CONVERGED
from tmaxedge.reporting import summarize
from tmaxedge.walkforward import layout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "models", type=Path, help="models/ (<window>/evaluate/<entry>/<group>.preds_test.parquet)"
    )
    parser.add_argument("out", type=Path, help="folder for summaries and edge diagnostics")
    parser.add_argument("metrics", type=Path)
    args = parser.parse_args()
    io.configure_logging()
    files = layout.entry_files(args.models, "evaluate", "preds_test.parquet")
    predictions = pd.concat([pd.read_parquet(f.path) for f in files], ignore_index=True)
    metrics = {}
    with io.atomic_directory(args.out) as tmp:
        for model, rows in predictions.groupby("model", sort=True):
            summary = summarize.summarize_predictions(rows)
            metrics[model] = summarize.flat_metrics(summary)
            io.write_json_atomic(summary, tmp / "walkforward_summary" / model / "all.json")
            for (city, bracket), part in rows.groupby(["city", "bracket"], sort=True):
                io.write_json_atomic(
                    summarize.summarize_predictions(part),
                    tmp / "walkforward_summary" / model / f"{Group(city, bracket).name}.json",
                )
            io.write_csv_atomic(summarize.per_window(rows), tmp / "per_window" / f"{model}.csv")
        # hitting the solver's iteration limit is never silent: counted per entry for review
        tuned = [
            (f.entry, io.read_json(f.path))
            for f in layout.entry_files(args.models, "tune", "best_params.json")
        ]
        for model, count in summarize.not_converged_fits(tuned, sorted(metrics)).items():
            metrics.setdefault(model, {})[NOT_CONVERGED] = count
        records = [
            (f.entry, f.window, f.group, io.read_json(f.path))
            for f in layout.entry_files(args.models, "calibrate", "calibration_fit.json")
        ]
        io.write_csv_atomic(summarize.pool_weight_table(records), tmp / "pool_weights.csv")
        io.write_parquet_atomic(
            predictions,
            tmp / "edge_diagnostics.parquet",
            sort_by=["model", "city", "bracket", "market_ticker", "timestamp"],
        )
    io.write_json_atomic(metrics, args.metrics)


if __name__ == "__main__":
    run_stage(main)
