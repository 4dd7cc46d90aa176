"""The named cast of the clinic tests, and a factory for clients with real, scored check-ins.

- ana: therapist, owns her clients; ben: therapist on the same team; cleo: supervisor of that team;
- dara: practice admin; eve: therapist at another practice (sees nothing here).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from browser import browser, no_csp_violations  # noqa: F401  (the session's chromium; CSP check, fixtures)
from clinic_factories import PASSWORD
from django.utils import timezone

from alliance.clinic.accounts.models import Role, User
from alliance.clinic.checkins.models import CheckIn
from alliance.clinic.checkins.service import submit_checkin
from alliance.clinic.practice.models import Appointment, Client, Episode, Practice, Team


@pytest.fixture(autouse=True)
def fast_password_hashing(settings: Any) -> None:
    """Argon2 is the production hasher (settings); tests hash the cast's passwords fast."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def practice(db: Any) -> Practice:
    return Practice.objects.create(name="Northside Therapy")


@pytest.fixture
def other_practice(db: Any) -> Practice:
    return Practice.objects.create(name="Elsewhere Counselling")


def _user(username: str, role: str, practice: Practice, team: Team | None = None, **extra: Any) -> User:
    user = User.objects.create_user(
        username=username,
        password=PASSWORD,
        role=role,
        practice=practice,
        team=team,
        first_name=username.capitalize(),
        email=f"{username}@example.org",
        **extra,
    )
    return user


@pytest.fixture
def cleo(practice: Practice) -> User:
    return _user("cleo", Role.SUPERVISOR, practice)


@pytest.fixture
def team(practice: Practice, cleo: User) -> Team:
    return Team.objects.create(practice=practice, name="Adult team", supervisor=cleo)


@pytest.fixture
def ana(practice: Practice, team: Team) -> User:
    return _user("ana", Role.THERAPIST, practice, team)


@pytest.fixture
def ben(practice: Practice, team: Team) -> User:
    return _user("ben", Role.THERAPIST, practice, team)


@pytest.fixture
def dara(practice: Practice) -> User:
    return _user("dara", Role.ADMIN, practice, is_staff=True)


@pytest.fixture
def eve(other_practice: Practice) -> User:
    return _user("eve", Role.THERAPIST, other_practice)


@pytest.fixture
def cast(ana: User, ben: User, cleo: User, dara: User, eve: User) -> dict[str, User]:
    return {"ana": ana, "ben": ben, "cleo": cleo, "dara": dara, "eve": eve}


Session = dict[str, Any]
MakeClient = Callable[..., Client]


@pytest.fixture
def make_client(db: Any) -> MakeClient:
    """Create a client of ``therapist`` with one attended appointment per entry of ``sessions``.

    Each entry maps an instrument id to its answers ({item: value}); e.g.
    ``{"phq9": {...}, "alliance-client": {...}}``. Check-ins go through the real submit service.
    """

    def make(
        therapist: User,
        *,
        code: str = "C-0001",
        sessions: Sequence[Session] = (),
        start: dt.datetime | None = None,
        language: str = "en",
    ) -> Client:
        assert therapist.practice is not None
        client = Client.objects.create(practice=therapist.practice, therapist=therapist, code=code, language=language)
        first = start or (timezone.now() - dt.timedelta(weeks=len(sessions) + 1))
        episode = Episode.objects.create(client=client, therapist=therapist, opened_on=first.date())
        for number, session in enumerate(sessions, start=1):
            when = first + dt.timedelta(weeks=number - 1)
            appointment = Appointment.objects.create(
                client=client,
                episode=episode,
                therapist=therapist,
                starts_at=when,
                session_number=number,
                status=Appointment.Status.ATTENDED,
            )
            for instrument_id, answers in session.items():
                submitted = submit_checkin(
                    client=client,
                    instrument_id=instrument_id,
                    answers=answers,
                    source=CheckIn.Source.STAFF,
                    respondent=CheckIn.Respondent.THERAPIST
                    if instrument_id == "alliance-therapist"
                    else CheckIn.Respondent.CLIENT,
                    appointment=appointment,
                )
                CheckIn.objects.filter(pk=submitted.checkin.pk).update(submitted_at=when)
        return client

    return make


@pytest.fixture(scope="session")
def labeller_loader() -> Callable[[], Any]:
    """Load the real utterance labeller once per test session when it is installed, else the scripted test double."""
    from listening_support import ScriptedLabeller

    from alliance.clinic.listening.worker import LabellerUnavailableError, load_default_labeller

    try:
        loaded = load_default_labeller()
    except LabellerUnavailableError:
        loaded = ScriptedLabeller()
    return lambda: loaded
