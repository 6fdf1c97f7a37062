"""`tmaxedge walkforward`: the brief's window loop from --start, the plan's windows with --plan,
and the settings of --config with the command line's options over them."""

import datetime as dt

import pytest
import yaml
from click.testing import CliRunner

from tmaxedge.cli import main as cli
from tmaxedge.core import io
from tmaxedge.core.errors import ParamsError
from tmaxedge.walkforward.windows import WindowParams, brief_window_keys, make_window


def brief_windows(start: str, end: str, params: WindowParams) -> list[tuple[str, ...]]:
    """(train_start, train_end, test_start, test_end) of each window, half-open."""
    keys = brief_window_keys(dt.date.fromisoformat(start), dt.date.fromisoformat(end), params)
    windows = [make_window(key, params) for key in keys]
    return [
        tuple(str(d) for d in (w.train_start, w.train_end, w.test_start, w.test_end))
        for w in windows
    ]


def test_the_briefs_example_gives_its_five_windows_training_from_start():
    # train 90, test 7, step 7 from 2024-04-01 while the test window ends by 2024-08-10
    assert brief_windows("2024-04-01", "2024-08-10", WindowParams()) == [
        ("2024-04-01", "2024-06-30", "2024-06-30", "2024-07-07"),
        ("2024-04-08", "2024-07-07", "2024-07-07", "2024-07-14"),
        ("2024-04-15", "2024-07-14", "2024-07-14", "2024-07-21"),
        ("2024-04-22", "2024-07-21", "2024-07-21", "2024-07-28"),
        ("2024-04-29", "2024-07-28", "2024-07-28", "2024-08-04"),
    ]
    # the sixth test week, 2024-08-04 .. 08-10, ends (exclusive) on 08-11
    assert len(brief_window_keys(dt.date(2024, 4, 1), dt.date(2024, 8, 11), WindowParams())) == 6


@pytest.mark.parametrize(
    "params, end, expected",
    [
        # an embargo sits between training and test; training still starts on --start
        (
            WindowParams(embargo_days=2),
            "2024-07-10",
            [("2024-04-01", "2024-06-30", "2024-07-02", "2024-07-09")],
        ),
        # a step shorter than the test week: test weeks overlap, as the brief's loop makes them
        (
            WindowParams(step_days=3),
            "2024-07-10",
            [
                ("2024-04-01", "2024-06-30", "2024-06-30", "2024-07-07"),
                ("2024-04-04", "2024-07-03", "2024-07-03", "2024-07-10"),
            ],
        ),
        # too short for one window: none
        (WindowParams(), "2024-07-06", []),
    ],
)
def test_the_brief_loop_keeps_train_start_on_start_and_test_end_within_end(params, end, expected):
    assert brief_windows("2024-04-01", end, params) == expected


def write_params(folder, train_days=10) -> None:
    (folder / "params.yaml").write_text(
        "cities: {chi: {series: KXHIGHCHI, tz: America/Chicago, weather_features: true}}\n"
        f"windows: {{train_days: {train_days}, test_days: 3, step_days: 3,"
        " calibration_fraction: 0.2, embargo_days: 0, first_test_offset_days: 10}\n"
        "tune: {ridge: {feature_set: ridge_safe, n_trials: 40, l1_ratio: 0.0, n_splits: 2,"
        " min_class_days: 1}}\n"
        "calibrate: {method: none}\n"
        "pool: {enabled: false}\n"
        "gate: {beta_max: {between: 10, greater: 10, less: 10}}\n"
    )


def invoke(folder, *arguments: str):
    common = ["walkforward", "--city", "chi", "--bracket", "between"]
    paths = ["--params", str(folder / "params.yaml"), "--out", str(folder / "runs")]
    return CliRunner().invoke(cli.main, [*common, *arguments, *paths])


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--start", "2024-05-01", "--plan", "windows.yaml"], "--plan runs the plan's windows"),
        (["--start", "2024-05-01"], "give --start (the first training day) and --end, or --plan"),
        ([], "give --start (the first training day) and --end, or --plan"),
        (["--start", "2024-05-01", "--end", "2024-05-13"], "no window fits; the first trains 10"),
    ],
)
def test_start_and_plan_are_one_or_the_other(tmp_path, arguments, message):
    write_params(tmp_path)
    result = invoke(tmp_path, "--model", "ridge", *arguments)
    assert result.exit_code == 2 and message in result.output
    assert not (tmp_path / "runs").exists()


def test_plan_runs_exactly_the_plans_windows_made_with_these_windows(tmp_path):
    from tmaxedge.cli.main import run_window_keys

    params = WindowParams(train_days=10, test_days=3, step_days=3, first_test_offset_days=10)
    plan = tmp_path / "windows.yaml"
    keys = ["2024-05-11", "2024-05-14"]
    plan.write_text(yaml.safe_dump({"test_days": 3, "step_days": 3, "window_keys": keys}))
    assert run_window_keys(None, None, plan, params) == keys
    plan.write_text(yaml.safe_dump({"test_days": 7, "step_days": 3, "window_keys": keys}))
    with pytest.raises(
        ParamsError,
        match=r"windows.yaml: made with other windows than params: test_days 7 \(params: 3\); run",
    ):
        run_window_keys(None, None, plan, params)


def test_a_config_sets_the_run_and_command_line_options_override_it(world, tmp_path):
    folder, _ = world
    write_params(tmp_path, train_days=40)  # params.yaml's training period does not fit the data
    config = tmp_path / "train.yaml"
    config.write_text(
        "model: ridge\n"
        "tune: {feature_set: rich, n_trials: 2}\n"
        "windows: {train_days: 10}\n"  # the config's replaces it
    )
    arguments = ["--config", str(config), "--start", "2024-05-01", "--end", "2024-05-14"]
    result = invoke(tmp_path, *arguments, "--features", str(folder))
    assert result.exit_code == 0, result.output
    ran = io.read_json(tmp_path / "runs" / "ridge" / "walkforward_summary_chi_between.json")["run"]
    assert ran["config"] == str(config) and [w["key"] for w in ran["windows"]] == ["2024-05-11"]
    assert ran["windows"][0]["train_start"] == "2024-05-01"
    assert (ran["tune"]["feature_set"], ran["tune"]["n_trials"]) == ("rich", 2)
    best = tmp_path / "runs" / "2024-05-11" / "tune" / "ridge" / "chi_between.best_params.json"
    assert io.read_json(best)["n_trials"] == 2

    overridden = invoke(
        tmp_path,
        *arguments,
        "--features",
        str(folder),
        "--trials",
        "3",
        "--feature-set",
        "baseline",
    )
    assert overridden.exit_code == 0, overridden.output
    ran = io.read_json(tmp_path / "runs" / "ridge" / "walkforward_summary_chi_between.json")["run"]
    assert (ran["tune"]["feature_set"], ran["tune"]["n_trials"]) == ("baseline", 3)
    assert io.read_json(best)["n_trials"] == 3


def test_a_bad_config_or_feature_set_is_refused_before_any_window_runs(tmp_path):
    write_params(tmp_path)
    config = tmp_path / "train.yaml"
    config.write_text("model: ridge\ntune: {n_trials: forty}\n")
    result = invoke(
        tmp_path, "--config", str(config), "--start", "2024-05-01", "--end", "2024-05-17"
    )
    assert result.exit_code == 2
    assert f"{config}: tune.n_trials must be an int >= 1; got 'forty'." in result.output
    result = invoke(
        tmp_path,
        "--model",
        "ridge",
        "--feature-set",
        "fancy",
        "--start",
        "2024-05-01",
        "--end",
        "2024-05-17",
    )
    assert result.exit_code == 2 and "--feature-set must be a str among [" in result.output
    assert not (tmp_path / "runs").exists()


def test_plan_runs_the_plans_windows_and_records_the_plan(world, tmp_path):
    folder, _ = world
    write_params(tmp_path)
    plan = tmp_path / "windows.yaml"
    plan.write_text(yaml.safe_dump({"test_days": 3, "step_days": 3, "window_keys": ["2024-05-14"]}))
    result = invoke(
        tmp_path,
        "--model",
        "ridge",
        "--trials",
        "2",
        "--plan",
        str(plan),
        "--features",
        str(folder),
    )
    assert result.exit_code == 0, result.output
    assert "window 2024-05-14: train [2024-05-04, 2024-05-14), test [2024-05-14, 2024-05-17)" in (
        result.output
    )
    ran = io.read_json(tmp_path / "runs" / "ridge" / "walkforward_summary_chi_between.json")["run"]
    assert ran["plan"] == str(plan) and [w["key"] for w in ran["windows"]] == ["2024-05-14"]
    assert "first_training_day" not in ran
