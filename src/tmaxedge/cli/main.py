"""The `tmaxedge` command: planning and one-off runs outside DVC."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from pathlib import Path

import click
import pandas as pd
import yaml

from tmaxedge.cli import dvc
from tmaxedge.cli.configs import configs_group
from tmaxedge.cli.data import city_code, fetch_group, import_group, load_cities
from tmaxedge.cli.options import params_option
from tmaxedge.cli.preset import preset_command
from tmaxedge.cli.store import store_group
from tmaxedge.cli.study import study_group
from tmaxedge.core import failures, io
from tmaxedge.core.errors import DataError, ParamsError
from tmaxedge.reporting.verify import REPRODUCTION_TOLERANCE
from tmaxedge.walkforward import windows


class _FailingGroup(click.Group):
    """A group whose subcommands fail the one way (``tmaxedge.core.failures``)."""

    def invoke(self, ctx: click.Context):
        # --debug is parsed before any subcommand runs, so it is known here
        with failures.user_errors(debug=ctx.params.get("debug", False)):
            return super().invoke(ctx)


@click.group(cls=_FailingGroup)
@click.option(
    "--debug",
    is_flag=True,
    help=f"Show the traceback of an error in a file or value ({failures.DEBUG_VARIABLE}=1 too).",
)
def main(debug: bool) -> None:
    """Walk-forward pricing of Kalshi daily-high-temperature markets."""
    io.configure_logging()


@main.command()
@click.option(
    "--rev",
    default="HEAD",
    show_default=True,
    help="The git revision whose committed metrics the workspace should reproduce.",
)
@click.option(
    "--tolerance",
    type=click.FloatRange(min=0),
    default=REPRODUCTION_TOLERANCE,
    show_default=True,
    help="The largest relative difference (absolute below 1) that still agrees; 0: exactly. "
    "The default lets another CPU's summation order move the last digits of an average (seen: "
    "1e-15 relative); docs/reproducibility.md.",
)
def verify(rev: str, tolerance: float) -> None:
    """After `dvc repro`: does this checkout reproduce REV's metrics? Compares every value of
    every metrics file in dvc.yaml with the committed one, and checks that DVC has nothing left
    to run. Exit 0 when all agree, 1 when not (each difference listed)."""
    import json
    import subprocess
    import sys

    from tmaxedge.cli.dvc import changed_stages
    from tmaxedge.reporting import verify as check

    pending = changed_stages()
    found = []
    for file in check.metrics_files(io.read_yaml(Path("dvc.yaml"))):
        shown = subprocess.run(["git", "show", f"{rev}:{file}"], capture_output=True, text=True)
        committed = json.loads(shown.stdout) if shown.returncode == 0 else {}
        reproduced = io.read_json(Path(file)) if Path(file).exists() else {}
        found += check.differences(file, committed, reproduced, tolerance)
    for stage in pending:
        click.echo(f"not reproduced: stage {stage} has changed inputs or outputs (dvc status)")
    for d in found:
        click.echo(f"differs: {d.file} {d.key}: {d.committed!r} at {rev}, {d.reproduced!r} here")
    within = "exactly" if tolerance == 0 else f"within {tolerance:g}"
    if pending or found:
        click.echo(
            f"does not reproduce {rev} {within}: {len(found)} metric(s), {len(pending)} stage(s)"
        )
        sys.exit(1)
    click.echo(f"reproduces the metrics of {rev} {within}; dvc status is clean")


@main.command()
@click.option(
    "--features",
    type=click.Path(path_type=Path),
    default=Path("data/features"),
    show_default=True,
    help="Feature folder whose event dates the plan covers.",
)
@params_option()
@click.option(
    "--out", type=click.Path(path_type=Path), default=Path("windows.yaml"), show_default=True
)
def plan(features: Path, params_path: Path, out: Path) -> None:
    """Write windows.yaml: the walk-forward windows the data and params.yaml windows.* allow."""
    params = io.load_params("windows", windows.WindowParams, params_path)
    content = windows.make_plan(event_dates(features), params)
    text = windows.PLAN_HEADER + yaml.safe_dump(content, sort_keys=False)
    with io.atomic_path(out) as tmp:
        tmp.write_text(text)
    click.echo(
        f"{out}: {len(content['window_keys'])} windows, test weeks "
        f"{content['window_keys'][0]} .. {content['window_keys'][-1]}"
    )
    drop_unplanned_windows(out.parent, content["window_keys"])


def drop_unplanned_windows(project: Path, keys: list[str]) -> None:
    """Remove from the project's dvc.lock the entries of windows no longer planned."""
    lock, spec = project / "dvc.lock", project / "dvc.yaml"
    if not (lock.exists() and spec.exists()):
        return
    per_window = dvc.window_stages(io.read_yaml(spec))
    text, removed = dvc.without_unplanned_windows(lock.read_text(), per_window, keys)
    if removed:
        with io.atomic_path(lock) as tmp:
            tmp.write_text(text)
        click.echo(f"{lock}: removed {len(removed)} entries of windows no longer planned")


@main.command("walkforward")
@click.option(
    "--city", required=True, help="The city: its code, name or series (chi, Chicago, KXHIGHCHI)."
)
@click.option("--bracket", required=True, type=click.Choice(["between", "greater", "less"]))
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    help="A training config (configs/train_ridge.yaml): its keys replace params.yaml's.",
)
@click.option(
    "--model",
    help="A per-bin model entry under params.yaml tune (ridge, elasticnet, lasso); "
    "with --config, the config's.",
)
@click.option(
    "--feature-set",
    help="Override the model's feature set (one of tmaxedge.features.build.FEATURE_SETS).",
)
@click.option("--trials", type=click.IntRange(min=1), help="Override the model's n_trials.")
@click.option(
    "--start",
    type=click.DateTime(["%Y-%m-%d"]),
    help="The FIRST TRAINING DAY: the brief's first window trains from it (see above).",
)
@click.option(
    "--end",
    type=click.DateTime(["%Y-%m-%d"]),
    help="With --start: the last window's test ends (exclusive) on or before this date.",
)
@click.option(
    "--plan",
    "plan_path",
    type=click.Path(path_type=Path),
    help="Instead of --start/--end: the windows of this plan (windows.yaml), as DVC runs them.",
)
@click.option(
    "--features", type=click.Path(path_type=Path), default=Path("data/features"), show_default=True
)
@click.option(
    "--oracle",
    type=click.Path(path_type=Path),
    default=Path("data/raw/oracle.parquet"),
    show_default=True,
)
@click.option(
    "--out", type=click.Path(path_type=Path), default=Path("runs/walkforward"), show_default=True
)
@params_option()
def walkforward_command(
    city,
    bracket,
    config_path,
    model,
    feature_set,
    trials,
    start,
    end,
    plan_path,
    features,
    oracle,
    out,
    params_path,
) -> None:
    """Run one (city, bracket, model) walk-forward outside DVC, writing the stages' artifacts.

    The windows are the brief's loop: the first trains on [START, START + train_days), tests
    the next test_days, and each next one starts step_days later, while its test ends
    (exclusive) on or before END: 2024-04-01 .. 2024-08-10 gives 5 windows (docs/brief.md).
    With --plan instead, the plan's windows, keyed by their test weeks. Settings come from
    params.yaml, with the keys of --config put in, then --feature-set and --trials; --model
    names the entry (with --config, only the config's).

    One group alone has no other cities to share a pooling weight with, nor an event's other
    markets to make coherent, so its w is its own and coherence does not apply. Files go
    to OUT/<window>/{tune,calibrate,evaluate}/<model>/<city>_<bracket>.<name> (the pipeline's
    layout, tmaxedge.walkforward.layout), plus a summary naming the windows and settings.
    """
    from tqdm import tqdm

    from tmaxedge.cli import configs
    from tmaxedge.core.keys import Group
    from tmaxedge.modeling.coherence import CoherenceParams
    from tmaxedge.modeling.tuning import model_type
    from tmaxedge.reporting import summarize
    from tmaxedge.walkforward import artifacts, layout
    from tmaxedge.walkforward.compute import ComputeParams
    from tmaxedge.walkforward.run import StepParams, run_window
    from tmaxedge.walkforward.tune import tuned_models

    config = io.read_yaml(config_path) if config_path is not None else None
    settings = configs.run_settings(
        io.read_yaml(params_path), str(params_path), config, str(config_path), model
    )
    model, model_params = (
        settings.model,
        command_line_model(settings.model_params, feature_set, trials),
    )
    if model_type(model, model_params) == "tmax_dist" or model_params.scope != "city":
        raise ParamsError(
            f"tune.{model} prices whole events or pools cities, and this command runs one "
            "(city, bracket) group alone; run it with `dvc repro` (or `tmaxedge ablation`)."
        )
    city = city_code(city, load_cities(params_path))
    keys = run_window_keys(start, end, plan_path, settings.windows)
    ran = [windows.make_window(key, settings.windows) for key in keys]
    for window in ran:
        click.echo(window_line(window))
    # one group alone: no event's other markets to make coherent, and one job at a time
    steps = StepParams(
        settings.calibrate,
        settings.pool,
        CoherenceParams("none"),
        ComputeParams(n_jobs=1, backend="sequential"),
        settings.beta_max,
    )
    group = Group(city, bracket)
    all_predictions, statuses = [], []
    for window in tqdm(ran, desc=f"{model} {group.name}", unit="window"):
        key = window.key
        rows = io.read_features(features, window.train_start, window.test_end)
        rows = rows[(rows["city"] == city) & (rows["strike_type"] == bracket)]
        split = windows.split_rows(rows, window)
        test_oracle = io.read_oracle(oracle, split.test["ticker"].unique().tolist())
        run = run_window(split, model, model_params, steps, key, test_oracle)
        statuses.append(tuning_status(run.tuned, group))
        artifacts.write_tune_step(layout.step_folder(out, key, "tune") / model, run.tuned)
        artifacts.write_calibrate_step(
            layout.step_folder(out, key, "calibrate") / model,
            run.calibrated,
            tuned_models(run.tuned).best_params,
        )
        artifacts.write_evaluate_step(
            layout.step_folder(out, key, "evaluate") / model, run.evaluated
        )
        all_predictions.append(run.predictions)
    summary = summarize.summarize_predictions(pd.concat(all_predictions, ignore_index=True))
    summary["run"] = run_record(ran, start, end, plan_path, config_path, model_params)
    io.write_json_atomic(summary, out / model / f"walkforward_summary_{group.name}.json")
    click.echo(walkforward_outcome(f"{model} {group.name}", statuses, summary))


def command_line_model(model_params, feature_set: str | None, trials: int | None):
    """The run's model params: the configured ones with --feature-set and --trials put in."""
    from tmaxedge.cli.configs import check_feature_set

    if feature_set is not None:
        check_feature_set(feature_set, "--feature-set")
    given = {"feature_set": feature_set, "n_trials": trials}
    return dataclasses.replace(model_params, **{k: v for k, v in given.items() if v is not None})


def run_window_keys(start, end, plan_path: Path | None, params: windows.WindowParams) -> list:
    """The keys of the windows a run covers: the brief's loop from --start (the first training
    day) to --end, or the plan's; exactly one of the two, so neither meaning is taken for the
    other."""
    if plan_path is not None:
        if start is not None or end is not None:
            raise click.UsageError("--plan runs the plan's windows; leave out --start and --end.")
        return windows.planned_keys(io.read_yaml(plan_path), params, str(plan_path))
    if start is None or end is None:
        raise click.UsageError(
            "give --start (the first training day) and --end, or --plan windows.yaml."
        )
    keys = windows.brief_window_keys(start.date(), end.date(), params)
    if not keys:
        first_end = start.date() + dt.timedelta(
            days=params.train_days + params.embargo_days + params.test_days
        )
        raise ParamsError(
            f"--start {start.date()} --end {end.date()}: no window fits; the first trains "
            f"{params.train_days} days from --start and its test ends on {first_end} "
            "(exclusive), which must be on or before --end."
        )
    return keys


def window_line(window: windows.Window) -> str:
    """One window's days, half-open as everywhere: which data it trains and tests on."""
    return (
        f"window {window.key}: train [{window.train_start}, {window.train_end}), "
        f"test [{window.test_start}, {window.test_end})"
    )


def run_record(ran, start, end, plan_path, config_path, model_params) -> dict:
    """What the summary keeps of how a run was made: its window rule, windows and settings."""
    rule = (
        {"plan": str(plan_path)}
        if plan_path is not None
        else {"first_training_day": str(start.date()), "end": str(end.date())}
    )
    return {
        **rule,
        "config": None if config_path is None else str(config_path),
        "windows": [window.as_dict() for window in ran],
        "tune": dataclasses.asdict(model_params),
    }


@main.command("ablation")
@click.option(
    "--model",
    "entry",
    required=True,
    help="A model entry under params.yaml tune (ridge, tmax_dist, ridge_pooled, ...).",
)
@click.option(
    "--groups",
    default="market,weather,nowcast,time",
    show_default=True,
    help="Feature groups to leave out, one run each (tmaxedge.features.feature_groups.GROUPS).",
)
@click.option(
    "--last",
    "last_windows",
    type=int,
    default=None,
    help="Only the last N windows of windows.yaml.",
)
@click.option(
    "--features", type=click.Path(path_type=Path), default=Path("data/features"), show_default=True
)
@click.option(
    "--plan",
    "plan_path",
    type=click.Path(path_type=Path),
    default=Path("windows.yaml"),
    show_default=True,
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="JSON file [default: docs/results/ablation/<model>.json].",
)
@params_option()
def ablation_command(entry, groups, last_windows, features, plan_path, out, params_path) -> None:
    """Rerun one model entry's walk-forward without each feature group: the change in test
    Brier and log loss on the rows every run priced. The report shows every
    docs/results/ablation/*.json."""
    from tqdm import tqdm

    from tmaxedge.features.feature_groups import GROUPS
    from tmaxedge.modeling.tuning import ModelParams
    from tmaxedge.research import ablation
    from tmaxedge.walkforward.run import load_step_params

    left_out = [g for g in groups.split(",") if g]
    unknown = sorted(set(left_out) - set(GROUPS))
    if unknown:
        raise ParamsError(f"--groups must be among {list(GROUPS)}; got {unknown}.")
    window_params = io.load_params("windows", windows.WindowParams, params_path)
    model_params = io.load_model_params(entry, ModelParams, params_path)
    steps = load_step_params(params_path)
    keys = io.read_yaml(Path(plan_path))["window_keys"]
    keys = keys[-last_windows:] if last_windows else keys

    def read_window(key: str) -> windows.WindowRows:
        return windows.read_window_rows(features, windows.make_window(key, window_params))

    runs = ablation.run_ablation(
        read_window, keys, entry, model_params, steps, left_out, progress=tqdm
    )
    table = ablation.ablation_table(runs)
    target = out or Path("docs/results/ablation") / f"{entry}.json"
    io.write_json_atomic(
        {"model": entry, "windows": keys, "runs": table.to_dict(orient="records")}, target
    )
    click.echo(table.to_string(index=False))


def tuning_status(tuned: dict, group) -> str:
    """The group's study status in one window (``no_fit_rows``: the window has none of its rows)."""
    return tuned[group.name].status if group.name in tuned else "no_fit_rows"


def walkforward_outcome(label: str, statuses: list[str], summary: dict) -> str:
    """One line: the scores, or why there are none (the tuning status of each window)."""
    with_model = statuses.count("ok")
    if "brier_common" in summary:
        return (
            f"{label}: {len(statuses)} windows ({with_model} with a model), Brier "
            f"{summary['brier_common']:.4f} vs market {summary['market_brier']:.4f}"
        )
    if with_model:
        return f"{label}: {len(statuses)} windows ({with_model} with a model), no test row to score"
    reasons = ", ".join(f"{status} x {n}" for status, n in sorted(Counter(statuses).items()))
    return (
        f"{label}: {len(statuses)} windows, no forecast to score: no window has a model "
        f"({reasons}); each window's best_params.json says why"
    )


def event_dates(features: Path) -> set:
    """The event days of a feature folder."""
    files = sorted(Path(features).glob("city=*/month=*/*.parquet"))
    if not files:
        raise DataError(f"{features}: no feature partitions found; run `dvc repro features` first.")
    dates = pd.concat(
        [pd.read_parquet(f, columns=["event_date"])["event_date"] for f in files], ignore_index=True
    )
    return set(pd.to_datetime(dates).dt.date)


# the data and study commands live in their own modules, which import nothing from this one
main.add_command(import_group)
main.add_command(fetch_group)
main.add_command(study_group)
main.add_command(store_group)
main.add_command(preset_command)
main.add_command(configs_group)

if __name__ == "__main__":
    main()
