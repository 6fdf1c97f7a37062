"""The market-reliability study on a hand-made world whose numbers are worked out by hand.

tests/research/fixtures/market_study/: two NYC events of three markets each (E1 = 25JUL01, high 80:
B80.5 YES; E2 = 25JUL02, high 85: T81 YES, its result left null for the settlements to fill).
Close is 03:59Z the next day, so the 6 h cutoff is 21:59Z and the 1 h cutoff 02:59Z. The last
trade at or before each cutoff, in cents (y in brackets):

    market        6 h       1 h
    E1 T80   (0)  10        2
    E1 B80.5 (1)  70        95
    E1 T81   (0)  -         20     (its only trade is at 22:00Z, after the 6 h cutoff)
    E2 T80   (0)  5         5      (traded exactly at the 6 h cutoff: included)
    E2 B80.5 (0)  30        30     (a trade after close is ignored)
    E2 T81   (1)  60        90     (a book row without a trade is ignored)
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from tmaxedge.cli.main import main
from tmaxedge.core import io
from tmaxedge.core.errors import DataError
from tmaxedge.research import market_study

FIXTURES = Path(__file__).parent / "fixtures" / "market_study"
Z = market_study.Z_95
BRIER_6H = (0.1**2 + 0.3**2 + 0.05**2 + 0.3**2 + 0.4**2) / 5  # 0.0705
BRIER_1H = (0.02**2 + 0.05**2 + 0.2**2 + 0.05**2 + 0.3**2 + 0.1**2) / 6
LOG_LOSS_1H = -np.mean(np.log([0.98, 0.95, 0.8, 0.95, 0.7, 0.9]))


def load(name: str) -> pd.DataFrame:
    """A fixture table as the CLI reads it (CSV text), coerced to the contract."""
    return market_study.contract_table(io.read_source_table(FIXTURES / f"{name}.csv"), name, name)


def run_study(horizons=(6.0, 1.0)) -> dict:
    where = {"markets": "markets.csv", "quotes": "quotes.csv", "settlements": "settlements.csv"}
    return market_study.study(load("markets"), load("quotes"), load("settlements"), horizons, where)


def by_horizon(frame: pd.DataFrame, hours: float) -> pd.DataFrame:
    return frame[frame["horizon_h"] == hours].reset_index(drop=True)


# --- the hand-made world -----------------------------------------------------------------------


def test_last_trade_at_or_before_each_cutoff():
    prices = run_study()["prices"].set_index(["horizon_h", "ticker"])["price_cents"]
    expected_6h = {
        "25JUL01-T80": 10,
        "25JUL01-B80.5": 70,
        "25JUL01-T81": pd.NA,
        "25JUL02-T80": 5,
        "25JUL02-B80.5": 30,
        "25JUL02-T81": 60,
    }
    expected_1h = {
        "25JUL01-T80": 2,
        "25JUL01-B80.5": 95,
        "25JUL01-T81": 20,
        "25JUL02-T80": 5,
        "25JUL02-B80.5": 30,
        "25JUL02-T81": 90,
    }
    for hours, expected in [(6.0, expected_6h), (1.0, expected_1h)]:
        for short, price in expected.items():
            got = prices[(hours, f"KXHIGHNY-{short}")]
            assert (pd.isna(got) and pd.isna(price)) or got == price, (hours, short, got)


def test_scores_by_horizon_match_the_hand_computation():
    scores = run_study()["scores"].set_index("horizon_h")
    assert scores.loc[6.0, "brier"] == pytest.approx(BRIER_6H)
    assert scores.loc[1.0, "brier"] == pytest.approx(BRIER_1H)
    assert scores.loc[1.0, "log_loss"] == pytest.approx(LOG_LOSS_1H)
    # at 6 h one NO market has no trade yet: 3 of 4 NO and 2 of 2 YES markets are priced
    assert scores.loc[6.0, ["n_priced", "coverage_yes", "coverage_no"]].tolist() == [5, 1.0, 0.75]
    assert bool(scores.loc[6.0, "biased"]) and not bool(scores.loc[1.0, "biased"])
    # base rate at 1 h: 2 YES in 6, a constant 1/3 scores 1/3 * 2/3
    assert scores.loc[1.0, "brier_base_rate"] == pytest.approx(2 / 9)
    assert scores.loc[1.0, "n_events"] == 2


def test_results_are_checked_and_filled_from_the_settlements():
    result = run_study()
    assert result["counts"]["n_labelled_from_settlements"] == 1  # E2 T81, high 85 > 81
    assert result["counts"]["n_markets_unlabelled"] == 0
    assert result["counts"]["n_quote_rows_of_other_markets"] == 1
    labels = result["prices"].drop_duplicates("ticker").set_index("ticker")["y"]
    assert labels["KXHIGHNY-25JUL02-T81"] == 1 and labels.sum() == 2


def test_without_settlements_a_null_result_is_left_out():
    labelled, counts = market_study.labelled_markets(load("markets"), None, "markets.csv")
    assert counts["n_markets_unlabelled"] == 1 and len(labelled) == 5


def test_reliability_buckets_put_whole_cents_on_their_own_edge():
    """30, 60, 70 and 90 cents sit on bucket edges that np.linspace rounds up; they must land in
    [30, 40), [60, 70), [70, 80) and [90, 100], not in the bucket below."""
    table = run_study()["reliability"]
    six = by_horizon(table, 6.0).set_index("lower_cents")
    assert six["n"].to_dict() == {0: 1, 10: 1, 30: 1, 60: 1, 70: 1}
    one = by_horizon(table, 1.0).set_index("lower_cents")
    assert one["n"].to_dict() == {0: 2, 20: 1, 30: 1, 90: 2}
    assert one.loc[0, "mean_price"] == pytest.approx(3.5)
    assert one.loc[90, ["mean_price", "yes_rate"]].tolist() == pytest.approx([92.5, 100.0])
    # 0 YES in 2: Wilson upper bound z^2 / (2 + z^2); 2 YES in 2: lower bound 2 / (2 + z^2)
    assert one.loc[0, "wilson_high"] == pytest.approx(100 * Z**2 / (2 + Z**2))
    assert one.loc[90, "wilson_low"] == pytest.approx(100 * 2 / (2 + Z**2))
    assert one.loc[90, "upper_cents"] == 100


def test_longshot_table_compares_cheap_and_dear_contracts_with_their_price():
    table = by_horizon(run_study()["longshot"], 1.0).set_index("side")
    # < 20c: 2 and 5 cents, no YES; > 80c: 95 and 90 cents, both YES (20c is in neither)
    cheap = table.loc["< 20c", ["n", "n_yes", "mean_price", "gap"]].tolist()
    dear = table.loc["> 80c", ["n", "n_yes", "mean_price", "gap"]].tolist()
    assert cheap == pytest.approx([2, 0, 3.5, 3.5]) and dear == pytest.approx([2, 2, 92.5, -7.5])
    assert set(table["verdict"]) == {"consistent"}  # two contracts prove nothing


def test_longshot_verdict_reads_the_interval_against_the_price():
    assert market_study.longshot_verdict(1.6, 0.0, 0.8) == "overpriced"
    assert market_study.longshot_verdict(90.0, 95.0, 100.0) == "underpriced"
    assert market_study.longshot_verdict(50.0, 40.0, 60.0) == "consistent"
    assert market_study.longshot_verdict(float("nan"), float("nan"), float("nan")) == "no contracts"


# --- statistics --------------------------------------------------------------------------------


def test_wilson_interval_matches_the_textbook_value():
    low, high = market_study.wilson_interval(np.array([5]), np.array([10]))
    assert (low[0], high[0]) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    low, high = market_study.wilson_interval(np.array([0]), np.array([0]))
    assert np.isnan(low[0]) and np.isnan(high[0])


def test_clustered_se_by_hand_and_its_one_per_cluster_case():
    # mean 3; cluster sums of residuals -2, -1, 3: sqrt(3/2 * 14) / 4
    values = np.array([1.0, 3.0, 2.0, 6.0])
    assert market_study.clustered_se(values, np.array(["a", "a", "b", "c"])) == pytest.approx(
        math.sqrt(1.5 * 14) / 4
    )
    own = market_study.clustered_se(values, np.arange(4))
    assert own == pytest.approx(values.std(ddof=1) / 2)
    assert math.isnan(market_study.clustered_se(values, np.zeros(4)))


# --- the command -------------------------------------------------------------------------------


def invoke(
    tmp_path: Path,
    *extra: str,
    markets: Path | None = None,
    quotes: Path | None = None,
    settlements: Path | None = FIXTURES / "settlements.csv",
):
    args = [
        "study",
        "market-reliability",
        "--markets",
        str(markets or FIXTURES / "markets.csv"),
        "--quotes",
        str(quotes or FIXTURES / "quotes.csv"),
        "--out",
        str(tmp_path / "out"),
        *extra,
    ]
    if settlements is not None:
        args += ["--settlements", str(settlements)]
    return CliRunner().invoke(main, args)


def test_command_writes_the_section_and_tables_and_prints_them(tmp_path):
    result = invoke(tmp_path, "--horizons", "6,1")
    assert result.exit_code == 0, result.output
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == [
        "market_longshot.csv",
        "market_reliability.csv",
        "market_reliability.md",
        "market_scores.csv",
    ]
    scores = pd.read_csv(out / "market_scores.csv").set_index("horizon_h")
    assert scores.loc[6.0, "brier"] == pytest.approx(BRIER_6H)
    assert "2 events (2025-07-01 .. 2025-07-02), 6 markets" in result.output
    assert "WARNING: horizon 6 h" in result.output
    section = (out / "market_reliability.md").read_text()
    assert section.startswith("## Market reliability")
    assert "**Horizons [6.0] are biased**" in section
    assert "| 6.0 | 6 | 2 | 5 |" in section


def test_horizons_must_be_positive(tmp_path):
    result = invoke(tmp_path, "--horizons", "6,-1")
    assert result.exit_code == 2 and "distinct positive hours" in result.output


# --- bad input ---------------------------------------------------------------------------------


def edited(tmp_path: Path, name: str, old: str, new: str) -> Path:
    """A copy of a fixture with one piece of text replaced."""
    text = (FIXTURES / f"{name}.csv").read_text()
    assert old in text, old
    path = tmp_path / f"{name}.csv"
    path.write_text(text.replace(old, new))
    return path


def failing(result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    for fragment in fragments:
        assert fragment in result.output, result.output


def test_missing_column_names_file_and_column(tmp_path):
    markets = edited(tmp_path, "markets", ",close_time,", ",closing,")
    failing(
        invoke(tmp_path, markets=markets), f"tmaxedge: {markets}: column 'close_time' is missing"
    )


def test_price_out_of_range_names_file_column_rule_and_row(tmp_path):
    quotes = edited(tmp_path, "quotes", "2025-07-01T21:00:00Z,,,10,", "2025-07-01T21:00:00Z,,,120,")
    failing(
        invoke(tmp_path, quotes=quotes),
        str(quotes),
        "column 'price' must be integer cents in 0..100",
        "120",
    )


def test_naive_timestamp_is_refused(tmp_path):
    quotes = edited(tmp_path, "quotes", "2025-07-01T21:00:00Z", "2025-07-01T21:00:00")
    failing(invoke(tmp_path, quotes=quotes), "column 'ts' must be a timezone-aware UTC timestamp")


def test_two_prices_in_one_minute_are_ambiguous(tmp_path):
    quotes = edited(
        tmp_path,
        "quotes",
        "KXHIGHNY-25JUL01-T80,2025-07-01T23:00:00Z,,,2,,",
        "KXHIGHNY-25JUL01-T80,2025-07-01T23:00:00Z,,,2,,\n"
        "KXHIGHNY-25JUL01-T80,2025-07-01T23:00:00Z,,,3,,",
    )
    failing(
        invoke(tmp_path, quotes=quotes),
        "column 'ticker, ts' must be unique",
        "2 of 13 rows break it",
    )


def test_quotes_without_trade_prices_are_refused(tmp_path):
    quotes = pd.read_csv(FIXTURES / "quotes.csv", dtype=str).assign(price=None)
    path = tmp_path / "quotes.csv"
    quotes.to_csv(path, index=False)
    failing(invoke(tmp_path, quotes=path), "column 'price' must hold last trade prices")


def test_result_disagreeing_with_the_settlement_names_the_market(tmp_path):
    settlements = edited(tmp_path, "settlements", "nyc,2025-07-01,80", "nyc,2025-07-01,79")
    failing(
        invoke(tmp_path, settlements=settlements),
        "markets.csv: column 'result' must agree",
        "KXHIGHNY-25JUL01-T80",
        "KXHIGHNY-25JUL01-B80.5",
    )


def test_conflicting_official_highs_are_refused(tmp_path):
    day = "nyc,2025-07-02,85"
    settlements = edited(tmp_path, "settlements", day, f"{day}\nnyc,2025-07-02,86")
    failing(invoke(tmp_path, settlements=settlements), "column 'city, date' must be unique")


def test_no_market_with_a_label_is_refused(tmp_path):
    markets = pd.read_csv(FIXTURES / "markets.csv", dtype=str).assign(result=None)
    path = tmp_path / "markets.csv"
    markets.to_csv(path, index=False)
    failing(
        invoke(tmp_path, markets=path, settlements=None), "column 'result' must be 'yes' or 'no'"
    )


def test_parquet_input_is_read_as_well(tmp_path):
    for name in ("markets", "quotes"):
        load(name).to_parquet(tmp_path / f"{name}.parquet")
    shutil.copy(FIXTURES / "settlements.csv", tmp_path / "settlements.csv")
    result = invoke(
        tmp_path,
        "--horizons",
        "1",
        markets=tmp_path / "markets.parquet",
        quotes=tmp_path / "quotes.parquet",
        settlements=tmp_path / "settlements.csv",
    )
    assert result.exit_code == 0, result.output
    scores = pd.read_csv(tmp_path / "out" / "market_scores.csv")
    assert scores["brier"].tolist() == pytest.approx([BRIER_1H])


def test_a_horizon_at_close_is_a_data_error_in_the_library():
    with pytest.raises(DataError, match="positive hours"):
        where = {"markets": "m", "quotes": "q"}
        market_study.study(load("markets"), load("quotes"), None, [0.0], where)
