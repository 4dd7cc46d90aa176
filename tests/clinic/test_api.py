"""The read side of the API: bearer tokens, who sees which client, timelines, FHIR export, OpenAPI and audit."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from clinic_factories import MakeClient, alliance, gad7, phq9
from django.test import Client as HttpClient
from django.utils import timezone
from fhir.resources.R4B.bundle import Bundle

from alliance.clinic.accounts.models import ApiToken, User
from alliance.clinic.audit.models import AuditEvent
from alliance.clinic.checkins.models import CheckIn
from alliance.clinic.practice.models import Client, ClientIdentity

API = "/api/v1"


def same_moment(iso: str, stored: dt.datetime) -> bool:
    """JSON times carry milliseconds (Django's encoder): compare at that precision."""
    return dt.datetime.fromisoformat(iso) == stored.replace(microsecond=stored.microsecond // 1000 * 1000)


def bearer(user: User) -> dict[str, str]:
    """Headers for the Django test client carrying a fresh token of ``user``."""
    _, secret = ApiToken.issue(user, name="test")
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


@pytest.fixture
def clients(cast: dict[str, User], make_client: MakeClient) -> dict[str, Client]:
    """ana's client A1 (three sessions, one with the therapist's mirror rating) and ben's client B1."""
    a1 = make_client(
        cast["ana"],
        code="A1",
        sessions=[
            {"phq9": phq9(2), "gad7": gad7(2), "alliance-client": alliance(7)},
            {"phq9": phq9(2, item9=1), "gad7": gad7(2), "alliance-client": alliance(6)},
            {"phq9": phq9(1), "gad7": gad7(1), "alliance-client": alliance(9), "alliance-therapist": alliance(8)},
        ],
    )
    ClientIdentity.objects.create(client=a1, name="Alex Example")
    b1 = make_client(cast["ben"], code="B1", sessions=[{"phq9": phq9(1)}])
    return {"A1": a1, "B1": b1}


# --- authentication ------------------------------------------------------------------------------------------------


def test_without_a_token_the_api_answers_401_with_a_bearer_challenge(client: HttpClient, clients: Any) -> None:
    response = client.get(f"{API}/clients")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="alliance"'
    assert "detail" in response.json()


def test_a_bad_token_is_401_invalid_token(client: HttpClient, clients: Any) -> None:
    response = client.get(f"{API}/clients", HTTP_AUTHORIZATION="Bearer alc_not-a-real-token")
    assert response.status_code == 401
    assert 'error="invalid_token"' in response["WWW-Authenticate"]


def test_a_session_login_is_not_enough_for_the_api(client: HttpClient, cast: dict[str, User], clients: Any) -> None:
    client.force_login(cast["ana"])
    assert client.get(f"{API}/clients").status_code == 401


def test_a_revoked_token_is_refused(client: HttpClient, cast: dict[str, User], clients: Any) -> None:
    token, secret = ApiToken.issue(cast["ana"])
    assert client.get(f"{API}/clients", HTTP_AUTHORIZATION=f"Bearer {secret}").status_code == 200
    ApiToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())
    assert client.get(f"{API}/clients", HTTP_AUTHORIZATION=f"Bearer {secret}").status_code == 401


def test_an_inactive_users_token_is_refused(client: HttpClient, cast: dict[str, User], clients: Any) -> None:
    headers = bearer(cast["ana"])
    User.objects.filter(pk=cast["ana"].pk).update(is_active=False)
    assert client.get(f"{API}/clients", **headers).status_code == 401


def test_last_used_is_written_at_most_once_a_minute(client: HttpClient, cast: dict[str, User], clients: Any) -> None:
    token, secret = ApiToken.issue(cast["ana"])
    assert token.last_used_at is None
    client.get(f"{API}/clients", HTTP_AUTHORIZATION=f"Bearer {secret}")
    token.refresh_from_db()
    first = token.last_used_at
    assert first is not None
    client.get(f"{API}/clients", HTTP_AUTHORIZATION=f"Bearer {secret}")
    token.refresh_from_db()
    assert token.last_used_at == first  # within the minute: no write
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=first - dt.timedelta(minutes=2))
    client.get(f"{API}/clients", HTTP_AUTHORIZATION=f"Bearer {secret}")
    token.refresh_from_db()
    assert token.last_used_at is not None and token.last_used_at > first - dt.timedelta(minutes=2)


# --- reading -------------------------------------------------------------------------------------------------------


def test_ana_lists_only_her_clients_with_their_latest_totals(
    client: HttpClient, cast: dict[str, User], clients: dict[str, Client]
) -> None:
    page = client.get(f"{API}/clients", **bearer(cast["ana"])).json()
    assert page["count"] == 1
    (item,) = page["items"]
    assert item == {
        "id": clients["A1"].pk,
        "code": "A1",
        "therapist": "ana",
        "language": "en",
        "latest": item["latest"],
    }
    assert set(item["latest"]) == {"phq9", "gad7", "alliance-client", "alliance-therapist"}
    assert item["latest"]["phq9"]["total"] == 8.0  # the third session: every item at 1
    assert item["latest"]["phq9"]["severity"] == "mild"
    assert item["latest"]["phq9"]["risk"] is False
    assert item["latest"]["alliance-client"]["total"] == 9.0
    assert "name" not in item


@pytest.mark.parametrize(("who", "codes"), [("cleo", ["A1", "B1"]), ("dara", ["A1", "B1"]), ("eve", [])])
def test_supervisor_and_admin_see_the_team_and_practice_others_nothing(
    client: HttpClient, cast: dict[str, User], clients: Any, who: str, codes: list[str]
) -> None:
    page = client.get(f"{API}/clients", **bearer(cast[who])).json()
    assert [item["code"] for item in page["items"]] == codes
    assert page["count"] == len(codes)


def test_the_client_list_pages_in_a_stable_order(
    client: HttpClient, cast: dict[str, User], make_client: MakeClient
) -> None:
    for code in ("C3", "C1", "C2", "C5", "C4"):
        make_client(cast["ana"], code=code, sessions=[{"phq9": phq9(1)}])
    headers = bearer(cast["ana"])
    seen = []
    for offset in (0, 2, 4):
        page = client.get(f"{API}/clients?limit=2&offset={offset}", **headers).json()
        assert page["count"] == 5
        seen += [item["code"] for item in page["items"]]
    assert seen == ["C1", "C2", "C3", "C4", "C5"]
    bad = client.get(f"{API}/clients?limit=0", **headers)
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["query", "limit"]


def test_the_treating_therapist_sees_the_name_others_do_not(
    client: HttpClient, cast: dict[str, User], clients: dict[str, Client]
) -> None:
    pk = clients["A1"].pk
    mine = client.get(f"{API}/clients/{pk}", **bearer(cast["ana"])).json()
    assert mine["name"] == "Alex Example"
    assert mine["code"] == "A1" and mine["therapist"] == "ana" and "phq9" in mine["latest"]
    supervisor = client.get(f"{API}/clients/{pk}", **bearer(cast["cleo"])).json()
    assert supervisor["code"] == "A1"
    assert "name" not in supervisor


def test_the_timeline_lists_scored_checkins_in_order(
    client: HttpClient, cast: dict[str, User], clients: dict[str, Client]
) -> None:
    timeline = client.get(f"{API}/clients/{clients['A1'].pk}/timeline", **bearer(cast["ana"])).json()
    stored = list(CheckIn.objects.filter(client=clients["A1"]).order_by("submitted_at", "pk"))
    assert [entry["id"] for entry in timeline] == [checkin.pk for checkin in stored]
    assert len(timeline) == 10
    first = timeline[0]
    assert set(first) == {
        "id",
        "instrument",
        "answers",
        "total",
        "subscales",
        "severity",
        "risk",
        "status",
        "respondent",
        "session",
        "submitted_at",
    }
    assert first["instrument"] == "phq9"
    assert list(first["answers"])[:9] == [f"phq9_{i}" for i in range(1, 10)]  # the instrument's item order
    assert first["answers"]["phq9_1"] == 2
    assert first["total"] == 16.0 and first["severity"] == "moderately-severe" and first["status"] == "ok"
    assert first["session"] == 1 and first["respondent"] == "client"
    assert same_moment(first["submitted_at"], stored[0].submitted_at)
    risky = [entry for entry in timeline if entry["risk"]]
    assert [(entry["instrument"], entry["session"]) for entry in risky] == [("phq9", 2)]
    mirror = [entry for entry in timeline if entry["instrument"] == "alliance-therapist"]
    assert mirror[0]["respondent"] == "therapist" and mirror[0]["subscales"]["connection"] == 8.0
    assert [entry["session"] for entry in timeline] == [1, 1, 1, 2, 2, 2, 3, 3, 3, 3]


def test_checkins_at_the_same_moment_keep_the_order_they_were_stored(
    client: HttpClient, cast: dict[str, User], clients: dict[str, Client]
) -> None:
    moment = timezone.now() - dt.timedelta(days=400)
    ids = list(CheckIn.objects.filter(client=clients["A1"]).order_by("-pk").values_list("pk", flat=True)[:2])
    CheckIn.objects.filter(pk__in=ids).update(submitted_at=moment)
    timeline = client.get(f"{API}/clients/{clients['A1'].pk}/timeline", **bearer(cast["ana"])).json()
    assert [entry["id"] for entry in timeline[:2]] == sorted(ids)


# --- access: ben gets 404 for everything of ana's -------------------------------------------------------------------

ROUTES = [
    ("get", "/clients/{pk}"),
    ("get", "/clients/{pk}/timeline"),
    ("get", "/clients/{pk}/fhir"),
    ("post", "/clients/{pk}/checkins"),
]


@pytest.mark.parametrize(("who"), ["ben", "eve"])
@pytest.mark.parametrize(("method", "route"), ROUTES)
def test_anyone_but_anas_team_gets_404_on_every_route_of_her_client(
    client: HttpClient, cast: dict[str, User], clients: dict[str, Client], who: str, method: str, route: str
) -> None:
    url = API + route.format(pk=clients["A1"].pk)
    before = CheckIn.objects.count()
    if method == "post":
        response = client.post(
            url,
            {"instrument": "phq9", "answers": phq9(1)},
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY="k-1",
            **bearer(cast[who]),
        )
    else:
        response = client.get(url, **bearer(cast[who]))
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}
    assert CheckIn.objects.count() == before
    assert not AuditEvent.objects.filter(client_id=clients["A1"].pk, user=cast[who]).exists()


def test_a_client_that_does_not_exist_and_an_unknown_path_are_404_json(
    client: HttpClient, cast: dict[str, User], clients: Any
) -> None:
    headers = bearer(cast["ana"])
    missing = client.get(f"{API}/clients/987654321", **headers)
    for response in (missing, client.get(f"{API}/no-such-thing", **headers), client.get(f"{API}/", **headers)):
        assert (response.status_code, response.json()) == (404, {"detail": "Not Found"})


# --- FHIR export ---------------------------------------------------------------------------------------------------


def test_the_fhir_export_is_a_valid_bundle_with_a_response_and_an_observation_per_checkin(
    client: HttpClient, cast: dict[str, User], clients: dict[str, Client]
) -> None:
    response = client.get(f"{API}/clients/{clients['A1'].pk}/fhir", **bearer(cast["ana"]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/fhir+json"
    bundle = response.json()
    Bundle.parse_obj(bundle)
    assert bundle["type"] == "collection"
    resources = [entry["resource"] for entry in bundle["entry"]]
    responses = [r for r in resources if r["resourceType"] == "QuestionnaireResponse"]
    observations = [r for r in resources if r["resourceType"] == "Observation"]
    checkins = list(CheckIn.objects.filter(client=clients["A1"]).order_by("submitted_at", "pk"))
    assert len(responses) == len(observations) == len(checkins) == 10
    assert {r["subject"]["reference"] for r in resources} == {"Patient/A1"}
    assert [dt.datetime.fromisoformat(r["authored"]) for r in responses] == [c.submitted_at for c in checkins]
    first_total = observations[0]["valueQuantity"]["value"]
    assert first_total == checkins[0].total == 16.0
    assert observations[0]["code"]["coding"][0]["code"] == "44261-6"  # LOINC PHQ-9 total
    assert observations[0]["derivedFrom"][0]["reference"] == f"urn:uuid:{responses[0]['id']}"
    again = client.get(f"{API}/clients/{clients['A1'].pk}/fhir", **bearer(cast["ana"])).json()
    assert [e["fullUrl"] for e in again["entry"]] == [e["fullUrl"] for e in bundle["entry"]]


# --- OpenAPI and audit ---------------------------------------------------------------------------------------------


def test_the_openapi_description_is_served_and_lists_every_route(client: HttpClient, db: Any) -> None:
    response = client.get(f"{API}/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    assert set(spec["paths"]) == {
        f"{API}/clients",
        f"{API}/clients/{{id}}",
        f"{API}/clients/{{id}}/timeline",
        f"{API}/clients/{{id}}/checkins",
        f"{API}/clients/{{id}}/fhir",
        f"{API}/clients/{{id}}/export",
    }
    assert "post" in spec["paths"][f"{API}/clients/{{id}}/checkins"]
    assert spec["components"]["securitySchemes"]["BearerToken"]["scheme"] == "bearer"


def test_every_read_and_export_is_audited(
    client: HttpClient, cast: dict[str, User], clients: dict[str, Client]
) -> None:
    headers = bearer(cast["ana"])
    pk = clients["A1"].pk
    before = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0  # the log is append-only
    client.get(f"{API}/clients", **headers)
    client.get(f"{API}/clients/{pk}", **headers)
    client.get(f"{API}/clients/{pk}/timeline", **headers)
    client.get(f"{API}/clients/{pk}/fhir", **headers)
    events = list(
        AuditEvent.objects.filter(seq__gt=before)
        .order_by("seq")
        .values_list("action", "client_id", "user__username", "path")
    )
    assert events == [
        ("read", pk, "ana", f"{API}/clients"),
        ("read", pk, "ana", f"{API}/clients/{pk}"),
        ("read", pk, "ana", f"{API}/clients/{pk}/timeline"),
        ("export", pk, "ana", f"{API}/clients/{pk}/fhir"),
    ]
