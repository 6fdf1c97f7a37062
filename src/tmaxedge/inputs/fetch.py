"""Download Kalshi's public market data (markets, 1-minute candlesticks, trades) as raw JSON pages.

Standard library only (``urllib``). The public market-data endpoints need no credentials: none
are read, sent, logged or written. Every response is saved as received, atomically, under

``<out>/markets/<series>_<start>_<end>_<live|historical>_p0001.json``  (``GET /markets``,
``GET /historical/markets``: ``series_ticker``, ``min_close_ts``, ``max_close_ts``, ``status``)
``<out>/candles/<ticker>_<start_ts>_<end_ts>.json``  (``GET /series/{s}/markets/{t}/candlesticks``
or ``GET /historical/markets/{t}/candlesticks``, ``period_interval=1``)
``<out>/trades/<ticker>_p0001.json``  (``GET /markets/trades`` or ``GET /historical/trades``)

before anything is imported from it. Paged endpoints follow ``cursor`` until it is empty.
A run is resumable: a file already saved completely (valid JSON with its list) is read instead of
requested, and a saved page's cursor leads to the next page; delete a folder to refresh it.

Requests are spaced by a client-side rate limit; HTTP 429, 5xx, dropped connections, timeouts
and truncated bodies are retried with exponential backoff (``Retry-After`` honoured), at most
``max_attempts`` times; any other HTTP error stops the run (``FetchError``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import http.client
import json
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tmaxedge.core import io
from tmaxedge.core.errors import UserError
from tmaxedge.inputs.importers import kalshi_markets
from tmaxedge.inputs.importers import values as v

log = logging.getLogger("tmaxedge")

DEFAULT_BASE_URL = "https://api.elections.kalshi.com/trade-api/v2"
SOURCES = ("live", "historical")
_RETRY_STATUS = 429
_MAX_CANDLES = 5000  # candles per request, in minutes


class FetchError(UserError, RuntimeError):
    """A download failed for good (non-retryable status, or retries exhausted)."""


@dataclasses.dataclass(frozen=True)
class FetchParams:
    """How to talk to the API: where, how fast, how persistently."""

    base_url: str = DEFAULT_BASE_URL
    requests_per_second: float = 5.0
    max_attempts: int = 5  # tries per request, the first included
    backoff_seconds: float = 1.0  # wait before the 2nd try; doubles per try
    max_backoff_seconds: float = 60.0
    timeout_seconds: float = 30.0
    page_limit: int = 1000  # items per page (the API's maximum for markets and trades)
    max_pages: int = 10_000  # per query: a guard against a cursor that never ends

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("http://", "https://")):
            url = self.base_url
            raise FetchError(f"base_url must start with http:// or https://; got {url!r}.")
        if not self.requests_per_second > 0:
            raise FetchError(f"requests_per_second must be > 0; got {self.requests_per_second}.")
        if self.max_attempts < 1:
            raise FetchError(f"max_attempts must be >= 1; got {self.max_attempts}.")
        if self.backoff_seconds < 0 or self.max_backoff_seconds < 0:
            raise FetchError("backoff_seconds and max_backoff_seconds must be >= 0.")


@dataclasses.dataclass
class FetchReport:
    """Files saved or found per kind, and request statistics."""

    markets: list[Path] = dataclasses.field(default_factory=list)
    candles: list[Path] = dataclasses.field(default_factory=list)
    trades: list[Path] = dataclasses.field(default_factory=list)
    n_requests: int = 0
    n_retries: int = 0
    n_saved: int = 0
    n_skipped: int = 0  # already saved completely by an earlier run


class Client:
    """GET JSON with a rate limit and bounded retries; ``sleep`` and ``clock`` are injectable."""

    def __init__(
        self,
        params: FetchParams,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.params = params
        self._sleep = sleep
        self._clock = clock
        self._next_time = float("-inf")
        self.n_requests = 0
        self.n_retries = 0

    def url(self, path: str, query: dict[str, Any]) -> str:
        """The request URL; None values are left out and keys sorted (stable, loggable)."""
        items = sorted((k, str(value)) for k, value in query.items() if value is not None)
        suffix = f"?{urllib.parse.urlencode(items)}" if items else ""
        return f"{self.params.base_url.rstrip('/')}{path}{suffix}"

    def get(self, path: str, query: dict[str, Any]) -> bytes:
        """The body of a successful GET, checked to be JSON; FetchError when retries run out."""
        url = self.url(path, query)
        reason = ""
        for attempt in range(1, self.params.max_attempts + 1):
            if attempt > 1:
                self.n_retries += 1
            self._throttle()
            self.n_requests += 1
            try:
                return self._get_once(url)
            except _Retry as retry:
                reason = str(retry)
                if attempt == self.params.max_attempts:
                    break
                delay = self._delay(attempt, retry.after)
                log.warning("GET %s: %s; retry %d in %.1f s", url, reason, attempt, delay)
                self._sleep(delay)
        raise FetchError(f"GET {url}: gave up after {self.params.max_attempts} attempts: {reason}")

    def _get_once(self, url: str) -> bytes:
        request = urllib.request.Request(
            url, headers={"Accept": "application/json", "User-Agent": "tmaxedge-fetch"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.params.timeout_seconds) as response:
                body = response.read()
        except urllib.error.HTTPError as error:
            detail = error.read()[:200].decode("utf-8", "replace")
            if error.code == _RETRY_STATUS or error.code >= 500:
                raise _Retry(f"HTTP {error.code}", error.headers.get("Retry-After")) from None
            raise FetchError(f"GET {url}: HTTP {error.code}: {detail}") from None
        except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
            raise _Retry(f"connection failed ({type(error).__name__}: {error})") from None
        try:
            json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise _Retry("incomplete or non-JSON body") from None
        return body

    def _throttle(self) -> None:
        now = self._clock()
        if self._next_time > now:
            self._sleep(self._next_time - now)
            now = self._next_time
        self._next_time = now + 1.0 / self.params.requests_per_second

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        delay = self.params.backoff_seconds * 2 ** (attempt - 1)
        if retry_after is not None:
            try:
                delay = max(delay, float(retry_after))
            except ValueError:
                pass  # an HTTP date: keep the backoff
        return min(delay, self.params.max_backoff_seconds)


class _Retry(Exception):
    def __init__(self, reason: str, after: str | None = None) -> None:
        super().__init__(reason)
        self.after = after


# --- saving ------------------------------------------------------------------------------------


def saved_content(path: Path, list_key: str) -> dict[str, Any] | None:
    """The JSON of a completely saved response (a dict holding ``list_key``), else None."""
    if not path.is_file():
        return None
    try:
        content = json.loads(path.read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    complete = isinstance(content, dict) and isinstance(content.get(list_key), list)
    return content if complete else None


def get_saved(
    client: Client,
    path: str,
    query: dict,
    target: Path,
    list_key: str,
    report: FetchReport,
    refresh: bool = False,
) -> dict[str, Any]:
    """The response for ``target``: read when saved completely (and not ``refresh``), else
    requested and saved first."""
    content = None if refresh else saved_content(target, list_key)
    if content is not None:
        report.n_skipped += 1
        return content
    body = client.get(path, query)
    content = json.loads(body)
    if not isinstance(content, dict) or not isinstance(content.get(list_key), list):
        raise FetchError(f"GET {client.url(path, query)}: the response has no '{list_key}' list.")
    with io.atomic_path(target) as tmp:
        tmp.write_bytes(body)
    report.n_saved += 1
    return content


def get_pages(
    client: Client,
    path: str,
    query: dict,
    folder: Path,
    stem: str,
    list_key: str,
    report: FetchReport,
) -> list[Path]:
    """Every page of a cursor-paged query, saved as ``<stem>_p0001.json``...; returns the files."""
    files, cursor, seen = [], None, set()
    for number in range(1, client.params.max_pages + 1):
        target = folder / f"{stem}_p{number:04d}.json"
        page_query = {**query, "limit": client.params.page_limit, "cursor": cursor}
        content = get_saved(client, path, page_query, target, list_key, report)
        files.append(target)
        cursor = content.get("cursor") or None
        if cursor is None:
            return files
        if cursor in seen:
            raise FetchError(f"{target}: cursor {cursor!r} repeats; the listing would not end.")
        seen.add(cursor)
    raise FetchError(f"{path}: more than {client.params.max_pages} pages; narrow the dates.")


# --- the Kalshi run ----------------------------------------------------------------------------


def fetch_kalshi(
    client: Client,
    series: str,
    start: dt.date,
    end: dt.date,
    out: Path,
    sources: tuple[str, ...] = SOURCES,
    status: str | None = None,
    quotes_from: str = "candles",
    now: float | None = None,
) -> FetchReport:
    """Save the markets of ``series`` with event dates in [start, end] and their quotes.

    Markets are listed by close time (``min_close_ts`` = start 00:00 UTC, ``max_close_ts`` =
    end + 2 days 00:00 UTC, wide enough for any US close) and then kept by the event date in
    their ticker. Quotes are 1-minute candlesticks (``quotes_from="candles"``) or trades
    (``"trades"``), over each market's [open_time, close_time]; markets listed by the historical
    endpoint are read from the historical candlesticks/trades endpoints. Candles of a market
    still open at ``now`` (Unix seconds, default the current time) are requested again on every
    run, since the saved file cannot hold its later minutes.
    """
    if end < start:
        raise FetchError(f"end {end} is before start {start}.")
    if quotes_from not in ("candles", "trades"):
        raise FetchError(f"quotes_from must be 'candles' or 'trades'; got {quotes_from!r}.")
    out = Path(out)
    report = FetchReport()
    query = {
        "series_ticker": series,
        "status": status,
        "min_close_ts": _epoch(start),
        "max_close_ts": _epoch(end + dt.timedelta(days=2)),
    }
    for source in sources:
        path = "/markets" if source == "live" else "/historical/markets"
        stem = f"{series}_{start}_{end}_{source}"
        files = get_pages(client, path, query, out / "markets", stem, "markets", report)
        report.markets += files
        for market in _markets_in(files, start, end):
            if quotes_from == "candles":
                report.candles += _get_candles(client, series, market, source, out, report, now)
            else:
                report.trades += _get_trades(client, market, source, out, report)
    report.n_requests, report.n_retries = client.n_requests, client.n_retries
    return report


def _markets_in(files: list[Path], start: dt.date, end: dt.date) -> Iterator[dict[str, Any]]:
    """Markets of saved pages whose event date (from the ticker) lies in [start, end]."""
    for path in files:
        for market in kalshi_markets.load_markets(path.read_text(), str(path)):
            event = str(market.get("event_ticker") or market.get("ticker", "")).split("-")
            try:
                day = v.event_date(event[1]) if len(event) > 1 else None
            except v.Invalid:
                day = None
            if day is not None and start <= day <= end:
                yield market


def _window(market: dict[str, Any]) -> tuple[int, int]:
    try:
        opened, closed = v.iso_utc(market.get("open_time")), v.iso_utc(market.get("close_time"))
    except v.Invalid:
        ticker = market.get("ticker")
        raise FetchError(f"market {ticker}: open_time/close_time unreadable.") from None
    return int(opened.timestamp()), int(closed.timestamp())


def _get_candles(
    client: Client,
    series: str,
    market: dict,
    source: str,
    out: Path,
    report: FetchReport,
    now: float | None,
) -> list[Path]:
    """1-minute candles over the market's trading window, in chunks of ``_MAX_CANDLES``."""
    ticker = market["ticker"]
    if source == "live":
        path = f"/series/{series}/markets/{ticker}/candlesticks"
    else:
        path = f"/historical/markets/{ticker}/candlesticks"
    first, last = _window(market)
    files = []
    for low in range(first, last + 1, _MAX_CANDLES * 60):
        high = min(last, low + _MAX_CANDLES * 60 - 60)
        target = out / "candles" / f"{ticker}_{low}_{high}.json"
        query = {"start_ts": low, "end_ts": high, "period_interval": 1}
        still_open = high > (time.time() if now is None else now)
        get_saved(client, path, query, target, "candlesticks", report, refresh=still_open)
        files.append(target)
    return files


def _get_trades(
    client: Client, market: dict, source: str, out: Path, report: FetchReport
) -> list[Path]:
    path = "/markets/trades" if source == "live" else "/historical/trades"
    first, last = _window(market)
    query = {"ticker": market["ticker"], "min_ts": first, "max_ts": last}
    return get_pages(client, path, query, out / "trades", market["ticker"], "trades", report)


def _epoch(day: dt.date) -> int:
    return int(dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC).timestamp())
