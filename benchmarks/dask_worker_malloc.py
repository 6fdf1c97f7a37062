"""Benchmark one window's tune in a plain process and in Dask workers, with and without Dask's
``MALLOC_TRIM_THRESHOLD_=65536``.

Dask's nanny starts each worker with that variable set; under it glibc maps and unmaps every
large array afresh. ``walkforward.compute.local_cluster`` starts workers without it. Each row
runs ``walkforward.steps.tune_stage`` for one window of this checkout (every model entry, one
process, one BLAS thread, no result store) and prints seconds and the ratio to the plain process.
About 8 minutes on an idle 2-core machine.
`.venv/bin/python benchmarks/dask_worker_malloc.py [--window 2024-06-30]`
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from tmaxedge.walkforward.run import load_entry_params, load_step_params
from tmaxedge.walkforward.steps import WindowInputs, one_process, tune_stage


def timed_tune(window: str, root: str) -> tuple[float, str | None]:
    """Seconds of one window's tune here, and this process's MALLOC_TRIM_THRESHOLD_."""
    steps = one_process(load_step_params(Path(root) / "params.yaml"))
    steps = dataclasses.replace(
        steps, compute=dataclasses.replace(steps.compute, result_store=None)
    )
    entries = load_entry_params(Path(root) / "params.yaml")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        tune_stage(WindowInputs.of_window(window, Path(root)), Path(scratch), entries, steps)
    return time.perf_counter() - started, os.environ.get("MALLOC_TRIM_THRESHOLD_")


def in_plain_process(window: str, trim: str | None) -> float:
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_TRIM_THRESHOLD_"}
    if trim is not None:
        env["MALLOC_TRIM_THRESHOLD_"] = trim
    code = (
        f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
        f"from dask_worker_malloc import timed_tune; "
        f"print(timed_tune({window!r}, {os.getcwd()!r})[0])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return float(out.stdout.strip().splitlines()[-1])


def in_dask_worker(window: str, project_cluster: bool) -> tuple[float, str | None]:
    from distributed import Client, LocalCluster

    from tmaxedge.walkforward.compute import local_cluster

    cluster = (
        local_cluster(1)
        if project_cluster
        else LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=":0")
    )
    with cluster, Client(cluster) as client:
        return client.submit(timed_tune, window, os.getcwd(), pure=False).result()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--window", default="2024-06-30")
    args = parser.parse_args()
    rows = [
        ("plain process", in_plain_process(args.window, None), None),
        (
            "plain process, MALLOC_TRIM_THRESHOLD_=65536",
            in_plain_process(args.window, "65536"),
            "65536",
        ),
    ]
    for name, project in [("Dask's default worker", False), ("local_cluster's worker", True)]:
        seconds, trim = in_dask_worker(args.window, project)
        rows.append((name, seconds, trim))
    base = rows[0][1]
    print(f"one window's tune ({args.window}), every entry, one process, one BLAS thread\n")
    print("| where | MALLOC_TRIM_THRESHOLD_ | seconds | ratio to the plain process |")
    print("|---|---|---:|---:|")
    for name, seconds, trim in rows:
        print(f"| {name} | {trim or 'unset'} | {seconds:.1f} | {seconds / base:.2f}× |")


if __name__ == "__main__":
    main()
