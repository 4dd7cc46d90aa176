"""``alliance keys generate | rotate``."""

from __future__ import annotations

from typing import Any

from cryptography.fernet import Fernet
from typer.testing import CliRunner

from alliance.cli import app
from alliance.clinic.crypto import generate_key

runner = CliRunner()


def test_generate_prints_a_fernet_key() -> None:
    result = runner.invoke(app, ["keys", "generate"])
    assert result.exit_code == 0
    key = result.stdout.strip()
    assert Fernet(key.encode()).decrypt(Fernet(key.encode()).encrypt(b"x")) == b"x"


def test_rotate_prints_counts_per_model(db: Any, settings: Any) -> None:
    settings.ALLIANCE_ENCRYPTION_KEYS = [generate_key()]
    result = runner.invoke(app, ["keys", "rotate"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "model,rows,values" and "listening.SessionTranscript,0,0" in lines
