"""dvc.yaml and dvc.lock as committed: what DVC reads on every `dvc status` and `dvc repro`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from tmaxedge.core.params import STEP_KEYS, check_params_file, step_part

PROJECT = Path(__file__).resolve().parents[1]
PER_WINDOW = ("tune", "calibrate", "evaluate")


def dvc_stages() -> dict:
    return yaml.safe_load((PROJECT / "dvc.yaml").read_text())["stages"]


def test_dvc_lock_records_only_stages_dvc_yaml_defines():
    """DVC never drops the entry of a stage that left dvc.yaml (a renamed stage, a window that
    left the plan); every one is parsed again on each `dvc status`."""
    keys = yaml.safe_load((PROJECT / "windows.yaml").read_text())["window_keys"]
    defined = set()
    for name, stage in dvc_stages().items():
        defined |= {f"{name}@{key}" for key in keys} if "foreach" in stage else {name}
    recorded = set(yaml.safe_load((PROJECT / "dvc.lock").read_text())["stages"])
    assert recorded <= defined, f"dvc.lock records stages dvc.yaml does not: {recorded - defined}"


def test_per_window_stages_watch_their_step_file_and_no_params():
    spec = dvc_stages()
    watched = {key for step in PER_WINDOW for key in STEP_KEYS[step]}
    assert set(spec["step_params"]["params"]) == watched
    for step in PER_WINDOW:
        stage = spec[step]["do"]
        assert "params" not in stage, f"{step} lists params; DVC would parse params.yaml per window"
        assert f"data/step_params/{step}.yaml" in stage["deps"]
        assert f"data/step_params/{step}.yaml" in stage["cmd"].split()


def test_step_params_writes_each_steps_keys_and_nothing_else(tmp_path):
    (tmp_path / "params.yaml").write_text((PROJECT / "params.yaml").read_text())
    subprocess.run(
        [sys.executable, str(PROJECT / "stages" / "step_params.py"), "out"],
        check=True,
        cwd=tmp_path,
    )
    content = check_params_file(tmp_path / "params.yaml")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        f"{step}.yaml" for step in sorted(STEP_KEYS)
    ]
    for step in STEP_KEYS:
        written = yaml.safe_load((tmp_path / "out" / f"{step}.yaml").read_text())
        assert written == step_part(content, step, Path("params.yaml"))
    assert set(yaml.safe_load((tmp_path / "out" / "evaluate.yaml").read_text())) == {
        "models",
        "coherence",
    }
    assert yaml.safe_load((tmp_path / "out" / "tune.yaml").read_text())["gate"] == {
        "beta_max": content["gate"]["beta_max"]
    }
