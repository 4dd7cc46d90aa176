"""Each practice's expected treatment response (PHQ-9): fitted from its own history, stored, loaded for alerts.

``refit(practice_id)`` fits :class:`alliance.monitoring.ExpectedResponse` on every episode of the practice (one
row per episode and session: the client's PHQ-9 total at the appointment's session number; a re-submitted form
replaces the earlier one) and stores the model's JSON with when it was fitted and how much data it rests on
(:class:`ExpectedResponseFit`). It runs explicitly: ``alliance monitor refit`` (a worker command, e.g. nightly)
and at the end of ``alliance demo``; nothing refits behind the scenes during a request.

``practice_model(practice_id)`` loads the stored model in one query (parsed models are cached per process by
row and fit time). A practice without a stored model gets the **built-in rational rule**: expected = intake, red
when the PHQ-9 rose by more than the NHS Talking Therapies reliable change (6 points), amber from session 4 on
when it has not fallen by more than 6 (REFERENCE §7). It rests on no data of the practice and says so.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

import pandas as pd
from django.db import transaction
from django.utils import timezone

from alliance.change.talking_therapies import GAD7_RELIABLE_CHANGE, PHQ9_RELIABLE_CHANGE
from alliance.clinic.alerts.models import ExpectedResponseFit
from alliance.clinic.checkins.models import CheckIn
from alliance.clinic.practice.models import Practice
from alliance.errors import InputError
from alliance.monitoring.attention import PHQ9
from alliance.monitoring.expected import ExpectedResponse

__all__ = [
    "ETR_INSTRUMENT",
    "ModelInUse",
    "RefitResult",
    "builtin_fallback",
    "practice_history",
    "practice_model",
    "refit",
    "refit_all",
]

ETR_INSTRUMENT = PHQ9
"""The outcome measure the expected response is fitted on (``RuleSettings.etr_instrument``)."""

_RELIABLE_CHANGE = {"phq9": float(PHQ9_RELIABLE_CHANGE), "gad7": float(GAD7_RELIABLE_CHANGE)}
_NAMES = {"phq9": "PHQ-9", "gad7": "GAD-7"}
_Z = 1.96
_CACHE: dict[tuple[int, str], ExpectedResponse] = {}


@dataclass(frozen=True)
class ModelInUse:
    """The expected-response model a practice's alerts use now, and what it rests on, in words."""

    model: ExpectedResponse
    stored: bool
    kind: str
    clients: int
    observations: int
    sessions: tuple[int, ...]
    fitted_at: dt.datetime | None

    @property
    def description(self) -> str:
        name = _NAMES.get(ETR_INSTRUMENT, ETR_INSTRUMENT)
        if not self.stored:
            return (
                f"No expected-response model has been fitted for this practice yet: the rational rule applies "
                f"(expected = the intake {name}; red when it rose by more than the reliable change of "
                f"{self.model.reliable_change_:g} points, amber from session {self.model.fallback_session} on when "
                "it has not fallen by more than that). It rests on no data of this practice."
            )
        when = f"{self.fitted_at:%d %b %Y}" if self.fitted_at is not None else "an unknown date"
        if self.kind == "empirical":
            return (
                f"Expected response fitted from this practice's own history on {when}: {self.clients} episodes with "
                f"an intake {name}, {self.observations} scores, sessions 1–{self.sessions[-1]} "
                f"(each cell rests on the {self.model.neighbours} episodes with the nearest intake)."
            )
        return (
            f"Rational rule fitted on {when}: this practice has {self.clients} episodes with an intake {name}, too "
            f"few for an empirical model ({self.model.reason_}); reliable change {self.model.reliable_change_:.1f} "
            "points."
        )


@dataclass(frozen=True)
class RefitResult:
    """What one refit did: the stored row, or why nothing could be fitted."""

    practice_id: int
    practice: str
    instrument: str
    fit: ExpectedResponseFit | None
    skipped: str = ""


def builtin_fallback(instrument: str = ETR_INSTRUMENT) -> ExpectedResponse:
    """Return the rational rule for a practice without a fitted model: change beyond the NHS reliable change.

    The fitted attributes are set directly (scikit-learn style, they are public): there is no history to fit
    on, and the reliable change value is the published one rather than one estimated from the practice.
    """
    model = ExpectedResponse(better="lower")
    change = _RELIABLE_CHANGE.get(instrument, float(PHQ9_RELIABLE_CHANGE))
    model.kind_ = "rational"
    model.reason_ = "no model fitted for this practice yet: NHS Talking Therapies reliable change"
    model.n_clients_ = 0
    model.n_observations_ = 0
    model.n_skipped_ = 0
    model.sessions_ = ()
    model.intakes_ = ()
    model.table_ = None
    model.reliable_change_ = change
    # The SD that gives this reliable change at the model's reliability (for the record only).
    model.intake_sd_ = change / (_Z * math.sqrt(2.0) * math.sqrt(1.0 - model.reliability))
    model.fitted_at_ = ""
    return model


def practice_model(practice_id: int, instrument: str = ETR_INSTRUMENT) -> ModelInUse:
    """Return the model the practice's alerts use for ``instrument`` (one query; the fallback when none stored)."""
    row = (
        ExpectedResponseFit.objects.filter(practice_id=practice_id, instrument=instrument)
        .only("pk", "kind", "document", "clients", "observations", "sessions", "fitted_at")
        .first()
    )
    if row is None:
        return ModelInUse(
            model=builtin_fallback(instrument),
            stored=False,
            kind="rational",
            clients=0,
            observations=0,
            sessions=(),
            fitted_at=None,
        )
    key = (row.pk, row.fitted_at.isoformat())
    model = _CACHE.get(key)
    if model is None:
        model = ExpectedResponse.from_json(row.document)
        if len(_CACHE) > 64:
            _CACHE.clear()
        _CACHE[key] = model
    return ModelInUse(
        model=model,
        stored=True,
        kind=row.kind,
        clients=row.clients,
        observations=row.observations,
        sessions=tuple(model.sessions_),
        fitted_at=row.fitted_at,
    )


def practice_history(practice_id: int, instrument: str = ETR_INSTRUMENT) -> pd.DataFrame:
    """Return the practice's scores as a long table: ``episode``, ``session``, ``score`` (one query).

    Only the client's own forms tied to an appointment (a session number) with a total; the latest form per
    episode and session.
    """
    rows = (
        CheckIn.objects.filter(
            client__practice_id=practice_id,
            instrument=instrument,
            respondent=CheckIn.Respondent.CLIENT,
            appointment__isnull=False,
            total__isnull=False,
        )
        .order_by("submitted_at", "pk")
        .values_list("episode_id", "appointment__session_number", "total")
    )
    frame = pd.DataFrame.from_records(list(rows), columns=["episode", "session", "score"])
    frame = frame.astype({"episode": "int64", "session": "int64", "score": "float64"})
    return frame.drop_duplicates(subset=["episode", "session"], keep="last").reset_index(drop=True)


def refit(practice_id: int, instrument: str = ETR_INSTRUMENT, *, now: dt.datetime | None = None) -> RefitResult:
    """Fit the practice's expected response from its own history and store it (replacing the earlier fit).

    Fewer than two episodes with an intake score cannot even give the rational rule's SD: nothing is stored
    (an earlier fit is kept) and ``skipped`` says why.
    """
    practice = Practice.objects.get(pk=practice_id)
    frame = practice_history(practice_id, instrument)
    model = ExpectedResponse(better="lower")
    try:
        model.fit(frame, id="episode", time="session", score="score")
    except InputError as exc:
        return RefitResult(practice_id, practice.name, instrument, None, skipped=exc.message)
    document = model.to_json()
    fitted_at = now or timezone.now()
    values: dict[str, Any] = {
        "kind": model.kind_,
        "document": document,
        "clients": model.n_clients_,
        "observations": model.n_observations_,
        "sessions": len(model.sessions_),
        "fitted_at": fitted_at,
    }
    with transaction.atomic():
        fit, _ = ExpectedResponseFit.objects.update_or_create(
            practice_id=practice_id, instrument=instrument, defaults=values
        )
    return RefitResult(practice_id, practice.name, instrument, fit)


def refit_all(practice_id: int | None = None, instrument: str = ETR_INSTRUMENT) -> list[RefitResult]:
    """Refit every practice (or only ``practice_id``), each from its own history; raise if that id is unknown."""
    practices = Practice.objects.order_by("pk")
    if practice_id is not None:
        practices = practices.filter(pk=practice_id)
        if not practices.exists():
            raise InputError(f"no practice with id {practice_id}")
    return [refit(pk, instrument) for pk in practices.values_list("pk", flat=True)]
