"""`tmaxedge preset NAME`: run a params preset (``presets/<name>.yaml``) as a DVC experiment.

A preset is a partial params.yaml: the keys it names replace params.yaml's for one
``dvc exp run``, so the experiment's results sit beside the default's in ``dvc exp show`` and
``dvc metrics diff``, and params.yaml itself is left as it is. Every key a preset names must
exist in params.yaml: a misspelt key would otherwise add a knob nothing reads.
"""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click
import yaml

from tmaxedge.cli.options import params_option
from tmaxedge.core import io
from tmaxedge.core.errors import ParamsError

PRESETS = Path("presets")


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


def applied(params: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict:
    """params.yaml's content with the flat ``overrides`` put in: what the experiment reads."""
    result = yaml.safe_load(yaml.safe_dump(dict(params)))
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
@params_option()
def preset_command(name, experiment, extra, only_print, params_path) -> None:
    """Run the preset NAME (presets/NAME.yaml) as `dvc exp run --name NAME -S ...`.

    `tmaxedge preset brief` runs the brief's specification as written (docs/brief.md)."""
    overrides = load_preset(name, params_path)
    for item in extra:
        key, sep, value = item.partition("=")
        if not sep:
            raise ParamsError(f"--set {item!r}: must be KEY=VALUE.")
        overrides.update(checked({key: yaml.safe_load(value)}, io.read_yaml(params_path), "--set"))
    command = ["dvc", "exp", "run", "--name", experiment or name, *set_arguments(overrides)]
    click.echo(shlex.join(command))
    if not only_print:
        raise SystemExit(subprocess.run(command, check=False).returncode)
