"""In a real browser: a sharp drop on the relationship check-in, answered on a phone, puts the client first on ana's
caseload with a rupture badge; from the client page ana sends the follow-up; the client answers it on a phone; the
support panel then shows the answers and re-ranks its suggestions."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from browser import PHONE, screenshot, sign_in_with_code
from clinic_factories import PASSWORD, MakeClient, alliance, gad7, phq9
from django.utils import timezone
from playwright.sync_api import expect

from alliance.clinic.accounts.models import User
from alliance.clinic.alerts.models import Alert
from alliance.clinic.checkins.links import issue_link
from alliance.clinic.checkins.models import CheckIn
from alliance.clinic.practice.models import Appointment

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

STEADY = [{"phq9": phq9(1), "gad7": gad7(1), "alliance-client": alliance(9)}] * 4
# The client's follow-up: the relationship and the rest are fine, support from other people is low.
LOW_SUPPORT = {
    "heard": 4, "speak_up": 3, "keep_going": 4, "hope": 3, "people": 0, "backing": 1,
    "event": 0, "strain": 1, "values": 4, "whole_self": 4,
}  # fmt: skip


def choose(page: Any, instrument: str, item: str, value: int) -> None:
    """Tap the answer ``value`` of ``item`` (the radio itself is visually hidden behind its big label)."""
    page.locator(f'label:has(input[name="{instrument}:{item}"][value="{value}"])').click()


def suggestion_titles(page: Any) -> list[str]:
    return [str(title) for title in page.locator(".support-panel ol.suggestions h4").all_inner_texts()]


def test_a_sharp_drop_puts_the_rupture_first_and_the_follow_up_is_sent_and_answered(
    live_server: Any, browser: Any, ana: User, ben: User, make_client: MakeClient
) -> None:
    make_client(ana, code="C-CALM", sessions=STEADY)
    marta = make_client(ana, code="C-MARTA", sessions=STEADY)
    make_client(ana, code="C-ALSO-CALM", sessions=STEADY)
    make_client(ben, code="C-BENS", sessions=STEADY)
    today = Appointment.objects.create(
        client=marta,
        episode=marta.episodes.get(),
        therapist=ana,
        starts_at=timezone.now() - dt.timedelta(minutes=50),
        session_number=5,
    )
    token = issue_link(today, by=ana).token

    # The client, on a phone: the usual start, then a sharp drop in the goals and the way of working.
    phone = browser.new_context(**PHONE)
    page = phone.new_page()
    page.goto(f"{live_server.url}/checkin/{token}/")
    for number in range(1, 10):
        choose(page, "phq9", f"phq9_{number}", 1 if number < 9 else 0)
    for number in range(1, 8):
        choose(page, "gad7", f"gad7_{number}", 1)
    page.get_by_role("button", name="Send my answers").click()
    page.get_by_role("link", name="The session has ended — continue").click()
    for item, value in alliance(9, goals=2, tasks=4).items():
        choose(page, "alliance-client", item, value)
    screenshot(page, "rupture-phone-checkin")
    page.get_by_role("button", name="Send my answers").click()
    expect(page.get_by_text("Your answers have been sent")).to_be_visible()
    # raised in the same request as the check-in
    rupture = Alert.objects.get(client=marta, kind=Alert.Kind.RUPTURE)
    assert set(rupture.details["domains"]) == {"goals", "tasks"}

    # ana logs in through the login page: the client with the rupture comes first, the badge says so in words.
    desk = browser.new_context(viewport={"width": 1280, "height": 900})
    staff = desk.new_page()
    staff.goto(f"{live_server.url}/caseload/")
    sign_in_with_code(staff, live_server.url, ana, PASSWORD)
    staff.wait_for_url("**/caseload/")
    rows = staff.locator("table.caseload tbody tr")
    assert rows.first.get_attribute("data-client") == "C-MARTA"
    assert "Possible rupture: goals, tasks" in rows.first.inner_text()
    assert "C-BENS" not in staff.content()
    screenshot(staff, "rupture-caseload-ana")

    # The client page: the alert, the chart mark, and the support panel aimed at the goals.
    rows.first.get_by_role("link", name="C-MARTA").click()
    assert staff.get_by_role("heading", level=1).inner_text().startswith("Client C-MARTA")
    panel = staff.locator(".support-panel")
    assert "Open alert: Possible rupture" in panel.inner_text()
    assert "agreement on goals" in panel.inner_text()
    before = suggestion_titles(staff)
    assert before[0] == "Revisit and re-agree the goals"
    assert staff.locator("svg .mark-dip").count() == 1
    screenshot(staff, "rupture-client-page-panel")
    staff.get_by_role("button", name="Send a follow-up questionnaire").click()
    address = staff.get_by_label("Follow-up address").input_value()
    assert re.fullmatch(rf"{re.escape(live_server.url)}/checkin/[^/]+/", address) or "/checkin/" in address
    screenshot(staff, "rupture-followup-sent")

    # The client answers the follow-up on a phone, between sessions.
    answering = phone.new_page()
    answering.goto(f"{live_server.url}/checkin/{address.rstrip('/').rsplit('/', 1)[1]}/")
    assert answering.get_by_role("heading", level=1).inner_text() == "A few questions from your therapist"
    for item, value in LOW_SUPPORT.items():
        choose(answering, "alliance-followup", item, value)
    assert answering.evaluate("document.documentElement.scrollWidth") <= 360
    screenshot(answering, "rupture-followup-phone")
    answering.get_by_role("button", name="Send my answers").click()
    expect(answering.get_by_text("Your answers have been sent")).to_be_visible()
    phone.close()
    assert CheckIn.objects.filter(client=marta, instrument="alliance-followup").count() == 1

    # Back on the client page: the answers by domain and the suggestions re-ranked by them.
    staff.goto(f"{live_server.url}/clients/{marta.pk}/")
    panel = staff.locator(".support-panel")
    assert "The answers point to:" in panel.inner_text()
    assert "little support from other people" in panel.inner_text()
    after = suggestion_titles(staff)
    assert after[0] == "Mobilise support from others" and after != before
    screenshot(staff, "rupture-panel-after-followup")
    desk.close()
