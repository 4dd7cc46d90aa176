"""In a real browser: a client completes a check-in on a phone in Spanish, and a double submit stores one check-in."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from browser import PHONE, screenshot
from django.utils import timezone
from playwright.sync_api import expect

from alliance.clinic.accounts.models import User
from alliance.clinic.checkins.links import issue_link
from alliance.clinic.checkins.models import CheckIn
from alliance.clinic.practice.models import Appointment, Client, Episode

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def today_appointment(therapist: User, code: str, *, language: str = "en") -> Appointment:
    assert therapist.practice is not None
    client = Client.objects.create(practice=therapist.practice, therapist=therapist, code=code, language=language)
    episode = Episode.objects.create(client=client, therapist=therapist, opened_on=timezone.localdate())
    return Appointment.objects.create(
        client=client, episode=episode, therapist=therapist, starts_at=timezone.now() + dt.timedelta(minutes=5),
        session_number=1,
    )  # fmt: skip


def choose(page: Any, instrument: str, item: str, value: int) -> None:
    """Tap the answer ``value`` of ``item`` (the radio itself is visually hidden behind its big label)."""
    page.locator(f'label:has(input[name="{instrument}:{item}"][value="{value}"])').click()


def test_a_client_completes_the_check_in_on_a_phone_in_spanish(live_server: Any, browser: Any, ana: User) -> None:
    appointment = today_appointment(ana, "C-PHONE")
    issued = issue_link(appointment, by=ana)
    context = browser.new_context(**PHONE)
    page = context.new_page()
    page.goto(f"{live_server.url}/checkin/{issued.token}/")
    page.get_by_role("button", name="Español").click()
    assert page.locator("html").get_attribute("lang") == "es"
    assert page.get_by_role("heading", level=1).inner_text() == "Antes de su sesión"
    for number in range(1, 10):
        choose(page, "phq9", f"phq9_{number}", 1 if number < 9 else 0)
    for number in range(1, 8):
        choose(page, "gad7", f"gad7_{number}", 2)
    assert page.evaluate("document.documentElement.scrollWidth") <= 360  # no sideways scrolling on a phone
    screenshot(page, "checkin-phone-es-start")
    page.get_by_role("button", name="Enviar mis respuestas").click()

    screenshot(page, "checkin-phone-es-interlude")
    page.get_by_role("link", name="La sesión terminó — continuar").click()
    expect(page.get_by_text("Hoy sentí que podía confiar en mi terapeuta.")).to_be_visible()
    for item in ("bond", "understood", "respect", "goals", "tasks", "culture", "safety", "overall"):
        choose(page, "alliance-client", item, 9)
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    screenshot(page, "checkin-phone-es-end")
    page.get_by_role("button", name="Enviar mis respuestas").click()
    assert page.locator("html").get_attribute("lang") == "es"
    screenshot(page, "checkin-phone-es-thanks")
    context.close()

    stored = {c.instrument: c for c in CheckIn.objects.filter(client=appointment.client)}
    assert set(stored) == {"phq9", "gad7", "alliance-client"}
    assert stored["phq9"].total == 8 and stored["gad7"].total == 14 and stored["alliance-client"].total == 9
    assert {c.language for c in stored.values()} == {"es"}
    assert not stored["phq9"].risk


def test_a_double_submit_stores_one_check_in(live_server: Any, browser: Any, ana: User) -> None:
    appointment = today_appointment(ana, "C-TWICE")
    issued = issue_link(appointment, by=ana)
    page = browser.new_context(**PHONE).new_page()
    page.goto(f"{live_server.url}/checkin/{issued.token}/")
    for number in range(1, 10):
        choose(page, "phq9", f"phq9_{number}", 2)
    for number in range(1, 8):
        choose(page, "gad7", f"gad7_{number}", 1)
    send = page.get_by_role("button", name="Send my answers")
    send.click(click_count=2)  # a flaky tablet: two taps in a row
    page.wait_for_load_state()
    page.go_back()  # and the back button, then the same form sent again
    if page.get_by_role("button", name="Send my answers").count():
        page.get_by_role("button", name="Send my answers").click()
    page.wait_for_load_state()
    screenshot(page, "checkin-double-submit")
    counts = {
        instrument: CheckIn.objects.filter(client=appointment.client, instrument=instrument).count()
        for instrument in ("phq9", "gad7")
    }
    assert counts == {"phq9": 1, "gad7": 1}
