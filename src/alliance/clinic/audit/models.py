"""The audit trail: who read or wrote which client's data, when and from where — append-only and hash-chained.

Each event carries a gap-free sequence number, the previous event's hash and its own SHA-256 over a canonical
serialisation of its fields (see ``chain.canonical``). Database triggers (migration 0002) refuse UPDATE, DELETE and
TRUNCATE on the table; ``alliance audit verify`` recomputes the chain. ``AuditChainHead`` is the one row every writer
locks, so events are numbered one at a time and the chain never forks.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

GENESIS = "0" * 64  # the "previous hash" of the first event


class AuditEvent(models.Model):
    class Action(models.TextChoices):
        READ = "read", "Read"
        CREATE = "create", "Create"
        UPDATE = "update", "Update"
        DELETE = "delete", "Delete"
        EXPORT = "export", "Export"
        LOGIN = "login", "Log in"
        LOGIN_FAILED = "login_failed", "Failed log-in"
        LOGOUT = "logout", "Log out"
        LOCKOUT = "lockout", "Locked out (too many failures)"
        MFA_RESET = "mfa_reset", "Authenticator reset"
        ERASE = "erase", "Identifying data erased"
        BACKUP = "backup", "Backup"
        RESTORE = "restore", "Restore"

    seq = models.BigIntegerField(unique=True, help_text="Position in the chain: 1, 2, 3 … without gaps.")
    at = models.DateTimeField(default=timezone.now, db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True)
    actor = models.CharField(max_length=150, help_text="Username, or 'client-link' / 'kiosk' for client answers.")
    action = models.CharField(max_length=20, choices=Action.choices)
    object_type = models.CharField(max_length=60, blank=True)
    object_id = models.CharField(max_length=60, blank=True)
    client_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    path = models.CharField(max_length=300, blank=True)
    method = models.CharField(max_length=10, blank=True)
    details = models.JSONField(default=dict, blank=True, help_text="Small facts (never answers or notes).")
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["seq"]

    def __str__(self) -> str:
        return f"#{self.seq} {self.at:%Y-%m-%d %H:%M:%S} {self.actor} {self.action} {self.object_type} {self.object_id}"


class AuditChainHead(models.Model):
    """The last event's sequence number and hash (one row, id 1): locked by every writer, checked by verify."""

    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64, default=GENESIS)

    def __str__(self) -> str:
        return f"audit chain head #{self.seq} {self.hash[:12]}"
