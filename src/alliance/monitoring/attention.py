"""Which clients need attention now, and why; each client's reliable change so far; the client-therapist gap.

Everything here works on plain tables so that the caseload (hundreds of clients) and the client page (one
client) share one definition. The tables:

- check-ins (:data:`CHECKIN_COLUMNS`): one row per scored administration: ``client``, ``when`` (a
  timestamp; it orders the check-ins), ``instrument`` (its id), ``total`` (NaN when too many items were
  missing), ``risk`` (a risk item was endorsed), ``severity`` (the severity band id of the total, "" when
  none), ``respondent`` (``client`` or ``therapist``) and ``appointment`` (the appointment id, NaN when none);
- appointments (:data:`APPOINTMENT_COLUMNS`): ``client``, ``appointment`` (its id), ``when``, ``status``
  (``attended``, ``did_not_attend``, ``cancelled`` or ``scheduled``) and ``session`` (its number);
- open alerts (:data:`ALERT_COLUMNS`): ``client`` and ``kind`` (``risk``, ``deterioration``,
  ``low_alliance``) of each alert not yet resolved.

The reasons and their ranks (higher needs attention sooner) are in :data:`SEVERITY`; the thresholds of the
alliance and attendance rules are parameters (:class:`Thresholds`); the outcome thresholds are the NHS Talking
Therapies ones from :mod:`alliance.change.talking_therapies`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

import numpy as np
import pandas as pd

from alliance.change.rci import reliable_change
from alliance.change.talking_therapies import GAD7_RELIABLE_CHANGE, PHQ9_RELIABLE_CHANGE
from alliance.instruments import Instrument

__all__ = [
    "ALERT_COLUMNS",
    "ALLIANCE_CLIENT",
    "ALLIANCE_THERAPIST",
    "APPOINTMENT_COLUMNS",
    "CHECKIN_COLUMNS",
    "GAD7",
    "GAD7_NORM",
    "LABELS",
    "PHQ9",
    "PHQ9_NORM",
    "REASON_COLUMNS",
    "SEVERITY",
    "ChangeSoFar",
    "DomainGap",
    "MeasureChange",
    "Reason",
    "ReliabilityNorm",
    "Thresholds",
    "alliance_cutoff",
    "attention",
    "change_so_far",
    "rating_gap",
    "reasons_of",
    "top_severity",
]

PHQ9 = "phq9"
GAD7 = "gad7"
ALLIANCE_CLIENT = "alliance-client"
ALLIANCE_THERAPIST = "alliance-therapist"

CHECKIN_COLUMNS = ("client", "when", "instrument", "total", "risk", "severity", "respondent", "appointment")
"""Columns the check-in table must have (others are ignored)."""
APPOINTMENT_COLUMNS = ("client", "appointment", "when", "status", "session")
"""Columns the appointment table must have."""
ALERT_COLUMNS = ("client", "kind")
"""Columns the open-alert table must have."""
REASON_COLUMNS = ("client", "code", "severity", "label", "detail")
"""Columns of the table :func:`attention` returns."""

SEVERITY: Mapping[str, int] = {
    "risk": 4,
    "deterioration": 3,
    "alliance-low": 2,
    "alliance-drop": 2,
    "no-checkin": 1,
    "did-not-attend": 1,
}
"""Rank of each reason: a risk item first, then reliable deterioration, the relationship, attendance."""

LABELS: Mapping[str, str] = {
    "risk": "Risk: self-harm item",
    "deterioration": "Reliable deterioration",
    "alliance-low": "Alliance below cut-off",
    "alliance-drop": "Alliance dropped",
    "no-checkin": "No check-in at last session",
    "did-not-attend": "Missed appointments",
}
"""Short text of each reason, for badges (never colour alone)."""

# An unresolved alert keeps its reason on the caseload until someone resolves it.
_ALERT_REASON = {"risk": "risk", "deterioration": "deterioration", "low_alliance": "alliance-low"}
_MEASURE_NAME = {PHQ9: "PHQ-9", GAD7: "GAD-7"}
_NHS_THRESHOLD = {PHQ9: PHQ9_RELIABLE_CHANGE, GAD7: GAD7_RELIABLE_CHANGE}


@dataclass(frozen=True)
class Thresholds:
    """Thresholds of the alliance and attendance rules (the outcome rules use the NHS thresholds).

    Attributes
    ----------
    alliance_low_band:
        Severity band id of the relationship check-in that asks for a conversation: ``"below-cutoff"``, the
        provisional band (mean below 8 of 10) of ``alliance-client``.
    alliance_drop:
        A fall of at least this many points (default 1.0 on the 0-10 mean) from the mean of the client's earlier
        relationship check-ins. OpenFIT flags a drop of 1 point on the SRS (REFERENCE §6); on our 0-10 item mean
        it is a tenth of the range, our provisional choice until it is calibrated on local data.
    attendance_window, missed_appointments:
        At least ``missed_appointments`` (default 2) did-not-attend among the last ``attendance_window``
        (default 4) appointments that are no longer scheduled.
    """

    alliance_low_band: str = "below-cutoff"
    alliance_drop: float = 1.0
    attendance_window: int = 4
    missed_appointments: int = 2


@dataclass(frozen=True)
class Reason:
    """One reason a client needs attention: ``code`` (a key of :data:`SEVERITY`), its rank, badge and detail."""

    code: str
    severity: int
    label: str
    detail: str


def attention(
    checkins: pd.DataFrame,
    appointments: pd.DataFrame,
    *,
    open_alerts: pd.DataFrame | None = None,
    thresholds: Thresholds = Thresholds(),
) -> pd.DataFrame:
    """Return why each client needs attention now: one row per client and reason.

    Rules (each client is judged on its own history):

    - ``risk``: the latest PHQ-9 has item 9 above 0 (the check-in's ``risk``), or an unresolved risk alert;
    - ``deterioration``: reliable deterioration so far, first to latest score on each measure: PHQ-9 up by
      6 or more or GAD-7 up by 4 or more, and neither down by its threshold (NHS Talking Therapies), or an
      unresolved deterioration alert;
    - ``alliance-low``: the latest relationship check-in (``alliance-client``) is in the band
      ``thresholds.alliance_low_band``, or an unresolved low-alliance alert;
    - ``alliance-drop``: the latest relationship check-in is ``thresholds.alliance_drop`` or more below the
      mean of the client's earlier ones;
    - ``no-checkin``: the latest attended appointment has no check-in answered by the client;
    - ``did-not-attend``: ``thresholds.missed_appointments`` or more did-not-attend among the last
      ``thresholds.attendance_window`` appointments that are not merely scheduled.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`REASON_COLUMNS`, sorted by client, then highest severity first. A reason found by two
        rules (a risk item and an open risk alert) is one row with both details.

    References
    ----------
    NHS England. NHS Talking Therapies for anxiety and depression manual (reliable change: PHQ-9 6, GAD-7 4).
    Lambert MJ, Whipple JL, Kleinstäuber M (2018). Collecting and delivering progress feedback: a meta-analysis
    of routine outcome monitoring. *Psychotherapy* 55(4):520-537.
    Eubanks CF, Muran JC, Safran JD (2018). Alliance rupture repair: a meta-analysis. *Psychotherapy*
    55(4):508-519.
    """
    parts = [
        _risk(checkins),
        _deterioration(checkins),
        _alliance(checkins, thresholds),
        _missed(checkins, appointments, thresholds),
        _from_alerts(open_alerts),
    ]
    found = pd.concat([part for part in parts if len(part)], ignore_index=True) if any(map(len, parts)) else None
    if found is None:
        return pd.DataFrame({column: pd.Series(dtype=object) for column in REASON_COLUMNS})
    merged = found.groupby(["client", "code"], sort=False, as_index=False).agg(detail=("detail", "; ".join))
    merged["severity"] = merged["code"].map(SEVERITY).astype("int64")
    merged["label"] = merged["code"].map(LABELS)
    merged["order"] = merged["code"].map({code: rank for rank, code in enumerate(SEVERITY)})
    merged = merged.sort_values(["client", "severity", "order"], ascending=[True, False, True], kind="stable")
    return merged[list(REASON_COLUMNS)].reset_index(drop=True)


def reasons_of(reasons: pd.DataFrame, client: object) -> tuple[Reason, ...]:
    """Return the reasons of one client from a table made by :func:`attention`, most severe first."""
    mine = reasons[reasons["client"] == client]
    return tuple(
        Reason(code=str(code), severity=int(severity), label=str(label), detail=str(detail))
        for code, severity, label, detail in zip(
            mine["code"], mine["severity"], mine["label"], mine["detail"], strict=True
        )
    )


def top_severity(reasons: pd.DataFrame) -> pd.Series:
    """Return each flagged client's highest severity (clients with no reason are absent: read them as 0)."""
    return reasons.groupby("client")["severity"].max()


def _rows(clients: Iterable[Any], code: str, details: Iterable[str]) -> pd.DataFrame:
    return pd.DataFrame({"client": list(clients), "code": code, "detail": list(details)})


def _by_client(frame: pd.DataFrame) -> pd.DataFrame:
    """Sort check-ins or appointments by client and time (stable, so ties keep their given order)."""
    return frame.sort_values(["client", "when"], kind="stable")


def _risk(checkins: pd.DataFrame) -> pd.DataFrame:
    phq9 = _by_client(checkins[checkins["instrument"] == PHQ9])
    latest = phq9.groupby("client", sort=False).tail(1)
    flagged = latest[latest["risk"].astype(bool)]
    return _rows(flagged["client"], "risk", ["PHQ-9 item 9 above 0 at the latest PHQ-9"] * len(flagged))


def _first_and_last(checkins: pd.DataFrame, instruments: Sequence[str]) -> pd.DataFrame:
    """Return first and latest scored total per client and instrument, with the number of scores."""
    scored = _by_client(checkins[checkins["instrument"].isin(list(instruments)) & checkins["total"].notna()])
    grouped = scored.groupby(["client", "instrument"], sort=False)["total"]
    return pd.DataFrame({"first": grouped.first(), "last": grouped.last(), "count": grouped.size()})


def _deterioration(checkins: pd.DataFrame) -> pd.DataFrame:
    table = _first_and_last(checkins, [PHQ9, GAD7])
    paired = table[table["count"] >= 2]
    if paired.empty:
        return _rows([], "deterioration", [])
    first = paired["first"].unstack("instrument").reindex(columns=[PHQ9, GAD7]).to_numpy(dtype=float)
    last = paired["last"].unstack("instrument").reindex(columns=[PHQ9, GAD7])
    clients = last.index
    last_values = last.to_numpy(dtype=float)
    change = last_values - first
    with np.errstate(invalid="ignore"):
        rises = (change[:, 0] >= PHQ9_RELIABLE_CHANGE) | (change[:, 1] >= GAD7_RELIABLE_CHANGE)
        falls = (change[:, 0] <= -PHQ9_RELIABLE_CHANGE) | (change[:, 1] <= -GAD7_RELIABLE_CHANGE)
    flagged = np.flatnonzero(rises & ~falls)
    details = [
        ", ".join(
            f"{_MEASURE_NAME[instrument]} {first[row, column]:g} → {last_values[row, column]:g} "
            f"({change[row, column]:+g})"
            for column, instrument in enumerate((PHQ9, GAD7))
            if not np.isnan(change[row, column])
        )
        + " since the first score"
        for row in flagged
    ]
    return _rows(clients[flagged], "deterioration", details)


def _alliance(checkins: pd.DataFrame, thresholds: Thresholds) -> pd.DataFrame:
    rated = _by_client(checkins[(checkins["instrument"] == ALLIANCE_CLIENT) & checkins["total"].notna()])
    grouped = rated.groupby("client", sort=False)
    latest = grouped.tail(1).set_index("client")
    low = latest[latest["severity"].astype(str) == thresholds.alliance_low_band]
    low_rows = _rows(
        low.index,
        "alliance-low",
        [f"latest relationship check-in {t:.1f} of 10, below the cut-off" for t in low["total"]],
    )
    count = grouped.size()
    earlier_mean = (grouped["total"].sum() - latest["total"]) / (count - 1).where(count >= 2)
    drops = pd.DataFrame({"latest": latest["total"], "drop": earlier_mean - latest["total"]}).dropna()
    # Rounded so that a drop of exactly the threshold (8.25 -> 7.25) is not lost to floating point.
    dropped = drops[drops["drop"].round(9) >= thresholds.alliance_drop]
    drop_rows = _rows(
        dropped.index,
        "alliance-drop",
        [
            f"latest relationship check-in {value:.1f}, {fall:.1f} below the mean of earlier ones"
            for value, fall in dropped.to_numpy(dtype=float)
        ],
    )
    return pd.concat([low_rows, drop_rows], ignore_index=True)


def _missed(checkins: pd.DataFrame, appointments: pd.DataFrame, thresholds: Thresholds) -> pd.DataFrame:
    ordered = _by_client(appointments)
    attended = ordered[ordered["status"] == "attended"].groupby("client", sort=False).tail(1)
    answered = checkins.loc[(checkins["respondent"] == "client") & checkins["appointment"].notna(), "appointment"]
    silent = attended[~attended["appointment"].isin(set(answered))]
    silent_rows = _rows(
        silent["client"],
        "no-checkin",
        [
            f"no client check-in at the last attended session (session {s:g})"
            for s in silent["session"].to_numpy(dtype=float)
        ],
    )
    window = ordered[ordered["status"] != "scheduled"].groupby("client", sort=False).tail(thresholds.attendance_window)
    counted = window.groupby("client", sort=False)["status"]
    missed = counted.agg(lambda s: int((s == "did_not_attend").sum()))
    seen = counted.size().to_dict()
    flagged = missed[missed >= thresholds.missed_appointments]
    dna_rows = _rows(
        flagged.index,
        "did-not-attend",
        [f"{n} of the last {seen[c]} appointments not attended" for c, n in flagged.items()],
    )
    return pd.concat([silent_rows, dna_rows], ignore_index=True)


def _from_alerts(open_alerts: pd.DataFrame | None) -> pd.DataFrame:
    if open_alerts is None or open_alerts.empty:
        return _rows([], "risk", [])
    known = open_alerts[open_alerts["kind"].isin(list(_ALERT_REASON))].drop_duplicates(["client", "kind"])
    return pd.DataFrame(
        {
            "client": known["client"].to_list(),
            "code": known["kind"].map(_ALERT_REASON).to_list(),
            "detail": [f"unresolved {kind.replace('_', ' ')} alert" for kind in known["kind"]],
        }
    )


def alliance_cutoff(instrument: Instrument, *, band: str = "below-cutoff") -> float:
    """Return where the relationship check-in's ``band`` ends: the total at or above which it no longer applies.

    For ``alliance-client`` that is 8 (the provisional cut-off); the chart draws it as a line.
    """
    bands = list(instrument.severity)
    for position, candidate in enumerate(bands):
        if candidate.id == band:
            return bands[position + 1].lower if position + 1 < len(bands) else candidate.upper
    raise KeyError(f"{instrument.id} has no severity band {band!r}")


# --- reliable change so far -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReliabilityNorm:
    """The reliability and standard deviation a reliable change index (Jacobson-Truax) is computed from."""

    reliability: float
    sd: float
    source: str


PHQ9_NORM = ReliabilityNorm(
    reliability=0.89,
    sd=5.7,
    source="alpha .89: Kroenke, Spitzer & Williams (2001), J Gen Intern Med 16(9):606-613. SD 5.7: provisional, "
    "not yet checked against that paper's tables (see docs/therapist-pages.md); with it the smallest reliable "
    "change is 5.24 points, i.e. 6 on whole-number totals, the NHS Talking Therapies threshold.",
)
"""PHQ-9 reliability (Cronbach's alpha) and pre-treatment SD used for the client page's RCI."""

GAD7_NORM = ReliabilityNorm(
    reliability=0.92,
    sd=4.8,
    source="alpha .92: Spitzer, Kroenke, Williams & Löwe (2006), Arch Intern Med 166(10):1092-1097. SD 4.8: "
    "provisional, not yet checked against that paper's tables (see docs/therapist-pages.md); with it the smallest "
    "reliable change is 3.76 points, i.e. 4 on whole-number totals, the NHS Talking Therapies threshold.",
)
"""GAD-7 reliability (Cronbach's alpha) and pre-treatment SD used for the client page's RCI."""

NhsChange = Literal["improved", "no reliable change", "deteriorated"]
RciCategory = Literal["improved", "unchanged", "deteriorated"]


@dataclass(frozen=True)
class MeasureChange:
    """Change on one measure from the first to the latest score, by the NHS threshold and by the RCI (JT)."""

    instrument: str
    first: float
    latest: float
    scores: int
    change: float
    nhs_threshold: int
    nhs: NhsChange
    rci: float
    reliable_change: float
    rci_category: RciCategory
    norm: ReliabilityNorm


@dataclass(frozen=True)
class ChangeSoFar:
    """Reliable change so far on the PHQ-9 and GAD-7, and the NHS verdict over both (None without two scores)."""

    phq9: MeasureChange | None
    gad7: MeasureChange | None
    overall: Literal["reliable improvement", "reliable deterioration", "no reliable change"] | None


def change_so_far(
    checkins: pd.DataFrame,
    *,
    norms: Mapping[str, ReliabilityNorm] | None = None,
    significance: float = 0.05,
) -> ChangeSoFar:
    r"""Return one client's change from the first to the latest PHQ-9 and GAD-7 score.

    Parameters
    ----------
    checkins:
        The client's check-ins (:data:`CHECKIN_COLUMNS`); totals that are NaN are skipped.
    norms:
        Reliability and SD per instrument id; by default :data:`PHQ9_NORM` and :data:`GAD7_NORM`.
    significance:
        Two-sided level of the RCI (default .05, critical value 1.96).

    Notes
    -----
    Per measure: the NHS verdict is *improved* for a fall of at least its threshold (PHQ-9 6, GAD-7 4),
    *deteriorated* for a rise of at least it, else *no reliable change*. The Jacobson-Truax index is
    :math:`RCI = (x_{latest} - x_{first}) / (\sqrt{2}\, SD \sqrt{1 - r})`; reliable when :math:`|RCI| > 1.96`;
    ``reliable_change`` is the smallest change that passes, :math:`1.96 \sqrt{2}\, SD \sqrt{1 - r}`. The overall
    verdict follows the NHS rule over the measures that have two scores: reliable improvement when one falls by
    its threshold and none rises by its threshold, deterioration the other way round.

    References
    ----------
    Jacobson NS, Truax P (1991). Clinical significance: a statistical approach to defining meaningful change in
    psychotherapy research. *JCCP* 59(1):12-19.
    Kroenke K, Spitzer RL, Williams JBW (2001). The PHQ-9: validity of a brief depression severity measure.
    *J Gen Intern Med* 16(9):606-613.
    Spitzer RL, Kroenke K, Williams JBW, Löwe B (2006). A brief measure for assessing generalized anxiety
    disorder: the GAD-7. *Arch Intern Med* 166(10):1092-1097.
    NHS England. NHS Talking Therapies for anxiety and depression manual (reliable change thresholds).
    """
    chosen = dict(norms) if norms is not None else {PHQ9: PHQ9_NORM, GAD7: GAD7_NORM}
    table = _first_and_last(checkins, [PHQ9, GAD7]).reset_index()
    changes: dict[str, MeasureChange | None] = {}
    for instrument in (PHQ9, GAD7):
        row = table[(table["instrument"] == instrument) & (table["count"] >= 2)]
        if row.empty:
            changes[instrument] = None
            continue
        first, last = row[["first", "last"]].to_numpy(dtype=float)[0]
        count = int(row["count"].to_numpy()[0])
        changes[instrument] = _measure_change(instrument, first, last, count, chosen[instrument], significance)
    present = [change for change in changes.values() if change is not None]
    overall: Literal["reliable improvement", "reliable deterioration", "no reliable change"] | None = None
    if present:
        rises = any(c.nhs == "deteriorated" for c in present)
        falls = any(c.nhs == "improved" for c in present)
        overall = (
            "reliable improvement"
            if falls and not rises
            else "reliable deterioration"
            if rises and not falls
            else "no reliable change"
        )
    return ChangeSoFar(phq9=changes[PHQ9], gad7=changes[GAD7], overall=overall)


def _measure_change(
    instrument: str, first: float, last: float, scores: int, norm: ReliabilityNorm, significance: float
) -> MeasureChange:
    threshold = _NHS_THRESHOLD[instrument]
    change = last - first
    nhs: NhsChange = (
        "improved" if change <= -threshold else "deteriorated" if change >= threshold else "no reliable change"
    )
    # One client: the sample SD is replaced by the published norm (the means do not enter the JT index).
    result = reliable_change(
        [first],
        [last],
        reliability=norm.reliability,
        method="jt",
        better="lower",
        significance=significance,
        m_pre=first,
        sd_pre=norm.sd,
        m_post=last,
        sd_post=norm.sd,
    )
    category = cast(RciCategory, str(result.category[0]))
    return MeasureChange(
        instrument=instrument,
        first=first,
        latest=last,
        scores=scores,
        change=change,
        nhs_threshold=threshold,
        nhs=nhs,
        rci=float(result.rci[0]),
        reliable_change=float(result.critical_value * np.sqrt(2.0) * result.se_measurement),
        rci_category=category,
        norm=norm,
    )


# --- client and therapist side by side ------------------------------------------------------------------------


@dataclass(frozen=True)
class DomainGap:
    """One item of the relationship check-in as the client and the therapist rated it (``gap``: client - therapist)."""

    item: str
    domain: str
    client: float | None
    therapist: float | None
    gap: float | None
    flagged: bool


def rating_gap(
    client_answers: Mapping[str, float | None],
    therapist_answers: Mapping[str, float | None],
    *,
    instrument: Instrument,
    flag_at: float = 2.0,
) -> tuple[DomainGap, ...]:
    """Return the client-minus-therapist difference per item of the relationship check-in.

    The client and therapist forms share item ids; ``instrument`` (the client form) gives their order and
    domains. A gap of ``flag_at`` points or more either way (default 2 on the 0-10 items) is flagged: a
    therapist who rates the session much better than the client may be missing a rupture (Muran et al. 2009
    found patients report fewer ruptures than therapists; either way the difference is worth a conversation).
    """
    gaps = []
    for item in instrument.items:
        mine, theirs = client_answers.get(item.id), therapist_answers.get(item.id)
        gap = None if mine is None or theirs is None else float(mine) - float(theirs)
        gaps.append(
            DomainGap(
                item=item.id,
                domain=item.domain or item.id,
                client=None if mine is None else float(mine),
                therapist=None if theirs is None else float(theirs),
                gap=gap,
                flagged=gap is not None and abs(gap) >= flag_at,
            )
        )
    return tuple(gaps)
