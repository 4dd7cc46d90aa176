"""``alliance outcomes``: PHQ-9/GAD-7 session scores in, NHS Talking Therapies outcomes per client out."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from alliance.cli import app

HEADER = (
    "client,sessions,first_phq9,last_phq9,first_gad7,last_gad7,case_at_start,recovered,"
    "reliable_improvement,reliable_deterioration,reliable_recovery"
)

runner = CliRunner()


def run(path: Path) -> tuple[int, str, str]:
    result = runner.invoke(app, ["outcomes", str(path)])
    return result.exit_code, result.stdout, result.stderr


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scores.csv"
    path.write_text(text)
    return path


def test_one_row_per_client_sorted_with_empties_where_undefined(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "client,session,phq9,gad7,therapist\n"
        "bob,2,9,7,t2\n"  # rows in any order; an extra column is ignored
        "alice,3,6,5,t1\n"
        "alice,1,18,12,t1\n"
        "carol,1,8,3,t1\n"
        "bob,1,20,9,t2\n"
        "alice,2,,10,t1\n"  # one score missing: not used for first/last
        "dan,1,15,10,t3\n"  # a single paired session
        "dan,2,12,,t3\n"
        "carol,2,2,1,t1\n",
    )
    code, out, err = run(path)
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        HEADER,
        "alice,3,18,6,12,5,true,true,true,false,true",
        "bob,2,20,9,9,7,true,true,true,false,true",
        "carol,2,8,2,3,1,false,,true,false,",  # not a case at the start: no recovery
        "dan,2,,,,,,,,,",
    ]


def test_recovery_without_reliable_change_and_deterioration(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "client,session,phq9,gad7\n"
        "1,1,10,5\n1,2,9,5\n"  # recovered, no reliable improvement
        "2,1,20,5\n2,2,14,9\n"  # PHQ-9 -6 but GAD-7 +4: neither
        "10,1,4,4\n10,2,10,8\n",  # deteriorated into caseness
    )
    code, out, _ = run(path)
    assert code == 0
    assert out.splitlines()[1:] == [
        "1,2,10,9,5,5,true,true,false,false,false",
        "2,2,20,14,5,9,true,false,false,false,false",
        "10,2,4,10,4,8,false,,false,true,",  # clients sort as numbers: 1, 2, 10
    ]


def test_fractional_scores_are_printed_as_given(tmp_path: Path) -> None:
    path = write(tmp_path, "client,session,phq9,gad7\na,1,12.5,9\na,2,3,2.0\n")
    assert run(path)[1].splitlines()[1] == "a,2,12.5,3,9,2,true,true,true,false,true"


def test_header_only_gives_header_only(tmp_path: Path) -> None:
    assert run(write(tmp_path, "client,session,phq9,gad7\n")) == (0, HEADER + "\n", "")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("client,session,phq9\na,1,3\n", "scores.csv, column 'gad7': unknown column"),
        ("client,session,phq9,gad7\na,1,3,x\n", "scores.csv, row 1 (line 2), column 'gad7': not a number: 'x'"),
        (
            "client,session,phq9,gad7\na,1,3,2\na,2,28,2\n",
            "row 2 (line 3), column 'phq9': value '28' is out of range (0 to 27)",
        ),
        ("client,session,phq9,gad7\na,1,-1,2\n", "row 1 (line 2), column 'phq9': value '-1' is out of range (0 to 27)"),
        ("client,session,phq9,gad7\na,1,3,22\n", "row 1 (line 2), column 'gad7': value '22' is out of range (0 to 21)"),
        ("client,session,phq9,gad7\na,1.5,3,2\n", "row 1 (line 2), column 'session': not a whole number: '1.5'"),
        ("client,session,phq9,gad7\na,,3,2\n", "row 1 (line 2), column 'session': value is missing"),
        (
            "client,session,phq9,gad7\na,1,3,2\nb,1,3,2\na,1.0,4,4\n",
            "row 3 (line 4), column 'session': duplicate client + session",
        ),
        ("client,session,phq9,gad7\na,1,3,2\n,2,3,2\n", "row 2 (line 3), column 'client': value is missing"),
    ],
    ids=[
        "missing-column",
        "non-numeric",
        "phq9-high",
        "phq9-negative",
        "gad7-high",
        "non-integer-session",
        "missing-session",
        "duplicate",
        "missing-client",
    ],
)
def test_bad_input_is_one_line_on_stderr_and_exit_2(tmp_path: Path, text: str, expected: str) -> None:
    code, out, err = run(write(tmp_path, text))
    assert code == 2
    assert out == ""
    assert err.startswith("alliance: error: ") and err.count("\n") == 1
    assert "scores.csv" in err and expected in err


def test_a_missing_file_is_a_one_line_error(tmp_path: Path) -> None:
    code, _, err = run(tmp_path / "absent.csv")
    assert code == 2 and "absent.csv: file not found" in err and err.count("\n") == 1
