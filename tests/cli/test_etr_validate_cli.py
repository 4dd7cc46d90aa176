"""``alliance etr validate``: k-fold validation of red/amber against end-of-treatment outcomes, as CSV."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from alliance.cli import app

HEADER = (
    "at,rule,outcome,n,positives,flagged,sensitivity,specificity,ppv,npv,sens_low,sens_high,spec_low,spec_high,model"
)

runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def validate(path: Path, *extra: str) -> tuple[int, str, str]:
    return run("etr", "validate", str(path), "--id", "client", "--time", "session", "--score", "bdi", *extra)


def history() -> str:
    """Twelve clients, intakes 20 and 30 in turn, three sessions each; one more left after session 2.

    c01-c03 get 15 points worse at session 2 and stay worse (red, non-response, deterioration); c04-c06 15 better
    (improved); c07-c09 unchanged at 2 and 15 worse at the end (deterioration, not flagged); c10-c12 unchanged
    (non-response). c13 is red at 2 but has no later score, so it is not judged.
    """
    lines = ["client,session,bdi"]
    for number, (at_2, at_3) in enumerate([(15, 15)] * 3 + [(-15, -15)] * 3 + [(0, 15)] * 3 + [(0, 0)] * 3, 1):
        intake = 20 if number % 2 else 30
        lines += [f"c{number:02d},1,{intake}", f"c{number:02d},2,{intake + at_2}", f"c{number:02d},3,{intake + at_3}"]
    lines += ["c13,1,20", "c13,2,40"]
    return "\n".join(lines) + "\n"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "history.csv"
    path.write_text(text)
    return path


# Sensitivity 3/9 and 3/6, specificity 3/3 and 6/6, with their Wilson 95% intervals: 3/9 (0.1206, 0.6458),
# 3/6 (0.1876, 0.8124), 3/3 (0.4385, 1), 6/6 (0.6097, 1). Fewer than 30 clients per training part: the fallback.
NON_RESPONSE = (
    "12,9,3,0.3333333333333333,1,1,0.3333333333333333,"
    "0.1205838183869109,0.6457978644196036,0.4385029682449546,1,rational 3/3"
)
DETERIORATION = (
    "12,6,3,0.5,1,1,0.6666666666666666,0.1876163064826506,0.8123836935173494,0.6096657120978346,1,rational 3/3"
)


def test_golden_run_at_session_two(tmp_path: Path) -> None:
    code, out, err = validate(write(tmp_path, history()), "--at", "2", "--folds", "3", "--reliability", "0.9")
    assert (code, err) == (0, "")
    expected = [HEADER]
    for rule in ("red", "red_or_amber", "rational_red", "rational_red_or_amber"):
        expected += [f"2,{rule},non_response,{NON_RESPONSE}", f"2,{rule},deterioration,{DETERIORATION}"]
    assert out == "\n".join(expected) + "\n"


def test_the_seed_and_session_list_are_options(tmp_path: Path) -> None:
    path = write(tmp_path, history())
    code, out, _ = validate(path, "--at", "4, 2,3", "--folds", "3", "--reliability", "0.9", "--seed", "11")
    assert code == 0
    rows = pd.read_csv(io.StringIO(out), keep_default_na=False)
    assert sorted(set(rows["at"])) == [2, 3, 4]
    # Nobody has a score after session 3: nobody can be judged at 3 or 4, and the rates are empty.
    later = rows[rows["at"] > 2]
    assert (later["n"] == 0).all() and (later["sensitivity"] == "").all()
    # Clear-cut data: another seed, the same figures.
    assert out.splitlines()[1] == f"2,red,non_response,{NON_RESPONSE}"


def test_on_claus_2020_it_gives_the_figures_in_the_doc(shared_data: Path) -> None:
    path = shared_data / "longitudinal" / "claus_2020.csv"
    code, out, err = run(
        "etr", "validate", str(path), "--id", "id", "--time", "time", "--score", "bdi", "--reliability", "0.92"
    )
    assert (code, err) == (0, "")
    rows = pd.read_csv(io.StringIO(out)).set_index(["at", "rule", "outcome"])
    assert len(rows) == 3 * 4 * 2
    red = rows.loc[(3, "red", "deterioration")]
    assert (red["n"], red["positives"], red["flagged"], red["sensitivity"]) == (40, 4, 5, 0.75)
    assert red["model"] == "empirical 5/5"
    assert rows.loc[(4, "red", "non_response"), "n"] == 0  # four time points: nothing after session 4


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--at", "1"], "option --at must be session numbers of 2 or more separated by commas, not '1'"),
        (["--at", "2,x"], "option --at must be session numbers of 2 or more separated by commas, not '2,x'"),
        (["--at", ""], "option --at must be session numbers of 2 or more separated by commas, not ''"),
        (["--folds", "1"], "option --folds must be 2 or more, not 1"),
        (["--reliability", "1"], "option --reliability must lie strictly between 0 and 1, not 1.0"),
    ],
)
def test_bad_options_are_one_line(tmp_path: Path, options: list[str], message: str) -> None:
    code, out, err = validate(write(tmp_path, history()), *options)
    assert (code, out, err) == (2, "", f"alliance: error: {message}\n")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("client,session,score\na,1,9\n", "column 'bdi': unknown column"),
        ("client,session,bdi\na,1,9\na,2,high\n", "row 2 (line 3), column 'bdi': not a number: 'high'"),
        ("client,session,bdi\na,1,9\na,0,9\n", "row 2 (line 3), column 'session': session numbers start at 1"),
        ("client,session,bdi\na,1,9\na,1.0,8\n", "row 2 (line 3), column 'session': duplicate client + session"),
        ("client,session,bdi\na,1,9\n,2,9\n", "row 2 (line 3), column 'client': value is missing"),
        ("client,session,bdi\na,1,9\nb,1,8\na,2,9\n", "column 'bdi': 5-fold validation needs at least 5 clients"),
    ],
)
def test_bad_input_names_file_row_and_column(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    code, out, err = validate(path)
    assert (code, out) == (2, "")
    assert err.startswith(f"alliance: error: {path}, ")
    assert message in err
    assert err.count("\n") == 1


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    code, _, err = validate(tmp_path / "nope.csv")
    assert (code, err) == (2, f"alliance: error: {tmp_path / 'nope.csv'}: file not found\n")
