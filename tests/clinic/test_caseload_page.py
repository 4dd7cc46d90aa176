"""Ana opens her caseload: the client at risk first, the deteriorating one next, each row with a small trend."""

from __future__ import annotations

import re
from typing import Any

import pytest
from clinic_factories import MakeClient, alliance, gad7, phq9
from django.db import connection
from django.test import Client as Browser
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from alliance.clinic.accounts.models import User
from alliance.clinic.audit.models import AuditEvent


def row_codes(html: str) -> list[str]:
    return re.findall(r'<tr data-client="([^"]+)">', html)


@pytest.fixture
def anas_caseload(cast: dict[str, User], make_client: MakeClient) -> None:
    ana = cast["ana"]
    make_client(ana, code="OK-1", sessions=[{"phq9": phq9(1), "alliance-client": alliance(9)}] * 2)
    make_client(ana, code="LOW-1", sessions=[{"alliance-client": alliance(9)}, {"alliance-client": alliance(6)}])
    make_client(ana, code="DET-1", sessions=[{"phq9": phq9(1), "gad7": gad7(1)}, {"phq9": phq9(2), "gad7": gad7(1)}])
    make_client(ana, code="RISK-1", sessions=[{"phq9": phq9(1)}, {"phq9": phq9(1, item9=1)}])
    make_client(cast["ben"], code="BEN-1", sessions=[{"phq9": phq9(3, item9=2)}])


def test_the_client_at_risk_comes_first_then_deterioration_then_the_relationship(
    client: Browser, cast: dict[str, User], anas_caseload: None
) -> None:
    client.force_login(cast["ana"])
    response = client.get(reverse("caseload"))
    assert response.status_code == 200
    html = response.content.decode()
    assert row_codes(html) == ["RISK-1", "DET-1", "LOW-1", "OK-1"]  # ben's client is not hers
    assert "Risk: self-harm item" in html and "Reliable deterioration" in html and "Alliance below cut-off" in html
    assert "1 open alert" in html  # the risk alert raised at submission
    assert "3 need attention" in html


def test_each_row_has_a_sparkline_of_phq9_and_alliance_that_says_its_values(
    client: Browser, cast: dict[str, User], anas_caseload: None
) -> None:
    client.force_login(cast["ana"])
    html = client.get(reverse("caseload")).content.decode()
    assert html.count('class="sparkline"') == 8  # two per client
    assert 'aria-label="PHQ-9 trend of DET-1: 8, 16"' in html
    assert 'aria-label="Alliance trend of LOW-1: 9, 6"' in html
    assert 'aria-label="PHQ-9 trend of LOW-1: no scores yet"' in html


def test_the_row_shows_latest_scores_with_severity_and_sessions(
    client: Browser, cast: dict[str, User], anas_caseload: None
) -> None:
    client.force_login(cast["ana"])
    html = client.get(reverse("caseload")).content.decode()
    det = html[html.index('data-client="DET-1"') :]
    det = det[: det.index("</tr>")]
    assert '16 <span class="muted">Moderately severe</span>' in det
    assert '7 <span class="muted">Mild</span>' in det
    assert '<td class="num">2</td>' in det  # sessions so far


def test_supervisors_and_admins_are_sent_to_the_team_page(client: Browser, cast: dict[str, User]) -> None:
    for who in ("cleo", "dara"):
        client.force_login(cast[who])
        response = client.get(reverse("caseload"))
        assert response.status_code == 302 and response["Location"] == reverse("team")


def test_anonymous_visitors_are_asked_to_log_in(client: Browser, db: Any) -> None:
    response = client.get(reverse("caseload"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_viewing_the_caseload_is_audited(client: Browser, cast: dict[str, User], anas_caseload: None) -> None:
    client.force_login(cast["ana"])
    client.get(reverse("caseload"))
    event = AuditEvent.objects.filter(action="read", path=reverse("caseload")).get()
    assert event.user == cast["ana"]


def _queries_for_caseload(client: Browser) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(reverse("caseload"))
    assert response.status_code == 200
    return len(captured)


def test_the_number_of_queries_does_not_grow_with_the_caseload(
    client: Browser, cast: dict[str, User], make_client: MakeClient
) -> None:
    ana = cast["ana"]
    sessions = [{"phq9": phq9(2), "gad7": gad7(1), "alliance-client": alliance(8)}, {"phq9": phq9(1, item9=1)}]
    for number in range(3):
        make_client(ana, code=f"S-{number:02d}", sessions=sessions)
    client.force_login(ana)
    client.get(reverse("caseload"))  # warm the session
    with_three = _queries_for_caseload(client)
    for number in range(3, 30):
        make_client(ana, code=f"S-{number:02d}", sessions=sessions)
    with_thirty = _queries_for_caseload(client)
    assert with_three == with_thirty
    assert with_thirty <= 12
