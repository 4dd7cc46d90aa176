"""One client's history as :class:`alliance.monitoring.ClientHistory`, read from the database in two queries.

The history is that of one treatment *episode*: session numbers start again at 1 in a new episode, so mixing
episodes would put two different sessions under one number. A check-in's session is its appointment's
``session_number``; a check-in without an appointment (a follow-up, an API post without one) has no session and
only feeds the risk rule. Check-ins are ordered by ``submitted_at`` then ``pk``; their ``order`` is their rank in
that ordering, so the check-in submitted last is the latest.
"""

from __future__ import annotations

import math
from typing import Any

from alliance.clinic.checkins.models import CheckIn
from alliance.clinic.practice.models import Appointment
from alliance.monitoring.evaluate import AppointmentRecord, CheckinRecord, ClientHistory

__all__ = ["episode_history"]

_CHECKIN_FIELDS = ("pk", "instrument", "appointment__session_number", "total", "answers", "risk", "respondent")


def episode_history(episode_id: int) -> tuple[ClientHistory, tuple[int, ...]]:
    """Return the history of one episode and the check-in ids by ``order`` (``ids[order]``), in two queries."""
    rows = list(
        CheckIn.objects.filter(episode_id=episode_id).order_by("submitted_at", "pk").values_list(*_CHECKIN_FIELDS)
    )
    appointments = Appointment.objects.filter(episode_id=episode_id).values_list("session_number", "status")
    checkins = tuple(
        CheckinRecord(
            instrument=str(instrument),
            session=None if session is None else int(session),
            order=order,
            total=_number(total),
            answers={str(item): _number(value) for item, value in (answers or {}).items()},
            risk=bool(risk),
            respondent=str(respondent),
        )
        for order, (_, instrument, session, total, answers, risk, respondent) in enumerate(rows)
    )
    history = ClientHistory(
        checkins=checkins,
        appointments=tuple(AppointmentRecord(session=int(s), status=str(status)) for s, status in appointments),
    )
    return history, tuple(int(row[0]) for row in rows)


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number
