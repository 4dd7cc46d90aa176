"""What the clinic calls after every check-in: the findings about the session just rated.

:func:`evaluate` takes one client's history (check-ins and appointments as plain values, no database) and
returns :class:`Finding` values. Each finding has a stable ``key`` naming the event (``rupture:bond:session-5``,
``etr:red:session-4``, ``sudden-loss:phq9:4-5``), so the clinic stores at most one alert per key and calling
:func:`evaluate` again, after another check-in of the same session, raises nothing twice.

Only findings about the *latest* session are returned: the session of the most recently submitted check-in
(highest ``order``). Events that started earlier were returned when they started; an event that started earlier
and changes state now is returned as a new event (a rupture repaired now is a ``repair`` finding). The rupture
rules run causally (the own SD at each session uses the scores up to it), so a finding never appears or
vanishes when later sessions arrive.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
import pandas as pd

from alliance.change.sudden import find_sudden_changes
from alliance.change.talking_therapies import GAD7_RELIABLE_CHANGE, PHQ9_RELIABLE_CHANGE
from alliance.instruments import Instrument, Registry
from alliance.monitoring.attention import ALLIANCE_CLIENT, ALLIANCE_THERAPIST, PHQ9, alliance_cutoff, rating_gap
from alliance.monitoring.dropout import dropout_risk
from alliance.monitoring.expected import ExpectedResponse
from alliance.monitoring.ruptures import TOTAL_DOMAIN, RuptureDetector, domain_ruptures

__all__ = [
    "KINDS",
    "AppointmentRecord",
    "CheckinRecord",
    "ClientHistory",
    "Finding",
    "RuleSettings",
    "evaluate",
]

Criterion = Literal["lenient", "strict"]

KINDS: Mapping[str, int] = MappingProxyType(
    {
        "risk": 4,
        "sudden_loss": 3,
        "not_on_track": 3,
        "rupture": 2,
        "low_alliance": 2,
        "floor": 2,
        "dropout": 2,
        "perspective_gap": 1,
        "repair": 0,
        "sudden_gain": 0,
    }
)
"""Every finding kind and its highest severity (4 = contact the client today ... 0 = good news)."""

_NAMES = {"phq9": "PHQ-9", "gad7": "GAD-7"}


@dataclass(frozen=True)
class CheckinRecord:
    """One scored check-in: instrument id, session number (``None`` when not tied to one), the order it was
    submitted in (higher = later), total (``None`` when too many items were missing), answers by item id, whether a
    risk item was endorsed, and who answered (``client`` or ``therapist``)."""

    instrument: str
    session: int | None
    order: int
    total: float | None
    answers: Mapping[str, float | None] = field(default_factory=lambda: MappingProxyType({}))
    risk: bool = False
    respondent: str = "client"


@dataclass(frozen=True)
class AppointmentRecord:
    """One appointment: its session number and status (attended, did_not_attend, cancelled, scheduled)."""

    session: int
    status: str


@dataclass(frozen=True)
class ClientHistory:
    """Everything :func:`evaluate` knows about one client: check-ins and appointments, in any order."""

    checkins: tuple[CheckinRecord, ...] = ()
    appointments: tuple[AppointmentRecord, ...] = ()


@dataclass(frozen=True)
class RuleSettings:
    """Which rules run, and their thresholds (a practice's settings).

    Attributes
    ----------
    risk, rupture, cutoff, floor, sudden_change, not_on_track, dropout, perspective_gap:
        Whether each rule is on (all on by default).
    criterion:
        Rupture criterion: ``lenient`` (1 own SD, default) or ``strict`` (2 own SDs).
    between_sd:
        Between-client SD of session-to-session change of the relationship check-in's total (0-10 mean), the
        rupture guard on the total (default 1.0: provisional until fitted from the practice's own check-ins
        with :meth:`RuptureDetector.fit`; close to OpenFIT's 1-point drop rule, REFERENCE §6).
    domain_between_sd:
        The same guard for a single domain (one 0-10 item on our check-in; default 2.0, provisional). One
        item moves more between sessions than the mean of eight, and its answers are whole numbers: with 1.0
        a one-step change of one item after a steady run (9, 9, 9, 8) would already count as a rupture.
    repair_window:
        Sessions within which a return to the band counts as a repair (default 3).
    gap_at:
        Client-minus-therapist difference on an item that is flagged either way (default 2 points of 10).
    floor_at:
        A domain of the relationship check-in at or below this is flagged (default 4 of 10, provisional).
    sudden_change_cutoffs:
        Instrument id -> smallest change that counts as a sudden gain or loss: the NHS Talking Therapies
        reliable change values, PHQ-9 6 and GAD-7 4. Instruments not listed are not checked.
    alliance_instrument, therapist_instrument, etr_instrument:
        The client and therapist relationship check-ins, and the outcome measure the expected-response model
        was fitted on (default PHQ-9).
    cutoff_band:
        Severity band of the relationship check-in that is below the cut-off.
    """

    risk: bool = True
    rupture: bool = True
    cutoff: bool = True
    floor: bool = True
    sudden_change: bool = True
    not_on_track: bool = True
    dropout: bool = True
    perspective_gap: bool = True
    criterion: Criterion = "lenient"
    between_sd: float = 1.0
    domain_between_sd: float = 2.0
    repair_window: int = 3
    gap_at: float = 2.0
    floor_at: float = 4.0
    sudden_change_cutoffs: Mapping[str, float] = field(
        default_factory=lambda: MappingProxyType(
            {"phq9": float(PHQ9_RELIABLE_CHANGE), "gad7": float(GAD7_RELIABLE_CHANGE)}
        )
    )
    alliance_instrument: str = ALLIANCE_CLIENT
    therapist_instrument: str = ALLIANCE_THERAPIST
    etr_instrument: str = PHQ9
    cutoff_band: str = "below-cutoff"


@dataclass(frozen=True)
class Finding:
    """One thing the therapist should know about the latest session.

    ``kind`` is a key of :data:`KINDS`; ``key`` names the event (the clinic raises one alert per key);
    ``severity`` ranks it (4 = contact the client today, 0 = good news); ``details`` holds the numbers behind
    the ``message``.
    """

    kind: str
    key: str
    session: int | None
    severity: int
    message: str
    details: Mapping[str, Any]


def evaluate(
    history: ClientHistory,
    *,
    rules: RuleSettings = RuleSettings(),
    etr: ExpectedResponse | None = None,
    instruments: Registry,
) -> list[Finding]:
    """Return the findings about the latest session of one client, most severe first.

    Parameters
    ----------
    history:
        The client's check-ins and appointments.
    rules:
        Which rules run and their thresholds.
    etr:
        A fitted expected-response model for ``rules.etr_instrument``; ``None`` skips the not-on-track rule.
    instruments:
        The instrument definitions (item domains, the total, the cut-off band).

    Returns
    -------
    list of Finding
        Sorted by severity (highest first), then kind. Kinds:

        - ``risk``: a check-in of the latest session has a risk item endorsed (``risk:<instrument>:session-N``);
        - ``rupture``: a dip in a domain or the total of the relationship check-in starts at the latest
          session (``rupture:<domain>:session-N``); ``repair``: a rupture that started at session M is back
          within its band now, within ``repair_window`` sessions (``repair:<domain>:session-M``);
        - ``floor``: domains at or below ``floor_at`` (``floor:session-N``); ``low_alliance``: the total in the
          below-cut-off band (``low-alliance:session-N``; the rule is ``cutoff`` in :class:`RuleSettings`);
        - ``sudden_gain`` / ``sudden_loss`` on each measure in ``sudden_change_cutoffs`` whose windows
          include the latest score (``sudden-loss:phq9:4-5``);
        - ``not_on_track``: amber or red against the expected response (``etr:red:session-N``);
        - ``dropout``: moderate or high dropout risk (``dropout:high:session-N``);
        - ``perspective_gap``: items where client and therapist differ by ``gap_at`` or more at the latest
          session (``perspective-gap:session-N``).
    """
    if not history.checkins:
        return []
    latest_checkin = max(history.checkins, key=lambda checkin: checkin.order)
    session = latest_checkin.session
    findings: list[Finding] = []
    if rules.risk:
        findings.extend(_risk(history, latest_checkin))
    if session is not None:
        series = _by_session(history)
        alliance = series.get((rules.alliance_instrument, "client"), {})
        relationship_rules = rules.rupture or rules.cutoff or rules.floor
        if relationship_rules and rules.alliance_instrument in instruments and alliance:
            instrument = instruments.get(rules.alliance_instrument)
            findings.extend(_relationship(alliance, session, instrument=instrument, rules=rules))
        if rules.sudden_change:
            for measure, cutoff in rules.sudden_change_cutoffs.items():
                findings.extend(_sudden(series.get((measure, "client"), {}), session, measure, cutoff))
        if rules.not_on_track and etr is not None:
            findings.extend(
                _not_on_track(series.get((rules.etr_instrument, "client"), {}), session, etr, rules, instruments)
            )
        if rules.dropout:
            findings.extend(_dropout(history, alliance, session, instruments=instruments, rules=rules))
        if rules.perspective_gap and rules.alliance_instrument in instruments:
            therapist = series.get((rules.therapist_instrument, "therapist"), {})
            findings.extend(_gap(alliance, therapist, session, instruments.get(rules.alliance_instrument), rules))
    order = list(KINDS)
    return sorted(findings, key=lambda finding: (-finding.severity, order.index(finding.kind), finding.key))


def _by_session(history: ClientHistory) -> dict[tuple[str, str], dict[int, CheckinRecord]]:
    """Latest check-in per (instrument, respondent) and session: a re-submitted form replaces the earlier."""
    series: dict[tuple[str, str], dict[int, CheckinRecord]] = {}
    for checkin in sorted(history.checkins, key=lambda c: c.order):
        if checkin.session is not None:
            series.setdefault((checkin.instrument, checkin.respondent), {})[checkin.session] = checkin
    return series


def _risk(history: ClientHistory, latest: CheckinRecord) -> list[Finding]:
    if latest.session is None:
        flagged = [latest] if latest.risk else []
    else:
        flagged = [c for c in history.checkins if c.session == latest.session and c.risk]
    found: dict[str, Finding] = {}
    for checkin in flagged:
        where = f"session-{checkin.session}" if checkin.session is not None else f"checkin-{checkin.order}"
        name = _NAMES.get(checkin.instrument, checkin.instrument)
        found[checkin.instrument] = Finding(
            kind="risk",
            key=f"risk:{checkin.instrument}:{where}",
            session=checkin.session,
            severity=KINDS["risk"],
            message=f"{name}: risk item endorsed — contact the client today.",
            details={"instrument": checkin.instrument},
        )
    return list(found.values())


def _relationship(
    alliance: Mapping[int, CheckinRecord], session: int, *, instrument: Instrument, rules: RuleSettings
) -> list[Finding]:
    if session not in alliance:
        return []
    sessions = sorted(alliance)
    answers = pd.DataFrame(
        [{item: _number(alliance[s].answers.get(item)) for item in instrument.item_ids} for s in sessions],
        columns=list(instrument.item_ids),
        dtype=float,
    )
    answers.insert(0, "time", sessions)
    answers.insert(0, "id", 0)
    domain_detector = _detector(rules, between_sd=rules.domain_between_sd)
    found = domain_ruptures(
        answers,
        instrument=instrument,
        detector=domain_detector,
        total_detector=_detector(rules, between_sd=rules.between_sd),
        floor=rules.floor_at,
        cutoff_band=rules.cutoff_band,
    )
    findings: list[Finding] = []
    if rules.rupture:
        dips = found[found["rule"] == "dip"]
        for row in _records(dips[dips["time"] == session]):
            where = "the total" if row["domain"] == TOTAL_DOMAIN else f"the {row['domain']} domain"
            findings.append(
                Finding(
                    kind="rupture",
                    key=f"rupture:{row['domain']}:session-{session}",
                    session=session,
                    severity=KINDS["rupture"],
                    message=f"Possible rupture in {where}: {row['score']:.1f}, {row['drop']:.1f} below the previous "
                    f"level ({row['baseline']:.1f}).",
                    details=_details(row, "domain", "baseline", "score", "drop", "threshold"),
                )
            )
        repaired = dips[dips["repaired_at"].fillna(-1) == session]
        for row in _records(repaired):
            where = "the total" if row["domain"] == TOTAL_DOMAIN else f"the {row['domain']} domain"
            findings.append(
                Finding(
                    kind="repair",
                    key=f"repair:{row['domain']}:session-{row['time']}",
                    session=session,
                    severity=KINDS["repair"],
                    message=f"Repair in {where}: back within the usual range after the dip at session {row['time']}.",
                    details={**_details(row, "domain", "baseline", "threshold"), "rupture_session": int(row["time"])},
                )
            )
    at_session = found[found["time"] == session]
    low = at_session[at_session["rule"] == "floor"]
    if rules.floor and len(low):
        domains = {str(d): float(s) for d, s in zip(low["domain"], low["score"], strict=True)}
        findings.append(
            Finding(
                kind="floor",
                key=f"floor:session-{session}",
                session=session,
                severity=KINDS["floor"],
                message="Very low: " + ", ".join(f"{d} {s:g}" for d, s in domains.items()) + f" (at or below "
                f"{rules.floor_at:g} of 10).",
                details={"domains": domains, "floor": rules.floor_at},
            )
        )
    below = at_session[at_session["rule"] == "cutoff"]
    if rules.cutoff and len(below):
        total = float(below["score"].iloc[0])
        cutoff = alliance_cutoff(instrument, band=rules.cutoff_band)
        findings.append(
            Finding(
                kind="low_alliance",
                key=f"low-alliance:session-{session}",
                session=session,
                severity=KINDS["low_alliance"],
                message=f"Relationship check-in {total:.1f} of 10, below the cut-off of {cutoff:g}.",
                details={"total": total, "cutoff": cutoff},
            )
        )
    return findings


def _sudden(series: Mapping[int, CheckinRecord], session: int, measure: str, cutoff: float) -> list[Finding]:
    if session not in series:
        return []
    scores = pd.DataFrame(
        {
            "id": 0,
            "time": list(series),
            "score": [_number(checkin.total) for checkin in series.values()],
        }
    )
    changes = find_sudden_changes(scores, id="id", time="time", score="score", cutoff=cutoff, kind="both")
    # The stability window after a change n -> n+1 reaches n+3: changes whose windows include the latest score.
    recent = changes[changes["from_time"] >= session - 3]
    findings = []
    name = _NAMES.get(measure, measure)
    for row in _records(recent):
        kind = f"sudden_{row['kind']}"
        findings.append(
            Finding(
                kind=kind,
                key=f"sudden-{row['kind']}:{measure}:{row['from_time']}-{row['to_time']}",
                session=session,
                severity=KINDS[kind],
                message=f"Sudden {row['kind']} on the {name}: {row['pre']:g} → {row['post']:g} "
                f"(sessions {row['from_time']}-{row['to_time']}).",
                details={
                    "instrument": measure,
                    "from_session": int(row["from_time"]),
                    "to_session": int(row["to_time"]),
                    "pre": float(row["pre"]),
                    "post": float(row["post"]),
                    "cutoff": cutoff,
                },
            )
        )
    return findings


def _not_on_track(
    series: Mapping[int, CheckinRecord], session: int, etr: ExpectedResponse, rules: RuleSettings, instruments: Registry
) -> list[Finding]:
    if session not in series or 1 not in series:
        return []
    scores = pd.DataFrame(
        {"id": 0, "time": list(series), "score": [_number(checkin.total) for checkin in series.values()]}
    )
    flagged = etr.flag(scores, id="id", time="time", score="score", at=session)
    if flagged.empty or flagged["status"].iloc[0] == "green":
        return []
    row = flagged.iloc[0]
    status = str(row["status"])
    name = _NAMES.get(rules.etr_instrument, rules.etr_instrument)
    score = float(scores.loc[scores["time"] == session, "score"].iloc[0])
    if etr.kind_ == "empirical":
        rests_on = f"{etr.n_clients_} clients of this practice"
    elif etr.n_clients_:
        rests_on = f"the reliable change rule ({etr.n_clients_} clients: too few for an empirical model)"
    else:
        rests_on = "the reliable change rule (no practice history yet)"
    instrument = instruments.get(rules.etr_instrument) if rules.etr_instrument in instruments else None
    low_end = instrument.total.minimum if instrument is not None else -np.inf
    high_end = instrument.total.maximum if instrument is not None else np.inf
    # The rational band is intake ± reliable change; on the page it never reaches beyond the scale.
    lower = float(np.clip(row["lower"], low_end, high_end))
    upper = float(np.clip(row["upper"], low_end, high_end))
    return [
        Finding(
            kind="not_on_track",
            key=f"etr:{status}:session-{session}",
            session=session,
            severity=KINDS["not_on_track"] if status == "red" else KINDS["not_on_track"] - 1,
            message=f"Not on track ({status}): {name} {score:g} at session {session}, expected about "
            f"{row['expected']:g} ({lower:g}-{upper:g}); based on {rests_on}.",
            details={
                "instrument": rules.etr_instrument,
                "status": status,
                "score": score,
                "expected": float(row["expected"]),
                "lower": lower,
                "upper": upper,
                "model": etr.kind_,
                "clients": etr.n_clients_,
            },
        )
    ]


def _dropout(
    history: ClientHistory,
    alliance: Mapping[int, CheckinRecord],
    session: int,
    *,
    instruments: Registry,
    rules: RuleSettings,
) -> list[Finding]:
    appointments = pd.DataFrame(
        {
            "session": [a.session for a in history.appointments],
            "status": [a.status for a in history.appointments],
        }
    )
    totals = pd.DataFrame({"session": list(alliance), "total": [_number(c.total) for c in alliance.values()]})
    cutoff = None
    if rules.alliance_instrument in instruments:
        try:
            cutoff = alliance_cutoff(instruments.get(rules.alliance_instrument), band=rules.cutoff_band)
        except KeyError:
            cutoff = None
    detector = _detector(rules, between_sd=rules.between_sd)
    risk = dropout_risk(appointments, totals if len(totals) else None, cutoff=cutoff, detector=detector)
    if risk.level == "low":
        return []
    return [
        Finding(
            kind="dropout",
            key=f"dropout:{risk.level}:session-{session}",
            session=session,
            severity=KINDS["dropout"] if risk.level == "high" else KINDS["dropout"] - 1,
            message=f"Dropout risk {risk.level}: " + "; ".join(reason.detail for reason in risk.reasons) + ".",
            details={
                "level": risk.level,
                "points": risk.points,
                "reasons": tuple((reason.code, reason.points, reason.detail) for reason in risk.reasons),
            },
        )
    ]


def _gap(
    client: Mapping[int, CheckinRecord],
    therapist: Mapping[int, CheckinRecord],
    session: int,
    instrument: Instrument,
    rules: RuleSettings,
) -> list[Finding]:
    if session not in client or session not in therapist:
        return []
    gaps = [
        gap
        for gap in rating_gap(
            client[session].answers, therapist[session].answers, instrument=instrument, flag_at=rules.gap_at
        )
        if gap.flagged
    ]
    if not gaps:
        return []
    return [
        Finding(
            kind="perspective_gap",
            key=f"perspective-gap:session-{session}",
            session=session,
            severity=KINDS["perspective_gap"],
            message="Client and therapist see the session differently: "
            + ", ".join(f"{gap.domain} {gap.client:g} vs {gap.therapist:g}" for gap in gaps)
            + " (client vs therapist).",
            details={
                "items": {
                    gap.item: {"domain": gap.domain, "client": gap.client, "therapist": gap.therapist} for gap in gaps
                },
                "gap_at": rules.gap_at,
            },
        )
    ]


def _detector(rules: RuleSettings, *, between_sd: float) -> RuptureDetector:
    """The clinic's rupture detector: causal (own SD up to each session), guard supplied, higher is better."""
    return RuptureDetector(
        criterion=rules.criterion,
        better="higher",
        between_sd=between_sd,
        repair_window=rules.repair_window,
        causal=True,
    )


def _number(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(name): value for name, value in record.items()} for record in frame.to_dict("records")]


def _details(row: Mapping[str, Any], *names: str) -> dict[str, Any]:
    return {name: row[name] if isinstance(row[name], str) else float(row[name]) for name in names}
