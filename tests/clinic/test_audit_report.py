"""The audit report page (practice admins, their practice only) and what the audit trail records."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from clinic_factories import PASSWORD, MakeClient, code_now, gad7, give_authenticator, phq9
from django.forms import MultiWidget
from django.test import Client as Browser
from django.urls import reverse
from django.utils import timezone

from alliance.clinic.accounts.models import ApiToken, User
from alliance.clinic.audit.models import AuditEvent
from alliance.clinic.audit.service import record
from alliance.clinic.practice.models import Client, ClientIdentity


@pytest.fixture
def events(cast: dict[str, User], make_client: MakeClient) -> dict[str, Client]:
    mine = make_client(cast["ana"], code="C-ANA", sessions=[{"phq9": phq9(2), "gad7": gad7(1)}])
    ClientIdentity.objects.create(client=mine, name="Marta Example")
    elsewhere = make_client(cast["eve"], code="C-EVE", sessions=[{"phq9": phq9(1)}])
    record(None, "read", mine, user=cast["ana"])
    record(None, "read", elsewhere, user=cast["eve"])
    return {"mine": mine, "elsewhere": elsewhere}


def page(user: User, **query: str) -> Any:
    browser = Browser()
    browser.force_login(user)
    return browser.get("/audit/", query)


def test_dara_sees_her_practices_events_and_none_of_another_practice(
    events: dict[str, Client], cast: dict[str, User]
) -> None:
    response = page(cast["dara"])
    assert response.status_code == 200
    rows = [(event.actor, code) for event, code in response.context["rows"]]
    assert ("ana", "C-ANA") in rows
    assert all(actor != "eve" for actor, _ in rows) and all(code != "C-EVE" for _, code in rows)
    body = response.content.decode()
    assert "C-ANA" in body and "C-EVE" not in body
    assert "Marta Example" not in body  # pseudonymous codes only; entries hold no names, answers or notes


def test_the_filters_narrow_by_action_actor_and_date(events: dict[str, Client], cast: dict[str, User]) -> None:
    by_action = page(cast["dara"], action="create")
    assert {event.action for event, _ in by_action.context["rows"]} == {"create"}
    by_actor = page(cast["dara"], actor="ANA")
    assert {event.actor for event, _ in by_actor.context["rows"]} == {"ana"}
    today = timezone.localdate()
    assert page(cast["dara"], start=str(today), end=str(today)).context["rows"]
    tomorrow = today + dt.timedelta(days=1)
    assert page(cast["dara"], start=str(tomorrow)).context["rows"] == []
    yesterday = today - dt.timedelta(days=1)
    assert page(cast["dara"], end=str(yesterday)).context["rows"] == []


def test_a_bad_filter_is_shown_as_an_error_not_a_500(events: dict[str, Client], cast: dict[str, User]) -> None:
    response = page(cast["dara"], start="not-a-date", action="nonsense")
    assert response.status_code == 200 and response.context["rows"] == []
    assert b'role="alert"' in response.content
    reversed_range = page(cast["dara"], start="2026-02-02", end="2026-01-01")
    assert b"is after" in reversed_range.content


def test_the_report_pages_a_long_log_and_is_itself_audited(events: dict[str, Client], cast: dict[str, User]) -> None:
    for _ in range(120):
        record(None, "read", events["mine"], user=cast["ana"])
    first = page(cast["dara"])
    second = page(cast["dara"], page="2")
    assert len(first.context["rows"]) == 100
    oldest_on_first = min(event.seq for event, _ in first.context["rows"])
    # Newest first: page 2 goes on from where page 1 ended (shifted by the one entry the first view added).
    assert second.context["rows"] and max(event.seq for event, _ in second.context["rows"]) <= oldest_on_first + 1
    viewed = AuditEvent.objects.filter(user=cast["dara"], action="read", object_type="Practice")
    assert viewed.count() == 2 and viewed.first().details["page"] == "audit report"


def test_logins_success_and_failure_are_recorded(cast: dict[str, User]) -> None:
    give_authenticator(cast["ana"])
    browser = Browser()
    browser.post(reverse("login"), {"username": "ana", "password": "wrong password"})
    browser.post(reverse("login"), {"username": "ana", "password": PASSWORD})
    # The right password alone signs nobody in: the sign-in waits for the authenticator's code.
    assert "_auth_user_id" not in browser.session
    assert not AuditEvent.objects.filter(action="login").exists()
    browser.post(reverse("login-code"), {"code": code_now()})
    assert browser.session["_auth_user_id"] == str(cast["ana"].pk)
    actions = list(AuditEvent.objects.filter(actor="ana").order_by("seq").values_list("action", flat=True))
    assert actions == ["login_failed", "login"]  # one failure, then exactly one log-in for the complete sign-in
    assert AuditEvent.objects.get(action="login").user == cast["ana"]
    assert not AuditEvent.objects.filter(details__icontains="wrong").exists()


def test_an_invalid_api_token_is_a_recorded_failed_login_without_the_token(db: Any, cast: dict[str, User]) -> None:
    Browser().get("/api/v1/clients", HTTP_AUTHORIZATION="Bearer alc_not-a-real-token")
    event = AuditEvent.objects.get()  # exactly one entry for the attempt
    assert (event.action, event.actor, event.details) == ("login_failed", "api-token", {"reason": "invalid token"})
    assert "alc_not-a-real-token" not in str(AuditEvent.objects.filter(pk=event.pk).values().get())
    Browser().get("/api/v1/clients", HTTP_AUTHORIZATION=f"Bearer {ApiToken.issue(cast['ana'])[1]}")
    assert AuditEvent.objects.filter(action="login_failed").count() == 1
    # Credentials of another scheme are a failed log-in too, recorded once and without them.
    Browser().get("/api/v1/clients", HTTP_AUTHORIZATION="Basic YW5hOnNlY3JldA==")
    assert AuditEvent.objects.filter(action="login_failed", actor="api-token").count() == 2
    assert not AuditEvent.objects.filter(details__icontains="YW5h").exists()


def test_the_practice_admin_reading_and_saving_in_the_django_admin_is_recorded(
    events: dict[str, Client], cast: dict[str, User]
) -> None:
    browser = Browser()
    browser.force_login(cast["dara"])
    client = events["mine"]
    assert browser.get("/admin/practice/client/").status_code == 200
    assert browser.get(f"/admin/practice/client/{client.pk}/change/").status_code == 200
    identity = ClientIdentity.objects.get(client=client)
    assert browser.get(f"/admin/practice/clientidentity/{identity.pk}/change/").status_code == 200
    dara = AuditEvent.objects.filter(user=cast["dara"]).order_by("seq")
    assert dara.filter(action="read", details__admin_list="client").exists()
    assert dara.filter(action="read", object_type="Client", client_id=client.pk).exists()
    assert dara.filter(action="read", object_type="ClientIdentity", client_id=client.pk).exists()
    change_page = browser.get(f"/admin/practice/client/{client.pk}/change/")
    saved = browser.post(
        f"/admin/practice/client/{client.pk}/change/",
        {**as_posted(change_page.context["adminform"].form), "language": "es"},
    )
    assert saved.status_code == 302, saved.context["adminform"].form.errors if saved.context else saved.status_code
    assert Client.objects.get(pk=client.pk).language == "es"
    assert dara.filter(action="update", object_type="Client", client_id=client.pk).exists()


def as_posted(form: Any) -> dict[str, Any]:
    """What a browser sends back for ``form`` left as shown: every field's initial value (unticked boxes and empty
    optional fields are not sent; split widgets such as date and time go as ``name_0``, ``name_1``)."""
    data: dict[str, Any] = {}
    for field in form:
        value = field.value()
        if value is None or value is False:
            continue
        widget = getattr(field.field.widget, "widget", field.field.widget)  # the admin wraps related-field widgets
        if isinstance(widget, MultiWidget):
            for index, part in enumerate(widget.decompress(value)):
                data[f"{field.html_name}_{index}"] = "" if part is None else part
        else:
            data[field.html_name] = "on" if value is True else value
    return data
