"""Every route × every role × own/other object answers as the matrix says; a route missing from it fails the suite.

The objects are ana's (her client, appointment, alert, link) unless a row says otherwise. ana owns them, ben is a
therapist on her team, cleo supervises the team, dara administers the practice, eve works at another practice.
Anything a user may not see answers 404 — never 403, which would reveal that it exists.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from clinic_factories import MakeClient, alliance, gad7, phq9
from django.test import Client as Browser
from django.urls import URLPattern, URLResolver, get_resolver
from listening_support import TINY, ScriptedLabeller

from alliance.clinic.accounts.models import ApiToken, User
from alliance.clinic.alerts.models import Alert
from alliance.clinic.checkins.links import issue_link
from alliance.clinic.checkins.models import CheckIn, CheckinLink
from alliance.clinic.listening.models import SessionTranscript, SupervisionConsent
from alliance.clinic.listening.service import attach
from alliance.clinic.listening.worker import claim, run_job
from alliance.clinic.practice.models import Appointment, Client

ROLES = ("anonymous", "ana", "ben", "cleo", "dara", "eve")


@dataclass(frozen=True)
class World:
    cast: dict[str, User]
    client: Client  # ana's
    appointment: Appointment  # ana's client's latest
    alert: Alert  # open risk alert on ana's client
    token: str  # a check-in link of ana's appointment
    transcript: SessionTranscript  # on that appointment, analysed (no consent to supervision recorded)
    first_appointment: Appointment  # ana's client's first, without a transcript


@dataclass(frozen=True)
class Route:
    """How to call one route and what each role gets for ana's object."""

    path: Callable[[World], str]
    expect: dict[str, int]
    method: str = "GET"
    data: dict[str, Any] = field(default_factory=dict)
    api: bool = False  # bearer token instead of a session


PAGE_OWNED = {"anonymous": 302, "ana": 200, "ben": 404, "cleo": 200, "dara": 200, "eve": 404}
API_OWNED = {"anonymous": 401, "ana": 200, "ben": 404, "cleo": 200, "dara": 200, "eve": 404}
EVERYONE = dict.fromkeys(ROLES, 200)
ANALYTICS = {"anonymous": 302, "ana": 404, "ben": 404, "cleo": 200, "dara": 200, "eve": 404}
NO_API_ROUTE = {"anonymous": 401} | dict.fromkeys(ROLES[1:], 404)  # authentication comes first
TREATING_ONLY = {"anonymous": 302, "ana": 200, "ben": 404, "cleo": 404, "dara": 404, "eve": 404}

MATRIX: dict[str, Route] = {
    "livez": Route(lambda w: "/livez", EVERYONE),
    "readyz": Route(lambda w: "/readyz", EVERYONE),
    "home": Route(lambda w: "/", dict.fromkeys(ROLES, 302)),
    "login": Route(lambda w: "/login/", {"anonymous": 200} | dict.fromkeys(ROLES[1:], 302)),
    "logout": Route(lambda w: "/logout/", dict.fromkeys(ROLES, 302), method="POST"),
    # The second factor needs a session past the password (none here): back to the log-in page, or home.
    "login-code": Route(lambda w: "/login/code/", dict.fromkeys(ROLES, 302)),
    # Setting up an authenticator: for a session past the password or a signed-in user without one (the cast).
    "mfa-enrol": Route(lambda w: "/login/enrol/", {"anonymous": 302} | dict.fromkeys(ROLES[1:], 200)),
    "caseload": Route(
        lambda w: "/caseload/", {"anonymous": 302, "ana": 200, "ben": 200, "cleo": 302, "dara": 302, "eve": 200}
    ),
    "my-trends": Route(
        lambda w: "/me/trends/", {"anonymous": 302, "ana": 200, "ben": 200, "cleo": 302, "dara": 302, "eve": 200}
    ),
    "team": Route(lambda w: "/team/", {"anonymous": 302, "ana": 302, "ben": 302, "cleo": 200, "dara": 200, "eve": 302}),
    "team-therapist": Route(
        lambda w: f"/team/therapists/{w.cast['ana'].pk}/",
        {"anonymous": 302, "ana": 404, "ben": 404, "cleo": 200, "dara": 200, "eve": 404},
    ),
    "client-detail": Route(lambda w: f"/clients/{w.client.pk}/", PAGE_OWNED),
    # Client rights: the treating therapist and the admin export; only the admin erases (the page asks to confirm).
    "client-export": Route(lambda w: f"/clients/{w.client.pk}/export/", PAGE_OWNED | {"cleo": 403}),
    "client-erase": Route(lambda w: f"/clients/{w.client.pk}/erase/", PAGE_OWNED | {"ana": 403, "cleo": 403}),
    "client-rate": Route(
        lambda w: f"/clients/{w.client.pk}/rate/",
        {"anonymous": 302, "ana": 200, "ben": 404, "cleo": 403, "dara": 403, "eve": 404},
    ),
    "alert-update": Route(
        lambda w: f"/alerts/{w.alert.pk}/",
        PAGE_OWNED | {"ana": 302, "cleo": 302, "dara": 302},
        method="POST",
        data={"state": "seen"},
    ),
    "checkin-link-create": Route(lambda w: f"/appointments/{w.appointment.pk}/link/", PAGE_OWNED, method="POST"),
    "kiosk-start": Route(
        lambda w: f"/appointments/{w.appointment.pk}/kiosk/",
        PAGE_OWNED | {"ana": 302, "cleo": 302, "dara": 302},
        method="POST",
    ),
    # The support tool's follow-up: only the treating therapist sends it (supervisor and admin see the panel).
    "followup-send": Route(
        lambda w: f"/clients/{w.client.pk}/followup/",
        {"anonymous": 302, "ana": 200, "ben": 404, "cleo": 403, "dara": 403, "eve": 404},
        method="POST",
    ),
    "kiosk-locked": Route(lambda w: "/kiosk/locked/", dict.fromkeys(ROLES, 302)),
    "kiosk-unlock": Route(lambda w: "/kiosk/unlock/", dict.fromkeys(ROLES, 302), method="POST"),
    # Transcripts: the treating therapist only; the supervisor only with recorded consent (none here: see
    # test_listening_access.py), never a colleague or the practice admin.
    "transcript-upload": Route(lambda w: f"/appointments/{w.first_appointment.pk}/transcript/", TREATING_ONLY),
    "transcript-status": Route(lambda w: f"/transcripts/{w.transcript.pk}/", TREATING_ONLY),
    "transcript-feedback": Route(lambda w: f"/transcripts/{w.transcript.pk}/feedback/", TREATING_ONLY),
    "transcript-delete": Route(
        lambda w: f"/transcripts/{w.transcript.pk}/delete/", TREATING_ONLY | {"ana": 302}, method="POST"
    ),
    "transcript-retry": Route(
        lambda w: f"/transcripts/{w.transcript.pk}/retry/", TREATING_ONLY | {"ana": 302}, method="POST"
    ),
    "supervision-consent": Route(
        lambda w: f"/clients/{w.client.pk}/supervision-consent/",
        {"anonymous": 302, "ana": 302, "ben": 404, "cleo": 403, "dara": 403, "eve": 404},
        method="POST",
        data={"given": "yes"},
    ),
    # The client's own link: public by design (the token is the key), the same for everyone.
    "checkin": Route(lambda w: f"/checkin/{w.token}/", EVERYONE),
    # Practice analytics: supervisors (their teams) and practice admins (their practice); therapists get 404.
    "analytics": Route(lambda w: "/analytics/", ANALYTICS),
    "analytics-pdf": Route(lambda w: "/analytics/report.pdf", ANALYTICS),
    # The audit report: practice admins only (their practice); to everyone else the page does not exist.
    "audit-report": Route(
        lambda w: "/audit/", {"anonymous": 302, "ana": 404, "ben": 404, "cleo": 404, "dara": 200, "eve": 404}
    ),
    "api-v1:openapi-json": Route(lambda w: "/api/v1/openapi.json", EVERYONE, api=True),
    "api-v1:list_clients": Route(lambda w: "/api/v1/clients", API_OWNED | {"ben": 200, "eve": 200}, api=True),
    "api-v1:get_client": Route(lambda w: f"/api/v1/clients/{w.client.pk}", API_OWNED, api=True),
    "api-v1:get_timeline": Route(lambda w: f"/api/v1/clients/{w.client.pk}/timeline", API_OWNED, api=True),
    "api-v1:get_fhir": Route(lambda w: f"/api/v1/clients/{w.client.pk}/fhir", API_OWNED, api=True),
    "api-v1:get_export": Route(lambda w: f"/api/v1/clients/{w.client.pk}/export", API_OWNED | {"cleo": 403}, api=True),
    "api-v1:post_checkin": Route(
        lambda w: f"/api/v1/clients/{w.client.pk}/checkins",
        API_OWNED | {"ana": 201, "cleo": 201, "dara": 201},
        method="POST",
        data={"instrument": "gad7", "answers": {f"gad7_{i}": 1 for i in range(1, 8)}},
        api=True,
    ),
    "api-v1:not_found": Route(lambda w: "/api/v1/nothing/here", NO_API_ROUTE, api=True),
    "api-v1:root": Route(lambda w: "/api/v1/", NO_API_ROUTE, api=True),
    "api-v1:api-root": Route(lambda w: "/api/v1/", NO_API_ROUTE, api=True),
}


def url_patterns(patterns: list[Any] | None = None, prefix: str = "", namespace: str = "") -> Iterator[tuple[str, str]]:
    """Yield (route, name) for every URL pattern of the app."""
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(entry, URLResolver):
            inner = namespace + (f"{entry.namespace}:" if entry.namespace else "")
            yield from url_patterns(entry.url_patterns, prefix + str(entry.pattern), inner)
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), namespace + (entry.name or "")


def test_every_route_is_in_the_matrix() -> None:
    missing = [
        f"{route} ({name or 'unnamed'})"
        for route, name in url_patterns()
        if not route.startswith("admin/") and name not in MATRIX
    ]
    assert not missing, f"routes without an authorization-matrix row: {missing}"
    admin_routes = [route for route, _ in url_patterns() if route.startswith("admin/")]
    assert admin_routes, "the Django admin is covered by test_only_practice_admins_reach_the_admin"


@pytest.fixture
def world(cast: dict[str, User], make_client: MakeClient) -> World:
    client = make_client(
        cast["ana"],
        code="C-ANA",
        sessions=[
            {"phq9": phq9(2), "gad7": gad7(2), "alliance-client": alliance(9)},
            {"phq9": phq9(2, item9=1), "gad7": gad7(2), "alliance-client": alliance(8)},
        ],
    )
    make_client(cast["eve"], code="C-EVE", sessions=[{"phq9": phq9(1)}])
    appointment = client.appointments.order_by("-starts_at").first()
    assert appointment is not None
    alert = Alert.objects.get(client=client, kind=Alert.Kind.RISK)
    token = issue_link(appointment, by=cast["ana"]).token
    transcript = attach(appointment, TINY, by=cast["ana"], file_name="tiny.txt")
    job = claim("matrix")
    assert job is not None and run_job(job, ScriptedLabeller, worker="matrix").state == "done"
    first = client.appointments.order_by("starts_at").first()
    assert first is not None and first.pk != appointment.pk
    return World(
        cast=cast,
        client=client,
        appointment=appointment,
        alert=alert,
        token=token,
        transcript=transcript,
        first_appointment=first,
    )


def snapshot() -> tuple[Any, ...]:
    """What a refused write must leave untouched."""
    return (
        CheckIn.objects.count(),
        CheckinLink.objects.count(),
        list(Alert.objects.order_by("pk").values_list("state", flat=True)),
        CheckinLink.objects.filter(superseded_at__isnull=False).count(),
        SessionTranscript.objects.count(),
        SupervisionConsent.objects.count(),
        list(Client.objects.order_by("pk").values_list("consent_supervision", flat=True)),
    )


def call(world: World, route: Route, role: str) -> int:
    browser = Browser()
    headers: dict[str, str] = {}
    if role != "anonymous":
        user = world.cast[role]
        if route.api:
            headers["Authorization"] = f"Bearer {ApiToken.issue(user)[1]}"
        else:
            browser.force_login(user)
    path = route.path(world)
    if route.method == "GET":
        return browser.get(path, headers=headers).status_code
    if route.api:
        return browser.post(path, json.dumps(route.data), content_type="application/json", headers=headers).status_code
    return browser.post(path, route.data, headers=headers).status_code


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", sorted(MATRIX))
def test_route_answers_each_role_as_the_matrix_says(world: World, name: str, role: str) -> None:
    route = MATRIX[name]
    before = snapshot()
    status = call(world, route, role)
    assert status == route.expect[role], f"{route.method} {route.path(world)} as {role}: {status}"
    if route.method == "POST" and status in (401, 403, 404):
        assert snapshot() == before, f"a refused {route.method} {name} as {role} changed data"


@pytest.mark.parametrize("role", ["anonymous", "ana", "ben", "cleo", "eve"])
def test_only_practice_admins_reach_the_admin(world: World, role: str) -> None:
    browser = Browser()
    if role != "anonymous":
        browser.force_login(world.cast[role])
    response = browser.get("/admin/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_the_practice_admin_sees_only_her_practice_in_the_admin(world: World) -> None:
    browser = Browser()
    browser.force_login(world.cast["dara"])
    listing = browser.get("/admin/practice/client/")
    assert listing.status_code == 200
    assert b"C-ANA" in listing.content and b"C-EVE" not in listing.content
    eve_client = Client.objects.get(code="C-EVE")
    response = browser.get(f"/admin/practice/client/{eve_client.pk}/change/")
    assert response.status_code == 302  # Django's "does not exist" redirect, nothing shown
    assert browser.get(f"/admin/practice/client/{world.client.pk}/change/").status_code == 200


def test_every_api_path_with_an_id_answers_404_to_another_therapist(world: World) -> None:
    """BOLA probe: replay ana's ids as ben on every OpenAPI path that takes one (writes with a valid body)."""
    ben = f"Bearer {ApiToken.issue(world.cast['ben'])[1]}"
    schema = Browser().get("/api/v1/openapi.json").json()
    probed = 0
    for path, operations in schema["paths"].items():
        if "{" not in path:
            continue
        concrete = path.replace("{id}", str(world.client.pk))
        for method in operations:
            browser = Browser()
            if method == "get":
                response = browser.get(concrete, headers={"Authorization": ben})
            else:
                body = json.dumps(MATRIX["api-v1:post_checkin"].data)
                response = browser.generic(
                    method.upper(), concrete, body, content_type="application/json", HTTP_AUTHORIZATION=ben
                )
            assert response.status_code == 404, f"{method.upper()} {concrete} as ben: {response.status_code}"
            probed += 1
    assert probed >= 4
