"""The one way params are checked (tmaxedge.core.params) and the one way a stage fails
(tmaxedge.core.failures)."""

import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tmaxedge.core import io
from tmaxedge.core.config import City, parse_beta_max, parse_cities
from tmaxedge.core.errors import ParamsError
from tmaxedge.core.params import (
    Boolean,
    Interval,
    IsoDate,
    Keyed,
    Nullable,
    Options,
    Params,
    Subset,
    Text,
    TimeZone,
    check_params_file,
    declare,
)
from tmaxedge.decision.backtest import BacktestParams
from tmaxedge.decision.gates import GateParams
from tmaxedge.features.build import FeatureParams
from tmaxedge.inputs.ingest import IngestParams
from tmaxedge.inputs.simulate import MarketParams, SimulateParams
from tmaxedge.modeling.calibration import CalibrateParams
from tmaxedge.modeling.coherence import CoherenceParams
from tmaxedge.modeling.pooling import PoolParams
from tmaxedge.modeling.tuning import ModelParams
from tmaxedge.walkforward.compute import ComputeParams
from tmaxedge.walkforward.windows import WindowParams

ROOT = Path(__file__).resolve().parents[2]

# constraint, values it accepts, a value it refuses, the message for that value at key "k"
CASES = [
    (Interval(int, 1, None), [1, 40], 0, "k must be an int >= 1; got 0."),
    (Interval(int, 1, None), [2], 2.0, "k must be an int >= 1; got 2.0."),
    (Interval(int, 1, None), [3], True, "k must be an int >= 1; got True."),
    (Interval(int, 0, 23), [0, 23], 24, "k must be an int in [0, 23]; got 24."),
    (Interval(float, 0, None, closed="neither"), [1e-9, 3], 0, "k must be a number > 0; got 0."),
    (
        Interval(float, 0, 1, closed="right"),
        [1, 0.5],
        0.0,
        "k must be a number in (0, 1]; got 0.0.",
    ),
    (Interval(float, 0, 1, closed="left"), [0], 1, "k must be a number in [0, 1); got 1."),
    (Interval(float, 0, 1), [0, 1], float("nan"), "k must be a number in [0, 1]; got nan."),
    (Interval(float, None, 5, closed="neither"), [-1], 5, "k must be a number < 5; got 5."),
    (
        Interval(float, 0, float("inf"), closed="neither"),
        [9],
        float("inf"),
        "k must be a number in (0, inf); got inf.",
    ),
    (
        Options(("median", "none")),
        ["none"],
        "mean",
        "k must be a str among ['median', 'none']; got 'mean'.",
    ),
    (Subset(("a", "b")), [[], ["b", "a"]], ["c"], "k must be a list among ['a', 'b']; got ['c']."),
    (
        Subset(("a", "b"), nonempty=True),
        [["a"]],
        [],
        "k must be a non-empty list among ['a', 'b']; got [].",
    ),
    (
        Subset(("a", "b"), distinct=True),
        [["a", "b"]],
        ["a", "a"],
        "k must be a list among ['a', 'b'] without repeats; got ['a', 'a'].",
    ),
    (Subset(("a",)), [["a"]], "a", "k must be a list among ['a']; got 'a'."),
    (
        Nullable(Interval(float, 0, 1)),
        [None, 0.5],
        2,
        "k must be null or a number in [0, 1]; got 2.",
    ),
    (Boolean(), [True, False], "yes", "k must be true or false; got 'yes'."),
    (Text(), ["data/x"], " ", "k must be a non-empty str; got ' '."),
    (IsoDate(), ["2024-04-01"], "2024-13-01", "k must be a date 'YYYY-MM-DD'; got '2024-13-01'."),
    (
        TimeZone(),
        ["America/Chicago"],
        "Mars/Base",
        "k must be an IANA time zone such as 'America/Chicago'; got 'Mars/Base'.",
    ),
]


@pytest.mark.parametrize("constraint, good, bad, message", CASES)
def test_each_constraint_accepts_and_refuses_with_the_message(constraint, good, bad, message):
    assert all(constraint.violation("k", value) is None for value in good)
    assert str(constraint.violation("k", bad)) == message


def test_keyed_names_the_missing_key_then_the_entry_to_fix():
    limits = Keyed(("between", "less"), Interval(float, 0, None, closed="neither"))
    assert limits.violation("beta", {"between": 1, "less": 2.5}) is None
    assert str(limits.violation("beta", {"less": 1})) == (
        "beta must have exactly the keys ['between', 'less']; got ['less']."
    )
    assert str(limits.violation("beta", {"between": 1, "less": 0})) == (
        "beta.less must be a number > 0; got 0."
    )
    assert str(limits.violation("beta", 3)).startswith("beta must be a mapping of")


def test_a_params_class_checks_its_fields_and_refuses_a_constraint_without_field():
    @dataclasses.dataclass(frozen=True)
    class Knobs(Params):
        constraints = declare(n=Interval(int, 1, None))
        n: int = 1

    assert Knobs(3).n == 3
    with pytest.raises(ParamsError, match=re.escape("n must be an int >= 1; got 0.")):
        Knobs(0)

    @dataclasses.dataclass(frozen=True)
    class Typo(Params):
        constraints = declare(m=Interval(int, 1, None))
        n: int = 1

    with pytest.raises(TypeError, match="constraints names no field"):
        Typo()


@pytest.mark.parametrize(
    "cls",
    [
        MarketParams,
        FeatureParams,
        WindowParams,
        CoherenceParams,
        IngestParams,
        City,
        GateParams,
        BacktestParams,
        ComputeParams,
        CalibrateParams,
        PoolParams,
    ],
)
def test_every_constraint_names_a_field(cls):
    assert set(cls.constraints) <= {f.name for f in dataclasses.fields(cls)}


def test_defaults_are_unchanged():
    assert WindowParams() == WindowParams(90, 7, 7, 0.2, 0, 90)
    assert FeatureParams() == FeatureParams(5, 6)
    assert MarketParams() == MarketParams(20, 0.8, 0.25, 30.0, 0.8, 0.03)
    ridge = ModelParams("ridge_safe", 40)
    assert (ridge.n_splits, ridge.sampler_seed, ridge.pruner, ridge.c_min, ridge.c_max) == (
        4,
        1337,
        "median",
        1e-4,
        1e4,
    )


def test_params_yaml_holds_the_tuning_knobs_at_their_defaults():
    defaults = ModelParams("ridge_safe", 40)
    tune = io.load_section("tune", ROOT / "params.yaml")
    for name in tune:
        params = io.load_model_params(name, ModelParams, ROOT / "params.yaml")
        knobs = (params.n_splits, params.sampler_seed, params.pruner)
        assert knobs == (defaults.n_splits, defaults.sampler_seed, defaults.pruner), name
        assert {"n_splits", "sampler_seed", "pruner"} <= set(tune[name]), name


# --- messages read from params.yaml name the file and the full key once -------------------------


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "text, load, message",
    [
        (
            "tune:\n  ridge: {feature_set: rich, n_trials: 0}\n",
            lambda p: io.load_model_params("ridge", ModelParams, p),
            "tune.ridge.n_trials must be an int >= 1; got 0.",
        ),
        (
            "tune:\n  ridge: {feature_set: rich, n_trials: many}\n",
            lambda p: io.load_model_params("ridge", ModelParams, p),
            "tune.ridge.n_trials must be an int >= 1; got 'many'.",
        ),
        (
            "tune:\n  ridge: {feature_set: rich, n_trials: 2, c_min: 5, c_max: 1}\n",
            lambda p: io.load_model_params("ridge", ModelParams, p),
            "tune.ridge.c_max must be a number > c_min (5); got 1.0.",
        ),
        (
            "features: {every_minutes: 0}\n",
            lambda p: io.load_params("features", FeatureParams, p),
            "features.every_minutes must be an int >= 1; got 0.",
        ),
        (
            (
                "simulate: {seed: 1, start: '2024-01-01', days: 3, cities: [chi], "
                "market: {lag_minutes: -1}}\n"
            ),
            lambda p: io.load_params("simulate", SimulateParams, p),
            "simulate.market.lag_minutes must be an int >= 0; got -1.",
        ),
        (
            "windows: {train_days: 2}\n",
            lambda p: io.load_params("windows", WindowParams, p),
            (
                "windows.train_days must be an int leaving >= 2 fit days after 1 calibration "
                "days; got 2."
            ),
        ),
        (
            "coherence: {method: sum}\n",
            lambda p: io.load_params("coherence", CoherenceParams, p),
            "coherence.method must be a str among ['none', 'logit_shift']; got 'sum'.",
        ),
        (
            "cities:\n  chi: {series: KXHIGHCHI, tz: Chicago, weather_features: true}\n",
            lambda p: parse_cities(io.load_section("cities", p), f"{p}: cities"),
            "cities.chi.tz must be an IANA time zone such as 'America/Chicago'; got 'Chicago'.",
        ),
        (
            "cities:\n  chi: {series: KXHIGHCHI, tz: America/Chicago, weather_features: 1}\n",
            lambda p: parse_cities(io.load_section("cities", p), f"{p}: cities"),
            "cities.chi.weather_features must be true or false; got 1.",
        ),
    ],
)
def test_a_bad_value_names_file_full_key_value_and_rule(tmp_path, text, load, message):
    path = write(tmp_path, text)
    with pytest.raises(ParamsError) as error:
        load(path)
    assert str(error.value) == f"{path}: {message}"


def test_beta_max_names_the_strike_type():
    with pytest.raises(
        ParamsError, match=re.escape("beta_max.less must be a number in (0, inf); got 0.")
    ):
        parse_beta_max({"between": 1, "greater": 1, "less": 0})
    assert parse_beta_max({"between": 1, "greater": 2, "less": 3.5}) == {
        "between": 1.0,
        "greater": 2.0,
        "less": 3.5,
    }


# --- params.yaml as a whole --------------------------------------------------------------------


def test_the_shipped_params_yaml_passes():
    assert "tune" in check_params_file(ROOT / "params.yaml")


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "simulate:\n  seed: 1\n  seed: 2\n",
            "line 3, column 3: duplicate key 'seed' (first on line 2)",
        ),
        (
            "simulate:\n  seed: 1\n days: 2\n",
            "line 3, column 2: expected <block end>, but found '<block mapping start>'",
        ),
        (
            "tune:\n  ridge: {n_trials: [1\n",
            "line 3, column 1: expected ',' or ']', but got '<stream end>'",
        ),
        (
            "simulate: {}\ntunes: {}\n",
            "unknown section(s) ['tunes']; known are ['simulate', 'ingest', 'cities'",
        ),
        (
            "models: [ridge, rigde]\ntune: {ridge: {}}\n",
            "models names 'rigde', which is not a section of tune; tune has ['ridge']",
        ),
        (
            "models: [ridge_big]\ntune: {ridge_big: {scope: pooled}}\n",
            (
                "models names 'ridge_big', but tune.ridge_big has no type among "
                "['ridge', 'elasticnet', 'lasso', 'tmax_dist'] (its name is not one); got type None"
            ),
        ),
    ],
)
def test_params_file_refuses_what_no_stage_could_run(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ParamsError) as error:
        check_params_file(path)
    assert str(error.value).startswith(f"{path}: {message}")
    assert "\n" not in str(error.value)


def test_every_read_of_a_yaml_file_refuses_duplicate_keys(tmp_path):
    path = write(tmp_path, "windows:\n  train_days: 90\n  train_days: 120\n")
    with pytest.raises(ParamsError, match="duplicate key 'train_days'"):
        io.load_params("windows", WindowParams, path)


# --- one way to fail ---------------------------------------------------------------------------


def run_stage(tmp_path: Path, script: str, *args: str, debug: bool = False):
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    env.pop("TMAXEDGE_DEBUG", None)
    if debug:
        env["TMAXEDGE_DEBUG"] = "1"
    command = [sys.executable, str(ROOT / "stages" / script), *args]
    return subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_a_stage_with_a_bad_params_yaml_fails_in_one_line(tmp_path):
    write(tmp_path, "windows:\n  train_days: 0\n")
    result = run_stage(tmp_path, "windows.py", "features", "windows.yaml", "out")
    assert result.returncode == 2
    assert result.stderr == (
        "tmaxedge: params.yaml: windows.train_days must be an int >= 1; got 0.\n"
    )
    assert not (tmp_path / "out").exists()


def test_the_simulate_stage_checks_the_whole_file_first(tmp_path):
    write(
        tmp_path,
        "simulate: {seed: 1, start: '2024-01-01', days: 3, cities: [chi]}\n"
        "cities:\n  chi: {series: KXHIGHCHI, tz: America/Chicago, weather_features: true}\n"
        "tune: {ridge: {n_trials: 1}}\ntune: {}\n",
    )
    result = run_stage(tmp_path, "simulate.py", "out")
    assert result.returncode == 2
    assert result.stderr == (
        "tmaxedge: params.yaml: line 5, column 1: duplicate key 'tune' (first on line 4)\n"
    )


def test_a_missing_input_names_the_file(tmp_path):
    write(
        tmp_path,
        "features: {every_minutes: 5, eligible_start_hour: 6}\n"
        "cities:\n  chi: {series: KXHIGHCHI, tz: America/Chicago, weather_features: true}\n",
    )
    result = run_stage(tmp_path, "features.py", "raw", "out", "metrics.json")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("tmaxedge: ") and "raw/markets.parquet" in result.stderr


def test_tmaxedge_debug_shows_the_traceback(tmp_path):
    write(tmp_path, "windows:\n  train_days: 0\n")
    result = run_stage(tmp_path, "windows.py", "features", "windows.yaml", "out", debug=True)
    assert result.returncode != 0
    assert "Traceback" in result.stderr
    assert "windows.train_days must be an int >= 1; got 0." in result.stderr


def test_the_command_fails_the_same_way_and_debug_shows_the_traceback(tmp_path):
    from click.testing import CliRunner

    from tmaxedge.cli.main import main

    path = write(tmp_path, "windows:\n  train_days: 0\n")
    arguments = ["plan", "--params", str(path), "--features", str(tmp_path / "none")]
    result = CliRunner().invoke(main, arguments)
    assert result.exit_code == 2
    assert f"tmaxedge: {path}: windows.train_days must be an int >= 1; got 0." in result.output
    debugged = CliRunner().invoke(main, ["--debug", *arguments])
    assert isinstance(debugged.exception, ParamsError)


def test_a_steps_part_of_params_names_a_missing_key():
    from tmaxedge.core.params import step_part

    content = {"models": ["ridge"], "tune": {"ridge": {}}, "gate": {"coverage": 0.95}}
    assert step_part({**content, "gate": {"beta_max": 10.0}}, "tune", Path("p.yaml")) == {
        "models": ["ridge"],
        "tune": {"ridge": {}},
        "gate": {"beta_max": 10.0},
    }
    with pytest.raises(ParamsError, match=r"p.yaml: gate.beta_max is missing; the tune step"):
        step_part(content, "tune", Path("p.yaml"))
    with pytest.raises(ParamsError, match=r"p.yaml: coherence is missing; the evaluate step"):
        step_part(content, "evaluate", Path("p.yaml"))
