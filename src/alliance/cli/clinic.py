"""``alliance migrate | demo | demo-code | serve | token create | monitor refit``: run the clinic app (Django is
imported only inside them).

Every command reads the database from ``DATABASE_URL`` (default: SQLite in ``$ALLIANCE_DATA_DIR``, ./var).
A bad setting or an unreachable database is one line on stderr and exit code 2.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer

from alliance.cli.app import EXIT_BAD_INPUT, app, user_errors
from alliance.errors import AllianceError

__all__ = [
    "clinic_errors",
    "demo",
    "demo_code",
    "migrate",
    "monitor_refit",
    "serve",
    "token_create",
    "token_list",
    "token_revoke",
]

token = typer.Typer(name="token", help="API tokens for the clinic app.", no_args_is_help=True)
app.add_typer(token, name="token")
monitor = typer.Typer(name="monitor", help="Monitoring jobs of the clinic app (run by a worker).", no_args_is_help=True)
app.add_typer(monitor, name="monitor")


@app.command("migrate")
def migrate() -> None:
    """Create or update the clinic database schema (DATABASE_URL); print a one-line summary."""
    with clinic_errors():
        _setup_django()
        print(_migrate())


@app.command("demo")
def demo(
    seed: int = typer.Option(2026, help="Random seed: the same seed gives the same demo practice."),
    clients: int = typer.Option(20, min=1, max=200, help="Clients per therapist (ana and ben)."),
) -> None:
    """Create the schema if needed and the demo practice (once); print the demo log-ins."""
    with clinic_errors():
        _setup_django()
        _migrate()
        from alliance.clinic.demo import DEMO_PRACTICE, demo_totp_secret, seed_demo

        result = seed_demo(seed=seed, clients_per_therapist=clients)
        from alliance.clinic.listening.demo import attach_demo_transcript

        transcript = attach_demo_transcript(result.practice)
    state = "created" if result.created else "already there, nothing added"
    print(
        f"demo practice {DEMO_PRACTICE!r} ({state}): {result.clients} clients, {result.checkins} check-ins, "
        f"{result.open_alerts} open alerts"
    )
    if transcript.transcript is not None:
        stored = transcript.transcript
        print(
            f"demo transcript: session {stored.appointment.session_number} of client {stored.client.code} (ana), "
            f"analysis {transcript.state}" + (f" ({transcript.note})" if transcript.note else "")
        )
    print("log in at /login/ with (demo passwords, for this demo practice only):")
    width = max(len(login.username) for login in result.logins)
    for login in result.logins:
        print(f"  {login.username:<{width}}  {login.role:<10}  {login.password}")
    print("then the code of an authenticator app set up with the user's key (demo keys), or `alliance demo-code USER`:")
    for login in result.logins:
        print(f"  {login.username:<{width}}  key {demo_totp_secret(login.username)}")


@app.command("demo-code")
def demo_code(username: str = typer.Argument(..., help="A demo user (ana, ben, cleo, dara).")) -> None:
    """Print the current sign-in code of a demo user (demo practice only; real users have their own app)."""
    with clinic_errors():
        _setup_django()
        import time

        from alliance.clinic.accounts.mfa import secret_of
        from alliance.clinic.accounts.models import TotpDevice
        from alliance.clinic.accounts.totp import decode_secret, totp
        from alliance.clinic.demo import DEMO_PRACTICE, demo_totp_secret

        secret = demo_totp_secret(username)
        device = TotpDevice.objects.filter(
            user__username=username, user__practice__name=DEMO_PRACTICE, confirmed_at__isnull=False
        ).first()
        if device is None or secret_of(device) != secret:
            raise AllianceError(f"{username!r} is not a demo user with the demo authenticator key")
        now = time.time()
        left = 30 - int(now) % 30
    print(f"{totp(decode_secret(secret), now)}  (valid for {left} more seconds, and the 30 seconds either side)")


@app.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, min=1, max=65535, help="Port to listen on."),
    workers: int = typer.Option(0, min=0, max=64, help="Worker processes (0: two to four, by CPU count)."),
    analysis_worker: bool = typer.Option(
        True, "--worker/--no-worker", help="Also run one transcript-analysis worker (`alliance transcripts work`)."
    ),
) -> None:
    """Serve the clinic app with gunicorn (production server; static files by WhiteNoise)."""
    with clinic_errors():
        _setup_django()
        from django.db import connection

        from alliance.clinic.server import ClinicServer, ensure_free

        connection.ensure_connection()  # fail here, with one line, rather than in every worker
        connection.close()
        try:
            ensure_free(host, port)
        except OSError as exc:
            raise AllianceError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        server = ClinicServer(host=host, port=port, workers=workers or None)
    shown = f"[{host}]" if ":" in host else host
    print(f"alliance: serving http://{shown}:{port}/ with {server.cfg.workers} workers (Ctrl-C stops)", flush=True)
    analyser = None
    if analysis_worker:
        # A process of its own beside gunicorn: it loads the labeller once and polls the analysis queue.
        analyser = subprocess.Popen(
            [sys.executable, "-c", "from alliance.cli import main; main()", "transcripts", "work"]
        )
        print(
            f"alliance: transcript-analysis worker started (pid {analyser.pid}; --no-worker to leave it out)",
            flush=True,
        )
    try:
        server.run()
    finally:
        if analyser is not None and analyser.poll() is None:
            analyser.terminate()
            try:
                analyser.wait(timeout=30)
            except subprocess.TimeoutExpired:
                analyser.kill()


@token.command("create")
def token_create(
    username: str = typer.Argument(..., help="The staff user the token acts as."),
    name: str = typer.Option("", help="A label for the token (e.g. the system that uses it)."),
) -> None:
    """Create an API token for USERNAME and print it (shown once; only its hash is stored)."""
    with clinic_errors():
        _setup_django()
        from alliance.clinic.accounts.models import ApiToken, User

        user = User.objects.filter(username=username).first()
        if user is None:
            raise AllianceError(f"no user named {username!r}")
        if not user.is_active:
            raise AllianceError(f"user {username!r} is not active")
        _, secret = ApiToken.issue(user, name=name)
    print(f"token for {username}: {secret}")


@token.command("list")
def token_list(
    username: str = typer.Argument("", help="Only this user's tokens (default: everyone's)."),
) -> None:
    """List API tokens as CSV: id, user, name, created, last used, revoked (never the secret)."""
    with clinic_errors():
        _setup_django()
        from alliance.clinic.accounts.models import ApiToken

        tokens = ApiToken.objects.select_related("user").order_by("pk")
        if username:
            tokens = tokens.filter(user__username=username)
        rows = [
            [
                str(t.pk),
                t.user.get_username(),
                t.name,
                _iso(t.created_at),
                _iso(t.last_used_at),
                _iso(t.revoked_at),
            ]
            for t in tokens
        ]
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(["id", "user", "name", "created_at", "last_used_at", "revoked_at"])
    writer.writerows(rows)


@token.command("revoke")
def token_revoke(token_id: int = typer.Argument(..., help="The token's id (see `alliance token list`).")) -> None:
    """Revoke an API token at once: requests with it get 401 from then on."""
    with clinic_errors():
        _setup_django()
        from django.utils import timezone

        from alliance.clinic.accounts.models import ApiToken

        found = ApiToken.objects.select_related("user").filter(pk=token_id).first()
        if found is None:
            raise AllianceError(f"no token with id {token_id}")
        if found.revoked_at is None:
            ApiToken.objects.filter(pk=found.pk).update(revoked_at=timezone.now())
    print(f"revoked token {token_id} of {found.user.get_username()}")


@monitor.command("refit")
def monitor_refit(
    practice: int | None = typer.Option(
        None, "--practice", min=1, help="Only this practice (its id); default: every practice."
    ),
) -> None:
    """Refit each practice's expected-response model (PHQ-9) from its own history; print one CSV row per practice."""
    with clinic_errors():
        _setup_django()
        from alliance.clinic.alerts.etr import refit_all

        results = refit_all(practice)
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(
        ["practice_id", "practice", "instrument", "kind", "clients", "observations", "sessions", "fitted_at"]
    )
    for result in results:
        fit = result.fit
        if fit is None:
            writer.writerow([result.practice_id, result.practice, result.instrument, "none", "", "", "", ""])
            sys.stderr.write(f"alliance: practice {result.practice_id}: not fitted: {result.skipped}\n")
            continue
        writer.writerow(
            [
                result.practice_id,
                result.practice,
                result.instrument,
                fit.kind,
                fit.clients,
                fit.observations,
                fit.sessions,
                _iso(fit.fitted_at),
            ]
        )


@contextmanager
def clinic_errors() -> Iterator[None]:
    """Like ``user_errors``, and also turn bad settings and database failures into one line and exit code 2."""
    with user_errors():
        try:
            yield
        except (typer.Exit, AllianceError):
            raise
        except Exception as exc:
            if not _is_setup_error(exc):
                raise
            sys.stderr.write(f"alliance: error: {_one_line(exc)}\n")
            raise typer.Exit(EXIT_BAD_INPUT) from None


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "alliance.clinic.settings")
    import django

    django.setup()


def _migrate() -> str:
    from django.core.management import call_command
    from django.db import connection
    from django.db.migrations.recorder import MigrationRecorder

    before = len(MigrationRecorder(connection).applied_migrations())
    call_command("migrate", interactive=False, verbosity=0)
    after = len(MigrationRecorder(connection).applied_migrations())
    return f"database {_describe(connection.settings_dict)}: {after - before} migrations applied, {after} in all"


def _describe(database: dict[str, Any]) -> str:
    """Name the database without its password."""
    if database["ENGINE"].endswith("sqlite3"):
        return f"sqlite {database['NAME']}"
    host = database.get("HOST") or "localhost"
    port = f":{database['PORT']}" if database.get("PORT") else ""
    return f"postgresql {database['NAME']} on {host}{port}"


def _is_setup_error(exc: Exception) -> bool:
    from django.core.exceptions import ImproperlyConfigured
    from django.db import Error as DatabaseError

    return isinstance(exc, ImproperlyConfigured | DatabaseError)


def _iso(moment: Any) -> str:
    return "" if moment is None else str(moment.isoformat())


def _one_line(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__
