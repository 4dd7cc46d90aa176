"""Probes: /livez answers without the database, /readyz only when the database answers."""

from __future__ import annotations

from typing import Any

from django.test import Client


def test_livez_and_readyz(db: Any, client: Client) -> None:
    assert client.get("/livez").content == b"ok\n"
    assert client.get("/readyz").status_code == 200
    assert client.post("/livez").status_code == 405
