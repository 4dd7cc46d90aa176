"""``alliance backup`` / ``alliance restore``: a round trip gives back every table row by row, the audit chain verifies,
nothing is overwritten without --force, and bad files or missing tools are one clear line (exit 2)."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest
from clinic_factories import MakeClient, alliance, gad7, phq9
from django.db import connection
from typer.testing import CliRunner

from alliance.cli import app
from alliance.clinic import backup as backups
from alliance.clinic.accounts.models import User
from alliance.clinic.audit.models import AuditChainHead, AuditEvent
from alliance.clinic.audit.service import record
from alliance.errors import AllianceError

pytestmark = pytest.mark.django_db(transaction=True)  # pg_dump reads committed data only
runner = CliRunner()


def every_row() -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of the clinic database, in a stable order, as the database returns it."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with connection.cursor() as cursor:
        for table in sorted(connection.introspection.table_names()):
            cursor.execute(f'SELECT * FROM "{table}"')
            rows = [tuple(bytes(v) if isinstance(v, memoryview) else v for v in row) for row in cursor.fetchall()]
            out[table] = sorted(rows, key=repr)
    return out


@pytest.fixture
def practice_data(cast: dict[str, User], make_client: MakeClient) -> None:
    make_client(
        cast["ana"],
        code="C-1",
        sessions=[
            {"phq9": phq9(2), "gad7": gad7(1), "alliance-client": alliance(8)},
            {"phq9": phq9(1, item9=1), "gad7": gad7(1), "alliance-client": alliance(5)},
        ],
    )
    make_client(cast["eve"], code="C-2", sessions=[{"phq9": phq9(3)}])
    record(None, "login", user=cast["ana"])


def test_a_backup_restored_gives_back_every_table_row_by_row(
    practice_data: None, tmp_path: Path, cast: dict[str, User], make_client: MakeClient
) -> None:
    before = every_row()
    assert before["checkins_checkin"] and before["audit_auditevent"]
    out = tmp_path / "clinic.backup"
    made = runner.invoke(app, ["backup", "--out", str(out)])
    assert made.exit_code == 0, made.stderr
    assert "written to" in made.stdout and out.stat().st_size > 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600

    make_client(cast["ben"], code="C-3", sessions=[{"phq9": phq9(1)}])  # changes after the backup
    refused = runner.invoke(app, ["restore", str(out)])
    assert refused.exit_code == 2 and "already holds data" in refused.stderr and "--force" in refused.stderr

    restored = runner.invoke(app, ["restore", str(out), "--force"])
    assert restored.exit_code == 0, restored.stderr
    assert "audit log intact" in restored.stdout
    after = every_row()
    # The backup and the restore are themselves audited, after the snapshot: set those events (and the chain head
    # that now points at the last of them) aside, and every other row of every table is what it was.
    seq_before = len(before["audit_auditevent"])
    late = list(AuditEvent.objects.filter(seq__gt=seq_before).order_by("seq").values_list("action", flat=True))
    assert late == ["restore"]  # the backup's own event came after the snapshot it took
    late_ids = set(AuditEvent.objects.filter(seq__gt=seq_before).values_list("pk", flat=True))
    after["audit_auditevent"] = [row for row in after["audit_auditevent"] if row[0] not in late_ids]
    head_table = AuditChainHead._meta.db_table
    assert len(after[head_table]) == 1
    del before[head_table], after[head_table]
    assert after.keys() == before.keys()
    for table in before:
        assert after[table] == before[table], f"table {table} differs after the restore"
    verified = runner.invoke(app, ["audit", "verify"])
    assert verified.exit_code == 0, verified.stderr


def test_backup_never_overwrites_a_file_without_force(practice_data: None, tmp_path: Path) -> None:
    out = tmp_path / "clinic.backup"
    out.write_bytes(b"an older backup")
    refused = runner.invoke(app, ["backup", "--out", str(out)])
    assert refused.exit_code == 2
    assert refused.stderr.strip().count("\n") == 0 and "already exists" in refused.stderr
    assert out.read_bytes() == b"an older backup"
    forced = runner.invoke(app, ["backup", "--out", str(out), "--force"])
    assert forced.exit_code == 0, forced.stderr
    assert out.read_bytes() != b"an older backup"
    assert not list(tmp_path.glob(".*partial"))


@pytest.mark.parametrize("content", [b"", b"not a database at all\n", b"SQLite format 3\x00" + b"\x00" * 200])
def test_restoring_something_that_is_not_a_backup_is_one_line_naming_the_file(
    practice_data: None, tmp_path: Path, content: bytes
) -> None:
    bad = tmp_path / "bad.backup"
    bad.write_bytes(content)
    before = every_row()
    result = runner.invoke(app, ["restore", str(bad), "--force"])
    assert result.exit_code == 2, result.stdout
    assert str(bad) in result.stderr and result.stderr.strip().count("\n") == 0
    assert every_row() == before


def test_a_missing_file_is_one_line(db: Any, tmp_path: Path) -> None:
    result = runner.invoke(app, ["restore", str(tmp_path / "nothing.backup")])
    assert result.exit_code == 2 and "no such backup file" in result.stderr


def test_without_the_postgresql_tools_the_error_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", "")
    with pytest.raises(AllianceError, match=r"pg_dump not found on PATH: install the PostgreSQL client tools"):
        backups._tool("pg_dump")
    if connection.vendor == "postgresql":
        result = runner.invoke(app, ["backup", "--out", str(tmp_path / "clinic.backup")])
        assert result.exit_code == 2 and "postgresql-client" in result.stderr
