"""Playwright with Debian's chromium (never a downloaded browser); screenshots kept as CI artifacts."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ARTIFACTS = Path(os.environ.get("ALLIANCE_ARTIFACTS", Path(__file__).resolve().parents[2] / "var" / "artifacts"))
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"viewport": {"width": 360, "height": 640}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("CI must have Debian's chromium for the browser tests (make chromium)")
        pytest.skip("Debian's chromium is not installed (make chromium)")
    # Playwright's sync API refuses to start inside a running asyncio loop; Django's async-unsafe guard must allow
    # the test thread to use the ORM while Playwright's loop runs.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        opened = launched.new_context

        def new_context(*args: Any, **kwargs: Any) -> Any:
            """Every context reports what the Content-Security-Policy blocked (see ``no_csp_violations``)."""
            context = opened(*args, **kwargs)
            context.on("console", _watch_console)
            return context

        launched.new_context = new_context
        yield launched
        launched.close()


# Console errors of the current test that come from the Content-Security-Policy (an inline style or script).
CSP_VIOLATIONS: list[str] = []


def _watch_console(message: Any) -> None:
    if message.type == "error" and "Content Security Policy" in message.text:
        CSP_VIOLATIONS.append(f"{message.location.get('url', '')}: {message.text}")


@pytest.fixture(autouse=True)
def no_csp_violations(request: pytest.FixtureRequest) -> Iterator[None]:
    """A browser test fails if any page it opened broke the Content-Security-Policy."""
    CSP_VIOLATIONS.clear()
    yield
    if "browser" in request.fixturenames:
        assert not CSP_VIOLATIONS, f"blocked by the Content-Security-Policy: {CSP_VIOLATIONS}"


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page screenshot under the artifacts folder and return its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in_with_code(page: Any, base_url: str, user: Any, password: str) -> None:
    """Sign ``user`` in through the log-in page: password, then the current code of their authenticator.

    ``user`` gets the tests' authenticator (clinic_factories.TOTP_SECRET) if they have none yet. The page should be
    on the log-in page already (e.g. after being sent there from a staff page).
    """
    from clinic_factories import TOTP_SECRET, code_now, give_authenticator

    from alliance.clinic.accounts.models import TotpDevice

    if not TotpDevice.objects.filter(user=user, confirmed_at__isnull=False).exists():
        give_authenticator(user)
    page.get_by_label("Username").fill(user.get_username())
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base_url}/login/code/")
    page.get_by_label("Authentication code").fill(code_now(TOTP_SECRET))
    page.get_by_role("button", name="Verify").click()


def log_in(context: Any, base_url: str, user: Any) -> None:
    """Give a Playwright browser context ``user``'s signed-in session, as after the full login (all factors).

    Tests of other pages use this instead of typing into the login page, which has its own browser tests.
    """
    from django.conf import settings
    from django.test import Client as DjangoClient

    django_client = DjangoClient()
    django_client.force_login(user)
    cookie = django_client.cookies[settings.SESSION_COOKIE_NAME]
    context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": cookie.value,
                "url": base_url,
                "httpOnly": True,
                "secure": bool(settings.SESSION_COOKIE_SECURE),
                "sameSite": "Lax",
            }
        ]
    )
