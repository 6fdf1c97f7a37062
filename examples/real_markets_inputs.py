"""Helpers of examples/real_markets.sh: saved real Kalshi files as contract tables.

Two datasets (their PROVENANCE.md: ``cpratim_trades/`` and ``sameeres_hourly/``).

**trades**: five cities' complete trade prints, Dec 2023 - Dec 2024.

The trade prints (``<series>_trades.parquet``) are Kalshi's trade fields and go through
``tmaxedge import kalshi-trades`` unchanged. What is not in Kalshi's shape is the market list
and the highs, which whoever collected the files joined from several sources (their
PROVENANCE.md, ``cpratim_trades/``). This script only selects and renames; the one thing it has
to supply is the schedule of the 3,657 markets listed without their API payload:

- ``markets``: ``markets_all_with_results.parquet`` (ticker, event, strikes, Kalshi's result)
  with ``open_time`` / ``close_time`` from ``markets_from_events.parquet`` where Kalshi's payload
  is there. Where it is not (Chicago, Miami and New York events before 2024-08-16), each
  time is the one most of the city's listed markets keep, as an offset from the event day's
  midnight on New York's clock (open 10:00 the day before, close 23:59 of the event day for
  all three; the script prints the share of listed markets off that schedule). Kalshi's result
  is ``result`` where the API payload gave it, else ``result_final`` (matched from another saved
  copy of Kalshi's results); a result derived from the high is not Kalshi's and counts as none.
  An event is kept only when each of its markets has Kalshi's result and those results agree
  with the settled high by the YES rule, and when its listed markets partition the integers
  (the contract's rule: 375 events lack one to five markets of their ladder, none of which has
  a trade in the files; the pipeline does not guess them). Both are counted.
- ``settlements``: ``events_settlements.csv`` (city, date, tmax_f).
- ``weather``: an empty table (no intraday station observations exist for these days).
- ``trades``: the trade prints of the kept markets only (``ingest`` refuses a quote of a market
  the markets table lacks), every column and value as saved, for ``import kalshi-trades``.

**hourly**: hourly Kalshi candlesticks with the best bid and ask at each hour's end, NYC and
Chicago, Nov 2025 - Mar 2026 (``hourly`` writes every table):

- ``quotes``: one row per market and hour, ``ts`` = the candle's end (``ts_utc``), the bid and
  ask as saved, ``volume``; ``price`` is left null, since the saved ``price_close_or_mid`` is
  the last trade or, without one, the mid, and the two cannot be told apart.
- ``markets``: tickers, strikes and close times as saved; ``open_time`` the city's usual (10:00
  New York time the day before: the five cities' Kalshi payloads above, and the first candles,
  which begin after it); ``result`` null: the saved ``result_yes`` was derived from the settled
  high, not read from Kalshi (it agrees with Kalshi wherever both exist, PROVENANCE.md).
- ``settlements``: the saved highs (NWS CLI for New York, GHCND Midway for Chicago); an event
  without one is left out.
- ``weather``: empty.

Usage: ``python examples/real_markets_inputs.py markets <cpratim_trades folder> <out folder>``,
``python examples/real_markets_inputs.py trades <cpratim_trades folder> <markets.parquet> <out>``,
``python examples/real_markets_inputs.py hourly <sameeres_hourly folder> <out folder>``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from tmaxedge.core import io
from tmaxedge.core.strikes import resolves_yes
from tmaxedge.inputs.contract import RAW_DTYPES, events_not_partitioning

NEW_YORK = "America/New_York"
TIMES = ("open_time", "close_time")
KALSHI_RESULT = "kalshi"  # result_basis values that name a result Kalshi published
MARKET_COLUMNS = list(RAW_DTYPES["markets"])  # the contract's columns, in its order


def event_midnight(event_date: pd.Series) -> pd.Series:
    """The start of each event day on New York's clock, in UTC."""
    return pd.to_datetime(event_date).dt.tz_localize(NEW_YORK).dt.tz_convert("UTC")


def kalshi_result(listed: pd.DataFrame) -> pd.Series:
    """``yes`` / ``no`` where Kalshi published the result, else null."""
    final = listed["result_final"].map({True: "yes", False: "no"})
    result = listed["result"].replace("", None).fillna(final)
    published = listed["result_basis"].fillna("").str.contains(KALSHI_RESULT, case=False)
    return result.where(published, None)


def market_table(listed: pd.DataFrame, payloads: pd.DataFrame) -> tuple[pd.DataFrame, float]:
    """The markets in contract columns, and the share of payload times off the city's schedule."""
    markets = listed.rename(columns={"date": "event_date"}).merge(
        payloads[["ticker", *TIMES]], on="ticker", how="left"
    )
    midnight = event_midnight(markets["event_date"])
    n_listed = n_off = 0
    for name in TIMES:
        offset = pd.to_datetime(markets[name], utc=True) - midnight
        usual = offset.groupby(markets["city"]).transform(lambda o: o.mode().iloc[0])
        n_listed += int(offset.notna().sum())
        n_off += int((offset.notna() & (offset != usual)).sum())
        markets[name] = midnight + offset.fillna(usual)
    markets["event_date"] = pd.to_datetime(markets["event_date"]).dt.date
    markets["result"] = kalshi_result(markets)
    return markets[MARKET_COLUMNS], n_off / n_listed


def settled_events(markets: pd.DataFrame, settlements: pd.DataFrame) -> pd.Series:
    """Mask of markets whose event has Kalshi's result on every market, each agreeing with the
    settled high by the YES rule."""
    highs = settlements.set_index(["city", "date"])["tmax_f"]
    key = pd.MultiIndex.from_arrays([markets["city"], markets["event_date"]])
    tmax = highs.reindex(key).to_numpy()
    by_rule = resolves_yes(
        markets["strike_type"].to_numpy(),
        markets["floor_strike"].to_numpy(),
        markets["cap_strike"].to_numpy(),
        tmax,
    )
    agrees = markets["result"].notna().to_numpy() & ~np.isnan(tmax)
    agrees &= (markets["result"].to_numpy() == "yes") == by_rule
    return pd.Series(agrees).groupby(markets["event_ticker"].to_numpy()).transform("all")


def settlement_table(events: pd.DataFrame) -> pd.DataFrame:
    settled = events.dropna(subset=["tmax_f"])
    return pd.DataFrame(
        {
            "city": settled["city"],
            "date": pd.to_datetime(settled["date"]).dt.date,
            "tmax_f": settled["tmax_f"].astype("int64"),
        }
    ).drop_duplicates(["city", "date"])


def write_tables(folder: Path, out: Path) -> None:
    listed = pd.read_parquet(folder / "markets_all_with_results.parquet")
    payloads = pd.read_parquet(folder / "markets_from_events.parquet")
    settlements = settlement_table(pd.read_csv(folder / "events_settlements.csv"))
    markets, off_schedule = market_table(listed, payloads)
    settled = settled_events(markets, settlements).to_numpy()
    incomplete = markets["event_ticker"].isin(events_not_partitioning(markets)["event_ticker"])
    n_unsettled = markets.loc[~settled, "event_ticker"].nunique()
    n_incomplete = markets.loc[settled & incomplete, "event_ticker"].nunique()
    markets = markets[settled & ~incomplete.to_numpy()]
    settlements = settlements.merge(
        markets[["city", "event_date"]].drop_duplicates(),
        left_on=["city", "date"],
        right_on=["city", "event_date"],
    )[["city", "date", "tmax_f"]]
    out.mkdir(parents=True, exist_ok=True)
    io.write_parquet_atomic(markets, out / "markets.parquet", sort_by=["ticker"])
    io.write_parquet_atomic(settlements, out / "settlements.parquet", sort_by=["city", "date"])
    io.write_parquet_atomic(
        pd.DataFrame(
            {
                "city": pd.Series(dtype=str),
                "ts": pd.Series(dtype="datetime64[us, UTC]"),
                "temp_f": pd.Series(dtype=float),
            }
        ),
        out / "weather.parquet",
    )
    print(
        f"{out}: {len(markets):,} markets of {markets['event_ticker'].nunique():,} events; "
        f"dropped {n_unsettled} events without Kalshi's result on every market or whose results "
        f"disagree with the high, and {n_incomplete} whose listed markets do not partition the "
        "integers; "
        f"{off_schedule:.1%} of listed open/close times differ from their city's usual one"
    )


HOURLY_FILES = {
    "quotes": "sameeres_hourly_quotes_nyc_chi_2025-11_2026-03.parquet",
    "markets": "sameeres_markets_results_nyc_chi_2025-11_2026-03.csv",
    "settlements": "sameeres_settlements_nyc_chi_2025-11_2026-03.csv",
}
OPEN_BEFORE_EVENT_DAY = pd.Timedelta(hours=14)  # 10:00 New York time the day before


def hourly_tables(
    candles: pd.DataFrame, listed: pd.DataFrame, highs: pd.DataFrame
) -> dict[str, pd.DataFrame]:
    """The contract tables of the hourly dataset (module docstring)."""
    settlements = settlement_table(highs)
    events = highs.drop_duplicates("event_ticker").set_index("event_ticker")
    event_day = listed["event_ticker"].map(events["date"])
    markets = pd.DataFrame(
        {
            "ticker": listed["market_ticker"],
            "event_ticker": listed["event_ticker"],
            "city": listed["event_ticker"].map(events["city"]),
            "event_date": pd.to_datetime(event_day).dt.date,
            "strike_type": listed["strike_type"],
            "floor_strike": listed["floor_strike"],
            "cap_strike": listed["cap_strike"],
            "open_time": event_midnight(event_day) - OPEN_BEFORE_EVENT_DAY,
            "close_time": pd.to_datetime(listed["close_time"], utc=True),
            "result": None,
        }
    )[MARKET_COLUMNS]
    settled = pd.MultiIndex.from_frame(settlements[["city", "date"]])
    markets = markets[
        pd.MultiIndex.from_arrays([markets["city"], markets["event_date"]]).isin(settled)
    ]
    quotes = pd.DataFrame(
        {
            "ticker": candles["market_ticker"],
            "ts": candles["ts_utc"],
            "yes_bid": candles["yes_bid"].astype("Int64"),
            "yes_ask": candles["yes_ask"].astype("Int64"),
            "price": pd.array([pd.NA] * len(candles), dtype="Int64"),
            "volume": candles["volume"].astype("Int64"),
            "open_interest": pd.array([pd.NA] * len(candles), dtype="Int64"),  # not saved
        }
    )
    quotes = quotes[quotes["ticker"].isin(markets["ticker"])]
    weather = pd.DataFrame(
        {
            "city": pd.Series(dtype=str),
            "ts": pd.Series(dtype="datetime64[us, UTC]"),
            "temp_f": pd.Series(dtype=float),
        }
    )
    return {"markets": markets, "quotes": quotes, "settlements": settlements, "weather": weather}


def write_hourly_tables(folder: Path, out: Path) -> None:
    read = {
        name: (pd.read_parquet if file.endswith(".parquet") else pd.read_csv)(folder / file)
        for name, file in HOURLY_FILES.items()
    }
    tables = hourly_tables(read["quotes"], read["markets"], read["settlements"])
    out.mkdir(parents=True, exist_ok=True)
    for name, table in tables.items():
        io.write_parquet_atomic(table, out / f"{name}.parquet")
    print(
        f"{out}: {len(tables['markets']):,} markets of "
        f"{tables['markets']['event_ticker'].nunique():,} events, "
        f"{len(tables['quotes']):,} hourly quote rows"
    )


def write_kept_trades(folder: Path, markets: Path, out: Path) -> None:
    kept = set(pd.read_parquet(markets, columns=["ticker"])["ticker"])
    out.mkdir(parents=True, exist_ok=True)
    for path in sorted(folder.glob("*_trades.parquet")):
        trades = pd.read_parquet(path)
        io.write_parquet_atomic(trades[trades["ticker"].isin(kept)], out / path.name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    steps = parser.add_subparsers(dest="step", required=True)
    step = steps.add_parser("markets", help="markets, settlements and an empty weather table")
    step.add_argument("folder", type=Path, help="the cpratim_trades folder")
    step.add_argument("out", type=Path)
    step = steps.add_parser("trades", help="the trade prints of the kept markets")
    step.add_argument("folder", type=Path, help="the cpratim_trades folder")
    step.add_argument("markets", type=Path, help="the markets table the markets step wrote")
    step.add_argument("out", type=Path)
    step = steps.add_parser("hourly", help="every table of the hourly dataset")
    step.add_argument("folder", type=Path, help="the sameeres_hourly folder")
    step.add_argument("out", type=Path)
    args = parser.parse_args()
    if args.step == "markets":
        write_tables(args.folder, args.out)
    elif args.step == "trades":
        write_kept_trades(args.folder, args.markets, args.out)
    else:
        write_hourly_tables(args.folder, args.out)


if __name__ == "__main__":
    main()
