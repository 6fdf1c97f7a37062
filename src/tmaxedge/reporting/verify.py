"""Does a checkout reproduce the committed metrics? Each metrics file compared value by value.

``tmaxedge verify`` runs it after ``dvc repro``: every number of every metrics file in the
workspace against the same file at a git revision, within a stated tolerance (0: exactly).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, NamedTuple

ABSENT = "<absent>"  # a key one side of the comparison lacks
# the default of `tmaxedge verify --tolerance`: six orders above the last digits another CPU's
# summation order moves (1e-15 relative, docs/reproducibility.md); counts stay exact under it
REPRODUCTION_TOLERANCE = 1e-9


class Difference(NamedTuple):
    file: str
    key: str
    committed: Any
    reproduced: Any


def flat(content: Any, prefix: str = "") -> dict[str, Any]:
    """Nested mappings and lists as ``{"a.b.0": value}``."""
    if isinstance(content, Mapping):
        items = content.items()
    elif isinstance(content, list):
        items = enumerate(content)
    else:
        return {prefix: content}
    found = {}
    for key, value in items:
        found.update(flat(value, f"{prefix}.{key}" if prefix else str(key)))
    return found


def agrees(committed: Any, reproduced: Any, tolerance: float) -> bool:
    """Equal, or for two numbers within ``tolerance`` relative to the larger (absolute below
    1); NaN agrees with NaN."""
    numbers = (int, float)
    if isinstance(committed, bool) or isinstance(reproduced, bool):
        return type(committed) is type(reproduced) and committed == reproduced
    if isinstance(committed, numbers) and isinstance(reproduced, numbers):
        if math.isnan(committed) or math.isnan(reproduced):
            return math.isnan(committed) and math.isnan(reproduced)
        scale = max(1.0, abs(committed), abs(reproduced))
        return abs(committed - reproduced) <= tolerance * scale
    return committed == reproduced


def differences(file: str, committed: Any, reproduced: Any, tolerance: float) -> list[Difference]:
    """Every key of one metrics file whose values disagree, or that one side lacks."""
    before, after = flat(committed), flat(reproduced)
    return [
        Difference(file, key, before.get(key, ABSENT), after.get(key, ABSENT))
        for key in sorted(before.keys() | after.keys())
        if key not in before or key not in after or not agrees(before[key], after[key], tolerance)
    ]


def metrics_files(dvc_yaml: Mapping) -> list[str]:
    """The metrics files the stages of a parsed dvc.yaml declare, in order."""
    files = []
    for stage in dvc_yaml.get("stages", {}).values():
        for entry in stage.get("metrics", []):
            files.extend(entry if isinstance(entry, Mapping) else [entry])
    return files
