"""Every route answers with the security headers; no served page carries inline script or inline style.

The routes are the authorization matrix's (every URL of the app has a row there), fetched as anonymous, as the
treating therapist and as the practice admin; plus the pages that only a half-signed-in session reaches, a
check-in page, a static file and the Django admin.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from clinic_factories import PASSWORD, give_authenticator
from django.test import Client as Browser
from django.urls import reverse
from test_authorization_matrix import MATRIX, World, world  # noqa: F401  (world is a fixture)

from alliance.clinic.accounts.models import ApiToken, User

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
INLINE_STYLE = re.compile(r"<style\b|\sstyle\s*=", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)


def assert_headers(response: Any, where: str, *, admin: bool = False) -> None:
    csp = response["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in csp.split(";"))
    assert directives["script-src"] == "'self'", where
    assert directives["frame-ancestors"] == "'none'", where
    assert directives["object-src"] == "'none'" and directives["base-uri"] == "'none'", where
    assert directives["style-src"] == ("'self' 'unsafe-inline'" if admin else "'self'"), where
    assert response["X-Content-Type-Options"] == "nosniff", where
    assert response["Referrer-Policy"] == "same-origin", where
    assert response["X-Frame-Options"] == "DENY", where
    assert "camera=()" in response["Permissions-Policy"] and "microphone=()" in response["Permissions-Policy"], where
    assert response["Cross-Origin-Opener-Policy"] == "same-origin", where


def assert_no_inline_code(response: Any, where: str) -> None:
    if not response.get("Content-Type", "").startswith("text/html"):
        return
    html = response.content.decode()
    assert not INLINE_SCRIPT.search(html), f"{where}: inline <script>"
    assert not INLINE_STYLE.search(html), f"{where}: inline style"
    assert not EVENT_HANDLER.search(html), f"{where}: inline event handler"


@pytest.mark.parametrize("role", ["anonymous", "ana", "dara"])
def test_every_route_sends_the_headers_and_no_inline_code(world: World, role: str) -> None:  # noqa: F811
    checked = 0
    for name, route in sorted(MATRIX.items()):
        browser = Browser()
        headers: dict[str, str] = {}
        if role != "anonymous":
            if route.api:
                headers["Authorization"] = f"Bearer {ApiToken.issue(world.cast[role])[1]}"
            else:
                browser.force_login(world.cast[role])
        path = route.path(world)
        if route.method == "GET":
            response = browser.get(path, headers=headers)
        else:
            response = browser.post(path, route.data, headers=headers)
        assert_headers(response, f"{route.method} {name} as {role}")
        assert_no_inline_code(response, f"{route.method} {name} as {role}")
        checked += 1
    assert checked == len(MATRIX) >= 30


def test_the_sign_in_pages_and_client_pages_have_no_inline_code(world: World, ana: User) -> None:  # noqa: F811
    give_authenticator(ana)
    browser = Browser()
    pages = [browser.get(reverse("login"))]
    pages.append(browser.post(reverse("login"), {"username": "ana", "password": "wrong"}))
    browser.post(reverse("login"), {"username": "ana", "password": PASSWORD})
    pages.append(browser.get(reverse("login-code")))
    newcomer = Browser()
    newcomer.post(reverse("login"), {"username": "ben", "password": PASSWORD})
    pages.append(newcomer.get(reverse("mfa-enrol")))  # the QR code is inline SVG, without style
    pages.append(Browser().get(f"/checkin/{world.token}/"))
    pages.append(Browser().get("/checkin/no-such-link/"))
    for response in pages:
        assert response.status_code in (200, 404), response.wsgi_request.path
        assert_headers(response, response.wsgi_request.path)
        assert_no_inline_code(response, response.wsgi_request.path)
    assert "<svg" in pages[3].content.decode()


def test_static_files_and_the_admin_carry_the_headers(world: World) -> None:  # noqa: F811
    assert_headers(Browser().get("/static/alliance/alliance.css"), "static file")
    admin = Browser()
    admin.force_login(world.cast["dara"])
    page = admin.get("/admin/")
    assert page.status_code == 200
    assert_headers(page, "admin", admin=True)  # the admin's own templates carry a few style attributes
    assert not INLINE_SCRIPT.search(page.content.decode())


def test_hsts_only_over_https() -> None:
    assert Browser().get("/livez", secure=True)["Strict-Transport-Security"] == "max-age=31536000"
    assert "Strict-Transport-Security" not in Browser().get("/livez")


def test_the_csrf_failure_page_has_no_inline_style(db: Any) -> None:
    refused = Browser(enforce_csrf_checks=True).post(reverse("login"), {"username": "x", "password": "y"})
    assert refused.status_code == 403 and "This form was out of date" in refused.content.decode()
    assert_headers(refused, "csrf failure")
    assert_no_inline_code(refused, "csrf failure")
