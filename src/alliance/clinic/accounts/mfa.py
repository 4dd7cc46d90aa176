"""Two-factor sign-in for staff: authenticator devices (TOTP), recovery codes and the half-signed-in session.

After the right password the session is *pending*: it holds the user's id (``PENDING_KEY``) but nobody is logged
in, so no page but the second-factor and enrolment pages is reachable. Only a right code (or an unused recovery
code) calls Django's ``login``. A session made by ``login`` elsewhere (``force_login`` in tests) is therefore fully
signed in by construction; the Django admin's own log-in form is replaced by a redirect to ours (``urls.py``).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any, Literal

from django.conf import settings
from django.contrib.auth import login
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from alliance.clinic.accounts import lockout
from alliance.clinic.accounts.models import RecoveryCode, TotpDevice, User
from alliance.clinic.accounts.totp import decode_secret, matching_step, new_secret, provisioning_uri
from alliance.clinic.audit.service import record

__all__ = [
    "ISSUER",
    "PENDING_KEY",
    "RECOVERY_CODES",
    "Pending",
    "begin",
    "confirm_enrolment",
    "confirmed_device",
    "enrolment_device",
    "finish",
    "mfa_required",
    "new_recovery_codes",
    "pending",
    "provisioning_address",
    "reset",
    "secret_of",
    "set_secret",
    "unused_recovery_codes",
    "verify",
]

PENDING_KEY = "alliance_mfa_pending"
RECOVERY_CODES = 10
ISSUER = "alliance"
_RECOVERY_BYTES = 10  # 80 bits: 16 base32 characters, shown as four groups of four

Method = Literal["totp", "recovery"]


@dataclass(frozen=True)
class Pending:
    """A session past the password, waiting for its second factor."""

    user: User
    next_url: str
    backend: str


def mfa_required() -> bool:
    return bool(settings.ALLIANCE_MFA_REQUIRED)


def confirmed_device(user: Any) -> TotpDevice | None:
    """Return the user's confirmed authenticator, or None."""
    if user is None or not getattr(user, "pk", None):
        return None
    found: TotpDevice | None = TotpDevice.objects.filter(user_id=user.pk, confirmed_at__isnull=False).first()
    return found


def secret_of(device: TotpDevice) -> str:
    """The device's base32 secret (decrypted when the field is encrypted)."""
    return str(device.secret)


def set_secret(device: TotpDevice, secret: str) -> None:
    device.secret = secret


# --- the pending (half-signed-in) session -------------------------------------------------------------------


def begin(request: HttpRequest, user: User, *, next_url: str) -> None:
    """Mark the session as past the password for ``user`` (a new session key: no fixation across the step)."""
    request.session.cycle_key()
    request.session[PENDING_KEY] = {
        "user": user.pk,
        "since": time.time(),
        "next": next_url,
        "backend": getattr(user, "backend", "django.contrib.auth.backends.ModelBackend"),
    }


def pending(request: HttpRequest) -> Pending | None:
    """The pending sign-in of this session, or None (none, expired, or the user was deactivated)."""
    data = request.session.get(PENDING_KEY)
    if not isinstance(data, dict):
        return None
    if time.time() - float(data.get("since", 0)) > settings.ALLIANCE_MFA_PENDING_SECONDS:
        request.session.pop(PENDING_KEY, None)
        return None
    user_id = data.get("user")
    user = User.objects.filter(pk=user_id, is_active=True).first() if isinstance(user_id, int) else None
    if user is None:
        request.session.pop(PENDING_KEY, None)
        return None
    return Pending(user=user, next_url=str(data.get("next") or ""), backend=str(data.get("backend")))


def finish(request: HttpRequest, state: Pending) -> None:
    """Both factors are in: log the user in (Django's ``login``, audited by the signal) and forget failures."""
    request.session.pop(PENDING_KEY, None)
    login(request, state.user, backend=state.backend)
    lockout.clear(lockout.account(state.user.get_username()))


# --- devices and codes --------------------------------------------------------------------------------------


def enrolment_device(user: User) -> TotpDevice:
    """Return the user's unconfirmed device (made with a fresh secret if there is none); never a confirmed one."""
    device = TotpDevice.objects.filter(user=user).first()
    if device is not None and device.confirmed:
        raise ValueError("this user already has a confirmed authenticator")
    if device is None:
        device = TotpDevice(user=user)
        set_secret(device, new_secret())
        device.save()
    return device


def provisioning_address(device: TotpDevice) -> str:
    """The ``otpauth://`` address of ``device`` (what the enrolment QR code holds)."""
    return provisioning_uri(secret_of(device), account=device.user.get_username(), issuer=ISSUER)


def confirm_enrolment(
    request: HttpRequest | None, device: TotpDevice, code: str, *, at: float | None = None
) -> list[str] | None:
    """Confirm ``device`` with a right ``code``: return the new recovery codes (shown once), or None if wrong."""
    at = time.time() if at is None else at
    step = matching_step(decode_secret(secret_of(device)), code, at)
    if step is None:
        return None
    with transaction.atomic():
        claimed = TotpDevice.objects.filter(pk=device.pk, confirmed_at__isnull=True).update(
            confirmed_at=timezone.now(), last_step=step
        )
        if not claimed:
            return None
        device.refresh_from_db()
        codes = new_recovery_codes(device.user)
        record(request, "create", device, user=device.user)
    return codes


def verify(user: User, code: str, *, at: float | None = None) -> Method | None:
    """Check a second factor: a current TOTP code not used before, or an unused recovery code; None if neither.

    A TOTP code is claimed with a conditional UPDATE of ``last_step``, so the same code (or an older one) is
    refused afterwards even when two requests race; a recovery code is claimed the same way.
    """
    device = confirmed_device(user)
    if device is None:
        return None
    cleaned = code.strip().replace(" ", "")
    if cleaned.isdigit():
        at = time.time() if at is None else at
        step = matching_step(decode_secret(secret_of(device)), cleaned, at, after=device.last_step)
        if step is None:
            return None
        claimed = (
            TotpDevice.objects.filter(pk=device.pk)
            .filter(Q(last_step__isnull=True) | Q(last_step__lt=step))
            .update(last_step=step)
        )
        return "totp" if claimed else None
    digest = _recovery_hash(cleaned)
    if digest is None:
        return None
    used = RecoveryCode.objects.filter(user=user, code_hash=digest, used_at__isnull=True).update(used_at=timezone.now())
    return "recovery" if used else None


def new_recovery_codes(user: User) -> list[str]:
    """Replace the user's recovery codes with ``RECOVERY_CODES`` new ones; return them (only hashes are kept)."""
    codes = [_format_code(secrets.token_bytes(_RECOVERY_BYTES)) for _ in range(RECOVERY_CODES)]
    RecoveryCode.objects.filter(user=user).delete()
    RecoveryCode.objects.bulk_create([RecoveryCode(user=user, code_hash=_recovery_hash(code) or "") for code in codes])
    return codes


def unused_recovery_codes(user: User) -> int:
    return RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()


def reset(request: HttpRequest | None, user: User, *, by: Any) -> bool:
    """Remove the user's authenticator and recovery codes (they enrol again at their next log-in); audited."""
    with transaction.atomic():
        device = TotpDevice.objects.filter(user=user).first()
        RecoveryCode.objects.filter(user=user).delete()
        if device is None:
            return False
        record(request, "mfa_reset", device, user=by)
        device.delete()
    return True


def _format_code(raw: bytes) -> str:
    text = base64.b32encode(raw).decode("ascii").lower().rstrip("=")
    return "-".join(text[i : i + 4] for i in range(0, len(text), 4))


def _recovery_hash(code: str) -> str | None:
    cleaned = code.replace("-", "").replace(" ", "").lower()
    if len(cleaned) != 16 or not cleaned.isalnum():
        return None
    return hashlib.sha256(f"alliance-recovery:{cleaned}".encode()).hexdigest()
