"""The support tool on the client page: when it shows, what it suggests, and sending the follow-up questionnaire.

The panel shows for a client who is not on track or whose relationship is strained, judged by the same rules as
the caseload (:func:`alliance.monitoring.attention.attention`: the relationship check-in below its cut-off or
dropped, reliable deterioration) and by open alerts of the kinds in :data:`TRIGGER_ALERTS` (the monitoring
detectors add ``rupture`` and ``not_on_track``). Every query goes through ``visible_to(user)``: four in all.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from django.http import HttpRequest
from django.utils import timezone

from alliance.clinic.alerts.models import Alert
from alliance.clinic.checkins.links import FOLLOWUP_INSTRUMENTS, IssuedLink, issue_followup_link
from alliance.clinic.checkins.models import CheckIn, CheckinLink
from alliance.clinic.practice.models import Appointment, Client
from alliance.clinic.registry import instruments
from alliance.clinic.support.suggestions import (
    CHECKIN_DOMAINS,
    DOMAIN_LABELS,
    DOMAINS,
    NEED_LABELS,
    STATUS_LABELS,
    STATUSES,
    Suggestion,
    followup_needs,
    matched,
    strained_domains,
    suggest,
)
from alliance.errors import AllianceError
from alliance.instruments import Instrument, Registry
from alliance.monitoring.attention import ALLIANCE_CLIENT, LABELS, attention

__all__ = [
    "FOLLOWUP",
    "TRIGGER_ALERTS",
    "TRIGGER_REASONS",
    "FollowupDomain",
    "FollowupLine",
    "FollowupUnavailableError",
    "FollowupView",
    "ShownSuggestion",
    "SupportPanel",
    "send_followup",
    "support_panel",
]

FOLLOWUP = FOLLOWUP_INSTRUMENTS[0]
TRIGGER_REASONS: Mapping[str, str] = {
    "alliance-low": "rupture",
    "alliance-drop": "rupture",
    "deterioration": "not-on-track",
}
"""Attention reasons (``attention()`` codes) that open the panel, and the status each one means."""
TRIGGER_ALERTS: Mapping[str, str] = {
    "rupture": "rupture",
    "low_alliance": "rupture",
    "not_on_track": "not-on-track",
    "deterioration": "not-on-track",
}
"""Kinds of open (unresolved) alerts that open the panel, and the status each one means."""

# Which follow-up need belongs to which domain of the questionnaire (for marking concerns by domain).
_NEED_OF_DOMAIN = {
    "relationship": "relationship-strain",
    "motivation": "low-motivation",
    "support": "low-support",
    "life-events": "life-event",
    "culture": "poor-cultural-fit",
}
_DOMAIN_TITLES = {"life-events": "Recent life events"}
_CHECKIN_FIELDS = {
    "client_id": "client",
    "submitted_at": "when",
    "instrument": "instrument",
    "total": "total",
    "risk": "risk",
    "severity": "severity",
    "respondent": "respondent",
    "appointment_id": "appointment",
    "answers": "answers",
    "subscales": "subscales",
    "episode__closed_on": "closed",
}
_APPOINTMENT_FIELDS = {
    "client_id": "client",
    "id": "appointment",
    "starts_at": "when",
    "status": "status",
    "session_number": "session",
}


class FollowupUnavailableError(AllianceError):
    """The follow-up cannot be sent to this client (``message`` says why, for the page)."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


@dataclass(frozen=True)
class FollowupLine:
    """One answered (or skipped) follow-up question."""

    text: str
    answer: str


@dataclass(frozen=True)
class FollowupDomain:
    """One domain of the follow-up: its score (mean, 0-4) where it has one, whether it is a concern, its answers."""

    domain: str
    title: str
    score: float | None
    concern: bool
    lines: tuple[FollowupLine, ...]


@dataclass(frozen=True)
class FollowupView:
    """The latest follow-up the client answered in the current episode, by domain."""

    checkin_when: dt.datetime
    domains: tuple[FollowupDomain, ...]
    needs: tuple[str, ...]


@dataclass(frozen=True)
class ShownSuggestion:
    """A suggestion with why it applies here, in words."""

    suggestion: Suggestion
    because: tuple[str, ...]


@dataclass(frozen=True)
class SupportPanel:
    """What the support panel shows for one client (see :func:`support_panel`)."""

    client_id: int
    triggers: tuple[str, ...]
    statuses: tuple[str, ...]
    domains: tuple[str, ...]
    suggestions: tuple[ShownSuggestion, ...]
    followup: FollowupView | None
    pending_until: dt.datetime | None
    pending_since: dt.datetime | None
    can_send: bool


def support_panel(user: Any, client: Client, *, registry: Registry | None = None) -> SupportPanel | None:
    """Return the support panel for ``client`` as ``user`` sees it, or None when nothing calls for it.

    Only the treating therapist may send the follow-up (``can_send``); supervisors and admins see the rest.
    """
    registry = registry if registry is not None else instruments()
    checkins = _frame(
        CheckIn.objects.visible_to(user).filter(client=client).order_by("submitted_at", "pk"), _CHECKIN_FIELDS
    )
    appointments = _frame(
        Appointment.objects.visible_to(user).filter(client=client).order_by("starts_at", "pk"), _APPOINTMENT_FIELDS
    )
    open_alerts = list(
        Alert.objects.visible_to(user)
        .filter(client=client)
        .exclude(state=Alert.State.RESOLVED)
        .values_list("kind", "details")
    )
    kinds = {kind for kind, _ in open_alerts}
    reasons = attention(checkins, appointments)
    codes = [str(code) for code in reasons["code"]]
    triggers = [LABELS[code] for code in codes if code in TRIGGER_REASONS]
    triggers += [
        f"Open alert: {Alert.Kind(kind).label if kind in Alert.Kind.values else kind.replace('_', ' ')}"
        for kind in sorted(kinds)
        if kind in TRIGGER_ALERTS
    ]
    if not triggers:
        return None
    statuses = {TRIGGER_REASONS[code] for code in codes if code in TRIGGER_REASONS}
    statuses |= {TRIGGER_ALERTS[kind] for kind in kinds if kind in TRIGGER_ALERTS}
    domains = _rupture_domains(open_alerts) or _domains(checkins, registry)
    followup, answers = _followup(checkins, registry)
    needs = followup_needs(answers)
    ranked = suggest(domains, statuses, answers)
    pending = (
        CheckinLink.objects.visible_to(user)
        .filter(
            client=client,
            purpose=CheckinLink.Purpose.FOLLOWUP,
            used_at__isnull=True,
            superseded_at__isnull=True,
            expires_at__gt=timezone.now(),
        )
        .order_by("-created_at")
        .first()
    )
    return SupportPanel(
        client_id=client.pk,
        triggers=tuple(dict.fromkeys(triggers)),
        statuses=tuple(STATUS_LABELS[status] for status in STATUSES if status in statuses),
        domains=tuple(DOMAIN_LABELS[domain] for domain in DOMAINS if domain in domains),
        suggestions=tuple(
            ShownSuggestion(s, matched(s, domains=domains, statuses=statuses, needs=needs)) for s in ranked
        ),
        followup=followup,
        pending_until=pending.expires_at if pending is not None else None,
        pending_since=pending.created_at if pending is not None else None,
        can_send=client.therapist_id == getattr(user, "pk", None),
    )


def send_followup(client: Client, *, by: Any, request: HttpRequest | None = None) -> IssuedLink:
    """Issue a one-time link to the follow-up questionnaire for ``client`` (audited by the link service).

    The caller has checked that ``by`` treats the client. Raises ``FollowupUnavailableError`` when the client has no
    open treatment episode (the answers would have nowhere to go).
    """
    if not client.episodes.filter(closed_on__isnull=True).exists():
        raise FollowupUnavailableError(f"{client.code} has no open treatment episode, so a follow-up cannot be sent.")
    return issue_followup_link(client, by=by, request=request)


def _frame(queryset: Any, fields: Mapping[str, str]) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(list(queryset.values_list(*fields)), columns=list(fields.values()))
    for column in ("total", "appointment", "session"):
        if column in frame.columns:
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    frame["when"] = pd.to_datetime(frame["when"], utc=True)
    return frame


def _rupture_domains(open_alerts: Sequence[tuple[str, Any]]) -> frozenset[str]:
    """Domains named by open rupture alerts (the per-domain detector); empty when none names one."""
    named: set[str] = set()
    for kind, details in open_alerts:
        if kind != "rupture" or not isinstance(details, Mapping):
            continue
        dips = details.get("dips")
        named |= {str(d) for d in dips} if isinstance(dips, Mapping) else {str(details.get("domain"))}
    return frozenset(CHECKIN_DOMAINS[domain] for domain in named if domain in CHECKIN_DOMAINS)


def _domains(checkins: pd.DataFrame, registry: Registry) -> frozenset[str]:
    """Domains in strain at the latest relationship check-in, against the client's earlier ones."""
    rated = checkins[(checkins["instrument"] == ALLIANCE_CLIENT) & (checkins["respondent"] == "client")]
    if rated.empty or ALLIANCE_CLIENT not in registry:
        return frozenset()
    answers: list[dict[str, float | None]] = [dict(a or {}) for a in rated["answers"]]
    return strained_domains(registry.get(ALLIANCE_CLIENT), answers[-1], answers[:-1])


def _followup(checkins: pd.DataFrame, registry: Registry) -> tuple[FollowupView | None, dict[str, float | None] | None]:
    """The latest follow-up answered in an open episode, by domain, and its answers."""
    answered = checkins[(checkins["instrument"] == FOLLOWUP) & checkins["closed"].isna()]
    if answered.empty or FOLLOWUP not in registry:
        return None, None
    latest = answered.iloc[-1]
    answers: dict[str, float | None] = dict(latest["answers"] or {})
    instrument = registry.get(FOLLOWUP)
    needs = followup_needs(answers)
    concerns = {domain for domain, need in _NEED_OF_DOMAIN.items() if need in needs}
    view = FollowupView(
        checkin_when=latest["when"].to_pydatetime(),
        domains=_by_domain(instrument, answers, dict(latest["subscales"] or {}), concerns),
        needs=tuple(NEED_LABELS[need] for need in needs),
    )
    return view, answers


def _by_domain(
    instrument: Instrument,
    answers: Mapping[str, float | None],
    subscales: Mapping[str, float | None],
    concerns: set[str],
) -> tuple[FollowupDomain, ...]:
    titles = {scale.id: scale.title.get("en") or scale.id for scale in instrument.scales}
    order: list[str] = list(dict.fromkeys(item.domain or "" for item in instrument.items))
    return tuple(
        FollowupDomain(
            domain=domain,
            title=_DOMAIN_TITLES.get(domain) or titles.get(domain, domain),
            score=subscales.get(domain),
            concern=domain in concerns,
            lines=_lines([item for item in instrument.items if (item.domain or "") == domain], answers),
        )
        for domain in order
    )


def _lines(items: Sequence[Any], answers: Mapping[str, float | None]) -> tuple[FollowupLine, ...]:
    lines = []
    for item in items:
        value = answers.get(item.id)
        if value is None:
            answer = "not answered"
        else:
            try:
                label = item.option(float(value)).label.get("en") or ""
            except KeyError:
                label = ""
            answer = f"{float(value):g} — {label}" if label else f"{float(value):g}"
        lines.append(FollowupLine(text=item.text.get("en") or item.id, answer=answer))
    return tuple(lines)
