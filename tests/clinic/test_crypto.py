"""Encryption at rest: round trip, rotation, a missing key, and a known phrase absent from the raw database."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from clinic_factories import TOTP_SECRET, give_authenticator
from cryptography.fernet import Fernet
from django.db import connection
from listening_support import TINY, TINY_PHRASE

from alliance.clinic.accounts.models import TotpDevice
from alliance.clinic.alerts.models import Alert
from alliance.clinic.crypto import DecryptionError, decrypt, encrypt, generate_key, rotate
from alliance.clinic.listening.models import SessionTranscript
from alliance.clinic.listening.service import attach
from alliance.clinic.practice.models import ClientIdentity, Practice

OLD, NEW = generate_key(), generate_key()
CLIENT_NAME = "Zelda Rawsearch-Example"
NOTE = "Phoned Zelda at home about the safety plan"


def test_a_value_round_trips_and_each_token_differs(settings: Any) -> None:
    settings.ALLIANCE_ENCRYPTION_KEYS = [NEW]
    first, second = encrypt("Ich fühle mich gehört — 🙂"), encrypt("Ich fühle mich gehört — 🙂")
    assert first != second and "gehört" not in first
    assert decrypt(first) == decrypt(second) == "Ich fühle mich gehört — 🙂"
    assert Fernet(NEW.encode()).decrypt(first.encode()).decode() == "Ich fühle mich gehört — 🙂"  # plain Fernet


def test_a_missing_key_is_a_clear_error_without_the_value(settings: Any) -> None:
    settings.ALLIANCE_ENCRYPTION_KEYS = [OLD]
    token = encrypt("secret words")
    settings.ALLIANCE_ENCRYPTION_KEYS = [NEW]
    with pytest.raises(DecryptionError, match="ALLIANCE_ENCRYPTION_KEYS") as caught:
        decrypt(token)
    assert "secret" not in str(caught.value)
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    settings.ALLIANCE_ENCRYPTION_KEYS = [OLD]
    with pytest.raises(DecryptionError, match="altered"):
        decrypt(tampered)


@pytest.fixture
def stored(settings: Any, make_client: Any, ana: Any) -> SessionTranscript:
    settings.ALLIANCE_ENCRYPTION_KEYS = [OLD]
    client = make_client(ana, code="C-CRYPT", sessions=[{}])
    return attach(client.appointments.get(), TINY, by=ana, file_name="tiny.txt")


def test_rotation_re_encrypts_everything_and_the_old_key_can_then_go(settings: Any, stored: SessionTranscript) -> None:
    settings.ALLIANCE_ENCRYPTION_KEYS = [NEW, OLD]  # new key first, old one still there to read
    results = {r.model: r for r in rotate(batch_size=1)}
    assert results["listening.SessionTranscript"].rows == 1
    assert results["listening.SessionTranscript"].values == 2  # text and utterances
    settings.ALLIANCE_ENCRYPTION_KEYS = [NEW]  # old key removed
    again = SessionTranscript.objects.get(pk=stored.pk)
    assert again.text == TINY and len(again.transcript()) == 6
    settings.ALLIANCE_ENCRYPTION_KEYS = [OLD]
    with pytest.raises(DecryptionError):
        SessionTranscript.objects.get(pk=stored.pk)


def test_rotation_without_the_old_key_stops_with_a_clear_error(settings: Any, stored: SessionTranscript) -> None:
    settings.ALLIANCE_ENCRYPTION_KEYS = [NEW]
    with pytest.raises(DecryptionError, match=r"SessionTranscript\.text: no configured key"):
        rotate()


@pytest.mark.django_db(transaction=True)
def test_a_known_phrase_is_not_in_the_raw_database(settings: Any, make_client: Any, ana: Any, tmp_path: Path) -> None:
    settings.ALLIANCE_ENCRYPTION_KEYS = [NEW]
    client = make_client(ana, code="C-RAW", sessions=[{}])
    attach(client.appointments.get(), TINY, by=ana, file_name="tiny.txt")
    # Control: the same phrase in a plain column is found by the same search, so the search itself works.
    Practice.objects.filter(pk=client.practice_id).update(name=f"control {TINY_PHRASE}")
    # A known client's identity, a note about an alert and an authenticator key: all encrypted too.
    ClientIdentity.objects.create(
        client=client, name=CLIENT_NAME, email="zelda.rawsearch@example.org", date_of_birth=dt.date(1987, 6, 5)
    )
    alert = Alert.objects.create(client=client, kind=Alert.Kind.RISK, message="m", dedup_key="raw:1")
    Alert.objects.filter(pk=alert.pk).update(action_taken=NOTE)
    give_authenticator(ana, secret=TOTP_SECRET)
    table = SessionTranscript._meta.db_table
    if connection.vendor == "sqlite":
        copy = tmp_path / "copy.sqlite3"
        with connection.cursor() as cursor:
            cursor.execute("VACUUM INTO %s", [str(copy)])
        raw = copy.read_bytes()
        name = Path(str(connection.settings_dict["NAME"]))
        if name.is_file():  # a file database (ALLIANCE_TEST_DATABASE): its own bytes and write-ahead log too
            raw += name.read_bytes() + (Path(f"{name}-wal").read_bytes() if Path(f"{name}-wal").exists() else b"")
        assert raw.count(TINY_PHRASE.encode()) == 1  # the control only
        assert b"smoking" not in raw
        for secret in (CLIENT_NAME, "zelda.rawsearch", "1987-06-05", NOTE, TOTP_SECRET):
            assert secret.encode() not in raw, secret
    else:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {table} t WHERE t::text LIKE %s", [f"%{TINY_PHRASE}%"])
            assert cursor.fetchone()[0] == 0
            cursor.execute(f"SELECT count(*) FROM {table} t WHERE t::text LIKE %s", ["%smoking%"])
            assert cursor.fetchone()[0] == 0
            cursor.execute(
                f"SELECT count(*) FROM {Practice._meta.db_table} t WHERE t::text LIKE %s", [f"%{TINY_PHRASE}%"]
            )
            assert cursor.fetchone()[0] == 1  # control
            for model, secret in (
                (ClientIdentity, CLIENT_NAME),
                (ClientIdentity, "1987-06-05"),
                (Alert, NOTE),
                (TotpDevice, TOTP_SECRET),
            ):
                cursor.execute(f"SELECT count(*) FROM {model._meta.db_table} t WHERE t::text LIKE %s", [f"%{secret}%"])
                assert cursor.fetchone()[0] == 0, secret


PROBE = "from alliance.clinic import settings as s; print(','.join(s.ALLIANCE_ENCRYPTION_KEYS))"


def load(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("ALLIANCE_", "DATABASE_URL"))}
    return subprocess.run(
        [sys.executable, "-c", PROBE],
        env=clean | {"ALLIANCE_DATA_DIR": str(tmp_path / "data"), "ALLIANCE_SECRET_KEY": "s" * 40} | env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_keys_are_generated_once_into_a_private_file_or_taken_from_the_environment(tmp_path: Path) -> None:
    first = load(tmp_path)
    assert first.returncode == 0, first.stderr
    key_file = tmp_path / "data" / "encryption_keys"
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert first.stdout.strip() == key_file.read_text().strip() and load(tmp_path).stdout == first.stdout
    assert load(tmp_path, ALLIANCE_ENCRYPTION_KEYS=f"{NEW}, {OLD}").stdout.strip() == f"{NEW},{OLD}"


def test_a_bad_key_stops_start_up_with_a_clear_message(tmp_path: Path) -> None:
    bad = load(tmp_path, ALLIANCE_ENCRYPTION_KEYS=f"{NEW},not-a-key")
    assert bad.returncode != 0
    assert "ALLIANCE_ENCRYPTION_KEYS: key 2 is not url-safe base64" in bad.stderr or "key 2 decodes to" in bad.stderr
    assert "alliance keys generate" in bad.stderr
