"""Failed-attempt counting and lockout, in the database so that every server process shares the counts.

A *scope* is what failures are counted against: an account (``account:<username>``, whether or not the user
exists, so a lockout reveals nothing about which names are real) or a network address (``ip:<address>`` for
log-ins, ``api:<address>`` for bearer tokens, ``link:<address>`` for check-in link tokens). A scope is locked
when ``failures`` attempts failed within ``window`` seconds; the lock lasts ``lockout`` seconds after the last of
them. While locked, attempts are refused without being checked and are not counted (so the lock does not grow).

The limits come from settings (docs/security-accounts.md): by default 5 failures per account and 20 per address
within 15 minutes lock for 15 minutes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone

from alliance.clinic.accounts.models import LoginFailure

__all__ = [
    "Limit",
    "Scope",
    "account",
    "account_limit",
    "address",
    "address_limit",
    "clear",
    "client_ip",
    "fail",
    "locked_until",
    "login_scopes",
    "retry_minutes",
]


@dataclass(frozen=True)
class Limit:
    """``failures`` within ``window`` lock for ``lockout``."""

    failures: int
    window: dt.timedelta
    lockout: dt.timedelta


@dataclass(frozen=True)
class Scope:
    """What failures are counted against, with its limit; ``key`` is the stored (hashed) form."""

    kind: str
    value: str
    limit: Limit

    @property
    def key(self) -> str:
        return hashlib.sha256(f"{self.kind}:{self.value}".encode()).hexdigest()


def account_limit() -> Limit:
    return Limit(
        failures=settings.ALLIANCE_LOCKOUT_ACCOUNT_FAILURES,
        window=dt.timedelta(seconds=settings.ALLIANCE_LOCKOUT_WINDOW_SECONDS),
        lockout=dt.timedelta(seconds=settings.ALLIANCE_LOCKOUT_SECONDS),
    )


def address_limit() -> Limit:
    return Limit(
        failures=settings.ALLIANCE_LOCKOUT_ADDRESS_FAILURES,
        window=dt.timedelta(seconds=settings.ALLIANCE_LOCKOUT_WINDOW_SECONDS),
        lockout=dt.timedelta(seconds=settings.ALLIANCE_LOCKOUT_SECONDS),
    )


def client_ip(request: HttpRequest | None) -> str:
    """The address a request came from (as the audit log records it), or ``unknown``."""
    if request is None:
        return "unknown"
    return str(request.META.get("REMOTE_ADDR") or "unknown")


def account(username: str) -> Scope:
    """The scope of a username as typed (an unknown name is counted like a real one)."""
    return Scope("account", username[:150], account_limit())


def address(request: HttpRequest | None, kind: str = "ip") -> Scope:
    """The scope of the request's address; ``kind`` keeps log-ins, API tokens and link tokens apart."""
    return Scope(kind, client_ip(request), address_limit())


def login_scopes(request: HttpRequest | None, username: str) -> tuple[Scope, Scope]:
    """The account and the address a log-in attempt counts against."""
    return account(username), address(request)


def locked_until(scopes: Iterable[Scope], *, now: dt.datetime | None = None) -> dt.datetime | None:
    """Return when the last lock among ``scopes`` ends, or None when none of them is locked now."""
    now = now or timezone.now()
    latest: dt.datetime | None = None
    for scope in scopes:
        limit = scope.limit
        recent = list(
            LoginFailure.objects.filter(scope=scope.key, at__gt=now - limit.window - limit.lockout)
            .order_by("-at")
            .values_list("at", flat=True)[: limit.failures]
        )
        if len(recent) < limit.failures or recent[0] - recent[-1] > limit.window:
            continue
        until = recent[0] + limit.lockout
        if until > now and (latest is None or until > latest):
            latest = until
    return latest


def fail(scopes: Iterable[Scope], kind: str, *, now: dt.datetime | None = None) -> dt.datetime | None:
    """Count one failed attempt against each of ``scopes``; return when the lock ends if this locked one."""
    now = now or timezone.now()
    chosen = list(scopes)
    LoginFailure.objects.bulk_create([LoginFailure(scope=scope.key, kind=kind[:20], at=now) for scope in chosen])
    # Rows older than any window still in force are of no use: keep the table small.
    oldest = max((scope.limit.window + scope.limit.lockout for scope in chosen), default=dt.timedelta(0))
    LoginFailure.objects.filter(at__lt=now - max(oldest, dt.timedelta(days=1))).delete()
    return locked_until(chosen, now=now)


def clear(scope: Scope) -> None:
    """Forget the failures of ``scope`` (an account after a complete, successful log-in)."""
    LoginFailure.objects.filter(scope=scope.key).delete()


def retry_minutes(until: dt.datetime, *, now: dt.datetime | None = None) -> int:
    """Whole minutes (at least 1) until ``until``."""
    seconds = (until - (now or timezone.now())).total_seconds()
    return max(1, int(-(-seconds // 60)))
