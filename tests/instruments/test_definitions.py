"""The bundled definitions say what the published instruments say, and our own check-in keeps its promises."""

from __future__ import annotations

import re

import pytest

from alliance.instruments import Instrument, bundled_registry

REGISTRY = bundled_registry()
PHQ9 = REGISTRY.get("phq9")
GAD7 = REGISTRY.get("gad7")
CLIENT = REGISTRY.get("alliance-client")
THERAPIST = REGISTRY.get("alliance-therapist")
FREQUENCY_CODES = {0: "LA6568-5", 1: "LA6569-3", 2: "LA6570-1", 3: "LA6571-9"}


def bands(instrument: Instrument) -> list[tuple[float, float, str]]:
    return [(band.lower, band.upper, band.id) for band in instrument.severity]


# --- PHQ-9 (Kroenke et al. 2001; LOINC panel 44249-1) -------------------------------------------------------


def test_phq9_has_the_official_stem_and_nine_scored_items_with_their_loinc_codes() -> None:
    assert PHQ9.instructions["en"] == (
        "Over the last 2 weeks, how often have you been bothered by any of the following problems?"
    )
    assert PHQ9.total.items == tuple(f"phq9_{n}" for n in range(1, 10))
    assert [PHQ9.item(item_id).loinc for item_id in PHQ9.total.items] == [
        "44250-9", "44255-8", "44259-0", "44254-1", "44251-7", "44258-2", "44252-5", "44253-3", "44260-8",
    ]  # fmt: skip
    assert (PHQ9.loinc_panel, PHQ9.loinc_total) == ("44249-1", "44261-6")


def test_phq9_answers_are_0_to_3_with_loinc_answer_codes() -> None:
    for item_id in PHQ9.total.items:
        options = PHQ9.item(item_id).options
        assert {option.value: option.loinc for option in options} == FREQUENCY_CODES
        assert [option.label["en"] for option in options] == [
            "Not at all", "Several days", "More than half the days", "Nearly every day",
        ]  # fmt: skip


def test_phq9_total_is_a_sum_from_0_to_27_with_the_published_severity_bands() -> None:
    assert (PHQ9.total.method, PHQ9.total.minimum, PHQ9.total.maximum) == ("sum", 0, 27)
    assert bands(PHQ9) == [
        (0, 4, "minimal"), (5, 9, "mild"), (10, 14, "moderate"), (15, 19, "moderately-severe"), (20, 27, "severe"),
    ]  # fmt: skip


def test_phq9_item_9_above_0_is_a_risk_rule() -> None:
    [rule] = PHQ9.risk
    assert (rule.item, rule.rule) == ("phq9_9", "> 0")
    assert PHQ9.item("phq9_9").text["en"].startswith("Thoughts that you would be better off dead")


def test_phq9_difficulty_question_is_on_the_form_but_in_no_score() -> None:
    difficulty = PHQ9.item("phq9_difficulty")
    assert difficulty.loinc == "69722-7"
    assert "phq9_difficulty" not in PHQ9.required_item_ids
    assert [option.loinc for option in difficulty.options] == ["LA6572-7", "LA6573-5", "LA6575-0", "LA6574-3"]


def test_phq9_prorates_up_to_two_missing_items_rounded_and_names_its_source() -> None:
    assert PHQ9.total.max_missing == 2
    assert PHQ9.missing_data.rounding == "half-up"
    assert "Arrieta" in PHQ9.missing_data.source


# --- GAD-7 (Spitzer et al. 2006; LOINC panel 69737-5) -------------------------------------------------------


def test_gad7_has_seven_items_with_their_loinc_codes_and_total_0_to_21() -> None:
    assert [item.loinc for item in GAD7.items] == [
        "69725-0", "68509-9", "69733-4", "69734-2", "69735-9", "69689-8", "69736-7",
    ]  # fmt: skip
    assert (GAD7.loinc_panel, GAD7.loinc_total) == ("69737-5", "70274-6")
    assert (GAD7.total.minimum, GAD7.total.maximum) == (0, 21)
    assert all({o.value: o.loinc for o in item.options} == FREQUENCY_CODES for item in GAD7.items)


def test_gad7_severity_bands_are_the_published_ones() -> None:
    assert bands(GAD7) == [(0, 4, "minimal"), (5, 9, "mild"), (10, 14, "moderate"), (15, 21, "severe")]


def test_gad7_missing_rule_names_its_source() -> None:
    assert GAD7.total.max_missing == 1
    assert "Mazza" in GAD7.missing_data.source


# --- licences ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("instrument", list(REGISTRY), ids=lambda i: i.id)
def test_every_bundled_instrument_may_be_redistributed_and_cites_its_source(instrument: Instrument) -> None:
    assert instrument.licence.redistributable
    assert instrument.citation and instrument.missing_data.source


# --- our own check-in ---------------------------------------------------------------------------------------

DOMAINS = {
    "bond": "bond",
    "understood": "empathy",
    "respect": "respect",
    "goals": "goals",
    "tasks": "tasks",
    "culture": "cultural-respect",
    "safety": "safety-boundaries",
    "overall": "overall",
}


@pytest.mark.parametrize("form", [CLIENT, THERAPIST], ids=lambda i: i.id)
def test_the_check_in_has_at_most_8_items_each_0_to_10_with_labelled_anchors(form: Instrument) -> None:
    assert len(form.items) <= 8
    for item in form.items:
        assert item.values == tuple(range(11))
        assert item.option(0).label["en"] != "0" and item.option(10).label["en"] != "10"
        assert item.option(0).label["es"] != "0" and item.option(10).label["es"] != "10"


@pytest.mark.parametrize("form", [CLIENT, THERAPIST], ids=lambda i: i.id)
def test_the_check_in_covers_every_domain_with_meaningful_item_ids(form: Instrument) -> None:
    assert {item.id: item.domain for item in form.items} == DOMAINS


def test_client_and_therapist_forms_share_item_ids_and_scales_so_gaps_can_be_computed() -> None:
    assert CLIENT.item_ids == THERAPIST.item_ids
    assert [(s.id, s.items) for s in CLIENT.scales] == [(s.id, s.items) for s in THERAPIST.scales]


@pytest.mark.parametrize("form", [CLIENT, THERAPIST], ids=lambda i: i.id)
def test_the_check_in_is_in_english_and_spanish_and_short_enough_for_a_phone(form: Instrument) -> None:
    assert form.languages == ("en", "es")
    for item in form.items:
        # About one line on a phone each; eight of them read in well under a minute.
        assert len(item.text["en"].split()) <= 14
        assert len(item.text["es"].split()) <= 16


@pytest.mark.parametrize("form", [CLIENT, THERAPIST], ids=lambda i: i.id)
def test_the_check_in_is_marked_not_yet_validated(form: Instrument) -> None:
    assert form.validated is False
    assert form.validation_note.startswith("Not yet validated")
    assert "alpha" in form.validation_note and "omega" in form.validation_note


def test_the_check_in_total_is_a_mean_from_0_to_10_with_a_provisional_cut_off_at_8() -> None:
    assert (CLIENT.total.method, CLIENT.total.minimum, CLIENT.total.maximum) == ("mean", 0, 10)
    assert bands(CLIENT) == [(0, 8, "below-cutoff"), (8, 10, "at-or-above-cutoff")]
    assert "provisional" in CLIENT.band("below-cutoff").label["en"]


def test_the_check_in_wording_is_our_own() -> None:
    # Well-known lines of licensed alliance scales must not appear (a guard against copying, not a proof).
    licensed = [
        r"today'?s session was right for me",
        r"felt heard,? understood,? and respected",
        r"we worked on and talked about what i wanted",
        r"the therapist'?s approach is a good fit",
        r"agree on what is important for me to work on",
        r"working towards mutually agreed upon goals",
    ]
    texts = " ".join(item.text["en"].lower() for form in (CLIENT, THERAPIST) for item in form.items)
    assert not [pattern for pattern in licensed if re.search(pattern, texts)]
