"""The analytics data contract: four tables, their columns and types, and a validator that says where input is bad.

``alliance synth`` writes these tables, ``alliance export`` writes them from the clinic, and ``alliance analytics
run`` reads them (one Parquet or CSV file per table). The contract is documented in ``docs/analytics-data.md``;
this module is the same contract as code, so the two cannot drift apart silently.

Types: ``str`` (text), ``int`` (whole number), ``float`` (number), ``date`` (ISO ``YYYY-MM-DD``). A column with
``nullable=False`` must have a value on every row; ``values`` lists the allowed values of a category.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from alliance.errors import InputError

__all__ = [
    "AGE_BANDS",
    "ALLIANCE_ITEMS",
    "CLIENT_GROUPS",
    "COARSENED",
    "ENDINGS",
    "ETHNICITY_CODES",
    "GENDERS",
    "INSTRUMENTS",
    "TABLES",
    "Column",
    "arrow_schema",
    "find_table_file",
    "read_table_file",
    "validate_frame",
]

Kind = Literal["str", "int", "float", "date"]

AGE_BANDS = ("18-25", "26-35", "36-45", "46-55", "56-65", "66+")
GENDERS = ("female", "male", "other", "not_stated")
ENDINGS = ("completed", "dropped_out", "referred_on", "open")
APPOINTMENT_STATUSES = ("attended", "did_not_attend", "cancelled")
INSTRUMENTS = ("phq9", "gad7", "alliance-client")
# NHS Data Dictionary ethnic category codes (2001 census classification), "Z" = not stated.
ETHNICITY_CODES = ("A", "B", "C", "D", "E", "F", "G", "H", "J", "K", "L", "M", "N", "P", "R", "S", "Z")
# The item ids of alliance-client.yaml: one column per domain score in ``checkins``.
ALLIANCE_ITEMS = ("bond", "understood", "respect", "goals", "tasks", "culture", "safety", "overall")
CLIENT_GROUPS = ("ethnicity", "language", "age_band", "gender", "deprivation")
"""The client-group columns of ``clients`` that equity is reported by."""
COARSENED = "other"
"""What ``alliance export --deidentify`` writes for a client group too rare to show (ethnicity, language, age band)."""


@dataclass(frozen=True)
class Column:
    """One column of the contract."""

    kind: Kind
    nullable: bool = False
    values: tuple[str, ...] | None = None
    low: float | None = None
    high: float | None = None


TABLES: dict[str, dict[str, Column]] = {
    "clients": {
        "client_id": Column("str"),
        "practice_id": Column("str"),
        "ethnicity": Column("str", values=(*ETHNICITY_CODES, COARSENED)),
        "language": Column("str"),
        # Unknown (no date of birth, or under 18) stays empty; a rare band in a research export is "other".
        "age_band": Column("str", nullable=True, values=(*AGE_BANDS, COARSENED)),
        "gender": Column("str", values=GENDERS),
        "deprivation": Column("int", nullable=True, low=1, high=5),
    },
    "episodes": {
        "episode_id": Column("str"),
        "client_id": Column("str"),
        "practice_id": Column("str"),
        "team_id": Column("str"),
        "therapist_id": Column("str"),
        "referral_date": Column("date"),
        "start_date": Column("date", nullable=True),
        "end_date": Column("date", nullable=True),
        "ending": Column("str", values=ENDINGS),
    },
    "appointments": {
        "appointment_id": Column("str"),
        "episode_id": Column("str"),
        "session_number": Column("int", low=1),
        "date": Column("date"),
        "status": Column("str", values=APPOINTMENT_STATUSES),
    },
    "checkins": {
        "checkin_id": Column("str"),
        "episode_id": Column("str"),
        "appointment_id": Column("str", nullable=True),
        "date": Column("date"),
        "instrument": Column("str", values=INSTRUMENTS),
        "total": Column("float", nullable=True, low=0),
        **{item: Column("float", nullable=True, low=0, high=10) for item in ALLIANCE_ITEMS},
    },
}
"""table -> column -> :class:`Column`, in file order."""

_EXTENSIONS = (".parquet", ".csv")


def arrow_schema(table: str) -> Any:
    """The pyarrow schema of ``table`` (``str`` → string, ``int`` → int64, ``float`` → float64, ``date`` → date32)."""
    import pyarrow as pa

    types = {"str": pa.string(), "int": pa.int64(), "float": pa.float64(), "date": pa.date32()}
    return pa.schema([(column, types[rule.kind]) for column, rule in TABLES[table].items()])


_BATCH_ROWS = 1_000_000


def find_table_file(directory: str | Path, table: str) -> Path:
    """Return ``DIR/<table>.parquet`` or ``DIR/<table>.csv``; raise ``InputError`` when neither (or both) exist."""
    found = [Path(directory) / f"{table}{ext}" for ext in _EXTENSIONS if (Path(directory) / f"{table}{ext}").is_file()]
    if not found:
        raise InputError(f"no {table}.parquet or {table}.csv in this directory", file=str(directory))
    if len(found) > 1:
        raise InputError(f"both {table}.parquet and {table}.csv exist: keep one", file=str(directory))
    return found[0]


def read_table_file(path: str | Path, table: str) -> pd.DataFrame:
    """Read and validate one table file (Parquet or CSV); return it with the contract's types."""
    return pd.concat(list(iter_table_file(path, table)), ignore_index=True)


def iter_table_file(path: str | Path, table: str, *, batch_rows: int = _BATCH_ROWS) -> Iterator[pd.DataFrame]:
    """Read one table file in batches, validating each (rows are numbered across the whole file)."""
    name = str(path)
    if Path(path).suffix == ".csv":
        try:
            reader = pd.read_csv(
                path, dtype=str, keep_default_na=False, na_filter=False, chunksize=batch_rows, encoding="utf-8-sig"
            )
            offset = 0
            for chunk in reader:
                yield validate_frame(table, chunk, file=name, first_row=offset + 1)
                offset += len(chunk)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise InputError(f"not a well-formed CSV file ({exc})", file=name) from None
        return
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"not a readable Parquet file ({exc})", file=name) from None
    offset = 0
    for batch in parquet.iter_batches(batch_size=batch_rows):
        frame = batch.to_pandas()
        yield validate_frame(table, frame, file=name, first_row=offset + 1)
        offset += len(frame)


def validate_frame(table: str, frame: pd.DataFrame, *, file: str, first_row: int = 1) -> pd.DataFrame:
    """Check ``frame`` against the contract of ``table`` and return it with the contract's column types.

    Raises :class:`~alliance.errors.InputError` naming ``file``, the data row (``first_row`` is the number of
    the frame's first row; 1 = the first row after a CSV header) and the column of the first bad value.
    Extra columns are dropped; a missing column is an error.
    """
    spec = TABLES[table]
    for column in spec:
        if column not in frame.columns:
            raise InputError(f"missing column (the {table} table needs: {', '.join(spec)})", file=file, column=column)
    out = {}
    for column, rule in spec.items():
        out[column] = _check_column(frame[column], rule, file=file, column=column, first_row=first_row)
    return pd.DataFrame(out)


def _check_column(values: pd.Series, rule: Column, *, file: str, column: str, first_row: int) -> pd.Series:
    raw = values.reset_index(drop=True)
    text = raw.astype("string").str.strip() if raw.dtype == object or pd.api.types.is_string_dtype(raw) else None
    missing = raw.isna() if text is None else (raw.isna() | (text == ""))

    def fail(mask: pd.Series | np.ndarray, message: str) -> None:
        position = int(np.flatnonzero(np.asarray(mask, dtype=bool))[0])
        shown = raw.iloc[position]
        raise InputError(message.format(value=repr(shown)), file=file, row=first_row + position, column=column)

    if not rule.nullable and missing.any():
        fail(missing, "value is missing")
    if rule.kind == "str":
        result = raw.astype("string").str.strip() if text is None else text
        result = result.mask(missing)
        if rule.values is not None:
            bad = ~missing & ~result.isin(rule.values)
            if bad.any():
                fail(bad, f"{{value}} is not one of {', '.join(rule.values)}")
        return result.astype(object).where(~missing, None)
    if rule.kind == "date":
        parsed = pd.to_datetime(raw if text is None else text.mask(missing), errors="coerce", format="mixed")
        bad = parsed.isna() & ~missing
        if bad.any():
            fail(bad, "not a date (YYYY-MM-DD): {value}")
        return parsed.dt.normalize().astype("datetime64[s]")
    numbers = pd.to_numeric(raw if text is None else text.mask(missing), errors="coerce").astype(float)
    bad = numbers.isna() & ~missing
    bad |= ~missing & ~np.isfinite(numbers.fillna(0.0))
    if bad.any():
        fail(bad, "not a number: {value}")
    if rule.kind == "int":
        fractional = numbers.notna() & (numbers != np.round(numbers))
        if fractional.any():
            fail(fractional, "not a whole number: {value}")
    if rule.low is not None and (numbers < rule.low).any():
        fail(numbers < rule.low, f"value {{value}} is below {rule.low:g}")
    if rule.high is not None and (numbers > rule.high).any():
        fail(numbers > rule.high, f"value {{value}} is above {rule.high:g}")
    if rule.kind == "int":
        return numbers.astype("Int64")
    return numbers
