"""``tmaxedge verify``: a checkout reproduces the committed metrics exactly, within a tolerance,
or not, and says which values differ."""

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from tmaxedge.cli.main import main
from tmaxedge.reporting.verify import ABSENT, agrees, differences, flat, metrics_files


def test_flat_names_every_nested_value():
    assert flat({"ridge": {"brier": 0.1, "bins": [1, 2]}, "n": 3}) == {
        "ridge.brier": 0.1,
        "ridge.bins.0": 1,
        "ridge.bins.1": 2,
        "n": 3,
    }


@pytest.mark.parametrize(
    ("committed", "reproduced", "tolerance", "expected"),
    [
        (0.1, 0.1, 0.0, True),
        (0.1, 0.1 + 1e-15, 0.0, False),
        (0.1, 0.1 + 1e-15, 1e-12, True),
        (1658.0, 1750.0, 1e-3, False),  # relative to the value above 1
        (1658.0, 1658.1, 1e-3, True),
        (float("nan"), float("nan"), 0.0, True),
        (float("nan"), 0.0, 1.0, False),
        (True, 1, 0.0, False),  # a flag is not a number
        ("ridge", "ridge", 0.0, True),
    ],
)
def test_agrees(committed, reproduced, tolerance, expected):
    assert agrees(committed, reproduced, tolerance) is expected


def test_differences_list_changed_and_one_sided_keys():
    committed = {"ridge": {"brier": 0.1, "pnl": 5.0}, "old": 1}
    reproduced = {"ridge": {"brier": 0.1, "pnl": 6.0}, "new": 2}
    found = differences("m.json", committed, reproduced, 0.0)
    assert [(d.key, d.committed, d.reproduced) for d in found] == [
        ("new", ABSENT, 2),
        ("old", 1, ABSENT),
        ("ridge.pnl", 5.0, 6.0),
    ]


def test_metrics_files_are_read_from_every_stage():
    spec = {
        "stages": {
            "a": {"metrics": [{"metrics/a.json": {"cache": False}}]},
            "b": {"outs": ["x"]},
            "c": {"metrics": ["metrics/c.json"]},
        }
    }
    assert metrics_files(spec) == ["metrics/a.json", "metrics/c.json"]


def git(root, *args):
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.org",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.org",
    }
    subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True)


def test_verify_command_in_a_dvc_repository(tmp_path, monkeypatch):
    """Reproduced exactly; a committed value 1e-10 away fails exactly and passes at the default
    1e-9, one 1e-8 away fails; a stage whose output was edited is named."""
    metrics = tmp_path / "metrics" / "m.json"
    metrics.parent.mkdir()
    (tmp_path / "make.py").write_text(
        "import json; json.dump({'ridge': {'brier': 0.5}}, open('metrics/m.json', 'w'))\n"
    )
    (tmp_path / "dvc.yaml").write_text(
        "stages:\n  make:\n    cmd: python make.py\n    deps: [make.py]\n"
        "    metrics:\n      - metrics/m.json:\n          cache: false\n"
    )
    git(tmp_path, "init", "-q")
    dvc = [sys.executable, "-m", "dvc"]
    subprocess.run([*dvc, "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run([*dvc, "repro", "-q"], cwd=tmp_path, check=True, capture_output=True)
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "run")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["verify", "--tolerance", "0"])
    assert result.exit_code == 0, result.output
    assert "reproduces the metrics of HEAD exactly" in result.output

    produced = metrics.read_bytes()
    metrics.write_text(json.dumps({"ridge": {"brier": 0.5 + 1e-10}}))
    git(tmp_path, "commit", "-qam", "a committed value the run does not give")
    metrics.write_bytes(produced)
    result = CliRunner().invoke(main, ["verify", "--tolerance", "0"])
    assert result.exit_code == 1
    assert "differs: metrics/m.json ridge.brier: 0.5000000001 at HEAD, 0.5 here" in result.output
    result = CliRunner().invoke(main, ["verify"])  # the default tolerance, 1e-9
    assert result.exit_code == 0, result.output
    assert "reproduces the metrics of HEAD within 1e-09" in result.output

    metrics.write_text(json.dumps({"ridge": {"brier": 0.5 + 1e-8}}))
    git(tmp_path, "commit", "-qam", "a committed value beyond the default tolerance")
    metrics.write_bytes(produced)
    assert CliRunner().invoke(main, ["verify"]).exit_code == 1

    metrics.write_text("{}")
    result = CliRunner().invoke(main, ["verify", "--tolerance", "1e-9"])
    assert result.exit_code == 1
    assert "stage make has changed" in result.output
