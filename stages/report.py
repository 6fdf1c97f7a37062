"""Stage `report`: the walk-forward report (Markdown + self-contained HTML) and `dvc plots` data."""

import argparse
from pathlib import Path

import pandas as pd

from tmaxedge.core import io
from tmaxedge.core.errors import DataError
from tmaxedge.core.failures import run_stage
from tmaxedge.core.keys import Group
from tmaxedge.modeling.skill import Bootstrap
from tmaxedge.reporting import report

TRADE_COLUMNS = ["model", "city", "bracket", "filled", "pnl_cents"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("walkforward", type=Path, help="metrics/walkforward.json")
    parser.add_argument("summaries", type=Path, help="data/walkforward/walkforward_summary")
    parser.add_argument("per_window", type=Path, help="data/walkforward/per_window")
    parser.add_argument("diagnostics", type=Path, help="data/walkforward/edge_diagnostics.parquet")
    parser.add_argument("backtest", type=Path, help="metrics/backtest.json")
    parser.add_argument("daily_pnl", type=Path, help="data/backtest/daily_pnl.csv")
    parser.add_argument("out", type=Path, help="folder for report.md, report.html, figures/")
    parser.add_argument("plots", type=Path, help="folder for the `dvc plots` data")
    parser.add_argument("--trades", type=Path, help="data/backtest/trades.parquet (P&L per group)")
    parser.add_argument("--gate", type=Path, help="metrics/gate.json; absent = gate not run")
    parser.add_argument("--promoted", type=Path, help="models/promoted.json; absent = no decision")
    parser.add_argument(
        "--sensitivity",
        type=Path,
        help="a sensitivity run: recorded by `tmaxedge preset NAME --record` (a folder), or its "
        "walkforward.json",
    )
    parser.add_argument("--sensitivity-label", help="(a walkforward.json) what the run changed")
    parser.add_argument("--pool-weights", type=Path, help="data/walkforward/pool_weights.csv")
    parser.add_argument(
        "--ablation", type=Path, help="folder of `tmaxedge ablation` results (*.json)"
    )
    parser.add_argument(
        "--as-briefed", type=Path, help="the brief's recorded run (tmaxedge preset brief --record)"
    )
    args = parser.parse_args()
    io.configure_logging()
    inputs = read_inputs(args)
    result = report.build_report(inputs)
    with io.atomic_directory(args.out) as tmp:
        (tmp / "report.md").write_text(report.render_markdown(result, "figures"))
        (tmp / "report.html").write_text(report.render_html(result))
        (tmp / "figures").mkdir()
        for name, png in sorted(result.figures.items()):
            (tmp / "figures" / f"{name}.png").write_bytes(png)
    io.log.info("wrote %s: report.md, report.html and %d figures", args.out, len(result.figures))
    with io.atomic_directory(args.plots) as tmp:
        for name, table in sorted(result.plots.items()):
            io.write_csv_atomic(table, tmp / name)
            io.log.info("wrote %s: %d rows x %d columns", args.plots / name, *table.shape)


def read_inputs(args: argparse.Namespace) -> report.ReportInputs:
    """Read every input; the required ones must exist, the optional ones may be absent."""
    for path in (
        args.walkforward,
        args.summaries,
        args.per_window,
        args.diagnostics,
        args.backtest,
        args.daily_pnl,
    ):
        if not path.exists():
            raise DataError(f"{path}: not found; run the stage that writes it first (dvc repro).")
    walkforward = io.read_json(args.walkforward)
    models = sorted(walkforward)
    summaries = {}
    per_window = {}
    for model in models:
        folder = args.summaries / model
        # one summary per group (chi_between.json), keyed (city, strike type); all.json is not one
        summaries[model] = {
            (group.city, group.strike_type): io.read_json(path)
            for path in sorted(folder.glob("*_*.json"))
            for group in [Group.parse(path.stem)]
        }
        window_file = args.per_window / f"{model}.csv"
        if window_file.exists():
            per_window[model] = pd.read_csv(window_file, dtype={"window": str})
    diagnostics = pd.read_parquet(args.diagnostics, columns=_present_columns(args.diagnostics))
    io.log.info("read %s: %d rows x %d columns", args.diagnostics, *diagnostics.shape)
    trades = None
    if args.trades is not None and args.trades.exists():
        trades = pd.read_parquet(args.trades, columns=TRADE_COLUMNS)
    return report.ReportInputs(
        walkforward=walkforward,
        group_summaries=summaries,
        per_window=per_window,
        diagnostics=diagnostics,
        backtest=io.read_json(args.backtest),
        daily_pnl=pd.read_csv(args.daily_pnl, dtype={"model": str, "date": str}),
        trades=trades,
        gate=_optional_json(args.gate),
        promoted=_optional_json(args.promoted),
        **_sensitivity(args.sensitivity, args.sensitivity_label),
        pool_weights=_optional_csv(args.pool_weights),
        ablations=_ablations(args.ablation),
        as_briefed=_recorded_run(args.as_briefed),
        bootstrap=_bootstrap(),
    )


def _bootstrap() -> Bootstrap:
    """The intervals' draws as the summarize stage makes them (params.yaml ``summarize``; its
    CSV switch is not the report's business)."""
    section = io.load_section("summarize")
    return Bootstrap(**{k: section[k] for k in ("n_resamples", "seed", "level") if k in section})


def _sensitivity(path: Path | None, label: str | None) -> dict:
    """The report's sensitivity inputs: a recorded run's metrics, label (the keys it set) and
    run.json, or a bare walkforward.json with the label given."""
    recorded = _recorded_run(path) if path is not None and path.is_dir() else None
    if recorded is not None:
        return {
            "sensitivity": recorded["walkforward"],
            "sensitivity_label": report.run_label(recorded["run"]),
            "sensitivity_run": recorded["run"],
        }
    found = {"sensitivity": _optional_json(path)}
    return found | ({"sensitivity_label": label} if label else {})


def _recorded_run(folder: Path | None) -> dict[str, dict] | None:
    """A run recorded by `tmaxedge preset --record`: its files by name, None when not recorded."""
    if folder is None or not (folder / "run.json").exists():
        return None
    return {
        name: io.read_json(folder / f"{name}.json") for name in ["walkforward", "backtest", "run"]
    }


def _ablations(folder: Path | None) -> dict[str, dict] | None:
    if folder is None or not folder.is_dir():
        return None
    return {path.stem: io.read_json(path) for path in sorted(folder.glob("*.json"))} or None


def _present_columns(path: Path) -> list[str]:
    """The diagnostic columns the file has (``p_oracle`` may be missing on real data)."""
    import pyarrow.parquet as pq

    names = set(pq.read_schema(path).names)
    missing = sorted(set(report.DIAGNOSTIC_COLUMNS) - names - {"p_oracle"})
    if missing:
        raise DataError(
            f"{path}: column(s) {missing} missing; the report needs {report.DIAGNOSTIC_COLUMNS}."
        )
    return [c for c in report.DIAGNOSTIC_COLUMNS if c in names]


def _optional_csv(path: Path | None) -> pd.DataFrame | None:
    if path is None or not path.exists():
        return None
    return pd.read_csv(path, dtype={"window": str})


def _optional_json(path: Path | None) -> dict | None:
    if path is None or not path.exists():
        return None
    return io.read_json(path)


if __name__ == "__main__":
    run_stage(main)
