"""Backups of the clinic database that ``DATABASE_URL`` names, and restoring one into it.

SQLite: SQLite's online backup API copies the database page by page in one step under a read lock, so the copy is a
consistent snapshot even while the server keeps writing (WAL). PostgreSQL: ``pg_dump --format=custom`` and
``pg_restore --clean --if-exists --single-transaction``; the tools must be on PATH (Debian: postgresql-client).

Backups are copies of the stored bytes: encrypted fields stay encrypted, and the hash-chained audit log comes back
intact (``alliance audit verify`` passes after a restore). Nothing is overwritten silently: an existing backup file
or a database that already holds data needs ``force``. Backup files are created readable by their owner only.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import connection

from alliance.clinic.audit.service import record
from alliance.errors import AllianceError, InputError

__all__ = ["BackupResult", "backup", "database_has_data", "restore"]

SQLITE_MAGIC = b"SQLite format 3\x00"


@dataclass(frozen=True)
class BackupResult:
    path: Path
    engine: str
    bytes: int


def backup(out: Path, *, force: bool = False) -> BackupResult:
    """Write a backup of the clinic database to ``out``; refuse to replace an existing file unless ``force``."""
    out = Path(out)
    if out.exists() and not force:
        raise AllianceError(f"{out}: already exists (use --force to overwrite it)")
    if not out.parent.is_dir():
        raise AllianceError(f"{out.parent}: no such directory")
    partial = out.with_name(f".{out.name}.partial")
    partial.unlink(missing_ok=True)
    os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    try:
        if connection.vendor == "sqlite":
            _sqlite_backup(partial)
        else:
            _pg_dump(partial)
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    size = out.stat().st_size
    record(None, "backup", actor="alliance backup", details={"file": out.name, "engine": connection.vendor})
    return BackupResult(out, connection.vendor, size)


def restore(file: Path, *, force: bool = False) -> str:
    """Restore ``file`` into the clinic database; refuse a database that holds data unless ``force``."""
    file = Path(file)
    if not file.is_file():
        raise AllianceError(f"{file}: no such backup file")
    if database_has_data() and not force:
        raise AllianceError(
            f"the database ({_describe()}) already holds data: restoring replaces it (use --force to go ahead)"
        )
    if connection.vendor == "sqlite":
        _sqlite_restore(file)
    else:
        _pg_restore(file)
    connection.close()
    record(None, "restore", actor="alliance restore", details={"file": file.name, "engine": connection.vendor})
    return _describe()


def database_has_data() -> bool:
    """Whether the clinic database already has a schema with any migration applied."""
    tables = connection.introspection.table_names()
    if "django_migrations" not in tables:
        return bool(tables)
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM django_migrations")
        row = cursor.fetchone()
    return bool(row and row[0])


def _describe() -> str:
    settings: dict[str, Any] = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite {settings['NAME']}"
    return f"postgresql {settings['NAME']}"


# -- SQLite -------------------------------------------------------------------------------------------------------


def _sqlite_backup(target: Path) -> None:
    connection.ensure_connection()
    source: sqlite3.Connection = connection.connection
    destination = sqlite3.connect(target)
    try:
        source.backup(destination)  # all pages in one step: a consistent snapshot
    finally:
        destination.close()


def _sqlite_restore(file: Path) -> None:
    with file.open("rb") as handle:
        if handle.read(len(SQLITE_MAGIC)) != SQLITE_MAGIC:
            raise InputError("not an alliance SQLite backup (no SQLite header)", file=str(file))
    source = sqlite3.connect(f"file:{file}?mode=ro", uri=True)
    try:
        try:
            names = {row[0] for row in source.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            check = source.execute("PRAGMA quick_check").fetchone()
        except sqlite3.DatabaseError as exc:
            raise InputError(f"not a readable SQLite database ({exc})", file=str(file)) from None
        if "django_migrations" not in names or "audit_auditevent" not in names:
            raise InputError("not an alliance backup (no clinic tables)", file=str(file))
        if not check or check[0] != "ok":
            raise InputError(f"the backup is damaged ({check[0] if check else 'no answer'})", file=str(file))
        connection.close()
        connection.ensure_connection()
        source.backup(connection.connection)
    finally:
        source.close()


# -- PostgreSQL ---------------------------------------------------------------------------------------------------


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise AllianceError(
            f"{name} not found on PATH: install the PostgreSQL client tools of the server's major version "
            "(Debian: apt-get install postgresql-client)"
        )
    return found


def _pg_environment() -> dict[str, str]:
    settings: dict[str, Any] = connection.settings_dict
    env = dict(os.environ)
    for key, variable in (("HOST", "PGHOST"), ("PORT", "PGPORT"), ("USER", "PGUSER"), ("PASSWORD", "PGPASSWORD")):
        if settings.get(key):
            env[variable] = str(settings[key])
    env["PGDATABASE"] = str(settings["NAME"])
    return env


def _run(command: list[str], what: str) -> None:
    done = subprocess.run(command, env=_pg_environment(), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        message = " ".join((done.stderr or done.stdout).split())[:500]
        raise AllianceError(f"{what} failed (exit {done.returncode}): {message}")


def _pg_dump(target: Path) -> None:
    _run([_tool("pg_dump"), "--format=custom", "--file", str(target)], "pg_dump")


def _pg_restore(file: Path) -> None:
    tool = _tool("pg_restore")
    listing = subprocess.run([tool, "--list", str(file)], capture_output=True, text=True, check=False)
    if listing.returncode != 0:
        raise InputError("not a pg_dump custom-format backup", file=str(file))
    if "audit_auditevent" not in listing.stdout:
        raise InputError("not an alliance backup (no clinic tables)", file=str(file))
    connection.close()  # no open transaction of ours may hold locks on the tables being replaced
    _run(
        [
            tool,
            "--clean",
            "--if-exists",
            "--no-owner",
            "--single-transaction",
            "--exit-on-error",
            "--dbname",
            str(connection.settings_dict["NAME"]),
            str(file),
        ],
        "pg_restore",
    )
