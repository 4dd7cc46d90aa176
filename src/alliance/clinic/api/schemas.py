"""What the API accepts and returns (also the OpenAPI description at /api/v1/openapi.json)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from ninja import Field, Schema

__all__ = [
    "CheckinIn",
    "CheckinOut",
    "ClientDetailOut",
    "ClientOut",
    "ClientPage",
    "ErrorOut",
    "FieldError",
    "LatestTotal",
    "ValidationErrorOut",
]


class LatestTotal(Schema):
    """The most recent scored check-in of one instrument."""

    total: float | None = Field(description="Total score; null when too many items were unanswered to score.")
    severity: str | None = Field(
        description="Severity band id of the total (e.g. 'moderate'), if the instrument has bands."
    )
    risk: bool = Field(description="A risk item was endorsed (e.g. PHQ-9 item 9 above 0).")
    status: str = Field(description="ok | prorated | insufficient (the instrument's missing-data rule).")
    submitted_at: dt.datetime


class ClientOut(Schema):
    """A client as the API shows it: pseudonymous code, never the name."""

    id: int
    code: str = Field(description="Pseudonymous client code.")
    therapist: str = Field(description="Username of the treating therapist.")
    language: str = Field(description="Language the client answers in (en | es).")
    latest: dict[str, LatestTotal] = Field(description="Latest check-in per instrument id.")


class ClientDetailOut(ClientOut):
    """One client; ``name`` is present only when the caller is the client's treating therapist."""

    name: str | None = Field(default=None, description="Only for the treating therapist (absent otherwise).")


class ClientPage(Schema):
    """One page of the clients visible to the caller, ordered by code then id."""

    count: int = Field(description="How many clients the caller can see in all.")
    items: list[ClientOut]


class CheckinOut(Schema):
    """One stored, scored check-in."""

    id: int
    instrument: str = Field(description="Instrument id, e.g. phq9, gad7, alliance-client.")
    answers: dict[str, float | None] = Field(description="{item id: answer value, null when unanswered}.")
    total: float | None
    subscales: dict[str, float | None]
    severity: str | None
    risk: bool
    status: str = Field(description="ok | prorated | insufficient.")
    respondent: str = Field(description="client | therapist (the therapist's mirror form).")
    session: int | None = Field(description="Session number of the appointment, or null.")
    submitted_at: dt.datetime


class CheckinIn(Schema):
    """A check-in to store and score."""

    instrument: str = Field(description="Instrument id, e.g. phq9.")
    # Values are checked against the instrument's own options by the check-in service, which names the item.
    answers: dict[str, Any] = Field(
        description="{item id: value}; each value one of the item's option values; omitted items count as unanswered.",
        json_schema_extra={"additionalProperties": {"type": ["number", "null"]}},
    )
    appointment: int | None = Field(default=None, description="Id of one of this client's appointments (optional).")
    respondent: Literal["client", "therapist"] | None = Field(
        default=None, description="Who answered; default: therapist for alliance-therapist, client otherwise."
    )


class ErrorOut(Schema):
    detail: str


class FieldError(Schema):
    loc: list[str | int] = Field(description="Where the problem is, e.g. ['body', 'answers', 'phq9_9'].")
    msg: str
    type: str


class ValidationErrorOut(Schema):
    detail: list[FieldError]
