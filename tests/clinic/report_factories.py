"""Fast clients for the analytics and export tests: rows written directly (no scoring, no alerts), totals given.

Import as ``from report_factories import ...``. ``submit_checkin`` (the real path) is covered by the check-in tests;
here only the stored rows matter, and dozens of clients must be cheap.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from alliance.clinic.checkins.models import CheckIn
from alliance.clinic.practice.models import Appointment, Client, ClientIdentity, Episode

ALLIANCE_ITEMS = ("bond", "understood", "respect", "goals", "tasks", "culture", "safety", "overall")


def record_client(
    therapist: Any,
    *,
    code: str,
    phq9: Sequence[float],
    gad7: Sequence[float],
    alliance: Sequence[float],
    start: dt.datetime,
    ending: str = Episode.Ending.ONGOING,
    missed: Sequence[int] = (),
    identity: dict[str, Any] | None = None,
    referral_days: int = 14,
    **groups: Any,
) -> Client:
    """Store a client with one episode and one weekly appointment per PHQ-9 total (sessions in ``missed``: DNA).

    Every attended session gets PHQ-9, GAD-7 and (where ``alliance`` has a value) the relationship check-in with
    every item at that value. ``groups`` sets client fields (ethnicity, gender, deprivation, language).
    """
    client = Client.objects.create(practice=therapist.practice, therapist=therapist, code=code, **groups)
    if identity is not None:
        ClientIdentity.objects.create(client=client, **identity)
    sessions = len(phq9)
    ended = ending != Episode.Ending.ONGOING
    episode = Episode.objects.create(
        client=client,
        therapist=therapist,
        referral_date=start.date() - dt.timedelta(days=referral_days),
        opened_on=start.date(),
        closed_on=(start + dt.timedelta(weeks=sessions - 1)).date() if ended else None,
        ending=ending,
    )
    appointments = Appointment.objects.bulk_create(
        Appointment(
            client=client,
            episode=episode,
            therapist=therapist,
            starts_at=start + dt.timedelta(weeks=number - 1),
            session_number=number,
            status=Appointment.Status.DID_NOT_ATTEND if number in missed else Appointment.Status.ATTENDED,
        )
        for number in range(1, sessions + 1)
    )
    rows = []
    for number, appointment in enumerate(appointments, start=1):
        if number in missed:
            continue
        scores = [("phq9", phq9[number - 1], {}), ("gad7", gad7[number - 1], {})]
        if number - 1 < len(alliance):
            scores.append(
                ("alliance-client", alliance[number - 1], dict.fromkeys(ALLIANCE_ITEMS, alliance[number - 1]))
            )
        for instrument, total, answers in scores:
            rows.append(
                CheckIn(
                    client=client,
                    episode=episode,
                    appointment=appointment,
                    instrument=instrument,
                    instrument_version="1",
                    answers=answers,
                    total=total,
                    status="ok",
                    source=CheckIn.Source.IMPORT,
                    submitted_at=appointment.starts_at + dt.timedelta(minutes=5),
                )
            )
    CheckIn.objects.bulk_create(rows)
    return client
