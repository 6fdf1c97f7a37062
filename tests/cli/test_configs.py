"""`tmaxedge configs`: the brief's training configs, generated from params.yaml and the preset."""

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from tmaxedge.cli import configs
from tmaxedge.cli import main as cli
from tmaxedge.cli.preset import load_preset
from tmaxedge.core import io
from tmaxedge.core.errors import ParamsError

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def in_repo(monkeypatch):
    monkeypatch.chdir(REPO)


def test_the_committed_configs_are_what_params_yaml_and_the_preset_give(in_repo):
    generated = configs.generated_configs(
        io.read_yaml(io.PARAMS_FILE), load_preset("brief", io.PARAMS_FILE)
    )
    assert sorted(generated) == ["train_lasso", "train_ridge"]
    for name, text in generated.items():
        committed = (configs.CONFIGS / f"{name}.yaml").read_text()
        assert committed == text, f"configs/{name}.yaml is stale: run `tmaxedge configs write`"
    result = CliRunner().invoke(cli.main, ["configs", "check"])
    assert result.exit_code == 0, result.output


def test_each_config_holds_the_briefs_model_as_the_brief_preset_runs_it(in_repo):
    ridge = io.read_yaml(configs.CONFIGS / "train_ridge.yaml")
    lasso = io.read_yaml(configs.CONFIGS / "train_lasso.yaml")
    # the brief's second model tunes l1_ratio: params.yaml's elasticnet, not its lasso
    assert (ridge["model"], lasso["model"]) == ("ridge", "elasticnet")
    assert (ridge["tune"]["feature_set"], lasso["tune"]["feature_set"]) == ("ridge_safe", "rich")
    assert (ridge["tune"]["l1_ratio"], lasso["tune"]["l1_ratio"]) == (0.0, None)
    assert (ridge["tune"]["n_trials"], lasso["tune"]["n_trials"]) == (40, 60)
    for config in (ridge, lasso):
        assert config["tune"]["sampler_seed"] == 1337 and config["tune"]["n_splits"] == 4
        assert (
            config["tune"]["sampler_draws"] == "one_stream" and config["tune"]["pruner"] == "none"
        )
        assert config["windows"] == {
            "train_days": 90,
            "test_days": 7,
            "step_days": 7,
            "calibration_fraction": 0.2,
            "embargo_days": 0,
        }
        assert (config["calibrate"]["method"], config["calibrate"]["isotonic_counts"]) == (
            "auto",
            "rows",
        )
        assert config["pool"]["enabled"] is False
        # every value passes the rules params.yaml's do
        settings = configs.run_settings(io.read_yaml(io.PARAMS_FILE), "params.yaml", config, "c")
        assert settings.model_params.extra_features == []


def test_check_names_each_key_where_a_config_and_params_yaml_disagree(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "presets").mkdir()
    (tmp_path / "presets" / "brief.yaml").write_text((REPO / "presets" / "brief.yaml").read_text())
    params = io.read_yaml(REPO / "params.yaml")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    runner = CliRunner()
    assert runner.invoke(cli.main, ["configs", "write"]).exit_code == 0
    assert runner.invoke(cli.main, ["configs", "check"]).exit_code == 0
    # params.yaml changes a key the brief's configs carry and the preset does not set
    params["windows"]["step_days"] = 3
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    result = runner.invoke(cli.main, ["configs", "check"])
    assert result.exit_code == 1
    assert "configs/train_ridge.yaml: differs at windows.step_days (7 committed, 3 generated)" in (
        result.output
    )
    assert "configs/train_lasso.yaml: differs at windows.step_days" in result.output
    assert "run `tmaxedge configs write`" in result.output
    # a hand edit of a comment alone is refused too: the files are the command's output
    assert runner.invoke(cli.main, ["configs", "write"]).exit_code == 0
    path = tmp_path / "configs" / "train_ridge.yaml"
    path.write_text(path.read_text() + "# my note\n")
    result = runner.invoke(cli.main, ["configs", "check"])
    assert result.exit_code == 1 and "train_ridge.yaml: differs at its comments or layout" in (
        result.output
    )


PARAMS = {
    "windows": {"train_days": 10, "test_days": 3, "step_days": 3},
    "tune": {"ridge": {"feature_set": "ridge_safe", "n_trials": 40, "l1_ratio": 0.0}},
    "calibrate": {"method": "none"},
    "pool": {"enabled": True},
    "gate": {"beta_max": {"between": 10, "greater": 10, "less": 10}},
}


@pytest.mark.parametrize(
    "config, message",
    [
        # a key no section has
        ({"model": "ridge", "seed": 1}, "c.yaml: unknown key(s) ['seed']; a config holds ['model'"),
        # a misspelt tune key
        ({"model": "ridge", "tune": {"n_trial": 5}}, "c.yaml: tune.n_trial: not a key the command"),
        # a params key the command does not read
        ({"model": "ridge", "gate": {"enforce": False}}, "c.yaml: gate.enforce: not a key the"),
        ({"model": "ridge", "windows": {"first_test_offset_days": 9}}, "windows.first_test_off"),
        # wrong types, each named with its rule
        ({"model": "ridge", "tune": {"n_trials": "forty"}}, "c.yaml: tune.n_trials must be an int"),
        (
            {"model": "ridge", "windows": {"test_days": 0}},
            "c.yaml: windows.test_days must be an int",
        ),
        ({"model": "ridge", "pool": {"enabled": "yes"}}, "c.yaml: pool.enabled must be true or fa"),
        ({"model": "ridge", "tune": {"feature_set": "fancy"}}, "c.yaml: tune.feature_set must be"),
        ({"model": "ridge", "tune": []}, "c.yaml: tune must be a mapping; got []"),
        ({"model": 3}, "c.yaml: model must be a tune entry's name, such as ridge; got 3."),
        ({"tune": {"n_trials": 5}}, "c.yaml: model must be a tune entry's name"),
        ({}, "c.yaml: model must be a tune entry's name"),  # an empty config is not no config
    ],
)
def test_a_config_key_the_command_cannot_use_is_refused_naming_file_and_key(config, message):
    with pytest.raises(ParamsError) as refused:
        configs.run_settings(PARAMS, "params.yaml", config, "c.yaml")
    assert message in str(refused.value)


def test_a_config_replaces_params_yaml_keys_and_leaves_the_others():
    config = {"model": "ridge", "tune": {"n_trials": 5}, "windows": {"train_days": 20}}
    settings = configs.run_settings(PARAMS, "params.yaml", config, "c.yaml")
    assert settings.model == "ridge"
    assert (settings.model_params.n_trials, settings.model_params.feature_set) == (5, "ridge_safe")
    assert (settings.windows.train_days, settings.windows.test_days) == (20, 3)
    assert settings.calibrate.method == "none" and settings.pool.enabled is True
    without = configs.run_settings(PARAMS, "params.yaml", model="ridge")
    assert (without.model_params.n_trials, without.windows.train_days) == (40, 10)


def test_a_broken_params_yaml_value_is_blamed_on_params_yaml_not_the_config():
    broken = {**PARAMS, "windows": {"train_days": -1, "test_days": 3, "step_days": 3}}
    with pytest.raises(ParamsError, match=r"^params.yaml: windows.train_days must be an int"):
        configs.run_settings(broken, "params.yaml", {"model": "ridge", "windows": {}}, "c.yaml")


def test_model_option_and_config_must_agree_and_one_is_needed():
    with pytest.raises(ParamsError, match=r"--model elasticnet: c.yaml configures model ridge"):
        configs.run_settings(PARAMS, "params.yaml", {"model": "ridge"}, "c.yaml", "elasticnet")
    with pytest.raises(ParamsError, match=r"give --model .* or --config"):
        configs.run_settings(PARAMS, "params.yaml")
    with pytest.raises(ParamsError, match=r"params.yaml: tune has no model 'lasso'; it has \['r"):
        configs.run_settings(PARAMS, "params.yaml", model="lasso")
