"""Tests for tmaxedge.inputs.contract: the YES rule, the partition check and the schemas."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tables import valid_tables

from tmaxedge.core import strikes
from tmaxedge.inputs import contract


def event_markets(cuts: list[int]) -> pd.DataFrame:
    """One event whose bins are split at the integer ``cuts`` like Kalshi's titles.

    ``less`` cap c0 (T <= c0 - 1), ``between`` [c_i, c_{i+1} - 1], ``greater`` floor c_last - 1.
    """
    rows = [("less", np.nan, float(cuts[0]))]
    rows += [("between", float(a), float(b - 1)) for a, b in zip(cuts, cuts[1:], strict=False)]
    rows.append(("greater", float(cuts[-1] - 1), np.nan))
    frame = pd.DataFrame(rows, columns=["strike_type", "floor_strike", "cap_strike"])
    return frame.assign(city="chi", event_date=pd.Timestamp("2024-04-01").date())


@pytest.mark.parametrize(
    ("strike_type", "floor_strike", "cap_strike", "yes_at"),
    [
        ("between", 45.0, 46.0, {45, 46}),  # both ends YES
        ("greater", 46.0, np.nan, {47, 48, 49}),  # strictly greater
        ("less", np.nan, 44.0, {40, 41, 42, 43}),  # strictly less
    ],
)
def test_resolves_yes_on_the_boundaries(strike_type, floor_strike, cap_strike, yes_at):
    temps = pd.Series(range(40, 50))
    n = len(temps)
    kinds, floors, caps = ([value] * n for value in (strike_type, floor_strike, cap_strike))
    yes = strikes.resolves_yes(pd.Series(kinds), pd.Series(floors), pd.Series(caps), temps)
    assert set(temps[yes]) == yes_at


@settings(max_examples=40, deadline=None)
@given(
    start=st.integers(-20, 100),
    widths=st.lists(st.integers(1, 4), min_size=1, max_size=6),
    temp=st.integers(-40, 140),
)
def test_events_not_partitioning_accepts_every_kalshi_style_split(start, widths, temp):
    cuts = list(np.cumsum([start, *widths]))
    markets = event_markets(cuts)
    assert contract.events_not_partitioning(markets).empty
    bins = markets[["strike_type", "floor_strike", "cap_strike"]]  # not `strikes`: the module
    yes = strikes.resolves_yes(*(bins[c] for c in bins.columns), [temp] * len(markets))
    assert yes.sum() == 1  # exactly one market YES, also far outside the strikes


@settings(max_examples=40, deadline=None)
@given(
    start=st.integers(-20, 100),
    widths=st.lists(st.integers(1, 4), min_size=2, max_size=6),
    which=st.integers(0, 10),
    shift=st.sampled_from([-1, 1]),
)
def test_events_not_partitioning_finds_a_moved_strike(start, widths, which, shift):
    markets = event_markets(list(np.cumsum([start, *widths])))
    between = markets.index[markets["strike_type"] == "between"]
    row = between[which % len(between)]
    markets.loc[row, "cap_strike"] += shift  # a gap (-1) or an overlap (+1) after this bin
    found = contract.events_not_partitioning(markets)
    assert len(found) == len(markets)
    assert set(found["n_yes_there"]) == {1 + shift}


def test_schemas_accept_the_valid_tables():
    for name, frame in valid_tables().items():
        contract.SCHEMAS[name].validate(frame)


def test_empty_table_has_contract_columns_and_dtypes():
    frame = contract.empty_table("quotes")
    assert {c: str(d) for c, d in frame.dtypes.items()} == contract.RAW_DTYPES["quotes"]


@st.composite
def quote_frames(draw) -> pd.DataFrame:
    """Small quote-like frames with repeated keys, repeated whole rows, nulls and any order."""
    n = draw(st.integers(0, 30))
    tickers = draw(st.lists(st.sampled_from(["B", "A", "C", None]), min_size=n, max_size=n))
    minutes = draw(st.lists(st.one_of(st.none(), st.integers(0, 3)), min_size=n, max_size=n))
    bids = draw(st.lists(st.sampled_from([1.0, 2.0, np.nan]), min_size=n, max_size=n))
    ts = [
        None if m is None else pd.Timestamp("2024-04-01", tz="UTC") + pd.Timedelta(minutes=m)
        for m in minutes
    ]
    frame = pd.DataFrame(
        {
            "ticker": pd.Series(tickers, dtype="str"),
            "ts": pd.to_datetime(pd.Series(ts), utc=True),
            "yes_bid": bids,
        }
    )
    return frame.set_index(pd.Index(draw(st.permutations(range(n))), dtype="int64"))


@settings(max_examples=100, deadline=None)
@given(quote_frames())
def test_key_checks_agree_with_pandas(frame):
    key = ["ticker", "ts"]
    repeated = contract.repeated_key_mask(frame, key)
    assert repeated.tolist() == frame.duplicated(subset=key, keep=False).tolist()
    exact = contract.exact_duplicates(frame, key)
    pd.testing.assert_series_equal(exact, frame.duplicated(keep="first"))
    pd.testing.assert_frame_equal(
        contract.conflicting_duplicates(frame, key), frame[frame.duplicated(key, keep=False)]
    )


@settings(max_examples=100, deadline=None)
@given(quote_frames())
def test_sort_by_key_matches_a_stable_sort(frame):
    frame = frame.dropna(subset=["ticker", "ts"])  # keys are non-null when ingest sorts
    expected = frame.sort_values(["ticker", "ts"], kind="mergesort", ignore_index=True)
    pd.testing.assert_frame_equal(contract.sort_by_key(frame, ["ticker", "ts"]), expected)
    pd.testing.assert_frame_equal(contract.sort_by_key(expected, ["ticker", "ts"]), expected)


def test_quotes_after_close_looks_up_each_markets_close():
    markets = pd.DataFrame(
        {
            "ticker": pd.Series(["A", "B"], dtype="str"),
            "close_time": pd.to_datetime(["2024-04-01 20:00", "2024-04-01 21:00"], utc=True),
        }
    )
    quotes = pd.DataFrame(
        {
            "ticker": pd.Series(["B", "A", "A", "C", "B"], dtype="str"),
            "ts": pd.to_datetime(
                [
                    "2024-04-01 20:30",
                    "2024-04-01 20:30",
                    "2024-04-01 20:00",
                    "2024-04-01 23:00",
                    "2024-04-01 21:01",
                ],
                utc=True,
            ),
        }
    )
    late = contract.quotes_after_close(quotes, markets)
    assert late.tolist() == [False, True, False, False, True]  # at close is kept; C is unknown


def test_unmatched_keys_finds_a_missing_row_in_either_order():
    quotes = pd.DataFrame({"ticker": pd.Series(["A", "A", "B"], dtype="str"), "ts": [1, 2, 1]})
    assert contract.unmatched_keys(quotes, quotes.copy(), ["ticker", "ts"]).empty
    shifted = quotes.assign(ts=[1, 3, 1])
    assert contract.unmatched_keys(quotes, shifted, ["ticker", "ts"]).index.tolist() == [1]
    assert contract.unmatched_keys(quotes, quotes.iloc[::-1], ["ticker", "ts"]).empty


def test_missing_time_after_a_time_is_seen_as_out_of_order():
    # NaT minus a real instant overflows int64 and looks like a step forward when subtracted
    ts = pd.to_datetime(pd.Series(["2024-04-01 10:00", None, None]), utc=True)
    frame = pd.DataFrame({"ticker": pd.Series(["A", "A", "A"], dtype="str"), "ts": ts})
    order = contract.sort_by_key(frame, ["ticker", "ts"])
    assert order["ts"].isna().tolist() == [True, True, False]
