"""In a real browser: signing in with the password and a code from the authenticator app, and setting the app up
on a phone (QR code, key as text, recovery codes), with nothing blocked by the Content-Security-Policy."""

from __future__ import annotations

import re
from typing import Any

import pytest
from browser import PHONE, screenshot, sign_in_with_code
from clinic_factories import PASSWORD, code_now
from playwright.sync_api import expect

from alliance.clinic.accounts.models import TotpDevice, User

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_ana_signs_in_with_her_password_and_a_code(live_server: Any, browser: Any, ana: User) -> None:
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.goto(f"{live_server.url}/me/trends/")
    assert "/login/" in page.url
    screenshot(page, "login-password")
    page.get_by_label("Username").fill("ana")
    page.get_by_label("Password").fill("not her password")
    page.get_by_role("button", name="Log in").click()
    assert page.get_by_role("alert").inner_text() == "Your username and password didn't match. Please try again."

    sign_in_with_code(page, live_server.url, ana, PASSWORD)

    page.wait_for_url(f"{live_server.url}/me/trends/")  # where she was going
    expect(page.get_by_role("button", name="Log out ana")).to_be_visible()
    screenshot(page, "login-signed-in")


def test_ben_sets_up_his_authenticator_on_a_phone(live_server: Any, browser: Any, ben: User) -> None:
    page = browser.new_context(**PHONE).new_page()
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("ben")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/login/enrol/")
    expect(page.get_by_role("img", name="QR code to add alliance to your authenticator app")).to_be_visible()
    key = page.locator(".secret code").inner_text().replace(" ", "")
    assert re.fullmatch(r"[A-Z2-7]{32}", key)
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    screenshot(page, "mfa-enrol-phone")

    page.get_by_label("The code the app shows now").fill(code_now(key))
    page.get_by_role("button", name="Confirm").click()

    assert page.get_by_role("heading", level=1).inner_text() == "Your recovery codes"
    assert page.locator(".recovery-codes li").count() == 10
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    screenshot(page, "mfa-recovery-codes-phone")
    page.get_by_role("link", name="I have saved them — continue").click()
    page.wait_for_url(f"{live_server.url}/caseload/")
    assert TotpDevice.objects.get(user=ben).confirmed
