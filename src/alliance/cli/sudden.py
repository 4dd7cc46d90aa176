"""``alliance sudden-changes``: sudden gains and losses in a long CSV of session scores."""

from __future__ import annotations

import math
from enum import StrEnum
from pathlib import Path
from typing import Literal

import pandas as pd
import typer

from alliance.change.sudden import CHANGE_COLUMNS, find_sudden_changes
from alliance.cli.app import app, user_errors
from alliance.cli.options import BetterEnd
from alliance.cli.output import echo_csv
from alliance.errors import InputError
from alliance.interop.csvio import check_unique, numeric_column, read_table, require_columns

__all__ = ["sudden_changes"]


class Kind(StrEnum):
    """Which sudden changes to list."""

    GAINS = "gains"
    LOSSES = "losses"
    BOTH = "both"


_KINDS: dict[Kind, Literal["gains", "losses", "both"]] = {
    Kind.GAINS: "gains",
    Kind.LOSSES: "losses",
    Kind.BOTH: "both",
}


@app.command("sudden-changes")
def sudden_changes(
    file: Path = typer.Argument(
        ..., help="CSV in long format: one row per client and session (an empty score is a missing score)."
    ),
    id_column: str = typer.Option(..., "--id", help="Column that identifies the client."),
    time_column: str = typer.Option(..., "--time", help="Column with the session number (consecutive whole numbers)."),
    score_column: str = typer.Option(..., "--score", help="Column with the score on the measure."),
    cutoff: float = typer.Option(
        ...,
        "--cutoff",
        help="Smallest change in score points that counts (e.g. 7 on the BDI; otherwise the reliable change "
        "value of the measure).",
    ),
    better: BetterEnd = typer.Option(BetterEnd.LOWER, "--better", help="Whether lower or higher scores are better."),
    kind: Kind = typer.Option(
        Kind.GAINS,
        "--kind",
        help="List sudden gains (default, as the R package suddengains), losses or both.",
    ),
) -> None:
    """List sudden gains and losses (Tang & DeRubeis 1999) as CSV: id,from_time,to_time,kind,pre,post."""
    with user_errors():
        name = str(file)
        if not math.isfinite(cutoff) or cutoff <= 0:
            raise InputError(f"option --cutoff must be a number greater than 0, not {cutoff:g}")
        roles = {"--id": id_column, "--time": time_column, "--score": score_column}
        if len(set(roles.values())) < len(roles):
            raise InputError(f"--id, --time and --score must name three different columns, not {roles}")
        table = read_table(file)
        require_columns(table, roles.values(), file=name)
        ids = table[id_column].astype(str).str.strip()
        empty = ids.index[ids == ""]
        if len(empty):
            raise InputError("value is missing", file=name, row=int(empty[0]), column=id_column)
        times = numeric_column(table, time_column, file=name, allow_missing=False, integer=True)
        scores = numeric_column(table, score_column, file=name)
        # Duplicates are checked on parsed values, so that "3" and "3.0" are the same session.
        parsed = pd.DataFrame(
            {id_column: ids, time_column: times.astype("int64"), score_column: scores}, index=table.index
        )
        check_unique(parsed, [id_column, time_column], file=name)
        changes = find_sudden_changes(
            parsed,
            id=id_column,
            time=time_column,
            score=score_column,
            cutoff=cutoff,
            better="lower" if better is BetterEnd.LOWER else "higher",
            kind=_KINDS[kind],
        )
        echo_csv(changes, columns=CHANGE_COLUMNS, numbers=("pre", "post"))
