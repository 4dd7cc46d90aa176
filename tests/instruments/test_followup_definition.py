"""The support tool's follow-up questionnaire: our own short form, in English and Spanish, scored by domain."""

from __future__ import annotations

import math
import re

import pytest

from alliance.instruments import Text, bundled_registry, score_one

FOLLOWUP = bundled_registry().get("alliance-followup")
DOMAINS = {
    "heard": "relationship",
    "speak_up": "relationship",
    "keep_going": "motivation",
    "hope": "motivation",
    "people": "support",
    "backing": "support",
    "event": "life-events",
    "strain": "life-events",
    "values": "culture",
    "whole_self": "culture",
}
HOW_TRUE = ["Not at all true", "A little true", "Partly true", "Mostly true", "Completely true"]


def every_text() -> list[tuple[str, Text]]:
    """Every text a client or therapist reads, with where it is."""
    texts = [("title", FOLLOWUP.title), ("instructions", FOLLOWUP.instructions)]
    for item in FOLLOWUP.items:
        texts.append((f"item {item.id}", item.text))
        texts.extend((f"item {item.id} option {option.value:g}", option.label) for option in item.options)
    texts.extend((f"scale {scale.id}", scale.title) for scale in FOLLOWUP.scales)
    return texts


def test_the_follow_up_loads_from_the_bundled_definitions_as_our_own_redistributable_form() -> None:
    assert FOLLOWUP.id == "alliance-followup"
    assert FOLLOWUP.licence.redistributable and "original wording" in FOLLOWUP.licence.name
    assert "original items" in FOLLOWUP.citation
    assert FOLLOWUP.source == "bundled:alliance-followup.yaml"


def test_every_text_is_in_english_and_spanish() -> None:
    assert FOLLOWUP.languages == ("en", "es")
    for where, text in every_text():
        assert text.languages == ("en", "es"), where
        assert text["en"].strip() and text["es"].strip(), where


def test_it_is_short_ten_items_at_most_in_plain_language() -> None:
    assert len(FOLLOWUP.items) <= 10
    words = sum(len(item.text["en"].split()) for item in FOLLOWUP.items)
    # Read at about 200 words a minute plus a tap per item: well under two minutes.
    assert words <= 150
    for item in FOLLOWUP.items:
        assert len(item.text["en"].split()) <= 25, item.id


def test_it_covers_the_relationship_motivation_support_life_events_and_culture() -> None:
    assert {item.id: item.domain for item in FOLLOWUP.items} == DOMAINS


def test_answers_are_labelled_0_to_4_or_yes_no() -> None:
    for item in FOLLOWUP.items:
        labels = [option.label["en"] for option in item.options]
        if item.id == "event":
            assert item.values == (0, 1) and labels == ["No", "Yes"]
            assert [option.label["es"] for option in item.options] == ["No", "Sí"]
        else:
            assert item.values == (0, 1, 2, 3, 4) and labels == HOW_TRUE


def test_each_domain_with_a_meaningful_mean_has_its_own_scale_and_the_total_says_what_it_is() -> None:
    scales = {scale.id: scale.items for scale in FOLLOWUP.scales}
    assert scales["relationship"] == ("heard", "speak_up")
    assert scales["motivation"] == ("keep_going", "hope")
    assert scales["support"] == ("people", "backing")
    assert scales["culture"] == ("values", "whole_self")
    total = FOLLOWUP.total
    assert "event" not in total.items and total.reverse == ("strain",)
    assert (total.method, total.minimum, total.maximum) == ("mean", 0, 4)
    assert "summary" in total.title["en"].lower() and "fewer concerns" in total.title["en"]
    assert FOLLOWUP.severity == () and FOLLOWUP.risk == ()


def test_scores_are_domain_means_and_the_total_reverses_strain() -> None:
    answers = {
        "heard": 4, "speak_up": 3, "keep_going": 3, "hope": 2, "people": 0, "backing": 1,
        "event": 1, "strain": 3, "values": 4, "whole_self": 4,
    }  # fmt: skip
    score = score_one(FOLLOWUP, answers)
    assert dict(score.subscales) == {"relationship": 3.5, "motivation": 2.5, "support": 0.5, "culture": 4.0}
    # (4 + 3 + 3 + 2 + 0 + 1 + (4 - 3) + 4 + 4) / 9 = 22 / 9
    assert math.isclose(score.total or 0, 22 / 9)
    assert score.status == "ok" and not score.risk


def test_a_domain_with_a_skipped_item_has_no_score_and_the_summary_allows_two_missing() -> None:
    answers: dict[str, float | None] = dict.fromkeys(DOMAINS, 2)
    answers.update(people=None, event=None)
    score = score_one(FOLLOWUP, answers)
    assert score.subscales["support"] is None and score.subscales["relationship"] == 2
    assert score.total == 2 and score.status == "prorated"
    answers.update(heard=None, hope=None)
    assert score_one(FOLLOWUP, answers).status == "insufficient"


def test_it_is_marked_not_yet_validated() -> None:
    assert FOLLOWUP.validated is False
    assert FOLLOWUP.validation_note.startswith("Not yet validated")
    assert "provisional" in FOLLOWUP.validation_note


def test_the_wording_is_our_own() -> None:
    # Well-known lines of licensed tools must not appear (a guard against copying, not a proof).
    licensed = [
        r"felt heard,? understood,? and respected",
        r"my therapist and i respect each other",
        r"i am motivated to do whatever it takes",
        r"i have someone i can count on",
        r"recent changes in my life",
    ]
    texts = " ".join(item.text["en"].lower() for item in FOLLOWUP.items)
    assert not [pattern for pattern in licensed if re.search(pattern, texts)]


@pytest.mark.parametrize("language", ["en", "es"])
def test_the_instructions_say_any_question_may_be_skipped(language: str) -> None:
    assert {"en": "skip any question", "es": "sin responder"}[language] in FOLLOWUP.instructions[language]
