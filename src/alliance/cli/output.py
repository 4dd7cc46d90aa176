"""CSV on standard output: one way to print numbers, flags and tables for every command."""

from __future__ import annotations

import math
from collections.abc import Iterable

import pandas as pd
import typer

__all__ = ["csv_flag", "csv_number", "echo_csv"]


def csv_number(value: object) -> str:
    """Print a number in full precision, whole numbers as integers (12, not 12.0), missing as empty."""
    if value is None or value is pd.NA:
        return ""
    number = float(value)  # type: ignore[arg-type]
    if math.isnan(number):
        return ""
    return str(int(number)) if number.is_integer() else repr(number)


def csv_flag(value: object) -> str:
    """Print a (nullable) boolean as ``true``, ``false`` or empty."""
    if value is None or value is pd.NA:
        return ""
    return "true" if value else "false"


def echo_csv(
    frame: pd.DataFrame, *, columns: Iterable[str], numbers: Iterable[str] = (), flags: Iterable[str] = ()
) -> None:
    """Write ``columns`` of ``frame`` as CSV to stdout, formatting ``numbers`` and ``flags`` as above."""
    out = frame[list(columns)].astype(object)
    for column in numbers:
        out[column] = frame[column].map(csv_number)
    for column in flags:
        out[column] = frame[column].map(csv_flag)
    typer.echo(out.to_csv(index=False, lineterminator="\n"), nl=False)
