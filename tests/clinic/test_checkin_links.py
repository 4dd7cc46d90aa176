"""A therapist opens a one-time check-in link for an appointment: shown once as address and QR code, stored hashed."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from typing import Any

import pytest
from django.test import Client as WebClient
from django.urls import reverse
from django.utils import timezone

from alliance.clinic.accounts.models import User
from alliance.clinic.audit.models import AuditEvent
from alliance.clinic.checkins import links
from alliance.clinic.checkins.models import CheckinLink
from alliance.clinic.checkins.qr import qr_svg
from alliance.clinic.practice.models import Appointment, Client

TOKEN_IN_PAGE = re.compile(r"http://127\.0\.0\.1:8000/checkin/([A-Za-z0-9_-]+)/")


def book(person: Client, *, number: int = 1) -> Appointment:
    """Book today's (not yet attended) appointment of ``person``."""
    episode = person.episodes.first() or person.episodes.create(
        therapist=person.therapist, opened_on=timezone.localdate()
    )
    return Appointment.objects.create(
        client=person, episode=episode, therapist=person.therapist, starts_at=timezone.now(), session_number=number
    )


@pytest.fixture
def maria(cast: dict[str, User], make_client: Any) -> Client:
    person: Client = make_client(cast["ana"], code="C-MARIA")
    return person


@pytest.fixture
def today(maria: Client) -> Appointment:
    return book(maria)


def create_link(web: WebClient, appointment: Appointment) -> tuple[Any, str]:
    response = web.post(reverse("checkin-link-create", args=[appointment.pk]))
    found = TOKEN_IN_PAGE.search(response.content.decode())
    return response, found.group(1) if found else ""


def test_ana_opens_a_link_for_her_appointment_and_sees_address_and_qr_code(
    cast: dict[str, User], today: Appointment, client: WebClient
) -> None:
    client.force_login(cast["ana"])
    response, token = create_link(client, today)

    assert response.status_code == 200
    page = response.content.decode()
    assert f"http://127.0.0.1:8000/checkin/{token}/" in page
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in page and 'role="img"' in page
    assert "no-store" in response["Cache-Control"]  # the secret is shown once; never cached
    # 32 random bytes: at least 128 bits of secret.
    assert len(token) >= 43

    link = CheckinLink.objects.get()
    assert link.appointment == today and link.client == today.client and link.created_by == cast["ana"]
    assert link.stage == "start" and not link.kiosk and link.used_at is None


def test_only_the_hash_of_the_secret_is_stored(cast: dict[str, User], today: Appointment, client: WebClient) -> None:
    client.force_login(cast["ana"])
    _, token = create_link(client, today)

    link = CheckinLink.objects.get()
    assert link.token_hash == hashlib.sha256(token.encode()).hexdigest()
    stored = " ".join(str(value) for value in CheckinLink.objects.values().get().values())
    assert token not in stored


def test_the_link_expires_after_the_configured_minutes(
    cast: dict[str, User], today: Appointment, client: WebClient, settings: Any
) -> None:
    settings.ALLIANCE_CHECKIN_LINK_MINUTES = 45
    client.force_login(cast["ana"])
    before = timezone.now()
    create_link(client, today)

    link = CheckinLink.objects.get()
    assert before + dt.timedelta(minutes=45) <= link.expires_at <= timezone.now() + dt.timedelta(minutes=45)


def test_creating_a_link_is_audited(cast: dict[str, User], today: Appointment, client: WebClient) -> None:
    client.force_login(cast["ana"])
    create_link(client, today)

    link = CheckinLink.objects.get()
    event = AuditEvent.objects.get(action="create", object_type="CheckinLink")
    assert event.user == cast["ana"] and event.object_id == str(link.pk) and event.client_id == today.client_id


@pytest.mark.parametrize("who", ["ben", "eve"])
def test_nobody_outside_the_clients_circle_can_open_a_link(
    cast: dict[str, User], today: Appointment, client: WebClient, who: str
) -> None:
    client.force_login(cast[who])
    response, _ = create_link(client, today)

    assert response.status_code == 404
    assert not CheckinLink.objects.exists()


def test_the_supervisor_covering_the_session_can_open_a_link(
    cast: dict[str, User], today: Appointment, client: WebClient
) -> None:
    client.force_login(cast["cleo"])
    response, token = create_link(client, today)
    assert response.status_code == 200 and token


def test_a_link_is_made_by_post_only_and_only_when_logged_in(today: Appointment, client: WebClient) -> None:
    url = reverse("checkin-link-create", args=[today.pk])
    assert client.post(url).status_code == 302  # to the log-in page
    assert not CheckinLink.objects.exists()


def test_get_does_not_make_a_link(cast: dict[str, User], today: Appointment, client: WebClient) -> None:
    client.force_login(cast["ana"])
    assert client.get(reverse("checkin-link-create", args=[today.pk])).status_code == 405
    assert not CheckinLink.objects.exists()


def test_a_new_link_supersedes_the_unused_one(cast: dict[str, User], today: Appointment, client: WebClient) -> None:
    client.force_login(cast["ana"])
    _, first = create_link(client, today)
    _, second = create_link(client, today)
    client.logout()

    old = client.get(reverse("checkin", args=[first]))
    assert old.status_code == 410
    assert "This link is no longer valid" in old.content.decode()
    assert "Este enlace ya no es válido" in old.content.decode()
    assert client.get(reverse("checkin", args=[second])).status_code == 200


def test_a_new_link_carries_on_after_the_outcome_measures(cast: dict[str, User], today: Appointment) -> None:
    first = links.issue_link(today, by=cast["ana"])
    links.complete_stage(
        first.link,
        stage="start",
        answers={"phq9": {"phq9_1": 1}, "gad7": {"gad7_1": 1}},
        form_key="8b0f3c1e-8d6c-4a5e-9d2e-1f4f2b7c9a10",
        language="es",
    )

    second = links.issue_link(today, by=cast["ana"])

    assert second.link.stage == "end"  # the start-of-session questions are not asked twice
    assert second.link.language == "es"


def test_a_completed_link_is_not_superseded(cast: dict[str, User], today: Appointment) -> None:
    first = links.issue_link(today, by=cast["ana"])
    CheckinLink.objects.filter(pk=first.link.pk).update(stage="done", used_at=timezone.now())

    second = links.issue_link(today, by=cast["ana"])

    first.link.refresh_from_db()
    assert first.link.superseded_at is None
    assert second.link.stage == "start"


def test_links_of_other_appointments_stay_valid(cast: dict[str, User], maria: Client, today: Appointment) -> None:
    other = book(maria, number=2)
    kept = links.issue_link(other, by=cast["ana"])
    links.issue_link(today, by=cast["ana"])
    links.issue_link(today, by=cast["ana"])

    assert links.find_link(kept.token) == kept.link


def test_the_qr_code_is_our_own_markup_whatever_the_text() -> None:
    svg = str(qr_svg('https://example.org/?q=<script>alert("x")</script>', title='<b onclick="x">QR</b>'))

    assert "<script" not in svg and "<b " not in svg and 'onclick="' not in svg
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg"') and svg.endswith("</svg>")
    assert set(re.findall(r"<(\w+)", svg)) == {"svg", "title", "rect", "path"}
    path = re.search(r' d="([^"]*)"', svg)
    assert path is not None and re.fullmatch(r"[Mhvz0-9,\-]+", path.group(1))


def test_the_qr_code_draws_exactly_the_dark_modules_of_the_code() -> None:
    import qrcode

    url = "http://127.0.0.1:8000/checkin/abc/"
    svg = str(qr_svg(url, title="QR"))
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    code.add_data(url)
    code.make(fit=True)
    expected = {(x, y) for y, row in enumerate(code.get_matrix()) for x, dark in enumerate(row) if dark}

    drawn: set[tuple[int, int]] = set()
    for x, y, run in re.findall(r"M(\d+),(\d+)h(\d+)v1h-\d+z", svg):
        drawn |= {(int(x) + step, int(y)) for step in range(int(run))}
    assert drawn == expected
