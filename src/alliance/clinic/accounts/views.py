"""Signing in (password, then a code from the authenticator app), enrolling an authenticator, and the landing page.

Every step counts failures against the account and the address (``accounts.lockout``): after too many, the step
answers 429 with the same words whether or not the account exists, and checks nothing until the lock ends.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from alliance.clinic.accounts import lockout, mfa
from alliance.clinic.accounts.models import User
from alliance.clinic.audit.service import record
from alliance.clinic.checkins.qr import qr_svg

__all__ = ["admin_login", "enrol", "home", "locked_message", "login_code", "login_password"]

WRONG_PASSWORD = "Your username and password didn't match. Please try again."
WRONG_CODE = "That code is not right, or it was already used. Please try the newest code."


def locked_message(minutes: int) -> str:
    """The one message of every lockout: it never says whether the account exists."""
    unit = "minute" if minutes == 1 else "minutes"
    return f"Too many failed attempts. For your security, signing in is paused. Please try again in {minutes} {unit}."


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Send therapists to their caseload, supervisors and admins to their team overview."""
    role = getattr(request.user, "role", "")
    return redirect("caseload" if role == "therapist" else "team")


@sensitive_post_parameters("password")
@csrf_protect
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def login_password(request: HttpRequest) -> HttpResponse:
    """First factor: username and password. Staff with an authenticator (all staff, by default) go on to the code."""
    next_url = _safe_next(request, request.POST.get("next") or request.GET.get("next", ""))
    if request.user.is_authenticated:
        return redirect(next_url or resolve_url(settings.LOGIN_REDIRECT_URL))
    context: dict[str, Any] = {"next": next_url, "username": ""}
    if request.method != "POST":
        return render(request, "accounts/login.html", context)
    username = request.POST.get("username", "").strip()
    password = request.POST.get("password", "")
    context["username"] = username
    scopes = lockout.login_scopes(request, username)
    until = lockout.locked_until(scopes)
    if until is not None:
        record(request, "lockout", actor=username[:150] or "unknown")
        return _locked(request, "accounts/login.html", context, until)
    user = authenticate(request, username=username, password=password)  # a failure is audited by the signal
    if not isinstance(user, User):
        until = lockout.fail(scopes, "password")
        if until is not None:
            record(request, "lockout", actor=username[:150] or "unknown")
            return _locked(request, "accounts/login.html", context, until)
        context["error"] = WRONG_PASSWORD
        return render(request, "accounts/login.html", context, status=200)
    mfa.begin(request, user, next_url=next_url)
    if mfa.confirmed_device(user) is not None:
        return redirect("login-code")
    if mfa.mfa_required():
        return redirect("mfa-enrol")
    state = mfa.pending(request)
    assert state is not None
    mfa.finish(request, state)
    return redirect(next_url or resolve_url(settings.LOGIN_REDIRECT_URL))


@sensitive_post_parameters("code")
@csrf_protect
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def login_code(request: HttpRequest) -> HttpResponse:
    """Second factor: the six-digit code of the authenticator app, or one of the recovery codes."""
    if request.user.is_authenticated:
        return redirect(settings.LOGIN_REDIRECT_URL)
    state = mfa.pending(request)
    if state is None:
        return redirect(f"{resolve_url(settings.LOGIN_URL)}?expired=1" if request.method == "POST" else "login")
    if mfa.confirmed_device(state.user) is None:
        return redirect("mfa-enrol")
    context: dict[str, Any] = {"username": state.user.get_username()}
    if request.method != "POST":
        return render(request, "accounts/login_code.html", context)
    scopes = lockout.login_scopes(request, state.user.get_username())
    until = lockout.locked_until(scopes)
    if until is not None:
        request.session.pop(mfa.PENDING_KEY, None)
        record(request, "lockout", user=state.user)
        return _locked(request, "accounts/login_code.html", context, until)
    method = mfa.verify(state.user, request.POST.get("code", ""))
    if method is None:
        record(request, "login_failed", mfa.confirmed_device(state.user), user=state.user)
        until = lockout.fail(scopes, "code")
        if until is not None:
            request.session.pop(mfa.PENDING_KEY, None)
            record(request, "lockout", user=state.user)
            return _locked(request, "accounts/login_code.html", context, until)
        context["error"] = WRONG_CODE
        return render(request, "accounts/login_code.html", context, status=200)
    mfa.finish(request, state)
    if method == "recovery":
        left = mfa.unused_recovery_codes(state.user)
        messages.warning(
            request,
            f"You signed in with a recovery code; {left} left. If your authenticator is lost, ask your practice "
            "admin to reset it.",
        )
    return redirect(state.next_url or resolve_url(settings.LOGIN_REDIRECT_URL))


@sensitive_post_parameters("code")
@csrf_protect
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def enrol(request: HttpRequest) -> HttpResponse:
    """Set up the authenticator app: a QR code (made here, offline) and the secret as text, confirmed by a code.

    Reached after the password by staff who have none yet (MFA is required by default), or by a signed-in user
    without one. A right code confirms the device, shows the ten recovery codes once and completes the sign-in.
    """
    state = mfa.pending(request)
    if request.user.is_authenticated:
        user: User = request.user
    elif state is not None:
        user = state.user
    else:
        return redirect("login")
    if mfa.confirmed_device(user) is not None:
        messages.info(request, "Your authenticator is already set up. A practice admin can reset it if it is lost.")
        return redirect("home" if request.user.is_authenticated else "login-code")
    device = mfa.enrolment_device(user)
    secret = mfa.secret_of(device)
    context: dict[str, Any] = {
        "username": user.get_username(),
        "qr": qr_svg(mfa.provisioning_address(device), title="QR code to add alliance to your authenticator app"),
        "secret_groups": [secret[i : i + 4] for i in range(0, len(secret), 4)],
        "required": mfa.mfa_required(),
    }
    if request.method != "POST":
        return render(request, "accounts/enrol.html", context)
    scopes = lockout.login_scopes(request, user.get_username())
    until = lockout.locked_until(scopes)
    if until is not None:
        record(request, "lockout", user=user)
        return _locked(request, "accounts/enrol.html", context, until)
    codes = mfa.confirm_enrolment(request, device, request.POST.get("code", ""))
    if codes is None:
        lockout.fail(scopes, "code")
        context["error"] = WRONG_CODE
        return render(request, "accounts/enrol.html", context, status=200)
    next_url = ""
    if not request.user.is_authenticated and state is not None:
        next_url = state.next_url
        mfa.finish(request, state)
    continue_to = next_url or resolve_url(settings.LOGIN_REDIRECT_URL)
    return render(request, "accounts/recovery_codes.html", {"codes": codes, "continue_to": continue_to})


def admin_login(request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
    """The Django admin's log-in form would skip the second factor: send it to ours instead."""
    next_url = _safe_next(request, request.GET.get("next", "")) or resolve_url("admin:index")
    if request.user.is_authenticated:
        return redirect(next_url)
    return redirect(f"{resolve_url(settings.LOGIN_URL)}?{urlencode({'next': next_url})}")


def _locked(request: HttpRequest, template: str, context: dict[str, Any], until: Any) -> HttpResponse:
    context = context | {"locked": locked_message(lockout.retry_minutes(until))}
    response = render(request, template, context, status=429)
    response["Retry-After"] = str(lockout.retry_minutes(until) * 60)
    return response


def _safe_next(request: HttpRequest, candidate: str) -> str:
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return ""
