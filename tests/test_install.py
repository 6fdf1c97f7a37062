"""The install the README gives: exact versions from requirements.lock."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]


def declared_requirements() -> set[str]:
    """Names of the dependencies pyproject.toml declares, extras included, normalised."""
    project = tomllib.loads((PROJECT / "pyproject.toml").read_text())["project"]
    specs = project["dependencies"] + [
        s for extra in project["optional-dependencies"].values() for s in extra
    ]
    return {
        re.split(r"[<>=!~\[; ]", spec, maxsplit=1)[0].lower().replace("_", "-") for spec in specs
    }


def test_the_lock_file_pins_every_declared_dependency_exactly():
    """The README installs from requirements.lock: a dependency missing from it would float."""
    lines = [
        line
        for line in (PROJECT / "requirements.lock").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert all("==" in line for line in lines), [line for line in lines if "==" not in line]
    pinned = {line.split("==")[0].lower().replace("_", "-") for line in lines}
    assert declared_requirements() - pinned == set()
