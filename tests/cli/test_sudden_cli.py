"""``alliance sudden-changes``: long CSV in, sudden gains and losses out as CSV, one-line errors (exit 2)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from alliance.cli import app

HEADER = "id,from_time,to_time,kind,pre,post"
BDI_SESSIONS = [f"bdi_s{i}" for i in range(1, 13)]

# Published gains of ids 1-18 on sgdata (R package suddengains, tests/testthat/test-create_bysg.R; the first
# ten also on the reference page of create_bysg()): id, pregain session, postgain session, scores.
PUBLISHED_ROWS_IDS_1_TO_18 = [
    "1,3,4,gain,34,23",
    "1,7,8,gain,29,17",
    "3,8,9,gain,35,26",
    "4,3,4,gain,32,22",
    "5,3,4,gain,36,26",
    "5,8,9,gain,19,6",
    "9,3,4,gain,32,23",
    "10,2,3,gain,35,25",
    "10,4,5,gain,25,17",
    "12,3,4,gain,31,23",
    "13,3,4,gain,36,23",
    "13,8,9,gain,18,10",
    "14,2,3,gain,37,23",
    "18,3,4,gain,35,24",
]

runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["sudden-changes", *args])
    return result.exit_code, result.stdout, result.stderr


def write(tmp_path: Path, text: str, name: str = "scores.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.fixture
def sgdata_csv(shared_data: Path, tmp_path: Path) -> Path:
    """sgdata's BDI sessions 1-12 in long format, rows shuffled; missing scores as empty cells or no row."""
    wide = pd.read_csv(shared_data / "longitudinal" / "sgdata.csv")
    long = wide.melt(id_vars="id", value_vars=BDI_SESSIONS, var_name="variable", value_name="bdi")
    long["session"] = long["variable"].str.removeprefix("bdi_s")
    long["bdi"] = long["bdi"].map(lambda v: "" if pd.isna(v) else str(int(v)))
    # Half the missing scores become absent rows, the other half empty cells: both mean "missing".
    missing = long.index[long["bdi"] == ""]
    long = long.drop(missing[::2]).sample(frac=1.0, random_state=3)
    path = tmp_path / "sgdata_long.csv"
    long[["id", "session", "bdi"]].to_csv(path, index=False)
    return path


def test_sgdata_gains_equal_the_published_results(sgdata_csv: Path) -> None:
    code, out, err = run(str(sgdata_csv), "--id", "id", "--time", "session", "--score", "bdi", "--cutoff", "7")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == HEADER
    rows = lines[1:]
    assert len(rows) == 24  # create_bysg() reference page: "A tibble: 24 x 28"; describe_sg() sg_total_n
    assert len({row.split(",")[0] for row in rows}) == 15  # describe_sg() byperson sg_n
    assert [row for row in rows if int(row.split(",")[0]) <= 18] == PUBLISHED_ROWS_IDS_1_TO_18
    keys = [(int(row.split(",")[0]), int(row.split(",")[1])) for row in rows]
    assert keys == sorted(keys)


def test_kind_both_adds_the_losses_after_sorting(sgdata_csv: Path) -> None:
    code, out, _ = run(
        str(sgdata_csv),
        "--id",
        "id",
        "--time",
        "session",
        "--score",
        "bdi",
        "--cutoff",
        "7",
        "--kind",
        "both",
    )
    assert code == 0
    rows = out.splitlines()[1:]
    assert len(rows) == 27
    assert [row for row in rows if ",loss," in row] == [
        "4,9,10,loss,24,33",
        "34,7,8,loss,8,20",
        "35,7,8,loss,4,22",
    ]
    # Client 4: gain 3->4, then loss 9->10, in session order.
    assert [row for row in rows if row.startswith("4,")] == ["4,3,4,gain,32,22", "4,9,10,loss,24,33"]


def test_losses_only_and_higher_is_better(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "who,week,wellbeing\n" + "".join(f"a,{w},{s}\n" for w, s in enumerate([10, 11, 10, 20, 21, 20], 1)),
    )
    common = ["--id", "who", "--time", "week", "--score", "wellbeing", "--cutoff", "7"]
    assert run(str(path), *common, "--kind", "losses")[1] == HEADER + "\na,3,4,loss,10,20\n"
    assert run(str(path), *common, "--better", "higher")[1] == HEADER + "\na,3,4,gain,10,20\n"
    assert run(str(path), *common, "--better", "higher", "--kind", "losses")[1] == HEADER + "\n"


def test_fractional_scores_print_as_given(tmp_path: Path) -> None:
    scores = [30.5, 31, 30, 18.25, 17, 18]
    path = write(tmp_path, "id,t,s\n" + "".join(f"x,{t},{s}\n" for t, s in enumerate(scores, 1)))
    code, out, _ = run(str(path), "--id", "id", "--time", "t", "--score", "s", "--cutoff", "7")
    assert (code, out) == (0, HEADER + "\nx,3,4,gain,30,18.25\n")


def test_no_changes_prints_just_the_header(tmp_path: Path) -> None:
    path = write(tmp_path, "id,t,s\n1,1,10\n1,2,10\n1,3,10\n")
    assert run(str(path), "--id", "id", "--time", "t", "--score", "s", "--cutoff", "7") == (
        0,
        HEADER + "\n",
        "",
    )


@pytest.mark.parametrize(
    ("text", "options", "expected"),
    [
        ("id,t,s\n1,1,10\n", ["--score", "score"], "scores.csv, column 'score': unknown column"),
        ("id,t,s\n1,1,10\n1,2,ten\n", [], "scores.csv, row 2 (line 3), column 's': not a number: 'ten'"),
        ("id,t,s\n1,1,10\n1,1.0,12\n", [], "scores.csv, row 2 (line 3), column 't': duplicate id + t"),
        (
            "id,t,s\n1,1,10\n1,2.5,12\n",
            [],
            "scores.csv, row 2 (line 3), column 't': not a whole number: '2.5'",
        ),
        ("id,t,s\n1,1,10\n1,,12\n", [], "scores.csv, row 2 (line 3), column 't': value is missing"),
        ("id,t,s\n1,1,10\n,2,12\n", [], "scores.csv, row 2 (line 3), column 'id': value is missing"),
        ("id,t,s\n1,1,10\n", ["--cutoff", "0"], "option --cutoff must be a number greater than 0"),
        ("id,t,s\n1,1,10\n", ["--cutoff", "-7"], "option --cutoff must be a number greater than 0"),
    ],
    ids=[
        "unknown-column",
        "non-numeric-score",
        "duplicate",
        "non-integer-time",
        "missing-time",
        "missing-id",
        "cutoff-0",
        "cutoff-negative",
    ],
)
def test_bad_input_is_one_line_on_stderr_and_exit_2(
    tmp_path: Path, text: str, options: list[str], expected: str
) -> None:
    path = write(tmp_path, text)
    arguments = {"--id": "id", "--time": "t", "--score": "s", "--cutoff": "7"}
    for flag, value in zip(options[::2], options[1::2], strict=True):
        arguments[flag] = value
    flat = [item for pair in arguments.items() for item in pair]
    code, out, err = run(str(path), *flat)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("alliance: error: ")
    assert expected in err


def test_a_missing_file_is_a_one_line_error(tmp_path: Path) -> None:
    code, _, err = run(str(tmp_path / "nope.csv"), "--id", "id", "--time", "t", "--score", "s", "--cutoff", "7")
    assert code == 2 and "nope.csv: file not found" in err and err.count("\n") == 1
