"""Benchmark: the therapist caseload page with 200 clients x 40 sessions — time and SQL queries.

Run: ``python bench/caseload.py`` (``make bench``). Builds a temporary SQLite database, fills it with scored check-ins
(bulk inserts, scores from the real scoring code), then renders ``/caseload/`` for a caseload of 10 clients (baseline)
and of 200 clients in the same run, printing the time per render, the ratio, and the number of SQL queries of each —
which must be the same: the page may not issue a query per client.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--sessions", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="alliance-bench-"))
    os.environ["ALLIANCE_DATA_DIR"] = str(workdir)
    os.environ["DATABASE_URL"] = f"sqlite:///{workdir / 'bench.sqlite3'}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "alliance.clinic.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client as HttpClient

    call_command("migrate", verbosity=0)
    small = populate("small", clients=10, sessions=args.sessions)
    large = populate("large", clients=args.clients, sessions=args.sessions)

    results = {}
    for label, therapist in (("baseline: 10 clients", small), (f"{args.clients} clients", large)):
        browser = HttpClient()
        browser.force_login(therapist)
        response = browser.get("/caseload/")
        if response.status_code != 200:
            print(f"/caseload/ answered {response.status_code}", file=sys.stderr)
            return 1
        counted: list[str] = []

        def count(execute, sql, params, many, context, counted=counted):  # type: ignore[no-untyped-def]
            counted.append(sql)
            return execute(sql, params, many, context)

        with connection.execute_wrapper(count):
            browser.get("/caseload/")
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            browser.get("/caseload/")
            times.append(time.perf_counter() - start)
        results[label] = (statistics.median(times), len(counted))

    (base_time, base_queries), (big_time, big_queries) = results.values()
    print(
        f"caseload page, {args.sessions} sessions per client, 3 check-ins per session (SQLite, median of {args.repeat})"
    )
    for label, (seconds, count) in results.items():
        print(f"  {label:<22} {seconds * 1000:8.1f} ms   {count:3d} SQL queries")
    print(f"  time ratio large/baseline: {big_time / base_time:.1f}x for {args.clients / 10:.0f}x the clients")
    print(f"  queries constant: {big_queries == base_queries}")
    return 0 if big_queries == base_queries else 1


def populate(name: str, *, clients: int, sessions: int):  # type: ignore[no-untyped-def]
    """Create a therapist with ``clients`` clients of ``sessions`` attended sessions, each with three check-ins."""
    import numpy as np
    import pandas as pd
    from django.utils import timezone

    from alliance.clinic.accounts.models import User
    from alliance.clinic.checkins.models import CheckIn
    from alliance.clinic.practice.models import Appointment, Client, Episode, Practice
    from alliance.clinic.registry import instruments
    from alliance.instruments import score_frame

    rng = np.random.default_rng(len(name))
    practice = Practice.objects.create(name=f"Bench {name}")
    therapist = User.objects.create_user(username=f"bench-{name}", password="x" * 16, practice=practice)
    start = timezone.now() - dt.timedelta(weeks=sessions + 1)
    registry = instruments()
    client_rows = Client.objects.bulk_create(
        [Client(practice=practice, therapist=therapist, code=f"{name}-{i:04d}") for i in range(clients)]
    )
    episodes = Episode.objects.bulk_create(
        [Episode(client=c, therapist=therapist, opened_on=start.date()) for c in client_rows]
    )
    appointments = Appointment.objects.bulk_create(
        [
            Appointment(
                client=c,
                episode=e,
                therapist=therapist,
                starts_at=start + dt.timedelta(weeks=s),
                session_number=s + 1,
                status=Appointment.Status.ATTENDED,
            )
            for c, e in zip(client_rows, episodes, strict=True)
            for s in range(sessions)
        ]
    )
    checkins = []
    for instrument_id in ("phq9", "gad7", "alliance-client"):
        instrument = registry.get(instrument_id)
        answers = pd.DataFrame(
            {
                item.id: rng.choice(np.asarray(item.values, dtype=float), size=len(appointments))
                for item in instrument.items
            }
        )
        scores = score_frame(instrument, answers)
        for row, appointment in enumerate(appointments):
            checkins.append(
                CheckIn(
                    client_id=appointment.client_id,
                    episode_id=appointment.episode_id,
                    appointment=appointment,
                    instrument=instrument.id,
                    instrument_version=instrument.version,
                    answers={k: (None if np.isnan(v) else float(v)) for k, v in answers.iloc[row].items()},
                    total=None if np.isnan(scores["total"].iat[row]) else float(scores["total"].iat[row]),
                    subscales={},
                    severity=scores["severity"].iat[row] or "",
                    risk=bool(scores["risk"].iat[row]),
                    status=str(scores["status"].iat[row]),
                    source=CheckIn.Source.IMPORT,
                    submitted_at=appointment.starts_at,
                )
            )
    CheckIn.objects.bulk_create(checkins, batch_size=2000)
    return therapist


if __name__ == "__main__":
    raise SystemExit(main())
