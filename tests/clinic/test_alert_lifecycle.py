"""A risk alert is seen, acted on (saying what was done) and resolved; nothing else, and only by those who see it."""

from __future__ import annotations

import pytest
from clinic_factories import MakeClient, phq9
from django.test import Client as Browser
from django.urls import reverse

from alliance.clinic.accounts.models import User
from alliance.clinic.alerts.models import Alert
from alliance.clinic.audit.models import AuditEvent


@pytest.fixture
def risk_alert(cast: dict[str, User], make_client: MakeClient) -> Alert:
    client = make_client(cast["ana"], code="C-RISK", sessions=[{"phq9": phq9(1, item9=2)}])
    return Alert.objects.get(client=client, kind=Alert.Kind.RISK)


def post(browser: Browser, alert: Alert, **data: str) -> tuple[int, str]:
    response = browser.post(reverse("alert-update", args=[alert.pk]), data)
    return response.status_code, response.content.decode()


def test_seen_then_acted_on_then_resolved(client: Browser, cast: dict[str, User], risk_alert: Alert) -> None:
    client.force_login(cast["ana"])
    status, _ = post(client, risk_alert, state="seen")
    assert status == 302
    risk_alert.refresh_from_db()
    assert risk_alert.state == "seen" and risk_alert.updated_by == cast["ana"]

    status, _ = post(client, risk_alert, state="acted", action_taken="Phoned the client; safety plan reviewed.")
    assert status == 302
    risk_alert.refresh_from_db()
    assert (risk_alert.state, risk_alert.action_taken) == ("acted", "Phoned the client; safety plan reviewed.")

    response = client.post(reverse("alert-update", args=[risk_alert.pk]), {"state": "resolved"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("client-detail", args=[risk_alert.client_id])
    assert "Alert marked as resolved." in response.content.decode()
    risk_alert.refresh_from_db()
    assert risk_alert.state == "resolved"


def test_every_change_is_audited_without_the_note(client: Browser, cast: dict[str, User], risk_alert: Alert) -> None:
    client.force_login(cast["ana"])
    post(client, risk_alert, state="seen")
    post(client, risk_alert, state="acted", action_taken="Phoned the client.")
    events = AuditEvent.objects.filter(action="update", object_type="Alert", object_id=str(risk_alert.pk))
    assert events.count() == 2
    assert set(events.values_list("client_id", flat=True)) == {risk_alert.client_id}
    assert not AuditEvent.objects.filter(path__contains="Phoned").exists()


@pytest.mark.parametrize(
    ("steps", "last", "message"),
    [
        ([], {"state": "acted"}, "Say what was done before marking the alert as acted on."),
        ([], {"state": "acted", "action_taken": "   "}, "Say what was done before marking the alert as acted on."),
        ([], {"state": "resolved"}, "Record what was done about a risk alert before resolving it."),
        ([], {"state": "new"}, "This alert is new; it cannot be marked new."),
        ([], {"state": "deleted"}, "Unknown alert state &#x27;deleted&#x27;: use seen, acted or resolved."),
        ([{"state": "seen"}], {"state": "seen"}, "This alert is seen; it cannot be marked seen."),
        (
            [{"state": "acted", "action_taken": "Called."}, {"state": "resolved"}],
            {"state": "seen"},
            "This alert is resolved; it cannot be marked seen.",
        ),
        ([], {"state": "acted", "action_taken": "x" * 2001}, "What was done must be at most 2000 characters."),
    ],
)
def test_invalid_transitions_answer_400_with_a_message(
    client: Browser,
    cast: dict[str, User],
    risk_alert: Alert,
    steps: list[dict[str, str]],
    last: dict[str, str],
    message: str,
) -> None:
    client.force_login(cast["ana"])
    for step in steps:
        assert post(client, risk_alert, **step)[0] == 302
    before = Alert.objects.get(pk=risk_alert.pk).state
    status, html = post(client, risk_alert, **last)
    assert status == 400
    assert message in html
    assert Alert.objects.get(pk=risk_alert.pk).state == before


def test_a_risk_alert_can_be_resolved_at_once_when_the_action_is_given(
    client: Browser, cast: dict[str, User], risk_alert: Alert
) -> None:
    client.force_login(cast["cleo"])  # the supervisor sees the team's alerts
    assert post(client, risk_alert, state="resolved", action_taken="Crisis team informed.")[0] == 302
    risk_alert.refresh_from_db()
    assert (risk_alert.state, risk_alert.action_taken, risk_alert.updated_by) == (
        "resolved",
        "Crisis team informed.",
        cast["cleo"],
    )


def test_an_alert_of_another_kind_can_be_resolved_without_a_note(
    client: Browser, cast: dict[str, User], risk_alert: Alert
) -> None:
    other = Alert.objects.create(
        client=risk_alert.client, kind=Alert.Kind.LOW_ALLIANCE, message="Relationship check-in low", dedup_key="x"
    )
    client.force_login(cast["ana"])
    assert post(client, other, state="resolved")[0] == 302


@pytest.mark.parametrize("who", ["ben", "eve"])
def test_alerts_outside_ones_view_are_404_and_unchanged(
    client: Browser, cast: dict[str, User], risk_alert: Alert, who: str
) -> None:
    client.force_login(cast[who])
    assert post(client, risk_alert, state="seen")[0] == 404
    assert client.get(reverse("alert-update", args=[risk_alert.pk])).status_code == 404
    assert Alert.objects.get(pk=risk_alert.pk).state == "new"


def test_only_post_changes_an_alert(client: Browser, cast: dict[str, User], risk_alert: Alert) -> None:
    client.force_login(cast["ana"])
    assert client.get(reverse("alert-update", args=[risk_alert.pk]), {"state": "seen"}).status_code == 405
    assert Alert.objects.get(pk=risk_alert.pk).state == "new"


def test_a_resolved_alert_leaves_the_caseload(client: Browser, cast: dict[str, User], risk_alert: Alert) -> None:
    client.force_login(cast["ana"])
    assert "1 open alert" in client.get(reverse("caseload")).content.decode()
    post(client, risk_alert, state="resolved", action_taken="Called.")
    html = client.get(reverse("caseload")).content.decode()
    assert "open alert" not in html
    assert "Risk: self-harm item" in html  # the latest PHQ-9 still has item 9 above 0
