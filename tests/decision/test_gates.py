"""Release gates and promotion: behaviour on small hand-made metrics, orders and coefficients."""

import dataclasses
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from worlds import CITIES, simulated_tables, write_feature_folder

from tmaxedge.core import io
from tmaxedge.core.errors import ParamsError
from tmaxedge.decision.backtest import BacktestParams, predicted_edges
from tmaxedge.decision.gates import (
    CHECKS,
    DEFAULT_BETA_MAX,
    ENFORCED_CHECKS,
    GATE_CHECKS,
    GateParams,
    check_beta_norm,
    check_brier,
    check_coverage,
    check_edge_two_sided,
    check_log_loss_vs_market,
    check_no_future_features,
    check_predicted_edge_two_sided,
    choose_promotion,
    coefficient_norms,
    count_rows_after_close,
    evaluate_gates,
    failed_checks,
    flat_gate_metrics,
    model_summary,
    recorded_checks,
)
from tmaxedge.decision.leakage import DIFFERENCE_COLUMNS, LeakageAudit
from tmaxedge.modeling.cards import Calibrator, ModelCard
from tmaxedge.modeling.logistic import LinearFit, Preprocessor

REPO = Path(__file__).resolve().parents[2]
PARAMS = GateParams()
COSTS = BacktestParams()  # taker fee 7%, trades an edge of 2c or more
CLEAN = LeakageAudit(
    n_rows=20, n_cutoffs=12, n_columns=40, differences=pd.DataFrame(columns=DIFFERENCE_COLUMNS)
)


def walkforward(
    brier=0.090, market_brier=0.100, log_loss=0.30, market_log_loss=0.32, coverage=0.99
):
    return {
        "brier": brier,
        "brier_common": brier,
        "market_brier": market_brier,
        "log_loss": log_loss,
        "log_loss_common": log_loss,
        "market_log_loss": market_log_loss,
        "coverage": coverage,
        # an interval around the improvement, well above zero unless a test says otherwise
        "brier_improvement_low": 1 - brier / market_brier - 0.01,
        "brier_improvement_high": 1 - brier / market_brier + 0.01,
        "n_events": 200,
        "interval_level": 0.95,
    }


def orders(model="ridge", n_yes=5, n_no=5, edge_yes=4.0, edge_no=6.0):
    side = ["yes"] * n_yes + ["no"] * n_no
    edge = [edge_yes] * n_yes + [edge_no] * n_no
    return pd.DataFrame({"model": model, "side": side, "edge_cents": edge})


def norms(model="ridge", values=(("aus_between", 1.0), ("aus_greater", 2.0), ("aus_less", 3.0))):
    records = []
    for i, (group, norm) in enumerate(values):
        coef = [0.0] * 3
        coef[i % 3] = norm  # ||coef||2 == norm
        records.append((model, "2024-07-01", group, {"coef": coef}))
    return coefficient_norms(records)


def edges(diag: pd.DataFrame) -> pd.DataFrame:
    return predicted_edges(diag, COSTS.taker_fee_rate, COSTS.min_edge_cents)


def diagnostics(model="ridge", minutes_to_close=(30.0, 5.0, 0.0), p_model=(0.55, 0.30)):
    """Test rows on a 40/42c book; ``p_model`` repeats over them: 0.55 buys YES at 42c (edge
    55 - 42 - 1.71 fee = 11.3c), 0.30 buys NO at 60c (edge 70 - 60 - 1.68 = 8.3c)."""
    n = len(minutes_to_close)
    return pd.DataFrame(
        {
            "model": model,
            "minutes_to_close": list(minutes_to_close),
            "p_model": np.resize(np.asarray(p_model, float), n),
            "yes_bid": 40.0,
            "yes_ask": 42.0,
        }
    )


# --- params --------------------------------------------------------------------------------------


def test_gate_params_defaults_hold_the_documented_thresholds():
    assert (PARAMS.brier_improvement, PARAMS.coverage, PARAMS.one_sided_max) == (0.02, 0.95, 0.99)
    assert PARAMS.beta_max == DEFAULT_BETA_MAX
    assert set(PARAMS.beta_max) == {"between", "greater", "less"}
    assert PARAMS.enforce is True


def test_gate_params_from_yaml_converts_int_limits_to_float(tmp_path):
    (tmp_path / "params.yaml").write_text(
        "gate:\n  brier_improvement: 0.02\n  coverage: 1\n"
        "  beta_max: {between: 5, greater: 7.5, less: 9}\n  one_sided_max: 0.9\n  enforce: false\n"
    )
    params = io.load_params("gate", GateParams, tmp_path / "params.yaml")
    assert params.beta_max == {"between": 5.0, "greater": 7.5, "less": 9.0}
    assert (params.coverage, params.enforce) == (1.0, False)


@pytest.mark.parametrize(
    "raw, message",
    [
        ({"brier_improvement": 1.0}, "gate.brier_improvement must be a number in [0, 1); got 1.0."),
        ({"brier_improvement": -0.1}, "gate.brier_improvement must be a number in [0, 1)"),
        ({"coverage": 1.5}, "gate.coverage must be a number in [0, 1]; got 1.5."),
        ({"one_sided_max": 0.4}, "gate.one_sided_max must be a number in [0.5, 1]; got 0.4."),
        ({"enforce": "yes"}, "gate.enforce must be true or false; got 'yes'."),
        (
            {"beta_max": {"between": 1, "greater": 1}},  # a strike type missing
            "gate.beta_max must have exactly the keys ['between', 'greater', 'less']; "
            "got ['between', 'greater'].",
        ),
        (
            {"beta_max": {"between": 1, "greater": 0, "less": 1}},  # zero limit
            "gate.beta_max.greater must be a number in (0, inf); got 0.",
        ),
        (
            {"beta_max": {"between": 1, "greater": 1, "less": "big"}},  # not a number
            "gate.beta_max.less must be a number in (0, inf); got 'big'.",
        ),
        (
            {"beta_max": 25},
            "gate.beta_max must be a mapping of ['between', 'greater', 'less'] to a number in "
            "(0, inf); got 25.",
        ),
        ({"beta": 25}, "gate: unknown key(s) ['beta']"),
    ],
)
def test_gate_params_reject_bad_values_naming_the_key(tmp_path, raw, message):
    with pytest.raises(ParamsError, match=re.escape(message)):
        io.params_from_mapping(raw, GateParams, "params.yaml: gate")


# --- one test group per check --------------------------------------------------------------------


def test_check_brier_fails_and_says_how_much_worse_when_model_is_worse():
    result = check_brier("ridge", walkforward(brier=0.0739, market_brier=0.0711), 0.02)
    assert result["passed"] is False
    assert result["value"] == pytest.approx(1 - 0.0739 / 0.0711)
    assert result["threshold"] == 0.02
    assert result["message"] == (
        "ridge Brier 0.0739 is 3.9% worse than the market's 0.0711: worse than the market: -3.9% "
        "(95% interval -4.9% .. -2.9% over 200 events); the gate needs 2.0% better and an "
        "interval above zero."
    )


def test_check_brier_fails_when_the_interval_holds_zero_and_says_no_edge_was_found():
    metrics = {**walkforward(brier=0.090, market_brier=0.100), "brier_improvement_low": -0.004}
    result = check_brier("ridge", metrics, 0.02)
    assert result["passed"] is False and result["value"] == pytest.approx(0.1)
    assert (
        ": no edge found: +10.0% (95% interval -0.4% .. +11.0% over 200 events)"
        in (result["message"])
    )


def test_check_brier_fails_without_an_interval_however_large_the_point():
    metrics = walkforward(brier=0.050, market_brier=0.100)
    del metrics["brier_improvement_low"]
    result = check_brier("ridge", metrics, 0.02)
    assert result["passed"] is False
    assert "with no event-bootstrap interval recorded" in result["message"]


@pytest.mark.parametrize(
    "brier, passed",
    [
        (0.098, True),  # exactly 2% better: on the boundary, passes
        (0.0981, False),  # 1.9% better: not enough
        (0.0700, True),  # 30% better
        (0.1000, False),  # tied with the market
    ],
)
def test_check_brier_needs_the_required_improvement(brier, passed):
    result = check_brier("ridge", walkforward(brier=brier, market_brier=0.100), 0.02)
    assert result["passed"] is passed


def test_check_brier_uses_common_rows_not_all_rows():
    metrics = {**walkforward(brier=0.05, market_brier=0.10), "brier_common": 0.12}
    assert check_brier("ridge", metrics, 0.02)["passed"] is False


def test_check_brier_fails_without_common_rows():
    result = check_brier("ridge", {"brier_common": None, "market_brier": None}, 0.02)
    assert (result["passed"], result["value"]) == (False, None)
    assert "cannot be compared" in result["message"]


def test_check_log_loss_vs_market_is_informational_only():
    gates = evaluate_gates(
        {"ridge": walkforward(log_loss=0.40, market_log_loss=0.32)},
        norms(),
        orders(),
        diagnostics(),
        PARAMS,
        edges(diagnostics()),
        CLEAN,
    )
    assert gates["ridge"]["checks"]["log_loss_vs_market"]["passed"] is False
    assert gates["ridge"]["passed"] is True
    message = check_log_loss_vs_market("ridge", walkforward(log_loss=0.40, market_log_loss=0.32))
    assert message["message"].startswith("ridge log loss 0.4000 is 25.0% worse than the market's")


@pytest.mark.parametrize(
    "coverage, passed",
    [(0.95, True), (0.9499, False), (1.0, True), (None, False)],  # boundary passes; null fails
)
def test_check_coverage_boundary(coverage, passed):
    assert check_coverage("ridge", walkforward(coverage=coverage), 0.95)["passed"] is passed


def test_check_coverage_message():
    result = check_coverage("elasticnet", walkforward(coverage=0.9), 0.95)
    assert result["message"] == (
        "elasticnet predicts on 90.0% of eligible test rows; the gate needs at least 95.0%."
    )


def test_check_coverage_holds_every_test_window_to_the_limit():
    metrics = {**walkforward(coverage=0.97), "coverage_lowest_window": 0.94}
    result = check_coverage("ridge", metrics, 0.95)
    assert result["passed"] is False and result["value"] == 0.94  # 97% overall is not enough
    assert result["message"] == (
        "ridge predicts on 97.0% of eligible test rows, 94.0% in its lowest test window; "
        "the gate needs at least 95.0% in every window."
    )
    assert check_coverage("ridge", {**metrics, "coverage_lowest_window": 0.95}, 0.95)["passed"]


def test_count_rows_after_close_counts_negative_and_missing_minutes():
    frame = pd.concat(
        [diagnostics("ridge", (10.0, 0.0, -1.0, np.nan)), diagnostics("lasso", (5.0,))]
    )
    counts = count_rows_after_close(frame)
    assert counts.to_dict("records") == [
        {"model": "lasso", "n_rows_after_close": 0, "n_rows": 1},
        {"model": "ridge", "n_rows_after_close": 2, "n_rows": 4},
    ]


def test_check_no_future_features_fails_on_one_row_after_close():
    # Prove the guard can fail: one decision stamped a minute after the close.
    gates = evaluate_gates(
        {"ridge": walkforward()},
        norms(),
        orders(),
        diagnostics(minutes_to_close=(5.0, 0.0, -1.0)),
        PARAMS,
        edges(diagnostics()),
        CLEAN,
    )
    check = gates["ridge"]["checks"]["no_future_features"]
    assert (check["passed"], check["value"], check["threshold"]) == (False, 1, 0)
    assert check["message"].startswith("1 of 3 ridge test rows are stamped after their market's")
    assert gates["ridge"]["passed"] is False


def test_check_no_future_features_passes_at_the_close_and_fails_without_rows():
    assert check_no_future_features("ridge", 0, 3)["passed"] is True
    assert check_no_future_features("ridge", 0, 0)["passed"] is False


def test_coefficient_norms_is_the_l2_norm_per_group():
    table = coefficient_norms(
        [
            ("ridge", "w1", "aus_less", {"coef": [3.0, -4.0]}),
            ("ridge", "w1", "new_york_between", {"coef": [0.0]}),
        ]
    )
    assert table[["group", "strike", "norm"]].to_dict("records") == [
        {"group": "aus_less", "strike": "less", "norm": 5.0},
        {"group": "new_york_between", "strike": "between", "norm": 0.0},
    ]


@pytest.mark.parametrize(
    "greater_norm, passed",
    [(10.0, True), (10.01, False), (0.5, True)],  # on the limit passes
)
def test_check_beta_norm_limit_per_strike_type(greater_norm, passed):
    table = norms(values=(("aus_between", 1.0), ("aus_greater", greater_norm)))
    result = check_beta_norm("ridge", table, {"between": 10.0, "greater": 10.0, "less": 10.0})
    assert result["passed"] is passed


def test_check_beta_norm_uses_the_limit_of_each_strike_type():
    table = norms(values=(("aus_between", 3.0), ("aus_greater", 20.0), ("chi_less", 4.0)))
    limits = {"between": 2.0, "greater": 25.0, "less": 5.0}
    result = check_beta_norm("ridge", table, limits)
    assert (result["passed"], result["value"], result["threshold"]) == (False, 3.0, 2.0)
    assert result["message"] == (
        "ridge coefficient norm ||beta||2 exceeds its limit in 1 of 3 fitted groups: "
        "between up to 3.00 (aus_between, window 2024-07-01; limit 2)."
    )


def test_check_beta_norm_fails_without_models_or_with_unknown_strike():
    assert check_beta_norm("ridge", norms(values=()), DEFAULT_BETA_MAX)["passed"] is False
    result = check_beta_norm("ridge", norms(values=(("aus_above", 1.0),)), DEFAULT_BETA_MAX)
    assert result["passed"] is False
    assert "['above']" in result["message"]


@pytest.mark.parametrize(
    "n_yes, n_no, passed",
    [
        (5, 95, True),  # 95% NO: exactly on the limit
        (4, 96, False),  # 96% NO
        (96, 4, False),  # 96% YES: either side counts
        (50, 50, True),
        (0, 10, False),  # all NO
        (0, 0, False),  # no orders: no edge to speak of
    ],
)
def test_check_edge_two_sided_share_on_one_side(n_yes, n_no, passed):
    assert check_edge_two_sided("ridge", orders(n_yes=n_yes, n_no=n_no), 0.95)["passed"] is passed


def test_check_edge_two_sided_message_gives_share_and_mean_edge_per_side():
    result = check_edge_two_sided("ridge", orders(n_yes=1, n_no=3, edge_yes=3.0, edge_no=5.0), 0.95)
    assert result["value"] == 0.75
    assert result["message"] == (
        "ridge placed 4 orders: 25.0% YES (mean edge 3.0c), 75.0% NO (mean edge 5.0c); "
        "the gate allows at most 95.0% on one side."
    )


def test_predicted_edges_per_side_where_the_model_would_trade():
    # 0.55 buys YES (11.3c), 0.30 buys NO (8.3c), 0.42 trades neither side (the spread and the
    # fee eat it); the closed row (minutes_to_close 0) does not count
    diag = diagnostics(minutes_to_close=(30.0, 20.0, 10.0, 0.0), p_model=(0.55, 0.30, 0.42, 0.55))
    (row,) = predicted_edges(diag, fee_rate=0.07, min_edge=2.0).to_dict("records")
    fee_yes, fee_no = 0.07 * 42 * 58 / 100, 0.07 * 60 * 40 / 100  # YES at 42c, NO at 100 - 40
    assert row["n_rows"] == 3
    assert (row["n_rows_yes"], row["n_rows_no"]) == (1, 1)
    assert row["mean_edge_yes"] == pytest.approx(55 - 42 - fee_yes)
    assert row["mean_edge_no"] == pytest.approx(70 - 60 - fee_no)
    assert row["edge_per_row_yes"] == pytest.approx((55 - 42 - fee_yes) / 3)


def test_predicted_edges_price_an_empty_side_at_its_bound():
    # no bid: NO would cost 100c, which cannot be bought; YES at the 42c ask still can
    diag = diagnostics(minutes_to_close=(30.0, 20.0), p_model=(0.55, 0.30)).assign(yes_bid=np.nan)
    (row,) = predicted_edges(diag, fee_rate=0.07, min_edge=2.0).to_dict("records")
    assert (row["n_rows"], row["n_rows_yes"], row["n_rows_no"]) == (2, 1, 0)
    assert np.isnan(row["mean_edge_no"])


@pytest.mark.parametrize(
    "p_model, passed",
    [
        ((0.55, 0.30), True),  # edge on both sides
        ((0.30,), False),  # every tradable edge is NO
        ((0.55,), False),  # every tradable edge is YES
        ((0.42,), False),  # no edge anywhere
    ],
)
def test_check_predicted_edge_two_sided(p_model, passed):
    diag = diagnostics(minutes_to_close=(30.0, 20.0, 10.0, 5.0), p_model=p_model)
    (row,) = predicted_edges(diag, fee_rate=0.07, min_edge=2.0).to_dict("records")
    assert check_predicted_edge_two_sided("ridge", row, 0.99)["passed"] is passed


def test_check_predicted_edge_two_sided_message_and_details():
    diag = diagnostics(minutes_to_close=(30.0, 20.0, 10.0, 5.0), p_model=(0.55, 0.30, 0.30, 0.30))
    (row,) = predicted_edges(diag, fee_rate=0.07, min_edge=2.0).to_dict("records")
    result = check_predicted_edge_two_sided("ridge", row, 0.6)
    yes, no = 55 - 42 - 1.7052, 3 * (70 - 60 - 1.68)
    assert (result["passed"], result["value"]) == (False, pytest.approx(no / (yes + no)))
    assert result["message"] == (
        "ridge predicted edge after costs where it would trade, by side: YES 31.2% (mean 11.3c "
        "on 1 rows), NO 68.8% (mean 8.3c on 3 rows); the gate allows at most 60.0% on one side."
    )
    assert result["details"] == {
        "mean_edge_yes_cents": pytest.approx(yes),
        "mean_edge_no_cents": pytest.approx(no / 3),
        "n_rows_edge_yes": 1,
        "n_rows_edge_no": 3,
    }
    assert check_predicted_edge_two_sided("ridge", None, 0.99)["passed"] is False


def test_evaluate_gates_fails_every_entry_on_a_feature_table_that_leaks():
    leaked = pd.DataFrame(
        [["T", pd.Timestamp("2024-05-01 12:00", tz="UTC"), "yes_mid", 41.0, 40.0]],
        columns=DIFFERENCE_COLUMNS,
    )
    audit = dataclasses.replace(CLEAN, differences=leaked)
    metrics = {"ridge": walkforward(), "lasso": walkforward()}
    table = pd.concat([norms("ridge"), norms("lasso")], ignore_index=True)
    trades = pd.concat([orders("ridge"), orders("lasso")])
    diag = pd.concat([diagnostics("ridge"), diagnostics("lasso")])
    gates = evaluate_gates(metrics, table, trades, diag, PARAMS, edges(diag), audit)
    for model in ("ridge", "lasso"):
        failing = {name for name, c in gates[model]["checks"].items() if not c["passed"]}
        assert failing == {"features_rederived"}
        assert gates[model]["passed"] is False


# --- all gates and gate.json ---------------------------------------------------------------------


def two_models(ridge=None, lasso=None):
    metrics = {"ridge": ridge or walkforward(), "lasso": lasso or walkforward()}
    table = pd.concat([norms("ridge"), norms("lasso")], ignore_index=True)
    trades = pd.concat([orders("ridge"), orders("lasso"), orders("market", n_yes=10, n_no=0)])
    diag = pd.concat([diagnostics("ridge"), diagnostics("lasso")])
    return evaluate_gates(metrics, table, trades, diag, PARAMS, edges(diag), CLEAN)


def test_evaluate_gates_runs_every_check_per_model_and_ignores_the_market_baseline():
    gates = two_models(lasso=walkforward(brier=0.0995))
    assert set(gates) == {"ridge", "lasso"}
    assert set(gates["ridge"]["checks"]) == set(CHECKS)
    assert gates["ridge"]["passed"] is True
    assert gates["lasso"]["passed"] is False
    failing = {name for name, c in gates["lasso"]["checks"].items() if not c["passed"]}
    assert failing == {"brier"}


def test_evaluate_gates_fails_a_model_with_no_orders_or_no_models():
    gates = evaluate_gates(
        {"ridge": walkforward()},
        norms("other"),
        orders("other"),
        diagnostics(),
        PARAMS,
        edges(diagnostics()),
        CLEAN,
    )
    failing = {name for name, c in gates["ridge"]["checks"].items() if not c["passed"]}
    assert failing == {"beta_norm", "edge_two_sided"}


def test_flat_gate_metrics_is_flat_booleans_values_and_messages():
    flat = flat_gate_metrics(two_models(lasso=walkforward(brier=0.0995)))
    assert set(flat["ridge"]) == {
        "passed",
        "messages",
        "brier_check",
        "brier_improvement",
        "log_loss_vs_market_check",
        "log_loss_improvement",
        "coverage_check",
        "coverage_lowest_window",
        "no_future_features_check",
        "n_rows_after_close",
        "beta_norm_check",
        "beta_norm_max",
        "edge_two_sided_check",
        "one_sided_share",
        "features_rederived_check",
        "n_rows_rederived_differing",
        "n_rows_rederived",
        "predicted_edge_two_sided_check",
        "predicted_edge_one_sided_share",
        "mean_edge_yes_cents",
        "mean_edge_no_cents",
        "n_rows_edge_yes",
        "n_rows_edge_no",
    }
    assert flat["lasso"]["brier_check"] is False
    assert flat["lasso"]["brier_improvement"] == 0.005
    assert failed_checks(flat) == [("lasso", "brier", flat["lasso"]["messages"]["brier"])]
    json.dumps(flat)  # plain JSON types only


def test_recorded_checks_read_back_what_flat_gate_metrics_wrote():
    gates = two_models(lasso=walkforward(brier=0.0995))
    recorded = recorded_checks(flat_gate_metrics(gates)["lasso"])
    assert tuple(recorded) == CHECKS
    for name, check in gates["lasso"]["checks"].items():
        assert recorded[name]["passed"] == check["passed"]
        assert recorded[name]["message"] == check["message"]


def test_failed_checks_counts_an_unrecorded_enforced_check_as_failed_saying_what_it_needs():
    flat = flat_gate_metrics(two_models())
    del flat["ridge"]["edge_two_sided_check"]
    (failure,) = failed_checks(flat)
    assert failure[:2] == ("ridge", "edge_two_sided")
    assert failure[2].endswith("at most gate.one_sided_max of the backtest's orders on one side")


def test_an_informational_check_never_fails_the_gate():
    gates = two_models(ridge=walkforward(log_loss=0.40))
    assert gates["ridge"]["checks"]["log_loss_vs_market"]["passed"] is False
    assert gates["ridge"]["passed"] is True
    assert failed_checks(flat_gate_metrics(gates)) == []


def test_every_check_limit_is_a_gate_param_the_gate_stage_depends_on():
    fields = {field.name for field in dataclasses.fields(GateParams)}
    limits = {check.threshold_param for check in GATE_CHECKS} - {None}
    assert limits <= fields
    stage = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]["gate"]
    read = {name for name in stage["params"] if name.startswith("gate.")}
    # every gate param but enforce (the verdict stage's) changes what the gate stage writes
    assert read == {f"gate.{name}" for name in fields - {"enforce"}}
    # the re-derivation builds features as the features stage does; the edge is priced as the
    # backtest prices a take
    assert {"features", "cities", "backtest.taker_fee_rate", "backtest.min_edge_cents"} <= set(
        stage["params"]
    )


# --- promotion -----------------------------------------------------------------------------------


def test_choose_promotion_none_wins_names_why_each_failed():
    metrics = {"ridge": walkforward(brier=0.0995), "lasso": walkforward(log_loss=0.33)}
    gates = two_models(**metrics)
    result = choose_promotion(
        gates, metrics, {"ridge": {"net_pnl": 100.0}, "lasso": {"net_pnl": 50.0}}
    )
    assert result["promoted"] is None
    assert result["reason"] == (
        "no edge found: lasso: log loss 0.3300 is not below the market's 0.3200; "
        "ridge: fails gate brier."
    )


def test_choose_promotion_the_one_that_wins_both_is_promoted():
    metrics = {"ridge": walkforward(), "lasso": walkforward(log_loss=0.33)}
    gates = two_models(**metrics)
    result = choose_promotion(
        gates, metrics, {"ridge": {"net_pnl": 10.0}, "lasso": {"net_pnl": 500.0}}
    )
    assert result["promoted"] == "ridge"
    assert result["candidates"]["lasso"]["eligible"] is False


def test_choose_promotion_better_scores_but_negative_pnl_is_not_promoted():
    metrics = {"ridge": walkforward(brier=0.09), "lasso": walkforward(brier=0.05)}
    gates = two_models(**metrics)
    result = choose_promotion(
        gates, metrics, {"ridge": {"net_pnl": 20.0}, "lasso": {"net_pnl": -5.0}}
    )
    assert result["promoted"] == "ridge"
    alone = choose_promotion({"lasso": gates["lasso"]}, metrics, {"lasso": {"net_pnl": -5.0}})
    assert alone["promoted"] is None
    assert alone["reason"] == "no edge found: lasso: backtest net P&L $-5.00 is not above zero."


def test_choose_promotion_zero_pnl_or_missing_backtest_is_not_promoted():
    metrics = {"ridge": walkforward(), "lasso": walkforward()}
    gates = two_models(**metrics)
    result = choose_promotion(gates, metrics, {"ridge": {"net_pnl": 0.0}})
    assert result["promoted"] is None
    assert result["candidates"]["ridge"]["reasons"] == ["backtest net P&L $0.00 is not above zero"]
    assert result["candidates"]["lasso"]["reasons"] == ["no backtest net P&L"]


def test_choose_promotion_highest_pnl_wins_and_a_tie_goes_to_lower_brier_then_name():
    metrics = {"ridge": walkforward(brier=0.09), "lasso": walkforward(brier=0.08)}
    gates = two_models(**metrics)
    richer = {"ridge": {"net_pnl": 300.0}, "lasso": {"net_pnl": 200.0}}
    assert choose_promotion(gates, metrics, richer)["promoted"] == "ridge"  # despite higher Brier
    tie = {"ridge": {"net_pnl": 300.0}, "lasso": {"net_pnl": 300.0}}
    assert choose_promotion(gates, metrics, tie)["promoted"] == "lasso"  # lower Brier
    same = {"ridge": walkforward(), "lasso": walkforward()}
    assert choose_promotion(two_models(**same), same, tie)["promoted"] == "lasso"  # by name


# --- the stage scripts ---------------------------------------------------------------------------


def params_yaml(enforce=True, coverage=0.95):
    return (
        f"gate:\n  brier_improvement: 0.02\n  coverage: {coverage}\n"
        "  beta_max: {between: 10.0, greater: 10.0, less: 10.0}\n"
        "  one_sided_max: 0.95\n  leakage_sample_rows: 40\n"
        f"  enforce: {'true' if enforce else 'false'}\n"
    )


def run(script: str, args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    command = [sys.executable, str(REPO / "stages" / script), *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=60)


def write_gate_json(tmp_path: Path, gates: dict) -> None:
    (tmp_path / "gate.json").write_text(json.dumps(flat_gate_metrics(gates)))


def test_verdict_exits_1_naming_each_failed_check(tmp_path):
    (tmp_path / "params.yaml").write_text(params_yaml())
    gates = two_models(lasso=walkforward(brier=0.0995, coverage=0.5))
    write_gate_json(tmp_path, gates)
    result = run("verdict.py", ["gate.json"], tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "gate failed: lasso brier — lasso Brier 0.0995 is 0.5% better than the market's 0.1000: "
        "no edge found: +0.5% (95% interval -0.5% .. +1.5% over 200 events); the interval "
        "includes zero; the gate needs 2.0% better and an interval above zero.",
        "gate failed: lasso coverage — lasso predicts on 50.0% of eligible test rows; "
        "the gate needs at least 95.0%.",
    ]


def test_verdict_exits_0_with_a_summary_when_all_pass(tmp_path):
    (tmp_path / "params.yaml").write_text(params_yaml())
    write_gate_json(tmp_path, two_models())
    result = run("verdict.py", ["gate.json"], tmp_path)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == f"gate passed: lasso, ridge pass all {len(ENFORCED_CHECKS)} checks\n"


def test_verdict_exits_0_when_not_enforced_even_with_failures(tmp_path):
    (tmp_path / "params.yaml").write_text(params_yaml(enforce=False))
    write_gate_json(tmp_path, two_models(lasso=walkforward(brier=0.0995)))
    result = run("verdict.py", ["gate.json"], tmp_path)
    assert result.returncode == 0
    assert result.stderr.startswith("gate would fail: lasso brier — ")
    assert "gate.enforce is false" in result.stdout


def test_verdict_refuses_bad_params(tmp_path):
    (tmp_path / "params.yaml").write_text(params_yaml(coverage=2))
    write_gate_json(tmp_path, two_models())
    result = run("verdict.py", ["gate.json"], tmp_path)
    assert result.returncode == 2
    expected = "tmaxedge: params.yaml: gate.coverage must be a number in [0, 1]; got 2"
    assert expected in result.stderr and "Traceback" not in result.stderr


def card(coef: list[float]) -> dict:
    """A valid model.json's content with these coefficients."""
    n = len(coef)
    columns = [f"x{i}" for i in range(n)]
    preprocessor = Preprocessor(columns, np.zeros(n), np.zeros(n), np.ones(n))
    fit = LinearFit(np.asarray(coef, float), 0.0)
    return ModelCard(preprocessor, fit, Calibrator("none")).to_dict()


def write_world(tmp_path: Path) -> None:
    """raw/ and features/ of a two-day simulated world, and a params.yaml whose features and
    cities sections are the ones it was built with."""
    tables = simulated_tables(days=2)
    for name, table in tables.items():
        io.write_parquet_atomic(table, tmp_path / "raw" / f"{name}.parquet")
    write_feature_folder(tables, tmp_path / "features", every_minutes=30)
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["gate"] = yaml.safe_load(params_yaml())["gate"]
    params["features"].update(every_minutes=30, eligible_start_hour=6)
    params["cities"] = {
        code: {"series": city.series, "tz": city.tz, "weather_features": city.weather_features}
        for code, city in CITIES.items()
    }
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))


def test_gate_stage_writes_outputs_and_exits_0_when_a_gate_fails(tmp_path):
    write_world(tmp_path)
    io.write_json_atomic({"ridge": walkforward(brier=0.0995)}, tmp_path / "walkforward.json")
    io.write_json_atomic({"ridge": {"net_pnl": 10.0}}, tmp_path / "backtest.json")
    for window, group, coef in [("w1", "aus_less", [3.0, 4.0]), ("w2", "chi_greater", [12.0])]:
        record = {"n_fits_not_converged": 0, "calibration_fit": {}, "coef": coef}
        io.write_json_atomic(
            {"ridge": {group: record, "den_less": {**record, "coef": None}}},
            tmp_path / "by_window" / f"{window}.models.json",
        )
    orders("ridge").to_parquet(tmp_path / "trades.parquet")
    diagnostics("ridge").to_parquet(tmp_path / "diag.parquet")
    args = [
        "walkforward.json",
        "by_window",
        "backtest.json",
        "trades.parquet",
        "diag.parquet",
        "features",
        "raw",
        "out/gate.json",
        "out/promoted.json",
        "out/summary.json",
    ]
    result = run("gate.py", args, tmp_path)
    assert result.returncode == 0, result.stderr
    flat = json.loads((tmp_path / "out" / "gate.json").read_text())
    assert {k: v for k, v in flat["ridge"].items() if k.endswith("_check")} == {
        "brier_check": False,
        "log_loss_vs_market_check": True,
        "coverage_check": True,
        "no_future_features_check": True,
        "beta_norm_check": False,
        "edge_two_sided_check": True,
        "features_rederived_check": True,
        "predicted_edge_two_sided_check": True,
    }
    assert flat["ridge"]["beta_norm_max"] == 12.0
    assert (flat["ridge"]["n_rows_rederived"], flat["ridge"]["n_rows_rederived_differing"]) == (
        40,
        0,
    )
    promoted = json.loads((tmp_path / "out" / "promoted.json").read_text())
    assert promoted["promoted"] is None
    assert promoted["reason"].startswith("no edge found: ridge: fails gate brier, fails gate beta")
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["ridge"]["passed_gates"] is False and summary["ridge"]["promoted"] is False
    first = (tmp_path / "out" / "gate.json").read_bytes()
    assert run("gate.py", args, tmp_path).returncode == 0
    assert (tmp_path / "out" / "gate.json").read_bytes() == first  # same inputs, same bytes


def test_model_summary_gathers_each_entrys_scores_pnl_and_verdict_in_one_record():
    walkforward = {
        "ridge": {"log_loss_window_mean": 0.2212345678, "brier_window_mean": 0.07, "ece": 0.01},
        "tmax_dist": {"log_loss_window_mean": 0.25, "n_windows": 6},
    }
    backtest = {"ridge": {"net_pnl": 120.0, "daily_sharpe": 1.5, "fill_rate": 0.3}, "market": {}}
    gates = {"ridge": {"passed": True}, "tmax_dist": {"passed": False}}
    summary = model_summary(walkforward, backtest, gates, promoted="ridge")
    assert summary == {
        "ridge": {
            "log_loss_window_mean": 0.221235,
            "brier_window_mean": 0.07,
            "ece": 0.01,
            "net_pnl": 120.0,
            "daily_sharpe": 1.5,
            "passed_gates": True,
            "promoted": True,
        },
        "tmax_dist": {
            "log_loss_window_mean": 0.25,
            "n_windows": 6,
            "passed_gates": False,
            "promoted": False,
        },
    }
