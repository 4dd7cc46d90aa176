"""``alliance migrate | demo | serve | token create``: the commands that set up and run the clinic app."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from django.test import Client as HttpClient
from typer.testing import CliRunner

from alliance.cli import app
from alliance.clinic.accounts.models import ApiToken, User
from alliance.clinic.server import ClinicServer

runner = CliRunner()
CLI = [sys.executable, "-c", "from alliance.cli import main; main()"]


@pytest.fixture(autouse=True)
def fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def ana(db: Any) -> User:
    return User.objects.create_user(username="ana", password="x" * 12, role="therapist")


# --- token create --------------------------------------------------------------------------------------------------


def test_token_create_prints_the_token_as_the_last_word_and_it_opens_the_api(ana: User, client: HttpClient) -> None:
    result = runner.invoke(app, ["token", "create", "ana"])
    assert result.exit_code == 0, result.stderr
    line = result.stdout.strip()
    assert line.startswith("token for ana: ")
    secret = line.split()[-1]
    assert secret.startswith("alc_")
    response = client.get("/api/v1/clients", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code == 200
    assert response.json() == {"count": 0, "items": []}
    assert client.get("/api/v1/clients", HTTP_AUTHORIZATION="Bearer alc_other").status_code == 401


def test_token_create_keeps_only_the_hash_and_the_name(ana: User) -> None:
    result = runner.invoke(app, ["token", "create", "ana", "--name", "reporting job"])
    secret = result.stdout.split()[-1]
    token = ApiToken.objects.get(user=ana)
    assert token.name == "reporting job"
    assert token.token_hash != secret and secret not in token.token_hash


@pytest.mark.parametrize(("username", "message"), [("zed", "no user named 'zed'"), ("ina", "'ina' is not active")])
def test_token_create_for_an_unknown_or_inactive_user_is_exit_2_with_one_line(
    ana: User, username: str, message: str
) -> None:
    User.objects.create_user(username="ina", password="x" * 12, is_active=False)
    result = runner.invoke(app, ["token", "create", username])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert message in result.stderr
    assert not ApiToken.objects.exists()


def test_tokens_are_listed_without_secrets_and_a_revoked_one_stops_working(ana: User, client: HttpClient) -> None:
    secret = runner.invoke(app, ["token", "create", "ana", "--name", "sync"]).stdout.split()[-1]
    listed = runner.invoke(app, ["token", "list", "ana"])
    assert listed.exit_code == 0
    header, row = listed.stdout.splitlines()
    assert header == "id,user,name,created_at,last_used_at,revoked_at"
    token_id, user, name, _, _, revoked = row.split(",")
    assert (user, name, revoked) == ("ana", "sync", "")
    assert secret not in listed.stdout
    revoked_result = runner.invoke(app, ["token", "revoke", token_id])
    assert revoked_result.exit_code == 0
    assert revoked_result.stdout.strip() == f"revoked token {token_id} of ana"
    assert client.get("/api/v1/clients", HTTP_AUTHORIZATION=f"Bearer {secret}").status_code == 401
    missing = runner.invoke(app, ["token", "revoke", "987654"])
    assert missing.exit_code == 2 and missing.stderr.strip() == "alliance: error: no token with id 987654"


# --- migrate and demo ----------------------------------------------------------------------------------------------


def test_migrate_prints_a_one_line_summary(db: Any) -> None:
    result = runner.invoke(app, ["migrate"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.count("\n") == 1
    assert "0 migrations applied" in result.stdout  # the test database is already up to date


def test_demo_seeds_once_and_prints_the_logins(db: Any) -> None:
    first = runner.invoke(app, ["demo", "--clients", "1", "--seed", "3"])
    assert first.exit_code == 0, first.stderr
    assert "(created): 2 clients" in first.stdout
    for username, role, password in [
        ("ana", "therapist", "demo-ana-2026!"),
        ("ben", "therapist", "demo-ben-2026!"),
        ("cleo", "supervisor", "demo-cleo-2026!"),
        ("dara", "admin", "demo-dara-2026!"),
    ]:
        assert any(line.split() == [username, role, password] for line in first.stdout.splitlines())
    second = runner.invoke(app, ["demo", "--clients", "1", "--seed", "3"])
    assert second.exit_code == 0
    assert "already there, nothing added" in second.stdout
    assert User.objects.filter(username="ana").count() == 1


# --- serve ---------------------------------------------------------------------------------------------------------


def test_the_server_is_gunicorn_configured_from_the_options() -> None:
    def app_(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        return []

    server = ClinicServer(host="127.0.0.1", port=8123, workers=3, application=app_)
    assert server.cfg.bind == ["127.0.0.1:8123"]
    assert server.cfg.workers == 3
    assert server.cfg.worker_class_str == "gthread"
    assert server.cfg.accesslog is None  # check-in links carry secrets in their paths
    assert server.load() is app_
    assert ClinicServer(host="::1", port=9000).cfg.bind == ["[::1]:9000"]
    assert ClinicServer().cfg.workers >= 2


def test_serve_prints_the_url_and_runs_gunicorn(transactional_db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[ClinicServer] = []
    monkeypatch.setattr(ClinicServer, "run", lambda self: started.append(self))
    result = runner.invoke(app, ["serve", "--host", "127.0.0.1", "--port", "8123", "--workers", "2"])
    assert result.exit_code == 0, result.stderr
    assert "http://127.0.0.1:8123/" in result.stdout
    (server,) = started
    assert (server.cfg.bind, server.cfg.workers) == (["127.0.0.1:8123"], 2)


def test_serve_on_a_port_in_use_is_exit_2_with_one_line(transactional_db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ClinicServer, "run", lambda self: pytest.fail("must not start"))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = runner.invoke(app, ["serve", "--port", str(port)])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"alliance: error: cannot listen on 127.0.0.1:{port}: ")
    assert result.stderr.count("\n") == 1


# --- Django only where needed; setup errors as one line --------------------------------------------------------------


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    return env | {"ALLIANCE_DATA_DIR": str(tmp_path / "var")} | extra


def test_the_command_line_imports_django_only_for_the_clinic_commands(tmp_path: Path) -> None:
    code = "import sys, alliance.cli; print('django' in sys.modules, 'gunicorn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=_env(tmp_path))
    assert out.stdout.split() == ["False", "False"]


def test_a_bad_database_url_is_exit_2_with_one_line(tmp_path: Path) -> None:
    env = _env(tmp_path, DATABASE_URL="mysql://someone@db.example/clinic")
    out = subprocess.run([*CLI, "migrate"], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 2
    assert out.stderr.splitlines() == [
        "alliance: error: DATABASE_URL: only SQLite and PostgreSQL are supported, not django.db.backends.mysql"
    ]


@pytest.mark.slow
def test_serve_answers_the_login_page_over_http(tmp_path: Path) -> None:
    env = _env(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'clinic.sqlite3'}", ALLIANCE_SECURE_COOKIES="false")
    subprocess.run([*CLI, "migrate"], check=True, capture_output=True, env=env, timeout=120)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [*CLI, "serve", "--port", str(port), "--workers", "1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        status = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=2) as response:
                    status = response.status
                break
            except (urllib.error.URLError, OSError):  # refused, reset or timed out while starting
                time.sleep(0.2)
        assert status == 200
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    assert f"http://127.0.0.1:{port}/" in output
