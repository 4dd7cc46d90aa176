"""The root ``alliance`` command and the one place where user errors become exit code 2."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import typer

from alliance.errors import AllianceError

__all__ = ["EXIT_BAD_INPUT", "app", "user_errors"]

EXIT_BAD_INPUT = 2

app = typer.Typer(
    name="alliance",
    help="Measure, monitor and learn from the therapeutic relationship.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn an ``AllianceError`` into one line on stderr and exit code 2 (never a traceback)."""
    try:
        yield
    except AllianceError as exc:
        logging.getLogger("alliance.cli").debug("user error", exc_info=True)
        sys.stderr.write(f"alliance: error: {exc}\n")
        raise typer.Exit(EXIT_BAD_INPUT) from None
