"""Tests for tmaxedge.inputs.fetch and `tmaxedge fetch kalshi`, against a local replay server.

The server (http.server on 127.0.0.1, one thread, shut down at test end) answers each request
from a script of hand-written responses in the API's format: JSON bodies, error statuses, a
dropped connection, and the hostile ones: a body without end, a response trickled a byte at a
time. No test reaches the internet: every urllib opener refuses any other host.
"""

from __future__ import annotations

import datetime as dt
import http.server
import json
import re
import socket
import threading
import time
import urllib.parse
import urllib.request

import pandas as pd
import pytest
from click.testing import CliRunner

from tmaxedge.cli.main import main
from tmaxedge.core.errors import DataError
from tmaxedge.inputs import fetch

PREFIX = "/trade-api/v2"
SERIES, DAY = "KXHIGHCHI", dt.date(2025, 11, 14)
EVENT = "KXHIGHCHI-25NOV14"
OPEN, CLOSE = 1763046000, 1763182740  # 2025-11-13 15:00 UTC, 2025-11-15 04:59 UTC
# hostile responses end by themselves, so that code without the guards fails in seconds rather
# than hanging: a body without end stops after this many bytes, a trickle after this many bytes
ENDLESS_BYTES = 64 * 2**20  # more than the default limit of 50 MB
TRICKLE_BYTES, TRICKLE_SECONDS = 25, 0.2  # one byte every 0.2 s: 5 s in all


def key(path: str, **query) -> tuple:
    """A request as the server sees it: path without the prefix, sorted query pairs."""
    return path, tuple(sorted((name, str(value)) for name, value in query.items()))


class ReplayServer(http.server.ThreadingHTTPServer):
    """Answers scripted requests; each action is used once, the last one repeats."""

    def __init__(self, script: dict[tuple, list[tuple]]) -> None:
        self.script = {k: list(actions) for k, actions in script.items()}
        self.requests: list[tuple] = []
        self.sent = 0  # bytes of endless bodies written before the client hung up
        self.hostile_done = threading.Event()
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request, client_address) -> None:  # a dropped connection is intended
        pass


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        url = urllib.parse.urlsplit(self.path)
        request = (url.path.removeprefix(PREFIX), tuple(sorted(urllib.parse.parse_qsl(url.query))))
        self.server.requests.append(request)
        actions = self.server.script.get(request) or [("status", 404, {})]
        action = actions.pop(0) if len(actions) > 1 else actions[0]
        if action[0] == "drop":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if action[0] in ("endless", "trickle"):
            try:
                getattr(self, f"_{action[0]}")(*action[1:])
            except OSError:
                pass  # the client hung up, as it should
            self.server.hostile_done.set()
            return
        status, body, headers = (
            (200, action[1], {}) if action[0] == "json" else (action[1], {"error": "x"}, action[2])
        )
        body = action[3] if len(action) > 3 else body  # ("status", code, headers, raw bytes)
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _endless(self, status: int, declared_length: int | None) -> None:
        """A JSON list that goes on (up to ENDLESS_BYTES), its length declared or not."""
        self.send_response(status)
        if declared_length is not None:
            self.send_header("Content-Length", str(declared_length))
        self.end_headers()
        self.wfile.write(b"[")
        chunk = b"0," * 2**15
        for _ in range(ENDLESS_BYTES // len(chunk)):
            self.wfile.write(chunk)
            self.server.sent += len(chunk)

    def _trickle(self, phase: str) -> None:
        """A valid response sent a byte at a time, from its status line or from its body."""
        body = b'{"markets": [], "cursor": ""}'.ljust(2 * TRICKLE_BYTES)
        head = f"HTTP/1.0 200 OK\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        data = head + body
        at_once = len(head) if phase == "body" else 0
        self.wfile.write(data[:at_once])
        for offset in range(at_once, at_once + TRICKLE_BYTES):
            time.sleep(TRICKLE_SECONDS)
            self.wfile.write(data[offset : offset + 1])

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(autouse=True)
def local_only(monkeypatch):
    """Refuse any request that is not to the local replay server (urlopen or any opener)."""
    real = urllib.request.OpenerDirector.open

    def guarded(opener, request, *args, **kwargs):
        url = request.full_url if isinstance(request, urllib.request.Request) else request
        host = urllib.parse.urlsplit(url).hostname
        assert host == "127.0.0.1", f"test tried to reach {host}"
        return real(opener, request, *args, **kwargs)

    monkeypatch.setattr(urllib.request.OpenerDirector, "open", guarded)


@pytest.fixture
def serve():
    """Start replay servers; all are shut down when the test ends."""
    servers = []

    def start(script):
        server = ReplayServer(script)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
        thread.start()
        servers.append((server, thread))
        return server, f"http://127.0.0.1:{server.server_address[1]}{PREFIX}"

    yield start
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def client(base_url: str, sleeps: list, **params) -> fetch.Client:
    # a spacing of 1 ns: any real request takes longer, so the recorded sleeps are the retries'
    # alone, on a loaded machine too (at 1 ms a fast retry was sometimes throttled)
    settings = {
        "requests_per_second": 1e9,
        "backoff_seconds": 0.01,
        "timeout_seconds": 5.0,
        **params,
    }
    return fetch.Client(fetch.FetchParams(base_url=base_url, **settings), sleep=sleeps.append)


# --- recorded-format responses -----------------------------------------------------------------


def market(suffix: str, event: str = EVENT, **strikes) -> dict:
    return {
        "ticker": f"{event}-{suffix}",
        "event_ticker": event,
        "open_time": "2025-11-13T15:00:00Z",
        "close_time": "2025-11-15T04:59:00Z",
        "status": "finalized",
        "result": "no",
        "last_price": 1,
        **strikes,
    }


PAGE_1 = {
    "markets": [
        market("T40", strike_type="less", cap_strike=40),
        market("B40.5", strike_type="between", floor_strike=40, cap_strike=41),
    ],
    "cursor": "c2",
}
PAGE_2 = {
    "markets": [
        market("T41", strike_type="greater", floor_strike=41),
        market("T50", event="KXHIGHCHI-25NOV15", strike_type="greater", floor_strike=50),
    ],
    "cursor": "",
}
HISTORICAL = {"markets": [], "cursor": ""}
TICKERS = [f"{EVENT}-T40", f"{EVENT}-B40.5", f"{EVENT}-T41"]


def candles(ticker: str, bid: int) -> dict:
    return {
        "ticker": ticker,
        "candlesticks": [
            {
                "end_period_ts": 1763136060,
                "yes_bid": {"close": bid, "close_dollars": f"0.{bid:02d}00"},
                "yes_ask": {"close": bid + 2, "close_dollars": f"0.{bid + 2:02d}00"},
                "price": {"close": None, "close_dollars": None},
                "volume": 0,
                "volume_fp": "0.00",
                "open_interest": 10,
                "open_interest_fp": "10.00",
            }
        ],
    }


def markets_key(path: str, cursor: str | None = None) -> tuple:
    query = {
        "series_ticker": SERIES,
        "min_close_ts": 1763078400,
        "max_close_ts": 1763251200,
        "limit": 1000,
    }
    return key(path, **query, **({"cursor": cursor} if cursor else {}))


def candles_key(ticker: str) -> tuple:
    path = f"/series/{SERIES}/markets/{ticker}/candlesticks"
    return key(path, start_ts=OPEN, end_ts=CLOSE, period_interval=1)


def full_script(retry_after: str = "2") -> dict:
    """Two live pages, an empty historical page; a 429 and a dropped connection on the way."""
    return {
        markets_key("/markets"): [("json", PAGE_1)],
        markets_key("/markets", "c2"): [("json", PAGE_2)],
        markets_key("/historical/markets"): [("json", HISTORICAL)],
        candles_key(TICKERS[0]): [
            ("status", 429, {"Retry-After": retry_after}),
            ("json", candles(TICKERS[0], 5)),
        ],
        candles_key(TICKERS[1]): [("drop",), ("json", candles(TICKERS[1], 40))],
        candles_key(TICKERS[2]): [("json", candles(TICKERS[2], 50))],
    }


def run_fetch(base_url: str, out, sleeps: list, **kwargs) -> fetch.FetchReport:
    """A fetch of SERIES on DAY; by default an hour after the markets closed."""
    kwargs.setdefault("now", CLOSE + 3600)
    return fetch.fetch_kalshi(client(base_url, sleeps), SERIES, DAY, DAY, out, **kwargs)


# --- the client --------------------------------------------------------------------------------


def test_client_retries_after_429_honouring_retry_after(serve):
    server, base = serve({key("/x"): [("status", 429, {"Retry-After": "2"}), ("json", {"ok": 1})]})
    sleeps = []
    body = client(base, sleeps).get("/x", {})
    assert json.loads(body) == {"ok": 1}
    assert server.requests == [key("/x"), key("/x")] and sleeps == [2.0]


def test_client_retries_after_a_dropped_connection(serve):
    server, base = serve({key("/x"): [("drop",), ("json", {"ok": 1})]})
    sleeps = []
    assert json.loads(client(base, sleeps).get("/x", {})) == {"ok": 1}
    assert len(server.requests) == 2 and sleeps == [0.01]


def test_client_gives_up_after_max_attempts_with_doubling_backoff(serve):
    server, base = serve({key("/x"): [("status", 503, {})]})
    sleeps = []
    with pytest.raises(fetch.FetchError, match="gave up after 3 attempts: HTTP 503"):
        client(base, sleeps, max_attempts=3).get("/x", {})
    assert len(server.requests) == 3 and sleeps == [0.01, 0.02]


def test_client_does_not_retry_a_client_error(serve):
    server, base = serve({})
    with pytest.raises(fetch.FetchError, match="HTTP 404"):
        client(base, []).get("/missing", {"a": 1})
    assert server.requests == [key("/missing", a=1)]


def test_client_quotes_an_error_body_as_one_printable_line(serve):
    _, base = serve({key("/x"): [("status", 404, {}, b"no\n\x1b[2Jsuch" + b"x" * 10**6)]})
    with pytest.raises(fetch.FetchError) as error:
        client(base, []).get("/x", {})
    shown = ("no??[2Jsuch" + "x" * 10**6)[:200]  # the first 200 characters, escapes made '?'
    assert str(error.value) == f"GET {base}/x: HTTP 404: {shown}"


def test_client_spaces_requests_by_the_rate_limit(serve):
    server, base = serve({key("/x"): [("json", {})]})
    now, sleeps = [0.0], []

    def sleep(seconds):
        sleeps.append(seconds)
        now[0] += seconds

    params = fetch.FetchParams(base_url=base, requests_per_second=2.0, timeout_seconds=5.0)
    api = fetch.Client(params, sleep=sleep, clock=lambda: now[0])
    for _ in range(3):
        api.get("/x", {})
    assert sleeps == [0.5, 0.5] and len(server.requests) == 3


# --- a Kalshi run ------------------------------------------------------------------------------


def test_fetch_kalshi_follows_the_cursor_and_saves_raw_pages_before_import(serve, tmp_path):
    server, base = serve(full_script())
    sleeps = []
    report = run_fetch(base, tmp_path, sleeps)
    assert server.requests == [
        markets_key("/markets"),
        markets_key("/markets", "c2"),
        candles_key(TICKERS[0]),
        candles_key(TICKERS[0]),  # 429, then the candles
        candles_key(TICKERS[1]),
        candles_key(TICKERS[1]),  # dropped, then the candles
        candles_key(TICKERS[2]),  # the 25NOV15 market is outside the dates: no candles
        markets_key("/historical/markets"),
    ]
    assert [p.name for p in report.markets] == [
        "KXHIGHCHI_2025-11-14_2025-11-14_live_p0001.json",
        "KXHIGHCHI_2025-11-14_2025-11-14_live_p0002.json",
        "KXHIGHCHI_2025-11-14_2025-11-14_historical_p0001.json",
    ]
    assert json.loads(report.markets[1].read_text()) == PAGE_2  # saved as received
    assert [p.name for p in report.candles] == [f"{t}_{OPEN}_{CLOSE}.json" for t in TICKERS]
    assert (report.n_saved, report.n_skipped, report.n_retries) == (6, 0, 2)
    assert not list(tmp_path.rglob("*.tmp"))


def test_fetch_kalshi_resumes_without_requesting_saved_pages(serve, tmp_path):
    _, base = serve(full_script())
    first = run_fetch(base, tmp_path, [])
    first.markets[1].unlink()  # as if the run had stopped after page 1 and two candle files
    first.candles[2].unlink()
    server, base = serve(
        {
            markets_key("/markets", "c2"): [("json", PAGE_2)],
            candles_key(TICKERS[2]): [("json", candles(TICKERS[2], 50))],
        }
    )
    again = run_fetch(base, tmp_path, [])
    assert server.requests == [markets_key("/markets", "c2"), candles_key(TICKERS[2])]
    assert (again.n_saved, again.n_skipped) == (2, 4)
    assert again.candles == first.candles


def test_fetch_kalshi_requests_candles_of_open_markets_again(serve, tmp_path):
    _, base = serve(full_script())
    run_fetch(base, tmp_path, [])
    server, base = serve({k: v for k, v in full_script().items() if k in map(candles_key, TICKERS)})
    run_fetch(base, tmp_path, [], sources=("live",), now=CLOSE - 60)  # before the close
    again = (
        [candles_key(TICKERS[0])] * 2 + [candles_key(TICKERS[1])] * 2 + [candles_key(TICKERS[2])]
    )
    assert server.requests == again  # every candle file (429 and drop replayed), no market page


def test_fetch_kalshi_pages_trades_when_asked(serve, tmp_path):
    trades_key = key("/markets/trades", ticker=TICKERS[0], min_ts=OPEN, max_ts=CLOSE, limit=1000)
    trade = {
        "ticker": TICKERS[0],
        "created_time": "2025-11-14T17:00:10Z",
        "yes_price": 8,
        "count": 3,
    }
    script = {
        markets_key("/markets"): [("json", {"markets": PAGE_1["markets"][:1], "cursor": ""})],
        trades_key: [("json", {"trades": [trade], "cursor": "t2"})],
        (trades_key[0], tuple(sorted((*trades_key[1], ("cursor", "t2"))))): [
            ("json", {"trades": [], "cursor": ""})
        ],
    }
    server, base = serve(script)
    report = run_fetch(base, tmp_path, [], sources=("live",), quotes_from="trades")
    assert [p.name for p in report.trades] == [
        f"{TICKERS[0]}_p0001.json",
        f"{TICKERS[0]}_p0002.json",
    ]
    assert len(server.requests) == 3


def fetch_command(base_url: str, out, *options: str):
    """`tmaxedge fetch kalshi` of SERIES on DAY into ``out``, as CliRunner's result."""
    days = ["--start", DAY.isoformat(), "--end", DAY.isoformat()]
    where = ["--out", str(out), "--base-url", base_url]
    return CliRunner().invoke(
        main, ["fetch", "kalshi", "--series", SERIES, *days, *where, *options]
    )


def test_fetch_command_saves_then_imports_the_contract_tables(serve, tmp_path):
    _, base = serve(full_script(retry_after="0"))  # the command really sleeps
    raw, external = tmp_path / "raw", tmp_path / "external"
    result = fetch_command(
        base,
        raw,
        *["--rate", "1000", "--backoff", "0", "--import-to", str(external)],
        *["--params", str(tmp_path / "none.yaml")],
    )
    assert result.exit_code == 0, result.output
    markets = pd.read_parquet(external / "markets.parquet")
    quotes = pd.read_parquet(external / "quotes.parquet")
    assert sorted(markets["ticker"]) == sorted(TICKERS)  # 25NOV15 left out: outside the dates
    assert sorted(quotes["yes_bid"]) == [5, 40, 50]
    assert "3 candle files" in result.output


def test_fetch_command_fails_with_the_http_error(serve, tmp_path):
    _, base = serve({})
    result = fetch_command(base, tmp_path)
    assert result.exit_code == 2
    assert "tmaxedge: GET " in result.output and "HTTP 404" in result.output
    assert not list(tmp_path.rglob("*.json"))


# --- hostile servers and files -----------------------------------------------------------------


def one_line_failure(result) -> str:
    """The message of a command that failed on what it was given: exit 2, one line, no trace."""
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    last = result.output.rstrip("\n").splitlines()[-1]
    assert last.startswith("tmaxedge: ") and "Traceback" not in result.output
    return last


def page(*markets: dict, cursor="") -> dict:
    return {"markets": list(markets), "cursor": cursor}


def files_in(folder) -> list:
    return sorted(p for p in folder.rglob("*") if p.is_file())


HOSTILE_TICKERS = {
    "parent": "../../../x",
    "absolute": "{tmp}/elsewhere/x",
    "query": f"{EVENT}-T40?x=1",
    "fragment": f"{EVENT}-T40#x",
    "lowercase": f"{EVENT}-t40",
    "dot-dot": "..",
}


@pytest.mark.parametrize("ticker", HOSTILE_TICKERS.values(), ids=HOSTILE_TICKERS.keys())
def test_fetch_kalshi_refuses_a_ticker_that_could_leave_out_or_change_the_url(
    serve, tmp_path, ticker
):
    ticker = ticker.format(tmp=tmp_path)
    # the server also answers the candle request as code without the check would send it
    server, base = serve(
        {
            markets_key("/markets"): [("json", page({**market("T40"), "ticker": ticker}))],
            candles_key(ticker): [("json", candles(ticker, 5))],
        }
    )
    out = tmp_path / "deep" / "out"
    message = f"markets[0].ticker {ticker!r} is not a Kalshi ticker"
    with pytest.raises(DataError, match=f"^GET {re.escape(base)}/markets.*{re.escape(message)}"):
        run_fetch(base, out, [], sources=("live",))
    assert server.requests == [markets_key("/markets")]
    assert files_in(tmp_path) == []  # the page is refused before it is saved


def test_fetch_kalshi_refuses_a_saved_page_with_a_hostile_ticker(serve, tmp_path):
    saved = tmp_path / "markets" / f"{SERIES}_{DAY}_{DAY}_live_p0001.json"
    saved.parent.mkdir()
    saved.write_text(json.dumps(page({**market("T40"), "ticker": "../../x"})))
    server, base = serve({})
    message = "markets[0].ticker '../../x' is not a Kalshi ticker"
    with pytest.raises(DataError, match=f"^{re.escape(f'{saved}: {message}')}"):
        run_fetch(base, tmp_path, [], sources=("live",))
    assert server.requests == [] and files_in(tmp_path) == [saved]


def test_api_path_percent_encodes_every_part():
    assert fetch.api_path("series", "A?b#c/d", "e f") == "/series/A%3Fb%23c%2Fd/e%20f"


@pytest.mark.parametrize("name", ["../x.json", "/x.json", "a/x.json", ".x.json"])
def test_file_in_refuses_a_name_that_leaves_its_folder(tmp_path, name):
    with pytest.raises(DataError, match="refusing to save a file named"):
        fetch.file_in(tmp_path, name)


def _without(fields: dict, name: str) -> dict:
    return {k: value for k, value in fields.items() if k != name}


BAD_PAGES = {  # a live markets page -> (where the error is found, what it says)
    "no markets list": ({"cursor": ""}, "url", "the response has no 'markets' list"),
    "markets not a list": ({"markets": {}}, "url", "the response has no 'markets' list"),
    "market not an object": (page("x"), "url", "markets[0] is not an object"),
    "ticker missing": (
        page(_without(market("T40"), "ticker")),
        "url",
        "markets[0].ticker is missing",
    ),
    "ticker a number": (
        page({**market("T40"), "ticker": 40}),
        "url",
        "markets[0].ticker 40 is not",
    ),
    "event ticker hostile": (
        page({**market("T40"), "event_ticker": "../x"}),
        "url",
        "markets[0].event_ticker '../x' is not a Kalshi ticker",
    ),
    "cursor a list": (page(market("T40"), cursor=["c2"]), "url", "cursor ['c2'] is not a cursor"),
    "cursor with a space": (
        page(market("T40"), cursor="c 2"),
        "url",
        "cursor 'c 2' is not a cursor",
    ),
    "open_time missing": (
        page(_without(market("T40"), "open_time")),
        "file",
        "markets[0].open_time None is not ISO 8601 with a zone",
    ),
    "close_time a number": (
        page({**market("T40"), "close_time": CLOSE}),
        "file",
        f"markets[0].close_time {CLOSE} is not ISO 8601 with a zone",
    ),
}


@pytest.mark.parametrize("content, where, message", BAD_PAGES.values(), ids=BAD_PAGES.keys())
def test_fetch_kalshi_names_the_url_or_file_and_the_field_of_a_bad_page(
    serve, tmp_path, content, where, message
):
    _, base = serve({markets_key("/markets"): [("json", content)]})
    saved = tmp_path / "markets" / f"{SERIES}_{DAY}_{DAY}_live_p0001.json"
    # market times are read from the saved page, and only for markets within the dates
    prefix = f"{saved}: " if where == "file" else f"GET {base}/markets?"
    with pytest.raises(DataError, match=f"^{re.escape(prefix)}.*{re.escape(message)}"):
        run_fetch(base, tmp_path, [], sources=("live",))


def test_fetch_command_fails_in_one_line_on_a_market_without_its_ticker(serve, tmp_path):
    _, base = serve({markets_key("/markets"): [("json", page(_without(market("T40"), "ticker")))]})
    line = one_line_failure(fetch_command(base, tmp_path, "--source", "live"))
    assert (
        line.startswith(f"tmaxedge: GET {base}/markets?") and "markets[0].ticker is missing" in line
    )


def test_fetch_command_fails_in_one_line_when_every_markets_page_is_empty(serve, tmp_path):
    empty = ("json", page())
    _, base = serve({markets_key("/markets"): [empty], markets_key("/historical/markets"): [empty]})
    options = ["--import-to", str(tmp_path / "external"), "--params", str(tmp_path / "none.yaml")]
    line = one_line_failure(fetch_command(base, tmp_path / "raw", *options))
    assert line.endswith("no markets (every 'markets' list is empty).")
    assert f"{SERIES}_{DAY}_{DAY}_live_p0001.json" in line
    assert not (tmp_path / "external").exists()


@pytest.mark.parametrize(
    "status, declared_length, limit, message",
    [
        (200, None, None, "the response is larger than the limit of 50,000,000 bytes"),
        (200, None, 100_000, "the response is larger than the limit of 100,000 bytes"),
        (200, 10**12, 100_000, "the response is larger than the limit of 100,000 bytes"),
        (404, None, 100_000, "HTTP 404: [0,0,"),  # an error body: its first 200 bytes only
    ],
    ids=["default-limit", "streamed", "declared", "error-body"],
)
def test_client_stops_reading_an_endless_body(serve, status, declared_length, limit, message):
    server, base = serve({key("/x"): [("endless", status, declared_length)]})
    api = client(base, [], max_attempts=1, **({"max_response_bytes": limit} if limit else {}))
    with pytest.raises(fetch.FetchError, match=re.escape(f"GET {base}/x: {message}")):
        api.get("/x", {})
    assert server.hostile_done.wait(10)
    assert server.sent < ENDLESS_BYTES  # the client hung up while the body was streaming


def test_client_does_not_retry_a_response_past_the_size_limit(serve):
    server, base = serve({key("/x"): [("endless", 200, None)]})
    with pytest.raises(fetch.FetchError, match="larger than the limit of 1,000 bytes"):
        client(base, [], max_response_bytes=1000).get("/x", {})
    assert len(server.requests) == 1  # the same request would be as large


@pytest.mark.parametrize("phase", ["headers", "body"])
def test_client_stops_a_trickling_server_at_the_request_deadline(serve, phase):
    server, base = serve({key("/x"): [("trickle", phase)]})
    started = time.monotonic()
    with pytest.raises(fetch.FetchError, match="attempts: no complete response within 1 s"):
        client(base, [], timeout_seconds=1.0, max_attempts=1).get("/x", {})
    assert time.monotonic() - started < 3  # the trickle would take 5 s
    assert server.hostile_done.wait(10)


def test_client_stops_retrying_at_the_run_deadline(serve):
    server, base = serve({key("/x"): [("trickle", "body")]})
    api = client(base, [], timeout_seconds=0.5, run_timeout_seconds=1.2, max_attempts=10)
    started = time.monotonic()
    with pytest.raises(fetch.FetchError, match="the run's time limit of 1.2 s is up"):
        api.get("/x", {})
    assert time.monotonic() - started < 3
    assert 2 <= len(server.requests) <= 3  # 0.5 s, 0.5 s, then what is left of the 1.2 s


def test_fetch_command_stops_a_trickling_server_at_timeout(serve, tmp_path):
    _, base = serve({markets_key("/markets"): [("trickle", "body")]})
    started = time.monotonic()
    options = ["--source", "live", "--timeout", "1", "--max-attempts", "1"]
    line = one_line_failure(fetch_command(base, tmp_path, *options))
    assert time.monotonic() - started < 3
    assert line.endswith("gave up after 1 attempts: no complete response within 1 s")
    assert files_in(tmp_path) == []
