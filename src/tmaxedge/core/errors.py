"""Errors users see, and the formatter that shows them the offending rows."""

from __future__ import annotations

import pandas as pd


class UserError(Exception):
    """Something the user gave (a file, a value, a server) is wrong: shown as its message alone,
    without a traceback (``tmaxedge.core.failures``)."""


class DataError(UserError, ValueError):
    """An input table breaks the data contract."""


class ModelFileError(DataError):
    """A model file (model.json, fit.json) breaks its schema (``tmaxedge.modeling.cards``)."""


class ParamsError(UserError, ValueError):
    """A value in params.yaml (or windows.yaml) is missing or out of range."""


def format_rows(frame: pd.DataFrame, n_shown: int = 5) -> str:
    """The first ``n_shown`` rows of ``frame`` as an indented text table, row labels kept."""
    shown = frame.head(n_shown)
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        text = shown.to_string()
    return "\n".join("  " + line for line in text.splitlines())


def data_error(
    where: str, column: str, rule: str, offending: pd.DataFrame, n_total: int, n_shown: int = 5
) -> DataError:
    """Build the one message format every contract violation uses.

    ``where`` names the file, ``column`` the column (or columns), ``rule`` says what must hold,
    ``offending`` holds the rows that break it and ``n_total`` how many rows were checked.
    """
    n_bad = len(offending)
    return DataError(
        f"{where}: column '{column}' {rule}; {n_bad:,} of {n_total:,} rows break it, "
        f"first {min(n_bad, n_shown)}:\n{format_rows(offending, n_shown)}"
    )
