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
        yield launched
        launched.close()


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page screenshot under the artifacts folder and return its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


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
