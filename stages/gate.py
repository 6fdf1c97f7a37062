"""Stage `gate`: check every model type against the release gates and choose the one to promote.

The leakage check re-derives a seeded sample of the feature table's rows from the raw inputs
truncated at each row's timestamp (``tmaxedge.decision.leakage``), so the stage reads the
feature table, the raw inputs and the features params as well as the walk-forward's outputs.

Always exits 0 after writing metrics/gate.json, metrics/promoted.json and metrics/summary.json
(every entry's scores, P&L and verdict in one record), so the report can explain a failure; the
`verdict` stage is the one that fails the run.
"""

import argparse
from pathlib import Path

import pandas as pd
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from tmaxedge.core import io
from tmaxedge.core.config import parse_cities
from tmaxedge.core.failures import run_stage
from tmaxedge.decision import gates as gate
from tmaxedge.decision import leakage
from tmaxedge.decision.backtest import BacktestParams, predicted_edges
from tmaxedge.features import build as features
from tmaxedge.features.forecasts import read_forecasts
from tmaxedge.walkforward import layout

DIAGNOSTIC_COLUMNS = ["model", "minutes_to_close", "p_model", "yes_bid", "yes_ask"]


def audit_features(folder: Path, raw: Path, n_rows: int) -> leakage.LeakageAudit:
    """Re-derive a seeded sample of ``n_rows`` rows of the feature table under ``folder`` from
    the raw tables under ``raw``, reading only the sampled events' rows of the big tables."""
    params = io.load_params("features", features.FeatureParams)
    cities = parse_cities(io.load_section("cities"))
    sample = leakage.sample_rows(io.read_features(folder, columns=leakage.SAMPLE_KEYS), n_rows)
    wanted = pc.field("ticker").isin(sorted(set(sample["ticker"])))
    files = [str(f) for f in sorted(folder.glob("city=*/month=*/*.parquet"))]
    stored = ds.dataset(files, format="parquet").to_table(filter=wanted).to_pandas()
    stored = sample[["ticker", "ts"]].merge(stored, on=["ticker", "ts"], how="left")
    markets = pd.read_parquet(raw / "markets.parquet", columns=features.MARKET_COLUMNS)
    tickers = markets.loc[markets["event_ticker"].isin(sample["event_ticker"]), "ticker"]
    quotes = pq.read_table(
        raw / "quotes.parquet",
        columns=features.QUOTE_COLUMNS,
        filters=pc.field("ticker").isin(sorted(tickers)),
    ).to_pandas()
    weather = pd.read_parquet(raw / "weather.parquet", columns=features.WEATHER_COLUMNS)
    settlements = pd.read_parquet(raw / "settlements.parquet", columns=features.SETTLEMENT_COLUMNS)
    io.log.info(
        "re-deriving %d sampled feature rows from %d quote and %d weather rows",
        len(stored),
        len(quotes),
        len(weather),
    )
    raw_inputs = leakage.RawInputs(markets, quotes, weather, settlements, read_forecasts(raw))
    return leakage.audit(stored, raw_inputs, cities, params)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("walkforward", type=Path, help="metrics/walkforward.json")
    parser.add_argument(
        "by_window", type=Path, help="data/by_window (<window>.models.json: the coefficients)"
    )
    parser.add_argument("backtest", type=Path, help="metrics/backtest.json")
    parser.add_argument("trades", type=Path, help="data/backtest/trades.parquet")
    parser.add_argument("diagnostics", type=Path, help="data/walkforward/edge_diagnostics.parquet")
    parser.add_argument("features", type=Path, help="data/features: the table to audit for leakage")
    parser.add_argument("raw", type=Path, help="data/raw: markets/quotes/weather/settlements")
    parser.add_argument("gate_metrics", type=Path, help="metrics/gate.json")
    parser.add_argument("promoted", type=Path, help="metrics/promoted.json")
    parser.add_argument("summary", type=Path, help="metrics/summary.json: one record per entry")
    args = parser.parse_args()
    io.configure_logging()
    params = io.load_params("gate", gate.GateParams)  # checked here, once
    walkforward = io.read_json(args.walkforward)
    backtest = io.read_json(args.backtest)
    fitted = [r for r in layout.group_records(args.by_window) if r.content["coef"] is not None]
    norms = gate.coefficient_norms((r.entry, r.window, r.group, r.content) for r in fitted)
    io.log.info("read %d fitted models' coefficients under %s", len(fitted), args.by_window)
    orders = pd.read_parquet(args.trades, columns=["model", "side", "edge_cents"])
    io.log.info("read %s: %d orders", args.trades, len(orders))
    diagnostics = pd.read_parquet(args.diagnostics, columns=DIAGNOSTIC_COLUMNS)
    io.log.info("read %s: %d rows", args.diagnostics, len(diagnostics))
    audit = audit_features(args.features, args.raw, params.leakage_sample_rows)
    io.log.info(
        "leakage: %d of %d re-derived feature rows differ", audit.n_rows_differing, audit.n_rows
    )
    costs = io.load_params("backtest", BacktestParams)
    edges = predicted_edges(diagnostics, costs.taker_fee_rate, costs.min_edge_cents)
    gates = gate.evaluate_gates(walkforward, norms, orders, diagnostics, params, edges, audit)
    promotion = gate.choose_promotion(gates, walkforward, backtest)
    io.write_json_atomic(gate.flat_gate_metrics(gates), args.gate_metrics)
    io.write_json_atomic({**promotion, "gates": gates}, args.promoted)
    summary = gate.model_summary(walkforward, backtest, gates, promotion["promoted"])
    io.write_json_atomic(summary, args.summary)
    for model, result in gates.items():
        io.log.info("gate %s: %s", model, "passed" if result["passed"] else "failed")
    io.log.info("promoted: %s", promotion["promoted"])


if __name__ == "__main__":
    run_stage(main)
