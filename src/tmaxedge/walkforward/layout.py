"""Where the per-window stages leave their results: ``models/<window>/<step>/<entry>/<group>/``.

One stage per (window, step) runs every model entry (``store`` says why that stays cheap when
one entry changes), so a window's step is one DVC output and each entry a folder in it. The
stages after the walk-forward (summarize, gate) find the files here by entry, window and group,
in that order, so their outputs do not depend on how the folders are nested.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

STEPS = ("tune", "calibrate", "evaluate")


class EntryFile(NamedTuple):
    entry: str
    window: str
    group: str
    path: Path


def step_folder(models: Path, window: str, step: str) -> Path:
    """The folder a window's step writes: one subfolder per model entry."""
    return Path(models) / window / step


def entry_files(models: Path, step: str, name: str) -> list[EntryFile]:
    """Every group's file ``name`` a step left under ``models``, sorted by entry, window and
    group."""
    found = [
        EntryFile(path.parts[-3], path.parts[-5], path.parts[-2], path)
        for path in Path(models).glob(f"*/{step}/*/*/{name}")
    ]
    return sorted(found)
