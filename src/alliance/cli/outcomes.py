"""``alliance outcomes``: NHS Talking Therapies outcomes per client from a CSV of PHQ-9 and GAD-7 scores."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import typer

from alliance.change.talking_therapies import GAD7_MAX, OUTCOME_COLUMNS, PHQ9_MAX, episode_outcomes
from alliance.cli.app import app, user_errors
from alliance.cli.output import echo_csv
from alliance.errors import InputError
from alliance.interop.csvio import check_unique, numeric_column, read_table, require_columns

__all__ = ["outcomes"]

INPUT_COLUMNS = ("client", "session", "phq9", "gad7")
SCORE_COLUMNS = ("first_phq9", "last_phq9", "first_gad7", "last_gad7")
FLAG_COLUMNS = (
    "case_at_start",
    "recovered",
    "reliable_improvement",
    "reliable_deterioration",
    "reliable_recovery",
)


@app.command("outcomes")
def outcomes(
    file: Path = typer.Argument(
        ...,
        help="CSV with columns client,session,phq9,gad7 (one row per client and session, any order; "
        "a score may be empty; other columns are ignored).",
    ),
) -> None:
    """Print NHS Talking Therapies outcomes per client (recovery, reliable improvement, ...) as CSV."""
    with user_errors():
        name = str(file)
        table = read_table(file)
        require_columns(table, INPUT_COLUMNS, file=name)
        clients = table["client"].astype(str).str.strip()
        empty = clients.index[clients == ""]
        if len(empty):
            raise InputError("value is missing", file=name, row=int(empty[0]), column="client")
        sessions = numeric_column(table, "session", file=name, allow_missing=False, integer=True)
        phq9 = numeric_column(table, "phq9", file=name, low=0, high=PHQ9_MAX)
        gad7 = numeric_column(table, "gad7", file=name, low=0, high=GAD7_MAX)
        # Duplicates are checked on parsed values, so that "3" and "3.0" are the same session.
        parsed = pd.DataFrame(
            {"client": clients, "session": sessions.astype("int64"), "phq9": phq9, "gad7": gad7},
            index=table.index,
        )
        check_unique(parsed, ["client", "session"], file=name)
        result = episode_outcomes(parsed)
        echo_csv(result, columns=OUTCOME_COLUMNS, numbers=SCORE_COLUMNS, flags=FLAG_COLUMNS)
