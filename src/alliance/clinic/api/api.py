"""The REST API under /api/v1 (django-ninja): bearer tokens, JSON errors that name the field, OpenAPI description.

Errors are JSON everywhere: 401 (with ``WWW-Authenticate``) without a valid token, 404 for anything the caller may
not see or that does not exist, 422 ``{"detail": [{"loc": [...], "msg": ..., "type": ...}]}`` for invalid input.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI, Router, Status
from ninja.errors import AuthenticationError, Throttled, ValidationError

from alliance.clinic.api.auth import BearerToken
from alliance.clinic.api.routes import router
from alliance.clinic.api.schemas import ErrorOut
from alliance.clinic.checkins.service import CheckinError

__all__ = ["api"]

REALM = 'Bearer realm="alliance"'

api = NinjaAPI(
    title="alliance API",
    version="1",
    description="Clients, their scored check-ins and FHIR export. Authenticate with `Authorization: Bearer <token>` "
    "(create one with `alliance token create USERNAME`).",
    urls_namespace="api-v1",
    auth=BearerToken(),
    # ninja's browsable docs load Swagger UI from a CDN unless "ninja" is an installed app: third-party script on
    # the clinic's origin is not acceptable, so only the OpenAPI description is served.
    docs_url=None,
)
api.add_router("/", router)


@api.exception_handler(AuthenticationError)
def unauthorized(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    """401 with the challenge RFC 6750 asks for; an invalid (not just missing) token says so.

    The failed attempt was already audited and counted where the token was checked (``BearerToken``).
    """
    if request.headers.get("Authorization"):
        detail, challenge = "invalid, revoked or expired token", f'{REALM}, error="invalid_token"'
    else:
        detail, challenge = "authentication required: send Authorization: Bearer <token>", REALM
    response = api.create_response(request, {"detail": detail}, status=401)
    response["WWW-Authenticate"] = challenge
    return response


@api.exception_handler(Throttled)
def too_many(request: HttpRequest, exc: Throttled) -> HttpResponse:
    """429 after too many wrong tokens from one address, with the seconds to wait in ``Retry-After``."""
    response = api.create_response(request, {"detail": "too many invalid tokens; try again later"}, status=429)
    if exc.wait:
        response["Retry-After"] = str(int(exc.wait))
    return response


@api.exception_handler(ValidationError)
def invalid_input(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    """422 naming the field: ``["body", "answers", ...]`` (ninja's internal parameter name left out)."""
    return api.create_response(request, {"detail": [_field_error(error) for error in exc.errors]}, status=422)


@api.exception_handler(CheckinError)
def invalid_checkin(request: HttpRequest, exc: CheckinError) -> HttpResponse:
    """422 for a check-in the service refused, in the same shape as schema errors."""
    error = {"loc": _location(exc.field), "msg": exc.message, "type": "checkin_invalid"}
    return api.create_response(request, {"detail": [error]}, status=422)


# Added after every other router, so its catch-all pattern never shadows a route.
fallback = Router()


_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


@fallback.api_operation(_METHODS, "/{path:rest}", include_in_schema=False, response={404: ErrorOut})
def not_found(request: HttpRequest, rest: str) -> Status[dict[str, str]]:
    """Any other path under /api/v1: 404 as JSON, like a client the caller may not see."""
    return Status(404, {"detail": "Not Found"})


@fallback.api_operation(_METHODS, "/", include_in_schema=False, response={404: ErrorOut})
def root(request: HttpRequest) -> Status[dict[str, str]]:
    """/api/v1/ itself: nothing here (the description is at /api/v1/openapi.json)."""
    return Status(404, {"detail": "Not Found"})


api.add_router("/", fallback)


def _field_error(error: dict[str, Any]) -> dict[str, Any]:
    loc = list(error.get("loc", ()))
    if len(loc) >= 2 and loc[0] == "body" and loc[1] == "payload":
        del loc[1]
    return {"loc": loc, "msg": str(error.get("msg", "")), "type": str(error.get("type", "invalid"))}


def _location(field: str) -> list[str]:
    """Map a check-in service field (``answers.phq9_9``, ``Idempotency-Key``, ``episode``) to a request location."""
    if field == "Idempotency-Key":
        return ["header", "Idempotency-Key"]
    if field == "episode":
        return ["path", "id"]
    return ["body", *field.split(".", 1)]
