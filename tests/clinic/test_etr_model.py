"""Each practice's expected response (PHQ-9): refitted from its own history by `alliance monitor refit`, stored with
what it rests on, used for the not-on-track alert and drawn behind the client's line; the rational rule without one."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import pytest
from clinic_factories import MakeClient
from django.test import Client as WebClient
from django.urls import reverse
from django.utils import timezone
from typer.testing import CliRunner

from alliance.cli import app
from alliance.clinic.alerts.etr import builtin_fallback, practice_history, practice_model, refit, refit_all
from alliance.clinic.alerts.models import Alert, ExpectedResponseFit, MonitoringSettings
from alliance.clinic.checkins.models import CheckIn
from alliance.clinic.practice.models import Appointment, Client, Episode, Practice
from alliance.monitoring.expected import ExpectedResponse

runner = CliRunner()


def history(practice: Practice, therapist: Any, episodes: int, *, sessions: int = 6) -> None:
    """``episodes`` past clients who improved by about a point a session from intakes of 10 to 20 (bulk stored)."""
    start = timezone.now() - dt.timedelta(days=400)
    clients = Client.objects.bulk_create(
        Client(practice=practice, therapist=therapist, code=f"H-{n:03d}") for n in range(episodes)
    )
    opened = Episode.objects.bulk_create(
        Episode(client=c, therapist=therapist, opened_on=start.date(), closed_on=start.date()) for c in clients
    )
    visits = Appointment.objects.bulk_create(
        Appointment(
            client=c,
            episode=e,
            therapist=therapist,
            starts_at=start + dt.timedelta(weeks=s),
            session_number=s,
            status=Appointment.Status.ATTENDED,
        )
        for c, e in zip(clients, opened, strict=True)
        for s in range(1, sessions + 1)
    )
    rank = {c.pk: n for n, c in enumerate(clients)}
    CheckIn.objects.bulk_create(
        CheckIn(
            client=a.client,
            episode=a.episode,
            appointment=a,
            instrument="phq9",
            instrument_version="1",
            answers={},
            # intakes 10..20; half improve one point a session, half two
            total=float(max(0, 10 + rank[a.client.pk] % 11 - (a.session_number - 1) * (1 + rank[a.client.pk] % 2))),
            status="ok",
            source=CheckIn.Source.IMPORT,
            submitted_at=a.starts_at,
        )
        for a in visits
    )


def phq9_sessions(totals: Sequence[int]) -> list[dict[str, Any]]:
    """Sessions with a PHQ-9 of each total (items 1-8 spread, item 9 at 0)."""
    sessions = []
    for total in totals:
        answers = {f"phq9_{i}": 0 for i in range(1, 10)}
        for i in range(total):
            answers[f"phq9_{i % 8 + 1}"] += 1
        sessions.append({"phq9": answers})
    return sessions


def not_on_track(client: Client) -> list[Alert]:
    return list(Alert.objects.filter(client=client, kind=Alert.Kind.NOT_ON_TRACK))


# --- storing and refitting ----------------------------------------------------------------------------------------


def test_without_a_stored_model_the_rational_rule_applies_and_says_so(practice: Practice) -> None:
    in_use = practice_model(practice.pk)
    assert not in_use.stored and in_use.kind == "rational" and in_use.clients == 0
    assert in_use.model.reliable_change_ == 6  # the NHS Talking Therapies reliable change of the PHQ-9
    assert "No expected-response model has been fitted for this practice yet" in in_use.description
    assert "rests on no data of this practice" in in_use.description
    assert builtin_fallback("gad7").reliable_change_ == 4


def test_refit_needs_two_episodes_with_an_intake(practice: Practice, ana: Any) -> None:
    history(practice, ana, 1)
    result = refit(practice.pk)
    assert result.fit is None and "at least 2 clients" in result.skipped
    assert not ExpectedResponseFit.objects.exists()


def test_a_small_practice_gets_the_rational_rule_fitted_from_its_own_intakes(practice: Practice, ana: Any) -> None:
    history(practice, ana, 5)
    fit = refit(practice.pk).fit
    assert fit is not None
    assert (fit.kind, fit.clients, fit.observations, fit.sessions) == ("rational", 5, 30, 0)
    in_use = practice_model(practice.pk)
    assert in_use.stored and "too few for an empirical model" in in_use.description


def test_a_practice_with_enough_history_gets_its_empirical_model_stored_as_json(practice: Practice, ana: Any) -> None:
    history(practice, ana, 40)
    frame = practice_history(practice.pk)
    assert list(frame.columns) == ["episode", "session", "score"] and len(frame) == 240
    fit = refit(practice.pk).fit
    assert fit is not None and (fit.kind, fit.clients, fit.observations, fit.sessions) == ("empirical", 40, 240, 6)
    # the stored JSON is the monitoring package's own format, and gives the same model back
    stored = ExpectedResponse.from_json(fit.document)
    direct = ExpectedResponse(better="lower").fit(frame, id="episode", time="session", score="score")
    assert stored.table_ is not None and direct.table_ is not None
    assert stored.table_.equals(direct.table_)
    # a refit replaces the earlier one
    refit(practice.pk)
    assert ExpectedResponseFit.objects.filter(practice=practice).count() == 1


def test_each_practice_is_fitted_from_its_own_history(
    practice: Practice, other_practice: Practice, ana: Any, eve: Any
) -> None:
    history(practice, ana, 40)
    history(other_practice, eve, 3)
    results = {r.practice_id: r.fit for r in refit_all()}
    assert results[practice.pk] is not None and results[practice.pk].kind == "empirical"
    assert results[other_practice.pk] is not None and results[other_practice.pk].clients == 3


# --- not on track -------------------------------------------------------------------------------------------------


def test_not_on_track_against_the_practices_fitted_model(
    practice: Practice, cast: dict[str, Any], make_client: MakeClient
) -> None:
    history(practice, cast["ana"], 40)
    refit(practice.pk)
    stuck = make_client(cast["ana"], code="C-STUCK", sessions=phq9_sessions([15, 15, 16, 16]))
    [alert] = not_on_track(stuck)
    assert alert.severity == 3 and alert.details["status"] == "red" and alert.details["model"] == "empirical"
    assert alert.session == 3  # red from session 3 on; the next session continues the same alert
    assert alert.details["again_at"] == [4]
    assert "based on 40 clients of this practice" in alert.message
    improving = make_client(cast["ana"], code="C-BETTER", sessions=phq9_sessions([15, 13, 11, 9]))
    assert not not_on_track(improving)


def test_not_on_track_with_the_rational_rule_when_no_model_is_fitted(
    cast: dict[str, Any], make_client: MakeClient
) -> None:
    worse = make_client(cast["ana"], code="C-WORSE", sessions=phq9_sessions([10, 12, 17]))  # up 7 > 6
    [alert] = not_on_track(worse)
    assert alert.details["status"] == "red" and alert.details["model"] == "rational" and alert.session == 3
    assert "reliable change rule" in alert.message
    same = make_client(cast["ana"], code="C-SAME", sessions=phq9_sessions([12, 12, 11, 12, 12]))
    assert not not_on_track(same)  # amber from session 4 (not reliably better): shown, not alerted by default


def test_amber_alerts_where_the_practice_asks_for_them(cast: dict[str, Any], make_client: MakeClient) -> None:
    MonitoringSettings.objects.create(practice=cast["ana"].practice, milder_alerts=True)
    same = make_client(cast["ana"], code="C-SAME", sessions=phq9_sessions([12, 12, 11, 12, 12]))
    [alert] = not_on_track(same)
    assert (alert.details["status"], alert.severity, alert.session) == ("amber", 2, 4)


# --- the client page ----------------------------------------------------------------------------------------------


def test_the_client_page_draws_the_expected_band_and_names_the_model_and_its_data(
    client: WebClient, practice: Practice, cast: dict[str, Any], make_client: MakeClient
) -> None:
    stuck = make_client(cast["ana"], code="C-STUCK", sessions=phq9_sessions([15, 15, 16, 16]))
    client.force_login(cast["ana"])
    html = client.get(reverse("client-detail", args=[stuck.pk])).content.decode()
    assert "No expected-response model has been fitted for this practice yet" in html
    history(practice, cast["ana"], 40)
    refit(practice.pk)
    html = client.get(reverse("client-detail", args=[stuck.pk])).content.decode()
    assert "Expected response fitted from this practice&#x27;s own history" in html
    assert "41 episodes with an intake PHQ-9, 244 scores, sessions 1–6" in html  # C-STUCK's own episode too
    assert "Session 4: <strong" in html and "red</strong> — not on track" in html
    assert '<g class="envelope" aria-label="Expected PHQ-9 (10th–90th percentile)">' in html
    assert "Expected PHQ-9 (10th–90th percentile): session 1:" in html  # the band said in words
    assert '<th scope="col">Expected PHQ-9 (range)</th>' in html


# --- the command --------------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_alliance_monitor_refit_refits_every_practice_and_prints_csv(
    practice: Practice, other_practice: Practice, ana: Any, eve: Any
) -> None:
    history(practice, ana, 40)
    history(other_practice, eve, 1)
    result = runner.invoke(app, ["monitor", "refit"])
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "practice_id,practice,instrument,kind,clients,observations,sessions,fitted_at"
    assert lines[1].startswith(f"{practice.pk},Northside Therapy,phq9,empirical,40,240,6,")
    assert lines[2] == f"{other_practice.pk},Elsewhere Counselling,phq9,none,,,,"
    assert "not fitted: at least 2 clients with a session-1 score are needed" in result.stderr
    only = runner.invoke(app, ["monitor", "refit", "--practice", str(practice.pk)])
    assert only.exit_code == 0 and len(only.stdout.splitlines()) == 2


@pytest.mark.django_db(transaction=True)
def test_refit_of_an_unknown_practice_is_one_line_and_exit_2() -> None:
    result = runner.invoke(app, ["monitor", "refit", "--practice", "99999"])
    assert result.exit_code == 2
    assert result.stderr == "alliance: error: no practice with id 99999\n"
