"""Benchmark the default walk-forward at the brief's scale: 7 cities x 684 days, default trials.

Runs the real stage scripts in a scratch folder (``--scratch``, default ``runs/full_scale``) with
the project's params.yaml, except ``simulate.days`` (``--days``):

  measured   simulate, ingest, features, the plan (``tmaxedge plan``) and windows on all days;
             tune, calibrate and evaluate of every model type on ``--sample-windows`` windows
             spread evenly over the plan; summarize and backtest on those sampled windows.
  projected  the whole run: the front stages as measured, plus for each per-window stage its
             mean over the sampled windows times the number of windows, plus summarize and
             backtest scaled by windows / sampled windows.

Peak memory is sampled every 0.2 s as the summed RSS of a stage's process tree (the stage and its
parallel workers), the largest over all stages.

Then DVC's own overhead at the full stage count (``--skip-dvc`` skips it): the scratch folder
becomes a git + DVC repository with the project's dvc.yaml and the full plan; windows that were
not run get stand-in outputs hard-linked from a sampled window (same files and sizes);
``dvc commit`` records every stage, and ``dvc status`` and a no-op ``dvc repro`` are timed
(median of three). Prints two tables and the verdict against the targets (run <= 90 minutes,
peak <= 8 GB, status and no-op repro <= 5 s each).

    .venv/bin/python benchmarks/full_scale.py --sample-windows 1 --skip-dvc  # 7 min, 4.2 GiB
    .venv/bin/python benchmarks/full_scale.py --days 181 --sample-windows 1   # 5 min
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
import yaml

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT / "tests" / "pipeline"))

from dvcrepo import DvcRepo  # noqa: E402  (the tests' throwaway project repository)

PER_WINDOW = ("tune", "calibrate", "evaluate")
TARGETS = {"run_minutes": 90, "peak_gb": 8, "status_s": 5, "noop_repro_s": 5}


@dataclass
class Timed:
    name: str
    seconds: float
    peak_bytes: int


def run_stage(name: str, args: list[str], cwd: Path) -> Timed:
    """Run one command; its wall time and the peak RSS of its process tree."""
    start = time.perf_counter()
    process = subprocess.Popen(
        args, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    peak = _watch_peak_rss(process)
    _, stderr = process.communicate()
    seconds = time.perf_counter() - start
    if process.returncode != 0:
        sys.exit(f"{name}: {' '.join(args)} exited {process.returncode}\n{stderr[-3000:]}")
    return Timed(name, seconds, peak())


def _watch_peak_rss(process: subprocess.Popen):
    """Sample the summed RSS of ``process`` and its descendants until it ends; returns a getter."""
    peak = [0]

    def sample() -> None:
        try:
            root = psutil.Process(process.pid)
            while process.poll() is None:
                total = 0
                for p in [root, *root.children(recursive=True)]:
                    try:
                        total += p.memory_info().rss
                    except psutil.Error:
                        pass
                peak[0] = max(peak[0], total)
                time.sleep(0.2)
        except psutil.Error:
            pass

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()

    def result() -> int:
        thread.join()
        return peak[0]

    return result


def prepare_scratch(scratch: Path, days: int) -> tuple[DvcRepo, dict]:
    """The project's pipeline in a fresh git + DVC repository at ``scratch``, ``days`` long."""
    if scratch.exists():
        shutil.rmtree(scratch)
    scratch.mkdir(parents=True)
    # the benchmark times the run; it does not judge the models
    repo = DvcRepo(scratch, {"simulate": {"days": days}, "gate": {"enforce": False}})
    return repo, yaml.safe_load((scratch / "params.yaml").read_text())


def stage_commands(dvc_file: Path, window_keys: list[str]) -> dict[str, str]:
    """Stage name -> command, from dvc.yaml with its foreach expanded and vars filled."""
    spec = yaml.safe_load(dvc_file.read_text())["stages"]
    params = yaml.safe_load((dvc_file.parent / "params.yaml").read_text())
    commands = {}
    for name, stage in spec.items():
        if "foreach" not in stage:
            commands[name] = stage["cmd"].replace("${ingest.source}", params["ingest"]["source"])
            continue
        for window in window_keys:
            commands[f"{name}@{window}"] = stage["do"]["cmd"].replace("${item}", window)
    return commands


def python_command(cmd: str) -> list[str]:
    parts = cmd.split()
    assert parts[0] == "python", cmd
    return [sys.executable, *parts[1:]]


def sampled(keys: list[str], k: int) -> list[str]:
    if k >= len(keys):
        return list(keys)
    return (
        [keys[round(i * (len(keys) - 1) / (k - 1))] for i in range(k)]
        if k > 1
        else [keys[len(keys) // 2]]
    )


def run_pipeline(scratch: Path, params: dict, sample_windows: int) -> tuple[list[Timed], dict]:
    timings = []
    base = stage_commands(scratch / "dvc.yaml", [])
    for name in ("simulate", "ingest", "features"):
        timings.append(run_stage(name, python_command(base[name]), scratch))
        print(f"  {name}: {timings[-1].seconds:.1f} s", flush=True)
    timings.append(run_stage("plan", [sys.executable, "-m", "tmaxedge", "plan"], scratch))
    timings.append(run_stage("windows", python_command(base["windows"]), scratch))
    timings.append(run_stage("engine", python_command(base["engine"]), scratch))
    timings.append(run_stage("step_params", python_command(base["step_params"]), scratch))
    keys = yaml.safe_load((scratch / "windows.yaml").read_text())["window_keys"]
    chosen = sampled(keys, sample_windows)
    print(f"  plan: {len(keys)} windows; sampled {chosen}", flush=True)
    models = list(params["models"])
    commands = stage_commands(scratch / "dvc.yaml", chosen)
    for window in chosen:
        for stage in PER_WINDOW:
            name = f"{stage}@{window}"
            timings.append(run_stage(name, python_command(commands[name]), scratch))
            print(f"  {name}: {timings[-1].seconds:.1f} s", flush=True)
    for name in ("summarize", "backtest"):
        timings.append(run_stage(name, python_command(commands[name]), scratch))
        print(f"  {name} (sampled windows): {timings[-1].seconds:.1f} s", flush=True)
    return timings, {"keys": keys, "chosen": chosen, "models": models}


def projection(timings: list[Timed], plan: dict) -> list[tuple[str, str, float, str, int]]:
    """Rows (what, how, seconds, detail, peak bytes) of the projected full run."""
    by_name = {t.name: t for t in timings}
    n, k = len(plan["keys"]), len(plan["chosen"])
    rows = []
    for name in ("simulate", "ingest", "features", "plan", "windows", "engine", "step_params"):
        rows.append((name, "measured", by_name[name].seconds, "", by_name[name].peak_bytes))
    for stage in PER_WINDOW:
        seconds = [by_name[f"{stage}@{w}"].seconds for w in plan["chosen"]]
        peak = max(by_name[f"{stage}@{w}"].peak_bytes for w in plan["chosen"])
        mean = statistics.mean(seconds)
        rows.append(
            (
                f"{stage} (every entry)",
                "projected",
                mean * n,
                f"{n} x {mean:.1f} s (measured {min(seconds):.1f}-{max(seconds):.1f} s on {k})",
                peak,
            )
        )
    for name in ("summarize", "backtest"):
        rows.append(
            (
                name,
                "projected",
                by_name[name].seconds * n / k,
                f"{by_name[name].seconds:.1f} s on {k} windows x {n}/{k}",
                by_name[name].peak_bytes,
            )
        )
    return rows


def dvc_overhead(repo: DvcRepo, plan: dict, repeats: int = 3) -> dict[str, float]:
    """Time `dvc status` and a no-op `dvc repro` with every stage of the full plan recorded."""
    scratch = repo.root
    repo.dvc("config", "cache.type", "hardlink,copy")
    stand_in_outputs(scratch, plan)
    for missing in ("reports", "plots"):
        (scratch / missing).mkdir(exist_ok=True)
    for name in ("metrics/gate.json", "metrics/promoted.json"):
        path = scratch / name
        if not path.exists():
            path.write_text("{}\n")
    repo.dvc("commit", "-f", "-q")  # records every stage; DVC then lists its outputs in .gitignore
    repo.commit("full-scale benchmark")

    def nothing_to_do(*args: str) -> float:
        """Seconds of one dvc command, which must find nothing to do (a stage that ran would)."""
        start = time.perf_counter()
        output = repo.dvc(*args).stdout
        seconds = time.perf_counter() - start
        if "Data and pipelines are up to date" not in output:
            sys.exit(f"dvc {' '.join(args)} found work to do:\n{output[-2000:]}")
        return seconds

    status = [nothing_to_do("status") for _ in range(repeats)]
    repro = [nothing_to_do("repro") for _ in range(repeats)]
    n_stages = len(stage_commands(scratch / "dvc.yaml", plan["keys"]))
    return {
        "stages": n_stages,
        "status_s": statistics.median(status),
        "noop_repro_s": statistics.median(repro),
    }


def stand_in_outputs(scratch: Path, plan: dict) -> None:
    """Hard-link a sampled window's outputs under every window that was not run."""
    sampled = plan["chosen"][0]
    by_window = scratch / "data" / "by_window"
    for window in plan["keys"]:
        target = scratch / "models" / window
        if not target.exists():
            shutil.copytree(scratch / "models" / sampled, target, copy_function=os.link)
        for name in ("models.json", "predictions.parquet"):
            if not (by_window / f"{window}.{name}").exists():
                os.link(by_window / f"{sampled}.{name}", by_window / f"{window}.{name}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--days", type=int, default=684)
    parser.add_argument("--sample-windows", type=int, default=3)
    parser.add_argument("--scratch", type=Path, default=PROJECT / "runs" / "full_scale")
    parser.add_argument("--skip-dvc", action="store_true")
    args = parser.parse_args()
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB; load {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    repo, params = prepare_scratch(args.scratch, args.days)
    trials = ", ".join(f"{m} {params['tune'][m]['n_trials']}" for m in params["models"])
    print(
        f"scratch {args.scratch}: {len(params['cities'])} cities x {args.days} days, "
        f"trials {trials}",
        flush=True,
    )
    timings, plan = run_pipeline(args.scratch, params, args.sample_windows)
    rows = projection(timings, plan)
    total = sum(row[2] for row in rows)
    peak = max(t.peak_bytes for t in timings)
    print("\n| stage | | seconds | how | peak GiB |\n|---|---|---:|---|---:|")
    for what, how, seconds, detail, stage_peak in rows:
        print(f"| {what} | {how} | {seconds:,.0f} | {detail} | {stage_peak / 2**30:.2f} |")
    print(
        f"| **whole run** | projected | **{total:,.0f}** ({total / 60:.1f} min) | "
        f"target <= {TARGETS['run_minutes']} min: {total / 60 / TARGETS['run_minutes']:.2f} of it |"
    )
    print(
        f"\npeak memory of one stage's process tree: {peak / 2**30:.2f} GiB "
        f"(target <= {TARGETS['peak_gb']} GB), in {max(timings, key=lambda t: t.peak_bytes).name}"
    )
    if args.skip_dvc:
        return
    overhead = dvc_overhead(repo, plan)
    print(
        "\n| DVC, nothing to do | stages | seconds (median of 3) | target |\n|---|---:|---:|---:|"
    )
    print(
        f"| dvc status | {overhead['stages']} | {overhead['status_s']:.1f} | "
        f"<= {TARGETS['status_s']} |"
    )
    print(
        f"| dvc repro (no-op) | {overhead['stages']} | {overhead['noop_repro_s']:.1f} | "
        f"<= {TARGETS['noop_repro_s']} |"
    )


if __name__ == "__main__":
    main()
