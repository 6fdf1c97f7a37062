"""Tests for tmaxedge.inputs.fetch and `tmaxedge fetch kalshi`, against a local replay server.

The server (http.server on 127.0.0.1, one thread, shut down at test end) answers each request
from a script of hand-written responses in the API's format: JSON bodies, error statuses, or a
dropped connection. No test reaches the internet: `urlopen` refuses any other host.
"""

from __future__ import annotations

import datetime as dt
import http.server
import json
import socket
import threading
import urllib.parse
import urllib.request

import pandas as pd
import pytest
from click.testing import CliRunner

from tmaxedge.cli.main import main
from tmaxedge.inputs import fetch

PREFIX = "/trade-api/v2"
SERIES, DAY = "KXHIGHCHI", dt.date(2025, 11, 14)
EVENT = "KXHIGHCHI-25NOV14"
OPEN, CLOSE = 1763046000, 1763182740  # 2025-11-13 15:00 UTC, 2025-11-15 04:59 UTC


def key(path: str, **query) -> tuple:
    """A request as the server sees it: path without the prefix, sorted query pairs."""
    return path, tuple(sorted((name, str(value)) for name, value in query.items()))


class ReplayServer(http.server.ThreadingHTTPServer):
    """Answers scripted requests; each action is used once, the last one repeats."""

    def __init__(self, script: dict[tuple, list[tuple]]) -> None:
        self.script = {k: list(actions) for k, actions in script.items()}
        self.requests: list[tuple] = []
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
        status, body, headers = (
            (200, action[1], {}) if action[0] == "json" else (action[1], {"error": "x"}, action[2])
        )
        data = json.dumps(body).encode()
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(autouse=True)
def local_only(monkeypatch):
    """Refuse any request that is not to the local replay server."""
    real = urllib.request.urlopen

    def guarded(request, *args, **kwargs):
        host = urllib.parse.urlsplit(request.full_url).hostname
        assert host == "127.0.0.1", f"test tried to reach {host}"
        return real(request, *args, **kwargs)

    monkeypatch.setattr(urllib.request, "urlopen", guarded)


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


def test_fetch_command_saves_then_imports_the_contract_tables(serve, tmp_path):
    _, base = serve(full_script(retry_after="0"))  # the command really sleeps
    raw, external = tmp_path / "raw", tmp_path / "external"
    result = CliRunner().invoke(
        main,
        [
            "fetch",
            "kalshi",
            "--series",
            SERIES,
            "--start",
            "2025-11-14",
            "--end",
            "2025-11-14",
            "--out",
            str(raw),
            "--base-url",
            base,
            "--rate",
            "1000",
            "--backoff",
            "0",
            "--import-to",
            str(external),
            "--params",
            str(tmp_path / "none.yaml"),
        ],
    )
    assert result.exit_code == 0, result.output
    markets = pd.read_parquet(external / "markets.parquet")
    quotes = pd.read_parquet(external / "quotes.parquet")
    assert sorted(markets["ticker"]) == sorted(TICKERS)  # 25NOV15 left out: outside the dates
    assert sorted(quotes["yes_bid"]) == [5, 40, 50]
    assert "3 candle files" in result.output


def test_fetch_command_fails_with_the_http_error(serve, tmp_path):
    _, base = serve({})
    result = CliRunner().invoke(
        main,
        [
            "fetch",
            "kalshi",
            "--series",
            SERIES,
            "--start",
            "2025-11-14",
            "--end",
            "2025-11-14",
            "--out",
            str(tmp_path),
            "--base-url",
            base,
        ],
    )
    assert result.exit_code == 2
    assert "tmaxedge: GET " in result.output and "HTTP 404" in result.output
    assert not list(tmp_path.rglob("*.json"))
