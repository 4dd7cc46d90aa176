"""`alliance demo` prints the demo users' authenticator keys; `alliance demo-code USER` prints a demo user's code."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from typer.testing import CliRunner

from alliance.cli import app
from alliance.clinic.accounts.models import User
from alliance.clinic.accounts.totp import decode_secret, time_step, totp
from alliance.clinic.demo import demo_totp_secret

runner = CliRunner()


@pytest.fixture(autouse=True)
def fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_the_demo_prints_keys_and_demo_code_prints_the_current_code(db: Any) -> None:
    seeded = runner.invoke(app, ["demo", "--clients", "1", "--seed", "3"])
    assert seeded.exit_code == 0, seeded.stderr
    for username in ("ana", "ben", "cleo", "dara"):
        assert f"{username}  key {demo_totp_secret(username)}" in seeded.stdout.replace("   ", "  ")
    assert len(decode_secret(demo_totp_secret("ana"))) == 20 and demo_totp_secret("ana") != demo_totp_secret("ben")

    before = time.time()
    result = runner.invoke(app, ["demo-code", "ana"])
    after = time.time()
    assert result.exit_code == 0, result.stderr
    code = re.match(r"(\d{6})  \(valid for \d+ more seconds", result.stdout)
    assert code
    key = decode_secret(demo_totp_secret("ana"))
    assert code.group(1) in {totp(key, before), totp(key, after)}
    assert time_step(after) - time_step(before) <= 1


def test_demo_code_refuses_anyone_but_a_demo_user(db: Any) -> None:
    User.objects.create_user(username="ana", password="x" * 12)  # a real ana, not the demo's
    result = runner.invoke(app, ["demo-code", "ana"])
    assert result.exit_code == 2
    assert "'ana' is not a demo user with the demo authenticator key" in result.stderr
