"""``alliance fhir``: instruments as FHIR R4B Questionnaires; QuestionnaireResponses checked and scored."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from alliance.cli.app import app, user_errors
from alliance.errors import ResourceError
from alliance.instruments import registry_from_environment
from alliance.interop import fhir

__all__ = ["fhir_app"]

fhir_app = typer.Typer(help="FHIR R4B: Questionnaires out, QuestionnaireResponses in.", no_args_is_help=True)
app.add_typer(fhir_app, name="fhir")


@fhir_app.command("questionnaire")
def questionnaire(
    instrument_id: str = typer.Argument(..., metavar="ID", help="Instrument id (see `alliance instruments list`)."),
    lang: str = typer.Option("en", "--lang", help="Language of the texts (en, es, ...)."),
) -> None:
    """Print an instrument as a FHIR R4B Questionnaire (JSON)."""
    with user_errors():
        instrument = registry_from_environment().get(instrument_id)
        typer.echo(json.dumps(fhir.questionnaire(instrument, language=lang), indent=2, ensure_ascii=False))


@fhir_app.command("score")
def score(
    file: Path = typer.Argument(..., help="A FHIR R4B QuestionnaireResponse (JSON) for one of our instruments."),
) -> None:
    """Check a QuestionnaireResponse (status, linkIds, answer codes, any stated total) and print its score as JSON."""
    with user_errors():
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise ResourceError(f"cannot read file ({exc.strerror})", file=str(file)) from None
        imported = fhir.parse_questionnaire_response(data, registry=registry_from_environment(), file=str(file))
        result = {
            "instrument": imported.instrument.id,
            "subject": imported.subject,
            "authored": imported.authored.isoformat() if imported.authored else None,
            "answers": dict(imported.answers),
            "total": imported.score.total,
            "subscales": dict(imported.score.subscales),
            "severity": imported.score.severity,
            "risk": imported.score.risk,
            "status": imported.score.status,
        }
        typer.echo(json.dumps(result, indent=2))
