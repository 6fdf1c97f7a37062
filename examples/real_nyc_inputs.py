"""Helpers of examples/real_nyc.sh: the shared real NYC files in the shapes our importers read.

The files in ../shared/data/real/ were repackaged by whoever collected them (PROVENANCE.md); our
importers read the upstream formats. The first two steps only undo the repackaging and change
no value:

- ``book-logs``: the top-of-book Parquet is the 23 upstream daily CSVs concatenated, plus three
  added columns; write the daily CSVs back (upstream columns only) for ``import orderbook-log``.
- ``iem-cli``: the CLI subset (date, official_daily_high_f, ...) as IEM's CLI CSV (station,
  valid, high) for ``import nws-cli``.
- ``params``: the params.yaml of the temporary workspace (the repo's, with NYC only, market
  features only and short windows).
- ``live-features``: a copy of the feature table without the rows built on a frozen book (the
  logger was down, see ``MAX_SILENCE``).

Usage: ``python examples/real_nyc_inputs.py <step> ...`` (see ``--help``).
"""

from __future__ import annotations

import argparse
import copy
from pathlib import Path

import pandas as pd
import yaml

from tmaxedge.core import io

# the columns the upstream logger wrote (PROVENANCE.md section 1); the rest were added later
BOOK_LOG_COLUMNS = [
    "timestamp",
    "market_ticker",
    "best_yes_bid",
    "best_no_bid",
    "implied_no_ask",
    "implied_yes_ask",
]

WINDOWS = {  # 23 events over 31 days: two weeks of training, then 3-day test periods
    "train_days": 14,
    "test_days": 3,
    "step_days": 3,
    "calibration_fraction": 0.2,
    "embargo_days": 0,
    "first_test_offset_days": 14,
}
MODELS = ("ridge", "elasticnet")
# The logger records every change of either best bid in any of an event's six markets, which in
# these files happens every few minutes (8 gaps over 45 minutes in 23 events). A longer silence
# means the logger was down (it usually stops at about 20:17 UTC, hours before the close), and the
# pipeline would carry a frozen book forward: such feature rows are dropped.
MAX_SILENCE = pd.Timedelta(minutes=60)
WEATHER_ONLY_FEATURES = {"nowcast"}  # tune.<model>.extra_features built from weather alone


def upstream_book_logs(book: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The daily logs the Parquet was concatenated from, by upstream file name, in file order."""
    return {name: part[BOOK_LOG_COLUMNS] for name, part in book.groupby("source_file", sort=True)}


def iem_cli_csv(cli: pd.DataFrame) -> pd.DataFrame:
    """The CLI subset in IEM's CLI CSV columns."""
    return pd.DataFrame(
        {
            "station": cli["source_station"],
            "valid": cli["date"],
            "high": cli["official_daily_high_f"],
        }
    )


def workspace_params(base: dict, source: str, trials: dict[str, int | None]) -> dict:
    """The repo's params with what this run changes: NYC only, market features, short windows.

    Every other section (features, calibrate, pool, ...) is the repo's, so the run uses the
    pipeline as configured. NYC has no usable weather feed (``weather_features: false``) and the
    Dec-Jan files have none, so the weather-only extra features are dropped; ``mid_logit``, the
    market's own log-odds, stays. ``trials[model]`` None keeps the repo's n_trials.
    """
    params = copy.deepcopy(base)
    params["ingest"] = {"source": source}
    params["cities"] = {"nyc": {**base["cities"]["nyc"], "weather_features": False}}
    params["windows"] = dict(WINDOWS)
    params["models"] = list(MODELS)
    for model in MODELS:
        tune = params["tune"][model]
        tune["extra_features"] = [
            f for f in tune.get("extra_features", []) if f not in WEATHER_ONLY_FEATURES
        ]
        if trials.get(model) is not None:
            tune["n_trials"] = trials[model]
    return params


def live_rows(
    features: pd.DataFrame,
    quotes: pd.DataFrame,
    markets: pd.DataFrame,
    max_silence: pd.Timedelta = MAX_SILENCE,
) -> pd.Series:
    """Mask of feature rows whose event's book log had a change within ``max_silence`` before.

    A quote row stamped ``ts`` is usable from ``ts`` on (the features' rule), so the latest
    change at or before a row's time is what its book features were built from.
    """
    changes = quotes[["ticker", "ts"]].merge(markets[["ticker", "event_ticker"]], on="ticker")
    changes = changes.drop_duplicates(["event_ticker", "ts"]).rename(columns={"ts": "changed"})
    rows = features[["event_ticker", "ts"]].assign(_row=range(len(features)))
    rows["ts"] = rows["ts"].astype(changes["changed"].dtype)
    latest = pd.merge_asof(
        rows.sort_values("ts"),
        changes.sort_values("changed"),
        left_on="ts",
        right_on="changed",
        by="event_ticker",
        direction="backward",
    ).sort_values("_row")
    silence = latest["ts"].to_numpy() - latest["changed"].to_numpy()
    return pd.Series(silence <= max_silence.to_timedelta64(), index=features.index)


def write_live_features(features: Path, raw: Path, out: Path) -> None:
    """Copy the feature partitions, keeping live rows only; prints how many were dropped."""
    quotes = pd.read_parquet(raw / "quotes.parquet", columns=["ticker", "ts"])
    markets = pd.read_parquet(raw / "markets.parquet", columns=["ticker", "event_ticker"])
    n_kept = n_all = 0
    for path in sorted(features.glob("city=*/month=*/*.parquet")):
        part = pd.read_parquet(path)
        live = live_rows(part, quotes, markets)
        target = out / path.relative_to(features)
        io.write_parquet_atomic(part[live.to_numpy()], target, sort_by=["ticker", "ts"])
        n_kept, n_all = n_kept + int(live.sum()), n_all + len(part)
    print(
        f"{out}: kept {n_kept:,} of {n_all:,} feature rows; dropped {n_all - n_kept:,} whose "
        f"event's book log was silent for more than {MAX_SILENCE // pd.Timedelta(minutes=1)} "
        "minutes (logger down)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    steps = parser.add_subparsers(dest="step", required=True)
    step = steps.add_parser("book-logs", help="top-of-book Parquet -> upstream daily CSVs")
    step.add_argument("parquet", type=Path)
    step.add_argument("out", type=Path)
    step = steps.add_parser("iem-cli", help="CLI subset -> IEM CLI CSV")
    step.add_argument("csv", type=Path)
    step.add_argument("out", type=Path)
    step = steps.add_parser("params", help="write the workspace params.yaml")
    step.add_argument("base", type=Path, help="the repo's params.yaml")
    step.add_argument("out", type=Path)
    step.add_argument("--source", required=True)
    step.add_argument("--ridge-trials", type=int, help="default: the repo's n_trials")
    step.add_argument("--elasticnet-trials", type=int, help="default: the repo's n_trials")
    step = steps.add_parser("live-features", help="feature folder without frozen-book rows")
    step.add_argument("features", type=Path)
    step.add_argument("raw", type=Path, help="ingest's output: quotes and markets")
    step.add_argument("out", type=Path)
    args = parser.parse_args()

    if args.step == "book-logs":
        args.out.mkdir(parents=True, exist_ok=True)
        for name, log in upstream_book_logs(pd.read_parquet(args.parquet)).items():
            log.to_csv(args.out / name, index=False)
    elif args.step == "iem-cli":
        iem_cli_csv(pd.read_csv(args.csv, dtype=str)).to_csv(args.out, index=False)
    elif args.step == "params":
        trials = {"ridge": args.ridge_trials, "elasticnet": args.elasticnet_trials}
        content = workspace_params(yaml.safe_load(args.base.read_text()), args.source, trials)
        args.out.write_text(yaml.safe_dump(content, sort_keys=False))
    else:
        write_live_features(args.features, args.raw, args.out)


if __name__ == "__main__":
    main()
