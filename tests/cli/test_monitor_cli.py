"""``alliance ruptures`` and ``alliance etr fit|flag``: long CSV in, CSV out, one-line errors (exit 2)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from alliance.cli import app

RUPTURES_HEADER = "id,time,baseline,score,drop,repaired_at"
FLAG_HEADER = "id,time,expected,lower,upper,status"

runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def write(tmp_path: Path, text: str, name: str = "scores.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


ALLIANCE = """client,session,srs
a,1,9
a,2,9
a,3,9
a,4,5
a,5,6
a,6,9
a,7,9
b,1,8
b,2,8
b,3,8
b,4,8
"""


def ruptures(path: Path, *extra: str) -> tuple[int, str, str]:
    return run("ruptures", str(path), "--id", "client", "--time", "session", "--score", "srs", *extra)


# --- ruptures -----------------------------------------------------------------------------------------------


def test_ruptures_golden_run_lenient(tmp_path: Path) -> None:
    # Between-client SD fitted from the file: changes a 0 0 -4 1 3 0, b 0 0 0 -> mean 0, SS 26, SD sqrt(26 / 8)
    # = 1.803. Client a's own SD sqrt(18 / 6) = 1.732, so the threshold is max(1.732, 1.803) = 1.803. Session 4:
    # baseline 9, drop 4 -> rupture; band 9 - 1.803 = 7.197: 6 at session 5 is below, 9 at session 6 is back.
    code, out, err = ruptures(write(tmp_path, ALLIANCE))
    assert (code, err) == (0, "")
    assert out == f"{RUPTURES_HEADER}\na,4,9,5,4,6\n"


def test_ruptures_golden_run_strict(tmp_path: Path) -> None:
    # Strict: max(2 x 1.732, 1.803) = 3.464 <= 4 -> rupture; band 9 - 3.464 = 5.536: 6 at session 5 is back.
    code, out, _ = ruptures(write(tmp_path, ALLIANCE), "--criterion", "strict")
    assert (code, out) == (0, f"{RUPTURES_HEADER}\na,4,9,5,4,5\n")


def test_ruptures_when_lower_is_better_a_rise_is_the_dip(tmp_path: Path) -> None:
    # Lower is better: at session 6 the score 9 is 9 - mean(9, 5, 6) = 2.333 above the baseline >= 1.803, and
    # 9 at session 7 is still above the band (6.667 + 1.803), so it is not repaired.
    code, out, _ = ruptures(write(tmp_path, ALLIANCE), "--better", "lower")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == RUPTURES_HEADER
    assert [line.split(",")[:2] + line.split(",")[-1:] for line in lines[1:]] == [["a", "6", ""]]
    assert float(lines[1].split(",")[2]) == pytest.approx(20 / 3)
    assert float(lines[1].split(",")[4]) == pytest.approx(7 / 3)


def test_ruptures_with_none_found_prints_the_header(tmp_path: Path) -> None:
    code, out, _ = ruptures(write(tmp_path, "client,session,srs\na,1,8\na,2,8\n"))
    assert (code, out) == (0, RUPTURES_HEADER + "\n")


def test_ruptures_smoke_on_sgdata_bdi(shared_data: Path, tmp_path: Path) -> None:
    wide = pd.read_csv(shared_data / "longitudinal" / "sgdata.csv")
    sessions = [f"bdi_s{i}" for i in range(13)]
    long = wide.melt(id_vars="id", value_vars=sessions, var_name="variable", value_name="bdi")
    # bdi_s0 (the intake) is session 1.
    long["session"] = long["variable"].str.removeprefix("bdi_s").astype(int) + 1
    long["bdi"] = long["bdi"].map(lambda v: "" if pd.isna(v) else str(int(v)))
    path = tmp_path / "sgdata_long.csv"
    long[["id", "session", "bdi"]].to_csv(path, index=False)
    code, out, err = run(
        "ruptures", str(path), "--id", "id", "--time", "session", "--score", "bdi", "--better", "lower"
    )
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == RUPTURES_HEADER
    rows = [line.split(",") for line in lines[1:]]
    assert rows, "a BDI series of 43 clients has some sharp rises"
    for client, time, baseline, score, drop, repaired in rows:
        assert 1 <= int(client) <= 43 and 2 <= int(time) <= 13
        assert float(drop) == pytest.approx(float(score) - float(baseline))
        assert float(drop) > 0
        assert repaired == "" or 1 <= int(repaired) - int(time) <= 3
    keys = [(int(row[0]), int(row[1])) for row in rows]
    assert keys == sorted(keys)
    _, strict, _ = run(
        "ruptures", str(path), "--id", "id", "--time", "session", "--score", "bdi", "--better", "lower",
        "--criterion", "strict",
    )  # fmt: skip
    assert len(strict.splitlines()) <= len(lines)


# --- etr fit and flag ---------------------------------------------------------------------------------------

HISTORY = """id,session,phq9
a,1,10
a,2,9
b,1,14
b,2,12
c,2,20
"""

NEW = """id,session,phq9
x,1,10
x,2,14
y,1,10
y,2,10
z,1,12
z,2,12
z,3,12
z,4,12
w,2,15
"""


def fit(tmp_path: Path, history: str = HISTORY, *extra: str) -> tuple[int, str, str, Path]:
    model = tmp_path / "model.json"
    code, out, err = run(
        "etr", "fit", str(write(tmp_path, history, "history.csv")), "--id", "id", "--time", "session",
        "--score", "phq9", "--out", str(model), *extra,
    )  # fmt: skip
    return code, out, err, model


def flag(tmp_path: Path, model: Path, *extra: str, new: str = NEW) -> tuple[int, str, str]:
    return run(
        "etr", "flag", str(write(tmp_path, new, "new.csv")), "--model", str(model), "--id", "id", "--time",
        "session", "--score", "phq9", *extra,
    )  # fmt: skip


def test_etr_fit_with_a_small_history_writes_the_rational_fallback_and_says_so(tmp_path: Path) -> None:
    code, out, err, model = fit(tmp_path)
    assert (code, out) == (0, "")
    assert err == (
        "etr: rational model, 2 clients, 4 observations, no session table "
        "(2 clients with an intake score, fewer than min_clients = 30)\n"
    )
    document = json.loads(model.read_text())
    assert (document["format"], document["kind"]) == ("alliance-etr/1", "rational")
    assert document["data"]["skipped_clients"] == 1


def test_etr_flag_golden_run_with_the_fallback(tmp_path: Path) -> None:
    # Intakes 10 and 14: SD 2 sqrt(2); RC = 1.96 x sqrt(2) x 2 sqrt(2) x sqrt(0.15) = 7.84 x 0.3873 = 3.0364.
    _, _, _, model = fit(tmp_path)
    rc = 7.84 * math.sqrt(0.15)
    code, out, err = flag(tmp_path, model)
    assert code == 0
    assert err == "etr: 1 client without a session-1 score was left out\n"
    lines = out.splitlines()
    assert lines[0] == FLAG_HEADER
    rows = [line.split(",") for line in lines[1:]]
    # x: 10 -> 14 is reliably worse (4 > 3.04): red. y: unchanged at session 2 (before session 4): green.
    # z: unchanged at session 4: amber (not reliably better by then). w: no intake: left out.
    assert [(r[0], r[1], r[5]) for r in rows] == [
        ("x", "1", "green"),
        ("x", "2", "red"),
        ("y", "1", "green"),
        ("y", "2", "green"),
        ("z", "1", "green"),
        ("z", "2", "green"),
        ("z", "3", "green"),
        ("z", "4", "amber"),
    ]
    x2 = [float(v) for v in rows[1][2:5]]
    assert x2 == pytest.approx([10, 10 - rc, 10 + rc])


def test_etr_flag_at_one_session(tmp_path: Path) -> None:
    _, _, _, model = fit(tmp_path)
    code, out, _ = flag(tmp_path, model, "--at", "2")
    assert code == 0
    assert [line.split(",")[0] + ":" + line.split(",")[5] for line in out.splitlines()[1:]] == [
        "x:red",
        "y:green",
        "z:green",
    ]


def test_etr_on_sgdata_fits_an_empirical_model_and_flags_session_four(shared_data: Path, tmp_path: Path) -> None:
    wide = pd.read_csv(shared_data / "longitudinal" / "sgdata.csv")
    long = wide.melt(id_vars="id", value_vars=[f"bdi_s{i}" for i in range(13)], var_name="v", value_name="bdi")
    long["session"] = long["v"].str.removeprefix("bdi_s").astype(int) + 1
    long["bdi"] = long["bdi"].map(lambda v: "" if pd.isna(v) else str(int(v)))
    text = long[["id", "session", "bdi"]].to_csv(index=False).replace("bdi", "phq9")
    code, _, err, model = fit(tmp_path, text)
    assert code == 0
    assert err.startswith("etr: empirical model, 41 clients, ")
    code, out, _ = flag(tmp_path, model, "--at", "4", new=text)
    assert code == 0
    rows = [line.split(",") for line in out.splitlines()[1:]]
    assert {row[1] for row in rows} == {"4"}
    assert {row[5] for row in rows} <= {"green", "amber", "red"}
    assert all(float(r[3]) <= float(r[2]) <= float(r[4]) for r in rows)


# --- errors: exit 2, one line naming the file, row and column ------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("client,session,score\na,1,9\n", "column 'srs': unknown column"),
        ("client,session,srs\na,1,9\na,2,high\n", "row 2 (line 3), column 'srs': not a number: 'high'"),
        ("client,session,srs\na,1,9\na,2.5,9\n", "row 2 (line 3), column 'session': not a whole number: '2.5'"),
        ("client,session,srs\na,0,9\na,1,9\n", "row 1 (line 2), column 'session': session numbers start at 1"),
        ("client,session,srs\na,1,9\na,,9\n", "row 2 (line 3), column 'session': value is missing"),
        ("client,session,srs\na,1,9\na,1.0,8\n", "row 2 (line 3), column 'session': duplicate client + session"),
        ("client,session,srs\na,1,9\n,2,9\n", "row 2 (line 3), column 'client': value is missing"),
    ],
)
def test_bad_input_is_one_line_naming_file_row_and_column(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    for command in (
        ["ruptures"],
        ["etr", "fit"],
    ):
        extra = ["--out", str(tmp_path / "m.json")] if command[-1] == "fit" else []
        code, out, err = run(*command, str(path), "--id", "client", "--time", "session", "--score", "srs", *extra)
        assert (code, out) == (2, "")
        assert err.startswith(f"alliance: error: {path}, ")
        assert message in err
        assert err.count("\n") == 1


def test_etr_flag_checks_its_input_the_same_way(tmp_path: Path) -> None:
    _, _, _, model = fit(tmp_path)
    code, _, err = flag(tmp_path, model, new="id,session,phq9\nx,1,10\nx,1,11\n")
    assert code == 2
    assert "new.csv, row 2 (line 3), column 'session': duplicate id + session" in err


def test_a_missing_file_and_reused_columns_are_errors(tmp_path: Path) -> None:
    code, _, err = run("ruptures", str(tmp_path / "nope.csv"), "--id", "c", "--time", "t", "--score", "s")
    assert (code, err) == (2, f"alliance: error: {tmp_path / 'nope.csv'}: file not found\n")
    code, _, err = run(
        "ruptures", str(write(tmp_path, ALLIANCE)), "--id", "client", "--time", "client", "--score", "srs"
    )
    assert code == 2
    assert "three different columns" in err


def test_etr_fit_needs_two_intakes_and_a_writable_output(tmp_path: Path) -> None:
    code, _, err, _ = fit(tmp_path, "id,session,phq9\na,1,10\na,2,8\n")
    assert code == 2
    assert err == (
        f"alliance: error: {tmp_path / 'history.csv'}, column 'phq9': at least 2 clients with a session-1 score "
        "are needed to fit an expected response, found 1\n"
    )
    history = write(tmp_path, HISTORY, "history.csv")
    out = tmp_path / "missing-folder" / "model.json"
    code, _, err = run(
        "etr", "fit", str(history), "--id", "id", "--time", "session", "--score", "phq9", "--out", str(out)
    )
    assert code == 2
    assert err.startswith(f"alliance: error: {out}: cannot write the model")


def test_etr_flag_at_must_be_a_session(tmp_path: Path) -> None:
    _, _, _, model = fit(tmp_path)
    code, out, err = flag(tmp_path, model, "--at", "0")
    assert (code, out) == (2, "")
    assert err == "alliance: error: option --at must be a session number of 1 or more, not 0\n"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "model.json: file not found"),
        ("{not json", "model.json: not valid JSON (line 1, column 2"),
        ("[1, 2]", "model.json: must be a JSON object, not list"),
        ('{"format": "alliance-etr/0"}', "model.json, field 'format': must be \"alliance-etr/1\""),
    ],
)
def test_an_unreadable_model_is_one_line_naming_the_file(tmp_path: Path, content: str | None, message: str) -> None:
    model = tmp_path / "model.json"
    if content is not None:
        model.write_text(content)
    code, out, err = flag(tmp_path, model)
    assert (code, out) == (2, "")
    assert err.startswith("alliance: error: ")
    assert message in err
    assert err.count("\n") == 1


def test_an_invalid_model_field_is_named(tmp_path: Path) -> None:
    _, _, _, model = fit(tmp_path)
    document = json.loads(model.read_text())
    document["parameters"]["reliability"] = 1.5
    model.write_text(json.dumps(document))
    code, _, err = flag(tmp_path, model)
    assert code == 2
    assert err == f"alliance: error: {model}, field 'parameters.reliability': must be below 1\n"
    del document["data"]
    model.write_text(json.dumps(document))
    _, _, err = flag(tmp_path, model)
    assert err == f"alliance: error: {model}, field 'data': is missing\n"
