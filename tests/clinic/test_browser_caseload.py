"""In a real browser: ana logs in through the login page and finds her flagged client first."""

from __future__ import annotations

from typing import Any

import pytest
from browser import screenshot, sign_in_with_code
from clinic_factories import PASSWORD, MakeClient, alliance, gad7, phq9

from alliance.clinic.accounts.models import User

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_ana_logs_in_and_finds_the_flagged_client_first(
    live_server: Any, browser: Any, ana: User, ben: User, make_client: MakeClient
) -> None:
    steady = [{"phq9": phq9(1), "gad7": gad7(1), "alliance-client": alliance(9)}] * 4
    make_client(ana, code="C-CALM", sessions=steady)
    make_client(
        ana,
        code="C-RISK",
        sessions=[
            {"phq9": phq9(2), "gad7": gad7(2), "alliance-client": alliance(9)},
            {"phq9": phq9(2, item9=1), "gad7": gad7(2), "alliance-client": alliance(8)},
        ],
    )
    make_client(ana, code="C-ALSO-CALM", sessions=steady)
    make_client(ben, code="C-BENS", sessions=[{"phq9": phq9(3, item9=2)}])

    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.goto(f"{live_server.url}/caseload/")
    assert "/login/" in page.url  # not logged in: sent to the login page
    sign_in_with_code(page, live_server.url, ana, PASSWORD)  # password, then the authenticator's code
    page.wait_for_url("**/caseload/")
    rows = page.locator("table.caseload tbody tr")
    assert rows.first.get_attribute("data-client") == "C-RISK"
    assert "Risk" in rows.first.inner_text()
    assert "C-BENS" not in page.content()  # another therapist's client never shows
    screenshot(page, "caseload-ana")
    rows.first.get_by_role("link", name="C-RISK").click()
    assert page.get_by_role("heading", level=1).inner_text().startswith("Client C-RISK")
    screenshot(page, "client-page-ana")
