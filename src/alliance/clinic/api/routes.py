"""The API's client routes: each fetches through ``visible_to`` (anything else is 404), calls one function, audits."""

from __future__ import annotations

import json
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from ninja import P, Router, Status
from ninja.params import HeaderEx, QueryEx

from alliance.clinic import rights
from alliance.clinic.api.clients import checkin_data, client_data, fhir_bundle, latest_totals, timeline
from alliance.clinic.api.schemas import (
    CheckinIn,
    CheckinOut,
    ClientDetailOut,
    ClientPage,
    ErrorOut,
    ValidationErrorOut,
)
from alliance.clinic.audit.service import record
from alliance.clinic.checkins.models import CheckIn
from alliance.clinic.checkins.service import CheckinError, submit_checkin, validate_answers
from alliance.clinic.practice.models import Appointment, Client
from alliance.clinic.registry import instruments
from alliance.instruments import UnknownInstrumentError

__all__ = ["FHIR_JSON", "MAX_IDEMPOTENCY_KEY", "MAX_OFFSET", "THERAPIST_FORMS", "router"]

FHIR_JSON = "application/fhir+json"
MAX_IDEMPOTENCY_KEY = 150
# Larger offsets overflowed the database's 64-bit LIMIT/OFFSET (a 500 found by schemathesis); none is ever needed.
MAX_OFFSET = 1_000_000_000
# Instruments the therapist answers about the session (the mirror form); everything else the client answers.
THERAPIST_FORMS = frozenset({"alliance-therapist"})
_NOT_FOUND = {404: ErrorOut}

router = Router(tags=["clients"])


def _client(request: HttpRequest, pk: int) -> Client:
    client: Client = get_object_or_404(Client.objects.visible_to(request.user).select_related("therapist"), pk=pk)
    return client


@router.get("/clients", response={200: ClientPage}, summary="List the clients you can see")
def list_clients(
    request: HttpRequest,
    limit: QueryEx[int, P(ge=1, le=200, description="Page size (1–200).")] = 50,
    offset: QueryEx[int, P(ge=0, le=MAX_OFFSET, description="How many clients to skip.")] = 0,
) -> dict[str, Any]:
    """Clients visible to you (own, team's or practice's by role), ordered by code then id, with latest totals."""
    visible = Client.objects.visible_to(request.user)
    page = list(visible.select_related("therapist").order_by("code", "pk")[offset : offset + limit])
    latest = latest_totals([client.pk for client in page])
    with transaction.atomic():
        for client in page:
            record(request, "read", client)
    return {"count": visible.count(), "items": [client_data(client, latest[client.pk]) for client in page]}


@router.get(
    "/clients/{int:id}",
    response={200: ClientDetailOut, **_NOT_FOUND},
    exclude_unset=True,
    summary="One client",
)
def get_client(request: HttpRequest, id: int) -> dict[str, Any]:
    """One client; the name only for the treating therapist."""
    client = _client(request, id)
    with_name = client.therapist_id == request.user.pk
    if with_name:
        client = Client.objects.select_related("therapist", "identity").get(pk=client.pk)
    record(request, "read", client)
    return client_data(client, latest_totals([client.pk])[client.pk], with_name=with_name)


@router.get(
    "/clients/{int:id}/timeline", response={200: list[CheckinOut], **_NOT_FOUND}, summary="A client's check-ins"
)
def get_timeline(request: HttpRequest, id: int) -> list[dict[str, Any]]:
    """Every scored check-in of the client, in the order submitted (submitted_at, then id)."""
    client = _client(request, id)
    record(request, "read", client)
    return [checkin_data(checkin) for checkin in timeline(client, user=request.user)]


@router.post(
    "/clients/{int:id}/checkins",
    response={200: CheckinOut, 201: CheckinOut, 422: ValidationErrorOut, **_NOT_FOUND},
    summary="Submit a check-in",
)
def post_checkin(
    request: HttpRequest,
    id: int,
    payload: CheckinIn,
    response: HttpResponse,
    idempotency_key: HeaderEx[
        str | None,
        P(
            alias="Idempotency-Key",
            description="Any unique string (≤ 150 characters): a repeat returns the first result, stores nothing.",
        ),
    ] = None,
) -> Status[dict[str, Any]]:
    """Score and store one check-in: 201 when stored, 200 (Idempotent-Replayed: true) for a repeated key."""
    client = _client(request, id)
    appointment = _appointment(request, client, payload.appointment)
    respondent = payload.respondent or (
        CheckIn.Respondent.THERAPIST if payload.instrument in THERAPIST_FORMS else CheckIn.Respondent.CLIENT
    )
    key = _stored_key(request, idempotency_key)
    if key is not None:
        existing = CheckIn.objects.select_related("appointment").filter(idempotency_key=key).first()
        if existing is not None:
            return _replay(request, response, existing, client, payload, appointment, respondent)
    submitted = submit_checkin(
        client=client,
        instrument_id=payload.instrument,
        answers=payload.answers,
        source=CheckIn.Source.API,
        respondent=respondent,
        appointment=appointment,
        by=request.user,
        idempotency_key=key,
        language=client.language,
        request=request,
    )
    if not submitted.created:  # another request with the same key won a race
        return _replay(request, response, submitted.checkin, client, payload, appointment, respondent)
    return Status(201, checkin_data(submitted.checkin))


@router.get(
    "/clients/{int:id}/fhir",
    response={200: dict[str, Any], **_NOT_FOUND},
    summary="A client's check-ins as a FHIR R4B Bundle",
    openapi_extra={
        "responses": {
            200: {
                "description": "A FHIR R4B Bundle (type collection): one QuestionnaireResponse and one Observation "
                "per check-in.",
                "content": {FHIR_JSON: {"schema": {"type": "object"}}},
            }
        }
    },
)
def get_fhir(request: HttpRequest, id: int) -> HttpResponse:
    """Export the client's check-ins as FHIR (recorded in the audit trail as an export)."""
    client = _client(request, id)
    bundle = fhir_bundle(client, timeline(client, user=request.user))
    record(request, "export", client)
    return HttpResponse(json.dumps(bundle, cls=DjangoJSONEncoder), content_type=FHIR_JSON)


@router.get(
    "/clients/{int:id}/export",
    response={200: dict[str, Any], 403: ErrorOut, **_NOT_FOUND},
    summary="A client's own data as a FHIR R4B Bundle (client rights)",
    openapi_extra={
        "responses": {
            200: {
                "description": "A FHIR R4B Bundle (type collection): a pseudonymous Patient (client code and language "
                "only), then one QuestionnaireResponse and one Observation per check-in, all referring to it.",
                "content": {FHIR_JSON: {"schema": {"type": "object"}}},
            }
        }
    },
)
def get_export(request: HttpRequest, id: int) -> HttpResponse | Status[dict[str, str]]:
    """The client's copy of their data, for the treating therapist or the practice admin (audited as an export)."""
    client = _client(request, id)
    if not rights.can_export(request.user, client):
        return Status(403, {"detail": "only the treating therapist or the practice admin exports a client's data"})
    bundle = rights.export_bundle(client)
    record(request, "export", client)
    return HttpResponse(json.dumps(bundle, cls=DjangoJSONEncoder), content_type=FHIR_JSON)


def _appointment(request: HttpRequest, client: Client, pk: int | None) -> Appointment | None:
    if pk is None:
        return None
    appointment: Appointment | None = (
        Appointment.objects.visible_to(request.user).filter(client=client, pk=pk).select_related("episode").first()
    )
    if appointment is None:
        raise CheckinError(f"no appointment {pk} for this client", field="appointment")
    return appointment


def _stored_key(request: HttpRequest, key: str | None) -> str | None:
    """Return the key as stored: scoped to the user, so one caller's keys never meet another's."""
    if key is None or not key.strip():
        return None
    if len(key) > MAX_IDEMPOTENCY_KEY:
        raise CheckinError(f"at most {MAX_IDEMPOTENCY_KEY} characters", field="Idempotency-Key")
    return f"api:{request.user.pk}:{key.strip()}"


def _replay(
    request: HttpRequest,
    response: HttpResponse,
    existing: CheckIn,
    client: Client,
    payload: CheckinIn,
    appointment: Appointment | None,
    respondent: str,
) -> Status[dict[str, Any]]:
    """Answer a repeated key with the first result, unless the key now comes with a different request."""
    if not _same_request(existing, client, payload, appointment, respondent):
        raise CheckinError("this key was already used for a different request", field="Idempotency-Key")
    record(request, "read", existing)
    response.headers["Idempotent-Replayed"] = "true"
    return Status(200, checkin_data(existing))


def _same_request(
    existing: CheckIn, client: Client, payload: CheckinIn, appointment: Appointment | None, respondent: str
) -> bool:
    if (existing.client_id, existing.instrument, existing.respondent) != (client.pk, payload.instrument, respondent):
        return False
    if existing.appointment_id != (appointment.pk if appointment is not None else None):
        return False
    try:
        clean = validate_answers(instruments().get(payload.instrument), payload.answers)
    except (CheckinError, UnknownInstrumentError):
        return False
    stored = {item: None if value is None else float(value) for item, value in existing.answers.items()}
    return clean == stored
