"""Dropout risk: a transparent points score from attendance and the relationship check-in.

Not a fitted model: a practice has no outcome labels (who dropped out) until episodes close, and a model fitted
elsewhere would not carry over. Instead each sign that the literature ties to premature ending adds points, and
the reasons are shown with the level, so a therapist can see, and disagree with, why a client is flagged:

- every *did-not-attend* among the last ``window`` (4) past appointments: 2 points;
- every *cancellation* among them: 1 point;
- a *falling alliance*: an open rupture in the relationship check-in (the score dipped and is not yet back
  within its band; :class:`~alliance.monitoring.ruptures.RuptureDetector`, lenient, causal): 2 points; the
  latest check-in below the cut-off (:func:`~alliance.monitoring.attention.alliance_cutoff`): 1 point;
- the *early phase* (the latest session is 1-3): 1 point.

0-1 points is *low*, 2-3 *moderate*, 4 or more *high*. The weights are provisional (our reading of the
literature below) until they can be checked against a practice's own endings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from alliance.monitoring.ruptures import RuptureDetector

__all__ = ["DropoutReason", "DropoutRisk", "DropoutRules", "dropout_risk"]

Level = Literal["low", "moderate", "high"]

# Appointments that have happened (or were due and missed); "scheduled" ones are in the future.
_PAST = ("attended", "did_not_attend", "cancelled")


@dataclass(frozen=True)
class DropoutRules:
    """Points and thresholds of :func:`dropout_risk` (provisional; see the module docstring)."""

    window: int = 4
    missed_points: int = 2
    cancelled_points: int = 1
    rupture_points: int = 2
    below_cutoff_points: int = 1
    early_points: int = 1
    early_sessions: int = 3
    moderate_at: int = 2
    high_at: int = 4


@dataclass(frozen=True)
class DropoutReason:
    """One sign that added points: ``code`` (missed, cancelled, rupture, below-cutoff, early), points, text."""

    code: str
    points: int
    detail: str


@dataclass(frozen=True)
class DropoutRisk:
    """The level (low, moderate, high), the points it rests on and every reason that added points."""

    level: Level
    points: int
    reasons: tuple[DropoutReason, ...]


def dropout_risk(
    appointments: pd.DataFrame,
    alliance: pd.DataFrame | None = None,
    *,
    cutoff: float | None = None,
    detector: RuptureDetector | None = None,
    rules: DropoutRules = DropoutRules(),
) -> DropoutRisk:
    """Return one client's dropout risk level and the reasons for it.

    Parameters
    ----------
    appointments:
        The client's appointments: ``session`` (number from 1) and ``status`` (``attended``,
        ``did_not_attend``, ``cancelled`` or ``scheduled``).
    alliance:
        The client's relationship check-ins: ``session`` and ``total`` (NaN when not scored); ``None`` when
        there are none.
    cutoff:
        The relationship check-in's cut-off (a total below it counts); ``None`` skips that sign.
    detector:
        Finds open ruptures; by default ``RuptureDetector(criterion="lenient", between_sd=1.0, causal=True)``
        (the clinic's defaults, see :mod:`alliance.monitoring.evaluate`).
    rules:
        Points and thresholds.

    Returns
    -------
    DropoutRisk
        ``level``, ``points`` and ``reasons`` (largest first).

    References
    ----------
    Sharf J, Primavera LH, Diener MJ (2010). Dropout and therapeutic alliance: a meta-analysis of adult
    individual psychotherapy. *Psychotherapy* 47(4):637-645 (a weaker alliance goes with dropout).
    Swift JK, Greenberg RP (2012). Premature discontinuation in adult psychotherapy: a meta-analysis. *JCCP*
    80(4):547-559 (about one client in five ends early; many after few sessions).
    Eubanks CF, Muran JC, Safran JD (2018). Alliance rupture repair: a meta-analysis. *Psychotherapy*
    55(4):508-519 (unrepaired ruptures and unilateral endings).
    """
    reasons: list[DropoutReason] = []
    past = appointments[appointments["status"].isin(_PAST)].sort_values("session", kind="stable")
    recent = past.tail(rules.window)
    missed = int((recent["status"] == "did_not_attend").sum())
    cancelled = int((recent["status"] == "cancelled").sum())
    if missed:
        reasons.append(
            DropoutReason("missed", missed * rules.missed_points, f"{missed} of the last {len(recent)} not attended")
        )
    if cancelled:
        reasons.append(
            DropoutReason(
                "cancelled", cancelled * rules.cancelled_points, f"{cancelled} of the last {len(recent)} cancelled"
            )
        )
    latest_session = float(past["session"].max()) if len(past) else np.nan
    if alliance is not None:
        rated = alliance[alliance["total"].notna()].sort_values("session", kind="stable")
        if len(rated):
            latest_session = np.fmax(latest_session, float(rated["session"].max()))
            reasons.extend(_alliance_reasons(rated, cutoff=cutoff, detector=detector, rules=rules))
    if not np.isnan(latest_session) and latest_session <= rules.early_sessions:
        reasons.append(DropoutReason("early", rules.early_points, f"early in therapy (session {int(latest_session)})"))
    points = sum(reason.points for reason in reasons)
    level: Level = "high" if points >= rules.high_at else "moderate" if points >= rules.moderate_at else "low"
    ordered = tuple(sorted(reasons, key=lambda reason: -reason.points))
    return DropoutRisk(level=level, points=points, reasons=ordered)


def _alliance_reasons(
    rated: pd.DataFrame, *, cutoff: float | None, detector: RuptureDetector | None, rules: DropoutRules
) -> list[DropoutReason]:
    reasons = []
    series = pd.DataFrame({"id": 0, "session": rated["session"].to_numpy(), "total": rated["total"].to_numpy()})
    template = detector or RuptureDetector(criterion="lenient", between_sd=1.0, causal=True)
    finder = RuptureDetector(**template.get_params()).fit(series, id="id", time="session", score="total")
    ruptures = finder.detect(series, id="id", time="session", score="total")
    still_open = ruptures[ruptures["ended_at"].isna()]
    if len(still_open):
        since = int(still_open["time"].iloc[-1])
        reasons.append(
            DropoutReason("rupture", rules.rupture_points, f"relationship score dipped at session {since}, not back")
        )
    latest = float(rated["total"].iloc[-1])
    if cutoff is not None and latest < cutoff:
        reasons.append(
            DropoutReason(
                "below-cutoff",
                rules.below_cutoff_points,
                f"latest relationship check-in {latest:.1f}, below {cutoff:g}",
            )
        )
    return reasons
