"""One-time check-in links: issuing them, finding them by token, moving them through their stages, kiosk locks.

A session link belongs to one appointment and goes ``start`` (outcome measures) -> ``end`` (relationship
check-in) -> ``done``. A follow-up link (the support tool's questionnaire, sent between sessions) belongs to the
client only and goes ``followup`` -> ``done``. Only the SHA-256 of its secret is stored. Each stage is stored
exactly once: the stage is claimed with a conditional UPDATE inside the transaction that stores its check-ins, so
two posts of the same stage (a double tap, a flaky tablet, the back button) cannot both store; each check-in also
carries an idempotency key.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.sessions.backends.base import SessionBase
from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from alliance.clinic.accounts import lockout, mfa
from alliance.clinic.accounts.middleware import KIOSK_KEY
from alliance.clinic.accounts.models import hash_token
from alliance.clinic.audit.service import record
from alliance.clinic.checkins.i18n import LANGUAGES
from alliance.clinic.checkins.models import CheckIn, CheckinLink
from alliance.clinic.checkins.service import CheckinError, submit_checkin
from alliance.clinic.practice.models import Appointment, Client
from alliance.errors import AllianceError

__all__ = [
    "END_INSTRUMENTS",
    "FOLLOWUP_INSTRUMENTS",
    "KIOSK_FAILURES_KEY",
    "KIOSK_MAX_FAILURES",
    "START_INSTRUMENTS",
    "IssuedLink",
    "LinkUnavailableError",
    "StageResult",
    "Unlock",
    "complete_stage",
    "find_link",
    "issue_followup_link",
    "issue_link",
    "kiosk_link",
    "kiosk_needs_code",
    "lock_kiosk",
    "lookup",
    "public_url",
    "set_language",
    "stage_instruments",
    "unavailable_reason",
    "unlock_kiosk",
]

# What the client answers at each stage, in order.
START_INSTRUMENTS: tuple[str, ...] = ("phq9", "gad7")
END_INSTRUMENTS: tuple[str, ...] = ("alliance-client",)
FOLLOWUP_INSTRUMENTS: tuple[str, ...] = ("alliance-followup",)
# Secrets of 32 random bytes (256 bits), URL-safe.
_TOKEN_BYTES = 32
_MAX_TOKEN_LENGTH = 200
KIOSK_FAILURES_KEY = "alliance_kiosk_failures"
# After this many wrong passwords on a locked tablet the staff session is ended altogether.
KIOSK_MAX_FAILURES = 5

# "paused": too many unknown tokens came from this address (accounts.lockout); nothing was looked up.
Reason = Literal["unknown", "expired", "used", "superseded", "paused"]
Unlock = Literal["unlocked", "wrong", "logged_out"]


class LinkUnavailableError(AllianceError):
    """A token that cannot be answered: ``reason`` says why; ``status`` is 404 (unknown), 429 (paused) or 410 (gone)."""

    def __init__(self, reason: Reason, *, link: CheckinLink | None = None) -> None:
        self.reason: Reason = reason
        self.link = link
        self.status = {"unknown": 404, "paused": 429}.get(reason, 410)
        super().__init__(f"check-in link {reason}")


@dataclass(frozen=True)
class IssuedLink:
    """A new link and its secret (``token``): the secret is shown once and never stored."""

    link: CheckinLink
    token: str
    url: str


@dataclass(frozen=True)
class StageResult:
    """What storing a stage did: ``advanced`` is False when the stage had already been stored (nothing new)."""

    advanced: bool
    checkins: tuple[CheckIn, ...] = ()
    risk: bool = False


def stage_instruments(stage: str) -> tuple[str, ...]:
    """Return the instruments answered at ``stage`` (``start``, ``end`` or ``followup``)."""
    if stage == CheckinLink.Stage.START:
        return START_INSTRUMENTS
    if stage == CheckinLink.Stage.END:
        return END_INSTRUMENTS
    if stage == CheckinLink.Stage.FOLLOWUP:
        return FOLLOWUP_INSTRUMENTS
    raise ValueError(f"no instruments at stage {stage!r}")


def public_url(token: str) -> str:
    """Return the address a client opens for ``token`` (``settings.PUBLIC_URL`` + ``/checkin/<token>/``)."""
    return f"{settings.PUBLIC_URL}{reverse('checkin', args=[token])}"


def issue_link(
    appointment: Appointment, *, by: Any, kiosk: bool = False, request: HttpRequest | None = None
) -> IssuedLink:
    """Create a one-time link for ``appointment``; older unused links of that appointment stop working.

    The new link carries on where the links it replaces stopped: if the outcome measures were already stored
    through one of them, it starts at the relationship check-in (so nothing is asked twice).
    """
    token = secrets.token_urlsafe(_TOKEN_BYTES)
    now = timezone.now()
    with transaction.atomic():
        older = CheckinLink.objects.select_for_update().filter(
            appointment=appointment, used_at__isnull=True, superseded_at__isnull=True
        )
        replaced = list(older.order_by("created_at", "pk").values("stage", "language", "start_risk"))
        older.update(superseded_at=now)
        carried_on = [row for row in replaced if row["stage"] == CheckinLink.Stage.END]
        languages = [row["language"] for row in replaced if row["language"]]
        link = CheckinLink.objects.create(
            appointment=appointment,
            client_id=appointment.client_id,
            token_hash=hash_token(token),
            kiosk=kiosk,
            stage=CheckinLink.Stage.END if carried_on else CheckinLink.Stage.START,
            start_risk=any(row["start_risk"] for row in carried_on),
            language=languages[-1] if languages else "",
            created_by=by,
            expires_at=now + dt.timedelta(minutes=settings.ALLIANCE_CHECKIN_LINK_MINUTES),
        )
        record(request, "create", link, user=by)
    return IssuedLink(link=link, token=token, url=public_url(token))


def issue_followup_link(client: Client, *, by: Any, request: HttpRequest | None = None) -> IssuedLink:
    """Create a one-time link to the follow-up questionnaire for ``client``; older unused ones stop working.

    The link belongs to no appointment (the follow-up is answered between sessions, so its check-in is not
    counted as a session's check-in) and stays open ``settings.ALLIANCE_FOLLOWUP_LINK_HOURS``.
    """
    token = secrets.token_urlsafe(_TOKEN_BYTES)
    now = timezone.now()
    with transaction.atomic():
        older = CheckinLink.objects.select_for_update().filter(
            client=client,
            purpose=CheckinLink.Purpose.FOLLOWUP,
            used_at__isnull=True,
            superseded_at__isnull=True,
        )
        older.update(superseded_at=now)
        link = CheckinLink.objects.create(
            appointment=None,
            client=client,
            purpose=CheckinLink.Purpose.FOLLOWUP,
            token_hash=hash_token(token),
            stage=CheckinLink.Stage.FOLLOWUP,
            created_by=by,
            expires_at=now + dt.timedelta(hours=settings.ALLIANCE_FOLLOWUP_LINK_HOURS),
        )
        record(request, "create", link, user=by)
    return IssuedLink(link=link, token=token, url=public_url(token))


def lookup(token: str) -> CheckinLink | None:
    """Return the link whose secret is ``token`` whatever its state, or None."""
    if not token or len(token) > _MAX_TOKEN_LENGTH:
        return None
    found: CheckinLink | None = (
        CheckinLink.objects.select_related("client__practice", "appointment")
        .filter(token_hash=hash_token(token))
        .first()
    )
    return found


def find_link(token: str) -> CheckinLink:
    """Return the link a client may answer through ``token``; raise ``LinkUnavailableError`` saying why not."""
    link = lookup(token)
    if link is None:
        raise LinkUnavailableError("unknown")
    reason = unavailable_reason(link)
    if reason is not None:
        raise LinkUnavailableError(reason, link=link)
    return link


def unavailable_reason(link: CheckinLink) -> Reason | None:
    """Return why ``link`` can no longer be answered (``used``, ``superseded``, ``expired``), or None."""
    # A completed link says "thank you, already done" even after it has expired.
    if link.is_used or link.stage == CheckinLink.Stage.DONE:
        return "used"
    if link.is_superseded:
        return "superseded"
    if link.is_expired:
        return "expired"
    return None


def set_language(link: CheckinLink, language: str) -> None:
    """Remember the language the client chose on ``link`` (later stages open in it)."""
    if language not in LANGUAGES:
        return
    CheckinLink.objects.filter(pk=link.pk).update(language=language)
    link.language = language


def complete_stage(
    link: CheckinLink,
    *,
    stage: str,
    answers: Mapping[str, Mapping[str, Any]],
    form_key: str,
    language: str,
    request: HttpRequest | None = None,
) -> StageResult:
    """Store the answers of one stage (``{instrument id: {item id: value}}``) and move ``link`` to the next stage.

    Exactly once: the stage is claimed by a conditional UPDATE in the same transaction as the check-ins, so a
    second post of a stage already stored (or being stored) returns ``advanced=False`` and stores nothing. An
    instrument left entirely blank is not stored. Raises ``CheckinError`` (and stores nothing) for bad answers.
    """
    expected = stage_instruments(stage)
    unknown = sorted(set(answers) - set(expected))
    if unknown:
        raise CheckinError(f"not answered at the {stage} stage", field=f"instrument.{unknown[0]}")
    answered = {
        instrument_id: items
        for instrument_id, items in answers.items()
        if any(value is not None and value != "" for value in items.values())
    }
    if not answered:
        raise CheckinError("no item answered", field="answers")
    # start -> end -> done for a session; a follow-up has its one stage, then done.
    following = CheckinLink.Stage.END if stage == CheckinLink.Stage.START else CheckinLink.Stage.DONE
    now = timezone.now()
    changes: dict[str, Any] = {"stage": following}
    if language in LANGUAGES:
        changes["language"] = language
    if following == CheckinLink.Stage.DONE:
        changes["used_at"] = now
    source = CheckIn.Source.KIOSK if link.kiosk else CheckIn.Source.LINK
    with transaction.atomic():
        claimed = CheckinLink.objects.filter(
            pk=link.pk, stage=stage, used_at__isnull=True, superseded_at__isnull=True, expires_at__gt=now
        ).update(**changes)
        if not claimed:
            return StageResult(advanced=False)
        stored = tuple(
            submit_checkin(
                client=link.client,
                instrument_id=instrument_id,
                answers=answered[instrument_id],
                source=source,
                respondent=CheckIn.Respondent.CLIENT,
                appointment=link.appointment,
                idempotency_key=f"{link.pk}:{instrument_id}:{form_key}",
                language=language,
                request=request,
            ).checkin
            for instrument_id in expected
            if instrument_id in answered
        )
        risk = any(checkin.risk for checkin in stored)
        if risk and stage == CheckinLink.Stage.START:
            CheckinLink.objects.filter(pk=link.pk).update(start_risk=True)
            link.start_risk = True
    for name, value in changes.items():
        setattr(link, name, value)
    return StageResult(advanced=True, checkins=stored, risk=risk)


# The clinic tablet. The lock lives in the staff member's own session: KioskLockMiddleware sends every page but
# the check-in and the kiosk pages to the lock screen until the staff member's password is given again.


def lock_kiosk(session: SessionBase, token: str) -> None:
    """Lock this staff session onto the check-in of ``token``."""
    session[KIOSK_KEY] = token
    session[KIOSK_FAILURES_KEY] = 0


def kiosk_link(session: SessionBase) -> tuple[str, CheckinLink | None] | None:
    """Return ``(token, link)`` when the session is locked (``link`` is None if it was deleted), else None."""
    token = session.get(KIOSK_KEY)
    if not token:
        return None
    return str(token), lookup(str(token))


def unlock_kiosk(request: HttpRequest, password: str, code: str = "") -> Unlock:
    """Clear the kiosk lock when ``password`` is the staff member's own (and ``code`` their authenticator's current
    code, when they have one); audit every try.

    Wrong tries count towards the account's lockout (``accounts.lockout``) like wrong log-ins. After
    ``KIOSK_MAX_FAILURES`` wrong tries, or once the account is locked, the staff session is ended (the tablet shows
    the log-in page).
    """
    locked = kiosk_link(request.session)
    link = locked[1] if locked else None
    user = request.user
    if not user.is_authenticated:
        record(request, "login_failed", link)
        logout(request)
        return "logged_out"
    scopes = lockout.login_scopes(request, user.get_username())
    if lockout.locked_until(scopes) is not None:
        record(request, "lockout", link)
        logout(request)
        return "logged_out"
    needs_code = mfa.confirmed_device(user) is not None
    right = bool(password) and user.check_password(password)
    if right and needs_code:  # the code is only spent after the right password
        right = mfa.verify(user, code) is not None
    if right:
        request.session.pop(KIOSK_KEY, None)
        request.session.pop(KIOSK_FAILURES_KEY, None)
        record(request, "login", link)
        return "unlocked"
    record(request, "login_failed", link)
    now_locked = lockout.fail(scopes, "kiosk") is not None
    failures = int(request.session.get(KIOSK_FAILURES_KEY, 0)) + 1
    if failures >= KIOSK_MAX_FAILURES or now_locked:
        if now_locked:
            record(request, "lockout", link)
        logout(request)  # flushes the session, lock included: the tablet now needs a full log-in
        return "logged_out"
    request.session[KIOSK_FAILURES_KEY] = failures
    return "wrong"


def kiosk_needs_code(user: Any) -> bool:
    """Whether unlocking the tablet asks this staff member for an authenticator code too."""
    return bool(getattr(user, "is_authenticated", False)) and mfa.confirmed_device(user) is not None
