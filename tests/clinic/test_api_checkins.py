"""Submitting check-ins through the API: stored once per Idempotency-Key, scored, alerted, errors naming the field."""

from __future__ import annotations

from typing import Any

import pytest
from clinic_factories import MakeClient, alliance, phq9
from django.test import Client as HttpClient

from alliance.clinic.accounts.models import ApiToken, User
from alliance.clinic.alerts.models import Alert
from alliance.clinic.audit.models import AuditEvent
from alliance.clinic.checkins.models import CheckIn
from alliance.clinic.practice.models import Appointment, Client


@pytest.fixture
def a1(cast: dict[str, User], make_client: MakeClient) -> Client:
    return make_client(cast["ana"], code="A1", sessions=[{"phq9": phq9(2)}, {"phq9": phq9(2)}])


@pytest.fixture
def post(client: HttpClient, cast: dict[str, User]) -> Any:
    """POST a check-in for a client as a cast member (ana by default), with an optional Idempotency-Key."""
    tokens: dict[str, str] = {}

    def send(target: Client, body: Any, *, key: str | None = None, who: str = "ana") -> Any:
        if who not in tokens:
            tokens[who] = ApiToken.issue(cast[who])[1]
        headers = {"HTTP_AUTHORIZATION": f"Bearer {tokens[who]}"}
        if key is not None:
            headers["HTTP_IDEMPOTENCY_KEY"] = key
        return client.post(f"/api/v1/clients/{target.pk}/checkins", body, content_type="application/json", **headers)

    return send


def test_a_checkin_is_scored_stored_and_returned_with_201(post: Any, a1: Client, cast: dict[str, User]) -> None:
    response = post(a1, {"instrument": "phq9", "answers": phq9(3)})
    assert response.status_code == 201
    body = response.json()
    assert body["instrument"] == "phq9"
    assert body["total"] == 24.0 and body["severity"] == "severe" and body["risk"] is False
    assert body["answers"]["phq9_1"] == 3 and body["answers"]["phq9_difficulty"] is None
    assert body["respondent"] == "client" and body["session"] is None
    stored = CheckIn.objects.get(pk=body["id"])
    assert (stored.source, stored.submitted_by, stored.client) == (CheckIn.Source.API, cast["ana"], a1)
    assert AuditEvent.objects.filter(action="create", object_id=str(stored.pk), user=cast["ana"]).exists()


def test_api_clients_need_no_csrf_token(a1: Client, cast: dict[str, User]) -> None:
    strict = HttpClient(enforce_csrf_checks=True)
    _, secret = ApiToken.issue(cast["ana"])
    response = strict.post(
        f"/api/v1/clients/{a1.pk}/checkins",
        {"instrument": "phq9", "answers": phq9(1)},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    assert response.status_code == 201


def test_a_repeat_with_the_same_key_returns_the_first_result_and_stores_nothing(post: Any, a1: Client) -> None:
    body = {"instrument": "phq9", "answers": phq9(1)}
    first = post(a1, body, key="tablet-7-2026-03-02T10:00")
    before = CheckIn.objects.count()
    repeat = post(a1, body, key="tablet-7-2026-03-02T10:00")
    assert first.status_code == 201
    assert repeat.status_code == 200
    assert repeat["Idempotent-Replayed"] == "true"
    assert repeat.json() == first.json()
    assert CheckIn.objects.count() == before
    assert CheckIn.objects.filter(client=a1, source=CheckIn.Source.API).count() == 1


def test_a_key_reused_for_a_different_request_is_refused(post: Any, a1: Client) -> None:
    assert post(a1, {"instrument": "phq9", "answers": phq9(1)}, key="k").status_code == 201
    response = post(a1, {"instrument": "phq9", "answers": phq9(2)}, key="k")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]


def test_keys_belong_to_their_user_so_two_callers_never_collide(
    post: Any, a1: Client, cast: dict[str, User], make_client: MakeClient
) -> None:
    b1 = make_client(cast["ben"], code="B1", sessions=[{"phq9": phq9(1)}])
    assert post(a1, {"instrument": "phq9", "answers": phq9(1)}, key="1").status_code == 201
    assert post(b1, {"instrument": "phq9", "answers": phq9(1)}, key="1", who="ben").status_code == 201


def test_a_risk_answer_through_the_api_raises_a_risk_alert(post: Any, a1: Client) -> None:
    response = post(a1, {"instrument": "phq9", "answers": phq9(1, item9=2)})
    assert response.status_code == 201 and response.json()["risk"] is True
    assert Alert.objects.filter(client=a1, kind=Alert.Kind.RISK, checkin_id=response.json()["id"]).exists()


def test_a_checkin_for_an_appointment_carries_its_session_number(post: Any, a1: Client) -> None:
    appointment = Appointment.objects.get(client=a1, session_number=2)
    response = post(a1, {"instrument": "alliance-client", "answers": alliance(8), "appointment": appointment.pk})
    assert response.status_code == 201
    assert response.json()["session"] == 2
    assert CheckIn.objects.get(pk=response.json()["id"]).appointment == appointment


def test_another_clients_appointment_is_refused(
    post: Any, a1: Client, cast: dict[str, User], make_client: MakeClient
) -> None:
    other = make_client(cast["ana"], code="A2", sessions=[{"phq9": phq9(1)}])
    appointment = Appointment.objects.get(client=other)
    response = post(a1, {"instrument": "phq9", "answers": phq9(1), "appointment": appointment.pk})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "appointment"]


def test_the_therapist_mirror_form_is_recorded_as_the_therapists(post: Any, a1: Client) -> None:
    response = post(a1, {"instrument": "alliance-therapist", "answers": alliance(7)})
    assert response.status_code == 201
    assert response.json()["respondent"] == "therapist"


INVALID = {
    "unknown item": ({"instrument": "phq9", "answers": {"phq9_10": 1}}, ["body", "answers", "phq9_10"]),
    "out of range": ({"instrument": "phq9", "answers": {"phq9_9": 4}}, ["body", "answers", "phq9_9"]),
    "not an option": ({"instrument": "phq9", "answers": {"phq9_1": 1.5}}, ["body", "answers", "phq9_1"]),
    "unknown instrument": ({"instrument": "nope", "answers": {"x": 1}}, ["body", "instrument"]),
    "text value": ({"instrument": "phq9", "answers": {"phq9_1": "two"}}, ["body", "answers", "phq9_1"]),
    "boolean value": ({"instrument": "phq9", "answers": {"phq9_1": True}}, ["body", "answers", "phq9_1"]),
    "answers not an object": ({"instrument": "phq9", "answers": [1, 2]}, ["body", "answers"]),
    "instrument not text": ({"instrument": 9, "answers": phq9(1)}, ["body", "instrument"]),
    "instrument missing": ({"answers": phq9(1)}, ["body", "instrument"]),
    "nothing answered": ({"instrument": "phq9", "answers": {}}, ["body", "answers"]),
    "bad respondent": ({"instrument": "phq9", "answers": phq9(1), "respondent": "cat"}, ["body", "respondent"]),
}


@pytest.mark.parametrize(("body", "loc"), list(INVALID.values()), ids=list(INVALID))
def test_invalid_checkins_are_422_naming_the_field_and_store_nothing(
    post: Any, a1: Client, body: dict[str, Any], loc: list[str]
) -> None:
    before = CheckIn.objects.count()
    response = post(a1, body, key="same-key-every-time")
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail[0]["loc"] == loc
    assert detail[0]["msg"]
    assert CheckIn.objects.count() == before


def test_an_overlong_key_is_refused(post: Any, a1: Client) -> None:
    response = post(a1, {"instrument": "phq9", "answers": phq9(1)}, key="k" * 151)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]


def test_a_malformed_body_is_422(client: HttpClient, a1: Client, cast: dict[str, User]) -> None:
    _, secret = ApiToken.issue(cast["ana"])
    response = client.post(
        f"/api/v1/clients/{a1.pk}/checkins",
        "{not json",
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    assert response.status_code in (400, 422)
    assert CheckIn.objects.filter(source=CheckIn.Source.API).count() == 0
