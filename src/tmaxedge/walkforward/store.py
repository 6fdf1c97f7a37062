"""A content-addressed store of finished per-window results, one folder per model entry.

A per-window stage runs every model entry, and DVC reruns it when anything it depends on
changes: one entry's parameters, the engine's code, the window's rows. Recomputing every entry
then would make a change to ``tune.ridge`` cost as much as a change to the data. So each
entry's result is filed under a digest of everything it is a function of (``result_key``: the
step, the entry and its parameters, the params the step reads, the window's manifest, the
engine's fingerprint, the entry's result of the step before); a rerun copies
the results whose digest it finds and computes only the rest.

A stored result is the folder the computation wrote, copied byte for byte, so restoring one
never changes an output (tests/pipeline check it against a recomputation). Results are kept as
each entry finishes, so a killed stage resumes at the entry it was on. The store only saves
time: deleting it (``rm -rf .tmaxedge/store``, or ``tmaxedge store prune`` for the results not
used lately) or switching it off (``compute.result_store: null``) gives the same outputs, computed
again.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from tmaxedge.core import io


def result_key(**inputs: object) -> str:
    """The digest of a result's inputs: canonical JSON of ``inputs`` (plain values, mappings,
    lists and dataclasses such as a section's params; anything else by its ``str``)."""
    text = json.dumps(inputs, sort_keys=True, default=_plain, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _plain(value: object) -> object:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return str(value)


def folder_digest(folder: Path) -> str:
    """The digest of a folder's files: their paths below it and their bytes."""
    digest = hashlib.sha256()
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
        name = path.relative_to(folder).as_posix().encode()
        digest.update(len(name).to_bytes(8, "little") + name)
        content = path.read_bytes()
        digest.update(len(content).to_bytes(8, "little") + content)
    return digest.hexdigest()


def frame_digest(frame: pd.DataFrame) -> str:
    """The digest of a table's rows, in order (values and types, not the index)."""
    rows = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    return hashlib.sha256(rows.tobytes() + str(list(frame.dtypes)).encode()).hexdigest()


def file_digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@dataclass(frozen=True)
class ResultStore:
    """Finished results under ``root``, one folder per key; ``root`` None keeps nothing."""

    root: Path | None

    def folder(self, key: str) -> Path:
        return self.root / key[:2] / key

    def restore(self, key: str, target: Path) -> bool:
        """Copy the result filed under ``key`` to ``target``; whether there was one."""
        if self.root is None or not self.folder(key).is_dir():
            return False
        shutil.copytree(self.folder(key), target)
        os.utime(self.folder(key))  # its last use, which ``prune`` keeps by
        return True

    def keep(self, key: str, source: Path) -> None:
        """File a copy of the finished result in ``source`` under ``key``. The copy is renamed
        into place whole, so a killed run never leaves a half-copied result to restore."""
        if self.root is None or self.folder(key).is_dir():
            return
        self.folder(key).parent.mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkdtemp(prefix=".partial.", dir=self.folder(key).parent))
        shutil.copytree(source, partial, dirs_exist_ok=True)
        try:
            os.rename(partial, self.folder(key))
        except OSError:  # another run filed the same result first: the same bytes
            shutil.rmtree(partial, ignore_errors=True)

    def prune(self, unused_for_seconds: float, now: float) -> tuple[int, int]:
        """Remove the results neither kept nor restored in the last ``unused_for_seconds``
        before ``now`` (and what killed runs left half-copied); how many, and their bytes."""
        if self.root is None or not self.root.is_dir():
            return 0, 0
        removed = freed = 0
        for folder in sorted(self.root.glob("*/*")):
            if folder.stat().st_mtime < now - unused_for_seconds:
                freed += sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
                shutil.rmtree(folder)
                removed += 1
        return removed, freed


def open_store(spec: str | None) -> ResultStore:
    """The store ``compute.result_store`` names: a folder, or None for no store."""
    return ResultStore(None if spec is None else Path(spec))


@dataclass(frozen=True)
class WindowStep:
    """What every entry's result of one window's step depends on besides the entry's own
    inputs: the window's manifest (its bounds and the digest of its rows) and the engine's
    fingerprint, which covers the step's code (``steps``: the stage scripts only read their
    arguments and params, and the params a step reads are its entries' inputs)."""

    step: str
    manifest: dict
    engine: str

    @classmethod
    def of(cls, step: str, manifest: dict, engine: Path) -> WindowStep:
        return cls(step, manifest, file_digest(engine))

    def key(self, entry: str, **inputs: object) -> str:
        """The store key of ``entry``'s result, given its own ``inputs``."""
        return result_key(
            step=self.step,
            entry=entry,
            manifest=self.manifest,
            engine=self.engine,
            inputs=inputs,
        )


Writer = Callable[[Path], None]


def run_entries(
    entries: list[str],
    out: Path,
    store: ResultStore,
    key_of: Callable[[str], str],
    compute: Callable[[list[str]], Iterator[tuple[str, Writer]]],
    step: str,
) -> dict[str, str]:
    """Each entry's result in ``out/<entry>``: restored from ``store`` when its key is there;
    the others are computed together by ``compute(missing)``, which yields each missing entry,
    in order, with the function that writes its result into a folder, and kept as each comes.
    Says which, per entry, in the log and in the returned mapping (``"restored"`` or
    ``"computed"``)."""
    keys = {entry: key_of(entry) for entry in entries}
    outcome = {}
    for entry in entries:
        if store.restore(keys[entry], out / entry):
            outcome[entry] = "restored"
            io.log.info("%s %s: restored (result %s)", step, entry, keys[entry][:12])
    missing = [entry for entry in entries if entry not in outcome]
    for entry, write in compute(missing):
        folder = out / entry
        folder.mkdir(parents=True)
        write(folder)
        store.keep(keys[entry], folder)
        outcome[entry] = "computed"
        io.log.info("%s %s: computed (result %s)", step, entry, keys[entry][:12])
    return {entry: outcome[entry] for entry in entries}


def one_at_a_time(
    compute: Callable[[str, Path], None],
) -> Callable[[list[str]], Iterator[tuple[str, Writer]]]:
    """``run_entries``' ``compute`` for a step whose entries are computed one after another,
    each by ``compute(entry, folder)`` as its result is written."""

    def each(missing: list[str]) -> Iterator[tuple[str, Writer]]:
        for entry in missing:
            yield entry, functools.partial(compute, entry)

    return each
