"""The audit hash chain: canonical serialisation, appending one event at a time, verification, and the triggers.

Hash of event n = SHA-256 of the canonical JSON (sorted keys, no spaces, UTF-8) of its sequence number, time (UTC,
microseconds), user id, actor, action, object type and id, client id, IP, path, method, details and the hash of
event n − 1 (64 zeros for the first). Editing, deleting, inserting or reordering any event breaks the chain at that
point; deleting events from the end is caught by the chain head.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction

from alliance.clinic.audit.models import GENESIS, AuditChainHead, AuditEvent

__all__ = [
    "GUARD_TRIGGERS",
    "Problem",
    "Verified",
    "append",
    "canonical",
    "compute_hash",
    "guard_installed",
    "install_guard_sql",
    "remove_guard_sql",
    "verify",
]

TABLE = AuditEvent._meta.db_table
GUARD_TRIGGERS = (f"{TABLE}_no_update", f"{TABLE}_no_delete", f"{TABLE}_no_truncate")
_HEAD = 1


def canonical(fields: Mapping[str, Any]) -> bytes:
    """Return the bytes that are hashed for one event (``fields`` as ``_fields`` returns them)."""
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _time(moment: dt.datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds")


def _fields(event: AuditEvent) -> dict[str, Any]:
    return {
        "seq": int(event.seq),
        "at": _time(event.at),
        "user": event.user_id,
        "actor": event.actor,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "client": event.client_id,
        "ip": event.ip or None,
        "path": event.path,
        "method": event.method,
        "details": event.details or {},
        "prev": event.prev_hash,
    }


def compute_hash(event: AuditEvent) -> str:
    """Return the SHA-256 (hex) of ``event``'s canonical serialisation."""
    return hashlib.sha256(canonical(_fields(event))).hexdigest()


def append(event: AuditEvent) -> AuditEvent:
    """Number, chain and insert ``event`` (unsaved), one writer at a time; return it saved.

    The chain head row is locked (SELECT … FOR UPDATE on PostgreSQL; on SQLite every write transaction begins
    IMMEDIATE, which already admits one writer at a time) until the surrounding transaction commits.
    """
    # No savepoint of its own: inside a request's transaction an audit failure must fail the whole request anyway.
    with transaction.atomic(savepoint=False):
        head = AuditChainHead.objects.select_for_update().filter(pk=_HEAD).first()
        if head is None:  # a new (or flushed) database: start from whatever the table holds
            last = AuditEvent.objects.order_by("-seq").first()
            head = AuditChainHead.objects.create(
                pk=_HEAD, seq=last.seq if last else 0, hash=last.hash if last else GENESIS
            )
            head = AuditChainHead.objects.select_for_update().get(pk=_HEAD)
        event.seq = head.seq + 1
        event.prev_hash = head.hash
        # Hash what the database will hand back: an IPv6 address is stored in its normalised form.
        event.ip = AuditEvent._meta.get_field("ip").get_prep_value(event.ip) or None
        event.hash = compute_hash(event)
        event.save(force_insert=True)
        AuditChainHead.objects.filter(pk=_HEAD).update(seq=event.seq, hash=event.hash)
    return event


@dataclass(frozen=True)
class Problem:
    """The first place the chain is broken: the event (by sequence number and row id) and what is wrong."""

    seq: int
    row_id: int | None
    message: str

    def __str__(self) -> str:
        where = f"record #{self.seq}" + (f" (row id {self.row_id})" if self.row_id is not None else "")
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class Verified:
    records: int
    head_seq: int
    head_hash: str
    problem: Problem | None


def _events() -> Iterator[AuditEvent]:
    return AuditEvent.objects.order_by("seq", "pk").iterator(chunk_size=2000)


def verify() -> Verified:
    """Walk the whole log in sequence order and return the first problem (or none)."""
    expected_seq = 1
    previous = GENESIS
    count = 0
    for event in _events():
        count += 1
        if event.seq != expected_seq:
            if event.seq > expected_seq:
                message = f"missing (deleted): the log jumps from #{expected_seq - 1} to #{event.seq}"
                return Verified(count, event.seq, event.hash, Problem(expected_seq, None, message))
            message = f"sequence number repeats or goes back (expected #{expected_seq}): reordered or inserted"
            return Verified(count, event.seq, event.hash, Problem(event.seq, event.pk, message))
        if compute_hash(event) != event.hash:
            return Verified(
                count,
                event.seq,
                event.hash,
                Problem(event.seq, event.pk, "its content does not match its hash (edited, reordered or forged)"),
            )
        if event.prev_hash != previous:
            return Verified(
                count,
                event.seq,
                event.hash,
                Problem(
                    event.seq,
                    event.pk,
                    "its previous-hash link does not match the record before it "
                    "(a record was inserted, removed or reordered before it)",
                ),
            )
        previous = event.hash
        expected_seq += 1
    last_seq = expected_seq - 1
    head = AuditChainHead.objects.filter(pk=_HEAD).first()
    if head is None:
        if count:
            return Verified(count, last_seq, previous, Problem(last_seq, None, "the chain head row is missing"))
    elif head.seq != last_seq or head.hash != previous:
        return Verified(
            count,
            last_seq,
            previous,
            Problem(
                head.seq if head.seq > last_seq else last_seq,
                None,
                f"the log ends at #{last_seq} but the chain head says #{head.seq}: records were deleted from the end "
                "or the head was altered",
            ),
        )
    return Verified(count, last_seq, previous, None)


def install_guard_sql(vendor: str) -> list[str]:
    """Return the SQL that makes the audit table append-only on ``vendor`` (sqlite or postgresql)."""
    no_update, no_delete, no_truncate = GUARD_TRIGGERS
    if vendor == "sqlite":
        return [
            f'CREATE TRIGGER IF NOT EXISTS "{no_update}" BEFORE UPDATE ON "{TABLE}" '
            "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: UPDATE refused'); END",
            f'CREATE TRIGGER IF NOT EXISTS "{no_delete}" BEFORE DELETE ON "{TABLE}" '
            "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: DELETE refused'); END",
        ]
    if vendor == "postgresql":
        return [
            "CREATE OR REPLACE FUNCTION alliance_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION USING MESSAGE = 'the audit log is append-only: ' || TG_OP || ' refused'; END $$",
            f'CREATE OR REPLACE TRIGGER "{no_update}" BEFORE UPDATE ON "{TABLE}" '
            "FOR EACH ROW EXECUTE FUNCTION alliance_audit_append_only()",
            f'CREATE OR REPLACE TRIGGER "{no_delete}" BEFORE DELETE ON "{TABLE}" '
            "FOR EACH ROW EXECUTE FUNCTION alliance_audit_append_only()",
            f'CREATE OR REPLACE TRIGGER "{no_truncate}" BEFORE TRUNCATE ON "{TABLE}" '
            "FOR EACH STATEMENT EXECUTE FUNCTION alliance_audit_append_only()",
        ]
    raise ValueError(f"no audit guard for database {vendor!r}")


def remove_guard_sql(vendor: str) -> list[str]:
    """Return the SQL that drops the guard (what an attacker with database access, or a test's flush, does)."""
    if vendor == "sqlite":
        return [f'DROP TRIGGER IF EXISTS "{name}"' for name in GUARD_TRIGGERS[:2]]
    if vendor == "postgresql":
        return [f'DROP TRIGGER IF EXISTS "{name}" ON "{TABLE}"' for name in GUARD_TRIGGERS]
    raise ValueError(f"no audit guard for database {vendor!r}")


def guard_installed() -> bool:
    """Whether every trigger of the guard exists on the default database."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s", [TABLE])
            wanted = set(GUARD_TRIGGERS[:2])
        else:
            cursor.execute(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal", [f'"{TABLE}"']
            )
            wanted = set(GUARD_TRIGGERS)
        return wanted <= {row[0] for row in cursor.fetchall()}
