"""The data contract's validator names the file, row and column of the first bad value."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from analytics_builders import Ep, frames, scored

from alliance.analytics.schema import TABLES, find_table_file, read_table_file, validate_frame
from alliance.errors import InputError


def _write_csv(tmp_path: Path, table: str, frame: pd.DataFrame) -> Path:
    path = tmp_path / f"{table}.csv"
    frame.to_csv(path, index=False)
    return path


def test_valid_tables_come_back_with_the_contract_types(tmp_path: Path) -> None:
    data = frames([Ep("E1", scored([(15, 10), (5, 3)]))])
    for table, frame in data.items():
        out = read_table_file(_write_csv(tmp_path, table, frame), table)
        assert list(out.columns) == list(TABLES[table])
    episodes = read_table_file(tmp_path / "episodes.csv", "episodes")
    assert str(episodes["referral_date"].dtype).startswith("datetime64")
    clients = read_table_file(tmp_path / "clients.csv", "clients")
    assert str(clients["deprivation"].dtype) == "Int64"


@pytest.mark.parametrize(
    ("table", "column", "value", "message"),
    [
        ("clients", "age_band", "17-25", "is not one of"),
        ("clients", "deprivation", "6", "above 5"),
        ("clients", "deprivation", "2.5", "not a whole number"),
        ("episodes", "referral_date", "2024-13-01", "not a date"),
        ("episodes", "therapist_id", "", "value is missing"),
        ("checkins", "total", "lots", "not a number"),
        ("checkins", "bond", "11", "above 10"),
        ("appointments", "status", "late", "is not one of"),
    ],
)
def test_a_bad_value_names_file_row_and_column(
    tmp_path: Path, table: str, column: str, value: str, message: str
) -> None:
    data = frames([Ep("E1", scored([(15, 10), (5, 3)])), Ep("E2", scored([(15, 10), (5, 3)]))])
    frame = data[table].astype(object)
    frame.loc[1, column] = value
    path = _write_csv(tmp_path, table, frame)
    with pytest.raises(InputError) as caught:
        read_table_file(path, table)
    error = caught.value
    assert (error.file, error.row, error.column) == (str(path), 2, column)
    assert message in error.message


def test_a_missing_column_is_named() -> None:
    frame = frames([Ep("E1", scored([(15, 10)]))])["clients"].drop(columns=["gender"])
    with pytest.raises(InputError, match="missing column") as caught:
        validate_frame("clients", frame, file="clients.parquet")
    assert caught.value.column == "gender"


def test_parquet_rows_are_numbered_across_batches(tmp_path: Path) -> None:
    frame = pd.DataFrame({column: ["x"] * 5 for column in TABLES["clients"]})
    frame["ethnicity"], frame["age_band"], frame["gender"], frame["deprivation"] = "A", "18-25", "male", 1
    frame.loc[3, "gender"] = "robot"
    path = tmp_path / "clients.parquet"
    frame.to_parquet(path)
    from alliance.analytics.schema import iter_table_file

    with pytest.raises(InputError) as caught:
        list(iter_table_file(path, "clients", batch_rows=2))
    assert caught.value.row == 4


def test_find_table_file_wants_exactly_one_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"no clients\.parquet or clients\.csv"):
        find_table_file(tmp_path, "clients")
    (tmp_path / "clients.csv").write_text("x\n")
    (tmp_path / "clients.parquet").write_text("x\n")
    with pytest.raises(InputError, match="both"):
        find_table_file(tmp_path, "clients")
