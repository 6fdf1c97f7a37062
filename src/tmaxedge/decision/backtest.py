"""Maker-first backtest of the walk-forward predictions on the recorded 1-minute quotes.

At every decision row (one per model, market and ``every_minutes``) with a prediction and a book,
the strategy posts one limit buy on the side with the larger edge after fees:

- YES at the bid, or 1¢ inside it (``bid + 1``) when the spread is at least
  ``improve_when_spread_at_least`` and ``bid + 1 < ask``;
- NO at ``100 - ask`` (the same as selling YES at the ask), or 1¢ better under the same rule.

``edge = 100 * q - price - fee per contract`` with ``q = p_model`` for YES and ``1 - p_model`` for
NO; the order goes out only if ``edge >= min_edge_cents``. A resting order lives until the next
decision row of its market (it is then cancelled or replaced), or ``order_lifetime_minutes``, or
the close, whichever comes first.

Fills are maker fills, judged conservatively on quote rows stamped strictly after the order time
and no later than its expiry (never on the row the decision saw, never after close): a YES buy at
``P`` fills when a later row shows ``yes_ask <= P`` (a seller crossed to us) or a trade printed at
``price < P`` (the level traded through); a NO buy at ``N`` fills when ``yes_bid >= 100 - N`` or a
trade printed above ``100 - N``. A trade *at* our price is a touch and does not fill us. Fills are
at the order's price and for the full size: partial fills and queue position are not modelled,
which is optimistic at a cross, and requiring a trade-through (not a touch) is the conservative
counterweight.

With ``taker_fallback``, a decision row within ``taker_minutes_to_close`` of the close first
checks the taker price (YES at the ask, NO at ``100 - bid``, paying ``taker_fee_rate``); if that
edge clears ``min_edge_cents`` it takes immediately, filled at the decision time, instead of
posting a maker order (at a decision row the previous maker order has just been cancelled, so no
maker order of ours is live). The displayed size is not known, so takes are also full size.

Sizing is fractional Kelly on the bankroll at the start of the order's UTC day (initial bankroll
plus the P&L of markets that closed on earlier days): for a contract costing ``c`` (price plus fee,
as a probability) that wins with probability ``q``, ``f* = (q - c) / (1 - c)`` and
``contracts = floor(kelly_fraction * f* * bankroll / c)``. Each order is sized on its own (no
portfolio Kelly, no cash lock-up for open positions). Positions only grow: nothing is sold before
settlement. Caps count filled contracts plus resting orders, gross of side (YES and NO contracts
of one market both count): ``max_position`` per market, ``max_event_position`` per event. After
sizing, the edge is checked again with the real fee rounded up to the cent for that size
(:func:`tmaxedge.fees.fee_cents`, the fee the fill is then charged).

Markets settle at their close (decision time + ``minutes_to_close``): YES pays 100¢ if ``y = 1``,
NO pays 100¢ if ``y = 0``; ``pnl = payout - cost - fee``. Daily P&L is booked on the UTC date of
the close.

The market-only baseline runs the same strategy with ``p_model`` replaced by ``p_market`` (model
name ``"market"``). Quoting a book at its own mid earns at most half the spread, so with spreads of
1-3¢ it finds no edge of 1¢ or more; on wider books it does post, and the trade-through fill rule
makes those fills pay for the adverse selection a real maker meets.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tmaxedge.core.errors import DataError, data_error
from tmaxedge.core.params import Boolean, Interval, Nullable, Params, declare
from tmaxedge.decision.fees import fee_cents, fee_per_contract_cents

MARKET_MODEL = "market"
PREDICTION_COLUMNS = [
    "model",
    "window",
    "city",
    "bracket",
    "timestamp",
    "market_ticker",
    "p_model",
    "p_market",
    "y",
    "minutes_to_close",
    "event_ticker",
    "yes_bid",
    "yes_ask",
]
QUOTE_COLUMNS = ["ticker", "ts", "yes_bid", "yes_ask", "price"]
TRADE_COLUMNS = [
    "model",
    "market_ticker",
    "event_ticker",
    "city",
    "bracket",
    "order_time",
    "fill_time",
    "close_time",
    "side",
    "liquidity",
    "price_cents",
    "contracts",
    "fee_cents",
    "edge_cents",
    "filled",
    "y",
    "pnl_cents",
]
DAILY_COLUMNS = ["model", "date", "pnl_dollars", "bankroll"]
METRIC_KEYS = (
    "net_pnl",
    "return",
    "daily_sharpe",
    "max_drawdown",
    "n_orders",
    "n_fills",
    "n_taker_fills",
    "fill_rate",
    "mean_edge_at_fill_cents",
    "fees",
)

_MINUTE_NS = 60 * 10**9
_DAY_NS = 86_400 * 10**9
_EPS = 1e-9  # float slack when comparing an edge with min_edge or flooring a Kelly size


@dataclass(frozen=True)
class BacktestParams(Params):
    """params.yaml ``backtest``: bankroll, sizing, quoting and fee rules of the backtest."""

    # explicit upper bounds where infinity must stay refused
    constraints = declare(
        bankroll=Interval(float, 0, math.inf, closed="neither"),
        kelly_fraction=Interval(float, 0, 1, closed="right"),
        min_edge_cents=Interval(float, 0, 100, closed="left"),
        max_position=Interval(int, 1, None),
        max_event_position=Interval(int, 1, None),
        improve_when_spread_at_least=Interval(int, 2, None),
        order_lifetime_minutes=Nullable(Interval(int, 1, None)),
        taker_fallback=Boolean(),
        taker_minutes_to_close=Interval(float, 0, math.inf, closed="neither"),
        taker_fee_rate=Interval(float, 0, 1),
        maker_fee_rate=Interval(float, 0, 1),
    )
    bankroll: float = 10_000.0  # dollars
    kelly_fraction: float = 0.25
    min_edge_cents: float = 2.0
    max_position: int = 100  # contracts per market
    max_event_position: int = 200  # contracts per event (city-day)
    improve_when_spread_at_least: int = 2  # post 1¢ inside the touch when the spread is this wide
    order_lifetime_minutes: int | None = None  # None: until the next decision row
    taker_fallback: bool = False
    taker_minutes_to_close: float = 30.0
    taker_fee_rate: float = 0.07
    maker_fee_rate: float = 0.0  # KXHIGH series pay no maker fee


@dataclass(frozen=True)
class BacktestResult:
    """``trades``: every order placed (filled or not); ``daily``: P&L and bankroll per model and
    UTC day; ``metrics``: per model (and ``"market"``), the keys of ``METRIC_KEYS``."""

    trades: pd.DataFrame
    daily: pd.DataFrame
    metrics: dict[str, dict[str, float]]


def market_baseline(predictions: pd.DataFrame) -> pd.DataFrame:
    """The decision rows with ``p_model`` replaced by ``p_market`` and ``model = "market"``:
    one row per (market, decision time), taken from the first model (by name) that has it."""
    rows = predictions.sort_values(
        ["market_ticker", "timestamp", "model"], kind="mergesort", ignore_index=True
    ).drop_duplicates(["market_ticker", "timestamp"], keep="first", ignore_index=True)
    rows["model"] = MARKET_MODEL
    rows["p_model"] = rows["p_market"].to_numpy(float, na_value=np.nan)
    return rows


def run_backtest(
    predictions: pd.DataFrame,
    quotes: pd.DataFrame,
    params: BacktestParams,
    include_market: bool = True,
) -> BacktestResult:
    """Run the maker-first strategy for every model in ``predictions`` (and, with
    ``include_market``, the market-only baseline) against ``quotes``; see the module docstring
    for the rules.

    ``predictions`` holds one row per (model, market, decision time); ``quotes`` the contract
    quotes table (only ``ticker, ts, yes_bid, yes_ask, price`` are read). Models share nothing:
    each has its own bankroll. ``daily`` covers every UTC day from the first decision to the last
    close, the same days for every model, zero where nothing settled.

    Returns a ``BacktestResult``; ``trades`` sorted by model, order time and market.
    Raises ``DataError`` on missing columns, naive timestamps, duplicate decision rows,
    ``y`` outside {0, 1} or ``p_model`` outside [0, 1].
    """
    _check_predictions(predictions)
    _check_quotes(quotes)
    book = _QuoteBook.from_quotes(quotes)
    frames = {str(model): rows for model, rows in predictions.groupby("model", sort=True)}
    if include_market:
        if MARKET_MODEL in frames:
            raise DataError(
                f"predictions: model name '{MARKET_MODEL}' is reserved for the baseline; rename it."
            )
        frames[MARKET_MODEL] = market_baseline(predictions)
    days = _calendar(predictions)
    ledgers, dailies, metrics = [], [], {}
    for model, rows in frames.items():
        ledger = _backtest_model(rows, book, params)
        daily = _daily_pnl(ledger, days, params.bankroll)
        daily.insert(0, "model", model)
        ledgers.append(ledger)
        dailies.append(daily)
        metrics[model] = _metrics(ledger, daily, params.bankroll)
    trades = pd.concat(ledgers, ignore_index=True) if ledgers else _empty_ledger()
    trades = trades.sort_values(
        ["model", "order_time", "market_ticker"], kind="mergesort", ignore_index=True
    )
    if dailies:
        daily = pd.concat(dailies, ignore_index=True)
    else:
        daily = pd.DataFrame(columns=DAILY_COLUMNS)
    return BacktestResult(trades=trades, daily=daily[DAILY_COLUMNS], metrics=metrics)


# --- checks -----------------------------------------------------------------------------------


def _check_predictions(frame: pd.DataFrame) -> None:
    missing = [c for c in PREDICTION_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"predictions: missing column(s) {missing}.")
    if not isinstance(frame["timestamp"].dtype, pd.DatetimeTZDtype):
        raise DataError("predictions: column 'timestamp' must be a timezone-aware UTC timestamp.")
    keys = ["model", "market_ticker", "timestamp"]
    duplicated = frame.duplicated(keys, keep=False)
    if duplicated.any():
        raise data_error(
            "predictions",
            ", ".join(keys),
            "must be unique (one decision per row)",
            frame.loc[duplicated, keys],
            len(frame),
        )
    y = frame["y"].to_numpy(float, na_value=np.nan)
    bad_y = ~np.isin(y, [0.0, 1.0])
    if bad_y.any():
        shown = frame.loc[bad_y, ["market_ticker", "timestamp", "y"]]
        rule = "must be 0 or 1 (the settled outcome)"
        raise data_error("predictions", "y", rule, shown, len(frame))
    p = frame["p_model"].to_numpy(float, na_value=np.nan)
    bad_p = (p < 0) | (p > 1)
    if bad_p.any():
        raise data_error(
            "predictions",
            "p_model",
            "must be a probability in [0, 1] or NaN",
            frame.loc[bad_p, ["model", "market_ticker", "timestamp", "p_model"]],
            len(frame),
        )


def _check_quotes(frame: pd.DataFrame) -> None:
    missing = [c for c in QUOTE_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"quotes: missing column(s) {missing}.")
    if len(frame) and not isinstance(frame["ts"].dtype, pd.DatetimeTZDtype):
        raise DataError("quotes: column 'ts' must be a timezone-aware UTC timestamp.")


def _ns(values) -> np.ndarray:
    """Timestamps as int64 nanoseconds since the epoch (UTC)."""
    return pd.DatetimeIndex(values).as_unit("ns").asi8.copy()


def _timestamps(ns: np.ndarray) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(ns.astype("datetime64[ns]")).tz_localize("UTC")


# --- quotes -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _QuoteBook:
    """Quote rows sorted by (ticker, ts) with, per row, the best YES buy and NO buy it fills."""

    names: pd.Index  # ticker of each code
    ts: np.ndarray  # int64 ns
    starts: np.ndarray  # first row of each code
    ends: np.ndarray  # one past the last row of each code
    yes_level: np.ndarray  # a YES buy at P fills on this row iff yes_level <= P
    no_level: np.ndarray  # a YES sell at S (NO buy at 100 - S) fills iff no_level >= S

    @classmethod
    def from_quotes(cls, quotes: pd.DataFrame) -> _QuoteBook:
        ticker = quotes["ticker"]
        if isinstance(ticker.dtype, pd.CategoricalDtype):
            codes, names = ticker.cat.codes.to_numpy(np.int64), pd.Index(ticker.cat.categories)
        else:
            codes, names = pd.factorize(ticker, sort=True)
            names = pd.Index(names)
        codes = np.asarray(codes, dtype=np.int64)
        ts = _ns(quotes["ts"]) if len(quotes) else np.empty(0, np.int64)
        step_code, step_ts = np.diff(codes), np.diff(ts)
        if (step_code >= 0).all() and (step_ts[step_code == 0] >= 0).all():
            order = slice(None)  # already sorted by (ticker, ts), as ingest writes it
        else:
            order = np.lexsort((ts, codes))
        codes, ts = codes[order], ts[order]
        bid, ask, price = (
            quotes[c].to_numpy(float, na_value=np.nan)[order]
            for c in ("yes_bid", "yes_ask", "price")
        )
        # A trade strictly below P is a trade at <= P - 1; strictly above S is >= S + 1.
        yes_level = np.nan_to_num(np.fmin(ask, price + 1), nan=np.inf)
        no_level = np.nan_to_num(np.fmax(bid, price - 1), nan=-np.inf)
        span = np.arange(len(names))
        starts = np.searchsorted(codes, span, side="left")
        ends = np.searchsorted(codes, span, side="right")
        return cls(names, ts, starts, ends, yes_level, no_level)

    def first_cross(
        self,
        tickers: np.ndarray,
        after: np.ndarray,
        until: np.ndarray,
        buy_yes: np.ndarray,
        price: np.ndarray,
    ) -> np.ndarray:
        """Time (ns) of the first row in ``(after, until]`` that fills each order, else -1."""
        n = len(tickers)
        lo = np.zeros(n, np.int64)
        hi = np.zeros(n, np.int64)
        codes = self.names.get_indexer(pd.Index(tickers))
        for code in np.unique(codes[codes >= 0]):  # per-ticker searchsorted
            at = np.flatnonzero(codes == code)
            start, end = self.starts[code], self.ends[code]
            times = self.ts[start:end]
            lo[at] = start + np.searchsorted(times, after[at], side="right")
            hi[at] = start + np.searchsorted(times, until[at], side="right")
        fill = np.full(n, -1, np.int64)
        active = np.flatnonzero(lo < hi)
        step = 0
        while active.size:  # windows are a few rows long: walk them in lockstep
            row = lo[active] + step
            inside = row < hi[active]
            active, row = active[inside], row[inside]
            hit = np.where(
                buy_yes[active],
                self.yes_level[row] <= price[active],
                self.no_level[row] >= 100 - price[active],
            )
            fill[active[hit]] = self.ts[row[hit]]
            active = active[~hit]
            step += 1
        return fill


# --- one model --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Decisions:
    place: np.ndarray  # bool: an order is wanted at this row
    buy_yes: np.ndarray
    taker: np.ndarray
    price: np.ndarray  # int cents of the contract bought (YES or NO)
    gross_edge: np.ndarray  # 100 q - price, cents, before fees
    fee_rate: np.ndarray  # the maker or the taker rate, as the row trades
    kelly: np.ndarray  # contracts per bankroll dollar


def _decide(
    p: np.ndarray,
    bid: np.ndarray,
    ask: np.ndarray,
    minutes_to_close: np.ndarray,
    params: BacktestParams,
) -> _Decisions:
    """Side, price and edge of the order each decision row wants (vectorised)."""
    has_book, bid, ask = _priced_book(bid, ask)
    usable = has_book & ~np.isnan(p) & (minutes_to_close > 0) & (bid < ask)
    p = np.where(usable, p, 0.5)
    improve = (ask - bid) >= params.improve_when_spread_at_least
    yes_price = bid + (improve & (bid + 1 < ask))
    no_price = (100 - ask) + (improve & (ask - 1 > bid))
    maker_yes_edge = _edge(100 * p, yes_price, params.maker_fee_rate)
    maker_no_edge = _edge(100 * (1 - p), no_price, params.maker_fee_rate)
    buy_yes = maker_yes_edge >= maker_no_edge - _EPS  # ties (to float error) go to YES
    price = np.where(buy_yes, yes_price, no_price)
    edge = np.maximum(maker_yes_edge, maker_no_edge)
    rate = np.full(len(p), params.maker_fee_rate)
    place = usable & (edge >= params.min_edge_cents - _EPS)
    taker = np.zeros(len(p), bool)
    if params.taker_fallback:
        near = usable & (minutes_to_close <= params.taker_minutes_to_close)
        take_yes_edge, take_no_edge = taker_edges(p, bid, ask, params.taker_fee_rate)
        take_yes = take_yes_edge >= take_no_edge - _EPS
        take_edge = np.maximum(take_yes_edge, take_no_edge)
        taker = near & (take_edge >= params.min_edge_cents - _EPS)
        buy_yes = np.where(taker, take_yes, buy_yes)
        price = np.where(taker, np.where(take_yes, ask, 100 - bid), price)
        rate = np.where(taker, params.taker_fee_rate, rate)
        place |= taker
    q = np.where(buy_yes, p, 1 - p)
    cost = (price + fee_per_contract_cents(price, rate)) / 100  # dollars per contract, fee included
    with np.errstate(divide="ignore", invalid="ignore"):
        kelly_f = np.clip((q - cost) / (1 - cost), 0, 1)
        kelly = np.where(place, params.kelly_fraction * kelly_f / cost, 0.0)
    return _Decisions(place, buy_yes, taker, price.astype(np.int64), 100 * q - price, rate, kelly)


EDGE_SIDES = ("yes", "no")


def taker_edges(
    p: np.ndarray, bid: np.ndarray, ask: np.ndarray, rate: float
) -> tuple[np.ndarray, np.ndarray]:
    """Edge per contract, in cents after the fee, of buying YES at the ask and NO at ``100 -
    bid`` when the model says ``p``: the brief's "predicted edge after costs" on each side."""
    return _edge(100 * p, ask, rate), _edge(100 * (1 - p), 100 - bid, rate)


def predicted_edges(diagnostics: pd.DataFrame, fee_rate: float, min_edge: float) -> pd.DataFrame:
    """Per model, the mean predicted edge after costs of each side where the model would take it.

    ``diagnostics`` holds ``model``, ``p_model``, ``yes_bid``, ``yes_ask`` and
    ``minutes_to_close`` (edge_diagnostics.parquet). The edge is the brief's: buying YES at the
    ask, ``100 p - ask - fee``, and NO at ``100 - bid``, ``100 (1 - p) - (100 - bid) - fee``, in
    cents, the fee at ``fee_rate`` (:func:`taker_edges`); an empty side is priced at its bound,
    as the backtest does. A row counts for a side when its edge there is at least
    ``min_edge`` (the model would trade it) and the market is still open. Averaging over all
    rows instead would say nothing: on a row where both sides trade, the two edges add up to
    minus the spread and both fees, so at most one side's average could ever be positive.

    Returns per model ``n_rows`` (rows with a prediction and a book), and per side
    ``n_rows_<side>``, ``mean_edge_<side>`` (cents, NaN without rows) and ``edge_per_row_<side>``
    (the side's summed edge over ``n_rows``: the edge it would collect), sorted by model.
    """
    p = diagnostics["p_model"].to_numpy(float)
    has_book, bid, ask = _priced_book(
        diagnostics["yes_bid"].to_numpy(float), diagnostics["yes_ask"].to_numpy(float)
    )
    usable = has_book & ~np.isnan(p) & (diagnostics["minutes_to_close"].to_numpy(float) > 0)
    edges = dict(zip(EDGE_SIDES, taker_edges(p, bid, ask, fee_rate), strict=True))
    frame = pd.DataFrame({"model": diagnostics["model"].to_numpy(), "usable": usable})
    for side, edge in edges.items():
        trades = usable & (edge >= min_edge - _EPS)
        frame[f"n_rows_{side}"] = trades
        frame[f"edge_{side}"] = np.where(trades, edge, 0.0)
    sums = frame.groupby("model", sort=True).sum().reset_index()
    out = pd.DataFrame({"model": sums["model"], "n_rows": sums["usable"].astype(int)})
    for side in EDGE_SIDES:
        n_side, total = sums[f"n_rows_{side}"].astype(int), sums[f"edge_{side}"]
        out[f"n_rows_{side}"] = n_side
        out[f"mean_edge_{side}"] = total / n_side.where(n_side > 0)
        out[f"edge_per_row_{side}"] = total / out["n_rows"].where(out["n_rows"] > 0)
    return out


def _priced_book(bid: np.ndarray, ask: np.ndarray) -> tuple[np.ndarray, ...]:
    """Whether a row has a book, and its bid and ask with an empty side priced at its bound."""
    has_book = ~(np.isnan(bid) & np.isnan(ask))
    return has_book, np.where(np.isnan(bid), 0.0, bid), np.where(np.isnan(ask), 100.0, ask)


def _edge(value_cents: np.ndarray, price: np.ndarray, rate: float) -> np.ndarray:
    """Edge per contract after the unrounded fee; -inf where the price is not tradable."""
    edge = value_cents - price - fee_per_contract_cents(price, rate)
    return np.where((price >= 1) & (price <= 99), edge, -np.inf)


def _backtest_model(rows: pd.DataFrame, book: _QuoteBook, params: BacktestParams) -> pd.DataFrame:
    """The order ledger of one model."""
    if rows.empty:
        return _empty_ledger()
    rows = rows.sort_values(["market_ticker", "timestamp"], kind="mergesort", ignore_index=True)
    t = _ns(rows["timestamp"])
    minutes = rows["minutes_to_close"].to_numpy(float, na_value=np.nan)
    close = t + np.round(np.nan_to_num(minutes, nan=0.0) * _MINUTE_NS).astype(np.int64)
    market_code, _ = pd.factorize(rows["market_ticker"], sort=True)
    event_code, _ = pd.factorize(rows["event_ticker"], sort=True)
    same_market = np.r_[market_code[1:] == market_code[:-1], False]
    expiry = np.minimum(np.where(same_market, np.r_[t[1:], 0], close), close)  # next decision
    if params.order_lifetime_minutes is not None:
        expiry = np.minimum(expiry, t + params.order_lifetime_minutes * _MINUTE_NS)
    decisions = _decide(
        rows["p_model"].to_numpy(float, na_value=np.nan),
        rows["yes_bid"].to_numpy(float, na_value=np.nan),
        rows["yes_ask"].to_numpy(float, na_value=np.nan),
        minutes,
        params,
    )
    wanted = np.flatnonzero(decisions.place)
    wanted = wanted[np.lexsort((market_code[wanted], t[wanted]))]  # time order, then ticker
    maker = wanted[~decisions.taker[wanted]]
    fill_time = np.full(len(rows), -1, np.int64)
    fill_time[maker] = book.first_cross(
        rows["market_ticker"].to_numpy()[maker],
        t[maker],
        expiry[maker],
        decisions.buy_yes[maker],
        decisions.price[maker],
    )
    taken = wanted[decisions.taker[wanted]]
    fill_time[taken] = t[taken]
    y = rows["y"].to_numpy(float).astype(np.int64)
    wins = np.where(decisions.buy_yes, y == 1, y == 0)
    placed, sizes, fees, edges = _size_orders(
        wanted, t, expiry, close, market_code, event_code, decisions, fill_time, wins, params
    )
    ledger = pd.DataFrame(
        {
            "model": rows["model"].to_numpy()[placed],
            "market_ticker": rows["market_ticker"].to_numpy()[placed],
            "event_ticker": rows["event_ticker"].to_numpy()[placed],
            "city": rows["city"].to_numpy()[placed],
            "bracket": rows["bracket"].to_numpy()[placed],
            "order_time": _timestamps(t[placed]),
            "fill_time": _timestamps(
                np.where(fill_time[placed] >= 0, fill_time[placed], np.iinfo(np.int64).min)
            ),
            "close_time": _timestamps(close[placed]),
            "side": np.where(decisions.buy_yes[placed], "yes", "no"),
            "liquidity": np.where(decisions.taker[placed], "taker", "maker"),
            "price_cents": decisions.price[placed],
            "contracts": sizes,
            "fee_cents": fees,
            "edge_cents": edges,
            "filled": fill_time[placed] >= 0,
            "y": y[placed],
        }
    )
    filled = ledger["filled"].to_numpy()
    payout = np.where(wins[placed], 100, 0)
    ledger["fee_cents"] = np.where(filled, fees, 0)
    ledger["pnl_cents"] = np.where(filled, sizes * (payout - decisions.price[placed]) - fees, 0)
    return ledger[TRADE_COLUMNS]


def _size_orders(
    wanted,
    t,
    expiry,
    close,
    market_code,
    event_code,
    decisions: _Decisions,
    fill_time,
    wins,
    params: BacktestParams,
):
    """Kelly size of each wanted order in time order, capped per market and per event.

    The one sequential step: the bankroll (start of the UTC day) and the caps depend on earlier
    orders. Exposure at time ``t`` = contracts of orders that fill (at or before ``t``, or later
    while resting) + contracts of unfilled orders still resting at ``t``.
    """
    cols = [
        a[wanted].tolist()
        for a in (
            t,
            t // _DAY_NS,
            close // _DAY_NS,
            expiry,
            market_code,
            event_code,
            decisions.kelly,
            decisions.price,
            decisions.gross_edge,
            decisions.fee_rate,
            fill_time >= 0,
            wins,
        )
    ]
    committed: dict[tuple[str, int], int] = {}
    resting: dict[tuple[str, int], list[tuple[int, int]]] = {}
    settle: list[tuple[int, int]] = []  # (close day, pnl cents) of filled orders
    settled_cents, day_now, bankroll = 0, None, params.bankroll
    placed, sizes, fees, edges = [], [], [], []
    min_edge = params.min_edge_cents - _EPS
    for i, row in zip(wanted.tolist(), zip(*cols, strict=True), strict=True):
        now, day, close_day, until, market, event, kelly, price, gross, rate, fills, win = row
        if day != day_now:
            while settle and settle[0][0] < day:
                settled_cents += heapq.heappop(settle)[1]
            day_now, bankroll = day, params.bankroll + settled_cents / 100
        size = math.floor(kelly * bankroll + _EPS) if bankroll > 0 else 0
        if size <= 0:
            continue
        keys = (("m", market), ("e", event))
        room_market = params.max_position - _exposure(committed, resting, keys[0], now)
        room_event = params.max_event_position - _exposure(committed, resting, keys[1], now)
        size = min(size, room_market, room_event)
        if size <= 0:
            continue
        fee = fee_cents(size, price, rate)
        edge = gross - fee / size
        if edge < min_edge:  # the rounded-up fee of this size eats the edge
            continue
        placed.append(i)
        sizes.append(size)
        fees.append(fee)
        edges.append(edge)
        for key in keys:
            if fills:
                committed[key] = committed.get(key, 0) + size
            else:
                resting.setdefault(key, []).append((until, size))
        if fills:
            heapq.heappush(settle, (close_day, size * ((100 if win else 0) - price) - fee))
    return (
        np.asarray(placed, np.int64),
        np.asarray(sizes, np.int64),
        np.asarray(fees, np.int64),
        np.asarray(edges, float),
    )


def _exposure(committed: dict, resting: dict, key: tuple[str, int], now: int) -> int:
    """Contracts held or resting in ``key`` (market or event) at ``now``; drops expired orders."""
    live = [(until, size) for until, size in resting.get(key, ()) if until > now]
    if key in resting:
        resting[key] = live
    return committed.get(key, 0) + sum(size for _, size in live)


def _empty_ledger() -> pd.DataFrame:
    empty = pd.DataFrame({c: pd.Series(dtype=object) for c in TRADE_COLUMNS})
    for c in ("order_time", "fill_time", "close_time"):
        empty[c] = pd.Series(dtype="datetime64[ns, UTC]")
    for c in ("price_cents", "contracts", "fee_cents", "y", "pnl_cents"):
        empty[c] = pd.Series(dtype=np.int64)
    empty["edge_cents"] = pd.Series(dtype=float)
    empty["filled"] = pd.Series(dtype=bool)
    return empty


# --- daily P&L and metrics --------------------------------------------------------------------


def _calendar(predictions: pd.DataFrame) -> np.ndarray:
    """UTC day numbers from the first decision to the last close."""
    if predictions.empty:
        return np.empty(0, np.int64)
    t = _ns(predictions["timestamp"])
    minutes = np.nan_to_num(predictions["minutes_to_close"].to_numpy(float, na_value=np.nan))
    close = t + np.round(minutes * _MINUTE_NS).astype(np.int64)
    return np.arange(t.min() // _DAY_NS, max(close.max(), t.max()) // _DAY_NS + 1)


def _daily_pnl(ledger: pd.DataFrame, days: np.ndarray, bankroll: float) -> pd.DataFrame:
    """Settled P&L per UTC day (by close date) and the bankroll at the end of each day."""
    pnl = np.zeros(len(days))
    filled = ledger[ledger["filled"].to_numpy(bool)]
    if len(filled) and len(days):
        close_day = _ns(filled["close_time"]) // _DAY_NS
        np.add.at(pnl, close_day - days[0], filled["pnl_cents"].to_numpy(float) / 100)
    dates = pd.DatetimeIndex((days * _DAY_NS).astype("datetime64[ns]")).date
    return pd.DataFrame({"date": dates, "pnl_dollars": pnl, "bankroll": bankroll + np.cumsum(pnl)})


def _metrics(ledger: pd.DataFrame, daily: pd.DataFrame, bankroll: float) -> dict[str, float]:
    filled = ledger[ledger["filled"].to_numpy(bool)]
    pnl = daily["pnl_dollars"].to_numpy(float)
    net = float(filled["pnl_cents"].sum()) / 100
    std = float(np.std(pnl, ddof=1)) if len(pnl) >= 2 else float("nan")
    sharpe = float("nan")
    if len(pnl) >= 2 and std > 0:
        sharpe = float(np.mean(pnl)) / std * math.sqrt(365)
    cumulative = np.r_[0.0, np.cumsum(pnl)]
    n_orders, n_fills = len(ledger), len(filled)
    return {
        "net_pnl": net,
        "return": net / bankroll,
        "daily_sharpe": sharpe,
        "max_drawdown": float(np.max(np.maximum.accumulate(cumulative) - cumulative)),
        "n_orders": int(n_orders),
        "n_fills": int(n_fills),
        "n_taker_fills": int((filled["liquidity"] == "taker").sum()),
        "fill_rate": n_fills / n_orders if n_orders else float("nan"),
        "mean_edge_at_fill_cents": float(filled["edge_cents"].mean()) if n_fills else float("nan"),
        "fees": float(filled["fee_cents"].sum()) / 100,
    }
