"""Stage `engine`: one fingerprint of the library code that the per-window stages run.

DVC rewrites dvc.lock after every stage, and the time that takes grows with the file's length.
When each tune, calibrate and evaluate stage of every window lists the engine's modules itself,
most of the lock is those lists, repeated 36 times on the default and about 500 times at full
scale. This stage names them once, as whole subpackages (the layers below ``decision``), so a
module added to one is covered without editing dvc.yaml; the per-window stages depend on its
fingerprint, which changes exactly when one of the modules does. So a change to that code still
reruns every window, and a change above it (gates, backtest, report) reruns none.

The sources are the stage's own ``deps`` in dvc.yaml, read from there, so the list DVC watches
and the list fingerprinted are one list.
"""

import argparse
import hashlib
from pathlib import Path

from tmaxedge.core import io
from tmaxedge.core.failures import run_stage


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path, help="the fingerprint (JSON)")
    parser.add_argument(
        "sources",
        type=Path,
        nargs="*",
        help="source files and subpackage folders [default: the engine stage's deps in dvc.yaml]",
    )
    args = parser.parse_args()
    sources = args.sources or engine_sources(Path("dvc.yaml"))
    io.write_json_atomic({"modules": fingerprint(sources)}, args.out)


def engine_sources(dvc_yaml: Path) -> list[Path]:
    """The engine stage's dependencies in dvc.yaml, less this script."""
    deps = io.read_yaml(dvc_yaml)["stages"]["engine"]["deps"]
    return [Path(dep) for dep in deps if dep != "stages/engine.py"]


def python_files(sources: list[Path]) -> list[Path]:
    """The .py files named, and every .py file below the folders named, sorted."""
    files = [found for s in sources for found in (sorted(s.rglob("*.py")) if s.is_dir() else [s])]
    return sorted(files)


def fingerprint(sources: list[Path]) -> dict[str, str]:
    return {
        path.as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in python_files(sources)
    }


if __name__ == "__main__":
    run_stage(main)
