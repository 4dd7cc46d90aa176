"""Raise alerts after each check-in (inside the submitting transaction, so in the same request) and tell the therapist.

:func:`raise_alerts` reads the episode's history (two queries), the practice's rules and expected-response model
(two more), runs :func:`alliance.monitoring.evaluate` and stores what is new:

- an :class:`Alert` per finding of an alerting kind (risk, rupture, low_alliance, floor, sudden_loss,
  not_on_track, dropout, perspective_gap); an :class:`Event` per good-news finding (repair, sudden_gain), shown on
  the chart and never alerting. A repair also notes ``repaired_at`` on its rupture alert, which stays open: only
  the therapist resolves;
- **one row per event**: ``dedup_key`` = ``"<client id>:<finding key>"`` is unique, so a second form of the same
  session, a re-submitted form or a later check-in never stores the same event twice;
- **conditions that persist** (not on track, dropout risk, a domain at the floor, the relationship below its
  cut-off, a perspective gap) alert when they begin: no new alert while an alert of the same kind and at least
  the same severity is open, or covered one of the two sessions before (even if since resolved); that alert
  notes the session in ``details["again_at"]`` instead. A worse level (amber to red) alerts again;
- the milder levels (amber, a moderate dropout risk) are alerts only where the practice asks for them
  (``milder_alerts``).

E-mail: a risk alert is mailed at once (after commit), the others of one check-in in one e-mail; a mail names the
client's code, the kinds and the link, never an answer or a score.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Q

from alliance.clinic.alerts.etr import ETR_INSTRUMENT, practice_model
from alliance.clinic.alerts.history import episode_history
from alliance.clinic.alerts.models import Alert, Event, MonitoringSettings
from alliance.clinic.registry import instruments
from alliance.instruments import Instrument, Registry, Score
from alliance.monitoring.evaluate import Finding, RuleSettings, evaluate

__all__ = ["CONDITION_KINDS", "EVENT_KINDS", "dedup_key", "raise_alerts"]

logger = logging.getLogger(__name__)

EVENT_KINDS = frozenset({Event.Kind.REPAIR, Event.Kind.SUDDEN_GAIN})
"""Findings that are good news: recorded as events for the chart, never as alerts."""
CONDITION_KINDS = frozenset(
    {
        Alert.Kind.NOT_ON_TRACK,
        Alert.Kind.DROPOUT,
        Alert.Kind.FLOOR,
        Alert.Kind.LOW_ALLIANCE,
        Alert.Kind.PERSPECTIVE_GAP,
    }
)
"""Kinds that describe a state which can last many sessions: one open alert at a time (see the module doc)."""

_MESSAGE_MAX = 300
TOTAL = "total"
_DOMAIN_WORDS = {TOTAL: "total", "overall": "overall rating", "safety-boundaries": "safety"}
_CHECKIN_KEY = re.compile(r"checkin-(\d+)$")


def dedup_key(client_id: int, finding_key: str) -> str:
    """Return the stored key of a finding: its ``key`` scoped by the client (one scheme for every kind)."""
    return f"{client_id}:{finding_key}"


def raise_alerts(
    checkin: Any,
    *,
    instrument: Instrument | None = None,
    score: Score | None = None,
    registry: Registry | None = None,
) -> list[Alert]:
    """Evaluate the client's episode after ``checkin`` and store the new alerts and events; return the new alerts.

    Call it inside the transaction that stored ``checkin`` (``submit_checkin`` does). ``instrument`` and
    ``score`` are accepted for the call site; the history is read from the database.
    """
    del instrument, score
    if checkin.appointment_id is None and not checkin.risk:
        return []  # no session: only the risk rule could apply to it (a follow-up, an API post without a session)
    client = checkin.client
    chosen = MonitoringSettings.for_practice(client.practice_id)
    history, ids = episode_history(checkin.episode_id)
    model = (
        practice_model(client.practice_id).model
        if chosen.not_on_track and checkin.appointment_id is not None and checkin.instrument == ETR_INSTRUMENT
        else None
    )
    rules = _rules_for(checkin.instrument, chosen.rules())
    findings = [
        _stored_key(finding, ids)
        for finding in evaluate(history, rules=rules, etr=model, instruments=registry or instruments())
        if chosen.milder_alerts or not _is_milder(finding)
    ]
    if not findings:
        return []
    known = _known(client.pk, findings)
    stored = {alert.dedup_key for alert in known}
    stored |= {dedup_key(client.pk, str(k)) for alert in known for k in (alert.details or {}).get("keys", [])}
    event_keys = [dedup_key(client.pk, f.key) for f in findings if f.kind in EVENT_KINDS]
    if event_keys:
        stored |= set(Event.objects.filter(dedup_key__in=event_keys).values_list("dedup_key", flat=True))
    fresh = [finding for finding in findings if dedup_key(client.pk, finding.key) not in stored]
    raised: list[Alert] = []
    for finding in _merge_ruptures(fresh):
        key = dedup_key(client.pk, finding.key)
        if finding.kind in EVENT_KINDS:
            _record_event(checkin, finding, key)
            if finding.kind == Event.Kind.REPAIR:
                _note_repair(known, finding)
            continue
        holding = _open_condition(known, finding)
        if holding is not None:
            _note_again(holding, finding)
            continue
        alert = _raise(checkin, finding, key)
        if alert is not None:
            raised.append(alert)
    _notify_later(raised)
    return raised


def _known(client_id: int, findings: Sequence[Finding]) -> list[Alert]:
    """The client's alerts these findings may repeat, extend or repair, in one query."""
    sessions = {f.session for f in findings if f.kind == Alert.Kind.RUPTURE}
    sessions |= {int(f.details["rupture_session"]) for f in findings if f.kind == Event.Kind.REPAIR}
    conditions = [f.kind for f in findings if f.kind in CONDITION_KINDS]
    return list(
        Alert.objects.filter(client_id=client_id).filter(
            Q(dedup_key__in=[dedup_key(client_id, f.key) for f in findings])
            | Q(kind=Alert.Kind.RUPTURE, session__in=[s for s in sessions if s is not None])
            | Q(kind__in=conditions)
        )
    )


def _merge_ruptures(findings: Sequence[Finding]) -> list[Finding]:
    """One rupture alert per session: the dips that start together (domains and the total) become one finding.

    A drop across the board dips every domain at once; eight alerts for one bad session would bury the rest. The
    merged finding keeps the key of the total's dip when there is one (else the first domain's), lists every
    finding key in ``details["keys"]`` (so none of them is raised again) and each dip in ``details["dips"]``.
    """
    ruptures: dict[int | None, list[Finding]] = {}
    merged: list[Finding] = []
    for finding in findings:
        if finding.kind == Alert.Kind.RUPTURE:
            ruptures.setdefault(finding.session, []).append(finding)
        else:
            merged.append(finding)
    for session, group in ruptures.items():
        group.sort(key=lambda f: (f.details.get("domain") != TOTAL, str(f.details.get("domain"))))
        dips = {str(f.details.get("domain")): _jsonable(f.details) for f in group}
        domains = [d for d in dips if d != TOTAL]
        parts = [
            f"{_DOMAIN_WORDS.get(d, d)} {float(v['score']):.1f} ({float(v['drop']):.1f} below "
            f"{float(v['baseline']):.1f})"
            for d, v in dips.items()
        ]
        first = group[0]
        merged.append(
            Finding(
                kind=first.kind,
                key=first.key,
                session=session,
                severity=max(f.severity for f in group),
                message=f"Possible rupture at session {session}: " + "; ".join(parts) + ".",
                details={
                    "domain": str(first.details.get("domain")),
                    "domains": domains,
                    "dips": dips,
                    "keys": [f.key for f in group],
                },
            )
        )
    return sorted(merged, key=lambda f: -f.severity)


def _note_repair(known: Iterable[Alert], finding: Finding) -> None:
    """Note on the rupture alert that a dip came back; when all its dips have, note ``repaired_at``."""
    domain, began = str(finding.details.get("domain")), int(finding.details["rupture_session"])
    for alert in known:
        if alert.kind != Alert.Kind.RUPTURE or alert.session != began:
            continue
        details = alert.details or {}
        dips = details.get("dips") or {str(details.get("domain")): {}}
        if domain not in dips:
            continue
        repaired = {**details.get("repaired", {}), domain: finding.session}
        values: dict[str, Any] = {"repaired": repaired}
        if set(dips) <= set(repaired) and alert.repaired_at is None:
            values["repaired_at"] = finding.session
        _note(alert, **values)


_OPEN = (Alert.State.NEW, Alert.State.SEEN, Alert.State.ACTED)


def _rules_for(instrument: str, rules: RuleSettings) -> RuleSettings:
    """Only the rules whose findings the submitted instrument can change (the others ran when theirs came in).

    Every finding is about the latest session and rests on one instrument's scores up to it (dropout risk on
    the appointments and the relationship check-in: it runs every time, as does the risk rule), so a PHQ-9
    cannot start a rupture and a relationship check-in cannot make a sudden loss. It spares the work (and the
    model's query) of rules that cannot find anything new, without changing which events are stored.
    """
    relationship = instrument == rules.alliance_instrument
    cutoffs = {k: v for k, v in rules.sudden_change_cutoffs.items() if k == instrument}
    return replace(
        rules,
        rupture=rules.rupture and relationship,
        cutoff=rules.cutoff and relationship,
        floor=rules.floor and relationship,
        sudden_change=rules.sudden_change and bool(cutoffs),
        sudden_change_cutoffs=MappingProxyType(cutoffs),
        not_on_track=rules.not_on_track and instrument == rules.etr_instrument,
        perspective_gap=rules.perspective_gap and instrument in (rules.alliance_instrument, rules.therapist_instrument),
    )


def _is_milder(finding: Finding) -> bool:
    """Amber (not on track, not red) and a moderate dropout risk: alerts only where the practice asks for them."""
    if finding.kind == Alert.Kind.NOT_ON_TRACK:
        return finding.details.get("status") == "amber"
    return finding.kind == Alert.Kind.DROPOUT and finding.details.get("level") == "moderate"


def _stored_key(finding: Finding, ids: tuple[int, ...]) -> Finding:
    """A risk finding without a session is keyed by its check-in's ``order``: store the check-in id instead."""
    if finding.kind != Alert.Kind.RISK or finding.session is not None:
        return finding
    found = _CHECKIN_KEY.search(finding.key)
    if found is None or int(found.group(1)) >= len(ids):
        return finding
    key = finding.key[: found.start()] + f"checkin-{ids[int(found.group(1))]}"
    return Finding(finding.kind, key, finding.session, finding.severity, finding.message, finding.details)


def _open_condition(known: Iterable[Alert], finding: Finding) -> Alert | None:
    """The alert of the same lasting condition, at least as severe, that this finding continues (or None).

    It continues an alert that is still open, or one that covered (raised at, or noted again at) one of the two
    sessions before this one: the condition did not go away, so it did not begin again.
    """
    if finding.kind not in CONDITION_KINDS:
        return None
    session = finding.session
    for alert in sorted(known, key=lambda a: (not a.is_open, -(a.session or 0))):
        if alert.kind != finding.kind or alert.severity < finding.severity:
            continue
        covered = {alert.session, *_again(alert)}
        if alert.is_open or (
            session is not None and any(s is not None and session - 2 <= s <= session for s in covered)
        ):
            return alert
    return None


def _again(alert: Alert) -> list[int]:
    return [int(s) for s in (alert.details or {}).get("again_at", []) if isinstance(s, int | float)]


def _note_again(alert: Alert, finding: Finding) -> None:
    again = _again(alert)
    if finding.session is not None and finding.session not in again and finding.session != alert.session:
        _note(alert, again_at=sorted({*again, finding.session}))


def _note(alert: Alert, **values: Any) -> None:
    """Add ``values`` to an alert's details without touching its state (nor its ``updated_at``)."""
    alert.details = {**(alert.details or {}), **values}
    Alert.objects.filter(pk=alert.pk).update(details=alert.details)


def _raise(checkin: Any, finding: Finding, key: str) -> Alert | None:
    try:
        with transaction.atomic():
            return Alert.objects.create(
                client_id=checkin.client_id,
                checkin=checkin,
                kind=finding.kind,
                severity=finding.severity,
                session=finding.session,
                message=finding.message[:_MESSAGE_MAX],
                details=_jsonable(finding.details),
                dedup_key=key,
            )
    except IntegrityError:
        return None  # raised meanwhile by a concurrent request: one alert per event


def _record_event(checkin: Any, finding: Finding, key: str) -> None:
    try:
        with transaction.atomic():
            Event.objects.create(
                client_id=checkin.client_id,
                checkin=checkin,
                kind=finding.kind,
                session=finding.session,
                message=finding.message[:_MESSAGE_MAX],
                details=_jsonable(finding.details),
                dedup_key=key,
            )
    except IntegrityError:
        pass


def _jsonable(value: Any) -> Any:
    """Finding details as JSON: mappings to objects, tuples to lists, numpy numbers to Python, NaN to null."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if hasattr(value, "item"):  # numpy scalar
        value = value.item()
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, int):
        return value
    return str(value)


# --- e-mail ---------------------------------------------------------------------------------------------------------


def _notify_later(raised: list[Alert]) -> None:
    risk = [alert for alert in raised if alert.kind == Alert.Kind.RISK]
    others = [alert for alert in raised if alert.kind != Alert.Kind.RISK]
    for alert in risk:
        transaction.on_commit(lambda alert=alert: _notify([alert]))  # type: ignore[misc]
    if others:
        transaction.on_commit(lambda: _notify(others))


def _notify(alerts: list[Alert]) -> None:
    """E-mail the treating therapist: the client's code, the kinds and the link; no scores or answers."""
    client = alerts[0].client
    therapist = client.therapist
    if not therapist.email:
        return
    labels = list(dict.fromkeys(alert.get_kind_display() for alert in alerts))
    subject = (
        f"[alliance] {labels[0]} — client {client.code}"
        if len(labels) == 1
        else f"[alliance] {len(labels)} new alerts — client {client.code}"
    )
    lines = "".join(f"- {label}\n" for label in labels)
    try:
        send_mail(
            subject=subject,
            message=f"{'New alerts' if len(labels) > 1 else 'A new alert'} for client {client.code} "
            f"{'need' if len(labels) > 1 else 'needs'} your attention:\n"
            f"{lines}Open alliance: {settings.PUBLIC_URL}/clients/{client.pk}/\n",
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[therapist.email],
        )
    except OSError:
        logger.warning("alert e-mail could not be sent (alerts %s)", ", ".join(str(a.pk) for a in alerts))
