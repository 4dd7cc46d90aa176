"""`alliance fhir`: a Questionnaire out, a response in, bad files refused in one line with exit 2."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from alliance.cli import app
from alliance.instruments import bundled_registry
from alliance.interop import fhir

RUNNER = CliRunner()


def test_questionnaire_in_spanish() -> None:
    result = RUNNER.invoke(app, ["fhir", "questionnaire", "alliance-client", "--lang", "es"])
    assert result.exit_code == 0, result.output
    resource = json.loads(result.stdout)
    assert resource["resourceType"] == "Questionnaire" and resource["language"] == "es"


def test_score_a_response(tmp_path: Path) -> None:
    gad7 = bundled_registry().get("gad7")
    response = fhir.questionnaire_response(gad7, {item_id: 3.0 for item_id in gad7.required_item_ids})
    path = tmp_path / "qr.json"
    path.write_text(json.dumps(response))
    result = RUNNER.invoke(app, ["fhir", "score", str(path)])
    assert result.exit_code == 0, result.output
    scored = json.loads(result.stdout)
    assert scored["instrument"] == "gad7" and scored["total"] == 21 and scored["severity"] == "severe"


def test_bad_inputs_exit_2_with_one_line(tmp_path: Path) -> None:
    path = tmp_path / "qr.json"
    path.write_text('{"resourceType": "QuestionnaireResponse", "status": "in-progress", "questionnaire": "x"}')
    result = RUNNER.invoke(app, ["fhir", "score", str(path)])
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0
    assert f"{path}, status: status is 'in-progress'" in result.stderr
    missing = RUNNER.invoke(app, ["fhir", "score", str(tmp_path / "none.json")])
    assert missing.exit_code == 2 and "cannot read file" in missing.stderr
    unknown = RUNNER.invoke(app, ["fhir", "questionnaire", "srs"])
    assert unknown.exit_code == 2 and "unknown instrument 'srs'" in unknown.stderr
