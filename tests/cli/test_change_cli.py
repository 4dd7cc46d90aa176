"""``alliance change``: the R outputs reproduced from the command line, and every bad input named in one line."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from alliance.cli import app

runner = CliRunner()


def run(*args: str | Path) -> tuple[int, str, str]:
    result = runner.invoke(app, ["change", *(str(a) for a in args)])
    return result.exit_code, result.stdout, result.stderr


def jacobson(shared_data: Path) -> Path:
    return shared_data / "longitudinal" / "jacobson_1989.csv"


BASE = ("--id", "subject", "--time", "time", "--pre", "pre", "--post", "post", "--reliability", "0.80")


# --- The R outputs ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["JT", "EN"])
def test_das_distribution_reproduces_the_r_output(shared_data: Path, method: str) -> None:
    reference = pd.read_csv(shared_data / "reference" / f"jacobson_1989_das_distribution_{method}.csv")

    code, out, err = run(jacobson(shared_data), *BASE, "--score", "das", "--better", "higher", "--method", method)

    assert code == 0, err
    assert err == ""
    assert out.splitlines()[0] == "id,pre,post,change,rci,category"
    table = pd.read_csv(io.StringIO(out))
    assert list(table["id"]) == list(reference["id"])
    np.testing.assert_array_equal(table[["pre", "post", "change"]], reference[["pre", "post", "change"]])
    np.testing.assert_allclose(table["rci"], reference["rci"], rtol=0, atol=1e-9)
    assert list(table["category"]) == list(reference["category"].str.lower())


def test_gds_combined_reproduces_the_r_output_and_warns_about_left_out_ids(shared_data: Path) -> None:
    reference = pd.read_csv(shared_data / "reference" / "jacobson_1989_gds_combined_JT.csv")

    code, out, err = run(
        jacobson(shared_data), *BASE, "--score", "gds", "--functional-mean", "30", "--functional-sd", "8"
    )

    assert code == 0, err
    table = pd.read_csv(io.StringIO(out))
    np.testing.assert_allclose(table["rci"], reference["rci"], rtol=0, atol=1e-9)
    assert list(table["category"]) == list(reference["category"].str.lower())
    assert err.count("\n") == 1
    assert "warning" in err and "4 id(s) left out" in err and "27, 28, 29, 30" in err


def test_numbers_are_printed_with_full_precision(shared_data: Path) -> None:
    code, out, _ = run(jacobson(shared_data), *BASE, "--score", "das", "--better", "higher", "--method", "en")

    first = out.splitlines()[1].split(",")
    assert code == 0
    assert abs(float(first[4]) - 1.56626306112471) < 1e-12
    assert first[4] == repr(float(first[4]))


def test_defaults_are_jt_and_lower_is_better(tmp_path: Path) -> None:
    data = tmp_path / "scores.csv"
    data.write_text("client,week,phq\na,0,20\na,12,5\nb,0,10\nb,12,12\nc,0,15\nc,12,27\n")

    code, out, err = run(
        data,
        "--id",
        "client",
        "--time",
        "week",
        "--score",
        "phq",
        "--pre",
        "0",
        "--post",
        "12",
        "--reliability",
        "0.84",
    )

    assert code == 0, err
    assert [line.split(",")[-1] for line in out.splitlines()[1:]] == ["improved", "unchanged", "deteriorated"]


def test_cutoff_c_uses_the_functional_norms(tmp_path: Path) -> None:
    # Pre mean 20, SD 5: cut-off a = 10, cut-off c with norms 5 and 5 = (5 * 5 + 5 * 20) / 10 = 12.5.
    data = tmp_path / "scores.csv"
    data.write_text("id,t,x\n1,pre,25\n1,post,11\n2,pre,20\n2,post,20\n3,pre,15\n3,post,15\n")
    common = ("--id", "id", "--time", "t", "--score", "x", "--pre", "pre", "--post", "post", "--reliability", "0.9")
    norms = ("--functional-mean", "5", "--functional-sd", "5")

    _, out_a, _ = run(data, *common, *norms)
    _, out_c, _ = run(data, *common, *norms, "--cutoff-type", "c")

    assert out_a.splitlines()[1].endswith(",improved")
    assert out_c.splitlines()[1].endswith(",recovered")


# --- Bad input: exit 2 and one line naming file, row, column or option ----------------------------------------


def bad(*args: str | Path) -> str:
    code, out, err = run(*args)
    assert code == 2, (out, err)
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("alliance: error: "), err
    assert "Traceback" not in err
    return err


@pytest.fixture
def scores(tmp_path: Path) -> Path:
    path = tmp_path / "scores.csv"
    path.write_text("id,t,x\n1,pre,25\n1,post,11\n2,pre,20\n2,post,20\n3,pre,15\n3,post,\n")
    return path


OPTIONS = ("--id", "id", "--time", "t", "--score", "x", "--pre", "pre", "--post", "post")


def test_an_unknown_column_is_named(scores: Path) -> None:
    err = bad(
        scores, "--id", "id", "--time", "t", "--score", "bdi", "--pre", "pre", "--post", "post", "--reliability", "0.8"
    )
    assert str(scores) in err and "column 'bdi'" in err and "unknown column" in err


def test_a_non_numeric_score_is_named_with_its_row(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("id,t,x\n1,pre,25\n1,post,eleven\n")

    err = bad(path, *OPTIONS, "--reliability", "0.8")

    assert str(path) in err and "row 2 (line 3)" in err and "column 'x'" in err and "eleven" in err


def test_a_duplicate_id_and_time_is_named(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("id,t,x\n1,pre,25\n1,post,11\n1,pre,24\n")

    err = bad(path, *OPTIONS, "--reliability", "0.8")

    assert str(path) in err and "row 3" in err and "column 't'" in err and "already on row 1" in err


def test_a_missing_id_is_named(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("id,t,x\n1,pre,25\n,post,11\n")

    err = bad(path, *OPTIONS, "--reliability", "0.8")

    assert "row 2" in err and "column 'id'" in err


@pytest.mark.parametrize("reliability", ["0", "1", "1.2", "-0.5"])
def test_a_reliability_outside_zero_and_one_names_the_option(scores: Path, reliability: str) -> None:
    assert "--reliability" in bad(scores, *OPTIONS, "--reliability", reliability)


@pytest.mark.parametrize(
    ("given", "missing"), [("--functional-mean", "--functional-sd"), ("--functional-sd", "--functional-mean")]
)
def test_only_one_functional_norm_is_refused(scores: Path, given: str, missing: str) -> None:
    err = bad(scores, *OPTIONS, "--reliability", "0.8", given, "5")
    assert given in err and missing in err


def test_cutoff_c_without_norms_is_refused(scores: Path) -> None:
    err = bad(scores, *OPTIONS, "--reliability", "0.8", "--cutoff-type", "c")
    assert "--cutoff-type c" in err and "--functional-mean" in err


@pytest.mark.parametrize("option", ["--pre", "--post"])
def test_a_time_value_that_never_occurs_is_named(scores: Path, option: str) -> None:
    args = list(OPTIONS)
    args[args.index(option) + 1] = "week 12"

    err = bad(scores, *args, "--reliability", "0.8")

    assert str(scores) in err and "column 't'" in err and f"{option} value 'week 12' never occurs" in err


def test_no_complete_pairs_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("id,t,x\n1,pre,25\n1,post,\n2,pre,\n2,post,20\n")

    err = bad(path, *OPTIONS, "--reliability", "0.8")

    assert str(path) in err and "column 'x'" in err and "no id has both a pre and a post score" in err


@pytest.mark.parametrize(
    ("option", "value"),
    [("--method", "hlm"), ("--better", "up"), ("--cutoff-type", "b"), ("--functional-sd", "0")],
)
def test_other_bad_option_values_are_named(scores: Path, option: str, value: str) -> None:
    extra = ["--functional-mean", "5"] if option == "--functional-sd" else []
    assert option in bad(scores, *OPTIONS, "--reliability", "0.8", option, value, *extra)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.csv"
    assert str(missing) in bad(missing, *OPTIONS, "--reliability", "0.8")


def test_ha_with_a_functional_sd_below_the_measurement_error_names_the_problem(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("id,t,x\n1,pre,30\n1,post,5\n2,pre,20\n2,post,30\n3,pre,10\n3,post,10\n4,pre,25\n4,post,20\n")

    err = bad(
        path,
        *OPTIONS,
        "--reliability",
        "0.5",
        "--method",
        "ha",
        "--functional-mean",
        "5",
        "--functional-sd",
        "1",
        "--cutoff-type",
        "c",
    )

    assert str(path) in err and "functional SD" in err and "column" not in err
