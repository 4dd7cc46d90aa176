"""Failed attempts are counted in the database per account and per address; too many lock for a while.

Figures (defaults): 5 failures per account or 20 per address within 15 minutes lock for 15 minutes after the last
one. The same holds for the password, the code, the kiosk unlock, API bearer tokens and check-in link tokens.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from clinic_factories import PASSWORD, code_now, give_authenticator
from django.test import Client as WebClient
from django.urls import reverse
from django.utils import timezone

from alliance.clinic.accounts import lockout
from alliance.clinic.accounts.models import ApiToken, LoginFailure, User
from alliance.clinic.audit.models import AuditEvent
from alliance.clinic.checkins.links import issue_link
from alliance.clinic.practice.models import Appointment

LOCKED = "Too many failed attempts. For your security, signing in is paused."


def signed_in(web: WebClient) -> bool:
    return "_auth_user_id" in web.session


def attempt(web: WebClient, username: str, password: str) -> Any:
    return web.post(reverse("login"), {"username": username, "password": password})


def age_failures(minutes: float) -> None:
    """Move every counted failure ``minutes`` into the past (as if that much time went by)."""
    LoginFailure.objects.update(at=timezone.now() - dt.timedelta(minutes=minutes))


@pytest.fixture
def devices(ana: User, ben: User) -> None:
    give_authenticator(ana)
    give_authenticator(ben)


def test_after_five_wrong_passwords_the_right_one_is_refused_until_the_lock_ends(
    client: WebClient, ana: User, ben: User, devices: None
) -> None:
    statuses = [attempt(client, "ana", f"wrong-{n}").status_code for n in range(5)]
    assert statuses == [200, 200, 200, 200, 429]  # the 5th failure locks

    refused = attempt(client, "ana", PASSWORD)
    assert refused.status_code == 429 and LOCKED in refused.content.decode()
    assert refused["Retry-After"] == "900"
    assert refused.wsgi_request.session.get("alliance_mfa_pending") is None and not signed_in(client)
    # Another account from the same address is not affected.
    assert attempt(WebClient(), "ben", PASSWORD)["Location"] == reverse("login-code")

    age_failures(14)  # still inside the 15 minutes
    assert attempt(client, "ana", PASSWORD).status_code == 429
    age_failures(15.1)  # the lock is over
    assert attempt(client, "ana", PASSWORD)["Location"] == reverse("login-code")
    assert AuditEvent.objects.filter(action="login_failed", actor="ana").count() == 5
    assert AuditEvent.objects.filter(action="lockout", actor="ana").count() == 3  # locked once, refused twice


def test_the_lockout_says_nothing_about_whether_the_account_exists(client: WebClient, ana: User) -> None:
    def messages(username: str) -> list[str]:
        web = WebClient()
        pages = [attempt(web, username, "wrong").content.decode() for _ in range(6)]
        return [re_error(page) for page in pages]

    assert messages("ana") == messages("nobody-by-this-name")


def re_error(page: str) -> str:
    start = page.find('role="alert">')
    return page[start : page.find("</p>", start)] if start >= 0 else ""


def test_usernames_are_never_stored_as_typed(client: WebClient, ana: User) -> None:
    attempt(client, "my-password-typed-in-the-wrong-box", "x")
    scopes = set(LoginFailure.objects.values_list("scope", flat=True))
    assert len(scopes) == 2 and all(len(scope) == 64 for scope in scopes)
    assert not any("password" in scope for scope in scopes)


def test_a_complete_sign_in_forgets_the_accounts_failures(client: WebClient, ana: User, devices: None) -> None:
    for _ in range(4):
        attempt(client, "ana", "wrong")
    attempt(client, "ana", PASSWORD)
    client.post(reverse("login-code"), {"code": code_now()})
    assert signed_in(client)
    client.post(reverse("logout"))
    for _ in range(4):
        assert attempt(client, "ana", "wrong").status_code == 200  # counting starts again


def test_wrong_codes_count_towards_the_same_lock(client: WebClient, ana: User, devices: None) -> None:
    attempt(client, "ana", PASSWORD)
    wrong = f"{(int(code_now()) + 5) % 1_000_000:06d}"
    statuses = [client.post(reverse("login-code"), {"code": wrong}).status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 200, 429]
    # Locked: back to the password, which is refused too, right code or not.
    assert client.get(reverse("login-code"))["Location"] == reverse("login")
    assert attempt(client, "ana", PASSWORD).status_code == 429


def test_twenty_failures_from_one_address_lock_that_address(ana: User, devices: None) -> None:
    guesser = WebClient(REMOTE_ADDR="203.0.113.9")
    for n in range(20):
        attempt(guesser, f"user{n}", "guess")  # 20 names, one attempt each: no account reaches 5
    assert attempt(guesser, "ana", PASSWORD).status_code == 429
    assert attempt(WebClient(REMOTE_ADDR="198.51.100.7"), "ana", PASSWORD)["Location"] == reverse("login-code")


def test_the_kiosk_unlock_counts_towards_the_account_lock(client: WebClient, ana: User, make_client: Any) -> None:
    person = make_client(ana, code="C-KIOSK-LOCK")
    appointment = Appointment.objects.create(
        client=person, episode=person.episodes.get(), therapist=ana, starts_at=timezone.now(), session_number=1
    )
    for _ in range(4):
        attempt(WebClient(), "ana", "wrong")
    client.force_login(ana)
    client.post(reverse("kiosk-start", args=[appointment.pk]))
    ended = client.post(reverse("kiosk-unlock"), {"password": "guess"})  # the 5th failure: locked, logged out
    assert ended["Location"] == reverse("login") and not signed_in(client)
    assert attempt(WebClient(), "ana", PASSWORD).status_code == 429


def test_twenty_wrong_api_tokens_from_one_address_answer_429(ana: User) -> None:
    _, secret = ApiToken.issue(ana)
    guesser = WebClient(REMOTE_ADDR="203.0.113.20")
    statuses = [
        guesser.get("/api/v1/clients", headers={"Authorization": f"Bearer alc_guess{n}"}).status_code for n in range(21)
    ]
    assert statuses == [401] * 20 + [429]
    refused = guesser.get("/api/v1/clients", headers={"Authorization": f"Bearer {secret}"})
    assert refused.status_code == 429 and int(refused["Retry-After"]) == 900
    assert json.loads(refused.content)["detail"].startswith("too many")
    elsewhere = WebClient(REMOTE_ADDR="198.51.100.20")
    assert elsewhere.get("/api/v1/clients", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    # One audit entry per wrong token, the same attempts the lock counted.
    failed = AuditEvent.objects.filter(action="login_failed", actor="api-token")
    assert failed.count() == 20 and {event.details["reason"] for event in failed} == {"invalid token"}
    assert LoginFailure.objects.filter(kind="api-token").count() == 20
    assert AuditEvent.objects.filter(action="lockout", actor="api-token").count() == 3  # locked, then 2 refused


def test_guessing_check_in_links_pauses_the_address(ana: User, make_client: Any) -> None:
    person = make_client(ana, code="C-LINK-GUESS")
    appointment = Appointment.objects.create(
        client=person, episode=person.episodes.get(), therapist=ana, starts_at=timezone.now(), session_number=1
    )
    token = issue_link(appointment, by=ana).token
    guesser = WebClient(REMOTE_ADDR="203.0.113.30")
    statuses = [guesser.get(f"/checkin/guess-{n}/").status_code for n in range(21)]
    assert statuses == [404] * 20 + [429]
    paused = guesser.get(f"/checkin/{token}/")
    assert paused.status_code == 429 and "Please wait a few minutes" in paused.content.decode()
    assert WebClient(REMOTE_ADDR="198.51.100.30").get(f"/checkin/{token}/").status_code == 200


def test_the_lock_lasts_its_time_after_the_last_failure_in_the_window(db: Any) -> None:
    scope = lockout.account("someone")
    start = timezone.now() - dt.timedelta(hours=1)
    minutes = [0, 3, 6, 9]
    for minute in minutes:
        assert lockout.fail([scope], "password", now=start + dt.timedelta(minutes=minute)) is None
    fifth = start + dt.timedelta(minutes=12)
    until = lockout.fail([scope], "password", now=fifth)
    assert until == fifth + dt.timedelta(minutes=15)
    assert lockout.locked_until([scope], now=fifth + dt.timedelta(minutes=14, seconds=59)) == until
    assert lockout.locked_until([scope], now=fifth + dt.timedelta(minutes=15)) is None
    # Five failures spread over more than 15 minutes never lock.
    spread = lockout.account("someone-else")
    for minute in (0, 4, 8, 12, 16):
        until = lockout.fail([spread], "password", now=start + dt.timedelta(minutes=minute))
    assert until is None
