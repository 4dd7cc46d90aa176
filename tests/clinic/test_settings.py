"""Settings come from the environment in one module: a generated secret kept 0600, no default secret, clear errors."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

PROBE = "from alliance.clinic import settings as s; print(s.SECRET_KEY); print(s.DATABASES['default']['ENGINE'])"


def load(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("ALLIANCE_", "DATABASE_URL"))}
    return subprocess.run(
        [sys.executable, "-c", PROBE],
        env=clean | {"ALLIANCE_DATA_DIR": str(tmp_path / "data")} | env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_without_a_secret_one_is_generated_once_in_a_private_file(tmp_path: Path) -> None:
    first = load(tmp_path)
    assert first.returncode == 0, first.stderr
    key_file = tmp_path / "data" / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key, engine = first.stdout.split()
    assert len(key) >= 50 and key == key_file.read_text().strip()
    assert engine == "django.db.backends.sqlite3"  # nothing but (optionally) DATABASE_URL is needed
    assert load(tmp_path).stdout.split()[0] == key  # kept, not regenerated


def test_a_secret_from_the_environment_or_a_file_wins(tmp_path: Path) -> None:
    assert load(tmp_path, ALLIANCE_SECRET_KEY="k" * 40).stdout.split()[0] == "k" * 40
    secret = tmp_path / "secret"
    secret.write_text("f" * 40 + "\n")
    assert load(tmp_path, ALLIANCE_SECRET_KEY_FILE=str(secret)).stdout.split()[0] == "f" * 40
    assert not (tmp_path / "data" / "secret_key").exists()


def test_bad_settings_stop_start_up_with_a_clear_message(tmp_path: Path) -> None:
    short = load(tmp_path, ALLIANCE_SECRET_KEY="short")
    assert short.returncode != 0 and "at least 32 characters" in short.stderr
    missing = load(tmp_path, ALLIANCE_SECRET_KEY_FILE=str(tmp_path / "nope"))
    assert "ALLIANCE_SECRET_KEY_FILE: cannot read" in missing.stderr
    flag = load(tmp_path, ALLIANCE_DEBUG="maybe")
    assert "ALLIANCE_DEBUG must be true or false, not 'maybe'" in flag.stderr
    mysql = load(tmp_path, DATABASE_URL="mysql://root@127.0.0.1/test")
    assert "only SQLite and PostgreSQL are supported" in mysql.stderr


def test_postgresql_comes_from_database_url(tmp_path: Path) -> None:
    result = load(tmp_path, DATABASE_URL="postgresql://postgres@127.0.0.1:5432/test")
    assert result.stdout.split()[1] == "django.db.backends.postgresql"


def test_sqlite_runs_in_wal_mode_with_full_sync(tmp_path: Path) -> None:
    probe = (
        "import django; django.setup(); from django.db import connection; c = connection.cursor(); "
        "print(c.execute('PRAGMA journal_mode').fetchone()[0], c.execute('PRAGMA synchronous').fetchone()[0])"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("ALLIANCE_", "DATABASE_URL"))}
    result = subprocess.run(
        [sys.executable, "-c", probe],
        env=clean | {"ALLIANCE_DATA_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "alliance.clinic.settings"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.split() == ["wal", "2"]  # synchronous=2 is FULL
