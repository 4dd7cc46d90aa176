"""Cleo supervises ana and ben; dara runs the practice; eve works elsewhere and sees nothing of theirs."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from clinic_factories import MakeClient, alliance, gad7, phq9
from django.test import Client as Browser
from django.urls import reverse

from alliance.clinic.accounts.models import Role, User
from alliance.clinic.practice.models import Client, Team
from alliance.clinic.practice.summaries import intervals_overlap, mean_interval, monthly_trends, rate_interval

RECOVERING = [
    {"phq9": phq9(2), "gad7": gad7(2), "alliance-client": alliance(9)},
    {"phq9": phq9(1), "gad7": gad7(1), "alliance-client": alliance(8)},
    {"phq9": phq9(1), "gad7": gad7(0), "alliance-client": alliance(9)},
]
STUCK = [
    {"phq9": phq9(2), "gad7": gad7(2), "alliance-client": alliance(7)},
    {"phq9": phq9(2), "gad7": gad7(2), "alliance-client": alliance(7)},
]


@pytest.fixture
def gus(practice: object, cast: dict[str, User]) -> User:
    """A therapist of the practice on another team (dara sees him; cleo does not)."""
    other_team = Team.objects.create(practice=cast["ana"].practice, name="Child team")
    return User.objects.create_user(
        username="gus", password="x" * 14, role=Role.THERAPIST, practice=cast["ana"].practice, team=other_team
    )


@pytest.fixture
def clients(cast: dict[str, User], gus: User, make_client: MakeClient) -> dict[str, Client]:
    return {
        "ana-1": make_client(cast["ana"], code="ANA-1", sessions=RECOVERING),
        "ana-2": make_client(cast["ana"], code="ANA-2", sessions=STUCK),
        "ben-1": make_client(cast["ben"], code="BEN-1", sessions=[{"phq9": phq9(1, item9=1)}]),
        "gus-1": make_client(gus, code="GUS-1", sessions=RECOVERING),
        "eve-1": make_client(cast["eve"], code="EVE-1", sessions=RECOVERING),
    }


def team_page(browser: Browser, user: User) -> str:
    browser.force_login(user)
    response = browser.get(reverse("team"))
    assert response.status_code == 200
    return response.content.decode()


def test_cleo_sees_the_clients_of_ana_and_ben_and_nobody_elses(
    client: Browser, cast: dict[str, User], clients: dict[str, Client]
) -> None:
    html = team_page(client, cast["cleo"])
    therapists = re.findall(r'<th scope="row"><a href="/team/therapists/\d+/">([^<]+)</a></th>', html)
    assert therapists == ["Ana", "Ben"]  # alphabetical, never ranked
    assert "BEN-1" in html and "Risk: self-harm item" in html  # flagged, with its reason
    assert "GUS-1" not in html and "EVE-1" not in html and "gus" not in html


def test_dara_sees_the_whole_practice(
    client: Browser, cast: dict[str, User], clients: dict[str, Client], gus: User
) -> None:
    html = team_page(client, cast["dara"])
    therapists = re.findall(r'<th scope="row"><a href="/team/therapists/\d+/">([^<]+)</a></th>', html)
    assert therapists == ["Ana", "Ben", "gus"]
    assert "The whole practice" in html
    assert "EVE-1" not in html


def test_summaries_carry_their_intervals_and_the_page_says_they_overlap(
    client: Browser, cast: dict[str, User], clients: dict[str, Client]
) -> None:
    html = team_page(client, cast["cleo"])
    ana = re.search(r'<th scope="row"><a href="/team/therapists/\d+/">Ana</a></th>.*?</tr>', html, flags=re.S)
    assert ana is not None
    row = ana.group(0)
    # ANA-1 recovered (16 -> 8, 14 -> 0), ANA-2 did not: 1 of 2 cases, Wilson 95% CI 9% to 91%
    assert "1 of 2 cases: 50% (95% CI 9% to 91%)" in row
    # early alliance: ANA-1 mean 8.67, ANA-2 mean 7 -> 7.83 with a t-interval on 1 df
    assert "7.8 (95% CI -2.8 to 18.4)" in row
    assert "All the intervals below overlap" in html or "cannot tell those therapists apart" in html
    assert "never ranked" in html


def test_therapists_are_sent_to_their_caseload(client: Browser, cast: dict[str, User]) -> None:
    for who in ("ana", "eve"):
        client.force_login(cast[who])
        response = client.get(reverse("team"))
        assert response.status_code == 302 and response["Location"] == reverse("caseload")


def test_cleo_opens_anas_caseload_but_not_one_outside_her_team(
    client: Browser, cast: dict[str, User], clients: dict[str, Client], gus: User
) -> None:
    client.force_login(cast["cleo"])
    response = client.get(reverse("team-therapist", args=[cast["ana"].pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Caseload of Ana" in html
    assert re.findall(r'<tr data-client="([^"]+)">', html) == ["ANA-2", "ANA-1"]  # ANA-2 below the alliance cut-off
    for outsider in (gus, cast["eve"], cast["dara"]):
        assert client.get(reverse("team-therapist", args=[outsider.pk])).status_code == 404


def test_dara_opens_any_caseload_of_her_practice(
    client: Browser, cast: dict[str, User], clients: dict[str, Client], gus: User
) -> None:
    client.force_login(cast["dara"])
    assert client.get(reverse("team-therapist", args=[gus.pk])).status_code == 200
    assert client.get(reverse("team-therapist", args=[cast["eve"].pk])).status_code == 404


@pytest.mark.parametrize("who", ["ana", "eve"])
def test_therapists_have_no_team_caseloads(
    client: Browser, cast: dict[str, User], clients: dict[str, Client], who: str
) -> None:
    client.force_login(cast[who])
    assert client.get(reverse("team-therapist", args=[cast["ben"].pk])).status_code == 404


def test_a_supervisor_of_another_team_sees_nothing_of_ana(
    client: Browser, cast: dict[str, User], clients: dict[str, Client]
) -> None:
    fay = User.objects.create_user(
        username="fay", password="x" * 14, role=Role.SUPERVISOR, practice=cast["ana"].practice
    )
    client.force_login(fay)
    assert client.get(reverse("team-therapist", args=[cast["ana"].pk])).status_code == 404
    assert client.get(reverse("client-detail", args=[clients["ana-1"].pk])).status_code == 404
    assert "ANA-1" not in team_page(client, fay)


def test_eve_gets_404_on_every_client_page_here(
    client: Browser, cast: dict[str, User], clients: dict[str, Client]
) -> None:
    client.force_login(cast["eve"])
    for name in ("ana-1", "ana-2", "ben-1", "gus-1"):
        assert client.get(reverse("client-detail", args=[clients[name].pk])).status_code == 404
    assert client.get(reverse("client-detail", args=[clients["eve-1"].pk])).status_code == 200


def test_ana_sees_her_own_trends_by_month_with_counts_and_intervals(
    client: Browser, cast: dict[str, User], clients: dict[str, Client]
) -> None:
    client.force_login(cast["ana"])
    response = client.get(reverse("my-trends"))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'aria-labelledby="my-trends-title my-trends-desc"' in html
    assert "Monthly values with counts and 95% intervals" in html
    assert re.search(r'<th scope="row">\d{4}-\d{2}</th>', html)
    assert "http://" not in html and "https://" not in html


def test_supervisors_have_no_own_trends_page(client: Browser, cast: dict[str, User]) -> None:
    client.force_login(cast["cleo"])
    response = client.get(reverse("my-trends"))
    assert response.status_code == 302 and response["Location"] == reverse("team")


def test_monthly_trends_count_each_client_once_a_month_against_hand_computed_values() -> None:
    def row(client: str, day: str, instrument: str, total: float) -> dict[str, object]:
        return {"client": client, "when": pd.Timestamp(day, tz="UTC"), "instrument": instrument, "total": total}

    checkins = pd.DataFrame(
        [
            row("A", "2026-01-05", "phq9", 20),
            row("A", "2026-01-05", "alliance-client", 8),
            row("A", "2026-01-12", "alliance-client", 9),
            row("B", "2026-01-10", "phq9", 15),
            row("B", "2026-01-10", "alliance-client", 6),
            row("A", "2026-02-02", "phq9", 14),
            row("A", "2026-02-20", "phq9", 12),
            row("B", "2026-02-10", "phq9", 11),
        ]
    )
    january, february = monthly_trends(checkins, cutoff=8, time_zone="Europe/London")
    assert (january.period, february.period) == ("2026-01", "2026-02")
    # January: client means 8.5 and 6 -> 7.25; SE = 1.7678 / sqrt(2) = 1.25; t(.975, 1) = 12.7062
    assert january.alliance.n == 2 and january.alliance.estimate == pytest.approx(7.25)
    assert (january.alliance.low, january.alliance.high) == pytest.approx((7.25 - 15.88280, 7.25 + 15.88280), abs=1e-4)
    assert (january.below_cutoff.successes, january.below_cutoff.n) == (1, 2)
    assert january.phq9_change.n == 0  # intakes are not changes
    # February: A's latest 12 - 20 = -8, B's 11 - 15 = -4 -> -6; SE = 2; half-width 25.4124
    assert february.phq9_change.estimate == pytest.approx(-6.0)
    assert (february.phq9_change.low, february.phq9_change.high) == pytest.approx((-31.4124, 19.4124), abs=1e-4)
    assert february.alliance.n == 0 and not february.alliance.known


def test_interval_helpers() -> None:
    assert mean_interval([5.0]).as_mean == "5.0 (too few for an interval)"
    assert mean_interval([]).as_mean == "no data"
    assert rate_interval(1, 2).as_percent == "50% (95% CI 9% to 91%)"
    assert rate_interval(0, 0).as_percent == "no data"
    assert intervals_overlap([rate_interval(1, 2), rate_interval(2, 3)])
    assert not intervals_overlap([rate_interval(0, 200), rate_interval(200, 200)])
