"""What DVC says of this checkout, for the commands that must not run on stale inputs."""

from __future__ import annotations

import json
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
