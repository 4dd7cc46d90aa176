"""Practice metrics, each defined once as Ibis expressions that run unchanged on DuckDB and on Spark.

The engine reduces the four contract tables (:mod:`alliance.analytics.schema`) to one row per episode and then to
a few counts and sums per group; :mod:`alliance.analytics.statistics` turns those into rates, intervals, a
correlation, a within-client slope and an ICC. Definitions, models and suppression: ``docs/analytics.md``.

>>> results = compute(tables, by=("practice_id",))        # tables: dict[str, ibis.Table]
>>> results = compute_frames({"clients": df, ...}, by=("team_id",))   # pandas in, DuckDB in memory

Every result is a pandas frame: the ``by`` columns, then the metric's columns (:data:`METRICS`), one row per group.
A row describing fewer than :data:`SUPPRESS_BELOW` clients is blanked and flagged ``suppressed``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from alliance.analytics.engine import connect, tables_from_frames
from alliance.analytics.schema import CLIENT_GROUPS
from alliance.analytics.statistics import (
    fisher_interval,
    mean_interval,
    newcombe_difference,
    oneway_icc,
    wilson_interval,
    within_slope,
)
from alliance.change.talking_therapies import (
    GAD7_CASENESS,
    GAD7_RELIABLE_CHANGE,
    PHQ9_CASENESS,
    PHQ9_RELIABLE_CHANGE,
)

__all__ = [
    "BY_COLUMNS",
    "EARLY_SESSIONS",
    "METRICS",
    "OUTCOMES",
    "SUPPRESS_BELOW",
    "Metric",
    "compute",
    "compute_frames",
    "episode_features",
]

BY_COLUMNS: tuple[str, ...] = ("practice_id", "team_id", "therapist_id", "period", *CLIENT_GROUPS)
"""Columns a metric can be broken down by (``period`` is the quarter the episode ended, e.g. ``2024-Q3``)."""
SUPPRESS_BELOW = 5
"""A row about fewer clients than this is blanked and flagged ``suppressed`` (small-number disclosure)."""
EARLY_SESSIONS = 3
"""Early alliance is the mean of the first this-many alliance check-ins of an episode."""
MIN_ATTENDED = 2
"""A finished episode needs at least this many attended sessions (NHS Talking Therapies)."""
RUPTURE_BASELINE = 3
RUPTURE_REPAIR = 3
# Scores are means of a few answers: compare with a tolerance so that 7.25 - 1.25 == 6 holds (as in ruptures.py).
_TOLERANCE = 1e-9
_T = TypeVar("_T")
_COUNTS = frozenset(
    (
        "clients", "episodes", "finished", "cases", "recovery", "reliable_improvement", "reliable_deterioration",
        "reliable_recovery", "early_alliance_n", "rupture_n", "rupture", "repaired", "rupture_strict",
        "repaired_strict", "between_n", "within_n", "within_episodes", "therapists", "attended",
        "checkin_completion", "booked", "dna", "ended", "unplanned_ending", "denominator", "events",
    )
)  # fmt: skip
_CRITERIA = {"lenient": 1.0, "strict": 2.0}


@dataclass(frozen=True)
class Metric:
    """A metric's name, a one-line description and its result columns (after the ``by`` columns)."""

    name: str
    title: str
    columns: tuple[str, ...]


def _rate_columns(name: str) -> tuple[str, ...]:
    return (name, f"{name}_rate", f"{name}_low", f"{name}_high")


OUTCOMES: dict[str, tuple[str, str]] = {
    "recovery": ("recovered", "cases"),
    "reliable_improvement": ("improved", "finished"),
    "reliable_deterioration": ("deteriorated", "finished"),
    "reliable_recovery": ("reliably_recovered", "cases"),
    "unplanned_ending": ("dropped_out", "ended"),
}
"""Outcome -> (events count, denominator count) as used by ``outcomes`` and ``equity``."""

METRICS: dict[str, Metric] = {
    metric.name: metric
    for metric in (
        Metric(
            "outcomes",
            "NHS Talking Therapies outcomes with Wilson 95% intervals",
            (
                "clients",
                "episodes",
                "finished",
                "cases",
                *_rate_columns("recovery"),
                *_rate_columns("reliable_improvement"),
                *_rate_columns("reliable_deterioration"),
                *_rate_columns("reliable_recovery"),
                "suppressed",
            ),
        ),
        Metric(
            "alliance",
            "Early alliance, and episodes with a rupture (lenient and strict) and its repair",
            (
                "clients",
                "episodes",
                "early_alliance_n",
                "early_alliance",
                "early_alliance_sd",
                "early_alliance_low",
                "early_alliance_high",
                "rupture_n",
                *_rate_columns("rupture"),
                *_rate_columns("repaired"),
                *_rate_columns("rupture_strict"),
                *_rate_columns("repaired_strict"),
                "suppressed",
            ),
        ),
        Metric(
            "association",
            "Early alliance vs PHQ-9 improvement between clients; alliance vs next-session change within clients",
            (
                "clients",
                "between_n",
                "between_r",
                "between_low",
                "between_high",
                "within_n",
                "within_episodes",
                "within_slope",
                "within_se",
                "within_low",
                "within_high",
                "suppressed",
            ),
        ),
        Metric(
            "therapist_effects",
            "Share of PHQ-9 improvement variance between therapists (ICC, random intercept), never a ranking",
            ("clients", "therapists", "episodes", "mean_improvement", "icc", "icc_low", "icc_high", "suppressed"),
        ),
        Metric(
            "engagement",
            "Check-in completion, missed appointments (DNA) and unplanned endings",
            (
                "clients",
                "episodes",
                "attended",
                *_rate_columns("checkin_completion"),
                "booked",
                *_rate_columns("dna"),
                "ended",
                *_rate_columns("unplanned_ending"),
                "suppressed",
            ),
        ),
        Metric(
            "equity",
            "Each outcome by client group, with the gap to the average of the group's own row of `by`",
            (
                "dimension",
                "group",
                "outcome",
                "clients",
                "denominator",
                "events",
                "rate",
                "low",
                "high",
                "average_rate",
                "gap",
                "gap_low",
                "gap_high",
                "suppressed",
            ),
        ),
    )
}
"""Every metric by name, in output order."""


def compute_frames(
    frames: Mapping[str, pd.DataFrame], by: Sequence[str] = ("practice_id",), *, metrics: Sequence[str] | None = None
) -> dict[str, pd.DataFrame]:
    """Compute the metrics on pandas frames (one per contract table) in an in-memory DuckDB."""
    con = connect("duckdb")
    try:
        return compute(tables_from_frames(con, frames), by=by, metrics=metrics)
    finally:
        con.disconnect()


def compute(
    tables: Mapping[str, ir.Table], by: Sequence[str] = ("practice_id",), *, metrics: Sequence[str] | None = None
) -> dict[str, pd.DataFrame]:
    """Compute ``metrics`` (default: all of :data:`METRICS`) grouped by ``by``; one pandas frame per metric.

    ``tables`` holds the four contract tables as Ibis tables of one backend, typed as
    :func:`alliance.analytics.engine.typed` leaves them. ``by`` may be empty (one row for everything).
    """
    keys = _check_by(by)
    names = list(METRICS) if metrics is None else list(metrics)
    for name in names:
        if name not in METRICS:
            raise ValueError(f"unknown metric {name!r} (known: {', '.join(METRICS)})")
    sessions = _sessions(tables["checkins"]).cache()
    episodes = episode_features(tables, sessions=sessions).cache()
    results: dict[str, pd.DataFrame] = {}
    for name in names:
        frame = _BUILDERS[name](episodes, sessions, keys)
        results[name] = _finish(frame, keys, METRICS[name])
    return results


def _check_by(by: Sequence[str]) -> list[str]:
    if isinstance(by, str):
        by = (by,)
    keys = list(dict.fromkeys(by))
    for key in keys:
        if key not in BY_COLUMNS:
            raise ValueError(f"cannot group by {key!r} (choose from: {', '.join(BY_COLUMNS)})")
    return keys


# --- one row per episode and date ------------------------------------------------------------------------------


def _sessions(checkins: ir.Table) -> ir.Table:
    """One row per episode and check-in date with the PHQ-9, GAD-7 and alliance totals of that date."""
    scored = checkins.filter(checkins.total.notnull())
    instrument = scored.instrument
    return scored.group_by(["episode_id", "date"]).aggregate(
        phq9=scored.total.max(where=instrument == "phq9"),
        gad7=scored.total.max(where=instrument == "gad7"),
        alliance=scored.total.max(where=instrument == "alliance-client"),
    )


# --- one row per episode -----------------------------------------------------------------------------------------


def episode_features(tables: Mapping[str, ir.Table], *, sessions: ir.Table | None = None) -> ir.Table:
    """One row per episode: grouping columns, Talking Therapies outcome flags, alliance, ruptures, engagement."""
    sessions = _sessions(tables["checkins"]) if sessions is None else sessions
    episodes, clients = tables["episodes"], tables["clients"]
    base = episodes.left_join(
        clients.select("client_id", *CLIENT_GROUPS), episodes.client_id == clients.client_id
    ).drop("client_id_right")
    end = base.end_date
    period = ibis.ifelse(end.isnull(), "open", end.year().cast("string") + "-Q" + end.quarter().cast("string"))
    base = base.mutate(period=period, ended=base.ending != "open")

    joined = base
    for part in (_appointment_counts(tables["appointments"], sessions), _outcome_scores(sessions), _alliance(sessions)):
        joined = joined.left_join(part, joined.episode_id == part.episode_id).drop("episode_id_right")

    counts = {name: joined[name].fill_null(0) for name in ("attended", "booked", "did_not_attend", "completed")}
    joined = joined.mutate(**counts, n_paired=joined.n_paired.fill_null(0), n_alliance=joined.n_alliance.fill_null(0))
    finished = joined.ended & (joined.attended >= MIN_ATTENDED) & (joined.n_paired >= 2)
    phq_change = joined.last_phq9 - joined.first_phq9
    gad_change = joined.last_gad7 - joined.first_gad7
    case_start = (joined.first_phq9 >= PHQ9_CASENESS) | (joined.first_gad7 >= GAD7_CASENESS)
    case_end = (joined.last_phq9 >= PHQ9_CASENESS) | (joined.last_gad7 >= GAD7_CASENESS)
    falls = (phq_change <= -PHQ9_RELIABLE_CHANGE) | (gad_change <= -GAD7_RELIABLE_CHANGE)
    rises = (phq_change >= PHQ9_RELIABLE_CHANGE) | (gad_change >= GAD7_RELIABLE_CHANGE)
    improved = falls & ~rises
    recovered = case_start & ~case_end

    def flag(expression: ir.BooleanValue) -> ir.BooleanValue:
        return (finished & expression).fill_null(False)

    has_series = joined.n_alliance >= 2
    return joined.mutate(
        finished=finished.fill_null(False),
        case=flag(case_start),
        recovered=flag(case_start & recovered),
        improved=flag(improved),
        deteriorated=flag(rises & ~falls),
        reliably_recovered=flag(case_start & recovered & improved),
        improvement=ibis.ifelse(finished.fill_null(False), -phq_change, ibis.null()),
        dropped_out=joined.ending == "dropped_out",
        rupture=(has_series & joined.rupture_lenient).fill_null(False),
        repaired=(has_series & joined.repaired_lenient).fill_null(False),
        rupture_strict=(has_series & joined.rupture_strict).fill_null(False),
        repaired_strict=(has_series & joined.repaired_strict).fill_null(False),
    ).drop("rupture_lenient", "repaired_lenient")


def _appointment_counts(appointments: ir.Table, sessions: ir.Table) -> ir.Table:
    """Attended, missed and booked appointments per episode, and attended ones with a check-in that day."""
    checked = sessions.select(ck_episode="episode_id", ck_date="date")
    attended = appointments.filter(appointments.status == "attended")
    with_checkin = attended.left_join(
        checked, (attended.episode_id == checked.ck_episode) & (attended.date == checked.ck_date)
    )
    completed = with_checkin.group_by("episode_id").aggregate(
        completed=with_checkin.ck_episode.count(),
    )
    status = appointments.status
    counts = appointments.group_by("episode_id").aggregate(
        attended=appointments.appointment_id.count(where=status == "attended"),
        did_not_attend=appointments.appointment_id.count(where=status == "did_not_attend"),
        booked=appointments.appointment_id.count(where=status != "cancelled"),
    )
    return counts.left_join(completed, counts.episode_id == completed.episode_id).drop("episode_id_right")


def _outcome_scores(sessions: ir.Table) -> ir.Table:
    """First and last paired PHQ-9 and GAD-7 (dates with both scores) per episode."""
    paired = sessions.filter(sessions.phq9.notnull() & sessions.gad7.notnull())
    return paired.group_by("episode_id").aggregate(
        n_paired=paired.date.count(),
        first_phq9=paired.phq9.argmin(paired.date),
        last_phq9=paired.phq9.argmax(paired.date),
        first_gad7=paired.gad7.argmin(paired.date),
        last_gad7=paired.gad7.argmax(paired.date),
    )


def alliance_series(sessions: ir.Table) -> ir.Table:
    """Alliance scores per episode in date order with the rupture rule's columns (window functions).

    Consistent with :class:`alliance.monitoring.ruptures.RuptureDetector` (retrospective own SD, baseline of up to
    3 earlier scores, between-client SD of change pooled over the whole data set): ``pos`` (1, 2, ...),
    ``baseline``, ``drop`` and, per criterion, ``threshold_<c>``, ``candidate_<c>``, ``band_<c>`` and ``repairs_<c>``
    (a score within the next ``RUPTURE_REPAIR`` sessions is back at or above the band).
    """
    scores = sessions.filter(sessions.alliance.notnull()).select("episode_id", "date", score=sessions.alliance)
    ordered = ibis.window(group_by="episode_id", order_by="date")
    earlier = ibis.window(group_by="episode_id", order_by="date", rows=(-RUPTURE_BASELINE, -1))
    series = scores.mutate(
        pos=ibis.row_number().over(ordered) + 1,
        baseline=scores.score.mean().over(earlier),
        change=scores.score - scores.score.lag().over(ordered),
        # The next scores, for the repair (positions are consecutive, so these are sessions pos+1, pos+2, ...).
        **{f"next_{k}": scores.score.lead(k).over(ordered) for k in range(1, RUPTURE_REPAIR + 1)},
    )
    # The episode's own SD by an aggregate joined back (cheaper than a whole-partition window on DuckDB).
    spread = scores.group_by("episode_id").aggregate(own_sd=scores.score.std())
    # Materialised once: the between-client SD below and the rows both read it.
    series = series.join(spread, "episode_id").cache()
    between = series.aggregate(between_sd=series.change.std())
    series = series.cross_join(between)
    between_sd = series.between_sd.fill_null(0.0)
    drop = series.baseline - series.score
    columns: dict[str, ir.Value] = {"drop": drop}
    for criterion, sds in _CRITERIA.items():
        threshold = ibis.greatest(sds * series.own_sd, between_sd)
        columns[f"threshold_{criterion}"] = threshold
        columns[f"candidate_{criterion}"] = ((drop > _TOLERANCE) & (drop >= threshold - _TOLERANCE)).fill_null(False)
        band = series.baseline - threshold
        columns[f"band_{criterion}"] = band
        back = [series[f"next_{k}"] >= band - _TOLERANCE for k in range(1, RUPTURE_REPAIR + 1)]
        columns[f"repairs_{criterion}"] = ibis.or_(*back).fill_null(False)
    return series.mutate(**columns)


def _alliance(sessions: ir.Table) -> ir.Table:
    """Per episode: alliance check-ins, early alliance, whether a rupture began and whether the first was repaired."""
    series = alliance_series(sessions)
    aggregates: dict[str, ir.Value] = {
        "n_alliance": series.score.count(),
        "early_alliance": series.score.mean(where=series.pos <= EARLY_SESSIONS),
    }
    for criterion in _CRITERIA:
        candidate = series[f"candidate_{criterion}"]
        aggregates[f"rupture_{criterion}"] = candidate.any()
        # The first rupture's repair: the repair flag of the earliest candidate row.
        aggregates[f"repaired_{criterion}"] = series[f"repairs_{criterion}"].argmin(series.pos, where=candidate)
    per_episode = series.group_by("episode_id").aggregate(**aggregates)
    return per_episode.mutate(
        **{f"repaired_{c}": per_episode[f"repaired_{c}"].fill_null(False) for c in _CRITERIA},
    )


# --- metrics -----------------------------------------------------------------------------------------------------


def _grouped(table: ir.Table, keys: Sequence[str], **aggregates: ir.Value) -> pd.DataFrame:
    expr = table.group_by(list(keys)).aggregate(**aggregates) if keys else table.aggregate(**aggregates)
    frame: pd.DataFrame = expr.to_pandas()
    return frame


def _outcome_counts(ep: ir.Table) -> dict[str, ir.Value]:
    count = ep.episode_id.count
    return {
        "clients": ep.client_id.nunique(),
        "episodes": count(),
        "finished": count(where=ep.finished),
        "cases": count(where=ep.case),
        "recovered": count(where=ep.recovered),
        "improved": count(where=ep.improved),
        "deteriorated": count(where=ep.deteriorated),
        "reliably_recovered": count(where=ep.reliably_recovered),
        "ended": count(where=ep.ended),
        "dropped_out": count(where=ep.dropped_out & ep.ended),
    }


def _add_rate(frame: pd.DataFrame, name: str, events: str, trials: str) -> None:
    x = frame[events].to_numpy(dtype=float)
    n = frame[trials].to_numpy(dtype=float)
    low, high = wilson_interval(x, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        frame[f"{name}_rate"] = np.where(n > 0, x / n, np.nan)
    frame[f"{name}_low"] = low
    frame[f"{name}_high"] = high
    if name != events:
        frame[name] = frame[events]


def _outcomes(ep: ir.Table, sessions: ir.Table, keys: Sequence[str]) -> pd.DataFrame:
    frame = _grouped(ep, keys, **_outcome_counts(ep))
    for outcome in ("recovery", "reliable_improvement", "reliable_deterioration", "reliable_recovery"):
        events, trials = OUTCOMES[outcome]
        _add_rate(frame, outcome, events, trials)
    return frame


def _alliance_metric(ep: ir.Table, sessions: ir.Table, keys: Sequence[str]) -> pd.DataFrame:
    count = ep.episode_id.count
    series = ep.n_alliance >= 2
    frame = _grouped(
        ep,
        keys,
        clients=ep.client_id.nunique(),
        episodes=count(),
        early_alliance_n=ep.early_alliance.count(),
        early_alliance=ep.early_alliance.mean(),
        early_alliance_sd=ep.early_alliance.std(),
        rupture_n=count(where=series),
        rupture_count=count(where=ep.rupture),
        repaired_count=count(where=ep.repaired),
        rupture_strict_count=count(where=ep.rupture_strict),
        repaired_strict_count=count(where=ep.repaired_strict),
    )
    low, high = mean_interval(frame["early_alliance"], frame["early_alliance_sd"], frame["early_alliance_n"])
    frame["early_alliance_low"], frame["early_alliance_high"] = low, high
    _add_rate(frame, "rupture", "rupture_count", "rupture_n")
    _add_rate(frame, "repaired", "repaired_count", "rupture_count")
    _add_rate(frame, "rupture_strict", "rupture_strict_count", "rupture_n")
    _add_rate(frame, "repaired_strict", "repaired_strict_count", "rupture_strict_count")
    return frame


def _association(ep: ir.Table, sessions: ir.Table, keys: Sequence[str]) -> pd.DataFrame:
    both = ep.early_alliance.notnull() & ep.improvement.notnull()
    between = _grouped(
        ep,
        keys,
        clients=ep.client_id.nunique(),
        between_n=ep.episode_id.count(where=both),
        between_r=ep.early_alliance.corr(ep.improvement, where=both, how="pop"),
    )
    low, high = fisher_interval(between["between_r"], between["between_n"])
    between["between_low"], between["between_high"] = low, high

    phq = sessions.filter(sessions.phq9.notnull())
    ordered = ibis.window(group_by="episode_id", order_by="date")
    phq = phq.mutate(change_next=phq.phq9.lead().over(ordered) - phq.phq9)
    pairs = phq.filter(phq.alliance.notnull() & phq.change_next.notnull())
    whole = ibis.window(group_by="episode_id")
    pairs = pairs.mutate(
        x=pairs.alliance - pairs.alliance.mean().over(whole),
        y=pairs.change_next - pairs.change_next.mean().over(whole),
    )
    pairs = pairs.join(ep.select("episode_id", *keys), "episode_id")
    within = _grouped(
        pairs,
        keys,
        within_n=pairs.episode_id.count(),
        within_episodes=pairs.episode_id.nunique(),
        sxx=(pairs.x * pairs.x).sum(),
        sxy=(pairs.x * pairs.y).sum(),
        syy=(pairs.y * pairs.y).sum(),
    )
    slope, se, lo, hi = within_slope(
        within["within_n"], within["within_episodes"], within["sxx"], within["sxy"], within["syy"]
    )
    within["within_slope"], within["within_se"], within["within_low"], within["within_high"] = slope, se, lo, hi
    return _merge(between, within, keys)


def _therapist_effects(ep: ir.Table, sessions: ir.Table, keys: Sequence[str]) -> pd.DataFrame:
    # One figure per group, never per therapist: a therapist_id in `by` is ignored here.
    outer = [key for key in keys if key != "therapist_id"]
    done = ep.filter(ep.improvement.notnull())
    per_therapist = done.group_by([*outer, "therapist_id"]).aggregate(
        n=done.episode_id.count(),
        s=done.improvement.sum(),
        q=(done.improvement * done.improvement).sum(),
    )
    pt = per_therapist
    sums = _grouped(
        pt,
        outer,
        therapists=pt.therapist_id.count(),
        episodes=pt.n.sum(),
        total=pt.s.sum(),
        squares=pt.q.sum(),
        group_squares=(pt.s * pt.s / pt.n).sum(),
        n_squared=(pt.n * pt.n).sum(),
    )
    clients = _grouped(ep, outer, clients=ep.client_id.nunique(where=ep.improvement.notnull()))
    frame = _merge(clients, sums, outer)
    icc, low, high = oneway_icc(
        frame["therapists"], frame["episodes"], frame["total"], frame["squares"], frame["group_squares"],
        frame["n_squared"],
    )  # fmt: skip
    with np.errstate(invalid="ignore", divide="ignore"):
        frame["mean_improvement"] = frame["total"].to_numpy(dtype=float) / frame["episodes"].to_numpy(dtype=float)
    frame["icc"], frame["icc_low"], frame["icc_high"] = icc, low, high
    if "therapist_id" in keys:
        frame["therapist_id"] = pd.NA
    return frame


def _engagement(ep: ir.Table, sessions: ir.Table, keys: Sequence[str]) -> pd.DataFrame:
    count = ep.episode_id.count
    frame = _grouped(
        ep,
        keys,
        clients=ep.client_id.nunique(),
        episodes=count(),
        attended=ep.attended.sum(),
        completed=ep.completed.sum(),
        booked=ep.booked.sum(),
        did_not_attend=ep.did_not_attend.sum(),
        ended=count(where=ep.ended),
        dropped_out=count(where=ep.dropped_out & ep.ended),
    )
    _add_rate(frame, "checkin_completion", "completed", "attended")
    _add_rate(frame, "dna", "did_not_attend", "booked")
    _add_rate(frame, "unplanned_ending", "dropped_out", "ended")
    return frame


def _equity(ep: ir.Table, sessions: ir.Table, keys: Sequence[str]) -> pd.DataFrame:
    def grouped(table: ir.Table, group_keys: Sequence[str]) -> pd.DataFrame:
        return _grouped(table, group_keys, **_outcome_counts(table))

    return _equity_from(grouped, ep, keys)


def _equity_from(grouped: Callable[[_T, Sequence[str]], pd.DataFrame], ep: _T, keys: Sequence[str]) -> pd.DataFrame:
    """Equity rows from ``grouped(table, keys)``, which returns the outcome counts per group (any engine)."""
    average = grouped(ep, keys)
    parts = []
    for dimension in CLIENT_GROUPS:
        if dimension in keys:
            continue
        cells = grouped(ep, [*keys, dimension])
        labels = cells[dimension]
        cells = cells.drop(columns=[dimension])
        cells["dimension"] = dimension
        cells["group"] = [_label(value) for value in labels]
        merged = (
            cells.merge(average, on=list(keys), how="left", suffixes=("", "_all"))
            if keys
            else cells.join(average.add_suffix("_all"), how="cross")
        )
        for outcome, (events, trials) in OUTCOMES.items():
            x, n = merged[events].to_numpy(dtype=float), merged[trials].to_numpy(dtype=float)
            xa, na = merged[f"{events}_all"].to_numpy(dtype=float), merged[f"{trials}_all"].to_numpy(dtype=float)
            low, high = wilson_interval(x, n)
            # The group is part of its average: p_g - p_all = (n_rest / N) (p_g - p_rest), so the gap's interval is
            # Newcombe's interval for p_g - p_rest scaled by n_rest / N.
            rest_n = na - n
            diff, d_low, d_high = newcombe_difference(x, n, xa - x, rest_n)
            with np.errstate(invalid="ignore", divide="ignore"):
                share = rest_n / na
                rate = np.where(n > 0, x / n, np.nan)
                average_rate = np.where(na > 0, xa / na, np.nan)
            alone = (rest_n == 0) & (n > 0)
            part = pd.DataFrame(
                {
                    **{key: merged[key] for key in keys},
                    "dimension": dimension,
                    "group": merged["group"],
                    "outcome": outcome,
                    "clients": merged["clients"],
                    "denominator": n,
                    "events": x,
                    "rate": rate,
                    "low": low,
                    "high": high,
                    "average_rate": average_rate,
                    "gap": np.where(alone, 0.0, diff * share),
                    "gap_low": np.where(alone, 0.0, d_low * share),
                    "gap_high": np.where(alone, 0.0, d_high * share),
                }
            )
            parts.append(part)
    if not parts:
        return pd.DataFrame(columns=[*keys, *METRICS["equity"].columns])
    frame = pd.concat(parts, ignore_index=True)
    small = (frame["denominator"] < SUPPRESS_BELOW).to_numpy()
    blank = ["clients", "denominator", "events", "rate", "low", "high", "gap", "gap_low", "gap_high"]
    frame["suppressed"] = small | (frame["clients"].to_numpy(dtype=float) < SUPPRESS_BELOW)
    frame.loc[frame["suppressed"], blank] = np.nan
    return frame


def _label(value: object) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return "unknown"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _merge(left: pd.DataFrame, right: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    if not keys:
        return left.join(right, how="cross")
    return left.merge(right, on=list(keys), how="outer")


def _finish(frame: pd.DataFrame, keys: Sequence[str], metric: Metric) -> pd.DataFrame:
    """Order columns and rows; blank and flag rows about fewer than SUPPRESS_BELOW clients."""
    out = frame.copy()
    if metric.name != "equity":
        clients = pd.to_numeric(out["clients"], errors="coerce").fillna(0).to_numpy()
        small = clients < SUPPRESS_BELOW
        out["suppressed"] = small
        values = [c for c in metric.columns if c != "suppressed"]
        out[values] = out[values].astype(float)
        out.loc[small, values] = np.nan
    for column in metric.columns:
        if column in _COUNTS:
            out[column] = pd.array(np.round(out[column].to_numpy(dtype=float)), dtype="Int64")
    out["suppressed"] = out["suppressed"].astype(bool)
    out = out[[*keys, *metric.columns]]
    order = list(keys)
    if metric.name == "equity":
        out["_dimension"] = out["dimension"].map({name: rank for rank, name in enumerate(CLIENT_GROUPS)})
        out["_outcome"] = out["outcome"].map({name: rank for rank, name in enumerate(OUTCOMES)})
        order += ["_dimension", "group", "_outcome"]
    if order:
        out = out.sort_values(order, kind="stable", na_position="last")
    return out.drop(columns=["_dimension", "_outcome"], errors="ignore").reset_index(drop=True)


_Builder = Callable[[ir.Table, ir.Table, Sequence[str]], pd.DataFrame]
_BUILDERS: dict[str, _Builder] = {
    "outcomes": _outcomes,
    "alliance": _alliance_metric,
    "association": _association,
    "therapist_effects": _therapist_effects,
    "engagement": _engagement,
    "equity": _equity,
}
