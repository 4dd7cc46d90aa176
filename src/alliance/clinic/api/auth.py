"""Bearer-token authentication for the API: ``Authorization: Bearer <token>`` (see ``alliance token create``)."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest
from django.utils import timezone
from ninja.errors import Throttled
from ninja.security import HttpBearer

from alliance.clinic.accounts import lockout
from alliance.clinic.accounts.models import ApiToken, User, hash_token
from alliance.clinic.audit.service import record

__all__ = ["LAST_USED_RESOLUTION", "BearerToken", "user_for_token"]

# Writing last_used_at on every request would turn each read into a write; once a minute is enough to audit use.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


def user_for_token(token: str) -> User | None:
    """Return the active user whose live (unrevoked) token this is, or None; note when the token was last used."""
    if not token:
        return None
    found = (
        ApiToken.objects.select_related("user").filter(token_hash=hash_token(token), revoked_at__isnull=True).first()
    )
    if found is None or not found.user.is_active:
        return None
    now = timezone.now()
    if found.last_used_at is None or now - found.last_used_at >= LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=found.pk).update(last_used_at=now)
    return found.user


class BearerToken(HttpBearer):
    """Authenticate a request by its bearer token; the user becomes ``request.user`` for access checks and audit.

    Wrong tokens are counted per address (``accounts.lockout``, scope ``api``): too many within the window answer
    429 with ``Retry-After`` until the lock ends, without looking any token up. This is the one place a wrong token
    is audited (one ``login_failed`` per attempt, never the token), so audit and count always agree.
    """

    def __call__(self, request: HttpRequest) -> User | None:
        header = request.headers.get(self.header)
        if header and header.split(" ")[0].lower() != self.openapi_scheme:
            return self.authenticate(request, "")  # credentials of another scheme fail like a wrong token
        user: User | None = super().__call__(request)
        return user

    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        guesses = lockout.address(request, "api")
        until = lockout.locked_until([guesses])
        if until is not None:
            record(request, "lockout", actor="api-token")
            raise Throttled(wait=lockout.retry_minutes(until) * 60)
        user = user_for_token(token.strip())
        if user is None:
            record(request, "login_failed", actor="api-token", details={"reason": "invalid token"})  # never the token
            if lockout.fail([guesses], "api-token") is not None:
                record(request, "lockout", actor="api-token")
            return None
        request.user = user
        return user
