"""Feature groups and the ablation: each run leaves out one kind of input, and only that."""

import dataclasses

import numpy as np
import pytest
from windows_support import RIDGE, SEQUENTIAL, window_rows

from tmaxedge.core.errors import ParamsError
from tmaxedge.features import nowcast
from tmaxedge.features.build import FEATURE_SETS, MARKET_LOGIT
from tmaxedge.features.event_features import EVENT_COLUMNS
from tmaxedge.features.feature_groups import GROUPS, feature_group
from tmaxedge.modeling import distribution
from tmaxedge.modeling.calibration import CalibrateParams
from tmaxedge.modeling.coherence import CoherenceParams
from tmaxedge.modeling.pooling import PoolParams
from tmaxedge.research import ablation
from tmaxedge.walkforward.run import StepParams
from tmaxedge.walkforward.tune import tune_window

RIDGE_EXTRA = dataclasses.replace(RIDGE, extra_features=["mid_logit", "nowcast"])
STEPS = StepParams(
    CalibrateParams(method="none"), PoolParams(), CoherenceParams("logit_shift"), SEQUENTIAL, {}
)


@pytest.mark.parametrize(
    "column, group",
    [
        ("yes_mid", "market"),
        ("spread_pct", "market"),
        (MARKET_LOGIT, "market"),
        ("rv_60m", "market"),
        ("rv_60m_sd", "market"),
        ("temp_now", "weather"),
        ("running_max_to_cap", "weather"),
        ("temp_x_spread_pct", "weather"),
        ("hour_of_day_local", "time"),
        ("cos_hour", "time"),
        ("climate_day_hour", "time"),
        ("sin_climate_hour", "time"),
        ("nowcast_max_logit", "nowcast"),
        ("floor_z", "event"),
        ("city_is_chi", "city"),
        ("market_logit_at_h14", "market"),
        ("nowcast_now_logit_at_h6", "nowcast"),
        ("level_at_h22", "time"),
        ("gap_max", "weather"),
    ],
)
def test_each_input_belongs_to_the_group_it_is_about(column, group):
    assert feature_group(column) == group


def test_every_model_input_has_a_group():
    columns = (
        FEATURE_SETS["rich"]
        + FEATURE_SETS["rich_climate"]
        + [MARKET_LOGIT]
        + nowcast.COLUMNS
        + EVENT_COLUMNS
        + distribution.COLUMNS
    )
    assert {feature_group(c) for c in columns} <= set(GROUPS)


def test_an_unknown_group_is_refused():
    with pytest.raises(ParamsError, match=r"drop_groups must be a list among .*; got \['moon'\]"):
        dataclasses.replace(RIDGE, drop_groups=["moon"])


def test_each_run_leaves_out_its_group_and_runs_compare_on_the_same_rows(world):
    folder, _ = world
    _, split = window_rows(folder)
    runs = ablation.run_ablation(
        lambda key: split, ["2024-05-11"], "ridge", RIDGE_EXTRA, STEPS, ["market", "nowcast"]
    )
    assert list(runs) == [ablation.ALL, "without market", "without nowcast"]
    no_market = dataclasses.replace(RIDGE_EXTRA, drop_groups=["market"])
    tuned = tune_window(split.fit, "ridge", no_market, SEQUENTIAL)
    columns = tuned["chi_between"].preprocessor.columns
    assert (
        columns
        and not {"yes_mid", MARKET_LOGIT, "spread_pct"} & set(columns)
        and "temp_now" in columns
    )
    table = ablation.ablation_table(runs)
    assert table["n_rows"].nunique() == 1 and table.loc[0, "brier_change"] == 0.0
    assert not np.isclose(
        table.loc[1, "brier"], table.loc[0, "brier"]
    )  # the market's columns mattered


PARAMS = (
    "windows: {train_days: 10, test_days: 3, step_days: 3, calibration_fraction: 0.2,"
    " embargo_days: 0, first_test_offset_days: 10}\n"
    "tune: {tmax_dist: {feature_set: distribution, n_trials: 3, l1_ratio: 0.0, n_splits: 2,"
    " class_weights: [none]}}\n"
    "calibrate: {method: none}\n"
    "pool: {enabled: true, scope: strike_type, w_grid_step: 0.05}\n"
    "coherence: {method: logit_shift}\n"
    "compute: {n_jobs: 1, backend: sequential}\n"
    "gate: {beta_max: {between: 10, greater: 10, less: 10}}\n"
)


def test_ablation_command_writes_one_run_per_group_and_refuses_an_unknown_group(world, tmp_path):
    from click.testing import CliRunner

    from tmaxedge.cli import main as cli
    from tmaxedge.core import io

    folder, _ = world
    (tmp_path / "params.yaml").write_text(PARAMS)
    (tmp_path / "windows.yaml").write_text("window_keys:\n- '2024-05-11'\n")
    common = [
        "ablation",
        "--model",
        "tmax_dist",
        "--features",
        str(folder),
        "--params",
        str(tmp_path / "params.yaml"),
        "--plan",
        str(tmp_path / "windows.yaml"),
        "--out",
        str(tmp_path / "ablation" / "tmax_dist.json"),
    ]
    result = CliRunner().invoke(cli.main, [*common, "--groups", "market,nowcast"])
    assert result.exit_code == 0, result.output
    written = io.read_json(tmp_path / "ablation" / "tmax_dist.json")
    assert written["windows"] == ["2024-05-11"]
    assert [run["run"] for run in written["runs"]] == [
        "all features",
        "without market",
        "without nowcast",
    ]
    refused = CliRunner().invoke(cli.main, [*common, "--groups", "moon"])
    assert refused.exit_code != 0 and "--groups must be among" in refused.output


def test_walkforward_command_refuses_a_model_that_needs_whole_events(world, tmp_path):
    from click.testing import CliRunner

    from tmaxedge.cli import main as cli

    folder, _ = world
    (tmp_path / "params.yaml").write_text(PARAMS)
    result = CliRunner().invoke(
        cli.main,
        [
            "walkforward",
            "--city",
            "chi",
            "--bracket",
            "between",
            "--model",
            "tmax_dist",
            "--start",  # the first training day: windows test 05-11 .. 05-13 and 05-14 .. 05-16
            "2024-05-01",
            "--end",
            "2024-05-17",
            "--features",
            str(folder),
            "--params",
            str(tmp_path / "params.yaml"),
        ],
    )
    assert result.exit_code != 0 and "prices whole events or pools cities" in result.output
