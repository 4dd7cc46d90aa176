"""In a real browser: ana attaches the sample transcript to a session, the worker runs (in process, --once), and the
feedback page shows the metrics next to the session's check-in; on a phone too."""

from __future__ import annotations

from typing import Any

import pytest
from browser import PHONE, log_in, screenshot
from clinic_factories import MakeClient, alliance, phq9
from typer.testing import CliRunner

from alliance.cli import app
from alliance.clinic.accounts.models import User
from alliance.clinic.listening import worker
from alliance.clinic.listening.demo import sample_text

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_ana_attaches_a_transcript_and_reads_the_feedback(
    live_server: Any, browser: Any, ana: User, make_client: MakeClient, tmp_path: Any, labeller_loader: Any
) -> None:
    client = make_client(ana, code="C-TALK", sessions=[{"phq9": phq9(2), "alliance-client": alliance(8, goals=4)}])
    sample = tmp_path / "walking-session.txt"
    sample.write_text(sample_text())

    context = browser.new_context(**PHONE)
    log_in(context, live_server.url, ana)
    page = context.new_page()
    page.goto(f"{live_server.url}/clients/{client.pk}/")
    page.get_by_role("link", name="Attach a transcript").click()
    page.set_input_files("input[type=file]", str(sample))
    page.get_by_role("button", name="Attach and analyse").click()
    assert "Queued" in page.inner_text("h2#status-heading")

    pytest.MonkeyPatch().setattr(worker, "load_default_labeller", labeller_loader)
    result = CliRunner().invoke(app, ["transcripts", "work", "--once"])
    assert result.exit_code == 0 and "1 analyses run" in result.stdout

    page.reload()
    page.get_by_role("link", name="Read the feedback").click()
    text = page.inner_text("main").lower()
    assert "these labels are machine-made" in text
    for metric in ("Reflections per question", "Open questions", "Your share of the words", "Longest monologue",
                   "Change talk vs sustain talk", "Reading ease", "Self-disclosure"):  # fmt: skip
        assert metric.lower() in text
    assert "the client's check-in that session" in text and "goals" in text
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"the feedback page scrolls sideways on a phone ({width}px)"
    screenshot(page, "listening-feedback-phone")
    context.close()
