"""Nothing lost: check-ins submitted from several processes while the server is SIGKILLed at random moments.

The real server (``alliance serve``: gunicorn, its own database) runs as a subprocess in its own process group.
Client processes submit check-ins through the API, each with its own Idempotency-Key, and retry on connection
errors and 5xx with the SAME key. A killer SIGKILLs the whole process group 1–3 s after each start (once it
answers) and restarts it. Afterwards every check-in acknowledged with 2xx must be stored exactly once, with the
id the server answered, and the hash-chained audit log must verify. Runs on the database the suite runs on:
SQLite (WAL, synchronous=FULL) or PostgreSQL (a scratch database on the same server). Prints the figures quoted
in docs/security.md.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

CLI = [sys.executable, "-c", "from alliance.cli import main; main()"]
PROCESSES = 8
PER_PROCESS = 130  # 1,040 check-ins in all
CLIENTS = 20
GIVE_UP_AFTER = 1500.0  # seconds: a check-in still unacknowledged then counts as not acknowledged (fails the test)

SETUP = """
import json, django
django.setup()
from django.utils import timezone
from alliance.clinic.accounts.models import ApiToken, User
from alliance.clinic.practice.models import Client, Episode, Practice
practice = Practice.objects.create(name="Nothing lost")
user = User.objects.create_user(username="submitter", password=None, practice=practice, role="therapist")
clients = Client.objects.bulk_create(
    [Client(practice=practice, therapist=user, code=f"NL{i:03d}") for i in range(CLIENTS)]
)
Episode.objects.bulk_create([Episode(client=c, therapist=user, opened_on=timezone.localdate()) for c in clients])
print(json.dumps({"user": user.pk, "clients": [c.pk for c in clients], "token": ApiToken.issue(user)[1]}))
"""

SUBMITTER = """
import http.client, json, sys, time
port, token, worker, count = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
give_up, clients = float(sys.argv[5]), json.loads(sys.argv[6])
deadline = time.monotonic() + give_up
for number in range(count):
    key = f"w{worker}-{number}"
    answers = {f"gad7_{item}": (number + item) % 4 for item in range(1, 8)}
    body = json.dumps({"instrument": "gad7", "answers": answers})
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json", "Idempotency-Key": key}
    client = clients[(worker * count + number) % len(clients)]
    tries = 0
    while True:
        tries += 1
        if time.monotonic() > deadline:
            print(json.dumps({"key": key, "status": None, "tries": tries}), flush=True)
            break
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
            connection.request("POST", f"/api/v1/clients/{client}/checkins", body, headers)
            response = connection.getresponse()
            data = response.read()
            connection.close()
        except (OSError, http.client.HTTPException):
            time.sleep(0.2)
            continue
        if response.status >= 500:
            time.sleep(0.2)
            continue
        found = json.loads(data) if response.status in (200, 201) else {}
        replayed = response.getheader("Idempotent-Replayed") == "true"
        print(json.dumps({"key": key, "status": response.status, "id": found.get("id"), "replayed": replayed,
                          "tries": tries}), flush=True)
        break
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/livez", timeout=1) as answer:
            return bool(answer.status == 200)
    except (OSError, urllib.error.URLError):
        return False


@pytest.fixture
def database(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Yield (engine, DATABASE_URL) of a fresh database of the kind the suite runs on."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        yield "sqlite", f"sqlite:///{tmp_path / 'nothing-lost.sqlite3'}"
        return
    import psycopg

    name = f"alliance_nothing_lost_{os.getpid()}"
    server = url.rsplit("/", 1)[0]
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield "postgresql", f"{server}/{name}"
    finally:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def stored_checkins(engine: str, url: str) -> list[tuple[int, str | None]]:
    query = "SELECT id, idempotency_key FROM checkins_checkin"
    if engine == "sqlite":
        with sqlite3.connect(url.removeprefix("sqlite:///")) as con:
            return [(int(pk), key) for pk, key in con.execute(query)]
    import psycopg

    with psycopg.connect(url) as con:
        return [(int(pk), key) for pk, key in con.execute(query).fetchall()]


def audited_creates(engine: str, url: str) -> int:
    query = "SELECT COUNT(*) FROM audit_auditevent WHERE action = 'create' AND object_type = 'CheckIn'"
    if engine == "sqlite":
        with sqlite3.connect(url.removeprefix("sqlite:///")) as con:
            return int(con.execute(query).fetchone()[0])
    import psycopg

    with psycopg.connect(url) as con:
        row = con.execute(query).fetchone()
        return int(row[0]) if row else 0


def test_every_acknowledged_checkin_survives_sigkill_exactly_once(
    database: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    engine, url = database
    env = dict(
        os.environ,
        DATABASE_URL=url,
        ALLIANCE_DATA_DIR=str(tmp_path),
        DJANGO_SETTINGS_MODULE="alliance.clinic.settings",
        ALLIANCE_SECURE_COOKIES="false",
    )
    subprocess.run([*CLI, "migrate"], env=env, check=True, capture_output=True)
    script = SETUP.replace("CLIENTS", str(CLIENTS))
    made = subprocess.run([sys.executable, "-c", script], env=env, check=True, capture_output=True, text=True)
    setup: dict[str, Any] = json.loads(made.stdout.strip().splitlines()[-1])
    port = free_port()
    log = (tmp_path / "server.log").open("ab")

    def start() -> subprocess.Popen[bytes]:
        serve = [*CLI, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"]
        return subprocess.Popen(serve, env=env, stdout=log, stderr=log, start_new_session=True)

    rng = random.Random(7)
    began = time.monotonic()
    server = start()
    submitters = [
        subprocess.Popen(
            [
                *[sys.executable, "-c", SUBMITTER, str(port), setup["token"], str(worker), str(PER_PROCESS)],
                *[str(GIVE_UP_AFTER), json.dumps(setup["clients"])],
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        for worker in range(PROCESSES)
    ]
    kills = 0
    startups: list[float] = []
    mid_run = tmp_path / "mid-run.backup"
    backed_up: subprocess.CompletedProcess[bytes] | None = None
    try:
        while any(process.poll() is None for process in submitters):
            started = time.monotonic()
            while not ready(port) and time.monotonic() - started < 30:
                if all(process.poll() is not None for process in submitters):
                    break
                time.sleep(0.05)
            startups.append(time.monotonic() - started)
            if kills == 3:  # an online backup while the submitters keep writing
                backed_up = subprocess.run([*CLI, "backup", "--out", str(mid_run)], env=env, capture_output=True)
            # The first kills come quickly, so that a slow or loaded machine (long restarts, submitters that finish
            # sooner relative to them) still sees enough of them; later ones leave the server up longer.
            time.sleep(rng.uniform(0.5, 1.0) if kills < 6 else rng.uniform(1.0, 3.0))
            if all(process.poll() is not None for process in submitters):
                break
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
            kills += 1
            server = start()
    finally:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
        log.close()
    wall = time.monotonic() - began

    results = [json.loads(line) for process in submitters for line in (process.communicate()[0] or "").splitlines()]
    assert len(results) == PROCESSES * PER_PROCESS
    acknowledged = [r for r in results if r["status"] in (200, 201)]
    refused = [r for r in results if r["status"] not in (200, 201)]
    stored = stored_checkins(engine, url)
    per_key = Counter(key for _, key in stored)
    ids_by_key = {key: pk for pk, key in stored}
    prefix = f"api:{setup['user']}:"
    lost = [r for r in acknowledged if per_key[prefix + r["key"]] == 0 or ids_by_key[prefix + r["key"]] != r["id"]]
    duplicated = sum(n - 1 for n in per_key.values() if n > 1) + max(0, len(stored) - len(per_key))
    retried = sum(r["tries"] - 1 for r in results)
    replayed = sum(1 for r in acknowledged if r["replayed"])
    audit = subprocess.run([*CLI, "audit", "verify"], env=env, capture_output=True, text=True)

    with capsys.disabled():
        print(
            f"\nnothing lost ({engine}): {len(results)} submitted by {PROCESSES} processes, {len(acknowledged)} "
            f"acknowledged, {len(stored)} stored, {len(lost)} lost, {duplicated} duplicated; {kills} SIGKILLs, "
            f"{retried} retries, {replayed} answered as replays; audit chain: {audit.stdout.strip()}; {wall:.1f} s "
            f"(server start to ready: median {sorted(startups)[len(startups) // 2]:.1f} s)"
        )
    assert not refused, refused[:3]
    assert len(acknowledged) == PROCESSES * PER_PROCESS
    assert lost == [] and duplicated == 0
    assert len(stored) == len(acknowledged)  # nothing stored that was not (eventually) acknowledged either
    assert kills >= 5, "the server was not killed often enough for the test to mean anything"
    assert audit.returncode == 0, audit.stderr
    assert audited_creates(engine, url) == len(stored)  # each check-in and its audit record commit together
    assert backed_up is not None and backed_up.returncode == 0, backed_up and backed_up.stderr
    if engine == "sqlite":  # the online backup taken under load is a consistent database with an intact chain
        copy = tmp_path / "mid-run-copy.sqlite3"
        copy.write_bytes(mid_run.read_bytes())
        check = subprocess.run(
            [*CLI, "audit", "verify"], env=env | {"DATABASE_URL": f"sqlite:///{copy}"}, capture_output=True, text=True
        )
        assert check.returncode == 0, check.stderr
        backup_rows = stored_checkins(engine, f"sqlite:///{copy}")
        assert 0 < len(backup_rows) < len(stored) and set(backup_rows) <= set(stored)
        with capsys.disabled():
            print(f"online backup during the run: {len(backup_rows)} check-ins, {check.stdout.strip()}")
