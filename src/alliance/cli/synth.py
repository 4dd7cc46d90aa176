"""``alliance synth``: write a synthetic practice data set (Parquet, the analytics data contract)."""

from __future__ import annotations

from pathlib import Path

import typer

from alliance.analytics.synth import write_synthetic
from alliance.cli.app import app, user_errors
from alliance.errors import InputError

__all__ = ["synth"]


@app.command("synth")
def synth(
    clients: int = typer.Option(..., "--clients", help="How many clients (one episode each)."),
    out: Path = typer.Option(..., "--out", help="Directory for clients, episodes, appointments, checkins .parquet."),
    seed: int = typer.Option(2026, "--seed", help="Random seed: the same seed gives the same data."),
) -> None:
    """Write realistic synthetic clients, episodes, appointments and check-ins as Parquet (docs/synthetic-data.md)."""
    with user_errors():
        if clients < 1:
            raise InputError("--clients must be at least 1")
        if out.exists() and not out.is_dir():
            raise InputError("exists and is not a directory", file=str(out))
        summary = write_synthetic(clients, out, seed=seed)
        for name, rows in summary.rows.items():
            typer.echo(f"{summary.files[name]}: {rows} rows")
