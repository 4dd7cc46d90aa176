"""Client rights: a copy of the client's data as a FHIR R4B Bundle, and erasure of what identifies them (then a
search of every table of the database for anything identifying that was there before)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from clinic_factories import alliance, gad7, phq9
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test import Client as WebClient
from django.urls import reverse
from fhir.resources.R4B.bundle import Bundle
from listening_support import TINY, TINY_PHRASE

from alliance.clinic.accounts.models import ApiToken, User
from alliance.clinic.alerts.models import Alert
from alliance.clinic.audit.models import AuditEvent
from alliance.clinic.checkins.links import issue_link
from alliance.clinic.checkins.models import CheckIn, CheckinLink
from alliance.clinic.crypto import encrypted_fields
from alliance.clinic.listening.models import SessionTranscript
from alliance.clinic.listening.service import attach
from alliance.clinic.practice.models import Client, ClientIdentity
from alliance.clinic.rights import ERASED_PREFIX, export_bundle

NAME = "Zelda Quillfeather-Example"
EMAIL = "zelda.quillfeather@example.org"
PHONE = "07700 900123"
NOTE = "Rang Zelda at home about the safety plan"


@pytest.fixture
def zelda(ana: User, make_client: Any) -> Client:
    client: Client = make_client(
        ana,
        code="C-ZELDA1",
        sessions=[
            {"phq9": phq9(2), "gad7": gad7(2), "alliance-client": alliance(9)},
            {"phq9": phq9(2, item9=1), "gad7": gad7(1), "alliance-client": alliance(8)},
        ],
    )
    ClientIdentity.objects.create(client=client, name=NAME, email=EMAIL, phone=PHONE, date_of_birth=dt.date(1987, 6, 5))
    Alert.objects.filter(client=client).update(state=Alert.State.ACTED, action_taken=NOTE)
    latest = client.appointments.order_by("-starts_at").first()
    issue_link(latest, by=ana)  # an unused link
    attach(latest, TINY, by=ana, file_name="session.txt")  # a transcript
    return client


def as_user(user: User) -> WebClient:
    web = WebClient()
    web.force_login(user)
    return web


# --- export ----------------------------------------------------------------------------------------------------


def test_the_treating_therapist_downloads_the_clients_data_as_fhir(ana: User, zelda: Client) -> None:
    response = as_user(ana).get(reverse("client-export", args=[zelda.pk]))

    assert response.status_code == 200 and response["Content-Type"] == "application/fhir+json"
    assert response["Content-Disposition"] == 'attachment; filename="C-ZELDA1-fhir.json"'
    bundle = json.loads(response.content)
    Bundle.parse_obj(bundle)
    kinds = [entry["resource"]["resourceType"] for entry in bundle["entry"]]
    checkins = CheckIn.objects.filter(client=zelda).count()
    assert checkins == 6
    assert kinds == ["Patient"] + ["QuestionnaireResponse", "Observation"] * checkins
    patient = bundle["entry"][0]
    assert patient["resource"]["identifier"] == [{"system": "urn:alliance:client-code", "value": "C-ZELDA1"}]
    assert set(patient["resource"]) == {"resourceType", "id", "identifier", "active", "communication"}
    for entry in bundle["entry"][1:]:
        assert entry["resource"]["subject"] == {"reference": patient["fullUrl"]}
    totals = sorted(
        e["resource"]["valueQuantity"]["value"] for e in bundle["entry"] if "valueQuantity" in e["resource"]
    )
    assert totals == sorted(CheckIn.objects.filter(client=zelda).values_list("total", flat=True))
    for secret in (NAME, EMAIL, PHONE, "1987-06-05", NOTE, TINY_PHRASE):
        assert secret not in response.content.decode()  # pseudonymous, and no transcript
    event = AuditEvent.objects.get(action="export")
    assert event.user == ana and event.client_id == zelda.pk


def test_the_admin_exports_through_the_api_and_the_supervisor_may_not(cast: dict[str, User], zelda: Client) -> None:
    def get(user: User) -> Any:
        token = ApiToken.issue(user)[1]
        return WebClient().get(f"/api/v1/clients/{zelda.pk}/export", headers={"Authorization": f"Bearer {token}"})

    admin = get(cast["dara"])
    assert admin.status_code == 200 and json.loads(admin.content)["entry"][0]["resource"]["resourceType"] == "Patient"
    assert get(cast["cleo"]).status_code == 403
    assert get(cast["eve"]).status_code == 404
    assert AuditEvent.objects.filter(action="export").count() == 1  # refused exports export nothing


def test_the_client_page_offers_export_and_erasure_by_role(cast: dict[str, User], zelda: Client) -> None:
    page = {name: as_user(cast[name]).get(reverse("client-detail", args=[zelda.pk])).content.decode()
            for name in ("ana", "cleo", "dara")}  # fmt: skip
    export, erase = reverse("client-export", args=[zelda.pk]), reverse("client-erase", args=[zelda.pk])
    assert export in page["ana"] and erase not in page["ana"]
    assert export not in page["cleo"] and erase not in page["cleo"]
    assert export in page["dara"] and erase in page["dara"]


# --- erasure ---------------------------------------------------------------------------------------------------


def every_row_as_text() -> str:
    """Every row of every table, as text, plus every encrypted value decrypted (what someone with a copy of the
    database and the keys could read)."""
    out: list[str] = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            out.extend(repr(row) for row in cursor.fetchall())
    for model, fields in encrypted_fields():
        for row in model._default_manager.values_list(*(field.name for field in fields)):
            out.append(repr(row))
    return "\n".join(out)


def test_the_admin_erases_what_identifies_a_client_and_nothing_identifying_remains(
    cast: dict[str, User], zelda: Client
) -> None:
    dara = cast["dara"]
    LogEntry.objects.create(
        user=dara,
        content_type=ContentType.objects.get_for_model(ClientIdentity),
        object_id=str(zelda.identity.pk),
        object_repr=str(zelda.identity) + " " + NAME,
        action_flag=CHANGE,
        change_message=f"Changed e-mail to {EMAIL}",
    )
    before = every_row_as_text()
    for secret in (NAME, EMAIL, PHONE, NOTE, "C-ZELDA1", TINY_PHRASE):
        assert secret in before  # the search can find them while they are there
    scores = sorted(CheckIn.objects.filter(client=zelda).values_list("instrument", "total"))
    audit_before = AuditEvent.objects.count()

    web = as_user(dara)
    confirm = web.get(reverse("client-erase", args=[zelda.pk]))
    assert confirm.status_code == 200 and "This cannot be undone" in confirm.content.decode()
    wrong = web.post(reverse("client-erase", args=[zelda.pk]), {"confirm": "C-ZELDA"})
    assert wrong.status_code == 422 and ClientIdentity.objects.filter(client=zelda).exists()
    done = web.post(reverse("client-erase", args=[zelda.pk]), {"confirm": "C-ZELDA1"})

    assert done.status_code == 302 and done["Location"] == reverse("client-detail", args=[zelda.pk])
    after = every_row_as_text()
    for secret in (NAME, EMAIL, PHONE, NOTE, "C-ZELDA1", "Zelda", "quillfeather", TINY_PHRASE, "1987-06-05"):
        assert secret.lower() not in after.lower(), secret
    assert not SessionTranscript.objects.filter(client=zelda).exists()
    zelda.refresh_from_db()
    assert zelda.code.startswith(ERASED_PREFIX) and zelda.erased_at is not None and not zelda.consent_supervision
    assert not ClientIdentity.objects.filter(client=zelda).exists()
    # Kept, de-identified: the scores, and the audit log (which records the erasure).
    assert sorted(CheckIn.objects.filter(client=zelda).values_list("instrument", "total")) == scores
    assert AuditEvent.objects.count() > audit_before
    erased = AuditEvent.objects.get(action="erase")
    assert erased.user == dara and erased.client_id == zelda.pk
    assert not CheckinLink.objects.filter(client=zelda, superseded_at__isnull=True, used_at__isnull=True).exists()
    assert not Alert.objects.filter(client=zelda).exclude(state=Alert.State.RESOLVED).exists()
    # No longer in care: gone from the caseload; the page says it is erased when asked again.
    assert zelda.code not in as_user(cast["ana"]).get(reverse("caseload")).content.decode()
    again = web.get(reverse("client-erase", args=[zelda.pk]))
    assert "already erased" in again.content.decode()
    assert export_bundle(zelda)["entry"][0]["resource"]["active"] is False


@pytest.mark.parametrize(("who", "status"), [("ana", 403), ("cleo", 403), ("ben", 404), ("eve", 404)])
def test_only_the_practice_admin_erases(cast: dict[str, User], zelda: Client, who: str, status: int) -> None:
    response = as_user(cast[who]).post(reverse("client-erase", args=[zelda.pk]), {"confirm": "C-ZELDA1"})
    assert response.status_code == status
    assert ClientIdentity.objects.filter(client=zelda).exists()
    assert not AuditEvent.objects.filter(action="erase").exists()
