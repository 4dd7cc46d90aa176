"""Therapist summaries with their uncertainty (never a league table), and a therapist's own trends over time.

Therapists differ little once case-mix is accounted for (about 5% of outcome variance; Wampold & Brown 2005), and
a caseload of a few dozen clients gives wide intervals. So every figure here comes with its 95% interval and its
count, therapists are listed alphabetically, and the pages say when the intervals overlap.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from alliance.change.proportions import wilson_interval
from alliance.change.talking_therapies import PHQ9_MAX, episode_outcomes
from alliance.clinic.practice.caseload import CaseloadData, CaseloadRow
from alliance.clinic.practice.charts import Marker, Panel, Reference, Series, Svg, line_chart
from alliance.monitoring.attention import ALLIANCE_CLIENT, GAD7, PHQ9

__all__ = [
    "EARLY_SESSIONS",
    "Interval",
    "TherapistSummary",
    "TrendPoint",
    "early_alliance",
    "intervals_overlap",
    "mean_interval",
    "monthly_trends",
    "outcome_table",
    "rate_interval",
    "therapist_summaries",
    "trends_chart",
]

EARLY_SESSIONS = 3
"""Sessions that count as early treatment (the early alliance predicts outcome; Flückiger et al. 2018)."""


@dataclass(frozen=True)
class Interval:
    """An estimate with its 95% interval and the count it rests on (``successes`` for rates)."""

    estimate: float
    low: float
    high: float
    n: int
    successes: int | None = None

    @property
    def known(self) -> bool:
        return not math.isnan(self.estimate)

    @property
    def has_interval(self) -> bool:
        return not (math.isnan(self.low) or math.isnan(self.high))

    @property
    def as_percent(self) -> str:
        """The rate in words for a table cell, e.g. ``45% (95% CI 30% to 61%)``."""
        if not self.known:
            return "no data"
        interval = f" (95% CI {self.low:.0%} to {self.high:.0%})" if self.has_interval else ""
        return f"{self.estimate:.0%}{interval}"

    @property
    def as_mean(self) -> str:
        """The mean in words for a table cell, e.g. ``8.1 (95% CI 7.6 to 8.6)``."""
        if not self.known:
            return "no data"
        interval = f" (95% CI {self.low:.1f} to {self.high:.1f})" if self.has_interval else " (too few for an interval)"
        return f"{self.estimate:.1f}{interval}"


def mean_interval(values: npt.ArrayLike, *, confidence: float = 0.95) -> Interval:
    """Return the mean of ``values`` (NaN skipped) with its t-interval; no interval below two values.

    References
    ----------
    Student (1908). The probable error of a mean. *Biometrika* 6(1):1-25.
    """
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    n = int(x.size)
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 0)
    mean = float(x.mean())
    if n < 2:
        return Interval(mean, math.nan, math.nan, n)
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * float(x.std(ddof=1)) / math.sqrt(n)
    return Interval(mean, mean - half, mean + half, n)


def rate_interval(successes: int, trials: int, *, confidence: float = 0.95) -> Interval:
    """Return ``successes / trials`` with its Wilson interval (NaN when there are no trials).

    References
    ----------
    Wilson EB (1927). Probable inference, the law of succession, and statistical inference. *JASA* 22:209-212.
    """
    low, high = wilson_interval(successes, trials, confidence=confidence)
    rate = successes / trials if trials else math.nan
    return Interval(rate, float(low), float(high), trials, successes)


def intervals_overlap(intervals: Sequence[Interval]) -> bool:
    """Say whether all the intervals share at least one value (true when fewer than two have an interval)."""
    known = [i for i in intervals if i.has_interval]
    return len(known) < 2 or max(i.low for i in known) <= min(i.high for i in known)


def outcome_table(checkins: pd.DataFrame) -> pd.DataFrame:
    """Return one row per client and session with the PHQ-9 and GAD-7 totals, as ``episode_outcomes`` reads it."""
    scored = checkins[
        checkins["instrument"].isin([PHQ9, GAD7]) & checkins["total"].notna() & checkins["session"].notna()
    ]
    if scored.empty:
        return pd.DataFrame({"client": [], "session": [], "phq9": [], "gad7": []}).astype(float)
    wide = scored.pivot_table(index=["client", "session"], columns="instrument", values="total", aggfunc="last")
    return wide.reindex(columns=[PHQ9, GAD7]).reset_index().rename_axis(columns=None)


def early_alliance(checkins: pd.DataFrame, *, sessions: int = EARLY_SESSIONS) -> pd.Series:
    """Return each client's mean relationship check-in over sessions 1 to ``sessions``."""
    early = checkins[
        (checkins["instrument"] == ALLIANCE_CLIENT) & checkins["total"].notna() & (checkins["session"] <= sessions)
    ]
    return early.groupby("client")["total"].mean()


@dataclass(frozen=True)
class TherapistSummary:
    """One therapist's caseload: its size, the flagged clients, recovery and early alliance with intervals."""

    therapist_id: int
    name: str
    clients: int
    flagged: tuple[CaseloadRow, ...]
    recovery: Interval
    early_alliance: Interval


def therapist_summaries(
    therapists: Sequence[tuple[int, str]], *, data: CaseloadData, rows: Sequence[CaseloadRow]
) -> list[TherapistSummary]:
    """Summarise each therapist's clients; listed alphabetically by name, never ranked.

    Recovery follows NHS Talking Therapies (:func:`alliance.change.talking_therapies.episode_outcomes`): among
    clients with at least two sessions with both PHQ-9 and GAD-7 who were a case at the first, the share no
    longer a case at the latest; its interval is Wilson's. Early alliance is the mean over clients of each
    client's mean relationship check-in over the first three sessions, with a t-interval.

    References
    ----------
    Clark DM et al. (2018). Transparency about the outcomes of mental health services (IAPT approach).
    *The Lancet* 391(10121):679-686.
    Wampold BE, Brown GS (2005). Estimating variability in outcomes attributable to therapists.
    *JCCP* 73(5):914-923.
    """
    therapist_of = dict(zip(data.clients["client"], data.clients["therapist"], strict=True))
    outcomes = episode_outcomes(outcome_table(data.checkins)) if not data.checkins.empty else None
    early = early_alliance(data.checkins)
    summaries = []
    for therapist_id, name in therapists:
        mine = {client for client, therapist in therapist_of.items() if therapist == therapist_id}
        if outcomes is not None and len(outcomes):
            own = outcomes[outcomes["client"].isin(mine)]
            cases = int(own["case_at_start"].fillna(False).astype(bool).sum())
            recovered = int(own["recovered"].fillna(False).astype(bool).sum())
        else:
            cases = recovered = 0
        summaries.append(
            TherapistSummary(
                therapist_id=therapist_id,
                name=name,
                clients=len(mine),
                flagged=tuple(row for row in rows if row.therapist_id == therapist_id and row.reasons),
                recovery=rate_interval(recovered, cases),
                early_alliance=mean_interval(early[early.index.isin(mine)].to_numpy(dtype=float)),
            )
        )
    summaries.sort(key=lambda s: (s.name.casefold(), s.therapist_id))
    return summaries


@dataclass(frozen=True)
class TrendPoint:
    """One month of a therapist's work: mean alliance, share below the cut-off, mean PHQ-9 change since intake."""

    period: str
    alliance: Interval
    below_cutoff: Interval
    phq9_change: Interval


def monthly_trends(checkins: pd.DataFrame, *, cutoff: float, time_zone: str) -> list[TrendPoint]:
    """Return, per calendar month, the therapist's alliance and outcome trends across clients.

    Each client counts once per month (their mean relationship check-in that month; their latest PHQ-9 that month
    minus their first PHQ-9 ever), so a client seen weekly does not outweigh one seen monthly. Means carry
    t-intervals over clients; the share of clients whose mean is below ``cutoff`` carries a Wilson interval.
    A client's first PHQ-9 (intake) is not a change and is left out.
    """
    if checkins.empty:
        return []
    frame = checkins[checkins["total"].notna()].copy()
    frame["period"] = frame["when"].dt.tz_convert(time_zone).dt.strftime("%Y-%m")
    alliance = frame[frame["instrument"] == ALLIANCE_CLIENT].groupby(["period", "client"])["total"].mean()
    phq9 = frame[frame["instrument"] == PHQ9].sort_values(["client", "when"], kind="stable")
    phq9 = phq9.assign(change=phq9["total"] - phq9.groupby("client")["total"].transform("first"))
    phq9 = phq9[phq9.groupby("client").cumcount() > 0]
    change = phq9.groupby(["period", "client"])["change"].last()
    periods = sorted(set(alliance.index.get_level_values("period")) | set(change.index.get_level_values("period")))
    points = []
    for period in periods:
        means = alliance.xs(period, level="period").to_numpy(dtype=float) if period in alliance.index else np.array([])
        changes = change.xs(period, level="period").to_numpy(dtype=float) if period in change.index else np.array([])
        points.append(
            TrendPoint(
                period=period,
                alliance=mean_interval(means),
                below_cutoff=rate_interval(int((means < cutoff).sum()), int(means.size)),
                phq9_change=mean_interval(changes),
            )
        )
    return points


def trends_chart(points: Sequence[TrendPoint], *, cutoff: float) -> Svg:
    """Draw the monthly alliance and PHQ-9 change with their 95% intervals as whiskers."""
    ticks = [(float(i), p.period) for i, p in enumerate(points, start=1)]

    def series(name: str, values: Sequence[Interval], colour: str, marker: Marker) -> Series:
        chosen = [(x, v) for (x, _), v in zip(ticks, values, strict=True) if v.known]
        return Series(
            name,
            tuple((x, v.estimate) for x, v in chosen),
            colour,
            marker=marker,
            intervals=tuple((v.low, v.high) for _, v in chosen),
        )

    changes = [p.phq9_change for p in points if p.phq9_change.known]
    bounds = [v for i in changes for v in (i.low, i.high, i.estimate) if not math.isnan(v)]
    # A change cannot exceed the scale's range: wide intervals of small months are cut there (and say so in the table).
    low = max(math.floor(min([*bounds, -6.0]) - 1), -PHQ9_MAX)
    high = min(math.ceil(max([*bounds, 2.0]) + 1), PHQ9_MAX)
    return line_chart(
        [
            Panel(
                title="Mean relationship check-in across your clients (0-10), with 95% interval",
                y_label="Mean alliance",
                y_min=0,
                y_max=10,
                y_ticks=(0, 2, 4, 6, 8, 10),
                series=(series("Alliance", [p.alliance for p in points], "#1d6b35", "triangle"),),
                references=(Reference(cutoff, f"Provisional cut-off {cutoff:g}"),),
            ),
            Panel(
                title="Mean PHQ-9 change since intake (negative is improvement), with 95% interval",
                y_label="PHQ-9 change",
                y_min=low,
                y_max=high,
                series=(series("PHQ-9 change", [p.phq9_change for p in points], "#0b5cad", "circle"),),
                references=(Reference(0, "No change"), Reference(-6, "Reliable fall (-6)", "#1d6b35")),
            ),
        ],
        title="Your alliance and outcome trends by month",
        description=(
            "Two panels share the month axis. Top: the mean of your clients' relationship check-ins each month with "
            "its 95% interval and the provisional cut-off. Bottom: the mean change in PHQ-9 since each client's "
            "intake, with its 95% interval; the reliable improvement threshold (6 points down) is a dashed line. "
            "The table below gives every value with its count."
        ),
        x_label="Month",
        x_ticks=ticks or [(1.0, "")],
        chart_id="my-trends",
    )
