"""One way for a stage or command to fail on what the user gave: one line, exit code 2.

A bad params.yaml, a table that breaks the data contract or a missing input file is the
user's to fix, and a traceback only hides the one line that says how. ``run_stage`` wraps a
stage script's ``main``; the ``tmaxedge`` command wraps its subcommands with ``user_errors``.
``TMAXEDGE_DEBUG=1`` (or ``tmaxedge --debug``) lets the traceback through, for a bug.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import NoReturn

from tmaxedge.core.errors import UserError

DEBUG_VARIABLE = "TMAXEDGE_DEBUG"
EXIT_USER_ERROR = 2  # 1 stays the verdict stage's "gate failed"; argparse and click also use 2
USER_ERRORS = (UserError, FileNotFoundError)


def debugging() -> bool:
    return os.environ.get(DEBUG_VARIABLE, "") not in ("", "0")


def describe(error: BaseException) -> str:
    """The message of a user error; a missing file is named by its path."""
    if isinstance(error, FileNotFoundError) and error.filename:
        return f"{error.filename}: file not found."
    return str(error)


@contextmanager
def user_errors(debug: bool = False) -> Iterator[None]:
    """Turn a user error raised inside into ``tmaxedge: <message>`` on stderr and exit 2."""
    try:
        yield
    except USER_ERRORS as error:
        if debug or debugging():
            raise
        print(f"tmaxedge: {describe(error)}", file=sys.stderr)
        raise SystemExit(EXIT_USER_ERROR) from None


def run_stage(main: Callable[[], int | None]) -> NoReturn:
    """Run a stage script's ``main`` and exit with its code (None: 0), a user error as above."""
    with user_errors():
        code = main()
    sys.exit(code)
