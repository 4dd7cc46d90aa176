"""The one rule of who sees which client: a therapist their own, a supervisor their team's, an admin the practice's."""

from __future__ import annotations

from typing import Any

from django.db.models import Q


def client_filter(user: Any, path: str = "") -> Q:
    """Return a filter selecting the clients ``user`` may see; ``path`` leads from a model to its client.

    Anything outside it must answer 404 (not 403), so nobody learns that an object exists.
    """
    prefix = f"{path}__" if path else ""
    nothing = Q(pk__in=[])
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return nothing
    if user.practice_id is None:
        return nothing
    same_practice = Q(**{f"{prefix}practice_id": user.practice_id})
    if user.role == "admin":
        return same_practice
    if user.role == "supervisor":
        return same_practice & (
            Q(**{f"{prefix}therapist__team__supervisor_id": user.pk}) | Q(**{f"{prefix}therapist_id": user.pk})
        )
    if user.role == "therapist":
        return same_practice & Q(**{f"{prefix}therapist_id": user.pk})
    return nothing
