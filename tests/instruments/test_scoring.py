"""Scoring: published PHQ-9/GAD-7 examples, the missing-data rule, risk whatever the total, and answer checks."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alliance.errors import InputError
from alliance.instruments import (
    Instrument,
    bundled_registry,
    parse_definition,
    risk_flags,
    score_frame,
    score_one,
    severity_of,
    validate_answers,
)

REGISTRY = bundled_registry()
PHQ9 = REGISTRY.get("phq9")
GAD7 = REGISTRY.get("gad7")
CLIENT = REGISTRY.get("alliance-client")
PHQ9_ITEMS = [f"phq9_{n}" for n in range(1, 10)]


def likert_definition() -> dict[str, Any]:
    """A made-up 5-item 1-5 scale with two reverse-keyed items and a subscale (for reverse keying)."""
    return {
        "id": "reverse-test",
        "title": {"en": "Reverse test"},
        "version": "0",
        "citation": "Test.",
        "licence": {"name": "Test", "text": "Test.", "redistributable": False},
        "languages": ["en"],
        "instructions": {"en": "Answer."},
        "response_sets": {"likert": [{"value": v} for v in range(1, 6)]},
        "items": [{"id": f"q{n}", "text": {"en": f"Line {n}."}, "responses": "likert"} for n in range(1, 6)],
        "scales": [
            {
                "id": "total",
                "title": {"en": "Total"},
                "items": ["q1", "q2", "q3", "q4", "q5"],
                "method": "sum",
                "reverse": ["q2", "q4"],
                "range": {"min": 5, "max": 25},
                "max_missing": 1,
            },
            {
                "id": "pair",
                "title": {"en": "Pair"},
                "items": ["q1", "q2"],
                "method": "mean",
                "reverse": ["q2"],
                "range": {"min": 1, "max": 5},
                "max_missing": 0,
            },
        ],
        "severity": [
            {"id": "low", "from": 5, "to": 14, "label": {"en": "Low"}},
            {"id": "high", "from": 15, "to": 25, "label": {"en": "High"}},
        ],
        "missing_data": {"rule": "prorate", "rounding": "half-up", "description": "Test.", "source": "Test."},
        "validated": False,
        "validation_note": "Test.",
    }


REVERSE = parse_definition(likert_definition(), source="test")


def phq9(*answers: float | None) -> dict[str, float | None]:
    return dict(zip(PHQ9_ITEMS, answers, strict=True))


# --- golden examples -----------------------------------------------------------------------------------------


def test_phq9_all_ones_is_9_mild_and_all_threes_is_27_severe() -> None:
    ones = score_one(PHQ9, phq9(*[1] * 9))
    threes = score_one(PHQ9, phq9(*[3] * 9))
    assert (ones.total, ones.severity, ones.status) == (9, "mild", "ok")
    assert (threes.total, threes.severity, threes.status) == (27, "severe", "ok")


@pytest.mark.parametrize(
    ("answers", "total", "band"),
    [
        ((0,) * 9, 0, "minimal"),
        ((1, 1, 1, 1, 0, 0, 0, 0, 0), 4, "minimal"),
        ((1, 1, 1, 1, 1, 0, 0, 0, 0), 5, "mild"),
        ((1,) * 9, 9, "mild"),
        ((2, 1, 1, 1, 1, 1, 1, 1, 1), 10, "moderate"),
        ((2, 2, 2, 2, 2, 1, 1, 1, 1), 14, "moderate"),
        ((2, 2, 2, 2, 2, 2, 1, 1, 1), 15, "moderately-severe"),
        ((3, 2, 2, 2, 2, 2, 2, 2, 2), 19, "moderately-severe"),
        ((3, 3, 2, 2, 2, 2, 2, 2, 2), 20, "severe"),
    ],
)
def test_phq9_severity_boundaries(answers: tuple[int, ...], total: int, band: str) -> None:
    score = score_one(PHQ9, phq9(*answers))
    assert (score.total, score.severity) == (total, band)


@pytest.mark.parametrize(
    ("answers", "total", "band"),
    [((0, 0, 1, 1, 1, 1, 0), 4, "minimal"), ((1, 1, 1, 1, 1, 0, 0), 5, "mild"), ((2, 2, 2, 2, 2, 0, 0), 10, "moderate"),
     ((2, 2, 2, 2, 2, 2, 2), 14, "moderate"), ((3, 2, 2, 2, 2, 2, 2), 15, "severe")],
)  # fmt: skip
def test_gad7_severity_boundaries(answers: tuple[int, ...], total: int, band: str) -> None:
    score = score_one(GAD7, {f"gad7_{n}": value for n, value in enumerate(answers, start=1)})
    assert (score.total, score.severity) == (total, band)


def test_a_prorated_phq9_total_is_the_answered_sum_times_9_over_the_answered_count_rounded_half_up() -> None:
    # 7 answered summing to 8: 8 * 9 / 7 = 10.29 -> 10 (moderate, not a silent 8 = mild).
    seven = score_one(PHQ9, phq9(2, 2, 1, 1, 1, 1, 0, None, None))
    assert (seven.total, seven.severity, seven.status) == (10, "moderate", "prorated")
    # 8 answered summing to 4: 4 * 9 / 8 = 4.5 exactly -> 5 (half up), mild.
    eight = score_one(PHQ9, phq9(1, 1, 1, 1, 0, 0, 0, 0, None))
    assert (eight.total, eight.severity) == (5, "mild")


def test_a_prorated_gad7_total_rounds_an_exact_half_up() -> None:
    score = score_one(GAD7, {"gad7_1": 3, "gad7_2": 2, "gad7_3": 2, "gad7_4": 1, "gad7_5": 1, "gad7_6": 0})
    assert (score.total, score.severity, score.status) == (11, "moderate", "prorated")  # 9 * 7 / 6 = 10.5


def test_too_many_missing_items_leave_no_total_never_a_zero() -> None:
    score = score_one(PHQ9, phq9(0, 0, 0, 0, 0, 0, None, None, None))
    assert (score.total, score.severity, score.status) == (None, None, "insufficient")


def test_item_9_raises_risk_even_when_the_total_cannot_be_computed() -> None:
    score = score_one(PHQ9, {"phq9_9": 1})
    assert score.status == "insufficient"
    assert score.risk and score.risk_messages == ("risk.self_harm_thoughts",)


def test_the_alliance_total_is_the_mean_of_the_answered_items_and_subscales_follow_their_own_rules() -> None:
    answers = {"bond": 8, "understood": 7, "respect": 10, "goals": 9, "tasks": 9, "safety": 10, "overall": 6}
    score = score_one(CLIENT, answers)
    assert score.total == pytest.approx(59 / 7)
    assert score.status == "prorated"
    assert score.subscales["connection"] == pytest.approx(25 / 3)
    assert score.subscales["agreement"] == 9
    assert score.subscales["culture_safety"] is None  # a 2-item scale allows nothing missing
    assert score.severity == "at-or-above-cutoff"


def test_an_alliance_mean_just_below_8_is_below_the_provisional_cut_off() -> None:
    answers = dict.fromkeys(CLIENT.item_ids, 8) | {"overall": 7}
    assert score_one(CLIENT, answers).severity == "below-cutoff"  # 63 / 8 = 7.875
    assert score_one(CLIENT, dict.fromkeys(CLIENT.item_ids, 8)).severity == "at-or-above-cutoff"


def test_reverse_keyed_items_count_as_min_plus_max_minus_the_answer() -> None:
    score = score_one(REVERSE, {"q1": 5, "q2": 1, "q3": 5, "q4": 1, "q5": 5})
    assert score.total == 25
    assert score.subscales["pair"] == 5


def test_score_one_refuses_an_unknown_item() -> None:
    with pytest.raises(ValueError, match="no item 'phq9_10'"):
        score_one(PHQ9, {"phq9_10": 1})


def test_score_frame_keeps_the_index_and_names_its_columns() -> None:
    answers = pd.DataFrame([dict.fromkeys(CLIENT.item_ids, 9.0)] * 2, index=[101, 102])
    frame = score_frame(CLIENT, answers)
    assert list(frame.columns) == ["total", "connection", "agreement", "culture_safety", "severity", "risk", "status"]
    assert list(frame.index) == [101, 102]
    assert frame["risk"].dtype == bool


def test_score_frame_names_an_absent_item_column() -> None:
    with pytest.raises(ValueError, match="phq9_9"):
        score_frame(PHQ9, pd.DataFrame({item: [1.0] for item in PHQ9_ITEMS[:8]}))


def test_severity_of_bands_scalars_and_missing_totals() -> None:
    assert list(severity_of(PHQ9, [4, 5, math.nan, 27])) == ["minimal", "mild", None, "severe"]
    assert list(severity_of(REGISTRY.get("alliance-therapist"), [5.0])) == [None]  # no bands


def test_risk_flags_has_one_column_per_message() -> None:
    flags = risk_flags(PHQ9, pd.DataFrame({"phq9_9": [0.0, 2.0, math.nan]}))
    assert flags["risk.self_harm_thoughts"].tolist() == [False, True, False]


# --- properties --------------------------------------------------------------------------------------------

phq9_answers = st.lists(st.integers(0, 3), min_size=9, max_size=9)


@settings(max_examples=200, deadline=None)
@given(phq9_answers)
def test_full_answers_are_ok_and_the_total_is_the_plain_sum(answers: list[int]) -> None:
    score = score_one(PHQ9, phq9(*answers))
    assert score.status == "ok"
    assert score.total == sum(answers)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(1, 5), min_size=5, max_size=5))
def test_full_answers_with_reverse_keys_sum_the_reversed_values(answers: list[int]) -> None:
    score = score_one(REVERSE, {f"q{n}": value for n, value in enumerate(answers, start=1)})
    expected = answers[0] + (6 - answers[1]) + answers[2] + (6 - answers[3]) + answers[4]
    assert (score.status, score.total) == ("ok", expected)


@settings(max_examples=300, deadline=None)
@given(phq9_answers, st.sets(st.integers(0, 8), min_size=1, max_size=2))
def test_missing_items_within_the_rule_are_prorated_into_the_range(answers: list[int], gone: set[int]) -> None:
    kept = [value for index, value in enumerate(answers) if index not in gone]
    score = score_one(PHQ9, phq9(*[None if index in gone else value for index, value in enumerate(answers)]))
    assert score.status == "prorated"
    assert score.total is not None and 0 <= score.total <= 27 and float(score.total).is_integer()
    assert score.total == math.floor(sum(kept) * 9 / len(kept) + 0.5)


@settings(max_examples=200, deadline=None)
@given(phq9_answers, st.sets(st.integers(0, 8), min_size=3, max_size=9))
def test_missing_items_beyond_the_rule_leave_the_total_missing_never_zero(answers: list[int], gone: set[int]) -> None:
    score = score_one(PHQ9, phq9(*[None if index in gone else value for index, value in enumerate(answers)]))
    assert (score.status, score.total, score.severity) == ("insufficient", None, None)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.none(), st.integers(0, 3)), min_size=9, max_size=9))
def test_risk_is_raised_if_and_only_if_item_9_is_above_0(answers: list[int | None]) -> None:
    item9 = answers[8]
    assert score_one(PHQ9, phq9(*answers)).risk == (item9 is not None and item9 > 0)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(0, 10, allow_nan=False), min_size=1, max_size=50))
def test_severity_bands_are_monotone_in_the_total(totals: list[float]) -> None:
    for instrument in (PHQ9, GAD7, CLIENT):
        order = [band.id for band in instrument.severity]
        ordered = sorted(value * instrument.total.maximum / 10 for value in totals)
        if instrument.total.method == "sum":
            ordered = [float(round(value)) for value in ordered]
        ranks = [order.index(band) for band in severity_of(instrument, ordered)]
        assert ranks == sorted(ranks)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.lists(st.one_of(st.none(), st.integers(0, 10)), min_size=8, max_size=8), min_size=1, max_size=20))
def test_scoring_a_frame_equals_scoring_its_rows_one_by_one(rows: list[list[int | None]]) -> None:
    answers = pd.DataFrame(
        [[math.nan if v is None else float(v) for v in row] for row in rows], columns=list(CLIENT.item_ids)
    )
    frame = score_frame(CLIENT, answers)
    for position, row in enumerate(rows):
        one = score_one(CLIENT, dict(zip(CLIENT.item_ids, row, strict=True)))
        expected_total = frame["total"].iloc[position]
        assert (one.total is None) == bool(np.isnan(expected_total))
        if one.total is not None:
            assert one.total == pytest.approx(expected_total)
        assert one.status == frame["status"].iloc[position]
        assert one.severity == frame["severity"].iloc[position]


# --- checking answers --------------------------------------------------------------------------------------


def text_frame(**columns: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame(columns, dtype=object)
    frame.index = pd.RangeIndex(1, len(frame) + 1)
    return frame


def phq9_text(**changes: list[str]) -> pd.DataFrame:
    return text_frame(**({item: ["1", "2"] for item in PHQ9_ITEMS} | changes))


def bad(instrument: Instrument, frame: pd.DataFrame) -> InputError:
    with pytest.raises(InputError) as caught:
        validate_answers(instrument, frame, file="answers.csv")
    return caught.value


def test_valid_text_answers_become_floats_with_empty_cells_missing() -> None:
    answers = validate_answers(PHQ9, phq9_text(phq9_3=[" 3 ", ""]), file="answers.csv")
    assert answers["phq9_3"].tolist()[0] == 3.0 and math.isnan(answers["phq9_3"].tolist()[1])
    assert list(answers.columns) == PHQ9_ITEMS


def test_numeric_answers_are_accepted_too() -> None:
    frame = pd.DataFrame({item: [1, 2] for item in PHQ9_ITEMS})
    assert validate_answers(PHQ9, frame, file="x").to_numpy().sum() == 27


def test_a_missing_item_column_is_named() -> None:
    frame = phq9_text()
    error = bad(PHQ9, frame.drop(columns="phq9_4"))
    assert (error.file, error.row, error.column) == ("answers.csv", None, "phq9_4")
    assert "missing item column" in error.message


def test_a_value_that_is_not_a_number_is_named_by_row_and_column() -> None:
    error = bad(PHQ9, phq9_text(phq9_2=["1", "often"]))
    assert str(error) == "answers.csv, row 2 (line 3), column 'phq9_2': not a number: 'often'"


def test_a_fraction_where_the_options_are_whole_is_refused() -> None:
    error = bad(PHQ9, phq9_text(phq9_5=["1.5", "1"]))
    assert str(error) == "answers.csv, row 1 (line 2), column 'phq9_5': not a whole number: '1.5' (allowed: 0, 1, 2, 3)"


def test_a_value_out_of_range_is_refused() -> None:
    error = bad(PHQ9, phq9_text(phq9_9=["1", "4"]))
    assert str(error) == "answers.csv, row 2 (line 3), column 'phq9_9': value '4' is out of range (0 to 3)"


def test_an_infinite_value_is_refused() -> None:
    assert "not a finite number: 'inf'" in str(bad(PHQ9, phq9_text(phq9_1=["inf", "1"])))


def test_an_optional_item_is_checked_when_present() -> None:
    error = bad(PHQ9, phq9_text(phq9_difficulty=["", "7"]))
    assert (error.row, error.column) == (2, "phq9_difficulty")


def test_a_value_between_allowed_options_is_refused() -> None:
    definition = likert_definition()
    definition["response_sets"]["likert"] = [{"value": v} for v in (1, 3, 5)]
    definition["scales"] = [definition["scales"][0]]
    definition["scales"][0]["reverse"] = []
    del definition["severity"]
    sparse = parse_definition(definition, source="test")
    error = bad(sparse, text_frame(q1=["3"], q2=["2"], q3=["1"], q4=["5"], q5=["1"]))
    assert (
        str(error) == "answers.csv, row 1 (line 2), column 'q2': value '2' is not an allowed answer (allowed: 1, 3, 5)"
    )
