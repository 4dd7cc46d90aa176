"""Staff session limits (absolute timeout) and the kiosk lock for a clinic tablet handed to a client."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

LOGIN_TIME_KEY = "alliance_login_at"
KIOSK_KEY = "alliance_kiosk_token"
# Paths a locked tablet may still reach: the client's check-in, the unlock page and static files.
KIOSK_ALLOWED_PREFIXES = ("/checkin/", "/kiosk/", "/static/")


class SessionTimeoutMiddleware:
    """End a staff session 12 hours after login whatever the activity (idle timeout is the cookie age)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            started = request.session.get(LOGIN_TIME_KEY)
            if started is None:
                request.session[LOGIN_TIME_KEY] = time.time()
            elif time.time() - float(started) > settings.ALLIANCE_SESSION_ABSOLUTE_SECONDS:
                logout(request)
                return redirect("/login/?expired=1")
        return self.get_response(request)


class KioskLockMiddleware:
    """While a tablet is in kiosk mode, nothing but the client's check-in is reachable until staff unlock it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = request.session.get(KIOSK_KEY) if hasattr(request, "session") else None
        if token and not request.path.startswith(KIOSK_ALLOWED_PREFIXES):
            return redirect("kiosk-locked")
        return self.get_response(request)
