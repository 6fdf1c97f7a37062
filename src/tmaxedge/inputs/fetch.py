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

What the server sends is untrusted. A page is checked before it is saved or used, whether it
came from the server or from a saved file: an object holding its list of objects, a cursor of
base64/URL-safe characters, and, on a markets page, tickers of Kalshi's grammar (uppercase
letters, digits, ``-``, ``.``, ``_``), so that no ticker can name a file outside ``<out>`` or
change a request URL (path parts are percent-encoded as well). Anything else stops the run with
one ``DataError`` naming the URL or file and the field. A response larger than
``max_response_bytes`` is refused while it streams; every request has a deadline from connect
to last byte (``timeout_seconds``) and the whole run may have one (``run_timeout_seconds``).
Redirects are refused: the API answers where it is asked.

Requests are spaced by a client-side rate limit; HTTP 429, 5xx, dropped connections, missed
request deadlines and truncated bodies are retried with exponential backoff (``Retry-After``
honoured), at most ``max_attempts`` times; any other HTTP error stops the run (``FetchError``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import http.client
import json
import logging
import re
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tmaxedge.core import io
from tmaxedge.core.errors import DataError, UserError
from tmaxedge.inputs.importers import kalshi_markets
from tmaxedge.inputs.importers import values as v

log = logging.getLogger("tmaxedge")

DEFAULT_BASE_URL = "https://api.elections.kalshi.com/trade-api/v2"
SOURCES = ("live", "historical")
_RETRY_STATUS = 429
_MAX_CANDLES = 5000  # candles per request, in minutes
_CHUNK_BYTES = 64 * 1024  # a body is read in pieces of this size, its total checked after each

# (pattern, what it means) of each server-sent string that becomes part of a path or a URL.
# Tickers: KXHIGHCHI, KXHIGHCHI-25NOV14, KXHIGHCHI-25NOV14-B40.5; the first character is a letter
# or digit, so "." and ".." are no tickers. Cursors are opaque tokens, base64 in practice.
_GRAMMARS = {
    "ticker": (
        re.compile(r"[A-Z0-9][A-Z0-9._-]{0,127}"),
        "a Kalshi ticker (up to 128 uppercase letters, digits, '-', '.', '_')",
    ),
    "cursor": (
        re.compile(r"[A-Za-z0-9._~+/=-]{1,2048}"),
        "a cursor (up to 2048 letters, digits and '-._~+/=')",
    ),
}


class FetchError(UserError, RuntimeError):
    """A download failed for good (non-retryable status, or retries exhausted)."""


@dataclasses.dataclass(frozen=True)
class FetchParams:
    """How to talk to the API: where, how fast, how persistently, how long, how much."""

    base_url: str = DEFAULT_BASE_URL
    requests_per_second: float = 5.0
    max_attempts: int = 5  # tries per request, the first included
    backoff_seconds: float = 1.0  # wait before the 2nd try; doubles per try
    max_backoff_seconds: float = 60.0
    timeout_seconds: float = 60.0  # per request, from connect to the last byte
    run_timeout_seconds: float | None = None  # the whole run (the client's life); None: no limit
    max_response_bytes: int = 50_000_000  # a candles response of 5000 minutes is about 3 MB
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
        if not self.timeout_seconds > 0:
            raise FetchError(f"timeout_seconds must be > 0; got {self.timeout_seconds}.")
        if self.run_timeout_seconds is not None and not self.run_timeout_seconds > 0:
            seconds = self.run_timeout_seconds
            raise FetchError(f"run_timeout_seconds must be > 0 or None; got {seconds}.")
        if self.max_response_bytes < 1:
            raise FetchError(f"max_response_bytes must be >= 1; got {self.max_response_bytes}.")


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


# --- untrusted strings -------------------------------------------------------------------------


def checked(kind: str, value: Any, field: str, where: str) -> str:
    """``value`` when it matches the grammar of ``kind`` (``ticker``, ``cursor``); else a
    DataError naming ``where`` (a URL or file), the ``field`` and the value."""
    pattern, meaning = _GRAMMARS[kind]
    if isinstance(value, str) and pattern.fullmatch(value):
        return value
    if value is None:
        raise DataError(f"{where}: {field} is missing; expected {meaning}.")
    raise DataError(f"{where}: {field} {value!r} is not {meaning}.")


def api_path(*parts: str) -> str:
    """A request path from its segments, each percent-encoded ('/', '?' and '#' included), so
    that no value can reach another resource or turn into a query or fragment."""
    return "".join(f"/{urllib.parse.quote(part, safe='')}" for part in parts)


def file_in(folder: Path, name: str) -> Path:
    """``folder / name``; a name that would leave ``folder`` is refused (behind the ticker
    grammar, a second guard where the path is made)."""
    if name != Path(name).name or name.startswith("."):
        raise DataError(f"{folder}: refusing to save a file named {name!r}.")
    return folder / name


def parse_json(data: bytes) -> Any:
    """The JSON of UTF-8 ``data``; ValueError for anything else, deep nesting included (the
    importers read saved files as UTF-8 text)."""
    try:
        return json.loads(data.decode("utf-8"))
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def checked_page(content: Any, list_key: str, where: str) -> dict[str, Any]:
    """``content`` when it is a page: an object holding a ``list_key`` list of objects and an
    empty or well-formed ``cursor``; the tickers of a markets page are checked too. Else a
    DataError naming ``where`` and the field."""
    if not isinstance(content, dict) or not isinstance(content.get(list_key), list):
        raise DataError(f"{where}: the response has no '{list_key}' list.")
    for number, item in enumerate(content[list_key]):
        field = f"{list_key}[{number}]"
        if not isinstance(item, dict):
            raise DataError(f"{where}: {field} is not an object.")
        if list_key == "markets":
            _check_market_tickers(item, field, where)
    if content.get("cursor") not in (None, ""):
        checked("cursor", content["cursor"], "cursor", where)
    return content


def _check_market_tickers(market: dict[str, Any], field: str, where: str) -> None:
    checked("ticker", market.get("ticker"), f"{field}.ticker", where)
    if market.get("event_ticker") not in (None, ""):  # the importer derives it from the ticker
        checked("ticker", market["event_ticker"], f"{field}.event_ticker", where)


# --- the client --------------------------------------------------------------------------------


class Client:
    """GET JSON with a rate limit, bounded retries, a size limit and deadlines; ``sleep`` and
    ``clock`` are injectable (the deadlines themselves run on real time)."""

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
        run_seconds = params.run_timeout_seconds
        self._run_deadline = float("inf") if run_seconds is None else clock() + run_seconds
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
                return self._get_once(url, self._request_seconds(url, 0.0))
            except _Retry as retry:
                reason = str(retry)
                if attempt == self.params.max_attempts:
                    break
                delay = self._delay(attempt, retry.after)
                self._request_seconds(url, delay)  # no waiting past the run's deadline
                log.warning("GET %s: %s; retry %d in %.1f s", url, reason, attempt, delay)
                self._sleep(delay)
        raise FetchError(f"GET {url}: gave up after {self.params.max_attempts} attempts: {reason}")

    def _request_seconds(self, url: str, wait: float) -> float:
        """The time a request starting after ``wait`` seconds may take: its own deadline, cut
        to what is left of the run's; FetchError when the run's is spent by then."""
        left = self._run_deadline - self._clock() - wait
        if left <= 0:
            limit = self.params.run_timeout_seconds
            raise FetchError(f"GET {url}: the run's time limit of {limit:g} s is up.")
        return min(self.params.timeout_seconds, left)

    def _get_once(self, url: str, seconds: float) -> bytes:
        request = urllib.request.Request(
            url, headers={"Accept": "application/json", "User-Agent": "tmaxedge-fetch"}
        )
        with _Watchdog(seconds) as watchdog:
            try:
                with _opener(watchdog).open(request, timeout=seconds) as response:
                    body = read_limited(response, self.params.max_response_bytes, url)
            except urllib.error.HTTPError as error:
                detail = one_line(error.read(200).decode("utf-8", "replace"))
                if error.code == _RETRY_STATUS or error.code >= 500:
                    raise _Retry(f"HTTP {error.code}", error.headers.get("Retry-After")) from None
                raise FetchError(f"GET {url}: HTTP {error.code}: {detail}") from None
            except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
                if not watchdog.fired:
                    failure = one_line(f"{type(error).__name__}: {error}")  # may quote the server
                    raise _Retry(f"connection failed ({failure})") from None
            if watchdog.fired:  # a cut-off read may also have ended like a short body
                raise _Retry(f"no complete response within {seconds:g} s")
        try:
            parse_json(body)
        except ValueError:
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


def read_limited(response: Any, max_bytes: int, url: str) -> bytes:
    """The body of ``response``, refused (FetchError) as soon as it passes ``max_bytes``:
    a declared length is checked first, the bytes read while they stream."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise _too_large(url, max_bytes)
    chunks, size = [], 0
    while chunk := response.read(_CHUNK_BYTES):
        size += len(chunk)
        if size > max_bytes:
            raise _too_large(url, max_bytes)
        chunks.append(chunk)
    return b"".join(chunks)


def one_line(text: str, limit: int = 200) -> str:
    """The first ``limit`` characters of server-written ``text``, each unprintable one (line
    breaks, terminal escapes) as '?', so that an error stays one harmless line."""
    return "".join(c if c.isprintable() else "?" for c in text[:limit])


def _too_large(url: str, max_bytes: int) -> FetchError:
    return FetchError(f"GET {url}: the response is larger than the limit of {max_bytes:,} bytes.")


# --- deadlines ---------------------------------------------------------------------------------
# A socket timeout bounds each read, not a request: a server sending a byte every few seconds
# never trips it. The watchdog shuts the request's sockets down when its time is up, which ends
# any connect, TLS handshake, header or body read under way.


class _Watchdog:
    """Shuts the sockets it watches down ``seconds`` after it is entered."""

    def __init__(self, seconds: float) -> None:
        self.fired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def watch(self, sock: socket.socket) -> None:
        # a duplicate: TLS detaches the socket object it wraps while it shakes hands, and a
        # shutdown through any descriptor of a socket ends every read on it
        with self._lock:
            self._sockets.append(sock.dup())
            if self.fired:
                _shut(self._sockets[-1])

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            for sock in self._sockets:
                _shut(sock)

    def __enter__(self) -> _Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._timer.cancel()
        with self._lock:
            for sock in self._sockets:
                sock.close()


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed by the other side


class _WatchedConnection(http.client.HTTPConnection):
    """Hands its socket to ``watchdog`` as soon as it is connected."""

    watchdog: _Watchdog

    def connect(self) -> None:
        super().connect()
        self.watchdog.watch(self.sock)


class _WatchedHTTPSConnection(http.client.HTTPSConnection, _WatchedConnection):
    """HTTPS: ``HTTPSConnection.connect`` reaches ``_WatchedConnection.connect`` first, so the
    socket is watched before the TLS handshake."""


class _WatchedHandler(urllib.request.AbstractHTTPHandler):
    """Opens its connections as watched ones (one opener per request, one watchdog each)."""

    def __init__(self, watchdog: _Watchdog) -> None:
        super().__init__()
        self.watchdog = watchdog

    def do_open(self, http_class, req, **http_conn_args):
        https = issubclass(http_class, http.client.HTTPSConnection)
        watched = _WatchedHTTPSConnection if https else _WatchedConnection

        def connection(*args: Any, **kwargs: Any) -> http.client.HTTPConnection:
            made = watched(*args, **kwargs)
            made.watchdog = self.watchdog
            return made

        return super().do_open(connection, req, **http_conn_args)


class _WatchedHTTPHandler(_WatchedHandler, urllib.request.HTTPHandler):
    pass


class _WatchedHTTPSHandler(_WatchedHandler, urllib.request.HTTPSHandler):
    pass


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A 3xx stays an HTTP error: a redirect could lead to a host or scheme nothing watches."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _opener(watchdog: _Watchdog) -> urllib.request.OpenerDirector:
    handlers = (_WatchedHTTPHandler(watchdog), _WatchedHTTPSHandler(watchdog), _NoRedirects())
    return urllib.request.build_opener(*handlers)


# --- saving ------------------------------------------------------------------------------------


def saved_content(path: Path, list_key: str) -> dict[str, Any] | None:
    """The JSON of a completely saved response (a dict holding ``list_key``), else None."""
    if not path.is_file():
        return None
    try:
        content = parse_json(path.read_bytes())
    except ValueError:
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
    requested and saved first; checked by ``checked_page`` either way."""
    content = None if refresh else saved_content(target, list_key)
    if content is not None:
        report.n_skipped += 1
        return checked_page(content, list_key, str(target))
    body = client.get(path, query)
    content = checked_page(parse_json(body), list_key, f"GET {client.url(path, query)}")
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
        target = file_in(folder, f"{stem}_p{number:04d}.json")
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


@dataclasses.dataclass(frozen=True)
class Market:
    """What the quote requests need of a listed market, checked."""

    ticker: str
    first: int  # open_time, Unix seconds
    last: int  # close_time, Unix seconds


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
    checked("ticker", series, "series", "fetch kalshi")  # it names files and a request path
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


def _markets_in(files: list[Path], start: dt.date, end: dt.date) -> Iterator[Market]:
    """Markets of saved pages whose event date (from the ticker) lies in [start, end]."""
    for path in files:
        where = str(path)
        for number, item in enumerate(kalshi_markets.load_markets(path.read_text("utf-8"), where)):
            field = f"markets[{number}]"
            ticker = checked("ticker", item.get("ticker"), f"{field}.ticker", where)
            day = _event_day(item.get("event_ticker") or ticker)
            if day is not None and start <= day <= end:
                first, last = (_unix_time(item, n, field, where) for n in _TRADING_WINDOW)
                yield Market(ticker, first, last)


_TRADING_WINDOW = ("open_time", "close_time")


def _event_day(event_ticker: str) -> dt.date | None:
    """The date of ``KXHIGHCHI-25NOV14...``; None when its second part is no date token."""
    parts = event_ticker.split("-")
    try:
        return v.event_date(parts[1]) if len(parts) > 1 else None
    except v.Invalid:
        return None


def _unix_time(item: dict[str, Any], name: str, field: str, where: str) -> int:
    """``item[name]`` (ISO 8601 with a zone) in Unix seconds; else a DataError naming it."""
    try:
        return int(v.iso_utc(item.get(name)).timestamp())
    except v.Invalid:
        value = item.get(name)
        raise DataError(f"{where}: {field}.{name} {value!r} is not ISO 8601 with a zone.") from None


def _get_candles(
    client: Client,
    series: str,
    market: Market,
    source: str,
    out: Path,
    report: FetchReport,
    now: float | None,
) -> list[Path]:
    """1-minute candles over the market's trading window, in chunks of ``_MAX_CANDLES``."""
    if source == "live":
        path = api_path("series", series, "markets", market.ticker, "candlesticks")
    else:
        path = api_path("historical", "markets", market.ticker, "candlesticks")
    files = []
    for low in range(market.first, market.last + 1, _MAX_CANDLES * 60):
        high = min(market.last, low + _MAX_CANDLES * 60 - 60)
        target = file_in(out / "candles", f"{market.ticker}_{low}_{high}.json")
        query = {"start_ts": low, "end_ts": high, "period_interval": 1}
        still_open = high > (time.time() if now is None else now)
        get_saved(client, path, query, target, "candlesticks", report, refresh=still_open)
        files.append(target)
    return files


def _get_trades(
    client: Client, market: Market, source: str, out: Path, report: FetchReport
) -> list[Path]:
    path = "/markets/trades" if source == "live" else "/historical/trades"
    query = {"ticker": market.ticker, "min_ts": market.first, "max_ts": market.last}
    return get_pages(client, path, query, out / "trades", market.ticker, "trades", report)


def _epoch(day: dt.date) -> int:
    return int(dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC).timestamp())
