"""In a real browser: cleo opens the analytics page (desktop and phone) and downloads the supervision PDF."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from browser import PHONE, log_in, screenshot
from report_factories import record_client

from alliance.clinic.accounts.models import User
from alliance.clinic.practice.models import Episode

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_cleo_opens_the_analytics_page_and_downloads_the_pdf(
    live_server: Any, browser: Any, cast: dict[str, User]
) -> None:
    for number in range(10):
        record_client(
            cast["ana"] if number % 2 else cast["ben"],
            code=f"C-BR{number:03d}",
            phq9=[16, 11, 7] if number < 7 else [16, 15, 14],
            gad7=[12, 8, 5] if number < 7 else [12, 12, 12],
            alliance=[7, 8, 9],
            start=dt.datetime(2025, 1, 6, 10, tzinfo=dt.UTC) + dt.timedelta(weeks=number * 3),
            ending=Episode.Ending.COMPLETED,
            ethnicity="A" if number < 6 else "N",
            gender="female" if number % 3 else "male",
        )
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    log_in(context, live_server.url, cast["cleo"])
    page = context.new_page()
    page.goto(f"{live_server.url}/team/")
    page.get_by_role("link", name="Analytics").click()
    page.wait_for_url("**/analytics/")
    assert page.get_by_role("heading", level=1).inner_text() == "Practice analytics"
    assert "10 clients, 10 episodes" in page.content()
    assert page.locator("svg.interval-chart").count() == 2
    screenshot(page, "analytics-cleo")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download PDF for supervision").click()
    download = download_info.value
    assert download.suggested_filename.startswith("alliance-analytics-all-")
    with open(download.path(), "rb") as handle:
        assert handle.read(5) == b"%PDF-"
    phone = browser.new_context(**PHONE)
    log_in(phone, live_server.url, cast["cleo"])
    small = phone.new_page()
    small.goto(f"{live_server.url}/analytics/")
    # Nothing wider than the phone's screen but the tables and charts, which scroll inside their own boxes.
    assert small.evaluate("document.documentElement.scrollWidth") <= 360
    screenshot(small, "analytics-cleo-phone")
