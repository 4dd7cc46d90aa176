"""The mirror form: the treating therapist rates the session from their side (``alliance-therapist``)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from clinic_factories import alliance, phq9
from django.test import Client as WebClient
from django.urls import reverse

from alliance.clinic.accounts.models import User
from alliance.clinic.audit.models import AuditEvent
from alliance.clinic.checkins.models import CheckIn
from alliance.clinic.practice.models import Appointment, Client

FORM_KEY = re.compile(r'name="form_key" value="([0-9a-f-]{36})"')


@pytest.fixture
def maria(cast: dict[str, User], make_client: Any) -> Client:
    sessions = [{"phq9": phq9(2), "alliance-client": alliance(8)}, {"phq9": phq9(1), "alliance-client": alliance(9)}]
    person: Client = make_client(cast["ana"], code="C-RATE", sessions=sessions)
    return person


def rate_url(person: Client, appointment: Appointment | None = None) -> str:
    url = reverse("client-rate", args=[person.pk])
    return f"{url}?appointment={appointment.pk}" if appointment else url


def form_key(response: Any) -> str:
    found = FORM_KEY.search(response.content.decode())
    assert found
    return found.group(1)


def rating(appointment: Appointment, key: str, answers: dict[str, Any]) -> dict[str, Any]:
    return {"appointment": appointment.pk, "form_key": key} | {
        f"alliance-therapist:{item}": value for item, value in answers.items()
    }


def latest(person: Client) -> Appointment:
    found: Appointment = person.appointments.order_by("-starts_at").first()
    return found


def test_ana_sees_the_therapist_form_for_the_latest_attended_session(
    client: WebClient, cast: dict[str, User], maria: Client
) -> None:
    client.force_login(cast["ana"])

    page = client.get(rate_url(maria))

    assert page.status_code == 200
    body = page.content.decode()
    assert "Alliance check-in (therapist)" in body
    assert body.count('<fieldset class="question"') == 8 and 'class="scale"' in body
    assert f'name="appointment" value="{latest(maria).pk}"' in body
    assert AuditEvent.objects.filter(action="read", user=cast["ana"], client_id=maria.pk).exists()


def test_ana_rates_the_session_and_it_is_stored_as_the_therapists(
    client: WebClient, cast: dict[str, User], maria: Client
) -> None:
    client.force_login(cast["ana"])
    key = form_key(client.get(rate_url(maria)))

    response = client.post(rate_url(maria), rating(latest(maria), key, alliance(7, overall=9)))

    assert response.status_code == 302 and response["Location"] == reverse("client-detail", args=[maria.pk])
    stored = CheckIn.objects.get(instrument="alliance-therapist")
    assert (stored.respondent, stored.source, stored.submitted_by, stored.appointment) == (
        "therapist",
        "staff",
        cast["ana"],
        latest(maria),
    )
    assert stored.total == 7.25  # (7 x 7 + 9) / 8
    assert AuditEvent.objects.filter(action="create", object_type="CheckIn", object_id=str(stored.pk)).exists()


def test_a_double_submit_stores_one_rating(client: WebClient, cast: dict[str, User], maria: Client) -> None:
    client.force_login(cast["ana"])
    data = rating(latest(maria), form_key(client.get(rate_url(maria))), alliance(8))

    client.post(rate_url(maria), data)
    client.post(rate_url(maria), data)

    assert CheckIn.objects.filter(instrument="alliance-therapist").count() == 1


def test_ana_can_rate_an_earlier_session(client: WebClient, cast: dict[str, User], maria: Client) -> None:
    first = maria.appointments.order_by("starts_at").first()
    assert first is not None
    client.force_login(cast["ana"])

    page = client.get(rate_url(maria, first))
    client.post(rate_url(maria), rating(first, form_key(page), alliance(6)))

    assert f'name="appointment" value="{first.pk}"' in page.content.decode()
    assert CheckIn.objects.get(instrument="alliance-therapist").appointment == first


def test_another_clients_appointment_cannot_be_chosen(
    client: WebClient, cast: dict[str, User], maria: Client, make_client: Any
) -> None:
    bens = make_client(cast["ben"], code="C-BEN", sessions=[{"phq9": phq9(1)}])
    other_of_anas = make_client(cast["ana"], code="C-ANA2", sessions=[{"phq9": phq9(1)}])
    client.force_login(cast["ana"])

    assert client.get(rate_url(maria, latest(bens))).status_code == 404
    assert client.get(rate_url(maria, latest(other_of_anas))).status_code == 404
    assert client.get(rate_url(maria) + "?appointment=abc").status_code == 404
    key = form_key(client.get(rate_url(maria)))
    assert client.post(rate_url(maria), rating(latest(other_of_anas), key, alliance(5))).status_code == 404
    assert not CheckIn.objects.filter(instrument="alliance-therapist").exists()


@pytest.mark.parametrize("who", ["ben", "eve"])
def test_staff_who_cannot_see_the_client_get_404(
    client: WebClient, cast: dict[str, User], maria: Client, who: str
) -> None:
    client.force_login(cast[who])

    assert client.get(rate_url(maria)).status_code == 404
    assert client.post(rate_url(maria), rating(latest(maria), "x", alliance(5))).status_code == 404


@pytest.mark.parametrize("who", ["cleo", "dara"])
def test_staff_who_see_the_client_but_do_not_treat_them_get_403(
    client: WebClient, cast: dict[str, User], maria: Client, who: str
) -> None:
    client.force_login(cast[who])

    shown = client.get(rate_url(maria))
    posted = client.post(rate_url(maria), rating(latest(maria), "00000000-0000-4000-8000-000000000001", alliance(5)))

    assert shown.status_code == posted.status_code == 403
    assert "Only the client's therapist rates the session" in shown.content.decode()
    assert not CheckIn.objects.filter(instrument="alliance-therapist").exists()


def test_tampered_values_are_refused(client: WebClient, cast: dict[str, User], maria: Client) -> None:
    client.force_login(cast["ana"])
    key = form_key(client.get(rate_url(maria)))

    response = client.post(rate_url(maria), rating(latest(maria), key, alliance(7, bond=11)))

    assert response.status_code == 422
    assert "nothing was saved" in response.content.decode()
    assert not CheckIn.objects.filter(instrument="alliance-therapist").exists()


def test_a_client_with_no_attended_session_has_nothing_to_rate(
    client: WebClient, cast: dict[str, User], make_client: Any
) -> None:
    newcomer = make_client(cast["ana"], code="C-NEW")
    client.force_login(cast["ana"])

    page = client.get(rate_url(newcomer))

    assert page.status_code == 200
    assert "has no attended session to rate yet" in page.content.decode()
    assert client.post(rate_url(newcomer), {"form_key": "x"}).status_code == 200
    assert not CheckIn.objects.exists()


def test_the_form_needs_a_login(client: WebClient, maria: Client) -> None:
    assert client.get(rate_url(maria))["Location"].startswith(reverse("login"))
