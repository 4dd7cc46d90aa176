"""`alliance demo-report` (what `make run` shows) prints the outcome summary of the seeded demo caseload."""

from __future__ import annotations

from typer.testing import CliRunner

from alliance.cli import app


def test_demo_report_prints_outcomes_therapists_and_attention() -> None:
    result = CliRunner().invoke(app, ["demo-report", "--clients", "30", "--seed", "5"], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    for text in ("30 clients", "recovery (among cases)", "reliable improvement", "sudden gains", "By therapist"):
        assert text in result.stdout
    again = CliRunner().invoke(app, ["demo-report", "--clients", "30", "--seed", "5"], env={"COLUMNS": "160"})
    assert again.stdout == result.stdout


def test_demo_report_refuses_an_empty_caseload() -> None:
    result = CliRunner().invoke(app, ["demo-report", "--clients", "0"])
    assert result.exit_code == 2
    assert "--clients" in result.output
