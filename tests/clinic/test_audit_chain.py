"""The audit log is append-only and hash-chained: verify passes on an intact log and names the first bad record."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction
from typer.testing import CliRunner

from alliance.cli import app
from alliance.clinic.accounts.models import User
from alliance.clinic.audit.chain import GUARD_TRIGGERS, TABLE, compute_hash, guard_installed, remove_guard_sql, verify
from alliance.clinic.audit.models import GENESIS, AuditChainHead, AuditEvent
from alliance.clinic.audit.service import record

runner = CliRunner()


@pytest.fixture
def log(db: Any, ana: User) -> list[AuditEvent]:
    """Six events by ana (the database may already hold events of the fixtures: the chain starts wherever it is)."""
    for number in range(6):
        record(None, "read", user=ana, client_id=100 + number, details={"n": number})
    return list(AuditEvent.objects.order_by("seq"))


def sql(statement: str, params: list[Any] | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params or [])


def drop_guard() -> None:
    """What an attacker with database access does first."""
    for statement in remove_guard_sql(connection.vendor):
        sql(statement)


def cli_verify() -> tuple[int, str]:
    result = runner.invoke(app, ["audit", "verify"])
    return result.exit_code, result.stdout + result.stderr


def test_each_event_is_numbered_and_chained_to_the_one_before(log: list[AuditEvent]) -> None:
    assert [event.seq for event in log] == list(range(1, len(log) + 1))
    assert log[0].prev_hash == GENESIS
    for before, after in itertools.pairwise(log):
        assert after.prev_hash == before.hash
    head = AuditChainHead.objects.get(pk=1)
    assert (head.seq, head.hash) == (log[-1].seq, log[-1].hash)


def test_the_hash_is_sha256_of_the_documented_canonical_form(log: list[AuditEvent], ana: User) -> None:
    event = log[-1]
    fields = {
        "seq": event.seq,
        "at": event.at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        "user": ana.pk,
        "actor": "ana",
        "action": "read",
        "object_type": "",
        "object_id": "",
        "client": 105,
        "ip": None,
        "path": "",
        "method": "",
        "details": {"n": 5},
        "prev": log[-2].hash,
    }
    stored = AuditEvent.objects.get(pk=event.pk)  # as read back from the database
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert stored.hash == hashlib.sha256(canonical).hexdigest() == compute_hash(stored)


def test_an_intact_log_verifies_and_the_command_exits_0(log: list[AuditEvent]) -> None:
    result = verify()
    assert result.problem is None and result.records == len(log) and result.head_hash == log[-1].hash
    code, output = cli_verify()
    assert code == 0, output
    assert f"audit log intact: {len(log)} records" in output


def test_the_database_refuses_update_and_delete(log: list[AuditEvent]) -> None:
    assert guard_installed()
    for statement in (f'UPDATE "{TABLE}" SET actor = %s', f'DELETE FROM "{TABLE}" WHERE seq = 3'):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            sql(statement, ["mallory"] if "%s" in statement else None)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(seq=2).update(actor="mallory")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(seq=2).delete()
    if connection.vendor == "postgresql":
        sql("SET CONSTRAINTS ALL IMMEDIATE")  # no deferred foreign-key checks pending in the test's transaction
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            sql(f'TRUNCATE "{TABLE}" CASCADE')
    assert verify().problem is None


@pytest.mark.parametrize(
    ("tampering", "bad_seq", "words"),
    [
        ("edit", 3, "does not match its hash"),
        ("delete", 3, "missing"),
        ("delete-last", 6, "chain head"),
        ("reorder", 3, "does not match its hash"),
        ("insert", 4, "does not match its hash"),
    ],
)
def test_tampering_is_found_at_the_first_bad_record(
    log: list[AuditEvent], tampering: str, bad_seq: int, words: str
) -> None:
    drop_guard()
    third = log[2]
    if tampering == "edit":
        sql(f'UPDATE "{TABLE}" SET actor = %s WHERE id = %s', ["someone-else", third.pk])
    elif tampering == "delete":
        sql(f'DELETE FROM "{TABLE}" WHERE id = %s', [third.pk])
    elif tampering == "delete-last":
        sql(f'DELETE FROM "{TABLE}" WHERE id = %s', [log[-1].pk])
    elif tampering == "reorder":  # swap the places of records 3 and 4
        sql(f'UPDATE "{TABLE}" SET seq = -1 WHERE id = %s', [third.pk])
        sql(f'UPDATE "{TABLE}" SET seq = 3 WHERE id = %s', [log[3].pk])
        sql(f'UPDATE "{TABLE}" SET seq = 4 WHERE id = %s', [third.pk])
    else:  # insert a forged record after #3, well-formed and correctly hashed, and renumber the rest
        for event in reversed(log[3:]):
            sql(f'UPDATE "{TABLE}" SET seq = seq + 1 WHERE id = %s', [event.pk])
        forged = AuditEvent(seq=4, actor="ana", action="read", client_id=999, prev_hash=third.hash)
        forged.at = third.at
        forged.hash = compute_hash(forged)
        forged.save(force_insert=True)
        bad_seq = 5  # the forged record itself is well-formed: the break shows at the record after it
    result = verify()
    assert result.problem is not None
    assert result.problem.seq == bad_seq, result.problem
    assert words in result.problem.message
    code, output = cli_verify()
    assert code == 1
    assert f"record #{bad_seq}" in output and "BROKEN" in output


def test_the_guard_triggers_are_the_documented_ones() -> None:
    assert tuple(f"audit_auditevent_no_{what}" for what in ("update", "delete", "truncate")) == GUARD_TRIGGERS


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_never_fork_the_chain(ana: User) -> None:
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    if connection.vendor != "postgresql":
        pytest.skip("SQLite admits one writer at a time (BEGIN IMMEDIATE); the race needs a database server")
    start = Barrier(6)

    def write(worker: int) -> None:
        try:
            start.wait(timeout=10)
            for number in range(15):
                with transaction.atomic():
                    record(None, "read", user=ana, client_id=worker * 100 + number)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(write, range(6)))
    seqs = list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) >= 90
    assert verify().problem is None


def test_an_ipv6_address_is_hashed_as_the_database_returns_it(db: Any, ana: User) -> None:
    from django.test import RequestFactory

    request = RequestFactory().get("/caseload/", REMOTE_ADDR="2001:0db8:0000:0000:0000:0000:0000:0001")
    stored = record(request, "read", user=ana)
    assert AuditEvent.objects.get(pk=stored.pk).ip == "2001:db8::1"
    assert verify().problem is None
