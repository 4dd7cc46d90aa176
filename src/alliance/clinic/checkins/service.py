"""Submitting a check-in: validate, score, store exactly once, raise alerts, audit. Used by web, kiosk and API."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpRequest

from alliance.clinic.alerts.models import Alert
from alliance.clinic.alerts.service import raise_alerts
from alliance.clinic.audit.service import record
from alliance.clinic.checkins.models import CheckIn
from alliance.clinic.practice.models import Appointment, Client, Episode
from alliance.clinic.registry import instruments
from alliance.errors import AllianceError
from alliance.instruments import Instrument, UnknownInstrumentError, score_one

__all__ = ["CheckinError", "Submitted", "submit_checkin", "validate_answers"]


class CheckinError(AllianceError):
    """A check-in that cannot be stored; ``field`` names the offending field (e.g. ``answers.phq9_9``)."""

    def __init__(self, message: str, *, field: str) -> None:
        self.message = message
        self.field = field
        super().__init__(f"{field}: {message}")


@dataclass(frozen=True)
class Submitted:
    checkin: CheckIn
    created: bool
    alerts: list[Alert] = field(default_factory=list)


def validate_answers(instrument: Instrument, answers: Mapping[str, Any]) -> dict[str, float | None]:
    """Return ``answers`` as ``{item id: float or None}`` for every item; raise ``CheckinError`` naming the item."""
    if not isinstance(answers, Mapping):
        raise CheckinError("must be an object of item id to value", field="answers")
    unknown = sorted(set(answers) - set(instrument.item_ids))
    if unknown:
        raise CheckinError(
            f"unknown item {unknown[0]!r} for {instrument.id} (items: {', '.join(instrument.item_ids)})",
            field=f"answers.{unknown[0]}",
        )
    clean: dict[str, float | None] = {}
    for item in instrument.items:
        value = answers.get(item.id)
        if value is None or value == "":
            clean[item.id] = None
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise CheckinError(f"not a number: {value!r}", field=f"answers.{item.id}") from None
        if isinstance(value, bool) or math.isnan(number) or number not in item.values:
            allowed = ", ".join(f"{v:g}" for v in item.values)
            raise CheckinError(f"{value!r} is not an allowed answer ({allowed})", field=f"answers.{item.id}")
        clean[item.id] = number
    if all(value is None for value in clean.values()):
        raise CheckinError("no item answered", field="answers")
    return clean


def submit_checkin(
    *,
    client: Client,
    instrument_id: str,
    answers: Mapping[str, Any],
    source: str,
    respondent: str = CheckIn.Respondent.CLIENT,
    appointment: Appointment | None = None,
    by: Any = None,
    idempotency_key: str | None = None,
    language: str = "en",
    request: HttpRequest | None = None,
) -> Submitted:
    """Store one scored check-in, exactly once per ``idempotency_key``, and raise its alerts in the same request.

    A repeat with the same key returns the first check-in and stores nothing new.
    """
    if idempotency_key:
        if len(idempotency_key) > 200:
            raise CheckinError("at most 200 characters", field="Idempotency-Key")
        existing = _existing(client, idempotency_key)
        if existing is not None:
            return Submitted(existing, created=False)
    try:
        instrument = instruments().get(instrument_id)
    except UnknownInstrumentError as exc:
        raise CheckinError(str(exc), field="instrument") from None
    clean = validate_answers(instrument, answers)
    episode = appointment.episode if appointment is not None else _current_episode(client)
    score = score_one(instrument, clean)
    try:
        with transaction.atomic():
            checkin = CheckIn.objects.create(
                client=client,
                episode=episode,
                appointment=appointment,
                instrument=instrument.id,
                instrument_version=instrument.version,
                respondent=respondent,
                language=language,
                answers=clean,
                total=score.total,
                subscales=dict(score.subscales),
                severity=score.severity or "",
                risk=score.risk,
                status=score.status,
                source=source,
                submitted_by=by if getattr(by, "is_authenticated", False) else None,
                idempotency_key=idempotency_key or None,
            )
            alerts = raise_alerts(checkin, instrument=instrument, score=score)
            record(
                request,
                "create",
                checkin,
                user=by if getattr(by, "is_authenticated", False) else None,
                actor=None if getattr(by, "is_authenticated", False) else f"client-{source}",
            )
    except IntegrityError:
        # Two requests with the same key raced: the other one won; answer with its check-in.
        existing = _existing(client, idempotency_key) if idempotency_key else None
        if existing is None:
            raise
        return Submitted(existing, created=False)
    return Submitted(checkin, created=True, alerts=alerts)


def _existing(client: Client, key: str) -> CheckIn | None:
    found = CheckIn.objects.filter(idempotency_key=key).first()
    if found is not None and found.client_id != client.pk:
        raise CheckinError("this key was already used for another client", field="Idempotency-Key")
    return found


def _current_episode(client: Client) -> Episode:
    episode: Episode | None = client.episodes.filter(closed_on__isnull=True).order_by("-opened_on").first()
    if episode is None:
        raise CheckinError("the client has no open treatment episode", field="episode")
    return episode
