"""``alliance ruptures`` and ``alliance etr fit|flag|validate``: ruptures and expected response from a long CSV."""

from __future__ import annotations

import json
import re
from enum import StrEnum
from pathlib import Path
from typing import Any

import pandas as pd
import typer

from alliance.cli.app import app, user_errors
from alliance.cli.options import BetterEnd
from alliance.cli.output import echo_csv
from alliance.errors import InputError
from alliance.interop.csvio import read_session_scores
from alliance.monitoring.expected import FLAG_COLUMNS, ExpectedResponse, ModelError
from alliance.monitoring.ruptures import RUPTURE_COLUMNS, RuptureDetector
from alliance.monitoring.validation import ETR_VALIDATION_COLUMNS, etr_validation

__all__ = ["etr_app", "etr_fit", "etr_flag", "etr_validate", "ruptures"]


class Criterion(StrEnum):
    """How deep a dip must be, in the client's own SDs."""

    LENIENT = "lenient"
    STRICT = "strict"


etr_app = typer.Typer(
    help="Expected treatment response: fit from a practice's history, then flag who is not on track.",
    no_args_is_help=True,
)
app.add_typer(etr_app, name="etr")

_FILE_HELP = "CSV in long format: one row per client and session (an empty score is a missing score)."
_ID_HELP = "Column that identifies the client."
_TIME_HELP = "Column with the session number: whole numbers from 1 (the intake)."
_SCORE_HELP = "Column with the score."


@app.command("ruptures")
def ruptures(
    file: Path = typer.Argument(..., help=_FILE_HELP),
    id_column: str = typer.Option(..., "--id", help=_ID_HELP),
    time_column: str = typer.Option(..., "--time", help=_TIME_HELP),
    score_column: str = typer.Option(..., "--score", help="Column with the relationship (alliance) score."),
    criterion: Criterion = typer.Option(
        Criterion.LENIENT, "--criterion", help="lenient: a dip of at least 1 own SD; strict: at least 2."
    ),
    better: BetterEnd = typer.Option(
        BetterEnd.HIGHER, "--better", help="Whether higher (default) or lower scores are better."
    ),
) -> None:
    """List ruptures (V-shaped dips) and repairs as CSV: id,time,baseline,score,drop,repaired_at.

    The between-client SD of change, the guard against noisy clients, is fitted from the file itself.
    """
    with user_errors():
        frame = _read_scores(file, id_column=id_column, time_column=time_column, score_column=score_column)
        detector = RuptureDetector(criterion=criterion.value, better=better.value)
        detector.fit(frame, id=id_column, time=time_column, score=score_column)
        found = detector.detect(frame, id=id_column, time=time_column, score=score_column)
        echo_csv(found, columns=RUPTURE_COLUMNS, numbers=("baseline", "score", "drop", "repaired_at"))


@etr_app.command("fit")
def etr_fit(
    file: Path = typer.Argument(..., help=_FILE_HELP),
    id_column: str = typer.Option(..., "--id", help=_ID_HELP),
    time_column: str = typer.Option(..., "--time", help=_TIME_HELP),
    score_column: str = typer.Option(..., "--score", help=_SCORE_HELP),
    better: BetterEnd = typer.Option(
        BetterEnd.LOWER, "--better", help="Whether lower (default) or higher scores are better."
    ),
    out: Path = typer.Option(..., "--out", help="Where to write the fitted model (JSON)."),
) -> None:
    """Fit the expected response (score by session given the intake score) and save it as JSON."""
    with user_errors():
        frame = _read_scores(file, id_column=id_column, time_column=time_column, score_column=score_column)
        try:
            model = ExpectedResponse(better=better.value).fit(frame, id=id_column, time=time_column, score=score_column)
        except InputError as exc:
            raise exc.located(file=str(file)) from None
        try:
            out.write_text(json.dumps(model.to_json(), indent=1) + "\n", encoding="utf-8")
        except OSError as exc:
            raise InputError(f"cannot write the model ({exc.strerror})", file=str(out)) from None
        sessions = f"sessions 1-{model.sessions_[-1]}" if model.sessions_ else "no session table"
        typer.echo(
            f"etr: {model.kind_} model, {model.n_clients_} clients, {model.n_observations_} observations, {sessions}"
            + (f" ({model.reason_})" if model.reason_ else ""),
            err=True,
        )


@etr_app.command("flag")
def etr_flag(
    file: Path = typer.Argument(..., help=_FILE_HELP),
    model_path: Path = typer.Option(..., "--model", help="A model written by 'alliance etr fit'."),
    id_column: str = typer.Option(..., "--id", help=_ID_HELP),
    time_column: str = typer.Option(..., "--time", help=_TIME_HELP),
    score_column: str = typer.Option(..., "--score", help=_SCORE_HELP),
    at: int | None = typer.Option(None, "--at", help="Only the row for this session of each client."),
) -> None:
    """Flag each score green, amber or red as CSV: id,time,expected,lower,upper,status.

    A client's intake is their session-1 score; clients without one are left out (counted on stderr).
    """
    with user_errors():
        if at is not None and at < 1:
            raise InputError(f"option --at must be a session number of 1 or more, not {at}")
        model = _load_model(model_path)
        frame = _read_scores(file, id_column=id_column, time_column=time_column, score_column=score_column)
        flagged = model.flag(frame, id=id_column, time=time_column, score=score_column, at=at)
        with_intake = frame.loc[(frame[time_column] == 1) & frame[score_column].notna(), id_column]
        missing = frame[id_column].nunique() - with_intake.nunique()
        if missing:
            who = (
                "1 client without a session-1 score was"
                if missing == 1
                else f"{missing} clients without a session-1 score were"
            )
            typer.echo(f"etr: {who} left out", err=True)
        echo_csv(flagged, columns=FLAG_COLUMNS, numbers=("expected", "lower", "upper"))


@etr_app.command("validate")
def etr_validate(
    file: Path = typer.Argument(..., help=_FILE_HELP),
    id_column: str = typer.Option(..., "--id", help=_ID_HELP),
    time_column: str = typer.Option(..., "--time", help=_TIME_HELP),
    score_column: str = typer.Option(..., "--score", help=_SCORE_HELP),
    better: BetterEnd = typer.Option(
        BetterEnd.LOWER, "--better", help="Whether lower (default) or higher scores are better."
    ),
    at: str = typer.Option(
        "2,3,4", "--at", help="Sessions at which held-out clients are flagged, separated by commas (each 2 or more)."
    ),
    folds: int = typer.Option(5, "--folds", help="Number of folds; clients are split by id (at least 2)."),
    reliability: float = typer.Option(
        0.85,
        "--reliability",
        help="Reliability of the measure, for reliable change (outcome and fallback); e.g. 0.92 for the BDI-II.",
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the random split of clients into folds."),
) -> None:
    """Check how well red/amber at sessions 2-4 predict non-response and deterioration (k-fold by client) as CSV.

    One row per flag session, rule (red, red_or_amber, rational_red, rational_red_or_amber) and outcome
    (non_response, deterioration): at,rule,outcome,n,positives,flagged,sensitivity,specificity,ppv,npv,
    sens_low,sens_high,spec_low,spec_high,model. The outcome compares each client's session-1 score with their last
    one (Jacobson-Truax reliable change); a client is judged at session K only with a score there and a later one.
    """
    with user_errors():
        sessions = _parse_sessions(at)
        if folds < 2:
            raise InputError(f"option --folds must be 2 or more, not {folds}")
        if not 0 < reliability < 1:
            raise InputError(f"option --reliability must lie strictly between 0 and 1, not {reliability}")
        frame = _read_scores(file, id_column=id_column, time_column=time_column, score_column=score_column)
        try:
            result = etr_validation(
                frame,
                id=id_column,
                time=time_column,
                score=score_column,
                better=better.value,
                flag_at=sessions,
                folds=folds,
                reliability=reliability,
                seed=seed,
            )
        except InputError as exc:
            raise exc.located(file=str(file)) from None
        numbers = [column for column in ETR_VALIDATION_COLUMNS[6:] if column != "model"]
        echo_csv(result.table, columns=ETR_VALIDATION_COLUMNS, numbers=numbers)


def _parse_sessions(text: str) -> tuple[int, ...]:
    """Read ``--at`` as whole session numbers of 2 or more, e.g. ``2,3,4``."""
    parts = [part.strip() for part in text.split(",")]
    if not all(re.fullmatch(r"[0-9]+", part) for part in parts) or any(int(part) < 2 for part in parts):
        raise InputError(f"option --at must be session numbers of 2 or more separated by commas, not {text!r}")
    return tuple(sorted({int(part) for part in parts}))


def _read_scores(file: Path, *, id_column: str, time_column: str, score_column: str) -> pd.DataFrame:
    """Read and check a long CSV: ids present, sessions whole numbers from 1, scores numbers, no duplicates."""
    return read_session_scores(
        file, id_column=id_column, time_column=time_column, score_column=score_column, first_session=1
    )


def _load_model(path: Path) -> ExpectedResponse:
    """Read a saved model; every problem is a one-line error naming the file (and the field)."""
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ModelError("file not found", file=name) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(f"cannot read the model ({exc})", file=name) from None
    try:
        document: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelError(f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})", file=name) from None
    try:
        return ExpectedResponse.from_json(document)
    except ModelError as exc:
        raise exc.located(file=name) from None
