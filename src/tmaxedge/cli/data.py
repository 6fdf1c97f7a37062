"""`tmaxedge import <kind>` and `tmaxedge fetch kalshi`: real data into the contract tables.

Registered on the `tmaxedge` group by ``tmaxedge.cli.main``. Both read the city codes and series
from ``params.yaml`` ``cities`` when that file exists (``--params``), else the shipped defaults.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import pandas as pd

from tmaxedge.cli.options import params_option
from tmaxedge.core import config, io
from tmaxedge.core.errors import ParamsError
from tmaxedge.inputs import fetch
from tmaxedge.inputs.importers import (
    ImportOptions,
    import_files,
    import_parsed,
    kalshi_candles,
    kalshi_markets,
    kalshi_trades,
    read_files,
    values,
)
from tmaxedge.inputs.importers.common import DEFAULT_CITIES, PRICE_UNITS

_DATE = click.DateTime(["%Y-%m-%d"])


# the shipped cities as Kalshi's market titles and the brief write them
CITY_NAMES = {
    "aus": "Austin",
    "chi": "Chicago",
    "den": "Denver",
    "lax": "Los Angeles",
    "mia": "Miami",
    "nyc": "New York",
    "phl": "Philadelphia",
}


def city_code(text: str, cities: dict[str, config.City], where: str = "--city") -> str:
    """The code of the city that ``text`` names among ``cities``: its code (``chi``), its series
    ticker (``KXHIGHCHI``) or its name (``Chicago``, ``los angeles``, ``Los_Angeles``), in any
    case. Anything else is refused, naming the cities there are."""
    wanted = " ".join(str(text).replace("_", " ").replace("-", " ").split()).casefold()
    for code, city in cities.items():
        spellings = {code, city.series, CITY_NAMES.get(code, code)}
        if wanted in {spelling.casefold() for spelling in spellings}:
            return code
    known = ", ".join(f"{code} ({CITY_NAMES.get(code, cities[code].series)})" for code in cities)
    raise ParamsError(f"{where} {text!r}: not a city of params.yaml cities; cities: {known}.")


def load_cities(params_path: Path) -> dict[str, config.City]:
    """The ``cities`` section of ``params_path``, or the defaults when the file does not exist."""
    if not Path(params_path).exists():
        return dict(DEFAULT_CITIES)
    return config.parse_cities(io.load_section("cities", Path(params_path)))


def _timestamp(_context, _parameter, value: str | None) -> pd.Timestamp | None:
    """Click callback: an ISO 8601 timestamp with its zone, as UTC."""
    if value is None:
        return None
    try:
        return values.iso_utc(value)
    except values.Invalid:
        raise click.BadParameter(
            f"must be ISO 8601 with a zone (2025-11-15T04:59:00Z); got {value!r}."
        ) from None


def _echo_counts(counts: dict[str, Any], out: Path) -> None:
    """One line per written table, then the importers' own counts, then their notes."""
    for name, value in sorted(counts.items()):
        if isinstance(value, dict):
            details = ", ".join(f"{k} {n:,}" for k, n in sorted(value.items()) if k != "n_rows")
            click.echo(f"{out / name}.parquet: {value['n_rows']:,} rows ({details})")
    for name, value in sorted(counts.items()):
        if isinstance(value, int):
            click.echo(f"  {name}: {value:,}")
    for note in counts.get("notes", []):
        click.echo(f"  note: {note}")


# --- import ------------------------------------------------------------------------------------


@click.group("import")
def import_group() -> None:
    """Import source files into the contract tables (markets, quotes, weather, settlements,
    forecasts).

    Rows are merged into the Parquet tables already in --out: repeats are skipped and counted,
    rows with the same key but other values are refused, and on any error nothing is written.
    One import at a time per folder: another waits for the lock beside --out.
    """


_SOURCES = click.argument(
    "sources", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path)
)
_OUT = click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("data/external"),
    show_default=True,
    help="Folder of the contract tables to add to.",
)
_PARAMS = params_option("params.yaml whose 'cities' name the cities and their series.")


def _common(command: Callable) -> Callable:
    """SOURCES..., --out and --params, shared by every import kind."""
    return _SOURCES(_OUT(_PARAMS(command)))


def _import(kind: str, sources, out: Path, params_path: Path, **options: Any) -> None:
    def action():
        chosen = ImportOptions(cities=load_cities(params_path), **options)
        return import_files(kind, list(sources), out, chosen)

    _echo_counts(action(), out)


@import_group.command("kalshi-markets")
@_common
@click.option("--start", type=_DATE, help="Keep events on or after this date.")
@click.option("--end", type=_DATE, help="Keep events on or before this date.")
def import_kalshi_markets(sources, out, params_path, start, end) -> None:
    """Kalshi GET /markets or /historical/markets pages (JSON) -> markets."""
    _import(
        kalshi_markets.KIND,
        sources,
        out,
        params_path,
        start=start.date() if start else None,
        end=end.date() if end else None,
    )


@import_group.command("kalshi-candles")
@_common
@click.option("--ticker", help="Market ticker, when neither the file nor its name says it.")
def import_kalshi_candles(sources, out, params_path, ticker) -> None:
    """Kalshi market candlesticks (JSON, live or historical spelling) -> quotes."""
    _import(kalshi_candles.KIND, sources, out, params_path, ticker=ticker)


@import_group.command("kalshi-trades")
@_common
def import_kalshi_trades(sources, out, params_path) -> None:
    """Kalshi GET /markets/trades pages (JSON) or trade tables (.parquet, .csv, .jsonl, .json)
    -> price-only quotes, one row per minute; the trades, with their taker side, in a ledger."""
    _import(kalshi_trades.KIND, sources, out, params_path)


@import_group.command("orderbook-log")
@_common
@click.option("--tz", help="IANA zone of naive timestamps (required when they have none).")
def import_orderbook_log(sources, out, params_path, tz) -> None:
    """Top-of-book change logs (CSV) -> quotes, last book state per minute."""
    _import("orderbook-log", sources, out, params_path, tz=tz)


@import_group.command("kalshi-price-history")
@_common
@click.option("--series", help="Series ticker, e.g. KXHIGHMIA (default: from the file name).")
@click.option("--event-date", type=_DATE, help="Event date (default: from the file name).")
@click.option(
    "--open-time",
    callback=_timestamp,
    help="Markets' open_time (default: 10:00 New York, the day before).",
)
@click.option(
    "--close-time",
    callback=_timestamp,
    help="Markets' close_time (default: 23:59 New York, the event day).",
)
@click.option(
    "--markets/--no-markets",
    "with_markets",
    default=True,
    show_default=True,
    help="Also write the markets derived from the bracket labels.",
)
@click.option(
    "--price-units",
    type=click.Choice(PRICE_UNITS),
    help="Units of the chart prices. Default: cents; a file whose prices all lie within 0..1 "
    "(dollars?) is refused until this says which.",
)
def import_price_history(
    sources, out, params_path, series, event_date, open_time, close_time, with_markets, price_units
) -> None:
    """Kalshi website price-history downloads (CSV) -> price-only quotes (+ markets)."""
    _import(
        "kalshi-price-history",
        sources,
        out,
        params_path,
        series=series,
        event_date=event_date.date() if event_date else None,
        open_time=open_time,
        close_time=close_time,
        with_markets=with_markets,
        price_units=price_units,
    )


@import_group.command("visual-crossing")
@_common
@click.option("--city", required=True, help="City code, e.g. chi.")
@click.option("--tz", help="IANA zone of CSV datetimes written without an offset.")
@click.option(
    "--units",
    type=click.Choice(["us", "metric"]),
    default="us",
    show_default=True,
    help="unitGroup of the request: us = °F, metric = °C (converted).",
)
def import_visual_crossing(sources, out, params_path, city, tz, units) -> None:
    """Visual Crossing timeline weather (JSON or CSV) -> weather."""
    _import("visual-crossing", sources, out, params_path, city=city, tz=tz, units=units)


@import_group.command("vc-forecasts")
@_common
@click.option("--city", required=True, help="City code, e.g. chi.")
@click.option(
    "--visible-from",
    type=click.Choice(["end", "start"]),
    default="end",
    show_default=True,
    help="When a forecast counts as public, in the city's time zone: the end of its basis date "
    "(local midnight starting the next day; a same-day forecast is never used on its own target "
    "day) or its start (local midnight starting the basis date).",
)
def import_vc_forecasts(sources, out, params_path, city, visible_from) -> None:
    """Visual Crossing historical daily forecasts (Parquet or CSV) -> forecasts."""
    _import("vc-forecasts", sources, out, params_path, city=city, visible_from=visible_from)


@import_group.command("asos")
@_common
@click.option("--city", required=True, help="City code, e.g. chi.")
@click.option(
    "--tz",
    help="IANA zone of 'valid' when the download does not declare it (IEM files do; a "
    "declared zone is used, and a --tz that disagrees is refused).",
)
def import_asos(sources, out, params_path, city, tz) -> None:
    """IEM ASOS one- or five-minute downloads (CSV) -> weather."""
    _import("asos", sources, out, params_path, city=city, tz=tz)


@import_group.command("nws-cli")
@_common
@click.option("--city", required=True, help="City code, e.g. chi.")
def import_nws_cli(sources, out, params_path, city) -> None:
    """NWS Daily Climate Reports (CLI text) or IEM CLI CSV -> settlements."""
    _import("nws-cli", sources, out, params_path, city=city)


# --- fetch -------------------------------------------------------------------------------------


@click.group("fetch")
def fetch_group() -> None:
    """Download raw source data (saved as received, resumable)."""


@fetch_group.command("kalshi")
@click.option("--series", required=True, help="Series ticker, e.g. KXHIGHCHI.")
@click.option("--start", required=True, type=_DATE, help="First event date.")
@click.option("--end", required=True, type=_DATE, help="Last event date.")
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder for the raw JSON pages.",
)
@click.option("--base-url", default=fetch.DEFAULT_BASE_URL, show_default=True)
@click.option("--status", help="Markets status filter (e.g. settled); default: all.")
@click.option(
    "--source",
    "source",
    type=click.Choice(["live", "historical", "both"]),
    default="both",
    show_default=True,
    help="Live endpoints, historical ones, or both.",
)
@click.option(
    "--quotes-from",
    type=click.Choice(["candles", "trades"]),
    default="candles",
    show_default=True,
    help="1-minute candlesticks (book + trades) or trades only.",
)
@click.option("--rate", type=float, default=5.0, show_default=True, help="Requests per second.")
@click.option("--max-attempts", type=int, default=5, show_default=True)
@click.option(
    "--backoff",
    type=float,
    default=1.0,
    show_default=True,
    help="Seconds before the first retry; doubles per retry.",
)
@click.option(
    "--timeout",
    type=float,
    default=fetch.FetchParams.timeout_seconds,
    show_default=True,
    metavar="SECONDS",
    help="Deadline of each request, from connect to the last byte; a missed one is retried.",
)
@click.option(
    "--run-timeout",
    type=float,
    metavar="SECONDS",
    help="Deadline of the whole download; default: none.",
)
@click.option(
    "--max-response-mb",
    type=float,
    default=fetch.FetchParams.max_response_bytes / 1e6,
    show_default=True,
    help="Largest response accepted, in MB (10^6 bytes); a larger one stops the run.",
)
@click.option(
    "--import-to",
    type=click.Path(path_type=Path, file_okay=False),
    help="Then import the saved pages into this folder, e.g. data/external.",
)
@params_option()
def fetch_kalshi(
    series,
    start,
    end,
    out,
    base_url,
    status,
    source,
    quotes_from,
    rate,
    max_attempts,
    backoff,
    timeout,
    run_timeout,
    max_response_mb,
    import_to,
    params_path,
) -> None:
    """Save Kalshi markets of SERIES with event dates START..END, and their 1-minute quotes."""
    first, last = start.date(), end.date()
    sources = fetch.SOURCES if source == "both" else (source,)

    def download():
        params = fetch.FetchParams(
            base_url=base_url,
            requests_per_second=rate,
            max_attempts=max_attempts,
            backoff_seconds=backoff,
            timeout_seconds=timeout,
            run_timeout_seconds=run_timeout,
            max_response_bytes=round(max_response_mb * 1e6),
        )
        client = fetch.Client(params)
        return fetch.fetch_kalshi(client, series, first, last, out, sources, status, quotes_from)

    report = download()
    click.echo(
        f"{out}: {len(report.markets)} market pages, {len(report.candles)} candle files, "
        f"{len(report.trades)} trade pages ({report.n_saved} saved, {report.n_skipped} already "
        f"saved; {report.n_requests} requests, {report.n_retries} retries)"
    )
    if import_to is None:
        return

    def load():
        options = ImportOptions(cities=load_cities(params_path), start=first, end=last)
        imports = [kalshi_markets.parse(read_files(report.markets), options)]
        if report.candles:
            imports.append(kalshi_candles.parse(read_files(report.candles), options))
        if report.trades:
            imports.append(kalshi_trades.parse(read_files(report.trades), options))
        return import_parsed(imports, import_to, options)

    _echo_counts(load(), import_to)
