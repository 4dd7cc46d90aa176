"""The demo practice: its cast, its stories (risk, deterioration, ruptures), and that seeding twice adds nothing."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest
from django.utils import timezone

from alliance.clinic.accounts.models import Role, User
from alliance.clinic.alerts.models import Alert
from alliance.clinic.checkins.models import CheckIn
from alliance.clinic.demo import DEMO_PRACTICE, LOGINS, DemoError, seed_demo
from alliance.clinic.practice.models import Appointment, Client, ClientIdentity, Episode, Practice


def phq9_totals(client: Client) -> list[float]:
    return [
        total
        for total in CheckIn.objects.filter(client=client, instrument="phq9")
        .order_by("submitted_at", "pk")
        .values_list("total", flat=True)
        if total is not None
    ]


def test_the_demo_creates_the_cast_in_one_team(db: Any) -> None:
    result = seed_demo(clients_per_therapist=2)
    assert result.created and result.practice.name == DEMO_PRACTICE
    users = {user.username: user for user in User.objects.filter(practice=result.practice)}
    assert {name: user.role for name, user in users.items()} == {
        "ana": Role.THERAPIST,
        "ben": Role.THERAPIST,
        "cleo": Role.SUPERVISOR,
        "dara": Role.ADMIN,
    }
    assert users["ana"].team is not None and users["ana"].team == users["ben"].team
    assert users["ana"].team.supervisor == users["cleo"]
    assert users["dara"].is_staff and not users["ana"].is_staff
    for login in LOGINS:
        assert users[login.username].check_password(login.password)
    assert set(Client.objects.visible_to(users["cleo"])) == set(Client.objects.filter(practice=result.practice))
    assert Client.objects.visible_to(users["ana"]).count() == 2


def test_seeding_twice_adds_nothing(db: Any) -> None:
    first = seed_demo(clients_per_therapist=2)
    counts = (Client.objects.count(), CheckIn.objects.count(), Appointment.objects.count(), Alert.objects.count())
    second = seed_demo(clients_per_therapist=2)
    assert not second.created
    assert (second.clients, second.checkins) == (first.clients, first.checkins)
    assert (Client.objects.count(), CheckIn.objects.count(), Appointment.objects.count(), Alert.objects.count()) == (
        counts
    )
    assert Practice.objects.filter(name=DEMO_PRACTICE).count() == 1


def test_a_real_user_with_a_demo_username_stops_the_demo(db: Any) -> None:
    User.objects.create_user(username="ben", password="x" * 12)
    with pytest.raises(DemoError, match="'ben' already exists"):
        seed_demo(clients_per_therapist=1)
    assert not Practice.objects.filter(name=DEMO_PRACTICE).exists()


def test_the_same_seed_gives_the_same_demo(db: Any) -> None:
    def content(practice: Practice) -> list[tuple[str, str, str]]:
        rows = CheckIn.objects.filter(client__practice=practice).values_list("client__code", "instrument", "answers")
        return sorted((code, instrument, repr(sorted(answers.items()))) for code, instrument, answers in rows)

    first = seed_demo(clients_per_therapist=1, seed=7).practice
    # Make room for a second demo practice beside the first.
    Practice.objects.filter(pk=first.pk).update(name="first demo")
    for login in LOGINS:
        User.objects.filter(username=login.username).update(username=f"first-{login.username}")
    second = seed_demo(clients_per_therapist=1, seed=7).practice
    assert second.pk != first.pk
    assert content(second) == content(first)


def test_the_full_demo_tells_the_stories_a_caseload_needs(db: Any) -> None:
    now = timezone.now()
    result = seed_demo(now=now)
    ana = User.objects.get(username="ana")
    clients = list(Client.objects.filter(practice=result.practice))
    assert len(clients) == result.clients == 40
    assert {c.therapist.username for c in clients} == {"ana", "ben"}
    assert Client.objects.filter(therapist=ana).count() == 20

    # 6–20 attended sessions each; outcome measures at the start, the relationship check-in at the end.
    attended = {c.pk: c.appointments.filter(status=Appointment.Status.ATTENDED).count() for c in clients}
    assert min(attended.values()) >= 6 and max(attended.values()) <= 20
    assert max(attended.values()) >= 15
    one = clients[0].appointments.filter(status=Appointment.Status.ATTENDED).first()
    assert one is not None
    times = {c.instrument: c.submitted_at for c in one.checkins.all()}
    assert times["phq9"] < times["gad7"] < times["alliance-client"]
    assert CheckIn.objects.filter(instrument="alliance-therapist", respondent="therapist").exists()

    # A risk flag, still open, from one of ana's clients at a session in the past week.
    risk = Alert.objects.filter(client__therapist=ana, kind=Alert.Kind.RISK, state=Alert.State.NEW)
    assert risk.exists()
    flagged = risk.select_related("checkin").first()
    assert flagged is not None and flagged.checkin is not None
    assert now - dt.timedelta(days=7) <= flagged.checkin.submitted_at <= now
    assert flagged.checkin.answers["phq9_9"] > 0
    assert flagged.raised_at == flagged.checkin.submitted_at
    # Older risk endorsements were dealt with at the time.
    assert not Alert.objects.filter(state=Alert.State.NEW, raised_at__lt=now - dt.timedelta(days=14)).exists()

    # At least one reliable deterioration (PHQ-9 up by 6 or more) and a recovery (moderate or worse to below 10).
    changes = [(totals[0], totals[-1]) for totals in map(phq9_totals, clients)]
    assert any(last - first >= 6 for first, last in changes)
    assert any(first >= 10 and last < 10 and first - last >= 6 for first, last in changes)

    # Ruptures: an alliance dip of two points or more below the client's previous session.
    def dips(client: Client) -> list[float]:
        totals = list(
            CheckIn.objects.filter(client=client, instrument="alliance-client")
            .order_by("submitted_at")
            .values_list("total", flat=True)
        )
        return [b - a for a, b in itertools.pairwise(totals) if a is not None and b is not None]

    assert sum(1 for c in clients if min(dips(c)) <= -2) >= 4

    # Missed appointments; an upcoming one for every ongoing client; trajectories over the past months.
    assert Appointment.objects.filter(status=Appointment.Status.DID_NOT_ATTEND).count() >= 5
    ongoing = Episode.objects.filter(client__practice=result.practice, closed_on__isnull=True)
    assert ongoing.exists()
    for episode in ongoing:
        assert episode.appointments.filter(status=Appointment.Status.SCHEDULED, starts_at__gt=now).count() == 1
    assert Episode.objects.filter(ending=Episode.Ending.COMPLETED).exists()
    assert not CheckIn.objects.filter(submitted_at__gt=now).exists()
    earliest = CheckIn.objects.order_by("submitted_at").first()
    assert earliest is not None and earliest.submitted_at < now - dt.timedelta(days=120)

    # Invented identities, kept apart from the scores.
    names = list(ClientIdentity.objects.values_list("name", flat=True))
    assert len(names) == len(set(names)) == 40
    assert all(name.split()[1] in {"Example", "Sample", "Placeholder", "Specimen", "Madeup", "Fictional",
                                   "Testperson", "Notreal", "Pretend", "Imaginary"} for name in names)  # fmt: skip
