"""`tmaxedge preset`: a partial params.yaml run as a DVC experiment; the brief's preset pinned."""

import json
import subprocess
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from tmaxedge.cli import main as cli
from tmaxedge.cli import preset
from tmaxedge.core import io
from tmaxedge.core.errors import DataError, ParamsError
from tmaxedge.reporting.summarize import SummarizeParams
from tmaxedge.walkforward.run import load_entry_params, load_step_params

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def in_repo(monkeypatch):
    monkeypatch.chdir(REPO)


def test_the_brief_preset_runs_the_specification_as_written(in_repo, tmp_path):
    overrides = preset.load_preset("brief", io.PARAMS_FILE)
    params = preset.apply_overrides(io.read_yaml(io.PARAMS_FILE), overrides)
    assert params["models"] == ["ridge", "elasticnet"]  # the brief's two types, per city
    assert params["features"]["every_minutes"] == 1
    assert params["features"]["one_sided_book"] == "as_quoted"  # a one-sided book has no mid
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    entries = load_entry_params(tmp_path / "params.yaml")  # every value passes its rules
    for name, feature_set, trials, l1_ratio in [
        ("ridge", "ridge_safe", 40, 0.0),  # the brief's lists and definitions (not *_climate)
        ("elasticnet", "rich", 60, None),
    ]:
        entry = entries[name]
        assert (entry.type, entry.scope, entry.feature_set) == (None, "city", feature_set)
        assert (entry.n_trials, entry.n_splits, entry.l1_ratio) == (trials, 4, l1_ratio)
        assert (entry.c_min, entry.c_max, entry.class_weights) == (1e-4, 1e4, ["none", "balanced"])
        assert (entry.sampler_seed, entry.sampler_draws, entry.pruner) == (
            1337,
            "one_stream",
            "none",
        )
        assert entry.hold_to_beta_max is False and entry.tune_every_minutes == 0
        assert entry.extra_features == [] and entry.min_class_days == 1
        assert entry.preprocessing == "scale_then_impute"
    steps = load_step_params(tmp_path / "params.yaml")
    assert (steps.calibrate.method, steps.calibrate.isotonic_counts) == ("auto", "rows")
    assert (steps.calibrate.isotonic_min, steps.calibrate.fit_on) == (1000, "holdout")
    assert steps.pool.enabled is False and steps.coherence.method == "none"
    summarize = io.load_params("summarize", SummarizeParams, tmp_path / "params.yaml")
    assert summarize.edge_csv_name == "edge_diagnostics.csv"  # the brief's one merged CSV


def test_set_arguments_write_each_value_as_dvc_reads_it():
    overrides = {
        "models": ["ridge", "elasticnet"],
        "tune.ridge.extra_features": [],
        "tune.elasticnet.l1_ratio": None,
        "pool.enabled": False,
        "tune.ridge.c_min": 0.0001,
        "coherence.method": "none",
    }
    assert preset.set_arguments(overrides) == [
        *("-S", "models=[ridge, elasticnet]"),
        *("-S", "tune.ridge.extra_features=[]"),
        *("-S", "tune.elasticnet.l1_ratio=null"),
        *("-S", "pool.enabled=false"),
        *("-S", "tune.ridge.c_min=0.0001"),
        *("-S", "coherence.method=none"),
    ]


def test_a_preset_key_that_params_yaml_lacks_is_refused_naming_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "presets").mkdir()
    (tmp_path / "params.yaml").write_text("tune:\n  ridge:\n    pruner: median\n")
    (tmp_path / "presets" / "typo.yaml").write_text("tune:\n  ridge:\n    prunner: none\n")
    with pytest.raises(ParamsError, match=r"presets/typo.yaml: .*not found: tune.ridge.prunner"):
        preset.load_preset("typo", Path("params.yaml"))
    with pytest.raises(ParamsError, match=r"presets/nothing.yaml: no such preset.*\['typo'\]"):
        preset.load_preset("nothing", Path("params.yaml"))


def test_the_command_prints_the_experiment_with_a_users_extra_key(in_repo):
    result = CliRunner().invoke(
        cli.main, ["preset", "brief", "--print", "--set", "features.every_minutes=5"]
    )
    assert result.exit_code == 0, result.output
    line = result.output.strip().splitlines()[-1]
    assert line.startswith("dvc exp run --name brief -S 'models=[ridge, elasticnet]'")
    assert "features.every_minutes=5" in line and "features.every_minutes=1" not in line
    refused = CliRunner().invoke(cli.main, ["preset", "brief", "--print", "--set", "tune.x=1"])
    assert refused.exit_code != 0 and "not found: tune.x" in refused.output


def test_a_recorded_experiment_is_found_by_its_baseline_and_name():
    baseline = "ab" + "c" * 38
    refs = [
        f"refs/exps/ab/{'c' * 38}/brief",
        f"refs/exps/ab/{'c' * 38}/other",
        "refs/exps/ff/x/brief",
    ]
    assert preset.experiment_ref(refs, baseline, "brief") == refs[0]
    with pytest.raises(DataError, match="no experiment 'brief' on commit abccccc"):
        preset.experiment_ref(refs[1:], baseline, "brief")
    record = preset.run_record(
        "brief", ["dvc", "exp", "run", "-S", "a=[]"], baseline, "2026-12-07", {"a": []}
    )
    assert record == {
        "experiment": "brief",
        "command": "dvc exp run -S 'a=[]'",
        "commit": baseline,
        "date": "2026-12-07",
        "params": {"a": []},
    }


def test_recording_runs_the_experiment_outside_the_workspace(in_repo, tmp_path):
    result = CliRunner().invoke(
        cli.main, ["preset", "brief", "--print", "--record", str(tmp_path / "kept")]
    )
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1].startswith("dvc exp run --temp --name brief")
    assert not (tmp_path / "kept").exists()  # printed, not run


def test_recording_reads_the_experiment_of_the_commit_it_ran_on_after_head_moved(
    tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)

    def git(*args):
        subprocess.run(["git", *args], check=True, capture_output=True)

    git("init", "-q")
    git("config", "user.email", "t@example.org")
    git("config", "user.name", "t")
    (tmp_path / "a.txt").write_text("one")
    git("add", "a.txt")
    git("commit", "-qm", "baseline")
    baseline = preset.git("rev-parse", "HEAD").strip()
    for path in preset.RECORDED:  # the experiment's commit holds the metrics it made
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(json.dumps({"ridge": {"brier": 0.07}}))
    git("add", "metrics")
    git("commit", "-qm", "experiment")
    git("update-ref", f"refs/exps/{baseline[:2]}/{baseline[2:]}/brief", "HEAD")
    git("reset", "-q", "--hard", baseline)
    (tmp_path / "a.txt").write_text("two")  # a commit made while the experiment ran
    git("commit", "-qam", "later")
    folder = tmp_path / "recorded"
    preset.record_experiment("brief", ["dvc", "exp", "run"], {"a": 1}, folder, baseline)
    assert json.loads((folder / "walkforward.json").read_text()) == {"ridge": {"brier": 0.07}}
    assert json.loads((folder / "run.json").read_text())["commit"] == baseline


def test_apply_writes_the_preset_into_a_workspaces_params_file(in_repo, tmp_path):
    """The real-data workspace's route: the preset's keys in params.yaml, every other key as it
    was, and the result loads under every rule the stages check."""
    params_file = tmp_path / "params.yaml"
    params_file.write_text(io.PARAMS_FILE.read_text())
    before = io.read_yaml(params_file)
    result = CliRunner().invoke(
        cli.main, ["preset", "real_trades", "--apply", "--params", str(params_file)]
    )
    assert result.exit_code == 0, result.output
    after = io.read_yaml(params_file)
    assert after["ingest"]["source"] == "data/external"
    assert after["models"] == ["ridge", "elasticnet"]
    assert not any(city["weather_features"] for city in after["cities"].values())
    assert after["cities"]["chi"]["tz"] == before["cities"]["chi"]["tz"]  # the rest kept
    # no book: the last trade's log-odds; no weather: no nowcast; forecasts as issued
    assert after["tune"]["ridge"]["extra_features"] == ["market_logit", "forecast"]
    assert after["tune"]["ridge"]["n_trials"] == before["tune"]["ridge"]["n_trials"]
    assert after["windows"] == before["windows"]  # the brief's 90/7/7
    entries = load_entry_params(params_file)
    assert sorted(entries) == ["elasticnet", "ridge"]
