"""Benchmark many windows at once on a Dask cluster: `tmaxedge store fill` with 1 and 2 workers.

For the plan's first ``--windows`` windows of this checkout (run `dvc repro windows engine`
first), each window's tune, calibrate and evaluate for every model entry of params.yaml, as the
stages compute them, into an empty result store:

  stages' way     the windows one after another in this process, each step's jobs on
                  ``compute.n_jobs`` loky workers (what `dvc repro` does, without its process
                  start-ups and DVC's bookkeeping)
  dask, N         ``walkforward.compute.finished_on_dask`` over a local cluster of N
                  single-threaded workers, one window per job (what `tmaxedge store fill` does)

Prints seconds, windows per hour and the speed-up over one Dask worker, and checks that every
run filed the same results (the same keys, the same bytes). About 20 minutes for 4 windows of
the embedded default on an idle 2-core machine.
`.venv/bin/python benchmarks/fill_store.py [--windows 4] [--workers 1,2] [--no-stages-way]`
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from tmaxedge.core import io
from tmaxedge.walkforward.compute import finished_on_dask
from tmaxedge.walkforward.run import load_entry_params, load_step_params
from tmaxedge.walkforward.steps import WindowInputs, fill_window, one_process
from tmaxedge.walkforward.store import folder_digest


def with_store(steps, root: Path):
    return dataclasses.replace(
        steps, compute=dataclasses.replace(steps.compute, result_store=str(root))
    )


def stored(root: Path) -> dict[str, str]:
    """Every result in a store: key -> digest of its files."""
    return {folder.name: folder_digest(folder) for folder in sorted(root.glob("*/*"))}


def stages_way(jobs) -> None:
    for inputs, entries, steps in jobs:
        fill_window(inputs, entries, steps)


def on_dask(jobs, workers: int) -> None:
    cluster = dataclasses.replace(
        jobs[0][2].compute, backend="dask", scheduler_address=None, n_jobs=workers
    )
    one_each = [(inputs, entries, one_process(steps)) for inputs, entries, steps in jobs]
    for _ in finished_on_dask(fill_window, one_each, cluster):
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--windows", type=int, default=4, help="the plan's first N windows")
    parser.add_argument("--workers", default="1,2", help="Dask worker counts to time")
    parser.add_argument("--no-stages-way", action="store_true", help="skip the loky baseline")
    parser.add_argument("--keep", type=Path, help="file the stores here and keep them")
    args = parser.parse_args()
    keys = io.read_yaml(Path("windows.yaml"))["window_keys"][: args.windows]
    missing = [key for key in keys if not WindowInputs.of_window(key).manifest.exists()]
    if missing or not Path("data/engine.json").exists():
        sys.exit("run `dvc repro windows engine` first: the windows' manifests are missing")
    entries, steps = load_entry_params(), load_step_params()
    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
        f"{len(keys)} windows {keys[0]} .. {keys[-1]}; entries {', '.join(entries)}"
    )
    runs = [("stages' way", None)] * (not args.no_stages_way)
    runs += [(f"dask, {n} worker(s)", int(n)) for n in args.workers.split(",")]
    rows, stores = [], {}
    with tempfile.TemporaryDirectory(prefix="fill-bench-", dir=".") as scratch:
        scratch = args.keep or scratch
        for name, workers in runs:
            root = Path(scratch, name.replace(" ", "_").replace(",", "").replace("'", ""))
            root = root.resolve()
            jobs = [
                (WindowInputs.of_window(k, Path.cwd()), entries, with_store(steps, root))
                for k in keys
            ]
            started = time.perf_counter()
            stages_way(jobs) if workers is None else on_dask(jobs, workers)
            seconds = time.perf_counter() - started
            stores[name] = stored(root)
            rows.append((name, seconds))
            print(f"  {name}: {seconds:.1f} s, {len(stores[name])} results", flush=True)
    one = dict(rows).get("dask, 1 worker(s)")
    print()
    print("| how | seconds | windows per hour | speed-up over 1 Dask worker |")
    print("|---|---:|---:|---:|")
    for name, seconds in rows:
        ratio = f"{one / seconds:.2f}×" if one else "-"
        print(f"| {name} | {seconds:.1f} | {3600 * len(keys) / seconds:.1f} | {ratio} |")
    first_name, first = next(iter(stores.items()))
    same = all(results == first for results in stores.values())
    print(f"\nevery run filed the same {len(first)} results, byte for byte: {same}")
    for name, results in stores.items():
        for key in sorted(set(first) | set(results)):
            if first.get(key) != results.get(key):
                print(f"  differs: result {key[:12]} of {first_name!r} and {name!r}")
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
