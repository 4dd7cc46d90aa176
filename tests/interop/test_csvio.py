"""Reading CSV at the edge: every problem names the file, the row and the column."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from alliance.errors import InputError
from alliance.interop.csvio import check_unique, numeric_column, read_table, require_columns


def write(tmp_path: Path, text: str, name: str = "in.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


def test_cells_stay_text_and_rows_count_from_one(tmp_path: Path) -> None:
    frame = read_table(write(tmp_path, "\ufeffid, score\n007,1\n8,\n"))
    assert list(frame.columns) == ["id", "score"]
    assert frame.loc[1, "id"] == "007"  # not turned into 7
    assert frame.loc[2, "score"] == ""
    assert list(frame.index) == [1, 2]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "file is empty"),
        (b"a,b\n\xff\xfe,1\n", "not UTF-8 text"),
        (b"a,a\n1,2\n", "duplicate or empty column name: 'a'"),
        (b'a,b\n"1,2\n', "not a well-formed CSV file"),
    ],
)
def test_unreadable_files_are_named(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(InputError, match=message) as caught:
        read_table(path)
    assert str(caught.value).startswith(str(path))


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nope\.csv: file not found"):
        read_table(tmp_path / "nope.csv")


def test_unknown_column_lists_what_the_file_has(tmp_path: Path) -> None:
    frame = read_table(write(tmp_path, "id,score\n1,2\n"))
    with pytest.raises(InputError, match=r"in\.csv, column 'session': unknown column \(the file has: id, score\)"):
        require_columns(frame, ["id", "session"], file="in.csv")


def test_numbers_are_parsed_and_the_first_bad_row_is_named(tmp_path: Path) -> None:
    frame = read_table(write(tmp_path, "id,score\n1,1.5\n2,\n3, 3\n"))
    values = numeric_column(frame, "score", file="in.csv")
    assert values.tolist()[0] == 1.5 and np.isnan(values.tolist()[1]) and values.tolist()[2] == 3.0
    # a blank line is skipped but still counted, so the row named is the one the user sees
    frame = read_table(write(tmp_path, "score\n1\n\n2\nabc\n"))
    with pytest.raises(InputError, match=r"^in\.csv, row 4 \(line 5\), column 'score': not a number: 'abc'$"):
        numeric_column(frame, "score", file="in.csv")


@pytest.mark.parametrize(
    ("cell", "options", "message"),
    [
        ("inf", {}, "not a number"),
        ("", {"allow_missing": False}, "value is missing"),
        ("2.5", {"integer": True}, "not a whole number: '2.5'"),
        ("28", {"low": 0, "high": 27}, r"value '28' is out of range \(0 to 27\)"),
        ("-1", {"low": 0}, r"value '-1' is out of range"),
    ],
)
def test_value_rules(tmp_path: Path, cell: str, options: dict[str, object], message: str) -> None:
    frame = read_table(write(tmp_path, f"id,score\n1,1\n2,{cell}\n"))
    with pytest.raises(InputError, match=message) as caught:
        numeric_column(frame, "score", file="in.csv", **options)  # type: ignore[arg-type]
    assert caught.value.row == 2 and caught.value.column == "score"


def test_duplicates_name_both_rows(tmp_path: Path) -> None:
    frame = read_table(write(tmp_path, "id,time,score\n1,pre,3\n1,post,4\n1,pre,5\n"))
    with pytest.raises(InputError, match=r"row 3 \(line 4\), column 'time': duplicate id \+ time .* already on row 1"):
        check_unique(frame, ["id", "time"], file="in.csv")
