"""The analytics page (and its PDF): the metrics of ``alliance.analytics.metrics`` over what the user may see.

The contract tables come from :func:`alliance.clinic.reports.tables.contract_tables` (the same code the research
export uses, without de-identification), scoped by ``visible_to``: a supervisor's teams, an admin's practice. The
numbers come from ``compute_frames`` unchanged; this module only picks the rows, turns them into words and draws
the charts. A figure about fewer than five clients arrives blanked and flagged ``suppressed`` and is shown as such.
There is no per-therapist figure anywhere: the therapist effect is one share for the whole scope.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from django.utils import timezone

from alliance.analytics.metrics import SUPPRESS_BELOW, compute_frames
from alliance.clinic.accounts.models import Role
from alliance.clinic.practice.charts import Panel, Reference, Series, Svg, line_chart
from alliance.clinic.practice.models import ETHNICITY_CHOICES
from alliance.clinic.reports.charts import IntervalRow, interval_chart
from alliance.clinic.reports.tables import ContractTables, contract_tables

__all__ = ["ALL_PERIODS", "AnalyticsPage", "EquityTable", "Figure", "analytics_page", "filter_period"]

ALL_PERIODS = "all"
OUTCOME_WORDS = {
    "recovery": "Recovery",
    "reliable_improvement": "Reliable improvement",
    "reliable_deterioration": "Reliable deterioration",
    "reliable_recovery": "Reliable recovery",
    "unplanned_ending": "Unplanned ending (dropped out)",
}
EQUITY_OUTCOMES = ("recovery", "reliable_improvement", "unplanned_ending")
DIMENSION_WORDS = {
    "ethnicity": "Ethnicity (client-reported)",
    "language": "Language",
    "age_band": "Age band",
    "gender": "Gender",
    "deprivation": "Deprivation (IMD quintile, 1 = most deprived)",
}
_ETHNICITY = dict(ETHNICITY_CHOICES)
_LANGUAGE = {"en": "English", "es": "Spanish"}
_GENDER = {"female": "Female", "male": "Male", "other": "Other", "not_stated": "Not stated"}


@dataclass(frozen=True)
class Figure:
    """One figure in words for a table cell: the estimate with its interval, the count it rests on."""

    label: str
    value: str
    basis: str
    suppressed: bool = False


@dataclass(frozen=True)
class EquityRow:
    group: str
    cells: tuple[Figure, ...]


@dataclass(frozen=True)
class EquityTable:
    dimension: str
    title: str
    rows: tuple[EquityRow, ...]


@dataclass(frozen=True)
class AnalyticsPage:
    """Everything the analytics page and its PDF show."""

    scope: str
    period: str
    periods: tuple[str, ...]
    clients: int
    episodes: int
    generated_at: Any
    outcomes: tuple[Figure, ...] = ()
    outcomes_chart: Svg | None = None
    alliance: tuple[Figure, ...] = ()
    association: tuple[Figure, ...] = ()
    therapist_effect: Figure | None = None
    engagement: tuple[Figure, ...] = ()
    engagement_chart: Svg | None = None
    equity: tuple[EquityTable, ...] = ()
    equity_outcomes: tuple[str, ...] = field(default=tuple(OUTCOME_WORDS[o] for o in EQUITY_OUTCOMES))
    trend_chart: Svg | None = None
    suppress_below: int = SUPPRESS_BELOW

    @property
    def has_data(self) -> bool:
        return self.episodes > 0

    @property
    def period_label(self) -> str:
        return "all episodes" if self.period == ALL_PERIODS else f"episodes that ended in {self.period}"


def scope_label(user: Any) -> str:
    if getattr(user, "role", None) == Role.ADMIN:
        practice = getattr(user, "practice", None)
        return f"the whole practice{f' ({practice})' if practice else ''}"
    teams = [str(team) for team in user.supervised_teams.order_by("name")]
    named = f" ({', '.join(teams)})" if teams else ""
    return f"your team{'s' if len(teams) > 1 else ''}{named}"


def filter_period(tables: ContractTables, period: str) -> ContractTables:
    """Keep the episodes that ended in ``period`` (``2026-Q1``; ``open`` for those still open) and their rows."""
    if period == ALL_PERIODS:
        return tables
    episodes = tables.episodes[_periods(tables.episodes) == period]
    kept = set(episodes["episode_id"])
    return ContractTables(
        clients=tables.clients[tables.clients["client_id"].isin(set(episodes["client_id"]))],
        episodes=episodes,
        appointments=tables.appointments[tables.appointments["episode_id"].isin(kept)],
        checkins=tables.checkins[tables.checkins["episode_id"].isin(kept)],
    )


def _periods(episodes: pd.DataFrame) -> pd.Series:
    """The quarter each episode ended in, as the metrics name it (``2026-Q1``; ``open`` while open)."""
    return episodes["end_date"].map(
        lambda d: "open" if d is None or pd.isna(d) else f"{d.year}-Q{(d.month - 1) // 3 + 1}"
    )


def analytics_page(user: Any, *, period: str = ALL_PERIODS) -> AnalyticsPage:
    """Compute the page for ``user``'s scope; ``period`` must be ``all`` or one of the page's ``periods``."""
    everything = contract_tables(user=user)
    periods = tuple(sorted(set(_periods(everything.episodes)) - {"open"}, reverse=True))
    if period != ALL_PERIODS and period not in periods:
        period = ALL_PERIODS
    tables = filter_period(everything, period)
    base = AnalyticsPage(
        scope=scope_label(user),
        period=period,
        periods=periods,
        clients=len(tables.clients),
        episodes=len(tables.episodes),
        generated_at=timezone.localtime(),
    )
    if not base.has_data:
        return base
    results = compute_frames(tables.as_dict(), by=())
    trend = None
    if period == ALL_PERIODS and len(periods) > 1:
        by_period = compute_frames(everything.as_dict(), by=("period",), metrics=["outcomes"])["outcomes"]
        trend = _trend_chart(by_period[by_period["period"] != "open"].sort_values("period"))
    outcomes = _first(results["outcomes"])
    alliance = _first(results["alliance"])
    engagement = _first(results["engagement"])
    outcome_figures = tuple(_rate(outcomes, name, OUTCOME_WORDS[name]) for name in list(OUTCOME_WORDS)[:4])
    engagement_figures = (
        _rate(engagement, "checkin_completion", "Check-in completion (attended sessions with a check-in)"),
        _rate(engagement, "dna", "Missed appointments (did not attend)"),
        _rate(engagement, "unplanned_ending", "Unplanned endings (dropped out)"),
    )
    return AnalyticsPage(
        scope=base.scope,
        period=period,
        periods=periods,
        clients=base.clients,
        episodes=base.episodes,
        generated_at=base.generated_at,
        outcomes=outcome_figures,
        outcomes_chart=_rates_chart(
            outcome_figures,
            outcomes,
            list(OUTCOME_WORDS)[:4],
            "outcomes-chart",
            "NHS Talking Therapies outcomes with 95% intervals",
        ),
        alliance=_alliance(alliance),
        association=_association(_first(results["association"])),
        therapist_effect=_therapist_effect(_first(results["therapist_effects"])),
        engagement=engagement_figures,
        engagement_chart=_rates_chart(
            engagement_figures,
            engagement,
            ["checkin_completion", "dna", "unplanned_ending"],
            "engagement-chart",
            "Engagement with 95% intervals",
        ),
        equity=_equity(results["equity"]),
        trend_chart=trend,
    )


# --- figures in words --------------------------------------------------------------------------------------------


def _first(frame: pd.DataFrame) -> dict[Any, Any]:
    """The one row of a metric computed without ``by``."""
    return frame.to_dict("records")[0]


def _number(row: Mapping[Any, Any], column: str) -> float:
    value = row.get(column)
    if value is None or value is pd.NA:
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _count(row: Mapping[Any, Any], column: str) -> int | None:
    value = _number(row, column)
    return None if math.isnan(value) else int(value)


def _percent(estimate: float, low: float, high: float) -> str:
    if math.isnan(estimate):
        return "no data"
    interval = "" if math.isnan(low) or math.isnan(high) else f" (95% CI {low:.0%} to {high:.0%})"
    return f"{estimate:.0%}{interval}"


def _suppressed(row: Mapping[Any, Any]) -> bool:
    return bool(row.get("suppressed", False))


SUPPRESSED_TEXT = f"not shown: fewer than {SUPPRESS_BELOW} clients"


# Each rate's denominator column in the metric's row (the metrics name the events column after the rate).
DENOMINATORS = {
    "recovery": "cases",
    "reliable_improvement": "finished",
    "reliable_deterioration": "finished",
    "reliable_recovery": "cases",
    "rupture": "rupture_n",
    "repaired": "rupture",
    "rupture_strict": "rupture_n",
    "checkin_completion": "attended",
    "dna": "booked",
    "unplanned_ending": "ended",
}


def _rate(row: Mapping[Any, Any], name: str, label: str) -> Figure:
    if _suppressed(row):
        return Figure(label, SUPPRESSED_TEXT, "", suppressed=True)
    events, trials = _count(row, name), _count(row, DENOMINATORS[name])
    rate = _number(row, f"{name}_rate")
    basis = f"{events} of {trials}" if trials else "none yet"
    return Figure(label, _percent(rate, _number(row, f"{name}_low"), _number(row, f"{name}_high")), basis)


def _alliance(row: Mapping[Any, Any]) -> tuple[Figure, ...]:
    if _suppressed(row):
        return (Figure("Alliance", SUPPRESSED_TEXT, "", suppressed=True),)
    mean, low, high = (_number(row, c) for c in ("early_alliance", "early_alliance_low", "early_alliance_high"))
    n = _count(row, "early_alliance_n") or 0
    early = (
        "no data"
        if math.isnan(mean)
        else f"{mean:.1f} of 10" + ("" if math.isnan(low) else f" (95% CI {low:.1f} to {high:.1f})")
    )
    return (
        Figure("Mean early alliance (sessions 1–3)", early, f"{n} episode{'s' if n != 1 else ''}"),
        _rate(row, "rupture", "Episodes with a rupture (lenient rule)"),
        _rate(row, "repaired", "Ruptures repaired (within 3 sessions)"),
        _rate(row, "rupture_strict", "Episodes with a rupture (strict rule)"),
    )


def _association(row: Mapping[Any, Any]) -> tuple[Figure, ...]:
    if _suppressed(row):
        return (Figure("Alliance and outcome", SUPPRESSED_TEXT, "", suppressed=True),)
    r, low, high = (_number(row, c) for c in ("between_r", "between_low", "between_high"))
    slope, s_low, s_high = (_number(row, c) for c in ("within_slope", "within_low", "within_high"))
    between = (
        "too few finished episodes"
        if math.isnan(r)
        else f"r = {r:.2f}" + ("" if math.isnan(low) else f" (95% CI {low:.2f} to {high:.2f})")
    )
    within = (
        "too few check-ins"
        if math.isnan(slope)
        else f"{slope:+.2f} PHQ-9 points per alliance point"
        + ("" if math.isnan(s_low) else f" (95% CI {s_low:+.2f} to {s_high:+.2f})")
    )
    return (
        Figure(
            "Between clients: early alliance vs PHQ-9 improvement", between, f"{_count(row, 'between_n') or 0} episodes"
        ),
        Figure(
            "Within clients: alliance vs next session's PHQ-9 change",
            within,
            f"{_count(row, 'within_n') or 0} session pairs in {_count(row, 'within_episodes') or 0} episodes",
        ),
    )


def _therapist_effect(row: Mapping[Any, Any]) -> Figure:
    label = "Share of PHQ-9 improvement variance between therapists (ICC)"
    if _suppressed(row):
        return Figure(label, SUPPRESSED_TEXT, "", suppressed=True)
    icc, low, high = (_number(row, c) for c in ("icc", "icc_low", "icc_high"))
    therapists = _count(row, "therapists") or 0
    basis = f"{therapists} therapist{'s' if therapists != 1 else ''}, {_count(row, 'episodes') or 0} finished episodes"
    if math.isnan(icc):
        return Figure(label, "too few therapists or finished episodes for an estimate", basis)
    if icc < 0:
        # The moment estimator falls below zero when therapists differ less than chance alone would make them.
        interval = "" if math.isnan(low) else f"; 95% CI {low:.0%} to {high:.0%}"
        return Figure(label, f"about 0% (estimate {icc:.0%}: no difference beyond chance{interval})", basis)
    return Figure(label, _percent(icc, low, high), basis)


def _group_words(dimension: str, group: object) -> str:
    text = str(group)
    if group is None or text in ("", "nan", "<NA>", "None"):
        return "Unknown"
    if dimension == "ethnicity":
        return f"{text} — {_ETHNICITY.get(text, text)}"
    if dimension == "language":
        return _LANGUAGE.get(text, text)
    if dimension == "gender":
        return _GENDER.get(text, text)
    if dimension == "deprivation":
        return f"Quintile {text.removesuffix('.0')}"
    return text


def _equity(frame: pd.DataFrame) -> tuple[EquityTable, ...]:
    tables = []
    for dimension, words in DIMENSION_WORDS.items():
        part = frame[(frame["dimension"] == dimension) & frame["outcome"].isin(EQUITY_OUTCOMES)]
        if part.empty:
            continue
        rows = []
        for group, cells in part.groupby("group", sort=True, dropna=False):
            by_outcome = {str(r["outcome"]): r for r in cells.to_dict("records")}
            figures = []
            for outcome in EQUITY_OUTCOMES:
                row = by_outcome.get(outcome)
                if row is None:
                    figures.append(Figure(OUTCOME_WORDS[outcome], "no data", ""))
                    continue
                if _suppressed(row):
                    figures.append(Figure(OUTCOME_WORDS[outcome], SUPPRESSED_TEXT, "", suppressed=True))
                    continue
                gap, g_low, g_high = (_number(row, c) for c in ("gap", "gap_low", "gap_high"))
                gap_text = (
                    ""
                    if math.isnan(gap)
                    else f"; gap to average {gap * 100:+.0f} points"
                    + ("" if math.isnan(g_low) else f" (95% CI {g_low * 100:+.0f} to {g_high * 100:+.0f})")
                )
                value = _percent(_number(row, "rate"), _number(row, "low"), _number(row, "high")) + gap_text
                basis = f"{_count(row, 'events') or 0} of {_count(row, 'denominator') or 0}"
                figures.append(Figure(OUTCOME_WORDS[outcome], value, basis))
            rows.append(EquityRow(_group_words(dimension, group), tuple(figures)))
        tables.append(EquityTable(dimension, words, tuple(rows)))
    return tuple(tables)


# --- charts --------------------------------------------------------------------------------------------------------


def _rates_chart(
    figures: Sequence[Figure], row: Mapping[Any, Any], names: Sequence[str], chart_id: str, title: str
) -> Svg | None:
    if _suppressed(row):
        return None
    rows = [
        IntervalRow(
            figure.label.split(" (")[0],
            _number(row, f"{name}_rate"),
            _number(row, f"{name}_low"),
            _number(row, f"{name}_high"),
            f"{_percent(_number(row, f'{name}_rate'), math.nan, math.nan)} ({figure.basis})",
        )
        for figure, name in zip(figures, names, strict=True)
    ]
    return interval_chart(
        rows,
        title=title,
        description="Each row is one rate: the dot is the estimate, the whisker its 95% interval (Wilson); "
        "the table beside the chart gives every value with its count.",
        chart_id=chart_id,
    )


def _trend_chart(by_period: pd.DataFrame) -> Svg | None:
    shown = by_period[~by_period["suppressed"].astype(bool) & by_period["recovery_rate"].notna()]
    if shown.empty:
        return None
    ticks = [(float(i), str(p)) for i, p in enumerate(by_period["period"], start=1)]
    position = {label: x for x, label in ticks}
    points = tuple((position[str(p)], float(r)) for p, r in zip(shown["period"], shown["recovery_rate"], strict=True))
    intervals = tuple(
        (float(lo), float(hi)) for lo, hi in zip(shown["recovery_low"], shown["recovery_high"], strict=True)
    )
    return line_chart(
        [
            Panel(
                title="Recovery by quarter the episode ended, with 95% interval",
                y_label="Recovery",
                y_min=0,
                y_max=1,
                y_ticks=(0, 0.25, 0.5, 0.75, 1),
                series=(Series("Recovery", points, "#0b5cad", marker="circle", intervals=intervals),),
                references=(Reference(0.5, "NHS target 50%"),),
            )
        ],
        title="Recovery by quarter",
        description="Recovery rate (NHS Talking Therapies) of the episodes that ended in each quarter, with its "
        f"Wilson 95% interval; quarters with fewer than {SUPPRESS_BELOW} clients are left out.",
        x_label="Quarter the episode ended",
        x_ticks=ticks,
        chart_id="recovery-trend",
    )
