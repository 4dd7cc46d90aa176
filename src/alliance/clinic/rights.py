"""Client rights: a copy of a client's own data (FHIR R4B) and erasure of what identifies them.

**Export** (right of access, GDPR art. 15 / HIPAA §164.524): one FHIR R4B ``collection`` Bundle holding a
pseudonymous ``Patient`` (the client code as identifier and the preferred language; no name, contact or date of
birth) and, for every check-in, its ``QuestionnaireResponse`` and the ``Observation`` of its total, all referring
to that Patient entry. Made by ``alliance.interop.fhir`` through ``api.clients.fhir_bundle``.

**Erasure** (GDPR art. 17, within what the law lets a health service erase): the identity record (name, e-mail,
phone, date of birth) is deleted; session transcripts (and their analyses) are deleted; free text written about
the client (what was done about an alert) is blanked, and so are the Django admin's change-history entries that
name the client;
the client code is replaced by a new random one, so paper or other records that carry the old code no longer
lead to the scores; unused check-in links stop working; supervision consent is withdrawn; open alerts are
closed. What is kept, de-identified, for the retention period (docs/security-accounts.md): the scored answers,
appointments and alerts under the new code (clinical record retention and the practice's outcome statistics) and
the audit log (who did what, when; it names no client but by database id). Erasure is irreversible and recorded
in the audit log as ``erase``.
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from fhir.resources.R4B.bundle import Bundle

from alliance.clinic.alerts.models import Alert
from alliance.clinic.api.clients import fhir_bundle
from alliance.clinic.audit.service import record
from alliance.clinic.checkins.models import CheckIn, CheckinLink
from alliance.clinic.listening.models import SessionTranscript, SupervisionConsent
from alliance.clinic.practice.models import Client, ClientIdentity

__all__ = ["ERASED_PREFIX", "Erasure", "can_erase", "can_export", "erase_client", "export_bundle", "patient_resource"]

ERASED_PREFIX = "ERASED-"
_PATIENT_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "alliance:patient")
CODE_SYSTEM = "urn:alliance:client-code"


def can_export(user: Any, client: Client) -> bool:
    """The treating therapist and the practice admin (among those who see the client) may export."""
    return bool(client.therapist_id == getattr(user, "pk", None) or getattr(user, "role", None) == "admin")


def can_erase(user: Any, client: Client) -> bool:
    """Only the practice admin erases (the client asks the practice, the practice decides)."""
    return getattr(user, "role", None) == "admin" and client.practice_id == getattr(user, "practice_id", None)


def patient_resource(client: Client) -> dict[str, Any]:
    """The pseudonymous FHIR Patient of ``client``: code and language only."""
    return {
        "resourceType": "Patient",
        "id": _patient_id(client),
        "identifier": [{"system": CODE_SYSTEM, "value": client.code}],
        "active": client.erased_at is None,
        "communication": [
            {"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": client.language}]}, "preferred": True}
        ],
    }


def export_bundle(client: Client, *, now: dt.datetime | None = None) -> dict[str, Any]:
    """Everything scored about ``client`` as one FHIR R4B Bundle: the Patient first, then the check-ins."""
    checkins = CheckIn.objects.filter(client=client).select_related("appointment").order_by("submitted_at", "pk")
    bundle = fhir_bundle(client, checkins, now=now)
    patient_url = f"urn:uuid:{_patient_id(client)}"
    for entry in bundle["entry"]:
        entry["resource"]["subject"] = {"reference": patient_url}
    bundle["entry"].insert(0, {"fullUrl": patient_url, "resource": patient_resource(client)})
    bundle["id"] = str(uuid.uuid4())
    Bundle.parse_obj(bundle)
    return bundle


@dataclass(frozen=True)
class Erasure:
    """What ``erase_client`` removed (counts only; nothing removed is kept anywhere)."""

    identity_deleted: bool
    notes_blanked: int
    transcripts_deleted: int
    links_closed: int
    alerts_closed: int
    new_code: str


def erase_client(client: Client, *, by: Any, request: HttpRequest | None = None) -> Erasure:
    """Remove what identifies ``client``, keep the de-identified record; audited as ``erase``. Irreversible."""
    now = timezone.now()
    with transaction.atomic():
        locked = Client.objects.select_for_update().get(pk=client.pk)
        if locked.erased_at is not None:
            raise ValueError("this client was already erased")
        identity_ids = list(ClientIdentity.objects.filter(client=locked).values_list("pk", flat=True))
        deleted, _ = ClientIdentity.objects.filter(client=locked).delete()
        # Encrypted notes cannot be filtered on in SQL: count the written ones in Python, blank them all.
        notes = sum(1 for note in Alert.objects.filter(client=locked).values_list("action_taken", flat=True) if note)
        Alert.objects.filter(client=locked).update(action_taken="")
        _, removed = SessionTranscript.objects.filter(client=locked).delete()  # their analyses go with them
        transcripts = removed.get(SessionTranscript._meta.label, 0)
        links = CheckinLink.objects.filter(client=locked, used_at__isnull=True, superseded_at__isnull=True).update(
            superseded_at=now
        )
        closed = (
            Alert.objects.filter(client=locked)
            .exclude(state=Alert.State.RESOLVED)
            .update(state=Alert.State.RESOLVED, updated_by=by, updated_at=now)
        )
        # The admin's change history names objects by their text (e.g. "identity of C-1A2B3C"): scrub it too.
        for model, object_ids in ((Client, [locked.pk]), (ClientIdentity, identity_ids)):
            LogEntry.objects.filter(
                content_type=ContentType.objects.get_for_model(model), object_id__in=[str(pk) for pk in object_ids]
            ).update(object_repr="(erased)", change_message="")
        new_code = _erased_code()
        locked.code = new_code
        if locked.consent_supervision:
            SupervisionConsent.objects.create(client=locked, given=False, recorded_by=by)
        locked.consent_supervision = False
        locked.erased_at = now
        locked.save(update_fields=["code", "consent_supervision", "erased_at"])
        record(request, "erase", locked, user=by)
    client.refresh_from_db()
    return Erasure(
        identity_deleted=bool(deleted),
        notes_blanked=notes,
        transcripts_deleted=transcripts,
        links_closed=links,
        alerts_closed=closed,
        new_code=new_code,
    )


def _patient_id(client: Client) -> str:
    # The code is part of it: after erasure the Patient id changes too, so old exports do not link to new ones.
    return str(uuid.uuid5(_PATIENT_NAMESPACE, f"{client.practice_id}:{client.pk}:{client.code}"))


def _erased_code() -> str:
    return ERASED_PREFIX + secrets.token_hex(6).upper()
