"""A throwaway copy of the project in a temporary git repository, for running real `dvc`."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

PROJECT = Path(__file__).resolve().parents[2]
COPIED = ["dvc.yaml", "params.yaml", "windows.yaml", "stages", "src", "docs/results"]


class DvcRepo:
    """The project's pipeline in ``root`` with params overridden, under git and dvc."""

    def __init__(self, root: Path, overrides: dict[str, dict]):
        self.root = root
        for name in COPIED:
            source = PROJECT / name
            if source.is_dir():
                shutil.copytree(source, root / name, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(source, root / name)
        self.set_params(overrides)
        bin_dir = str(Path(sys.executable).parent)
        self.env = {
            **os.environ,
            "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@example.org",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@example.org",
            "DVC_NO_ANALYTICS": "1",
        }
        self.run("git", "init", "-q")
        self.dvc("init", "-q")
        for ignores in [".gitignore", ".dvcignore"]:  # the result store is neither git's nor dvc's
            shutil.copy2(PROJECT / ignores, root / ignores)
        self.dvc("config", "core.autostage", "true")
        self.run("git", "add", "-A")
        self.run("git", "commit", "-q", "-m", "start")

    def set_params(self, overrides: dict[str, dict]) -> None:
        path = self.root / "params.yaml"
        params = yaml.safe_load(path.read_text())
        for section, values in overrides.items():
            params[section] = (
                _merge(params.get(section, {}), values) if isinstance(values, dict) else values
            )
        path.write_text(yaml.safe_dump(params, sort_keys=False))

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run(args, cwd=self.root, env=self.env, capture_output=True, text=True)
        if check and result.returncode != 0:
            raise AssertionError(
                f"{' '.join(args)} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
            )
        return result

    def dvc(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return self.run(sys.executable, "-m", "dvc", *args, check=check)

    def repro(self, *args: str) -> set[str]:
        """Run `dvc repro` and return the names of the stages that ran."""
        return ran(self.dvc("repro", *args).stdout)

    def plan(self) -> None:
        self.run(sys.executable, "-m", "tmaxedge", "plan")

    def commit(self, message: str) -> None:
        self.run("git", "add", "-A")
        self.run("git", "commit", "-q", "--allow-empty", "-m", message)


def ran(output: str) -> set[str]:
    """Names of the stages a dvc command ran, from its output."""
    return set(re.findall(r"Running stage '([^']+)'", output))


def _merge(base: dict, change: dict) -> dict:
    merged = dict(base)
    for key, value in change.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged
