"""The ``alliance`` command line: one module per command group; each command parses, calls one function, formats."""

from __future__ import annotations

from alliance.cli import (  # noqa: F401  (registers commands)
    analytics,
    change,
    clinic,
    demo,
    export,
    fhir,
    instruments,
    keys,
    listening,
    monitor,
    outcomes,
    security,
    sudden,
    synth,
    transcript,
)
from alliance.cli.app import app

__all__ = ["app", "main"]


def main() -> None:
    """Run the command line."""
    app()
