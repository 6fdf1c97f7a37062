"""Stage `gate`: check every model type against the release gates and choose the one to promote.

Always exits 0 after writing metrics/gate.json, metrics/promoted.json and metrics/summary.json
(every entry's scores, P&L and verdict in one record), so the report can explain a failure; the
`verdict` stage is the one that fails the run.
"""

import argparse
from pathlib import Path

import pandas as pd

from tmaxedge.core import io
from tmaxedge.core.failures import run_stage
from tmaxedge.decision import gates as gate
from tmaxedge.walkforward import layout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("walkforward", type=Path, help="metrics/walkforward.json")
    parser.add_argument(
        "by_window", type=Path, help="data/by_window (<window>.models.json: the coefficients)"
    )
    parser.add_argument("backtest", type=Path, help="metrics/backtest.json")
    parser.add_argument("trades", type=Path, help="data/backtest/trades.parquet")
    parser.add_argument("diagnostics", type=Path, help="data/walkforward/edge_diagnostics.parquet")
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
    diagnostics = pd.read_parquet(args.diagnostics, columns=["model", "minutes_to_close"])
    io.log.info("read %s: %d rows", args.diagnostics, len(diagnostics))
    gates = gate.evaluate_gates(walkforward, norms, orders, diagnostics, params)
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
