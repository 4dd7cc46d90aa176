"""``alliance change``: reliable change and clinical significance per client from a tidy pre/post CSV."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import cast

import pandas as pd
import typer

from alliance.change.rci import METHODS, Better, Method
from alliance.change.significance import TABLE_COLUMNS, CutoffType, change_table
from alliance.cli.app import app, user_errors
from alliance.cli.output import echo_csv
from alliance.errors import InputError
from alliance.interop.csvio import check_unique, numeric_column, read_table, require_columns

__all__ = ["change"]

CLI_CUTOFF_TYPES = ("a", "c")
SHOWN_LEFT_OUT = 10


@app.command("change")
def change(
    file: Path = typer.Argument(
        ...,
        help="Tidy CSV: one row per client and time point (other columns and time points are ignored).",
    ),
    id_column: str = typer.Option(..., "--id", help="Column holding the client id."),
    time_column: str = typer.Option(..., "--time", help="Column holding the time point."),
    score_column: str = typer.Option(..., "--score", help="Column holding the score (empty = missing)."),
    pre: str = typer.Option(..., "--pre", help="Value of the time column that marks the pre score."),
    post: str = typer.Option(..., "--post", help="Value of the time column that marks the post score."),
    reliability: float = typer.Option(
        ..., "--reliability", help="Reliability of the instrument, strictly between 0 and 1."
    ),
    method: str = typer.Option(
        "jt",
        "--method",
        help="Reliable change method: jt (Jacobson-Truax), gln, hll, en, nk or ha (Hageman-Arrindell).",
    ),
    better: str = typer.Option("lower", "--better", help="Which scores are better: lower or higher."),
    functional_mean: float | None = typer.Option(
        None,
        "--functional-mean",
        help="Mean of a functional population; with --functional-sd, adds recovered and harmed.",
    ),
    functional_sd: float | None = typer.Option(
        None, "--functional-sd", help="SD of a functional population (give with --functional-mean)."
    ),
    cutoff_type: str | None = typer.Option(
        None,
        "--cutoff-type",
        help="Cut-off between clinical and functional range when norms are given: a (default, from the "
        "sample's pre mean and SD, as in the R package clinicalsignificance) or c (needs the norms).",
    ),
) -> None:
    """Print each client's change, reliable change index and category as CSV.

    Categories: improved, unchanged, deteriorated; with functional norms also recovered and harmed.

    Clients with a missing pre or post score are left out and counted on stderr.
    """
    with user_errors():
        name = str(file)
        chosen_method = _method(method)
        chosen_better = _better(better)
        chosen_cutoff = _options(reliability, functional_mean, functional_sd, cutoff_type, pre, post)

        table = read_table(file)
        require_columns(table, (id_column, time_column, score_column), file=name)
        ids = table[id_column].astype(str).str.strip()
        missing_id = ids.index[ids == ""]
        if len(missing_id):
            raise InputError("value is missing", file=name, row=int(missing_id[0]), column=id_column)
        times = table[time_column].astype(str).str.strip()
        scores = numeric_column(table, score_column, file=name)
        tidy = pd.DataFrame({"id": ids, "time": times, "score": scores}, index=table.index)
        check_unique(tidy.rename(columns={"id": id_column, "time": time_column}), [id_column, time_column], file=name)
        for option, value in (("--pre", pre.strip()), ("--post", post.strip())):
            if not (times == value).any():
                raise InputError(f"{option} value {value!r} never occurs in this column", file=name, column=time_column)

        try:
            analysis = change_table(
                tidy,
                id="id",
                time="time",
                score="score",
                pre=pre.strip(),
                post=post.strip(),
                reliability=reliability,
                method=chosen_method,
                better=chosen_better,
                functional_mean=functional_mean,
                functional_sd=functional_sd,
                cutoff_type=chosen_cutoff,
            )
        except InputError as exc:
            # Data problems name the score column; a problem with the norms names no column.
            raise InputError(exc.message, file=name, column=score_column if exc.column else None) from None

        if analysis.left_out:
            shown = ", ".join(str(i) for i in analysis.left_out[:SHOWN_LEFT_OUT])
            more = ", ..." if len(analysis.left_out) > SHOWN_LEFT_OUT else ""
            sys.stderr.write(
                f"alliance: warning: {name}: {len(analysis.left_out)} id(s) left out for a missing pre or "
                f"post score ({id_column} {shown}{more})\n"
            )
        echo_csv(analysis.table, columns=TABLE_COLUMNS, numbers=("pre", "post", "change", "rci"))


def _method(value: str) -> Method:
    if value.lower() not in METHODS:
        raise InputError(f"--method must be one of {', '.join(METHODS)}, not {value!r}")
    return cast(Method, value.lower())


def _better(value: str) -> Better:
    if value.lower() not in ("lower", "higher"):
        raise InputError(f"--better must be lower or higher, not {value!r}")
    return cast(Better, value.lower())


def _options(
    reliability: float,
    functional_mean: float | None,
    functional_sd: float | None,
    cutoff_type: str | None,
    pre: str,
    post: str,
) -> CutoffType | None:
    """Check the options that do not depend on the file; return the cut-off type to use (None: none)."""
    if not 0.0 < reliability < 1.0:
        raise InputError(f"--reliability must lie strictly between 0 and 1, not {reliability:g}")
    if (functional_mean is None) != (functional_sd is None):
        given, missing = (
            ("--functional-mean", "--functional-sd")
            if functional_sd is None
            else ("--functional-sd", "--functional-mean")
        )
        raise InputError(f"{given} needs {missing} as well (give both or neither)")
    if functional_sd is not None and not functional_sd > 0.0:
        raise InputError(f"--functional-sd must be positive, not {functional_sd:g}")
    if cutoff_type is not None and cutoff_type.lower() not in CLI_CUTOFF_TYPES:
        raise InputError(f"--cutoff-type must be a or c, not {cutoff_type!r}")
    if pre.strip() == post.strip():
        raise InputError(f"--pre and --post name the same time point ({pre.strip()!r})")
    if functional_mean is None:
        if cutoff_type is not None and cutoff_type.lower() == "c":
            raise InputError("--cutoff-type c needs --functional-mean and --functional-sd")
        # Without norms there is no functional range to cross: reliable change only.
        return None
    return "c" if cutoff_type is not None and cutoff_type.lower() == "c" else "a"
