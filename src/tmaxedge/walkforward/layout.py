"""Where the per-window stages leave their results: ``models/<window>/<step>/<entry>/``, one
file per group and artifact, named ``<group>.<name>`` (``chi_between.model.json``).

One stage per (window, step) runs every model entry (``store`` says why that stays cheap when
one entry changes), so a window's step is one DVC output and each entry a folder in it. The
groups' files lie flat in the entry's folder, with no folder per group: DVC walks every folder
of an output to check it, so fewer folders keep ``dvc status`` quick. A group's name
(``Group.name``: ``<city>_<strike type>``) never holds a dot, so the file name says whose file it
is; a file of the whole entry (the evaluate step's ``scores.json``) has no group part. The stages
after the walk-forward (summarize, gate) find the files here by entry, window and group, in that
order, so their outputs do not depend on how the files are named.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from tmaxedge.core import io
from tmaxedge.core.keys import SEPARATOR

STEPS = ("tune", "calibrate", "evaluate")
# the brief's edge-diagnostics columns, in its order: every group's preds_test and the merged
# edge diagnostics begin with them, after the model entry (and, per window, the window)
EDGE_COLUMNS = [
    "city",
    "bracket",
    "timestamp",
    "market_ticker",
    "p_model",
    "p_market",
    "y",
    "spread_cents",
    "minutes_to_close",
]


class EntryFile(NamedTuple):
    entry: str
    window: str
    group: str
    path: Path


def step_folder(models: Path, window: str, step: str) -> Path:
    """The folder a window's step writes: one subfolder per model entry."""
    return Path(models) / window / step


def group_file(entry_folder: Path, group: str, name: str) -> Path:
    """Group ``group``'s file ``name`` in an entry's folder: ``<entry folder>/<group>.<name>``."""
    return Path(entry_folder) / f"{group}.{name}"


def group_of(path: Path, name: str) -> str | None:
    """The group whose file ``name`` ``path`` is (``group_file``'s inverse); None for any other
    file, such as ``scores.json`` (a group's name holds an underscore and no dot)."""
    group, dot, rest = Path(path).name.partition(".")
    return group if dot and rest == name and SEPARATOR in group else None


def groups_with(entry_folder: Path, name: str) -> list[str]:
    """The groups that have a file ``name`` in an entry's folder, sorted."""
    found = (group_of(path, name) for path in Path(entry_folder).glob(f"*.{name}"))
    return sorted(group for group in found if group is not None)


def entry_files(models: Path, step: str, name: str) -> list[EntryFile]:
    """Every group's file ``name`` a step left under ``models``, sorted by entry, window and
    group."""
    found = [
        EntryFile(path.parts[-2], path.parts[-4], group, path)
        for path in Path(models).glob(f"*/{step}/*/*.{name}")
        for group in [group_of(path, name)]
        if group is not None
    ]
    return sorted(found)


class GroupRecord(NamedTuple):
    entry: str
    window: str
    group: str
    content: dict


def by_window_files(folder: Path, name: str) -> dict[str, Path]:
    """Window -> its file ``<window>.<name>`` in ``folder`` (data/by_window), by window."""
    suffix = f".{name}"
    found = {
        path.name.removesuffix(suffix): path
        for path in Path(folder).glob(f"*{suffix}")
        if path.name != suffix
    }
    return dict(sorted(found.items()))


def group_records(folder: Path) -> list[GroupRecord]:
    """Every window's ``<window>.models.json`` in ``folder`` (``artifacts.window_models``) as
    one record per (entry, window, group), sorted by entry, window and group."""
    records = [
        GroupRecord(entry, window, group, content)
        for window, path in by_window_files(folder, "models.json").items()
        for entry, groups in io.read_json(path).items()
        for group, content in groups.items()
    ]
    return sorted(records, key=lambda r: (r.entry, r.window, r.group))
