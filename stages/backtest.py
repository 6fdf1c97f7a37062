"""Stage `backtest`: maker-first trading of the test-week predictions on the recorded quotes."""

import argparse
import math
from pathlib import Path

import pandas as pd
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tmaxedge.core import io
from tmaxedge.core.failures import run_stage
from tmaxedge.decision import backtest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("predictions", type=Path, help="data/walkforward/edge_diagnostics.parquet")
    parser.add_argument("quotes", type=Path, help="data/raw/quotes.parquet")
    parser.add_argument("out", type=Path, help="folder for trades.parquet and daily_pnl.csv")
    parser.add_argument("metrics", type=Path)
    args = parser.parse_args()
    io.configure_logging()
    params = io.load_params("backtest", backtest.BacktestParams)  # checked here, once
    predictions = pd.read_parquet(args.predictions)
    tickers = sorted(predictions["market_ticker"].unique().tolist())
    quotes = pq.read_table(
        args.quotes,
        columns=backtest.QUOTE_COLUMNS,
        filters=pc.field("ticker").isin(tickers),  # only the predicted markets
        read_dictionary=["ticker"],  # categorical: no string hashing of ~10M rows
    ).to_pandas()
    io.log.info("read %s: %d quote rows of %d markets", args.quotes, len(quotes), len(tickers))
    result = backtest.run_backtest(predictions, quotes, params)
    with io.atomic_directory(args.out) as tmp:
        io.write_parquet_atomic(
            result.trades, tmp / "trades.parquet", sort_by=["model", "order_time", "market_ticker"]
        )
        io.write_csv_atomic(result.daily, tmp / "daily_pnl.csv")
    io.write_json_atomic(
        {
            model: {key: _finite_or_none(value) for key, value in values.items()}
            for model, values in result.metrics.items()
        },
        args.metrics,
    )


def _finite_or_none(value: float) -> float | None:
    """NaN (e.g. Sharpe of fewer than two days) is not JSON: write null."""
    return None if isinstance(value, float) and not math.isfinite(value) else value


if __name__ == "__main__":
    run_stage(main)
