"""Kiosk mode: a therapist hands the clinic tablet to a client; until the password is given again, the tablet shows
the client's check-in and nothing else."""

from __future__ import annotations

import re
from typing import Any

import pytest
from clinic_factories import alliance, gad7, phq9
from django.test import Client as WebClient
from django.urls import reverse
from django.utils import timezone

from alliance.clinic.accounts.middleware import KIOSK_KEY
from alliance.clinic.accounts.models import User
from alliance.clinic.audit.models import AuditEvent
from alliance.clinic.checkins import links
from alliance.clinic.checkins.models import CheckIn, CheckinLink
from alliance.clinic.practice.models import Appointment, Client

PASSWORD = "correct-horse-battery-staple"  # conftest.PASSWORD
FORM_KEY = re.compile(r'name="form_key" value="([0-9a-f-]{36})"')


@pytest.fixture
def maria(cast: dict[str, User], make_client: Any) -> Client:
    person: Client = make_client(cast["ana"], code="C-KIOSK", language="es")
    return person


@pytest.fixture
def today(maria: Client) -> Appointment:
    return Appointment.objects.create(
        client=maria,
        episode=maria.episodes.get(),
        therapist=maria.therapist,
        starts_at=timezone.now(),
        session_number=1,
    )


@pytest.fixture
def tablet(client: WebClient, cast: dict[str, User], today: Appointment) -> WebClient:
    """Ana's logged-in tablet, put into kiosk mode for today's appointment."""
    client.force_login(cast["ana"])
    response = client.post(reverse("kiosk-start", args=[today.pk]))
    assert response.status_code == 302
    return client


def token_of(tablet: WebClient) -> str:
    return str(tablet.session[KIOSK_KEY])


def form_key(response: Any) -> str:
    found = FORM_KEY.search(response.content.decode())
    assert found
    return found.group(1)


def answer_everything(tablet: WebClient, token: str) -> Any:
    url = reverse("checkin", args=[token])
    key = form_key(tablet.get(url))
    tablet.post(url, {"stage": "start", "form_key": key} | {f"phq9:{k}": v for k, v in phq9(1).items()})
    key = form_key(tablet.get(url + "?page=questions"))
    end = {"stage": "end", "form_key": key} | {f"alliance-client:{k}": v for k, v in alliance(9).items()}
    return tablet.post(url, end)


def test_starting_kiosk_mode_opens_the_clients_check_in_and_locks_the_staff_session(
    client: WebClient, cast: dict[str, User], today: Appointment
) -> None:
    client.force_login(cast["ana"])

    response = client.post(reverse("kiosk-start", args=[today.pk]))

    token = token_of(client)
    assert response["Location"] == reverse("checkin", args=[token])
    link = links.find_link(token)
    assert link.kiosk and link.appointment == today
    assert AuditEvent.objects.filter(action="create", object_type="CheckinLink", user=cast["ana"]).exists()
    page = client.get(response["Location"])
    assert page.status_code == 200 and '<html lang="es">' in page.content.decode()
    assert "Log out" not in page.content.decode() and "Caseload" not in page.content.decode()


@pytest.mark.parametrize("name", ["caseload", "my-trends", "team", "home", "logout", "admin:index"])
def test_a_locked_tablet_reaches_no_staff_page(tablet: WebClient, name: str) -> None:
    response = tablet.get(reverse(name))
    assert response.status_code == 302 and response["Location"] == reverse("kiosk-locked")


def test_a_locked_tablet_reaches_no_client_data(tablet: WebClient, maria: Client, today: Appointment) -> None:
    for path in (
        reverse("client-detail", args=[maria.pk]),
        reverse("client-rate", args=[maria.pk]),
        f"/api/v1/clients/{maria.pk}",
    ):
        assert tablet.get(path)["Location"] == reverse("kiosk-locked")
    assert tablet.post(reverse("checkin-link-create", args=[today.pk]))["Location"] == reverse("kiosk-locked")
    assert CheckinLink.objects.count() == 1


def test_a_locked_tablet_answers_only_its_own_check_in(
    tablet: WebClient, cast: dict[str, User], today: Appointment, make_client: Any
) -> None:
    other = make_client(cast["ana"], code="C-OTHER")
    appointment = Appointment.objects.create(
        client=other, episode=other.episodes.get(), therapist=cast["ana"], starts_at=timezone.now(), session_number=1
    )
    other_token = links.issue_link(appointment, by=cast["ana"]).token

    assert tablet.get(reverse("checkin", args=[other_token]))["Location"] == reverse("kiosk-locked")


def test_the_lock_screen_leads_back_to_the_questions_until_they_are_done(tablet: WebClient) -> None:
    token = token_of(tablet)

    waiting = tablet.get(reverse("kiosk-locked"))

    assert waiting.status_code == 200
    assert "Sus preguntas aún no terminan." in waiting.content.decode()
    assert reverse("checkin", args=[token]) in waiting.content.decode()


def test_a_client_on_the_tablet_answers_and_hands_it_back(tablet: WebClient, maria: Client) -> None:
    token = token_of(tablet)

    thanks = answer_everything(tablet, token)

    assert "Por favor, devuelva la tableta a su terapeuta." in thanks.content.decode()
    assert reverse("kiosk-locked") in thanks.content.decode()
    assert set(CheckIn.objects.filter(client=maria, appointment__isnull=False).values_list("source", flat=True)) == {
        "kiosk"
    }
    done = tablet.get(reverse("kiosk-locked"))
    assert "Por favor, devuelva la tableta a su terapeuta." in done.content.decode()
    assert reverse("checkin", args=[token]) not in done.content.decode()
    # Still locked: the staff pages wait for the password.
    assert tablet.get(reverse("caseload"))["Location"] == reverse("kiosk-locked")


def test_a_wrong_password_keeps_the_tablet_locked(tablet: WebClient, cast: dict[str, User]) -> None:
    response = tablet.post(reverse("kiosk-unlock"), {"password": "guess"})

    assert response.status_code == 403
    assert "That password is not right. The tablet stays locked." in response.content.decode()
    assert tablet.get(reverse("caseload"))["Location"] == reverse("kiosk-locked")
    event = AuditEvent.objects.get(action="login_failed")
    assert event.user == cast["ana"] and event.object_type == "CheckinLink" and event.path == reverse("kiosk-unlock")


def test_the_staff_password_unlocks_the_tablet(tablet: WebClient, cast: dict[str, User], maria: Client) -> None:
    response = tablet.post(reverse("kiosk-unlock"), {"password": PASSWORD})

    assert response["Location"] == reverse("client-detail", args=[maria.pk])
    assert KIOSK_KEY not in tablet.session
    caseload = tablet.get(reverse("caseload"))
    assert caseload.get("Location") != reverse("kiosk-locked")
    event = AuditEvent.objects.get(action="login", object_type="CheckinLink")  # not the log-in of the fixture
    assert event.user == cast["ana"] and event.client_id == maria.pk and event.path == reverse("kiosk-unlock")


def test_too_many_wrong_passwords_end_the_staff_session(tablet: WebClient) -> None:
    for _ in range(links.KIOSK_MAX_FAILURES):
        response = tablet.post(reverse("kiosk-unlock"), {"password": "guess"})

    assert response["Location"] == reverse("login")
    assert "_auth_user_id" not in tablet.session and KIOSK_KEY not in tablet.session
    assert AuditEvent.objects.filter(action="login_failed").count() == links.KIOSK_MAX_FAILURES
    assert tablet.get(reverse("kiosk-locked"))["Location"] == reverse("home")  # no lock left: only the log-in


def test_unlocking_takes_a_post(tablet: WebClient) -> None:
    assert tablet.get(reverse("kiosk-unlock")).status_code == 405
    assert KIOSK_KEY in tablet.session


def test_the_lock_pages_without_a_lock_lead_home(client: WebClient, cast: dict[str, User]) -> None:
    client.force_login(cast["ana"])
    assert client.get(reverse("kiosk-locked"))["Location"] == reverse("home")
    assert client.post(reverse("kiosk-unlock"), {"password": PASSWORD})["Location"] == reverse("home")


@pytest.mark.parametrize("who", ["ben", "eve"])
def test_nobody_outside_the_clients_circle_can_start_kiosk_mode(
    client: WebClient, cast: dict[str, User], today: Appointment, who: str
) -> None:
    client.force_login(cast[who])

    assert client.post(reverse("kiosk-start", args=[today.pk])).status_code == 404
    assert KIOSK_KEY not in client.session
    assert not CheckinLink.objects.exists()


def test_kiosk_mode_supersedes_a_phone_link(tablet: WebClient, cast: dict[str, User], today: Appointment) -> None:
    # Ana had sent a phone link before the tablet (tablet fixture made the kiosk link; make a phone one, then kiosk).
    phone = links.issue_link(today, by=cast["ana"])
    kiosk = links.issue_link(today, by=cast["ana"], kiosk=True)

    with pytest.raises(links.LinkUnavailableError) as gone:
        links.find_link(phone.token)
    assert gone.value.reason == "superseded"
    assert links.find_link(kiosk.token).kiosk


def test_a_kiosk_link_stores_with_the_kiosk_source(cast: dict[str, User], today: Appointment) -> None:
    issued = links.issue_link(today, by=cast["ana"], kiosk=True)

    result = links.complete_stage(
        issued.link,
        stage="start",
        answers={"phq9": phq9(0), "gad7": gad7(0)},
        form_key="00000000-0000-4000-8000-00000000000a",
        language="es",
    )

    assert {checkin.source for checkin in result.checkins} == {"kiosk"}
