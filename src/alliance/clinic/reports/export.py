"""The research export: the de-identified contract tables written to a folder, recorded in the audit log.

Identifiable bulk export is not offered: :func:`research_export` always de-identifies. The files are those that
``alliance analytics run --data DIR`` reads (one file per table, Parquet or CSV); they are written to a hidden
folder inside DIR first and moved into place only when all four are complete, so a failed export leaves nothing
half-written.
"""

from __future__ import annotations

import getpass
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from django.conf import settings
from django.db import connection

from alliance.clinic.audit.service import record
from alliance.clinic.reports.deidentify import DEFAULT_K, deidentify, load_or_create_key
from alliance.clinic.reports.tables import TABLES, ContractTables, contract_tables
from alliance.errors import InputError, ResourceError

__all__ = [
    "FORMATS",
    "ExportResult",
    "ResearchExport",
    "check_database",
    "default_key_path",
    "research_export",
    "write_tables",
]

FORMATS = ("parquet", "csv")


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote: the files, their row counts and the key used (its path only)."""

    out: Path
    files: dict[str, Path]
    rows: dict[str, int]
    key_path: Path
    key_created: bool


def default_key_path() -> Path:
    """Return where the export key lives unless ``--key-file`` says otherwise: beside the clinic's data."""
    return Path(settings.DATA_DIR) / "research-export.key"


def check_database() -> None:
    """Raise ``ResourceError`` when there is no clinic database to export from (a missing file, no tables)."""
    database = connection.settings_dict
    name = str(database["NAME"])
    in_memory = database["ENGINE"].endswith("sqlite3") and connection.creation.is_in_memory_db(name)  # type: ignore[attr-defined]
    if database["ENGINE"].endswith("sqlite3") and not in_memory and not Path(name).is_file():
        raise ResourceError(
            f"no clinic database at {database['NAME']} (set DATABASE_URL, or run `alliance migrate` first)"
        )
    if "practice_client" not in connection.introspection.table_names():
        raise ResourceError("the database has no clinic tables (run `alliance migrate` first)")


def research_export(
    out: Path,
    *,
    key_file: Path | None = None,
    fmt: str = "parquet",
    k: int = DEFAULT_K,
    practice_ids: list[int] | None = None,
    actor: str | None = None,
) -> ExportResult:
    """Export the clinic's data de-identified into ``out`` and record it in the audit log (who, when, row counts)."""
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r} (choose parquet or csv)")
    _check_out(out)
    key = load_or_create_key(key_file or default_key_path(), out=out)
    check_database()
    tables = deidentify(contract_tables(practice_ids=practice_ids), key=key, k=k)
    files = write_tables(tables, out, fmt=fmt)
    _audit(tables, actor=actor or f"cli:{_os_user()}")
    return ExportResult(out=out, files=files, rows=tables.row_counts(), key_path=key.path, key_created=key.created)


def write_tables(tables: ContractTables, out: Path, *, fmt: str) -> dict[str, Path]:
    """Write the four tables as ``out/<table>.<fmt>``, all or nothing."""
    out.mkdir(exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".export-", dir=out))
    try:
        staged = {}
        for name, frame in tables.as_dict().items():
            path = staging / f"{name}.{fmt}"
            _write(frame, path, fmt=fmt)
            staged[name] = path
        final = {}
        for name in TABLES:
            target = out / staged[name].name
            staged[name].replace(target)
            final[name] = target
        return final
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _write(frame: pd.DataFrame, path: Path, *, fmt: str) -> None:
    if fmt == "csv":
        frame.to_csv(path, index=False, lineterminator="\n")
    else:
        frame.to_parquet(path, index=False)


def _check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise InputError("the output folder is a file", file=str(out))
    if not out.exists() and not out.parent.is_dir():
        raise InputError("the output folder's parent does not exist", file=str(out))
    if out.is_dir() and any(not entry.name.startswith(".export-") for entry in out.iterdir()):
        raise InputError("the output folder is not empty (an export goes into a new or empty folder)", file=str(out))


@dataclass(frozen=True)
class ResearchExport:
    """One exported table as the audit log records it: object type ``ResearchExport``, id ``<table>:<rows>``."""

    table: str
    rows: int

    @property
    def pk(self) -> str:
        return f"{self.table}:{self.rows}"


def _audit(tables: ContractTables, *, actor: str) -> None:
    """One audit event per table: who (``actor``), when, which table and how many rows — never a value."""
    for name, rows in tables.row_counts().items():
        record(None, "export", ResearchExport(name, rows), actor=actor)


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
