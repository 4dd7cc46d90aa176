"""The analytics page and its PDF: the numbers of the metrics over the user's scope, suppression, no ranking, 404s."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pypdf
import pytest
from django.test import Client as Browser
from report_factories import record_client

from alliance.change.proportions import wilson_interval
from alliance.clinic.accounts.models import Role, User
from alliance.clinic.audit.models import AuditEvent
from alliance.clinic.practice.models import Episode, Team
from alliance.clinic.reports.tables import contract_tables

RECOVERED = {"phq9": [15, 12, 6], "gad7": [12, 9, 5]}  # a case at the start, not at the end; PHQ-9 down 9
STUCK = {"phq9": [15, 14, 13], "gad7": [12, 12, 11]}  # still a case; no reliable change


@pytest.fixture
def team_data(cast: dict[str, User]) -> dict[str, Any]:
    """Twelve finished episodes in cleo's team (10 recovered), 8 of ethnicity A and 4 of J; one client at eve's."""
    User.objects.filter(username__in=["ana", "ben"]).update(last_name="Therapistname")
    for number in range(12):
        record_client(
            cast["ana"] if number % 2 else cast["ben"],
            code=f"C-AN{number:03d}",
            alliance=[7, 8, 8],
            start=dt.datetime(2025, 4, 7, 10, tzinfo=dt.UTC) + dt.timedelta(days=number),
            ending=Episode.Ending.COMPLETED if number < 11 else Episode.Ending.DROPPED_OUT,
            ethnicity="A" if number < 8 else "J",
            gender="female",
            **(RECOVERED if number < 10 else STUCK),
        )
    record_client(cast["eve"], code="C-ELSE", alliance=[5], start=dt.datetime(2025, 4, 7, tzinfo=dt.UTC), **STUCK)
    return {"recovered": 10, "cases": 12}


def page_for(user: User, path: str = "/analytics/") -> Any:
    browser = Browser()
    browser.force_login(user)
    return browser.get(path)


def test_cleo_sees_her_teams_outcomes_with_intervals_and_equity_with_small_groups_suppressed(
    cast: dict[str, User], team_data: dict[str, Any]
) -> None:
    response = page_for(cast["cleo"])
    assert response.status_code == 200
    text = response.content.decode()
    assert "12 clients, 12 episodes" in text  # eve's client is not in cleo's scope
    low, high = wilson_interval(10, 12)
    assert f"83% (95% CI {float(low):.0%} to {float(high):.0%})" in text and "10 of 12" in text
    # Equity: A (8 clients) shown with its rate, J (4 clients) blanked and flagged.
    ethnicity = text[text.index('data-dimension="ethnicity"') :]
    ethnicity = ethnicity[: ethnicity.index("</table>")]
    assert "A — White: British" in ethnicity and "100% (95% CI" in ethnicity
    j_row = ethnicity[ethnicity.index("J — Asian or Asian British: Pakistani") :].split("</tr>")[0]
    assert "not shown: fewer than 5 clients" in j_row and "%" not in j_row
    # One therapist-effect figure for the team; no therapist is named anywhere on the page.
    assert "Share of PHQ-9 improvement variance between therapists" in text
    assert "Therapistname" not in text
    assert "<script" not in text and "style=" not in text
    event = AuditEvent.objects.filter(actor="cleo", action="read").latest("pk")
    assert event.path == "/analytics/" and event.object_type == "Practice"


def test_the_practice_admin_sees_the_practice_and_therapists_get_404(
    cast: dict[str, User], team_data: dict[str, Any]
) -> None:
    assert "12 clients" in page_for(cast["dara"]).content.decode()
    for name in ("ana", "ben", "eve"):
        assert page_for(cast[name]).status_code == 404
        assert page_for(cast[name], "/analytics/report.pdf").status_code == 404
    assert Browser().get("/analytics/").status_code == 302


def test_a_supervisor_without_a_team_sees_no_data(practice: Any, team_data: dict[str, Any]) -> None:
    lone = User.objects.create_user(username="lone", password="x" * 12, role=Role.SUPERVISOR, practice=practice)
    Team.objects.create(practice=practice, name="Empty team", supervisor=lone)
    text = page_for(lone).content.decode()
    assert "0 clients, 0 episodes" in text and "No episodes in this scope" in text


def test_the_period_filter_keeps_the_episodes_that_ended_in_that_quarter(
    cast: dict[str, User], team_data: dict[str, Any]
) -> None:
    Episode.objects.filter(client__code__in=["C-AN000", "C-AN001"]).update(closed_on=dt.date(2025, 7, 2))
    text = page_for(cast["cleo"], "/analytics/?period=2025-Q3").content.decode()
    assert "episodes that ended in 2025-Q3: 2 clients, 2 episodes" in text
    assert '<option value="2025-Q3" selected>' in text
    # An unknown period falls back to all episodes.
    assert "all episodes: 12 clients" in page_for(cast["cleo"], "/analytics/?period=1999-Q1").content.decode()


def test_the_supervision_pdf_parses_and_holds_the_page_figures(
    cast: dict[str, User], team_data: dict[str, Any]
) -> None:
    response = page_for(cast["cleo"], "/analytics/report.pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith('attachment; filename="alliance-analytics-all-')
    assert response.content.startswith(b"%PDF-")
    reader = pypdf.PdfReader(io.BytesIO(response.content))
    text = " ".join(" ".join(page.extract_text() for page in reader.pages).split())
    assert "Practice analytics" in text and "12 clients, 12 episodes" in text
    assert "83% (95% CI" in text and "not shown: fewer than 5 clients" in text
    assert "Therapistname" not in text
    event = AuditEvent.objects.filter(actor="cleo", action="export").latest("pk")
    assert event.path == "/analytics/report.pdf"


def test_the_page_tables_are_the_export_tables_scoped_by_the_access_rule(
    cast: dict[str, User], team_data: dict[str, Any]
) -> None:
    everything = contract_tables()
    cleo = contract_tables(user=cast["cleo"])
    ana = contract_tables(user=cast["ana"])
    assert len(everything.clients) == 13 and len(cleo.clients) == 12 and len(ana.clients) == 6
    assert set(cleo.episodes["client_id"]) <= set(everything.episodes["client_id"])
    assert len(contract_tables(user=cast["eve"]).clients) == 1
