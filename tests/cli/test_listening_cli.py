"""``alliance serve`` starts one transcript-analysis worker beside gunicorn unless ``--no-worker``."""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

from alliance.cli import app
from alliance.cli import clinic as clinic_cli
from alliance.clinic.server import ClinicServer

runner = CliRunner()


class FakeProcess:
    started: list[list[str]] = []

    def __init__(self, command: list[str]) -> None:
        FakeProcess.started.append(command)
        self.pid = 4242
        self.terminated = False

    def poll(self) -> int | None:
        return None

    def terminate(self) -> None:
        self.terminated = True

    def wait(self, timeout: float | None = None) -> int:
        return 0


@pytest.mark.parametrize(("flags", "expected"), [([], 1), (["--no-worker"], 0)])
def test_serve_starts_the_worker_unless_told_not_to(
    transactional_db: Any, monkeypatch: pytest.MonkeyPatch, flags: list[str], expected: int
) -> None:
    FakeProcess.started = []
    monkeypatch.setattr(ClinicServer, "run", lambda self: None)
    monkeypatch.setattr(clinic_cli.subprocess, "Popen", FakeProcess)
    result = runner.invoke(app, ["serve", "--port", "8124", *flags])
    assert result.exit_code == 0, result.output
    assert len(FakeProcess.started) == expected
    if expected:
        assert FakeProcess.started[0][-2:] == ["transcripts", "work"]
        assert "transcript-analysis worker started" in result.stdout
