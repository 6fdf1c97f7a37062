"""Maker-first backtest on hand-made books whose right fills and P&L are known."""

import dataclasses
import importlib.util
import json
import math
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tmaxedge.core.errors import DataError, ParamsError
from tmaxedge.decision.backtest import (
    METRIC_KEYS,
    TRADE_COLUMNS,
    BacktestParams,
    market_baseline,
    run_backtest,
)
from tmaxedge.decision.fees import fee_cents, fee_per_contract_cents

T0 = pd.Timestamp("2025-11-14 15:00", tz="UTC")
EVENT = "KXHIGHCHI-25NOV14"
TICKER = f"{EVENT}-B45.5"
NO_CAPS = dict(max_position=10_000, max_event_position=10_000)


def at(minute: float) -> pd.Timestamp:
    return T0 + pd.Timedelta(minutes=minute)


def decisions(rows, ticker=TICKER, event=EVENT, close_minute=60, y=1, model="ridge"):
    """Decision rows of one market: ``rows`` = [(minute, p_model, yes_bid, yes_ask), ...]."""
    minute, p, bid, ask = (np.array(c, dtype=float) for c in zip(*rows, strict=True))
    return pd.DataFrame(
        {
            "model": model,
            "window": "2025-11-10",
            "city": "chi",
            "bracket": "between",
            "timestamp": pd.DatetimeIndex([at(m) for m in minute]),
            "market_ticker": ticker,
            "p_model": p,
            "p_market": (bid + ask) / 200,
            "y": y,
            "spread_cents": ask - bid,
            "minutes_to_close": close_minute - minute,
            "event_ticker": event,
            "yes_bid": bid,
            "yes_ask": ask,
        }
    )


def book(rows, ticker=TICKER):
    """Quote rows of one market: ``rows`` = [(minute, yes_bid, yes_ask, trade price), ...]."""
    minute, bid, ask, price = zip(*rows, strict=True) if rows else ((), (), (), ())
    return pd.DataFrame(
        {
            "ticker": pd.Series([ticker] * len(minute), dtype=str),
            "ts": pd.DatetimeIndex([at(m) for m in minute], dtype="datetime64[ns, UTC]"),
            "yes_bid": pd.array(bid, dtype="Int64"),
            "yes_ask": pd.array(ask, dtype="Int64"),
            "price": pd.array(price, dtype="Int64"),
            "volume": pd.array([0] * len(minute), dtype="Int64"),
            "open_interest": pd.array([0] * len(minute), dtype="Int64"),
        }
    )


def trades_of(preds, quotes, **params):
    result = run_backtest(preds, quotes, BacktestParams(**params), include_market=False)
    return result.trades


# --- fees ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("contracts", "price", "rate", "expected"),
    [
        (10, 50, 0.07, 18),  # 0.07 * 10 * 0.5 * 0.5 = $0.175 -> 17.5¢ -> 18¢
        (1, 1, 0.07, 1),  # 0.0693¢ -> 1¢
        (1, 50, 0.07, 2),  # 1.75¢ -> 2¢
        (100, 45, 0.07, 174),  # 173.25¢ -> 174¢
        (3, 40, 0.07, 6),  # 5.04¢ -> 6¢
        (100, 50, 0.07, 175),  # exactly $1.75
        (4, 50, 0.07, 7),  # exactly 7¢ (in floats 7.000000000000001¢)
        (100, 50, 0.04, 100),  # exactly $1.00: no float round-up to 101¢
        (100, 50, 0.0, 0),  # maker: no fee on KXHIGH
    ],
)
def test_fee_cents_rounds_up_to_the_cent(contracts, price, rate, expected):
    fee = fee_cents(contracts, price, rate)
    assert fee == expected and isinstance(fee, int)


def test_fee_cents_is_vectorised_over_size_price_and_rate():
    np.testing.assert_array_equal(fee_cents([10, 1], [50, 1], 0.07), [18, 1])
    np.testing.assert_array_equal(fee_cents(100, 50, [0.07, 0.04, 0.0]), [175, 100, 0])


@given(
    contracts=st.integers(1, 10_000),
    price=st.integers(1, 99),
    rate=st.integers(0, 100_000).map(lambda units: units / 10**6),
)
def test_fee_cents_is_the_unrounded_fee_rounded_up(contracts, price, rate):
    unrounded = contracts * fee_per_contract_cents(price, rate)
    fee = fee_cents(contracts, price, rate)
    # the exact fee is a multiple of 1e-8¢ (rate in millionths), far above the float error
    assert unrounded - 1e-9 <= fee < unrounded + 1 - 1e-9


# --- maker fills --------------------------------------------------------------------------------


def test_run_backtest_fills_yes_buy_when_ask_drops_to_it():
    preds = decisions([(0, 0.6, 40, 41)])  # edge YES = 60 - 40 = 20¢; spread 1: no improvement
    quotes = book([(2, 39, 41, None), (3, 39, 40, None)])  # a seller comes down to 40 at minute 3
    result = run_backtest(preds, quotes, BacktestParams(), include_market=False)
    (trade,) = result.trades.to_dict("records")
    assert trade["side"] == "yes" and trade["liquidity"] == "maker"
    assert (trade["price_cents"], trade["contracts"], trade["fee_cents"]) == (40, 100, 0)
    assert trade["order_time"] == at(0) and trade["fill_time"] == at(3)
    assert trade["edge_cents"] == pytest.approx(20)
    assert trade["pnl_cents"] == 100 * (100 - 40)
    metrics = result.metrics["ridge"]
    assert set(metrics) == set(METRIC_KEYS)
    assert (metrics["n_orders"], metrics["n_fills"], metrics["fill_rate"]) == (1, 1, 1.0)
    assert metrics["net_pnl"] == 60.0 and metrics["return"] == 60.0 / 10_000


@pytest.mark.parametrize(
    ("quote", "fills"),
    [
        ((2, 40, 41, 40), False),  # a trade at our price is a touch: we may be last in the queue
        ((2, 39, 41, None), False),  # the bid moves away, nobody sells
        ((2, 39, 40, None), True),  # the ask comes to our price: a seller crosses to us
        ((2, 39, 41, 39), True),  # a trade below our price: the level traded through
    ],
)
def test_run_backtest_yes_buy_fills_only_on_cross_or_trade_through(quote, fills):
    trades = trades_of(decisions([(0, 0.6, 40, 41)]), book([quote]))
    assert trades["filled"].tolist() == [fills]
    assert trades["pnl_cents"].tolist() == [6000 if fills else 0]


@pytest.mark.parametrize(
    ("quote", "fills"),
    [
        ((2, 60, 61, 61), False),  # a trade at 61 only touches our YES sell at 61 (NO buy at 39)
        ((2, 61, 62, None), True),  # a buyer bids up to 61: crosses our sell
        ((2, 60, 61, 62), True),  # a trade above 61: traded through
    ],
)
def test_run_backtest_no_buy_is_the_mirror_of_a_yes_buy(quote, fills):
    preds = decisions([(0, 0.3, 60, 61)], y=0)  # edge NO = 70 - (100 - 61) = 31¢
    trades = trades_of(preds, book([quote]))
    assert trades[["side", "price_cents"]].values.tolist() == [["no", 39]]
    assert trades["filled"].tolist() == [fills]
    assert trades["pnl_cents"].tolist() == [100 * (100 - 39) if fills else 0]


@pytest.mark.parametrize(
    ("bid", "ask", "p", "improve_at", "side", "price"),
    [
        (40, 41, 0.6, 2, "yes", 40),  # spread 1: no room inside
        (40, 42, 0.6, 2, "yes", 41),  # spread 2: 41 is still below the ask
        (40, 43, 0.6, 2, "yes", 41),
        (40, 43, 0.6, 4, "yes", 40),  # spread 3 < threshold 4: stay at the bid
        (40, 41, 0.2, 2, "no", 59),  # NO at 100 - ask
        (40, 43, 0.2, 2, "no", 58),  # NO improved: sell YES at 42 instead of 43
        (0, 5, 0.2, 2, "yes", 1),  # empty bid side (priced 0): post the first bid at 1¢
    ],
)
def test_run_backtest_improves_by_one_cent_only_when_the_spread_allows(
    bid, ask, p, improve_at, side, price
):
    trades = trades_of(
        decisions([(0, p, bid, ask)]), book([]), improve_when_spread_at_least=improve_at
    )
    assert trades[["side", "price_cents"]].values.tolist() == [[side, price]]


@pytest.mark.parametrize(
    ("minute", "fills"),
    [
        (1, True),  # after the order: fills
        (0, False),  # stamped at the order time: the decision already saw this book
        (-1, False),  # moved before the order: filling on it would be look-ahead
        (5, True),  # at the next decision, when the order is cancelled: still ours
        (6, False),  # after the cancel
    ],
)
def test_run_backtest_fills_only_on_quotes_after_the_order_and_before_its_expiry(minute, fills):
    preds = decisions([(0, 0.6, 40, 41), (5, math.nan, 40, 41)])  # no prediction at minute 5
    trades = trades_of(preds, book([(minute, 39, 40, None)]))
    assert trades["filled"].tolist() == [fills]


def test_run_backtest_order_lifetime_shortens_the_resting_time():
    preds = decisions([(0, 0.6, 40, 41)])
    quotes = book([(3, 39, 40, None)])
    assert trades_of(preds, quotes)["filled"].tolist() == [True]
    assert trades_of(preds, quotes, order_lifetime_minutes=2)["filled"].tolist() == [False]


def test_run_backtest_never_fills_after_close():
    preds = decisions([(0, 0.6, 40, 41)], close_minute=10)
    assert trades_of(preds, book([(11, 39, 40, 30)]))["filled"].tolist() == [False]


# --- sizing -------------------------------------------------------------------------------------


def test_run_backtest_sizes_by_fractional_kelly():
    # q = 0.6, c = 0.4: f* = 0.2 / 0.6 = 1/3; 0.25 * 1/3 * $1000 / $0.40 = 208.3 -> 208
    trades = trades_of(decisions([(0, 0.6, 40, 41)]), book([]), bankroll=1000.0, **NO_CAPS)
    assert trades["contracts"].tolist() == [208]


def test_run_backtest_caps_the_position_of_one_market():
    preds = decisions([(0, 0.6, 40, 41), (5, 0.6, 40, 41), (10, 0.6, 40, 41)])
    quotes = book([(1, 39, 40, None), (6, 39, 40, None), (11, 39, 40, None)])  # each order fills
    # Kelly alone: 0.25 * 1/3 * $480 / $0.40 = 100 contracts per order
    trades = trades_of(preds, quotes, bankroll=480.0, max_position=150, max_event_position=1000)
    assert trades["contracts"].tolist() == [100, 50]  # the third order has no room left
    assert trades["filled"].all()


def test_run_backtest_caps_the_event_counting_resting_orders():
    other = "KXHIGHCHI-25NOV15"
    preds = pd.concat(
        [
            decisions([(0, 0.6, 40, 41)], ticker=f"{EVENT}-B43.5"),
            decisions([(0, 0.6, 40, 41)], ticker=f"{EVENT}-B45.5"),
            decisions([(0, 0.6, 40, 41), (5, math.nan, 40, 41)], ticker=f"{EVENT}-B47.5"),
            decisions([(0, 0.6, 40, 41)], ticker=f"{other}-B45.5", event=other),
        ]
    )
    trades = trades_of(preds, book([]), max_position=100, max_event_position=150)
    # None of them fills, yet resting orders count: B43.5 takes 100, B45.5 the 50 left, B47.5 none.
    assert dict(zip(trades["market_ticker"], trades["contracts"], strict=True)) == {
        f"{EVENT}-B43.5": 100,
        f"{EVENT}-B45.5": 50,
        f"{other}-B45.5": 100,
    }


def test_run_backtest_frees_event_room_when_a_resting_order_expires_unfilled():
    preds = pd.concat(
        [
            decisions([(0, 0.6, 40, 41), (5, math.nan, 40, 41)], ticker=f"{EVENT}-B43.5"),
            decisions([(5, 0.6, 40, 41)], ticker=f"{EVENT}-B45.5"),
        ]
    )
    trades = trades_of(preds, book([]), max_position=100, max_event_position=100)
    assert trades["contracts"].tolist() == [100, 100]  # the first was cancelled at minute 5


def test_run_backtest_sizes_with_the_bankroll_at_the_start_of_the_day():
    day_1 = decisions([(0, 0.6, 40, 41)], ticker=f"{EVENT}-B45.5", y=0)  # loses $40 at close
    day_2 = decisions(
        [(24 * 60, 0.6, 40, 41)],
        ticker="KXHIGHCHI-25NOV15-B45.5",
        event="KXHIGHCHI-25NOV15",
        close_minute=24 * 60 + 60,
    )
    quotes = pd.concat(
        [
            book([(1, 39, 40, None)], ticker=f"{EVENT}-B45.5"),
            book([(24 * 60 + 1, 39, 40, None)], ticker="KXHIGHCHI-25NOV15-B45.5"),
        ]
    )
    result = run_backtest(
        pd.concat([day_1, day_2]),
        quotes,
        BacktestParams(bankroll=480.0, **NO_CAPS),
        include_market=False,
    )
    # day 1: 100 contracts on $480; day 2: 0.25 * 1/3 * $440 / $0.40 = 91.7 -> 91
    assert result.trades["contracts"].tolist() == [100, 91]
    assert result.daily["pnl_dollars"].tolist() == pytest.approx([-40.0, 91 * 0.60])
    assert result.daily["bankroll"].tolist() == pytest.approx([440.0, 440.0 + 54.6])
    metrics = result.metrics["ridge"]
    daily = np.array([-40.0, 54.6])
    assert metrics["net_pnl"] == pytest.approx(14.6)
    assert metrics["max_drawdown"] == pytest.approx(40.0)
    expected_sharpe = daily.mean() / daily.std(ddof=1) * math.sqrt(365)
    assert metrics["daily_sharpe"] == pytest.approx(expected_sharpe)


def test_run_backtest_daily_sharpe_is_nan_with_one_day():
    result = run_backtest(
        decisions([(0, 0.6, 40, 41)]),
        book([(1, 39, 40, None)]),
        BacktestParams(),
        include_market=False,
    )
    assert len(result.daily) == 1 and math.isnan(result.metrics["ridge"]["daily_sharpe"])


# --- edge, taker, settlement --------------------------------------------------------------------


@pytest.mark.parametrize(("min_edge", "n_orders"), [(2.0, 0), (1.5, 1), (1.0, 1)])
def test_run_backtest_min_edge_blocks_marginal_orders(min_edge, n_orders):
    preds = decisions([(0, 0.415, 40, 41)])  # edge YES = 41.5 - 40 = 1.5¢; NO = 58.5 - 59 < 0
    assert len(trades_of(preds, book([]), min_edge_cents=min_edge)) == n_orders


@pytest.mark.parametrize(
    ("taker_fallback", "close_minute", "liquidity", "filled"),
    [
        (True, 20, "taker", True),  # 20 min to close <= 30: take the ask now
        (False, 20, "maker", False),  # no fallback: a maker bid at 41 that nobody hits
        (True, 40, "maker", False),  # too early for the fallback
    ],
)
def test_run_backtest_takes_near_close_with_taker_fallback(
    taker_fallback, close_minute, liquidity, filled
):
    preds = decisions([(0, 0.7, 40, 45)], close_minute=close_minute)
    trades = trades_of(preds, book([]), taker_fallback=taker_fallback)
    (trade,) = trades.to_dict("records")
    assert (trade["liquidity"], trade["filled"]) == (liquidity, filled)
    if liquidity == "taker":
        # YES at the ask 45, 100 contracts, fee ceil(0.07 * 100 * 0.45 * 0.55 * 100¢) = 174¢
        assert (trade["price_cents"], trade["contracts"], trade["fee_cents"]) == (45, 100, 174)
        assert trade["fee_cents"] == fee_cents(100, 45, 0.07)  # the rule that charged it
        assert trade["fill_time"] == trade["order_time"] == at(0)
        assert trade["edge_cents"] == pytest.approx(70 - 45 - 1.74)
        assert trade["pnl_cents"] == 100 * 55 - 174
    else:
        assert trade["price_cents"] == 41


def test_run_backtest_skips_a_take_whose_rounded_fee_eats_the_edge():
    # 1 contract at 50¢ pays ceil(1.75) = 2¢: edge 53.9 - 50 - 2 = 1.9 < 2 (2.15 before rounding)
    preds = decisions([(0, 0.539, 49, 50)], close_minute=10)
    assert trades_of(
        preds,
        book([]),
        taker_fallback=True,
        max_position=1,
        improve_when_spread_at_least=99,
        min_edge_cents=2.0,
    ).empty


@pytest.mark.parametrize(
    ("p", "bid", "ask", "y", "quote", "pnl"),
    [
        (0.6, 40, 41, 1, (1, 39, 40, None), 100 * (100 - 40)),  # YES wins: 100¢ - 40¢ each
        (0.6, 40, 41, 0, (1, 39, 40, None), -100 * 40),  # YES loses the 40¢ paid
        (0.3, 60, 61, 0, (1, 61, 62, None), 100 * (100 - 39)),  # NO wins: 100¢ - 39¢ each
        (0.3, 60, 61, 1, (1, 61, 62, None), -100 * 39),  # NO loses the 39¢ paid
    ],
)
def test_run_backtest_settles_yes_and_no_contracts(p, bid, ask, y, quote, pnl):
    result = run_backtest(
        decisions([(0, p, bid, ask)], y=y), book([quote]), BacktestParams(), include_market=False
    )
    assert result.trades["pnl_cents"].tolist() == [pnl]
    assert result.metrics["ridge"]["net_pnl"] == pnl / 100
    assert result.daily["pnl_dollars"].sum() == pytest.approx(pnl / 100)


# --- market baseline ----------------------------------------------------------------------------


def test_market_baseline_finds_no_edge_on_a_fair_book():
    rows = [
        (0, math.nan, 40, 41),
        (5, math.nan, 40, 42),
        (10, math.nan, 40, 43),
        (15, math.nan, 0, 1),
        (20, math.nan, 97, 100),
    ]
    preds = decisions(rows)  # p_market = mid; the model made no prediction
    quotes = book([(m, 0, 100, 1) for m in range(1, 25)])  # wild trades: anything would fill
    result = run_backtest(preds, quotes, BacktestParams(min_edge_cents=1.0))
    assert set(result.metrics) == {"ridge", "market"}
    assert result.metrics["market"]["n_orders"] == 0 and result.trades.empty
    assert result.daily.groupby("model")["pnl_dollars"].sum().to_dict() == {
        "market": 0.0,
        "ridge": 0.0,
    }


def test_market_baseline_takes_each_decision_row_once_with_p_market():
    preds = pd.concat([decisions([(0, 0.6, 40, 44)], model=m) for m in ("ridge", "elasticnet")])
    baseline = market_baseline(preds)
    assert len(baseline) == 1 and baseline["model"].tolist() == ["market"]
    assert baseline["p_model"].tolist() == [0.42]


def test_run_backtest_market_baseline_posts_half_the_spread_on_a_wide_book():
    # mid 45 on a 40/50 book: YES at 41 has edge 4¢ (the baseline is not a free lunch: it only
    # fills if someone sells through 41, as in any maker test above)
    result = run_backtest(decisions([(0, math.nan, 40, 50)]), book([]), BacktestParams())
    placed = result.trades[["model", "side", "price_cents"]].values.tolist()
    assert placed == [["market", "yes", 41]]  # YES and NO tie at 4¢: YES


# --- determinism and invariants ----------------------------------------------------------------


def random_world(seed: int, n_markets: int = 6, n_rows: int = 24):
    """A few events of a few markets with random books, predictions and minute quotes."""
    rng = np.random.default_rng(seed)
    preds, quotes = [], []
    for k in range(n_markets):
        event = f"KXHIGHCHI-25NOV{14 + k // 3}"
        ticker = f"{event}-B{40 + k}.5"
        start = (k // 3) * 24 * 60
        minutes = start + 5 * np.arange(n_rows)
        mid = np.clip(50 + np.cumsum(rng.normal(0, 3, n_rows)), 5, 95).round()
        spread = rng.integers(1, 6, n_rows)
        bid, ask = mid - spread // 2, mid - spread // 2 + spread
        p = np.clip(mid / 100 + rng.normal(0, 0.1, n_rows), 0.01, 0.99)
        p[rng.random(n_rows) < 0.1] = np.nan
        rows = list(zip(minutes, p, bid, ask, strict=True))
        preds.append(
            decisions(
                rows,
                ticker=ticker,
                event=event,
                close_minute=start + 5 * n_rows,
                y=int(rng.random() < 0.5),
            )
        )
        q_minutes = np.arange(start + 1, start + 5 * n_rows + 3)
        q_mid = np.repeat(mid, 5)[: len(q_minutes)]
        q_mid = np.r_[q_mid, np.full(len(q_minutes) - len(q_mid), q_mid[-1])]
        q_mid = np.clip(q_mid + rng.integers(-3, 4, len(q_minutes)), 2, 97)
        jump = rng.integers(-2, 3, len(q_minutes))
        trade = np.where(rng.random(len(q_minutes)) < 0.3, q_mid + jump, -1)  # -1: no trade
        rows = [
            (m, int(b) - 1, int(b) + 1, None if t < 0 else int(t))
            for m, b, t in zip(q_minutes, q_mid, trade, strict=True)
        ]
        quotes.append(book(rows, ticker=ticker))
    preds = pd.concat(preds, ignore_index=True)
    preds = pd.concat(
        [preds, preds.assign(model="lasso", p_model=preds["p_model"] * 0.9)], ignore_index=True
    )
    return preds, pd.concat(quotes, ignore_index=True)


def test_run_backtest_is_deterministic_and_ignores_row_order():
    preds, quotes = random_world(7)
    params = BacktestParams(max_position=60, max_event_position=100, taker_fallback=True)
    first = run_backtest(preds, quotes, params)
    shuffled = preds.sample(frac=1, random_state=1), quotes.sample(frac=1, random_state=2)
    again = run_backtest(*shuffled, params)
    assert len(first.trades) > 0 and list(first.trades.columns) == TRADE_COLUMNS
    pd.testing.assert_frame_equal(first.trades, again.trades)
    pd.testing.assert_frame_equal(first.daily, again.daily)
    assert json.dumps(first.metrics, sort_keys=True) == json.dumps(again.metrics, sort_keys=True)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    bankroll=st.sampled_from([20.0, 200.0, 10_000.0]),  # small bankrolls leave room for takes
    max_position=st.integers(1, 80),
    event_extra=st.integers(0, 80),
    fallback=st.booleans(),
)
def test_run_backtest_keeps_every_invariant_on_random_books(
    seed, bankroll, max_position, event_extra, fallback
):
    preds, quotes = random_world(seed, n_markets=4, n_rows=12)
    params = BacktestParams(
        bankroll=bankroll,
        max_position=max_position,
        taker_fallback=fallback,
        max_event_position=max_position + event_extra,
    )
    trades = run_backtest(preds, quotes, params).trades
    maker = trades[trades["liquidity"] == "maker"]
    filled = trades[trades["filled"]]
    made = maker[maker["filled"]]
    assert (made["fill_time"] > made["order_time"]).all()
    assert (filled["fill_time"] <= filled["close_time"]).all()
    assert trades.loc[~trades["filled"], "fill_time"].isna().all()
    assert (trades["edge_cents"] >= params.min_edge_cents - 1e-9).all()
    assert trades["price_cents"].between(1, 99).all() and (trades["contracts"] > 0).all()
    held = filled.groupby(["model", "market_ticker"])["contracts"].sum()
    assert (held <= params.max_position).all()
    held = filled.groupby(["model", "event_ticker"])["contracts"].sum()
    assert (held <= params.max_event_position).all()
    payout = np.where((filled["side"] == "yes") == (filled["y"] == 1), 100, 0)
    expected = filled["contracts"] * (payout - filled["price_cents"]) - filled["fee_cents"]
    assert (filled["pnl_cents"] == expected).all()
    assert (trades.loc[trades["liquidity"] == "maker", "fee_cents"] == 0).all()
    charged = fee_cents(filled["contracts"], filled["price_cents"], params.taker_fee_rate)
    taken = (filled["liquidity"] == "taker").to_numpy()
    np.testing.assert_array_equal(filled["fee_cents"].to_numpy()[taken], charged[taken])


def test_run_backtest_charges_a_maker_fill_the_maker_rate_rounded_up():
    preds = decisions([(0, 0.6, 40, 41)])
    quotes = book([(3, 39, 40, None)])
    (trade,) = trades_of(preds, quotes, maker_fee_rate=0.0175).to_dict("records")
    assert (trade["price_cents"], trade["filled"]) == (40, True)
    assert trade["fee_cents"] == fee_cents(trade["contracts"], 40, 0.0175) > 0
    assert trade["edge_cents"] == pytest.approx(60 - 40 - trade["fee_cents"] / trade["contracts"])


# --- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("kelly_fraction", 2, "kelly_fraction must be a number in (0, 1]; got 2."),
        ("kelly_fraction", 0.0, "kelly_fraction must be a number in (0, 1]; got 0.0."),
        ("bankroll", -1.0, "bankroll must be a number in (0, inf); got -1.0."),
        ("min_edge_cents", -0.5, "min_edge_cents must be a number in [0, 100); got -0.5."),
        ("max_position", 0, "max_position must be an int >= 1; got 0."),
        ("max_event_position", 2.5, "max_event_position must be an int >= 1; got 2.5."),
        (
            "improve_when_spread_at_least",
            1,
            "improve_when_spread_at_least must be an int >= 2; got 1.",
        ),
        ("order_lifetime_minutes", 0, "order_lifetime_minutes must be null or an int >= 1; got 0."),
        ("taker_fallback", "yes", "taker_fallback must be true or false; got 'yes'."),
        (
            "taker_minutes_to_close",
            0,
            "taker_minutes_to_close must be a number in (0, inf); got 0.",
        ),
        ("taker_fee_rate", 7.0, "taker_fee_rate must be a number in [0, 1]; got 7.0."),
        ("maker_fee_rate", -0.01, "maker_fee_rate must be a number in [0, 1]; got -0.01."),
    ],
)
def test_backtest_params_reject_bad_values_naming_the_key(key, value, message):
    with pytest.raises(ParamsError, match=re.escape(message)):
        BacktestParams(**{key: value})


def test_backtest_params_defaults_match_the_design():
    defaults = dataclasses.asdict(BacktestParams())
    assert defaults == {
        "bankroll": 10_000.0,
        "kelly_fraction": 0.25,
        "min_edge_cents": 2.0,
        "max_position": 100,
        "max_event_position": 200,
        "improve_when_spread_at_least": 2,
        "order_lifetime_minutes": None,
        "taker_fallback": False,
        "taker_minutes_to_close": 30.0,
        "taker_fee_rate": 0.07,
        "maker_fee_rate": 0.0,
    }


def test_run_backtest_rejects_duplicate_decision_rows():
    preds = decisions([(0, 0.6, 40, 41), (0, 0.6, 40, 41)])
    with pytest.raises(
        DataError,
        match=re.escape("predictions: column 'model, market_ticker, timestamp' must be unique"),
    ):
        run_backtest(preds, book([]), BacktestParams())


def test_run_backtest_rejects_an_unsettled_outcome():
    preds = decisions([(0, 0.6, 40, 41)]).assign(y=np.nan)
    with pytest.raises(DataError, match=re.escape("column 'y' must be 0 or 1")):
        run_backtest(preds, book([]), BacktestParams())


# --- stage --------------------------------------------------------------------------------------


def test_stage_writes_trades_daily_and_flat_metrics(tmp_path, monkeypatch):
    preds, quotes = random_world(3, n_markets=3, n_rows=8)
    preds.to_parquet(tmp_path / "edge_diagnostics.parquet", index=False)
    extra = book([(1, 10, 90, 50)], ticker="KXHIGHMIA-25NOV14-B80.5")  # not predicted: not read
    pd.concat([quotes, extra]).to_parquet(tmp_path / "quotes.parquet", index=False)
    (tmp_path / "params.yaml").write_text("backtest:\n  kelly_fraction: 0.25\n  max_position: 50\n")
    monkeypatch.chdir(tmp_path)
    path = Path(__file__).resolve().parents[2] / "stages" / "backtest.py"
    spec = importlib.util.spec_from_file_location("stage_backtest", path)
    stage = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(stage)
    monkeypatch.setattr(
        sys,
        "argv",
        [
            "backtest.py",
            "edge_diagnostics.parquet",
            "quotes.parquet",
            "out",
            "metrics/backtest.json",
        ],
    )
    stage.main()
    trades = pd.read_parquet(tmp_path / "out" / "trades.parquet")
    daily = pd.read_csv(tmp_path / "out" / "daily_pnl.csv")
    metrics = json.loads((tmp_path / "metrics" / "backtest.json").read_text())
    assert list(trades.columns) == TRADE_COLUMNS and (trades["contracts"] <= 50).all()
    assert list(daily.columns) == ["model", "date", "pnl_dollars", "bankroll"]
    assert set(metrics) == {"ridge", "lasso", "market"}
    assert all(set(values) == set(METRIC_KEYS) for values in metrics.values())
    sharpe = metrics["ridge"]["daily_sharpe"]
    assert sharpe is None or math.isfinite(sharpe)  # NaN is written as null
