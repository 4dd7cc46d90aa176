"""The data migrations encrypt what an existing database holds in plaintext (client identity, alert notes), and
undo it when migrated back."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from alliance.clinic.alerts.models import Alert
from alliance.clinic.practice.models import ClientIdentity

BEFORE = [("practice", "0002_client_erased_at"), ("alerts", "0003_one_key_scheme")]
AFTER = [("practice", "0003_encrypt_identity"), ("alerts", "0004_encrypt_action_taken")]


def migrate(targets: list[tuple[str, str]]) -> Any:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def raw(table: str, column: str) -> list[Any]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {connection.ops.quote_name(column)} FROM {connection.ops.quote_name(table)}")
        return [row[0] for row in cursor.fetchall()]


@pytest.mark.django_db(transaction=True)
def test_existing_plaintext_is_encrypted_in_place_and_back(ana: Any, make_client: Any) -> None:
    client = make_client(ana, code="C-MIGRATE")
    try:
        old = migrate(BEFORE)
        OldIdentity = old.get_model("practice", "ClientIdentity")  # noqa: N806
        OldAlert = old.get_model("alerts", "Alert")  # noqa: N806
        OldIdentity.objects.create(
            client_id=client.pk, name="Olga Plaintext", email="olga@example.org", date_of_birth=dt.date(1990, 1, 2)
        )
        OldAlert.objects.create(
            client_id=client.pk, kind="risk", message="m", dedup_key="migrate:1", action_taken="Called Olga"
        )
        assert raw("practice_clientidentity", "name") == ["Olga Plaintext"]

        migrate(AFTER)

        stored = raw("practice_clientidentity", "name")[0]
        assert "Olga" not in stored and stored.startswith("gAAAA")  # a Fernet token
        assert "Called" not in raw("alerts_alert", "action_taken")[0]
        identity = ClientIdentity.objects.get(client=client)
        assert (identity.name, identity.email, identity.phone) == ("Olga Plaintext", "olga@example.org", "")
        assert identity.date_of_birth == dt.date(1990, 1, 2)
        assert Alert.objects.get(client=client).action_taken == "Called Olga"

        migrate(BEFORE)  # and back: plaintext again
        assert raw("practice_clientidentity", "name") == ["Olga Plaintext"]
        assert raw("alerts_alert", "action_taken") == ["Called Olga"]
    finally:
        migrate(AFTER)
