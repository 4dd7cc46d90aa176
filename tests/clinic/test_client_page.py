"""Ana opens a client's page: the chart, the answers, the gap with her own ratings, the change so far."""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET

import pytest
from clinic_factories import MakeClient, alliance, gad7, phq9
from django.test import Client as Browser
from django.urls import reverse
from django.utils import timezone

from alliance.clinic.accounts.models import User
from alliance.clinic.audit.models import AuditEvent
from alliance.clinic.practice.models import Appointment, Client, ClientIdentity


@pytest.fixture
def maria(cast: dict[str, User], make_client: MakeClient) -> Client:
    client = make_client(
        cast["ana"],
        code="C-MARIA",
        sessions=[
            {"phq9": phq9(2), "gad7": gad7(2), "alliance-client": alliance(8)},
            {"phq9": phq9(2), "gad7": gad7(2)},
            {
                "phq9": phq9(1),
                "gad7": gad7(1),
                "alliance-client": alliance(8, bond=5, goals=9),
                "alliance-therapist": alliance(8),
            },
        ],
    )
    ClientIdentity.objects.create(client=client, name="Maria Example", email="maria@example.org")
    episode = client.episodes.get()
    Appointment.objects.create(
        client=client,
        episode=episode,
        therapist=cast["ana"],
        starts_at=timezone.now() + dt.timedelta(days=2),
        session_number=4,
        status=Appointment.Status.SCHEDULED,
    )
    return client


def page(browser: Browser, user: User, client: Client) -> str:
    browser.force_login(user)
    response = browser.get(reverse("client-detail", args=[client.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_the_treating_therapist_sees_the_name_others_only_the_code(
    client: Browser, cast: dict[str, User], maria: Client
) -> None:
    assert "Maria Example" in page(client, cast["ana"], maria)
    for who in ("cleo", "dara"):
        html = page(client, cast[who], maria)
        assert "C-MARIA" in html and "Maria Example" not in html and "maria@example.org" not in html


@pytest.mark.parametrize("who", ["ben", "eve"])
def test_anyone_else_gets_404(client: Browser, cast: dict[str, User], maria: Client, who: str) -> None:
    client.force_login(cast[who])
    assert client.get(reverse("client-detail", args=[maria.pk])).status_code == 404
    assert client.get(reverse("client-detail", args=[999_999])).status_code == 404


def test_one_accessible_chart_with_bands_cutoffs_and_a_table_of_its_values(
    client: Browser, cast: dict[str, User], maria: Client
) -> None:
    html = page(client, cast["ana"], maria)
    svgs = re.findall(r"<svg .*?</svg>", html, flags=re.S)
    assert len(svgs) == 1
    chart = ET.fromstring(svgs[0])
    assert chart.get("role") == "img"
    assert chart.findtext("title") == "Scores of C-MARIA by session"
    assert "caseness" in (chart.findtext("desc") or "")
    labels = [t.text for t in chart.iter("text")]
    assert "PHQ-9 caseness 10" in labels and "GAD-7 caseness 8" in labels and "Provisional cut-off 8" in labels
    assert "PHQ-9 moderately severe" in labels and "Session" in labels
    phq9_points = [c for c in chart.iter("circle") if (c.findtext("title") or "").startswith("PHQ-9 at")]
    assert [c.findtext("title") for c in phq9_points] == ["PHQ-9 at 1: 16", "PHQ-9 at 2: 16", "PHQ-9 at 3: 8"]
    # the data table below the chart
    assert re.search(r'<th scope="row">3</th><td class="num">8</td><td class="num">7</td>', html)


def test_the_page_works_offline(client: Browser, cast: dict[str, User], maria: Client) -> None:
    html = page(client, cast["ana"], maria)
    assert "http://" not in html and "https://" not in html
    assert "<script" not in html and "style=" not in html


def test_each_check_in_shows_item_text_and_answer_label_in_a_collapsible_block(
    client: Browser, cast: dict[str, User], maria: Client
) -> None:
    html = page(client, cast["ana"], maria)
    assert html.count('<details class="checkin">') == 9
    assert "<td>Little interest or pleasure in doing things</td><td>1 — Several days</td>" in html
    assert "<td>Today I felt I could trust my therapist.</td><td>5 (scale 0–10)</td>" in html


def test_the_gap_between_client_and_therapist_is_shown_per_domain_and_flagged(
    client: Browser, cast: dict[str, User], maria: Client
) -> None:
    html = page(client, cast["ana"], maria)
    section = html[html.index('id="gap-heading"') : html.index('id="appointments-heading"')]
    assert "Session 3" in section
    bond = re.search(r'<th scope="row">bond</th>.*?</tr>', section, flags=re.S)
    assert bond is not None
    assert '<td class="num">5</td><td class="num">8</td><td class="num">-3</td>' in bond.group(0)
    assert "gap of 2 or more" in bond.group(0)
    goals = re.search(r'<th scope="row">goals</th>.*?</tr>', section, flags=re.S)
    assert goals is not None and "gap of 2 or more" not in goals.group(0)  # +1 only


def test_reliable_change_so_far(client: Browser, cast: dict[str, User], maria: Client) -> None:
    html = page(client, cast["ana"], maria)
    section = html[html.index('id="change-heading"') : html.index('id="gap-heading"')]
    assert "<strong>reliable improvement</strong>" in section
    # PHQ-9 16 -> 8: change -8, RCI = -8 / 2.6735 = -2.99
    assert re.search(r"PHQ-9</th><td class=\"num\">16</td><td class=\"num\">8</td><td class=\"num\">-8</td>", section)
    assert "-2.99" in section and "improved (±6)" in section


def test_appointments_offer_the_check_in_link_kiosk_and_mirror_form(
    client: Browser, cast: dict[str, User], maria: Client
) -> None:
    html = page(client, cast["ana"], maria)
    upcoming = maria.appointments.get(status=Appointment.Status.SCHEDULED)
    assert f'action="{reverse("checkin-link-create", args=[upcoming.pk])}"' in html
    assert f'action="{reverse("kiosk-start", args=[upcoming.pk])}"' in html
    assert f'href="{reverse("client-rate", args=[maria.pk])}"' in html
    assert "csrfmiddlewaretoken" in html


def test_every_view_of_the_page_is_audited(client: Browser, cast: dict[str, User], maria: Client) -> None:
    page(client, cast["ana"], maria)
    page(client, cast["cleo"], maria)
    reads = AuditEvent.objects.filter(action="read", client_id=maria.pk, object_type="Client")
    assert sorted(reads.values_list("actor", flat=True)) == ["ana", "cleo"]


def test_a_risk_alert_is_listed_with_its_buttons(
    client: Browser, cast: dict[str, User], make_client: MakeClient
) -> None:
    flagged = make_client(cast["ana"], code="C-RISK", sessions=[{"phq9": phq9(1, item9=1)}])
    html = page(client, cast["ana"], flagged)
    assert "Risk: self-harm item" in html and "Risk item endorsed" in html
    for label in ("Mark as seen", "Mark as acted on", "Resolve"):
        assert label in html
    assert '<label for="acted-' in html
