"""Caseload, client page and alert lifecycle services: a fixed number of queries, then pandas.

Every query goes through ``visible_to(user)``. A caseload costs four queries (clients, check-ins, appointments,
open alerts) whatever its size; the attention rules run once over the whole table
(:func:`alliance.monitoring.attention.attention`), so a row never triggers a query of its own.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from alliance.change.talking_therapies import GAD7_CASENESS, PHQ9_CASENESS, PHQ9_MAX
from alliance.clinic.accounts.models import Role, User
from alliance.clinic.alerts.etr import ModelInUse, practice_model
from alliance.clinic.alerts.models import Alert, Event
from alliance.clinic.checkins.models import CheckIn
from alliance.clinic.practice.charts import (
    Annotation,
    Band,
    Envelope,
    Panel,
    Reference,
    Series,
    Svg,
    line_chart,
    sparkline,
)
from alliance.clinic.practice.models import Appointment, Client, ClientIdentity
from alliance.errors import AllianceError
from alliance.instruments import Instrument, Registry, UnknownInstrumentError
from alliance.monitoring.attention import (
    ALLIANCE_CLIENT,
    ALLIANCE_THERAPIST,
    GAD7,
    PHQ9,
    ChangeSoFar,
    DomainGap,
    Reason,
    Thresholds,
    alliance_cutoff,
    attention,
    change_so_far,
    rating_gap,
)
from alliance.monitoring.expected import ExpectedResponse

__all__ = [
    "ALERT_TRANSITIONS",
    "AlertTransitionError",
    "AlertView",
    "AnswerLine",
    "AppointmentView",
    "CaseloadData",
    "CaseloadRow",
    "CheckinView",
    "ClientPage",
    "GapView",
    "OpenAlert",
    "Score",
    "caseload_rows",
    "client_page",
    "load_caseload",
    "open_alerts",
    "reasons_by_client",
    "team_therapists",
    "update_alert",
]

PHQ9_COLOUR, GAD7_COLOUR = "#0b5cad", "#7a4b00"
EXPECTED_FILL, DIP_COLOUR = "#dbe7f5", "#a3231b"
ALLIANCE_COLOUR, THERAPIST_COLOUR = "#1d6b35", "#4a5561"
# Light fills, darker with severity; each band is also named in the chart, so colour is never the only cue.
BAND_FILLS = ("#f3f6f9", "#eef2f6", "#fdf3dc", "#fbe6cf", "#f9dede")
INK_DARK = "#1b1f24"
SHORT_BANDS = {"below-cutoff": "below cut-off", "at-or-above-cutoff": "at or above cut-off"}

_CHECKIN_FIELDS = {
    "id": "checkin",
    "client_id": "client",
    "appointment_id": "appointment",
    "appointment__session_number": "session",
    "instrument": "instrument",
    "total": "total",
    "risk": "risk",
    "severity": "severity",
    "respondent": "respondent",
    "status": "status",
    "submitted_at": "when",
}
_APPOINTMENT_FIELDS = {
    "id": "appointment",
    "client_id": "client",
    "starts_at": "when",
    "status": "status",
    "session_number": "session",
}
_ALERT_FIELDS = {
    "id": "alert",
    "client_id": "client",
    "kind": "kind",
    "state": "state",
    "message": "message",
    "raised_at": "raised_at",
    "severity": "severity",
    "session": "alert_session",
    "details": "details",
}
# Open alerts of the monitoring kinds become caseload reasons (attention() itself knows risk, deterioration and
# low_alliance alerts); the badge says the kind in words, the detail is the alert's message.
ALERT_REASON_LABELS: Mapping[str, str] = {
    "rupture": "Possible rupture",
    "not_on_track": "Not on track",
    "sudden_loss": "Sudden loss",
    "floor": "Relationship domain very low",
    "dropout": "Dropout risk",
    "perspective_gap": "Client and therapist differ",
}
DOMAIN_WORDS: Mapping[str, str] = {
    "total": "total score",
    "overall": "overall rating",
    "safety-boundaries": "safety",
    "cultural-respect": "cultural respect",
}
_CLIENT_FIELDS = {"id": "client", "code": "code", "therapist_id": "therapist"}


# --- loading ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseloadData:
    """The visible clients with their check-ins, appointments and open alerts, one table each."""

    clients: pd.DataFrame
    checkins: pd.DataFrame
    appointments: pd.DataFrame
    alerts: pd.DataFrame


def _frame(queryset: QuerySet[Any], fields: Mapping[str, str]) -> pd.DataFrame:
    """Run ``queryset`` once and return its ``fields`` as columns renamed to the attention tables' names."""
    frame = pd.DataFrame.from_records(list(queryset.values_list(*fields)), columns=list(fields.values()))
    for column in ("total", "session", "appointment"):
        if column in frame.columns:
            # Missing numbers become NaN, so that every id and score column is a float column.
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    for column in ("when", "raised_at"):
        if column in frame.columns:
            frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def _fill_sessions(checkins: pd.DataFrame, appointments: pd.DataFrame) -> pd.DataFrame:
    """Give a check-in made outside an appointment (API, import) the session number of the latest one before it."""
    missing = checkins["session"].isna()
    if not missing.any() or appointments.empty:
        return checkins
    left = checkins.loc[missing, ["client", "when"]].reset_index().sort_values("when", kind="stable")
    right = appointments[["client", "when", "session"]].sort_values("when", kind="stable")
    merged = pd.merge_asof(left, right, on="when", by="client", direction="backward")
    filled = checkins.copy()
    filled.loc[merged["index"].to_numpy(), "session"] = merged["session"].to_numpy(dtype=float)
    return filled


def load_caseload(user: Any, *, therapist_id: int | None = None) -> CaseloadData:
    """Load what ``user`` may see (only ``therapist_id``'s clients when given) in four queries."""
    clients = Client.objects.visible_to(user).filter(erased_at__isnull=True)  # an erased client is no longer in care
    checkins = CheckIn.objects.visible_to(user)
    appointments = Appointment.objects.visible_to(user)
    alerts = Alert.objects.visible_to(user).exclude(state=Alert.State.RESOLVED)
    if therapist_id is not None:
        clients = clients.filter(therapist_id=therapist_id)
        checkins = checkins.filter(client__therapist_id=therapist_id)
        appointments = appointments.filter(client__therapist_id=therapist_id)
        alerts = alerts.filter(client__therapist_id=therapist_id)
    appointment_frame = _frame(appointments.order_by("client_id", "starts_at", "pk"), _APPOINTMENT_FIELDS)
    checkin_frame = _frame(checkins.order_by("client_id", "submitted_at", "pk"), _CHECKIN_FIELDS)
    return CaseloadData(
        clients=_frame(clients.order_by("code"), _CLIENT_FIELDS),
        checkins=_fill_sessions(checkin_frame, appointment_frame),
        appointments=appointment_frame,
        alerts=_frame(alerts.order_by("-raised_at"), _ALERT_FIELDS),
    )


def team_therapists(user: Any) -> QuerySet[User]:
    """Return the therapists whose caseloads ``user`` oversees: a supervisor's teams, an admin's practice.

    Anyone whose clients ``user`` can see is included too (a supervisor who also treats clients), so the team
    page never hides a visible client. Therapists oversee nobody: the queryset is empty.
    """
    if not getattr(user, "is_authenticated", False) or user.practice_id is None:
        return User.objects.none()
    treating = Q(pk__in=Client.objects.visible_to(user).values("therapist_id"))
    if user.role == Role.ADMIN:
        scope = Q(role=Role.THERAPIST) | treating
    elif user.role == Role.SUPERVISOR:
        scope = Q(team__supervisor_id=user.pk) | treating
    else:
        return User.objects.none()
    return User.objects.filter(scope, practice_id=user.practice_id, is_active=True).distinct()


# --- caseload rows ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Score:
    """A latest score as shown in a row: the total and the name of its severity band."""

    total: float
    band: str

    def __str__(self) -> str:
        return f"{self.total:g}" if float(self.total).is_integer() else f"{self.total:.1f}"


@dataclass(frozen=True)
class CaseloadRow:
    client_id: int
    code: str
    therapist_id: int
    reasons: tuple[Reason, ...]
    severity: int
    phq9: Score | None
    gad7: Score | None
    alliance: Score | None
    sessions: int
    last_checkin: dt.datetime | None
    open_alerts: int
    phq9_trend: Svg
    alliance_trend: Svg


def _band_labels(registry: Registry) -> dict[tuple[str, str], str]:
    labels = {}
    for instrument in registry:
        for band in instrument.severity:
            text = band.label.get("en") or band.id
            labels[(instrument.id, band.id)] = SHORT_BANDS.get(band.id, text)
    return labels


def reasons_by_client(reasons: pd.DataFrame) -> dict[Any, tuple[Reason, ...]]:
    """Group a table from :func:`attention` into each client's reasons, most severe first."""
    grouped: dict[Any, list[Reason]] = {}
    for client, code, severity, label, detail in reasons[["client", "code", "severity", "label", "detail"]].itertuples(
        index=False
    ):
        grouped.setdefault(client, []).append(Reason(str(code), int(severity), str(label), str(detail)))
    return {client: tuple(found) for client, found in grouped.items()}


def caseload_rows(
    data: CaseloadData, *, registry: Registry, thresholds: Thresholds = Thresholds()
) -> list[CaseloadRow]:
    """Return one row per client: those needing attention first (highest severity), then most recent check-in."""
    reasons = reasons_by_client(
        attention(data.checkins, data.appointments, open_alerts=data.alerts, thresholds=thresholds)
    )
    reasons = _with_alert_reasons(reasons, data.alerts)
    scored = data.checkins[data.checkins["total"].notna()].sort_values(["client", "when"], kind="stable")
    latest = scored.groupby(["client", "instrument"], sort=False).tail(1)
    latest_scores = {
        (client, instrument): (float(total), str(severity))
        for client, instrument, total, severity in latest[["client", "instrument", "total", "severity"]].itertuples(
            index=False
        )
    }
    trends = {
        instrument: scored[scored["instrument"] == instrument].groupby("client")["total"].agg(list).to_dict()
        for instrument in (PHQ9, ALLIANCE_CLIENT)
    }
    last_checkin = data.checkins.groupby("client")["when"].max().to_dict()
    sessions = data.appointments[data.appointments["status"] == "attended"].groupby("client").size().to_dict()
    alert_counts = data.alerts.groupby("client").size().to_dict()
    bands = _band_labels(registry)
    cutoff = _alliance_cutoff(registry)

    def score(client: Any, instrument: str) -> Score | None:
        found = latest_scores.get((client, instrument))
        return None if found is None else Score(found[0], bands.get((instrument, found[1]), found[1]))

    rows = []
    for client, code, therapist in data.clients[["client", "code", "therapist"]].itertuples(index=False):
        mine = reasons.get(client, ())
        when = last_checkin.get(client)
        rows.append(
            CaseloadRow(
                client_id=int(client),
                code=str(code),
                therapist_id=int(therapist),
                reasons=mine,
                severity=max((r.severity for r in mine), default=0),
                phq9=score(client, PHQ9),
                gad7=score(client, GAD7),
                alliance=score(client, ALLIANCE_CLIENT),
                sessions=int(sessions.get(client, 0)),
                last_checkin=None if when is None or pd.isna(when) else when.to_pydatetime(),
                open_alerts=int(alert_counts.get(client, 0)),
                phq9_trend=sparkline(
                    trends[PHQ9].get(client, []),
                    minimum=0,
                    maximum=PHQ9_MAX,
                    label=f"PHQ-9 trend of {code}",
                    colour=PHQ9_COLOUR,
                    reference=PHQ9_CASENESS,
                ),
                alliance_trend=sparkline(
                    trends[ALLIANCE_CLIENT].get(client, []),
                    minimum=0,
                    maximum=10,
                    label=f"Alliance trend of {code}",
                    colour=ALLIANCE_COLOUR,
                    reference=cutoff,
                ),
            )
        )
    rows.sort(key=lambda r: (-r.severity, -(r.last_checkin.timestamp() if r.last_checkin else -math.inf), r.code))
    return rows


def _alert_label(kind: str, details: Sequence[Mapping[str, Any]]) -> str:
    """The badge of one client's open alerts of one kind: the kind in words, with the domains of a rupture."""
    label = ALERT_REASON_LABELS[kind]
    if kind == "rupture":
        domains = [domain for d in details for domain in _dipped(d)]
        named = [d for d in domains if d != "total"] or domains  # the domains; the total when no domain dipped
        words = list(dict.fromkeys(DOMAIN_WORDS.get(d, d) for d in named))
        return f"{label}: {', '.join(words)}" if words else label
    if kind == "not_on_track":
        statuses = {str(d.get("status")) for d in details}
        return f"{label} (red)" if "red" in statuses else f"{label} (amber)" if "amber" in statuses else label
    return label


def _dipped(details: Mapping[str, Any]) -> list[str]:
    """The domains of a rupture alert: those of its dips (a merged alert), else its one domain."""
    dips = details.get("dips")
    if isinstance(dips, Mapping) and dips:
        # the total first, then the domains by name (PostgreSQL's jsonb does not keep the keys' order)
        return sorted((str(d) for d in dips), key=lambda d: (d != "total", d))
    return [str(details["domain"])] if details.get("domain") else []


def _with_alert_reasons(
    reasons: Mapping[Any, tuple[Reason, ...]], alerts: pd.DataFrame
) -> dict[Any, tuple[Reason, ...]]:
    """Add one reason per client and open alert kind of the monitoring kinds, most severe first."""
    merged = {client: list(found) for client, found in reasons.items()}
    shown = alerts[alerts["kind"].isin(list(ALERT_REASON_LABELS))] if len(alerts) else alerts
    for (client, kind), group in shown.groupby(["client", "kind"], sort=False) if len(shown) else ():
        details = [d if isinstance(d, Mapping) else {} for d in group["details"]]
        merged.setdefault(client, []).append(
            Reason(
                code=f"alert:{kind}",
                severity=int(group["severity"].max()),
                label=_alert_label(str(kind), details),
                detail="; ".join(dict.fromkeys(str(m) for m in group["message"])),
            )
        )
    return {
        client: tuple(sorted(found, key=lambda r: -r.severity))  # stable: attention's order within a severity
        for client, found in merged.items()
    }


def _alliance_cutoff(registry: Registry) -> float | None:
    try:
        return alliance_cutoff(registry.get(ALLIANCE_CLIENT))
    except (UnknownInstrumentError, KeyError):
        return None


@dataclass(frozen=True)
class OpenAlert:
    alert_id: int
    client_id: int
    code: str
    kind: str
    kind_label: str
    state: str
    state_label: str
    message: str
    raised_at: dt.datetime
    severity: int = 2
    repaired_at: int | None = None


def open_alerts(data: CaseloadData) -> list[OpenAlert]:
    """Return the unresolved alerts of the loaded clients: risk first, then the most severe, then the newest."""
    codes = dict(zip(data.clients["client"], data.clients["code"], strict=True))
    kinds, states = dict(Alert.Kind.choices), dict(Alert.State.choices)
    columns = ["alert", "client", "kind", "state", "message", "raised_at", "severity", "details"]
    found = [
        OpenAlert(
            alert_id=int(alert),
            client_id=int(client),
            code=str(codes.get(client, "")),
            kind=str(kind),
            kind_label=str(kinds.get(kind, kind)),
            state=str(state),
            state_label=str(states.get(state, state)),
            message=str(message),
            raised_at=raised.to_pydatetime(),
            severity=int(severity),
            repaired_at=_repaired_at(details),
        )
        for alert, client, kind, state, message, raised, severity, details in data.alerts[columns].itertuples(
            index=False
        )
    ]
    found.sort(key=lambda a: (a.kind != Alert.Kind.RISK, -a.severity, -a.raised_at.timestamp()))
    return found


def _repaired_at(details: Any) -> int | None:
    value = details.get("repaired_at") if isinstance(details, Mapping) else None
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


# --- the client page ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AnswerLine:
    item: str
    text: str
    answer: str


@dataclass(frozen=True)
class CheckinView:
    checkin_id: int
    instrument: str
    title: str
    when: dt.datetime
    session: int | None
    total: str
    band: str
    respondent: str
    risk: bool
    status: str
    answers: tuple[AnswerLine, ...]


@dataclass(frozen=True)
class AppointmentView:
    appointment_id: int
    session: int
    starts_at: dt.datetime
    status: str
    status_label: str
    can_check_in: bool


@dataclass(frozen=True)
class AlertView:
    alert_id: int
    kind: str
    kind_label: str
    state: str
    state_label: str
    message: str
    raised_at: dt.datetime
    action_taken: str
    transitions: tuple[str, ...]
    severity: int = 2
    session: int | None = None
    repaired_at: int | None = None
    again_at: tuple[int, ...] = ()


@dataclass(frozen=True)
class Mark:
    """A monitoring event on the chart: a rupture dip, a repair, a sudden gain or loss, said in words."""

    symbol: str  # dip | repair | gain | loss
    session: int
    text: str
    instrument: str = ALLIANCE_CLIENT
    from_session: int | None = None
    pre: float | None = None
    post: float | None = None


@dataclass(frozen=True)
class ProgressView:
    """The expected-response model in use for the practice, and the client's latest PHQ-9 against it."""

    model: str
    kind: str
    stored: bool
    session: int | None = None
    status: str = ""
    expected: float | None = None
    lower: float | None = None
    upper: float | None = None


@dataclass(frozen=True)
class GapView:
    """The latest session both forms were filled in, item by item."""

    session: int | None
    when: dt.datetime
    rows: tuple[tuple[DomainGap, str], ...]
    client_total: float | None
    therapist_total: float | None

    @property
    def any_flagged(self) -> bool:
        return any(gap.flagged for gap, _ in self.rows)


@dataclass(frozen=True)
class ClientPage:
    client: Client
    name: str | None
    reasons: tuple[Reason, ...]
    alerts: tuple[AlertView, ...]
    closed_alerts: tuple[AlertView, ...]
    chart: Svg
    table: tuple[tuple[int, str, str, str, str, str, str], ...]
    checkins: tuple[CheckinView, ...]
    gap: GapView | None
    change: ChangeSoFar
    upcoming: tuple[AppointmentView, ...]
    recent: tuple[AppointmentView, ...]
    sessions: int
    progress: ProgressView | None = None
    marks: tuple[Mark, ...] = ()


def client_page(user: Any, client: Client, *, registry: Registry, thresholds: Thresholds = Thresholds()) -> ClientPage:
    """Assemble everything the client page shows about ``client`` (already fetched through ``visible_to``)."""
    checkins = _frame(
        CheckIn.objects.visible_to(user).filter(client=client).order_by("submitted_at", "pk"),
        {**_CHECKIN_FIELDS, "answers": "answers"},
    )
    appointments = _frame(
        Appointment.objects.visible_to(user).filter(client=client).order_by("starts_at", "pk"), _APPOINTMENT_FIELDS
    )
    checkins = _fill_sessions(checkins, appointments)
    alerts = list(Alert.objects.visible_to(user).filter(client=client).order_by("-raised_at", "-pk"))
    name = None
    if client.therapist_id == getattr(user, "pk", None):
        name = ClientIdentity.objects.visible_to(user).filter(client=client).values_list("name", flat=True).first()

    open_frame = pd.DataFrame(
        {"client": [a.client_id for a in alerts if a.is_open], "kind": [a.kind for a in alerts if a.is_open]}
    )
    found = attention(checkins, appointments, open_alerts=open_frame, thresholds=thresholds)
    still_open = [a for a in alerts if a.is_open]
    reasons = _with_alert_reasons(
        reasons_by_client(found),
        pd.DataFrame(
            {
                "client": [a.client_id for a in still_open],
                "kind": [a.kind for a in still_open],
                "severity": [a.severity for a in still_open],
                "message": [a.message for a in still_open],
                "details": [a.details for a in still_open],
            }
        ),
    )
    views = [_alert_view(alert) for alert in alerts]
    events = list(
        Event.objects.visible_to(user)
        .filter(client=client)
        .order_by("session", "pk")
        .values_list("kind", "session", "details")
    )
    marks = _marks(alerts, events)
    in_use = practice_model(client.practice_id)
    expected = _expected(checkins, in_use.model)
    return ClientPage(
        client=client,
        name=name,
        reasons=reasons.get(client.pk, ()),
        alerts=tuple(v for v in views if v.state != Alert.State.RESOLVED),
        closed_alerts=tuple(v for v in views if v.state == Alert.State.RESOLVED),
        chart=_client_chart(checkins, registry=registry, code=client.code, expected=expected, marks=marks),
        table=_chart_table(checkins, expected=expected, marks=marks),
        checkins=tuple(reversed([_checkin_view(row, registry) for row in checkins.itertuples(index=False)])),
        gap=_gap(checkins, registry),
        change=change_so_far(checkins),
        upcoming=_appointments(appointments, upcoming=True),
        recent=_appointments(appointments, upcoming=False),
        sessions=int((appointments["status"] == "attended").sum()),
        progress=_progress(checkins, in_use),
        marks=marks,
    )


# --- monitoring on the chart: the expected band, dips, repairs, sudden changes -----------------------------------

_DOMAIN_WORDS = {"total": "the total score", **{k: v for k, v in DOMAIN_WORDS.items() if k != "total"}}


def _domain(details: Mapping[str, Any]) -> str:
    """The dipped domains in words: "bond, goals and the relationship overall"."""
    words = [_DOMAIN_WORDS.get(d, d) for d in (_dipped(details) or ["total"])]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _marks(alerts: Sequence[Alert], events: Sequence[tuple[str, int | None, Any]]) -> tuple[Mark, ...]:
    """Chart marks from the rupture and sudden-loss alerts (any state) and the repair and sudden-gain events."""
    found: list[Mark] = []
    for alert in sorted(alerts, key=lambda a: (a.session or 0, a.pk)):
        details = alert.details if isinstance(alert.details, Mapping) else {}
        if alert.session is None:
            continue
        if alert.kind == Alert.Kind.RUPTURE:
            back = f"; repaired at session {alert.repaired_at}" if alert.repaired_at is not None else ""
            found.append(Mark("dip", alert.session, f"Possible rupture in {_domain(details)}{back}"))
        elif alert.kind == Alert.Kind.SUDDEN_LOSS:
            found.append(_sudden("loss", details, alert.session))
    repaired: dict[tuple[int, Any], list[str]] = {}
    for kind, session, details in events:
        details = details if isinstance(details, Mapping) else {}
        if session is None:
            continue
        if kind == Event.Kind.REPAIR:
            repaired.setdefault((int(session), details.get("rupture_session")), []).extend(_dipped(details))
        elif kind == Event.Kind.SUDDEN_GAIN:
            found.append(_sudden("gain", details, int(session)))
    for (session, started), domains in repaired.items():
        words = _domain({"dips": dict.fromkeys(domains)})
        found.append(Mark("repair", session, f"Repaired: {words} back after the dip at session {started}"))
    return tuple(found)


def _sudden(symbol: str, details: Mapping[str, Any], session: int) -> Mark:
    instrument = str(details.get("instrument", PHQ9))
    name = {PHQ9: "PHQ-9", GAD7: "GAD-7"}.get(instrument, instrument)
    start, end = details.get("from_session"), details.get("to_session")
    pre, post = details.get("pre"), details.get("post")
    return Mark(
        symbol,
        int(end) if isinstance(end, int | float) else session,
        f"Sudden {symbol} on the {name} (sessions {start}–{end})",
        instrument=instrument,
        from_session=int(start) if isinstance(start, int | float) else None,
        pre=float(pre) if isinstance(pre, int | float) else None,
        post=float(post) if isinstance(post, int | float) else None,
    )


def _phq9_by_session(checkins: pd.DataFrame) -> pd.Series:
    """The client's PHQ-9 by session (the latest form of each session)."""
    rows = checkins[(checkins["instrument"] == PHQ9) & checkins["total"].notna() & checkins["session"].notna()]
    return rows.groupby("session")["total"].last()


def _expected(checkins: pd.DataFrame, model: ExpectedResponse) -> pd.DataFrame | None:
    """The expected PHQ-9 band for this client's intake over the sessions of their PHQ-9 scores (None: no intake)."""
    scores = _phq9_by_session(checkins)
    if 1.0 not in scores.index:
        return None
    sessions = range(1, int(scores.index.max()) + 1)
    band = model.band(float(scores.loc[1.0]), sessions=sessions)
    # The rational rule's band is intake +- the reliable change: keep it on the scale.
    columns = ["expected", "lower", "upper", "amber"]
    band[columns] = band[columns].clip(lower=0, upper=PHQ9_MAX)
    return band


def _progress(checkins: pd.DataFrame, in_use: ModelInUse) -> ProgressView:
    view = ProgressView(model=in_use.description, kind=in_use.kind, stored=in_use.stored)
    scores = _phq9_by_session(checkins)
    if 1.0 not in scores.index or len(scores) < 2:
        return view
    frame = pd.DataFrame({"id": 0, "time": scores.index.astype(int), "score": scores.to_numpy(dtype=float)})
    latest = int(scores.index.max())
    flagged = in_use.model.flag(frame, id="id", time="time", score="score", at=latest)
    if flagged.empty:
        return view
    row = flagged.iloc[0]
    return replace(
        view,
        session=latest,
        status=str(row["status"]),
        expected=float(row["expected"]),
        lower=float(row["lower"]),
        upper=float(row["upper"]),
    )


def _points(checkins: pd.DataFrame, instrument: str) -> tuple[tuple[float, float], ...]:
    rows = checkins[(checkins["instrument"] == instrument) & checkins["total"].notna() & checkins["session"].notna()]
    return tuple((float(s), float(t)) for s, t in rows[["session", "total"]].to_numpy(dtype=float))


def _session_ticks(sessions: Sequence[float]) -> list[tuple[float, str]]:
    if not sessions:
        return [(1.0, "1")]
    low, high = int(min(sessions)), int(max(sessions))
    step = 1 if high - low <= 16 else 2 if high - low <= 32 else 5
    return [(float(n), str(n)) for n in range(low, high + 1, step)]


def _client_chart(
    checkins: pd.DataFrame,
    *,
    registry: Registry,
    code: str,
    expected: pd.DataFrame | None = None,
    marks: Sequence[Mark] = (),
) -> Svg:
    phq9, gad7 = _points(checkins, PHQ9), _points(checkins, GAD7)
    rated, mirrored = _points(checkins, ALLIANCE_CLIENT), _points(checkins, ALLIANCE_THERAPIST)
    envelopes: tuple[Envelope, ...] = ()
    if expected is not None and len(expected):
        envelopes = (
            Envelope(
                "Expected PHQ-9 (10th–90th percentile)",
                tuple(
                    (float(s), float(lo), float(mid), float(hi))
                    for s, lo, mid, hi in expected[["session", "lower", "expected", "upper"]].to_numpy(dtype=float)
                ),
                colour=PHQ9_COLOUR,
                fill=EXPECTED_FILL,
            ),
        )
    outcome_notes, relationship_notes = _annotations(marks, checkins)
    bands: tuple[Band, ...] = ()
    if PHQ9 in registry:
        severity = registry.get(PHQ9).severity
        bands = tuple(
            Band(
                lower=band.lower,
                upper=severity[i + 1].lower if i + 1 < len(severity) else band.upper,
                label=f"PHQ-9 {(band.label.get('en') or band.id).lower()}",
                fill=BAND_FILLS[min(i, len(BAND_FILLS) - 1)],
            )
            for i, band in enumerate(severity)
        )
    cutoff = _alliance_cutoff(registry)
    outcome = Panel(
        title="Outcome: PHQ-9 (depression) and GAD-7 (anxiety), lower is better",
        y_label="Score",
        y_min=0,
        y_max=PHQ9_MAX,
        y_ticks=(0, 5, 10, 15, 20, 27),
        series=(
            Series("PHQ-9", phq9, PHQ9_COLOUR, marker="circle"),
            Series("GAD-7", gad7, GAD7_COLOUR, marker="square", dashed=True),
        ),
        bands=bands,
        references=(
            Reference(PHQ9_CASENESS, f"PHQ-9 caseness {PHQ9_CASENESS}", PHQ9_COLOUR),
            Reference(GAD7_CASENESS, f"GAD-7 caseness {GAD7_CASENESS}", GAD7_COLOUR),
        ),
        envelopes=envelopes,
        annotations=outcome_notes,
    )
    relationship = Panel(
        title="Alliance: relationship check-in (0-10), higher is better",
        y_label="Mean of items",
        y_min=0,
        y_max=10,
        y_ticks=(0, 2, 4, 6, 8, 10),
        series=(
            Series("Client", rated, ALLIANCE_COLOUR, marker="triangle"),
            Series("Therapist (mirror form)", mirrored, THERAPIST_COLOUR, marker="diamond", dashed=True),
        ),
        references=() if cutoff is None else (Reference(cutoff, f"Provisional cut-off {cutoff:g}", INK_DARK),),
        annotations=relationship_notes,
    )
    sessions = [x for series in (phq9, gad7, rated, mirrored) for x, _ in series]
    return line_chart(
        [outcome, relationship],
        title=f"Scores of {code} by session",
        description=(
            "Two panels share the session axis. Top: PHQ-9 (circles, solid line) and GAD-7 (squares, dashed line) "
            f"with the PHQ-9 severity bands shaded and the caseness cut-offs (PHQ-9 {PHQ9_CASENESS}, GAD-7 "
            f"{GAD7_CASENESS}) as dashed lines. Bottom: the relationship check-in of the client (triangles) and the "
            "therapist's mirror form (diamonds) with the provisional cut-off. "
            + ("Behind the PHQ-9, the expected range of similar clients (shaded, median dashed). " if envelopes else "")
            + (
                "Marks: a downward triangle for a possible rupture, a ring for a repair, a thick segment for a "
                "sudden gain or loss. "
                if marks
                else ""
            )
            + "The table below lists every value and event."
        ),
        x_label="Session",
        x_ticks=_session_ticks(sessions),
        chart_id=f"client-chart-{code}".replace(" ", "-"),
    )


def _annotations(
    marks: Sequence[Mark], checkins: pd.DataFrame
) -> tuple[tuple[Annotation, ...], tuple[Annotation, ...]]:
    """Place the marks on the lines: dips and repairs on the client's relationship line, sudden changes on theirs."""
    lines = {instrument: dict(_points(checkins, instrument)) for instrument in (PHQ9, GAD7, ALLIANCE_CLIENT)}
    colours = {PHQ9: PHQ9_COLOUR, GAD7: GAD7_COLOUR}
    outcome: list[Annotation] = []
    relationship: list[Annotation] = []
    grouped: dict[tuple[str, int], list[str]] = {}
    for mark in marks:
        if mark.symbol in ("dip", "repair"):
            grouped.setdefault((mark.symbol, mark.session), []).append(mark.text)
            continue
        y = lines.get(mark.instrument, {}).get(float(mark.session), mark.post)
        if y is None:
            continue
        y_from = lines.get(mark.instrument, {}).get(float(mark.from_session or mark.session), mark.pre)
        outcome.append(
            Annotation(
                "gain" if mark.symbol == "gain" else "loss",
                float(mark.session),
                float(y),
                mark.text,
                colour=colours.get(mark.instrument, INK_DARK),
                x_from=float(mark.from_session) if mark.from_session is not None else None,
                y_from=float(y_from) if y_from is not None else None,
            )
        )
    for (symbol, session), texts in grouped.items():
        y = lines[ALLIANCE_CLIENT].get(float(session))
        if y is None:
            continue
        relationship.append(
            Annotation(
                "dip" if symbol == "dip" else "repair",
                float(session),
                float(y),
                f"Session {session}: " + "; ".join(texts),
                colour=DIP_COLOUR if symbol == "dip" else ALLIANCE_COLOUR,
            )
        )
    return tuple(outcome), tuple(relationship)


def _format(value: float) -> str:
    if math.isnan(value):
        return "—"
    return f"{value:g}" if float(value).is_integer() else f"{value:.2f}".rstrip("0").rstrip(".")


def _chart_table(
    checkins: pd.DataFrame, *, expected: pd.DataFrame | None = None, marks: Sequence[Mark] = ()
) -> tuple[tuple[int, str, str, str, str, str, str], ...]:
    """Return the chart's values as rows: session, PHQ-9, GAD-7, client alliance, therapist alliance, expected
    PHQ-9 (median and 10th–90th percentiles) and the events of the session in words."""
    columns = [PHQ9, GAD7, ALLIANCE_CLIENT, ALLIANCE_THERAPIST]
    scored = checkins[checkins["total"].notna() & checkins["session"].notna() & checkins["instrument"].isin(columns)]
    if scored.empty:
        return ()
    wide = scored.pivot_table(index="session", columns="instrument", values="total", aggfunc="last")
    wide = wide.reindex(columns=columns)
    bands: dict[int, str] = {}
    if expected is not None:
        for session, middle, low, high in expected[["session", "expected", "lower", "upper"]].to_numpy(dtype=float):
            bands[int(session)] = f"{_format(middle)} ({_format(low)}–{_format(high)})"
    said: dict[int, list[str]] = {}
    for mark in marks:
        said.setdefault(mark.session, []).append(mark.text)
    rows = []
    for session, values in zip(wide.index, wide.to_numpy(dtype=float), strict=True):
        number = int(session)
        phq, gad, rated, mirrored = (_format(float(v)) for v in values)
        rows.append((number, phq, gad, rated, mirrored, bands.get(number, "—"), "; ".join(said.get(number, []))))
    return tuple(rows)


def _answer_text(instrument: Instrument | None, item_id: str, value: Any) -> tuple[str, str]:
    if instrument is None:
        return item_id, "not answered" if value is None else _format(float(value))
    item = next((i for i in instrument.items if i.id == item_id), None)
    if item is None:
        return item_id, "not answered" if value is None else _format(float(value))
    text = item.text.get("en") or item.id
    if value is None:
        return text, "not answered"
    try:
        label = item.option(float(value)).label.get("en")
    except KeyError:
        label = None
    number = _format(float(value))
    # Unlabelled points of a 0-10 scale carry their number as label: say the scale instead.
    if label and label != number:
        return text, f"{number} — {label}"
    return text, f"{number} (scale {item.minimum:g}–{item.maximum:g})"


def _checkin_view(row: Any, registry: Registry) -> CheckinView:
    instrument = registry.get(row.instrument) if row.instrument in registry else None
    answers = row.answers or {}
    order = [item.id for item in instrument.items] if instrument is not None else list(answers)
    lines = []
    for item_id in order:
        text, answer = _answer_text(instrument, item_id, answers.get(item_id))
        lines.append(AnswerLine(item=item_id, text=text, answer=answer))
    band = ""
    if instrument is not None and row.severity:
        band = next(((b.label.get("en") or b.id) for b in instrument.severity if b.id == row.severity), row.severity)
    return CheckinView(
        checkin_id=int(row.checkin),
        instrument=str(row.instrument),
        title=(instrument.title.get("en") or instrument.id) if instrument is not None else str(row.instrument),
        when=row.when.to_pydatetime(),
        session=None if pd.isna(row.session) else int(row.session),
        total="—" if pd.isna(row.total) else _format(float(row.total)),
        band=str(band),
        respondent="Therapist" if row.respondent == CheckIn.Respondent.THERAPIST else "Client",
        risk=bool(row.risk),
        status=str(row.status),
        answers=tuple(lines),
    )


def _gap(checkins: pd.DataFrame, registry: Registry) -> GapView | None:
    """Return the item-by-item gap at the latest appointment with both relationship forms."""
    forms = checkins[
        checkins["instrument"].isin([ALLIANCE_CLIENT, ALLIANCE_THERAPIST]) & checkins["appointment"].notna()
    ]
    both = forms.groupby("appointment")["instrument"].nunique()
    paired = forms[forms["appointment"].isin(both[both == 2].index)]
    if paired.empty or ALLIANCE_CLIENT not in registry:
        return None
    latest = paired[paired["appointment"] == paired.sort_values("when")["appointment"].iloc[-1]]
    mine = latest[latest["instrument"] == ALLIANCE_CLIENT].iloc[-1]
    theirs = latest[latest["instrument"] == ALLIANCE_THERAPIST].iloc[-1]
    instrument = registry.get(ALLIANCE_CLIENT)
    gaps = rating_gap(mine["answers"] or {}, theirs["answers"] or {}, instrument=instrument)
    texts = {item.id: item.text.get("en") or item.id for item in instrument.items}
    return GapView(
        session=None if pd.isna(mine["session"]) else int(mine["session"]),
        when=mine["when"].to_pydatetime(),
        rows=tuple((gap, texts[gap.item]) for gap in gaps),
        client_total=None if pd.isna(mine["total"]) else float(mine["total"]),
        therapist_total=None if pd.isna(theirs["total"]) else float(theirs["total"]),
    )


def _appointments(appointments: pd.DataFrame, *, upcoming: bool, limit: int = 3) -> tuple[AppointmentView, ...]:
    now = pd.Timestamp(timezone.now())
    ahead = (appointments["status"] == Appointment.Status.SCHEDULED) & (appointments["when"] >= now.floor("D"))
    chosen = appointments[ahead].head(limit) if upcoming else appointments[~ahead].tail(limit).iloc[::-1]
    labels = dict(Appointment.Status.choices)
    return tuple(
        AppointmentView(
            appointment_id=int(appointment),
            session=int(session),
            starts_at=when.to_pydatetime(),
            status=str(status),
            status_label=str(labels.get(status, status)),
            can_check_in=status in (Appointment.Status.SCHEDULED, Appointment.Status.ATTENDED),
        )
        for appointment, when, status, session in chosen[["appointment", "when", "status", "session"]].itertuples(
            index=False
        )
    )


# --- alert lifecycle ----------------------------------------------------------------------------------------------


ALERT_TRANSITIONS: Mapping[str, tuple[str, ...]] = {
    Alert.State.NEW: (Alert.State.SEEN, Alert.State.ACTED, Alert.State.RESOLVED),
    Alert.State.SEEN: (Alert.State.ACTED, Alert.State.RESOLVED),
    Alert.State.ACTED: (Alert.State.RESOLVED,),
    Alert.State.RESOLVED: (),
}
"""Which states an alert may move to from each state (never back)."""

ACTION_MAX_LENGTH = 2000


class AlertTransitionError(AllianceError):
    """A state change an alert cannot make; ``message`` says why in words for the page."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


def _alert_view(alert: Alert) -> AlertView:
    return AlertView(
        alert_id=alert.pk,
        kind=alert.kind,
        kind_label=alert.get_kind_display(),
        state=alert.state,
        state_label=alert.get_state_display(),
        message=alert.message,
        raised_at=alert.raised_at,
        action_taken=alert.action_taken,
        transitions=ALERT_TRANSITIONS.get(alert.state, ()),
        severity=alert.severity,
        session=alert.session,
        repaired_at=alert.repaired_at,
        again_at=tuple(int(s) for s in (alert.details or {}).get("again_at", []) if isinstance(s, int | float)),
    )


def update_alert(alert: Alert, *, state: str, action_taken: str = "", by: Any) -> Alert:
    """Move ``alert`` to ``state`` (seen, acted on, resolved), recording what was done; raise on a bad move.

    Acting on an alert needs a description of what was done; a risk alert cannot be resolved before someone
    has recorded what was done about it. The row is locked while it changes so that two people cannot move it
    at once.
    """
    labels = dict(Alert.State.choices)
    action = action_taken.strip()
    if state not in labels:
        raise AlertTransitionError(f"Unknown alert state {state!r}: use seen, acted or resolved.")
    if len(action) > ACTION_MAX_LENGTH:
        raise AlertTransitionError(f"What was done must be at most {ACTION_MAX_LENGTH} characters.")
    with transaction.atomic():
        current: Alert = Alert.objects.select_for_update().get(pk=alert.pk)
        if state not in ALERT_TRANSITIONS[current.state]:
            raise AlertTransitionError(
                f"This alert is {labels[current.state].lower()}; it cannot be marked {labels[state].lower()}."
            )
        if state == Alert.State.ACTED and not action:
            raise AlertTransitionError("Say what was done before marking the alert as acted on.")
        if (
            state == Alert.State.RESOLVED
            and current.kind == Alert.Kind.RISK
            and not (current.action_taken.strip() or action)
        ):
            raise AlertTransitionError("Record what was done about a risk alert before resolving it.")
        current.state = state
        if action:
            current.action_taken = f"{current.action_taken}\n{action}".strip() if current.action_taken else action
        current.updated_by = by
        current.save(update_fields=["state", "action_taken", "updated_by", "updated_at"])
    return current
