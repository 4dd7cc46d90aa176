"""Record audit events; the one function every view, API route and command calls."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from alliance.clinic.audit.chain import append
from alliance.clinic.audit.models import AuditEvent


def record(
    request: HttpRequest | None,
    action: str,
    obj: Any = None,
    *,
    client_id: int | None = None,
    actor: str | None = None,
    user: Any = None,
    details: dict[str, str | int | bool | None] | None = None,
) -> AuditEvent:
    """Append an audit event for ``action`` on ``obj`` to the hash chain (never the content of answers or notes).

    ``details`` holds small facts only (a file name, a count, a filter): strings, whole numbers, booleans.
    """
    user = user if user is not None else (getattr(request, "user", None) if request is not None else None)
    if user is not None and not getattr(user, "is_authenticated", False):
        user = None
    if client_id is None and obj is not None:
        client_id = getattr(obj, "client_id", None)
        if client_id is None and type(obj).__name__ == "Client":
            client_id = obj.pk
    return append(
        AuditEvent(
            user=user,
            actor=actor or (user.get_username() if user is not None else "anonymous"),
            action=action,
            object_type=type(obj).__name__ if obj is not None else "",
            object_id=str(getattr(obj, "pk", "") or "") if obj is not None else "",
            client_id=client_id,
            ip=_client_ip(request),
            path=request.path[:300] if request is not None else "",
            method=request.method or "" if request is not None else "",
            details=dict(details or {}),
        )
    )


def _client_ip(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    address = request.META.get("REMOTE_ADDR")
    return address or None
