"""NHS Talking Therapies outcomes, client by client, at every boundary of the definitions we adopt.

Definitions (REFERENCE.md section 4; NHS England; Clark et al. 2018, Lancet 391:679-686): case = PHQ-9 >= 10
or GAD-7 >= 8; recovery = case at first, not at last; reliable improvement = PHQ-9 falls >= 6 or GAD-7 falls
>= 4 and neither rises by its threshold; reliable deterioration mirrors it; reliable recovery = both.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alliance.change.talking_therapies import (
    GAD7_CASENESS,
    GAD7_RELIABLE_CHANGE,
    OUTCOME_COLUMNS,
    PHQ9_CASENESS,
    PHQ9_RELIABLE_CHANGE,
    OutcomeSummary,
    episode_outcomes,
    is_case,
    summarise_outcomes,
)

NA = np.nan


def episode(client: str, *visits: tuple[float, float]) -> pd.DataFrame:
    """One client's (PHQ-9, GAD-7) scores at sessions 1, 2, 3, ..."""
    return pd.DataFrame(
        {
            "client": client,
            "session": range(1, len(visits) + 1),
            "phq9": [float(p) for p, _ in visits],
            "gad7": [float(g) for _, g in visits],
        }
    )


def outcome(*visits: tuple[float, float]) -> dict[str, object]:
    """Return the single client's outcome row as a dict."""
    table = episode_outcomes(episode("alice", *visits))
    assert len(table) == 1
    # Column by column, so that a missing nullable boolean stays pd.NA; numpy booleans become bool.
    row = {column: table[column].iloc[0] for column in table.columns}
    return {k: bool(v) if isinstance(v, np.bool_) else v for k, v in row.items()}


def flags(row: dict[str, object]) -> tuple[object, ...]:
    """case_at_start, recovered, reliable_improvement, reliable_deterioration, reliable_recovery."""
    return tuple(row[c] for c in OUTCOME_COLUMNS[6:])


def test_thresholds_are_the_national_ones() -> None:
    assert (PHQ9_CASENESS, GAD7_CASENESS, PHQ9_RELIABLE_CHANGE, GAD7_RELIABLE_CHANGE) == (10, 8, 6, 4)


@pytest.mark.parametrize(
    ("phq9", "gad7", "case"),
    [(10, 0, True), (9, 7, False), (0, 8, True), (9, 8, True), (27, 21, True), (9.5, 7.5, False)],
)
def test_caseness_is_phq9_at_least_10_or_gad7_at_least_8(phq9: float, gad7: float, case: bool) -> None:
    assert is_case(float(phq9), float(gad7)) is case


def test_caseness_works_on_whole_columns() -> None:
    result = is_case(pd.Series([10.0, 9.0, 3.0]), pd.Series([0.0, 7.0, 8.0]))
    assert result.tolist() == [True, False, True]


def test_a_typical_recovered_client() -> None:
    row = outcome((18, 12), (14, 10), (6, 5))
    assert row["sessions"] == 3
    assert (row["first_phq9"], row["last_phq9"], row["first_gad7"], row["last_gad7"]) == (18, 6, 12, 5)
    assert flags(row) == (True, True, True, False, True)


@pytest.mark.parametrize(
    ("start", "case"),
    [((10, 0), True), ((9, 0), False), ((0, 8), True), ((0, 7), False)],
    ids=["phq9-10", "phq9-9", "gad7-8", "gad7-7"],
)
def test_caseness_at_the_start_boundary(start: tuple[float, float], case: bool) -> None:
    assert outcome(start, (0, 0))["case_at_start"] is case


@pytest.mark.parametrize(
    ("end", "recovered"),
    [((9, 7), True), ((10, 7), False), ((9, 8), False)],
    ids=["both-below", "phq9-still-10", "gad7-still-8"],
)
def test_recovery_needs_both_measures_below_caseness_at_the_end(end: tuple[float, float], recovered: bool) -> None:
    assert outcome((20, 15), end)["recovered"] is recovered


@pytest.mark.parametrize(
    ("start", "end", "improved"),
    [
        ((15, 5), (9, 5), True),  # PHQ-9 falls by exactly 6
        ((15, 5), (10, 5), False),  # by 5
        ((5, 12), (5, 8), True),  # GAD-7 falls by exactly 4
        ((5, 12), (5, 9), False),  # by 3
        ((15, 12), (10, 9), False),  # 5 and 3: neither is reliable
    ],
)
def test_reliable_improvement_boundaries(start: tuple[float, float], end: tuple[float, float], improved: bool) -> None:
    row = outcome(start, end)
    assert row["reliable_improvement"] is improved
    assert row["reliable_deterioration"] is False


@pytest.mark.parametrize(
    ("start", "end", "deteriorated"),
    [
        ((5, 5), (11, 5), True),  # PHQ-9 rises by exactly 6
        ((5, 5), (10, 5), False),  # by 5
        ((5, 5), (5, 9), True),  # GAD-7 rises by exactly 4
        ((5, 5), (5, 8), False),  # by 3
    ],
)
def test_reliable_deterioration_mirrors_improvement(
    start: tuple[float, float], end: tuple[float, float], deteriorated: bool
) -> None:
    row = outcome(start, end)
    assert row["reliable_deterioration"] is deteriorated
    assert row["reliable_improvement"] is False


def test_a_reliable_fall_on_one_measure_with_a_reliable_rise_on_the_other_is_neither() -> None:
    row = outcome((20, 5), (14, 9))  # PHQ-9 -6, GAD-7 +4
    assert (row["reliable_improvement"], row["reliable_deterioration"]) == (False, False)
    row = outcome((5, 15), (11, 11))  # PHQ-9 +6, GAD-7 -4
    assert (row["reliable_improvement"], row["reliable_deterioration"]) == (False, False)


def test_recovery_without_reliable_improvement_is_not_reliable_recovery() -> None:
    row = outcome((10, 5), (9, 5))
    assert flags(row) == (True, True, False, False, False)


def test_a_client_who_was_not_a_case_has_no_recovery_but_has_reliable_change() -> None:
    row = outcome((9, 7), (2, 1))
    assert row["case_at_start"] is False
    assert row["recovered"] is pd.NA and row["reliable_recovery"] is pd.NA
    assert row["reliable_improvement"] is True


def test_one_paired_session_leaves_every_outcome_empty() -> None:
    row = outcome((18, 12), (NA, 5), (4, NA))
    assert row["sessions"] == 3
    for column in OUTCOME_COLUMNS[2:6]:
        assert math.isnan(row[column])  # type: ignore[arg-type]
    assert all(value is pd.NA for value in flags(row))


def test_a_session_missing_one_score_is_not_used_for_first_or_last() -> None:
    row = outcome((NA, 20), (18, 12), (10, 8), (5, NA))
    assert (row["first_phq9"], row["first_gad7"], row["last_phq9"], row["last_gad7"]) == (18, 12, 10, 8)
    assert row["sessions"] == 4
    assert flags(row) == (True, False, True, False, False)  # still a case at last (GAD-7 8)


def test_rows_in_any_order_give_the_same_outcomes() -> None:
    frame = pd.concat([episode("b", (20, 15), (12, 9), (5, 4)), episode("a", (8, 3), (16, 9))])
    shuffled = frame.sample(frac=1.0, random_state=11)
    pd.testing.assert_frame_equal(episode_outcomes(shuffled), episode_outcomes(frame))
    assert episode_outcomes(shuffled)["client"].tolist() == ["a", "b"]


def test_clients_are_sorted_as_numbers_when_they_are_numbers() -> None:
    frame = pd.concat([episode(c, (12, 9), (3, 2)) for c in ["10", "2", "1"]])
    assert episode_outcomes(frame)["client"].tolist() == ["1", "2", "10"]


def test_the_table_has_the_documented_columns_and_dtypes() -> None:
    table = episode_outcomes(episode("a", (12, 9), (3, 2)))
    assert tuple(table.columns) == OUTCOME_COLUMNS
    assert table["sessions"].dtype == "int64"
    assert all(table[c].dtype == "float64" for c in OUTCOME_COLUMNS[2:6])
    assert all(table[c].dtype == "boolean" for c in OUTCOME_COLUMNS[6:])


def test_extra_columns_are_ignored() -> None:
    frame = episode("a", (12, 9), (3, 2)).assign(therapist="t1")
    pd.testing.assert_frame_equal(episode_outcomes(frame), episode_outcomes(episode("a", (12, 9), (3, 2))))


def test_summary_counts_and_rates() -> None:
    frame = pd.concat(
        [
            episode("recovers", (18, 12), (5, 4)),  # case, recovered, improved, reliably recovered
            episode("stays", (18, 12), (16, 11)),  # case, not recovered, no reliable change
            episode("mild", (7, 5), (14, 5)),  # not a case, deteriorated
            episode("once", (20, 15)),  # not finished
        ]
    )
    summary = summarise_outcomes(episode_outcomes(frame))
    assert summary == OutcomeSummary(
        clients=4,
        finished=3,
        cases=2,
        recovered=1,
        recovery_rate=0.5,
        reliable_improvement=1,
        reliable_improvement_rate=pytest.approx(1 / 3),  # type: ignore[arg-type]
        reliable_deterioration=1,
        reliable_deterioration_rate=pytest.approx(1 / 3),  # type: ignore[arg-type]
        reliable_recovery=1,
        reliable_recovery_rate=0.5,
    )


def test_summary_rates_are_nan_without_a_denominator() -> None:
    summary = summarise_outcomes(episode_outcomes(episode("once", (20, 15))))
    assert (summary.clients, summary.finished, summary.cases) == (1, 0, 0)
    assert math.isnan(summary.recovery_rate) and math.isnan(summary.reliable_improvement_rate)


# --- Properties ---------------------------------------------------------------------------------------------

scores = st.one_of(st.just(NA), st.integers(0, 27).map(float))
gad_scores = st.one_of(st.just(NA), st.integers(0, 21).map(float))
visits = st.lists(st.tuples(scores, gad_scores), min_size=1, max_size=6)
caseloads = st.lists(visits, min_size=1, max_size=8)


@settings(max_examples=150, deadline=None)
@given(caseload=caseloads, seed=st.integers(0, 1000))
def test_outcome_flags_are_consistent(caseload: list[list[tuple[float, float]]], seed: int) -> None:
    frame = pd.concat([episode(f"c{i}", *v) for i, v in enumerate(caseload)]).sample(frac=1.0, random_state=seed)
    table = episode_outcomes(frame)
    improved = table["reliable_improvement"].fillna(False).astype(bool)
    deteriorated = table["reliable_deterioration"].fillna(False).astype(bool)
    assert not (improved & deteriorated).any()
    reliably_recovered = table["reliable_recovery"].fillna(False).astype(bool)
    assert (table["recovered"][reliably_recovered] == True).all()  # noqa: E712  (nullable booleans)
    assert improved[reliably_recovered].all()
    # recovery is known exactly for finished clients who were a case at the start
    assert (table["recovered"].notna() == (table["case_at_start"] == True).fillna(False)).all()  # noqa: E712
    # first and last really are the earliest and latest sessions with both scores
    for client, visits_ in enumerate(caseload):
        paired = [(p, g) for p, g in visits_ if not (math.isnan(p) or math.isnan(g))]
        row = table.set_index("client").loc[f"c{client}"]
        assert row["sessions"] == len(visits_)
        if len(paired) >= 2:
            assert (row["first_phq9"], row["first_gad7"]) == paired[0]
            assert (row["last_phq9"], row["last_gad7"]) == paired[-1]
        else:
            assert math.isnan(row["first_phq9"]) and row["case_at_start"] is pd.NA


def test_a_large_service_is_computed_in_one_vectorised_pass() -> None:
    # 200,000 session rows over 25,000 clients (a national year is ~10M rows; this keeps the suite fast).
    rng = np.random.default_rng(5)
    rows = 200_000
    frame = pd.DataFrame(
        {
            "client": rng.integers(0, 25_000, rows).astype(str),
            "session": np.arange(rows),
            "phq9": rng.integers(0, 28, rows).astype(float),
            "gad7": rng.integers(0, 22, rows).astype(float),
        }
    )
    table = episode_outcomes(frame)
    assert table["sessions"].sum() == rows
    assert table["client"].is_unique
