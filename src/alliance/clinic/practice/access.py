"""The one rule of who sees which client: a therapist their own, a supervisor their team's, an admin the practice's.

Session transcripts have a narrower rule (:func:`transcript_filter`): the treating therapist, and the supervisor only
with the client's recorded consent.
"""

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


def transcript_filter(user: Any, path: str = "client") -> Q:
    """Return a filter selecting the session transcripts (and their feedback) ``user`` may see.

    Narrower than :func:`client_filter`: what was said in a session is for the treating therapist; the team's
    supervisor sees it only while the client's consent to supervision is recorded; other therapists, practice admins
    and other practices see nothing (404). ``path`` leads from the model to its client.
    """
    prefix = f"{path}__" if path else ""
    nothing = Q(pk__in=[])
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return nothing
    if user.practice_id is None or user.role not in ("therapist", "supervisor"):
        return nothing
    treating = Q(**{f"{prefix}practice_id": user.practice_id, f"{prefix}therapist_id": user.pk})
    if user.role == "supervisor":
        supervised = Q(
            **{
                f"{prefix}practice_id": user.practice_id,
                f"{prefix}therapist__team__supervisor_id": user.pk,
                f"{prefix}consent_supervision": True,
            }
        )
        return treating | supervised
    return treating


def treating_filter(user: Any, path: str = "client") -> Q:
    """Return a filter selecting what only the treating therapist may change (upload, delete, record consent)."""
    prefix = f"{path}__" if path else ""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active or user.practice_id is None:
        return Q(pk__in=[])
    return Q(**{f"{prefix}practice_id": user.practice_id, f"{prefix}therapist_id": user.pk})
