"""The demo practice: a realistic, seeded "Riverside Psychological Therapies" to log in to and look around.

Cast: therapists ``ana`` and ``ben``, supervisor ``cleo`` over both (one team), practice admin ``dara``; about 20
clients each with 6–20 weekly sessions: PHQ-9 and GAD-7 at the start, the relationship check-in at the end, the
therapist's mirror rating for some. Item answers come from ``alliance.analytics.caseload.generate_caseload``;
on top of them some clients get a story: a risk item endorsed at a recent session, a reliable deterioration, an
alliance rupture that is repaired or one that is not, a perspective gap between client and therapist. Some
appointments were missed; every ongoing client has an upcoming one. Every check-in goes through ``submit_checkin``
(real scoring and alerts, docs/alerts.md), then times are moved back so that the trajectories span the past months;
older alerts are settled as a therapist would have at the time, and the practice's expected response is fitted
from the history at the end.

The passwords are fixed and printed (``demo-<username>-2026!``): acceptable only because this practice is a demo.
So are the demo users' authenticator keys (``demo_totp_secret``): ``alliance demo`` prints them and
``alliance demo-code USERNAME`` prints a demo user's current code, so that ``make run`` users can sign in with the
second factor that every member of staff needs.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from django.db import transaction
from django.test.utils import override_settings
from django.utils import timezone

from alliance.analytics.caseload import generate_caseload
from alliance.clinic.accounts.models import Role, TotpDevice, User
from alliance.clinic.alerts.etr import refit
from alliance.clinic.alerts.models import Alert, Event
from alliance.clinic.alerts.service import CONDITION_KINDS
from alliance.clinic.checkins.models import CheckIn
from alliance.clinic.checkins.service import submit_checkin
from alliance.clinic.practice.models import Appointment, Client, ClientIdentity, Episode, Practice, Team
from alliance.clinic.registry import instruments
from alliance.errors import AllianceError
from alliance.instruments import Registry, score_frame

__all__ = [
    "DEMO_PRACTICE",
    "DEMO_TEAM",
    "LOGINS",
    "DemoError",
    "DemoPractice",
    "Login",
    "demo_logins",
    "demo_totp_secret",
    "seed_demo",
]

DEMO_PRACTICE = "Riverside Psychological Therapies"
DEMO_TEAM = "Adult Psychological Therapies"


@dataclass(frozen=True)
class Login:
    """A demo log-in as printed at the end of ``alliance demo``."""

    username: str
    role: str
    password: str
    first_name: str
    last_name: str


LOGINS = (
    Login("ana", Role.THERAPIST, "demo-ana-2026!", "Ana", "Reyes"),
    Login("ben", Role.THERAPIST, "demo-ben-2026!", "Ben", "Okafor"),
    Login("cleo", Role.SUPERVISOR, "demo-cleo-2026!", "Cleo", "Lindqvist"),
    Login("dara", Role.ADMIN, "demo-dara-2026!", "Dara", "Byrne"),
)
THERAPISTS = ("ana", "ben")

# Obviously invented names (never a real person's): first names with made-up surnames, Ofcom's drama phone range.
_FIRST = ("Alex", "Sam", "Jo", "Robin", "Pat", "Charlie", "Morgan", "Kim", "Lee", "Ash", "Jules", "Max",
          "Remy", "Sky", "Noor", "Tam", "Ren", "Dee", "Kai", "Lou", "Mo", "Nic", "Ola", "Pip")  # fmt: skip
_LAST = ("Example", "Sample", "Placeholder", "Specimen", "Madeup", "Fictional", "Testperson", "Notreal",
         "Pretend", "Imaginary")  # fmt: skip
_HOURS = (9, 10, 11, 13, 14, 15, 16, 17)
_ALLIANCE_ITEMS = ("bond", "understood", "respect", "goals", "tasks", "culture", "safety", "overall")
_RESOLVED_NOTE = "Demo: risk discussed with the client in session; safety plan reviewed."
_TALKED_NOTE = "Demo: talked it through with the client at the next session."


class DemoError(AllianceError):
    """The demo practice cannot be created here (e.g. a real user already has a demo username)."""


@dataclass(frozen=True)
class DemoPractice:
    """What ``seed_demo`` found or made."""

    created: bool
    practice: Practice
    clients: int
    checkins: int
    open_alerts: int
    logins: tuple[Login, ...] = LOGINS


@dataclass
class _Plan:
    """One demo client: who treats them, their story and one row per appointment (None = did not attend)."""

    therapist: str
    index: int
    story: str
    code: str
    name: str
    language: str
    mirror: bool
    visits: list[dict[str, dict[str, float | None]] | None] = field(default_factory=list)
    ending: str = Episode.Ending.ONGOING
    days_since_last: int = 3
    hour: int = 10
    groups: dict[str, Any] = field(default_factory=dict)


def demo_totp_secret(username: str) -> str:
    """The fixed authenticator key (base32) of a demo user: public, like the demo passwords."""
    digest = hashlib.sha256(f"alliance-demo-totp:{username}".encode()).digest()[:20]
    return base64.b32encode(digest).decode("ascii").rstrip("=")


def demo_logins() -> tuple[Login, ...]:
    """Return the demo log-ins (username, role, password)."""
    return LOGINS


def seed_demo(*, seed: int = 2026, clients_per_therapist: int = 20, now: dt.datetime | None = None) -> DemoPractice:
    """Create the demo practice unless it exists (idempotent); return what is there.

    Raises ``DemoError`` when a demo username already belongs to someone outside the demo practice.
    """
    existing = Practice.objects.filter(name=DEMO_PRACTICE).first()
    if existing is not None:
        return _summary(existing, created=False)
    taken = sorted(
        User.objects.filter(username__in=[login.username for login in LOGINS]).values_list("username", flat=True)
    )
    if taken:
        raise DemoError(f"user {taken[0]!r} already exists outside the demo practice; the demo was not created")
    now = now or timezone.now()
    plans = _plans(instruments(), seed=seed, per_therapist=clients_per_therapist)
    # No e-mail leaves for demo alerts, whatever the site's mail settings.
    with override_settings(EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend"), transaction.atomic():
        practice = Practice.objects.create(name=DEMO_PRACTICE)
        users = _cast(practice)
        for plan in plans:
            _store(plan, therapist=users[plan.therapist], practice=practice, now=now)
        # The practice's own expected response, from the history just stored (as `alliance monitor refit` does).
        refit(practice.pk)
    return _summary(practice, created=True)


# --- the plan (answers and stories), drawn before anything is stored --------------------------------------------


def _plans(registry: Registry, *, seed: int, per_therapist: int) -> list[_Plan]:
    rng = np.random.default_rng(seed)
    total = per_therapist * len(THERAPISTS)
    pool = generate_caseload(registry, clients=max(60, 3 * total), therapists=1, seed=seed).sessions
    phq9_total = score_frame(registry.get("phq9"), pool)["total"]
    by_client = {str(code): frame.reset_index(drop=True) for code, frame in pool.groupby("client", sort=True)}
    first_last = phq9_total.groupby(pool["client"]).agg(["first", "last", "size"])
    long_enough = first_last[first_last["size"] >= 6]
    # Reversed in time, a clear recovery becomes a clear (reliable: >= 6 points) deterioration.
    improvers = list(long_enough[long_enough["first"] - long_enough["last"] >= 9].index)
    others = [code for code in long_enough.index if code not in set(improvers)]
    codes = _codes(rng, total)
    plans: list[_Plan] = []
    for number in range(total):
        therapist, index = THERAPISTS[number % len(THERAPISTS)], number // len(THERAPISTS)
        story = _story(index)
        source = improvers.pop(0) if story == "deterioration" and improvers else others.pop(0)
        plan = _Plan(
            therapist=therapist,
            index=index,
            story=story,
            code=codes[number],
            name=f"{_FIRST[number % len(_FIRST)]} {_LAST[(number // len(_FIRST) + number) % len(_LAST)]}",
            language="es" if index % 6 == 5 else "en",
            mirror=index % 3 == 0 or story == "perspective-gap",
            hour=int(rng.choice(_HOURS)),
        )
        _write_visits(plan, by_client[str(source)], rng)
        plans.append(plan)
    # Client-reported groups for the analytics page's equity table, from their own generator so that the stories
    # and answers above stay as they were for a given seed.
    groups = np.random.default_rng([seed, 6])
    for plan in plans:
        plan.groups = _groups(groups)
    return plans


# Roughly an English city's mix of NHS ethnic categories (A White British ... Z not stated).
_ETHNICITY = (("A", 0.55), ("C", 0.08), ("H", 0.07), ("J", 0.07), ("N", 0.07), ("M", 0.04), ("F", 0.04), ("Z", 0.08))
_GENDER = (("female", 0.62), ("male", 0.34), ("other", 0.02), ("not_stated", 0.02))


def _groups(rng: np.random.Generator) -> dict[str, Any]:
    """Draw a demo client's ethnicity, gender, deprivation quintile, age and referral wait."""
    ethnicity = str(rng.choice([code for code, _ in _ETHNICITY], p=[p for _, p in _ETHNICITY]))
    gender = str(rng.choice([code for code, _ in _GENDER], p=[p for _, p in _GENDER]))
    deprivation = int(rng.choice([1, 2, 3, 4, 5], p=[0.3, 0.25, 0.2, 0.15, 0.1]))
    return {
        "ethnicity": ethnicity,
        "gender": gender,
        "deprivation": None if rng.random() < 0.1 else deprivation,
        "age": int(np.clip(rng.normal(38, 13), 18, 80)),
        "wait_days": int(rng.integers(7, 60)),
    }


def _story(index: int) -> str:
    stories = {0: "risk", 1: "deterioration", 2: "rupture-repaired", 3: "rupture-unrepaired", 5: "perspective-gap"}
    if index in stories:
        return stories[index]
    if index % 5 == 4:
        return "completed"
    if index % 7 == 6:
        return "dropped-out"
    return "ongoing"


def _codes(rng: np.random.Generator, count: int) -> list[str]:
    codes: list[str] = []
    while len(codes) < count:
        code = f"C-{int(rng.integers(0, 16**6)):06X}"
        if code not in codes:
            codes.append(code)
    return codes


def _write_visits(plan: _Plan, frame: pd.DataFrame, rng: np.random.Generator) -> None:
    """Turn a generated client's sessions into ``plan.visits`` and apply the plan's story."""
    rows = frame.copy()
    if plan.story in ("ongoing", "completed") and rng.random() < 0.35:
        # A longer therapy: a plateau of sessions like the last three.
        extra = int(rng.integers(15, 21)) - len(rows)
        if extra > 0:
            tail = rows.iloc[-3:]
            rows = pd.concat([rows, tail.iloc[rng.integers(0, len(tail), extra)]], ignore_index=True)
    outcome = [c for c in rows.columns if str(c).startswith(("phq9_", "gad7_"))]
    alliance = [c for c in _ALLIANCE_ITEMS if c in rows.columns]
    n = len(rows)
    # Clients rate the alliance high (ceiling effects are the rule), so only some fall below the cut-off of 8.
    rows[alliance] = (rows[alliance] + 1).clip(upper=10)
    # One client's answers to one check-in hang together: each item follows the session's mean with the item's
    # own fixed offset. The generator draws every item with its own noise (SD 1.5 of 10 per session), under which
    # some domain "dips" by chance at most sessions and the per-domain rupture rule would fire all the time.
    level = rows[alliance].mean(axis=1).to_numpy(dtype=float)
    offset = rows[alliance].sub(level, axis=0).mean(axis=0).to_numpy(dtype=float)
    steady = np.clip(np.round(level[:, np.newaxis] + offset[np.newaxis, :]), 0, 10)
    rows[alliance] = pd.DataFrame(steady, columns=alliance, index=rows.index).where(rows[alliance].notna())
    if plan.story == "deterioration":
        rows[outcome] = rows[outcome].iloc[::-1].to_numpy()
    elif plan.story == "rupture-repaired":
        # A dip two sessions ago, back the session after: the rupture alert is still open, marked as repaired.
        dip = n - 3
        rows.loc[dip, alliance] = (rows.loc[dip, alliance] - int(rng.integers(3, 5))).clip(lower=0)
        rows.loc[dip + 1, alliance] = (rows.loc[dip + 1, alliance] - 1).clip(lower=0)
    elif plan.story == "rupture-unrepaired":
        # The goals and the way of working fall at the latest session: a new rupture, not (yet) repaired.
        strained = [item for item in ("goals", "tasks", "overall") if item in alliance]
        rows.loc[n - 1, strained] = (rows.loc[n - 1, strained] - int(rng.integers(4, 6))).clip(lower=0)
    # Only the risk stories are flagged now; earlier endorsements (any client) were dealt with at the time.
    rows.loc[n - 1, "phq9_9"] = float(rng.integers(1, 3)) if plan.story == "risk" else 0.0
    visits: list[dict[str, dict[str, float | None]] | None] = []
    for _, row in rows.iterrows():
        if visits and rng.random() < 0.07:
            visits.append(None)  # did not attend
        answers = {
            instrument: {str(item): _value(row[item]) for item in rows.columns if str(item).startswith(prefix)}
            for instrument, prefix in (("phq9", "phq9_"), ("gad7", "gad7_"))
        }
        answers["alliance-client"] = {item: _value(row[item]) for item in alliance}
        if plan.mirror:
            answers["alliance-therapist"] = _mirror(answers["alliance-client"], rng)
        visits.append(answers)
    if plan.story == "perspective-gap":
        # At the latest session the therapist felt the work was not going well; the client did not.
        latest = visits[-1]
        assert latest is not None
        mirror = dict(latest["alliance-therapist"])
        mirror["tasks"] = max(0.0, float(latest["alliance-client"]["tasks"] or 8) - 4)
        latest["alliance-therapist"] = mirror
    if plan.story == "dropped-out":
        visits.extend([None, None])
    plan.visits = visits
    plan.ending, plan.days_since_last = {
        "completed": (Episode.Ending.COMPLETED, int(rng.integers(21, 120))),
        "dropped-out": (Episode.Ending.DROPPED_OUT, int(rng.integers(14, 60))),
        "risk": (Episode.Ending.ONGOING, int(rng.integers(1, 4))),
    }.get(plan.story, (Episode.Ending.ONGOING, int(rng.integers(1, 8))))


def _value(value: Any) -> float | None:
    number = float(value)
    return None if math.isnan(number) else number


def _mirror(client: Mapping[str, float | None], rng: np.random.Generator) -> dict[str, float | None]:
    """The therapist's rating of the same session: a little lower than the client's, as therapists' usually are."""
    known = [v for v in client.values() if v is not None]
    fill = round(sum(known) / len(known)) if known else 7.0
    return {
        item: float(np.clip((fill if value is None else value) - int(rng.integers(0, 2)), 0, 10))
        for item, value in client.items()
    }


# --- storing ---------------------------------------------------------------------------------------------------


def _cast(practice: Practice) -> dict[str, User]:
    users: dict[str, User] = {}
    for login in LOGINS:
        users[login.username] = User.objects.create_user(
            username=login.username,
            password=login.password,
            email=f"{login.username}@riverside.example.org",
            first_name=login.first_name,
            last_name=login.last_name,
            role=login.role,
            practice=practice,
            is_staff=login.role == Role.ADMIN,
        )
        TotpDevice.objects.create(
            user=users[login.username], secret=demo_totp_secret(login.username), confirmed_at=timezone.now()
        )
    team = Team.objects.create(practice=practice, name=DEMO_TEAM, supervisor=users["cleo"])
    User.objects.filter(username__in=THERAPISTS).update(team=team)
    for username in THERAPISTS:
        users[username].team = team
    return users


def _store(plan: _Plan, *, therapist: User, practice: Practice, now: dt.datetime) -> None:
    """Create the client, episode and appointments; submit every check-in; then move their times back."""
    last = timezone.localtime(now).replace(hour=plan.hour, minute=0, second=0, microsecond=0)
    last -= dt.timedelta(days=plan.days_since_last)
    last -= dt.timedelta(days=max(0, last.weekday() - 4))  # no sessions at weekends
    when = [last - dt.timedelta(weeks=len(plan.visits) - 1 - k) for k in range(len(plan.visits))]
    client = Client.objects.create(
        practice=practice,
        therapist=therapist,
        code=plan.code,
        language=plan.language,
        consent_supervision=plan.index % 2 == 0,
        ethnicity=plan.groups.get("ethnicity", "Z"),
        gender=plan.groups.get("gender", Client.Gender.NOT_STATED),
        deprivation=plan.groups.get("deprivation"),
    )
    Client.objects.filter(pk=client.pk).update(created_at=when[0] - dt.timedelta(days=14))
    first, surname = plan.name.split(" ", 1)
    ClientIdentity.objects.create(
        client=client,
        name=plan.name,
        email=f"{first.lower()}.{surname.lower()}@example.org",
        phone=f"+44 7700 900{100 + plan.index * 2 + (plan.therapist == 'ben'):03d}",
        date_of_birth=_born(when[0].date(), age=plan.groups.get("age"), day=plan.index),
    )
    ended = plan.ending != Episode.Ending.ONGOING
    episode = Episode.objects.create(
        client=client,
        therapist=therapist,
        referral_date=when[0].date() - dt.timedelta(days=int(plan.groups.get("wait_days", 14))),
        opened_on=when[0].date(),
        closed_on=when[-1].date() if ended else None,
        ending=plan.ending,
    )
    appointments = Appointment.objects.bulk_create(
        Appointment(
            client=client,
            episode=episode,
            therapist=therapist,
            starts_at=starts,
            session_number=number,
            status=Appointment.Status.ATTENDED if visit is not None else Appointment.Status.DID_NOT_ATTEND,
        )
        for number, (starts, visit) in enumerate(zip(when, plan.visits, strict=True), start=1)
    )
    if not ended:
        upcoming = last + dt.timedelta(weeks=1)
        while upcoming <= now:
            upcoming += dt.timedelta(weeks=1)
        Appointment.objects.create(
            client=client,
            episode=episode,
            therapist=therapist,
            starts_at=upcoming,
            session_number=len(plan.visits) + 1,
            status=Appointment.Status.SCHEDULED,
        )
    moved: list[CheckIn] = []
    for appointment, visit in zip(appointments, plan.visits, strict=True):
        if visit is not None:
            moved.extend(_submit_visit(client, appointment, visit, therapist=therapist, kiosk=plan.index % 4 == 1))
    CheckIn.objects.bulk_update(moved, ["submitted_at"], batch_size=500)
    _settle_alerts(client, therapist=therapist, latest=len(plan.visits) if not ended else None)


def _born(first_session: dt.date, *, age: int | None, day: int) -> dt.date | None:
    """An invented date of birth, about ``age`` years before the first session."""
    if age is None:
        return None
    return dt.date(first_session.year - age - 1, 1 + day % 12, 1 + day % 28)


# Minutes into the session: outcome measures at the start, the relationship check-in at the end.
_MINUTE = {"phq9": 2, "gad7": 4, "alliance-client": 48, "alliance-therapist": 55}


def _submit_visit(
    client: Client,
    appointment: Appointment,
    visit: Mapping[str, Mapping[str, float | None]],
    *,
    therapist: User,
    kiosk: bool,
) -> list[CheckIn]:
    stored: list[CheckIn] = []
    for instrument_id, answers in visit.items():
        therapist_form = instrument_id == "alliance-therapist"
        submitted = submit_checkin(
            client=client,
            instrument_id=instrument_id,
            answers=answers,
            source=CheckIn.Source.STAFF if therapist_form else (CheckIn.Source.KIOSK if kiosk else CheckIn.Source.LINK),
            respondent=CheckIn.Respondent.THERAPIST if therapist_form else CheckIn.Respondent.CLIENT,
            appointment=appointment,
            by=therapist if therapist_form else None,
            language=client.language,
        )
        checkin = submitted.checkin
        checkin.submitted_at = appointment.starts_at + dt.timedelta(minutes=_MINUTE.get(instrument_id, 50))
        stored.append(checkin)
    return stored


def _settle_alerts(client: Client, *, therapist: User, latest: int | None) -> None:
    """Date each alert and event by its check-in; settle the alerts as a therapist would have at the time.

    Open at the end (for an ongoing client whose latest session is ``latest``): what the latest session raised
    (new), a rupture of the last three sessions (seen; repaired or not) and a lasting condition still present at
    the latest session (seen). Everything else was talked through at the time and is resolved.
    """
    alerts = list(Alert.objects.filter(client=client).select_related("checkin"))
    for alert in alerts:
        if alert.checkin is None:
            continue
        alert.raised_at = alert.checkin.submitted_at
        session = alert.session or 0
        again = (alert.details or {}).get("again_at", [])
        current = latest is not None and (
            session == latest
            or (alert.kind == Alert.Kind.RUPTURE and session >= latest - 2)
            or (alert.kind in CONDITION_KINDS and latest in again)
        )
        if not current:
            alert.state = Alert.State.RESOLVED
            alert.action_taken = _RESOLVED_NOTE if alert.kind == Alert.Kind.RISK else _TALKED_NOTE
            alert.updated_by = therapist
        elif session != latest:
            alert.state = Alert.State.SEEN
            alert.updated_by = therapist
    Alert.objects.bulk_update(alerts, ["raised_at", "state", "action_taken", "updated_by"])
    events = list(Event.objects.filter(client=client).select_related("checkin"))
    for event in events:
        if event.checkin is not None:
            event.recorded_at = event.checkin.submitted_at
    Event.objects.bulk_update(events, ["recorded_at"])


def _summary(practice: Practice, *, created: bool) -> DemoPractice:
    clients = Client.objects.filter(practice=practice)
    return DemoPractice(
        created=created,
        practice=practice,
        clients=clients.count(),
        checkins=CheckIn.objects.filter(client__practice=practice).count(),
        open_alerts=Alert.objects.filter(client__practice=practice).exclude(state=Alert.State.RESOLVED).count(),
    )
