"""Benchmark: check-in submission under 50 concurrent clients, against a bare Django view on the same server.

Run: ``python bench/checkin.py`` (``make bench``). Starts ``alliance serve`` (gunicorn) on a temporary SQLite database
(or ``--database-url``), then 50 client threads each submit check-ins through ``POST /api/v1/clients/{id}/checkins``
(validation, scoring, one transaction, audit) and, in the same run, call the bare liveness view ``GET /livez``. Prints
p50/p99 latency of each, the ratios, throughput, and checks that every acknowledged check-in is stored exactly once.
Client threads and server share the machine's cores, so absolute figures are conservative.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

GAD7 = {f"gad7_{i}": 1 for i in range(1, 8)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients")
    parser.add_argument("--requests", type=int, default=20, help="requests per client and endpoint")
    parser.add_argument("--workers", type=int, default=0, help="server worker processes (default: alliance serve's)")
    parser.add_argument("--database-url", default="", help="default: a temporary SQLite file")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="alliance-bench-"))
    env = dict(os.environ, ALLIANCE_DATA_DIR=str(workdir), DJANGO_SETTINGS_MODULE="alliance.clinic.settings")
    env["DATABASE_URL"] = args.database_url or f"sqlite:///{workdir / 'bench.sqlite3'}"
    os.environ.update(env)
    cli = [sys.executable, "-c", "from alliance.cli import main; main()"]
    subprocess.run([*cli, "migrate"], env=env, check=True, stdout=subprocess.DEVNULL)
    client_ids, token = prepare(args.clients)

    port = free_port()
    serve = [*cli, "serve", "--host", "127.0.0.1", "--port", str(port)]
    if args.workers:
        serve += ["--workers", str(args.workers)]
    server = subprocess.Popen(serve, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_ready(port)
        checkin = run_load(port, token, client_ids, args.requests, submit=True)
        bare = run_load(port, token, client_ids, args.requests, submit=False)
    finally:
        server.terminate()
        server.wait(timeout=30)

    stored = count_stored()
    acknowledged = sum(1 for status, _ in checkin if status in (200, 201))
    report("POST check-in (API)", checkin)
    report("GET /livez (bare view)", bare)
    p50 = ratio(checkin, bare, 50)
    p99 = ratio(checkin, bare, 99)
    print(f"ratio check-in / bare view: p50 {p50:.1f}x, p99 {p99:.1f}x  ({args.clients} concurrent clients)")
    print(f"acknowledged {acknowledged}, stored {stored}, lost {max(acknowledged - stored, 0)}")
    return 0 if stored == acknowledged else 1


def prepare(clients: int) -> tuple[list[int], str]:
    """Create a practice, a therapist with ``clients`` clients (each with an open episode) and an API token."""
    import django

    django.setup()
    from django.utils import timezone

    from alliance.clinic.accounts.models import ApiToken, User
    from alliance.clinic.practice.models import Client, Episode, Practice

    practice = Practice.objects.create(name="Bench")
    therapist = User.objects.create_user(username="bench", password="x" * 16, practice=practice)
    rows = Client.objects.bulk_create(
        [Client(practice=practice, therapist=therapist, code=f"B{i:04d}") for i in range(clients)]
    )
    Episode.objects.bulk_create([Episode(client=c, therapist=therapist, opened_on=timezone.localdate()) for c in rows])
    return [c.pk for c in rows], ApiToken.issue(therapist, name="bench")[1]


def run_load(port: int, token: str, client_ids: list[int], requests: int, *, submit: bool) -> list[tuple[int, float]]:
    """Run one thread per client, each sending ``requests`` requests on a kept-alive connection."""
    results: list[tuple[int, float]] = []
    lock = threading.Lock()
    start_together = threading.Barrier(len(client_ids))

    def worker(client_id: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine: list[tuple[int, float]] = []
        start_together.wait()
        for _ in range(requests):
            started = time.perf_counter()
            if submit:
                body = json.dumps({"instrument": "gad7", "answers": GAD7})
                headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
                connection.request("POST", f"/api/v1/clients/{client_id}/checkins", body, headers)
            else:
                connection.request("GET", "/livez")
            response = connection.getresponse()
            response.read()
            mine.append((response.status, time.perf_counter() - started))
        connection.close()
        with lock:
            results.extend(mine)

    threads = [threading.Thread(target=worker, args=(cid,)) for cid in client_ids]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    results.append((0, elapsed))  # the last entry carries the wall time of the run
    return results


def report(label: str, results: list[tuple[int, float]]) -> None:
    *requests, (_, wall) = results
    latencies = sorted(seconds for _, seconds in requests)
    errors = sum(1 for status, _ in requests if status >= 400)
    print(
        f"{label:<26} n={len(requests):5d}  p50 {percentile(latencies, 50) * 1000:7.1f} ms  "
        f"p99 {percentile(latencies, 99) * 1000:7.1f} ms  {len(requests) / wall:7.0f} req/s  errors {errors}"
    )


def ratio(a: list[tuple[int, float]], b: list[tuple[int, float]], q: float) -> float:
    left = sorted(seconds for _, seconds in a[:-1])
    right = sorted(seconds for _, seconds in b[:-1])
    return percentile(left, q) / percentile(right, q)


def percentile(values: list[float], q: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if q < 100 else values[-1]


def count_stored() -> int:
    from alliance.clinic.checkins.models import CheckIn

    return CheckIn.objects.count()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_ready(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/readyz")
            if connection.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the server did not become ready")


if __name__ == "__main__":
    raise SystemExit(main())
