"""What DVC says of this checkout, for the commands that must not run on stale inputs."""

from __future__ import annotations

import json
import re
import subprocess
import sys

from tmaxedge.core.errors import DataError


def changed_stages(*targets: str) -> list[str]:
    """The stages `dvc status` finds with changed inputs or outputs: every stage, or the
    ``targets`` and the stages they depend on."""
    command = [sys.executable, "-m", "dvc", "status", "--json"]
    if targets:
        command += ["--with-deps", *targets]
    status = subprocess.run(command, capture_output=True, text=True)
    if status.returncode != 0:
        raise DataError(f"dvc status failed: {status.stderr.strip()[-300:]}")
    return sorted(json.loads(status.stdout or "{}"))


def window_stages(dvc_yaml: dict) -> set[str]:
    """The stages of a dvc.yaml's content that run once per planned window (``foreach`` over
    ``window_keys``)."""
    return {
        name
        for name, stage in dvc_yaml.get("stages", {}).items()
        if isinstance(stage, dict) and stage.get("foreach") == "${window_keys}"
    }


def without_unplanned_windows(
    lock_text: str, per_window: set[str], keys: list[str]
) -> tuple[str, list[str]]:
    """``lock_text`` (a dvc.lock) without the entries ``<stage>@<window>`` of the per-window
    stages whose window is not in ``keys``, and the names of those removed.

    DVC keeps the entry of a stage that left dvc.yaml (here: a window that left the plan)
    forever, and parses it again on every `dvc status` and after every stage it runs."""
    kept, removed, keep = [], [], True
    for line in lock_text.splitlines(keepends=True):
        entry = re.fullmatch(r"  (\S+):\s*", line)
        if entry:
            stage, at, window = entry.group(1).partition("@")
            keep = not (at and stage in per_window and window not in keys)
            if not keep:
                removed.append(entry.group(1))
        if keep:
            kept.append(line)
    return "".join(kept), removed
