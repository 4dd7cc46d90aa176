"""Two-factor sign-in end to end: password, then a code; enrolment with a QR code and recovery codes; replay,
the ±1 step window, the admin's reset, the kiosk unlock, and the admin log-in form that must not skip the code."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from clinic_factories import PASSWORD, TOTP_SECRET, code_now, give_authenticator
from django.test import Client as WebClient
from django.urls import reverse
from django.utils import timezone

from alliance.clinic.accounts import mfa
from alliance.clinic.accounts.middleware import KIOSK_KEY
from alliance.clinic.accounts.models import RecoveryCode, TotpDevice, User
from alliance.clinic.accounts.totp import decode_secret, hotp, time_step
from alliance.clinic.audit.models import AuditEvent
from alliance.clinic.practice.models import Appointment, Client

SECRET_ON_PAGE = re.compile(r'<p class="secret"[^>]*><code>([A-Z2-7 ]+)</code>')
RECOVERY_ON_PAGE = re.compile(r"<li><code>([a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4})</code></li>")


def signed_in(web: WebClient) -> bool:
    return "_auth_user_id" in web.session


def password_step(web: WebClient, username: str = "ana", password: str = PASSWORD, **extra: str) -> Any:
    return web.post(reverse("login"), {"username": username, "password": password, **extra})


@pytest.fixture
def ana_device(ana: User) -> TotpDevice:
    device: TotpDevice = give_authenticator(ana)
    return device


def test_password_then_code_then_the_page(client: WebClient, ana: User, ana_device: TotpDevice) -> None:
    first = password_step(client, next="/me/trends/")
    assert first.status_code == 302 and first["Location"] == reverse("login-code")
    assert not signed_in(client)  # the password alone signs nobody in
    assert client.get(reverse("caseload"))["Location"].startswith(reverse("login"))
    assert client.get("/api/v1/clients").status_code == 401

    page = client.get(reverse("login-code"))
    assert page.status_code == 200 and "Signing in as <strong>ana</strong>" in page.content.decode()
    second = client.post(reverse("login-code"), {"code": code_now()})

    assert second.status_code == 302 and second["Location"] == "/me/trends/"
    assert signed_in(client) and int(client.session["_auth_user_id"]) == ana.pk
    assert client.get(reverse("caseload")).status_code == 200
    assert AuditEvent.objects.filter(action="login", user=ana).count() == 1
    ana_device.refresh_from_db()
    assert ana_device.last_step is not None


def test_a_wrong_code_keeps_the_session_half_signed_in(client: WebClient, ana: User, ana_device: TotpDevice) -> None:
    password_step(client)
    wrong = f"{(int(code_now()) + 1) % 1_000_000:06d}"
    response = client.post(reverse("login-code"), {"code": wrong})

    assert response.status_code == 200
    assert "That code is not right" in response.content.decode()
    assert not signed_in(client)
    failed = AuditEvent.objects.get(action="login_failed", object_type="TotpDevice")
    assert failed.user == ana and wrong not in str(failed.__dict__)
    # The right code still works afterwards.
    assert client.post(reverse("login-code"), {"code": code_now()}).status_code == 302
    assert signed_in(client)


def test_a_code_works_once(client: WebClient, ana: User, ana_device: TotpDevice) -> None:
    password_step(client)
    code = code_now()
    assert client.post(reverse("login-code"), {"code": code}).status_code == 302
    client.post(reverse("logout"))

    other = WebClient()
    password_step(other)
    replay = other.post(reverse("login-code"), {"code": code})

    assert replay.status_code == 200 and not signed_in(other)
    assert "already used" in replay.content.decode()


def test_one_step_either_side_is_accepted_two_are_not(ana: User, ana_device: TotpDevice) -> None:
    key = decode_secret(TOTP_SECRET)
    at = 1_700_000_000.0
    step = time_step(at)
    assert mfa.verify(ana, hotp(key, step - 2), at=at) is None
    assert mfa.verify(ana, hotp(key, step + 2), at=at) is None
    assert mfa.verify(ana, hotp(key, step - 1), at=at) == "totp"
    assert mfa.verify(ana, hotp(key, step - 1), at=at) is None  # used
    assert mfa.verify(ana, hotp(key, step), at=at) == "totp"
    assert mfa.verify(ana, hotp(key, step + 1), at=at) == "totp"
    assert mfa.verify(ana, hotp(key, step), at=at) is None  # older than the last one used
    ana_device.refresh_from_db()
    assert ana_device.last_step == step + 1


def enrol_through_the_pages(web: WebClient) -> tuple[str, list[str]]:
    """From the enrolment page: read the key, confirm with its code; return the key and the recovery codes."""
    page = web.get(reverse("mfa-enrol"))
    assert page.status_code == 200
    html = page.content.decode()
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in html and 'aria-label="QR code' in html
    found = SECRET_ON_PAGE.search(html)
    assert found
    secret = found.group(1).replace(" ", "")
    done = web.post(reverse("mfa-enrol"), {"code": code_now(secret)})
    assert done.status_code == 200
    codes = RECOVERY_ON_PAGE.findall(done.content.decode())
    return secret, codes


def test_staff_without_an_authenticator_enrol_before_anything_else(client: WebClient, ana: User) -> None:
    first = password_step(client)
    assert first["Location"] == reverse("mfa-enrol")
    assert not signed_in(client)
    assert client.get(reverse("caseload"))["Location"].startswith(reverse("login"))
    assert client.get(reverse("login-code"))["Location"] == reverse("mfa-enrol")

    wrong = client.post(reverse("mfa-enrol"), {"code": "000000"})
    assert wrong.status_code == 200 and not signed_in(client)
    secret, codes = enrol_through_the_pages(client)

    assert signed_in(client)
    device = TotpDevice.objects.get(user=ana)
    assert device.confirmed and mfa.secret_of(device) == secret and len(secret) == 32
    assert len(codes) == mfa.RECOVERY_CODES == 10 and len(set(codes)) == 10
    stored = set(RecoveryCode.objects.filter(user=ana).values_list("code_hash", flat=True))
    assert len(stored) == 10 and not stored & set(codes)  # only hashes are kept
    assert AuditEvent.objects.filter(action="create", object_type="TotpDevice", user=ana).exists()
    # Enrolled: the next log-in asks for the code.
    client.post(reverse("logout"))
    assert password_step(client)["Location"] == reverse("login-code")


def test_a_recovery_code_signs_in_once(client: WebClient, ana: User) -> None:
    password_step(client)
    _, codes = enrol_through_the_pages(client)
    client.post(reverse("logout"))

    password_step(client)
    used = client.post(reverse("login-code"), {"code": codes[3].upper().replace("-", " ")}, follow=True)
    assert signed_in(client)
    assert "recovery code; 9 left" in used.content.decode()
    client.post(reverse("logout"))

    password_step(client)
    again = client.post(reverse("login-code"), {"code": codes[3]})
    assert again.status_code == 200 and not signed_in(client)
    assert RecoveryCode.objects.filter(user=ana, used_at__isnull=False).count() == 1


def test_without_mfa_required_a_password_alone_signs_in_staff_without_a_device(
    client: WebClient, ana: User, settings: Any
) -> None:
    settings.ALLIANCE_MFA_REQUIRED = False
    response = password_step(client)
    assert response.status_code == 302 and response["Location"] == reverse("home")
    assert signed_in(client)


def test_the_half_signed_in_step_expires(client: WebClient, ana: User, ana_device: TotpDevice, settings: Any) -> None:
    password_step(client)
    session = client.session
    session[mfa.PENDING_KEY] = session[mfa.PENDING_KEY] | {
        "since": time.time() - settings.ALLIANCE_MFA_PENDING_SECONDS - 1
    }
    session.save()

    response = client.post(reverse("login-code"), {"code": code_now()})
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert not signed_in(client)


def test_the_password_step_changes_the_session_key(client: WebClient, ana: User, ana_device: TotpDevice) -> None:
    session = client.session
    session["visited"] = True
    session.save()
    before = session.session_key
    password_step(client)
    assert client.session.session_key != before and client.session.get("visited") is True


def test_an_outside_next_address_is_ignored(client: WebClient, ana: User, ana_device: TotpDevice) -> None:
    password_step(client, next="https://evil.example/")
    response = client.post(reverse("login-code"), {"code": code_now()})
    assert response["Location"] == reverse("home")


def test_a_deactivated_user_cannot_finish(client: WebClient, ana: User, ana_device: TotpDevice) -> None:
    password_step(client)
    User.objects.filter(pk=ana.pk).update(is_active=False)
    response = client.post(reverse("login-code"), {"code": code_now()})
    assert response["Location"].startswith(reverse("login")) and not signed_in(client)


def test_the_admin_log_in_form_sends_to_ours(client: WebClient, dara: User) -> None:
    give_authenticator(dara)
    form = client.get("/admin/login/?next=/admin/")
    assert form.status_code == 302 and form["Location"] == "/login/?next=%2Fadmin%2F"
    posted = client.post("/admin/login/", {"username": "dara", "password": PASSWORD})
    assert posted.status_code == 302 and not signed_in(client)


def test_a_forced_log_in_counts_as_fully_signed_in(client: WebClient, ana: User, ana_device: TotpDevice) -> None:
    # What the rest of the suite relies on (force_login, and log_in() in the browser tests).
    client.force_login(ana)
    assert client.get(reverse("caseload")).status_code == 200


def test_the_admin_resets_an_authenticator(client: WebClient, ana: User, dara: User, ana_device: TotpDevice) -> None:
    RecoveryCode.objects.create(user=ana, code_hash="x" * 64)
    client.force_login(dara)
    listing = client.get(reverse("admin:accounts_user_changelist"))
    assert listing.status_code == 200

    response = client.post(
        reverse("admin:accounts_user_changelist"), {"action": "reset_mfa", "_selected_action": [ana.pk]}
    )

    assert response.status_code == 302
    assert not TotpDevice.objects.filter(user=ana).exists() and not RecoveryCode.objects.filter(user=ana).exists()
    event = AuditEvent.objects.get(action="mfa_reset")
    assert event.user == dara and event.object_type == "TotpDevice"
    # ana enrols again at her next log-in.
    assert password_step(WebClient())["Location"] == reverse("mfa-enrol")


def test_an_admin_cannot_reset_another_practices_user(client: WebClient, dara: User, eve: User) -> None:
    give_authenticator(eve)
    client.force_login(dara)
    client.post(reverse("admin:accounts_user_changelist"), {"action": "reset_mfa", "_selected_action": [eve.pk]})
    assert TotpDevice.objects.filter(user=eve).exists()
    assert not AuditEvent.objects.filter(action="mfa_reset").exists()


def test_enrolment_is_refused_once_a_device_is_confirmed(client: WebClient, ana: User, ana_device: TotpDevice) -> None:
    client.force_login(ana)
    response = client.get(reverse("mfa-enrol"))
    assert response.status_code == 302 and response["Location"] == reverse("home")
    assert TotpDevice.objects.get(user=ana).pk == ana_device.pk


# --- the clinic tablet -----------------------------------------------------------------------------------------


@pytest.fixture
def tablet(client: WebClient, ana: User, ana_device: TotpDevice, make_client: Any) -> WebClient:
    person: Client = make_client(ana, code="C-TAB")
    appointment = Appointment.objects.create(
        client=person, episode=person.episodes.get(), therapist=ana, starts_at=timezone.now(), session_number=1
    )
    client.force_login(ana)
    client.post(reverse("kiosk-start", args=[appointment.pk]))
    assert KIOSK_KEY in client.session
    return client


def test_unlocking_the_tablet_asks_for_the_code_too(tablet: WebClient) -> None:
    page = tablet.get(reverse("kiosk-locked")).content.decode()
    assert 'name="code"' in page

    password_only = tablet.post(reverse("kiosk-unlock"), {"password": PASSWORD})
    assert password_only.status_code == 403 and KIOSK_KEY in tablet.session
    assert "password or code is not right" in password_only.content.decode()

    unlocked = tablet.post(reverse("kiosk-unlock"), {"password": PASSWORD, "code": code_now()})
    assert unlocked.status_code == 302 and KIOSK_KEY not in tablet.session


def test_a_right_code_with_a_wrong_password_is_not_spent(tablet: WebClient, ana_device: TotpDevice) -> None:
    code = code_now()
    tablet.post(reverse("kiosk-unlock"), {"password": "guess", "code": code})
    ana_device.refresh_from_db()
    assert ana_device.last_step is None
    assert tablet.post(reverse("kiosk-unlock"), {"password": PASSWORD, "code": code}).status_code == 302
