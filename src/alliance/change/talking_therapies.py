"""NHS Talking Therapies outcomes: caseness, recovery, reliable improvement, deterioration and recovery.

We adopt the national definitions (NHS England; Clark et al. 2018; Gyani et al. 2013), worded as follows:

- A client is a *case* when PHQ-9 >= 10 **or** GAD-7 >= 8.
- First and last: the earliest and the latest session with **both** scores present. A client needs two such
  sessions (an episode with paired scores); otherwise every outcome is missing.
- *Recovery* (only for clients who were a case at the start): a case at first and not a case at last
  (PHQ-9 < 10 **and** GAD-7 < 8).
- *Reliable improvement*: PHQ-9 falls by >= 6 **or** GAD-7 falls by >= 4, **and** neither rises by its
  threshold.
- *Reliable deterioration*: PHQ-9 rises by >= 6 **or** GAD-7 rises by >= 4, **and** neither falls by its
  threshold.
- *Reliable recovery*: recovery **and** reliable improvement.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import overload

import numpy as np
import pandas as pd

from alliance.change.ordering import natural_key

__all__ = [
    "GAD7_CASENESS",
    "GAD7_MAX",
    "GAD7_RELIABLE_CHANGE",
    "OUTCOME_COLUMNS",
    "PHQ9_CASENESS",
    "PHQ9_MAX",
    "PHQ9_RELIABLE_CHANGE",
    "OutcomeSummary",
    "episode_outcomes",
    "is_case",
    "summarise_outcomes",
]

PHQ9_CASENESS = 10
"""PHQ-9 total at or above which a client is a case."""
GAD7_CASENESS = 8
"""GAD-7 total at or above which a client is a case."""
PHQ9_RELIABLE_CHANGE = 6
"""Smallest PHQ-9 change that counts as reliable."""
GAD7_RELIABLE_CHANGE = 4
"""Smallest GAD-7 change that counts as reliable."""
PHQ9_MAX = 27
"""Highest possible PHQ-9 total (9 items scored 0-3)."""
GAD7_MAX = 21
"""Highest possible GAD-7 total (7 items scored 0-3)."""

OUTCOME_COLUMNS = (
    "client",
    "sessions",
    "first_phq9",
    "last_phq9",
    "first_gad7",
    "last_gad7",
    "case_at_start",
    "recovered",
    "reliable_improvement",
    "reliable_deterioration",
    "reliable_recovery",
)
"""Columns of the table that :func:`episode_outcomes` returns, in order."""

# An episode needs scores on both measures at two sessions at least (first and last).
MIN_PAIRED_SESSIONS = 2


@overload
def is_case(phq9: float, gad7: float) -> bool: ...
@overload
def is_case(phq9: pd.Series, gad7: pd.Series) -> pd.Series: ...
@overload
def is_case(phq9: np.ndarray, gad7: np.ndarray) -> np.ndarray: ...
def is_case(
    phq9: float | pd.Series | np.ndarray, gad7: float | pd.Series | np.ndarray
) -> bool | pd.Series | np.ndarray:
    """Say whether scores meet caseness: PHQ-9 >= 10 or GAD-7 >= 8 (a missing score does not count).

    References
    ----------
    NHS England. NHS Talking Therapies for anxiety and depression manual; public-data glossary, "Caseness".
    """
    result = (phq9 >= PHQ9_CASENESS) | (gad7 >= GAD7_CASENESS)
    return bool(result) if isinstance(result, bool | np.bool_) else result


def episode_outcomes(frame: pd.DataFrame) -> pd.DataFrame:
    """Compute one row of Talking Therapies outcomes per client.

    Parameters
    ----------
    frame:
        Columns ``client``, ``session`` (whole numbers), ``phq9`` and ``gad7`` (floats, ``NaN`` when
        missing); one row per client and session, in any order. Other columns are ignored.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`OUTCOME_COLUMNS`, one row per client, sorted by client (as numbers when every
        client id is a number). ``sessions`` counts the client's rows; ``first_*`` and ``last_*`` come
        from the earliest and latest sessions with both scores. With fewer than two such sessions every
        column after ``sessions`` is missing. The outcome flags use pandas' nullable ``boolean`` dtype;
        ``recovered`` and ``reliable_recovery`` are missing for clients who were not a case at the start.

    References
    ----------
    Clark, D. M., Canvin, L., Green, J., Layard, R., Pilling, S., & Janecka, M. (2018). Transparency about
    the outcomes of mental health services (IAPT approach): an analysis of public data. *The Lancet*,
    391(10121), 679-686.

    Gyani, A., Shafran, R., Layard, R., & Clark, D. M. (2013). Enhancing recovery rates: lessons from
    year one of IAPT. *Behaviour Research and Therapy*, 51(9), 597-606.
    """
    data = frame[["client", "session", "phq9", "gad7"]]
    sessions = data.groupby("client", sort=False).size()
    paired = data[data["phq9"].notna() & data["gad7"].notna()].sort_values(["client", "session"])
    by_client = paired.groupby("client", sort=False)[["phq9", "gad7"]]
    first = by_client.first().reindex(sessions.index)
    last = by_client.last().reindex(sessions.index)
    count = by_client.size().reindex(sessions.index, fill_value=0)
    finished = (count >= MIN_PAIRED_SESSIONS).to_numpy()

    first_phq9 = np.where(finished, first["phq9"].to_numpy(dtype=float), np.nan)
    last_phq9 = np.where(finished, last["phq9"].to_numpy(dtype=float), np.nan)
    first_gad7 = np.where(finished, first["gad7"].to_numpy(dtype=float), np.nan)
    last_gad7 = np.where(finished, last["gad7"].to_numpy(dtype=float), np.nan)

    with np.errstate(invalid="ignore"):
        case_at_start = is_case(first_phq9, first_gad7)
        case_at_end = is_case(last_phq9, last_gad7)
        phq9_change = last_phq9 - first_phq9
        gad7_change = last_gad7 - first_gad7
        falls = (phq9_change <= -PHQ9_RELIABLE_CHANGE) | (gad7_change <= -GAD7_RELIABLE_CHANGE)
        rises = (phq9_change >= PHQ9_RELIABLE_CHANGE) | (gad7_change >= GAD7_RELIABLE_CHANGE)
    improved = falls & ~rises
    deteriorated = rises & ~falls
    recovered = case_at_start & ~case_at_end

    outcomes = pd.DataFrame(
        {
            "client": sessions.index.to_numpy(),
            "sessions": sessions.to_numpy(dtype="int64"),
            "first_phq9": first_phq9,
            "last_phq9": last_phq9,
            "first_gad7": first_gad7,
            "last_gad7": last_gad7,
            "case_at_start": _flags(case_at_start, known=finished),
            "recovered": _flags(recovered, known=finished & case_at_start),
            "reliable_improvement": _flags(improved, known=finished),
            "reliable_deterioration": _flags(deteriorated, known=finished),
            "reliable_recovery": _flags(recovered & improved, known=finished & case_at_start),
        }
    )
    outcomes = outcomes.sort_values("client", key=natural_key, kind="stable")
    return outcomes.reset_index(drop=True)


@dataclass(frozen=True)
class OutcomeSummary:
    """Counts and rates of Talking Therapies outcomes over a set of clients.

    Recovery and reliable recovery rates are among clients who were a case at the start; reliable
    improvement and deterioration rates are among all clients who finished with paired scores. A rate
    whose denominator is zero is ``NaN``.
    """

    clients: int
    finished: int
    cases: int
    recovered: int
    recovery_rate: float
    reliable_improvement: int
    reliable_improvement_rate: float
    reliable_deterioration: int
    reliable_deterioration_rate: float
    reliable_recovery: int
    reliable_recovery_rate: float


def summarise_outcomes(outcomes: pd.DataFrame) -> OutcomeSummary:
    """Summarise a table from :func:`episode_outcomes` into counts and rates.

    References
    ----------
    NHS England. NHS Talking Therapies for anxiety and depression: annual reports (recovery rate among
    referrals that finished a course of treatment and were at caseness at the start; national target 50%).
    """
    finished = int(outcomes["case_at_start"].notna().sum())
    cases = _count(outcomes["case_at_start"])
    recovered = _count(outcomes["recovered"])
    improved = _count(outcomes["reliable_improvement"])
    deteriorated = _count(outcomes["reliable_deterioration"])
    reliably_recovered = _count(outcomes["reliable_recovery"])
    return OutcomeSummary(
        clients=len(outcomes),
        finished=finished,
        cases=cases,
        recovered=recovered,
        recovery_rate=_rate(recovered, cases),
        reliable_improvement=improved,
        reliable_improvement_rate=_rate(improved, finished),
        reliable_deterioration=deteriorated,
        reliable_deterioration_rate=_rate(deteriorated, finished),
        reliable_recovery=reliably_recovered,
        reliable_recovery_rate=_rate(reliably_recovered, cases),
    )


def _flags(values: np.ndarray, *, known: np.ndarray) -> pd.arrays.BooleanArray:
    """Wrap booleans in pandas' nullable dtype, missing where ``known`` is false."""
    return pd.arrays.BooleanArray(np.asarray(values, dtype=bool), mask=~np.asarray(known, dtype=bool))


def _count(flags: pd.Series) -> int:
    return int(flags.fillna(False).astype(bool).sum())


def _rate(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else float("nan")
