"""Queries and serialisation behind the API's client routes: pages of clients, timelines and the FHIR export.

Every function takes objects already fetched through ``visible_to``; none of them decides access.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from typing import Any, cast

from django.db.models import F, QuerySet, Window
from django.db.models.functions import RowNumber
from django.utils import timezone
from fhir.resources.R4B.bundle import Bundle

from alliance.clinic.checkins.models import CheckIn
from alliance.clinic.practice.models import Client
from alliance.clinic.registry import instruments
from alliance.instruments import Score, Status
from alliance.interop.fhir import observation, questionnaire_response

__all__ = ["checkin_data", "client_data", "fhir_bundle", "latest_totals", "timeline"]

# Resource ids in the export are derived from the check-in id, so exporting twice gives the same ids.
_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "alliance:checkin")


def latest_totals(client_ids: Sequence[int]) -> dict[int, dict[str, dict[str, Any]]]:
    """Return ``{client id: {instrument id: latest total}}`` for ``client_ids`` in one query."""
    if not client_ids:
        return {}
    rows = (
        CheckIn.objects.filter(client_id__in=client_ids)
        .annotate(
            rank=Window(
                RowNumber(),
                partition_by=[F("client_id"), F("instrument")],
                order_by=[F("submitted_at").desc(), F("pk").desc()],
            )
        )
        .filter(rank=1)
        .values("client_id", "instrument", "total", "severity", "risk", "status", "submitted_at")
    )
    out: dict[int, dict[str, dict[str, Any]]] = {pk: {} for pk in client_ids}
    for row in rows:
        out[row["client_id"]][row["instrument"]] = {
            "total": row["total"],
            "severity": row["severity"] or None,
            "risk": row["risk"],
            "status": row["status"],
            "submitted_at": row["submitted_at"],
        }
    # Instruments in a stable order (JSON objects keep it), whatever order the database returned.
    return {pk: dict(sorted(latest.items())) for pk, latest in out.items()}


def client_data(client: Client, latest: dict[str, dict[str, Any]], *, with_name: bool = False) -> dict[str, Any]:
    """Return ``client`` as the API shows it; its name only when ``with_name`` (the treating therapist)."""
    data: dict[str, Any] = {
        "id": client.pk,
        "code": client.code,
        "therapist": client.therapist.get_username(),
        "language": client.language,
        "latest": latest,
    }
    if with_name:
        # A missing identity raises RelatedObjectDoesNotExist, an AttributeError: getattr's default covers it.
        identity = getattr(client, "identity", None)
        data["name"] = identity.name if identity is not None else None
    return data


def timeline(client: Client, *, user: Any) -> QuerySet[CheckIn]:
    """Return the check-ins of ``client`` in the order they were submitted (ties broken by id)."""
    return (
        CheckIn.objects.visible_to(user)
        .filter(client=client)
        .select_related("appointment")
        .order_by("submitted_at", "pk")
    )


def checkin_data(checkin: CheckIn) -> dict[str, Any]:
    """Return one check-in as the API shows it, answers in the instrument's item order."""
    answers: dict[str, Any] = dict(checkin.answers)
    registry = instruments()
    if checkin.instrument in registry:
        order = registry.get(checkin.instrument).item_ids
        answers = {item: answers[item] for item in order if item in answers} | {
            item: value for item, value in answers.items() if item not in order
        }
    return {
        "id": checkin.pk,
        "instrument": checkin.instrument,
        "answers": answers,
        "total": checkin.total,
        "subscales": dict(checkin.subscales),
        "severity": checkin.severity or None,
        "risk": checkin.risk,
        "status": checkin.status,
        "respondent": checkin.respondent,
        "session": checkin.appointment.session_number if checkin.appointment is not None else None,
        "submitted_at": checkin.submitted_at,
    }


def fhir_bundle(client: Client, checkins: Iterable[CheckIn], *, now: dt.datetime | None = None) -> dict[str, Any]:
    """Return the check-ins of ``client`` as a FHIR R4B collection Bundle, validated by ``fhir.resources``.

    Each check-in gives a QuestionnaireResponse and an Observation of its total (derived from the response),
    both with subject ``Patient/<client code>``; scores are the ones stored at submission.
    """
    registry = instruments()
    subject = f"Patient/{client.code}"
    entries: list[dict[str, Any]] = []
    for checkin in checkins:
        instrument = registry.get(checkin.instrument)
        score = Score(
            instrument=instrument.id,
            total=checkin.total,
            subscales=dict(checkin.subscales),
            severity=checkin.severity or None,
            risk=checkin.risk,
            risk_messages=(),
            status=cast(Status, checkin.status),
        )
        response_id = str(uuid.uuid5(_ID_NAMESPACE, f"{checkin.pk}:QuestionnaireResponse"))
        observation_id = str(uuid.uuid5(_ID_NAMESPACE, f"{checkin.pk}:Observation"))
        response = questionnaire_response(
            instrument,
            checkin.answers,
            score=score,
            subject=subject,
            authored=checkin.submitted_at,
            language=checkin.language if checkin.language in instrument.languages else instrument.languages[0],
            resource_id=response_id,
        )
        total = observation(
            instrument,
            score,
            subject=subject,
            effective=checkin.submitted_at,
            derived_from=f"urn:uuid:{response_id}",
            resource_id=observation_id,
        )
        entries.append({"fullUrl": f"urn:uuid:{response_id}", "resource": response})
        entries.append({"fullUrl": f"urn:uuid:{observation_id}", "resource": total})
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": (now or timezone.now()).isoformat(),
        "entry": entries,
    }
    Bundle.parse_obj(bundle)  # structure check by fhir.resources (codes were checked by alliance.interop.fhir)
    return bundle
