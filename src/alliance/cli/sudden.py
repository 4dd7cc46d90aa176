"""``alliance sudden-changes``: sudden gains and losses in a long CSV of session scores."""

from __future__ import annotations

import math
from enum import StrEnum
from pathlib import Path
from typing import Literal

import typer

from alliance.change.sudden import CHANGE_COLUMNS, find_sudden_changes
from alliance.cli.app import app, user_errors
from alliance.cli.options import BetterEnd
from alliance.cli.output import echo_csv
from alliance.errors import InputError
from alliance.interop.csvio import read_session_scores

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
        if not math.isfinite(cutoff) or cutoff <= 0:
            raise InputError(f"option --cutoff must be a number greater than 0, not {cutoff:g}")
        parsed = read_session_scores(file, id_column=id_column, time_column=time_column, score_column=score_column)
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
