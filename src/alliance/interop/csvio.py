"""Read tabular input at the edge: every value checked, every error naming file, row and column."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from alliance.errors import InputError
from alliance.files import read_text

__all__ = ["check_unique", "numeric_column", "read_session_scores", "read_table", "require_columns"]


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV file as text (nothing converted, empty cells as empty strings).

    Rows keep their position: ``frame.index`` is the 1-based data row number used in errors.
    """
    name = str(path)
    text = read_text(path, kind="CSV file")
    if not text.strip():
        raise InputError("file is empty (a header row is needed)", file=name)
    try:
        header = [cell.strip() for cell in next(csv.reader(io.StringIO(text)))]
    except csv.Error as exc:  # e.g. a lone carriage return in the header (found by the property tests)
        raise InputError(f"not a well-formed CSV file ({exc})", file=name) from None
    for position, column in enumerate(header):
        if not column or header.index(column) != position:
            raise InputError(f"header has a duplicate or empty column name: {column!r}", file=name)
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            skipinitialspace=True,
            skip_blank_lines=False,
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, csv.Error) as exc:
        raise InputError(f"not a well-formed CSV file ({exc})", file=name) from None
    frame.columns = header
    # Row labels are line numbers minus one, so a blank line (dropped here) does not shift later rows.
    frame.index = pd.RangeIndex(1, len(frame) + 1)
    blank = (frame.apply(lambda column: column.str.strip()) == "").all(axis=1)
    kept: pd.DataFrame = frame.loc[~blank]
    return kept


def require_columns(frame: pd.DataFrame, columns: Iterable[str], *, file: str) -> None:
    """Raise ``InputError`` for the first of ``columns`` that the table lacks."""
    have = list(frame.columns)
    for column in columns:
        if column not in have:
            raise InputError(f"unknown column (the file has: {', '.join(have)})", file=file, column=column)


def numeric_column(
    frame: pd.DataFrame,
    column: str,
    *,
    file: str,
    allow_missing: bool = True,
    low: float | None = None,
    high: float | None = None,
    integer: bool = False,
) -> pd.Series:
    """Parse one text column as floats; empty cells become NaN when ``allow_missing``.

    Raises ``InputError`` naming the first bad row.
    """
    text = frame[column].astype(str).str.strip()
    values = pd.to_numeric(text.where(text != "", None), errors="coerce").astype(float)
    bad = values.isna() & (text != "")
    bad |= ~np.isfinite(values.fillna(0.0))
    if bad.any():
        row = _first_row(bad)
        raise InputError(f"not a number: {frame.at[row, column]!r}", file=file, row=row, column=column)
    if not allow_missing and values.isna().any():
        row = _first_row(values.isna())
        raise InputError("value is missing", file=file, row=row, column=column)
    if integer:
        fractional = values.notna() & (values != np.round(values))
        if fractional.any():
            row = _first_row(fractional)
            raise InputError(f"not a whole number: {frame.at[row, column]!r}", file=file, row=row, column=column)
    out_of_range = pd.Series(False, index=values.index)
    if low is not None:
        out_of_range |= values < low
    if high is not None:
        out_of_range |= values > high
    if out_of_range.any():
        row = _first_row(out_of_range)
        raise InputError(
            f"value {frame.at[row, column]!r} is out of range ({low:g} to {high:g})"
            if low is not None and high is not None
            else f"value {frame.at[row, column]!r} is out of range",
            file=file,
            row=row,
            column=column,
        )
    return values


def check_unique(frame: pd.DataFrame, columns: Sequence[str], *, file: str) -> None:
    """Raise ``InputError`` at the first row repeating an earlier row's values in ``columns``."""
    duplicated = frame.duplicated(subset=list(columns), keep="first")
    if duplicated.any():
        row = _first_row(duplicated)
        first = int(frame.index[(frame[list(columns)] == frame.loc[row, list(columns)]).all(axis=1)][0])
        key = ", ".join(f"{c}={frame.at[row, c]!r}" for c in columns)
        raise InputError(
            f"duplicate {' + '.join(columns)} ({key}) already on row {first}",
            file=file,
            row=row,
            column=columns[-1],
        )


def read_session_scores(
    path: str | Path, *, id_column: str, time_column: str, score_column: str, first_session: int | None = None
) -> pd.DataFrame:
    """Read a long CSV of session scores: ids present, sessions whole numbers (from ``first_session`` if given),
    scores numbers (empty = missing), one row per client and session. Returns those three columns, parsed."""
    name = str(path)
    roles = {"--id": id_column, "--time": time_column, "--score": score_column}
    if len(set(roles.values())) < len(roles):
        raise InputError(f"--id, --time and --score must name three different columns, not {roles}")
    table = read_table(path)
    require_columns(table, roles.values(), file=name)
    ids = table[id_column].astype(str).str.strip()
    empty = ids.index[ids == ""]
    if len(empty):
        raise InputError("value is missing", file=name, row=int(empty[0]), column=id_column)
    times = numeric_column(table, time_column, file=name, allow_missing=False, integer=True)
    if first_session is not None:
        early = times.index[times < first_session]
        if len(early):
            row = int(early[0])
            raise InputError(
                f"session numbers start at {first_session} (the intake), not {table.at[row, time_column]!r}",
                file=name,
                row=row,
                column=time_column,
            )
    scores = numeric_column(table, score_column, file=name)
    # Duplicates are checked on parsed values, so that "3" and "3.0" are the same session.
    parsed = pd.DataFrame({id_column: ids, time_column: times.astype("int64"), score_column: scores}, index=table.index)
    check_unique(parsed, [id_column, time_column], file=name)
    return parsed


def _first_row(mask: pd.Series) -> int:
    """Return the row label (1-based data row) of the first true value of ``mask``."""
    labels = mask.index.to_numpy()
    return int(labels[np.flatnonzero(mask.to_numpy(dtype=bool))[0]])
