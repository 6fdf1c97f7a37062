"""Options several commands share, written once."""

from __future__ import annotations

from pathlib import Path

import click

from tmaxedge.core import io


def params_option(help: str = "The params file.") -> click.Option:
    """``--params``: which params.yaml a command reads (default: the one in this folder)."""
    return click.option(
        "--params",
        "params_path",
        type=click.Path(path_type=Path),
        default=io.PARAMS_FILE,
        show_default=True,
        help=help,
    )
