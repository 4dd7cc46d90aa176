"""The ``alliance`` command line: one module per command group; each command parses, calls one function, formats."""

from __future__ import annotations

from alliance.cli import change, clinic, demo, fhir, instruments, monitor, outcomes, sudden, transcript  # noqa: F401
from alliance.cli.app import app

__all__ = ["app", "main"]


def main() -> None:
    """Run the command line."""
    app()
