"""`alliance synth` and `alliance analytics run`: CSV per metric, exit 2 naming file/row/column, DuckDB == Spark."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from alliance.analytics.metrics import METRICS
from alliance.cli import app


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth")
    result = CliRunner().invoke(app, ["synth", "--clients", "1500", "--out", str(out), "--seed", "9"])
    assert result.exit_code == 0, result.output
    assert "checkins.parquet" in result.stdout
    return out


def test_run_writes_one_csv_per_metric(synthetic: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["analytics", "run", "--data", str(synthetic), "--out", str(out), "--by", "practice_id,period"]
    )
    assert result.exit_code == 0, result.output
    for name, metric in METRICS.items():
        frame = pd.read_csv(out / f"{name}.csv")
        assert list(frame.columns) == ["practice_id", "period", *metric.columns]
        assert set(frame["suppressed"].astype(str).str.lower()) <= {"true", "false"}
    outcomes = pd.read_csv(out / "outcomes.csv")
    assert outcomes["period"].str.fullmatch(r"\d{4}-Q[1-4]|open").all()


def test_run_reads_csv_tables_as_well(synthetic: Path, tmp_path: Path) -> None:
    data = tmp_path / "csv"
    data.mkdir()
    for table in ("clients", "episodes", "appointments", "checkins"):
        pd.read_parquet(synthetic / f"{table}.parquet").to_csv(data / f"{table}.csv", index=False)
    from_csv = CliRunner().invoke(app, ["analytics", "run", "--data", str(data), "--out", str(tmp_path / "a")])
    from_parquet = CliRunner().invoke(app, ["analytics", "run", "--data", str(synthetic), "--out", str(tmp_path / "b")])
    assert from_csv.exit_code == 0 and from_parquet.exit_code == 0, from_csv.output
    for name in METRICS:
        a, b = pd.read_csv(tmp_path / "a" / f"{name}.csv"), pd.read_csv(tmp_path / "b" / f"{name}.csv")
        pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-9)


def test_bad_input_exits_2_naming_file_row_and_column(synthetic: Path, tmp_path: Path) -> None:
    data = tmp_path / "bad"
    data.mkdir()
    for table in ("clients", "episodes", "appointments"):
        (data / f"{table}.parquet").write_bytes((synthetic / f"{table}.parquet").read_bytes())
    checkins = pd.read_parquet(synthetic / "checkins.parquet").head(50).astype(object)
    checkins.loc[6, "instrument"] = "phq-9"
    checkins.to_csv(data / "checkins.csv", index=False)
    result = CliRunner().invoke(app, ["analytics", "run", "--data", str(data), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "checkins.csv, row 7 (line 8), column 'instrument'" in result.stderr
    assert not (tmp_path / "out").exists()


def test_unknown_grouping_and_missing_table_exit_2(synthetic: Path, tmp_path: Path) -> None:
    args = ["analytics", "run", "--data", str(synthetic), "--out", str(tmp_path)]
    result = CliRunner().invoke(app, [*args, "--by", "x"])
    assert result.exit_code == 2 and "--by 'x'" in result.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    result = CliRunner().invoke(app, ["analytics", "run", "--data", str(empty), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "no clients.parquet or clients.csv" in result.stderr


def test_synth_refuses_zero_clients(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["synth", "--clients", "0", "--out", str(tmp_path)])
    assert result.exit_code == 2


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("pyspark") is None, reason="the spark extra is not installed")
def test_duckdb_and_spark_give_equal_results(synthetic: Path, tmp_path: Path) -> None:
    # Spark reads the CSV copy (the text path: trimming, casts), DuckDB the Parquet files: results must agree.
    as_csv = tmp_path / "csv"
    as_csv.mkdir()
    for table in ("clients", "episodes", "appointments", "checkins"):
        pd.read_parquet(synthetic / f"{table}.parquet").to_csv(as_csv / f"{table}.csv", index=False)
    by = "practice_id,team_id,period,gender"
    for engine, data in (("duckdb", synthetic), ("spark", as_csv)):
        args = ["analytics", "run", "--data", str(data), "--engine", engine, "--out", str(tmp_path / engine)]
        result = CliRunner().invoke(app, [*args, "--by", by])
        assert result.exit_code == 0, result.output
    for name in METRICS:
        duck = pd.read_csv(tmp_path / "duckdb" / f"{name}.csv", keep_default_na=False)
        spark = pd.read_csv(tmp_path / "spark" / f"{name}.csv", keep_default_na=False)
        assert list(duck.columns) == list(spark.columns) and len(duck) == len(spark), name
        for column in duck.columns:
            a, b = pd.to_numeric(duck[column], errors="coerce"), pd.to_numeric(spark[column], errors="coerce")
            if a.notna().any():
                assert np.allclose(a, b, rtol=1e-9, atol=1e-12, equal_nan=True), (name, column)
            else:
                assert list(duck[column]) == list(spark[column]), (name, column)
