"""Shared fixtures: the study data beside the checkout (../shared/data), skipped with a reason when absent."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Return ``../shared/data``; skip when a fresh clone has no study data beside it (CI always has it)."""
    if not SHARED_DATA.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"CI must have the study data at {SHARED_DATA}: golden tests may not be skipped")
        pytest.skip(f"study data not found at {SHARED_DATA} (CI has it beside the checkout)")
    return SHARED_DATA


@pytest.fixture(scope="session", autouse=True)
def _flush_past_the_audit_guard() -> None:
    """Let a transactional test's teardown flush empty the append-only audit table.

    The audit table refuses DELETE and TRUNCATE (triggers); Django's test flush drops the triggers, empties the
    tables and puts the triggers back, in one transaction. Only tests do this.
    """
    from django.db.backends.postgresql.base import DatabaseOperations as PostgresOperations
    from django.db.backends.sqlite3.base import DatabaseOperations as SqliteOperations

    from alliance.clinic.audit.chain import TABLE, install_guard_sql, remove_guard_sql

    for operations in (PostgresOperations, SqliteOperations):
        original = operations.sql_flush
        if getattr(original, "_passes_audit_guard", False):
            continue

        def sql_flush(self: Any, style: Any, tables: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            statements = list(_original(self, style, tables, *args, **kwargs))
            if TABLE not in tables:
                return statements
            vendor = self.connection.vendor
            return [*remove_guard_sql(vendor), *statements, *install_guard_sql(vendor)]

        sql_flush._passes_audit_guard = True  # type: ignore[attr-defined]
        operations.sql_flush = sql_flush  # type: ignore[method-assign]
