"""A tiny valid set of contract tables, built in code, for tests that break one thing at a time.

Two cities (chi, aus) x two event days; each event has the six markets of a real KXHIGH event:
``less`` cap 40 (T <= 39), ``between`` 40-41, 42-43, 44-45, 46-47, ``greater`` floor 47 (T >= 48).
Quotes: three rows per market (the last at exactly ``close_time``); market ``..-B44.5`` of the first
chi event has trade prices only (no book). Typed as ``ingest`` writes them (see contract.py).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from tmaxedge.core.config import City

CITIES = {
    "aus": City("aus", "KXHIGHAUS", "America/Chicago", True),
    "chi": City("chi", "KXHIGHCHI", "America/Chicago", True),
}
EVENT_DATES = (dt.date(2024, 4, 1), dt.date(2024, 4, 2))
TMAX_F = {
    ("aus", EVENT_DATES[0]): 45,
    ("aus", EVENT_DATES[1]): 48,
    ("chi", EVENT_DATES[0]): 39,
    ("chi", EVENT_DATES[1]): 42,
}
# (suffix, strike_type, floor_strike, cap_strike)
BINS = (
    ("T40", "less", None, 40.0),
    ("B40.5", "between", 40.0, 41.0),
    ("B42.5", "between", 42.0, 43.0),
    ("B44.5", "between", 44.0, 45.0),
    ("B46.5", "between", 46.0, 47.0),
    ("T47", "greater", 47.0, None),
)
NO_BOOK_TICKER = "KXHIGHCHI-24APR01-B44.5"


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC").as_unit("us")


def markets_table() -> pd.DataFrame:
    """24 markets; results set on the 2024-04-01 events, null (unsettled by Kalshi) on 04-02."""
    rows = []
    for code, city in sorted(CITIES.items()):
        for day in EVENT_DATES:
            event = f"{city.series}-{day:%y%b%d}".upper()
            for suffix, kind, floor, cap in BINS:
                rows.append(
                    {
                        "ticker": f"{event}-{suffix}",
                        "event_ticker": event,
                        "city": code,
                        "event_date": day,
                        "strike_type": kind,
                        "floor_strike": floor,
                        "cap_strike": cap,
                        "open_time": utc(f"{day - dt.timedelta(days=1)} 15:00"),
                        "close_time": utc(f"{day + dt.timedelta(days=1)} 04:59"),
                        "result": None,
                    }
                )
    table = pd.DataFrame(rows)
    table["floor_strike"] = table["floor_strike"].astype("float64")
    table["cap_strike"] = table["cap_strike"].astype("float64")
    table["result"] = table["result"].astype("str")
    settled = table["event_date"] == EVENT_DATES[0]
    table.loc[settled, "result"] = [
        "yes" if _yes(row, TMAX_F[(row.city, row.event_date)]) else "no"
        for row in table[settled].itertuples()
    ]
    return table


def _yes(row, tmax_f: int) -> bool:
    if row.strike_type == "less":
        return tmax_f < row.cap_strike
    if row.strike_type == "greater":
        return tmax_f > row.floor_strike
    return row.floor_strike <= tmax_f <= row.cap_strike


def quotes_table(markets: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for i, market in enumerate(markets.itertuples()):
        no_book = market.ticker == NO_BOOK_TICKER
        day = market.event_date
        stamps = [utc(f"{day} 12:00"), utc(f"{day} 12:01"), market.close_time]
        for j, ts in enumerate(stamps):
            bid = None if no_book else 10 + (i % 5) * 10 + j
            rows.append(
                {
                    "ticker": market.ticker,
                    "ts": ts,
                    "yes_bid": bid,
                    "yes_ask": None if bid is None else bid + 3,
                    "price": 20 + j if no_book or j == 1 else None,
                    "volume": 5 * j,
                    "open_interest": None if j == 0 else 100 + j,
                }
            )
    table = pd.DataFrame(rows)
    for column in ("yes_bid", "yes_ask", "price", "volume", "open_interest"):
        table[column] = table[column].astype("Int64")
    return table


def weather_table() -> pd.DataFrame:
    rows = []
    for code in sorted(CITIES):
        for day in EVENT_DATES:
            for k, clock in enumerate(("11:53", "12:53", "13:10", "13:53")):
                rows.append({"city": code, "ts": utc(f"{day} {clock}"), "temp_f": 35.0 + 2.5 * k})
    return pd.DataFrame(rows)


def settlements_table() -> pd.DataFrame:
    rows = [{"city": c, "date": d, "tmax_f": t} for (c, d), t in sorted(TMAX_F.items())]
    table = pd.DataFrame(rows)
    table["tmax_f"] = table["tmax_f"].astype("int64")
    return table


def oracle_table(quotes: pd.DataFrame) -> pd.DataFrame:
    p_true = [round(0.05 + 0.9 * (i % 7) / 6, 6) for i in range(len(quotes))]
    return pd.DataFrame({"ticker": quotes["ticker"], "ts": quotes["ts"], "p_true": p_true})


def valid_tables() -> dict[str, pd.DataFrame]:
    """Fresh valid tables: keys markets, quotes, weather, settlements, oracle."""
    markets = markets_table()
    quotes = quotes_table(markets)
    for frame in (markets, quotes):
        frame["ticker"] = frame["ticker"].astype("str")
    return {
        "markets": markets,
        "quotes": quotes,
        "weather": weather_table(),
        "settlements": settlements_table(),
        "oracle": oracle_table(quotes),
    }
