"""`tmaxedge preset NAME`: run a params preset (``presets/<name>.yaml``) as a DVC experiment.

A preset is a partial params.yaml: the keys it names replace params.yaml's for one
``dvc exp run``, so the experiment's results sit beside the default's in ``dvc exp show`` and
``dvc metrics diff``, and params.yaml itself is left as it is. Every key a preset names must
exist in params.yaml: a misspelt key would otherwise add a knob nothing reads.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import shlex
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click
import yaml

from tmaxedge.cli.options import params_option
from tmaxedge.core import io
from tmaxedge.core.errors import DataError, ParamsError

PRESETS = Path("presets")
# what ``--record`` keeps of the finished experiment (its metrics, committed by DVC with it)
RECORDED = (
    "metrics/walkforward.json",
    "metrics/backtest.json",
    "metrics/summary.json",
    "metrics/gate.json",
)


def flat_keys(content: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"tune": {"ridge": {"pruner": "none"}}}`` as ``{"tune.ridge.pruner": "none"}``; a list
    or a scalar is one value."""
    flat: dict[str, Any] = {}
    for key, value in content.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flat_keys(value, f"{dotted}."))
        else:
            flat[dotted] = value
    return flat


def checked(overrides: dict[str, Any], params: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The flat ``overrides`` when params.yaml has each key (``where`` names their source)."""
    known = flat_keys(params)
    unknown = [key for key in overrides if key not in known]
    if unknown:
        raise ParamsError(
            f"{where}: every key must be one params.yaml has; not found: {', '.join(unknown[:5])}."
        )
    return overrides


def apply_overrides(params: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of params.yaml's content with the flat ``overrides`` put in: what a run of the
    preset reads."""
    result = copy.deepcopy(dict(params))
    for dotted, value in overrides.items():
        *parents, last = dotted.split(".")
        section = result
        for name in parents:
            section = section[name]
        section[last] = value
    return result


def set_arguments(overrides: Mapping[str, Any]) -> list[str]:
    """``dvc exp run`` arguments that set each key: ``-S key=value``, values in YAML's flow
    style (``[ridge, elasticnet]``, ``[]``, ``null``, ``false``), as DVC's overrides read them."""
    arguments = []
    for key, value in overrides.items():
        text = yaml.safe_dump(value, default_flow_style=True, width=10**6).strip()
        arguments += ["-S", f"{key}={text.removesuffix('...').strip()}"]
    return arguments


def experiment_ref(refs: list[str], baseline: str, name: str) -> str:
    """The git ref under which DVC keeps the experiment ``name`` run on the commit ``baseline``
    (``refs/exps/<2 hex>/<38 hex>/<name>``)."""
    wanted = f"refs/exps/{baseline[:2]}/{baseline[2:]}/{name}"
    if wanted not in refs:
        raise DataError(
            f"no experiment {name!r} on commit {baseline[:7]} (dvc exp show lists them)."
        )
    return wanted


def run_record(name: str, command: list[str], baseline: str, date: str, overrides: dict) -> dict:
    """run.json of a recorded experiment: what ran, on which commit, when, with which keys."""
    return {
        "experiment": name,
        "command": shlex.join(command),
        "commit": baseline,
        "date": date,
        "params": overrides,
    }


def git(*args: str) -> str:
    return subprocess.run(["git", *args], capture_output=True, text=True, check=True).stdout


def record_experiment(
    name: str, command: list[str], overrides: dict, folder: Path, baseline: str
) -> None:
    """Copy the finished experiment's metrics (``RECORDED``) out of the git commit DVC made of it
    into ``folder``, with run.json beside them; the report shows them as a run of their own.
    ``baseline`` is the commit the experiment ran on, read before it started: a commit made
    while it ran moves HEAD, not the experiment."""
    ref = experiment_ref(
        git("for-each-ref", "--format=%(refname)", "refs/exps").split(), baseline, name
    )
    for path in RECORDED:
        io.write_json_atomic(json.loads(git("show", f"{ref}:{path}")), folder / Path(path).name)
    today = dt.date.today().isoformat()
    io.write_json_atomic(run_record(name, command, baseline, today, overrides), folder / "run.json")


def load_preset(name: str, params_path: Path) -> dict:
    """``presets/<name>.yaml``, flat and checked against the params file."""
    path = PRESETS / f"{name}.yaml"
    if not path.exists():
        found = sorted(p.stem for p in PRESETS.glob("*.yaml"))
        raise ParamsError(f"{path}: no such preset; presets here: {found or 'none'}.")
    return checked(flat_keys(io.read_yaml(path)), io.read_yaml(params_path), str(path))


@click.command("preset")
@click.argument("name")
@click.option("--name", "experiment", help="The experiment's name (default: the preset's).")
@click.option(
    "--set",
    "extra",
    multiple=True,
    metavar="KEY=VALUE",
    help="One more params key for this run, after the preset's (features.every_minutes=5).",
)
@click.option("--print", "only_print", is_flag=True, help="Print the command; do not run it.")
@click.option(
    "--apply",
    "apply_to_params",
    is_flag=True,
    help="Write the preset into the params file instead of running it (a workspace whose "
    "windows.yaml must be planned from its own data first; then `dvc repro`).",
)
@click.option(
    "--record",
    type=click.Path(path_type=Path),
    help="Run it outside the workspace (--temp) and keep its metrics here, with run.json.",
)
@params_option()
def preset_command(
    name, experiment, extra, only_print, apply_to_params, record, params_path
) -> None:
    """Run the preset NAME (presets/NAME.yaml) as `dvc exp run --name NAME -S ...`.

    `tmaxedge preset brief` runs the brief's specification as written (docs/brief.md);
    `--record docs/results/brief` keeps its metrics where the report reads them;
    `tmaxedge preset real_trades --apply` rewrites params.yaml of a real-data workspace
    (examples/real_markets.sh trades)."""
    overrides = load_preset(name, params_path)
    params = io.read_yaml(params_path)
    for item in extra:
        key, sep, value = item.partition("=")
        if not sep:
            raise ParamsError(f"--set {item!r}: must be KEY=VALUE.")
        overrides.update(checked({key: yaml.safe_load(value)}, params, "--set"))
    if apply_to_params:
        with io.atomic_path(params_path) as tmp:
            tmp.write_text(yaml.safe_dump(apply_overrides(params, overrides), sort_keys=False))
        click.echo(f"{params_path}: {len(overrides)} keys of presets/{name}.yaml written")
        return
    experiment = experiment or name
    temp = ["--temp"] if record else []
    command = ["dvc", "exp", "run", *temp, "--name", experiment, *set_arguments(overrides)]
    click.echo(shlex.join(command))
    if only_print:
        return
    baseline = git("rev-parse", "HEAD").strip()
    returncode = subprocess.run(command, check=False).returncode
    if returncode == 0 and record is not None:
        record_experiment(experiment, command, overrides, record, baseline)
        click.echo(f"recorded experiment {experiment} in {record}")
    raise SystemExit(returncode)
