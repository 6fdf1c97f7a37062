"""Tests for tmaxedge.contract: the YES rule, the partition check and the schemas."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tables import valid_tables

from tmaxedge import contract


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
    yes = contract.resolves_yes(pd.Series(kinds), pd.Series(floors), pd.Series(caps), temps)
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
    strikes = markets[["strike_type", "floor_strike", "cap_strike"]]
    yes = contract.resolves_yes(*(strikes[c] for c in strikes.columns), [temp] * len(markets))
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
