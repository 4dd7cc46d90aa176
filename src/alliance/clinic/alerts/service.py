"""Raise alerts for a new check-in (in the same request) and tell the therapist."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction

from alliance.clinic.alerts.models import Alert
from alliance.instruments import Instrument, Score

logger = logging.getLogger(__name__)


def raise_alerts(checkin: Any, *, instrument: Instrument, score: Score) -> list[Alert]:
    """Raise the alerts this check-in calls for (risk items at once); never twice for the same event."""
    raised: list[Alert] = []
    if score.risk:
        alert = _raise(
            checkin,
            kind=Alert.Kind.RISK,
            message=f"{instrument.title[instrument.languages[0]]}: risk item endorsed — contact the client today.",
            key=f"risk:checkin:{checkin.pk}",
        )
        if alert is not None:
            raised.append(alert)
            transaction.on_commit(lambda: _notify(alert))
    return raised


def _raise(checkin: Any, *, kind: str, message: str, key: str) -> Alert | None:
    try:
        with transaction.atomic():
            return Alert.objects.create(
                client_id=checkin.client_id, checkin=checkin, kind=kind, message=message, dedup_key=key
            )
    except IntegrityError:
        return None


def _notify(alert: Alert) -> None:
    """E-mail the treating therapist: no scores or answers in the mail, only that something needs a look."""
    therapist = alert.client.therapist
    if not therapist.email:
        return
    try:
        send_mail(
            subject=f"[alliance] {alert.get_kind_display()} — client {alert.client.code}",
            message=f"A new alert needs your attention for client {alert.client.code}.\n"
            f"Open alliance: {settings.PUBLIC_URL}/clients/{alert.client_id}/\n",
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[therapist.email],
        )
    except OSError:
        logger.warning("alert e-mail could not be sent (alert %s)", alert.pk)
