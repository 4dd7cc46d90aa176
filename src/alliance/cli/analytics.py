"""``alliance analytics run``: the practice metrics on DuckDB or Spark, one CSV per metric."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import pandas as pd
import typer

from alliance.analytics.engine import connect, load_tables
from alliance.analytics.metrics import BY_COLUMNS, METRICS, compute
from alliance.analytics.schema import TABLES, find_table_file, iter_table_file
from alliance.cli.app import app, user_errors
from alliance.cli.output import csv_flag, csv_number
from alliance.errors import InputError

__all__ = ["analytics_app", "run", "write_results"]


class EngineName(StrEnum):
    """Where the metrics run."""

    DUCKDB = "duckdb"
    SPARK = "spark"


analytics_app = typer.Typer(help="Practice analytics: outcomes, alliance, equity, engagement.", no_args_is_help=True)
app.add_typer(analytics_app, name="analytics")

# Keys that must be unique in their table (checked before anything is computed).
_UNIQUE = {"clients": "client_id", "episodes": "episode_id", "appointments": "appointment_id"}


@analytics_app.command("run")
def run(
    data: Path = typer.Option(
        ..., "--data", help="Directory with clients, episodes, appointments, checkins (.parquet or .csv)."
    ),
    engine: EngineName = typer.Option(EngineName.DUCKDB, "--engine", help="duckdb (embedded, default) or spark."),
    out: Path = typer.Option(..., "--out", help="Directory for one CSV per metric."),
    by: list[str] = typer.Option(
        ["practice_id"], "--by", help=f"Group by (repeat or comma-separate): {', '.join(BY_COLUMNS)}."
    ),
    metric: list[str] = typer.Option([], "--metric", help=f"Only these metrics (default all): {', '.join(METRICS)}."),
) -> None:
    """Compute every metric and write <metric>.csv into --out (docs/analytics.md)."""
    with user_errors():
        keys = [key.strip() for item in by for key in item.split(",") if key.strip()]
        for key in keys:
            if key not in BY_COLUMNS:
                raise InputError(f"--by {key!r} is not one of {', '.join(BY_COLUMNS)}")
        names = [name.strip() for item in metric for name in item.split(",") if name.strip()] or list(METRICS)
        for name in names:
            if name not in METRICS:
                raise InputError(f"--metric {name!r} is not one of {', '.join(METRICS)}")
        if not data.is_dir():
            raise InputError("not a directory", file=str(data))
        validate_directory(data)
        con = connect(engine.value)
        results = compute(load_tables(con, data), by=keys, metrics=names)
        for path in write_results(results, out):
            typer.echo(str(path))


def validate_directory(data: Path) -> None:
    """Check every table file against the contract (batch by batch); raise ``InputError`` at the first bad value."""
    for table in TABLES:
        path = find_table_file(data, table)
        key = _UNIQUE.get(table)
        seen: list[pd.Series] = []
        for batch in iter_table_file(path, table):
            if key is not None:
                seen.append(batch[key])
        if key is not None and seen:
            ids = pd.concat(seen, ignore_index=True)
            duplicated = ids.duplicated()
            if duplicated.any():
                row = int(duplicated.to_numpy().nonzero()[0][0]) + 1
                raise InputError(f"duplicate {key} {ids.iloc[row - 1]!r}", file=str(path), row=row, column=key)


def write_results(results: dict[str, pd.DataFrame], out: Path) -> list[Path]:
    """Write one CSV per metric: numbers in full precision, counts as integers, flags as true/false, blanks empty."""
    if out.exists() and not out.is_dir():
        raise InputError("exists and is not a directory", file=str(out))
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, frame in results.items():
        text = frame.astype(object)
        for column in frame.columns:
            if column == "suppressed":
                text[column] = frame[column].map(csv_flag)
            elif pd.api.types.is_numeric_dtype(frame[column]) and not pd.api.types.is_bool_dtype(frame[column]):
                text[column] = frame[column].map(csv_number)
        path = out / f"{name}.csv"
        text.to_csv(path, index=False, lineterminator="\n")
        written.append(path)
    return written
