"""FHIR R4B: our instruments go out as Questionnaires, administrations round-trip, and bad responses are refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from hypothesis import given, settings
from hypothesis import strategies as st

from alliance.errors import ResourceError
from alliance.instruments import Instrument, bundled_registry, score_one
from alliance.interop import fhir

REGISTRY = bundled_registry()
PHQ9 = REGISTRY.get("phq9")
WHEN = datetime(2026, 3, 4, 10, 30, tzinfo=UTC)


def us_core_style_phq9(answers: list[int], total: int | None) -> dict[str, Any]:
    """A PHQ-9 response in the style of HL7 US Core's example: LOINC linkIds and LOINC answer codes."""
    codes = {0: "LA6568-5", 1: "LA6569-3", 2: "LA6570-1", 3: "LA6571-9"}
    items: list[dict[str, Any]] = [
        {
            "linkId": f"/{item.loinc}",
            "answer": [{"valueCoding": {"system": "http://loinc.org", "code": codes[value]}}],
        }
        for item, value in zip(PHQ9.items, answers, strict=False)
    ]
    if total is not None:
        items.append({"linkId": "/44261-6", "answer": [{"valueInteger": total}]})
    return {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": "http://loinc.org/q/44249-1",
        "status": "completed",
        "subject": {"reference": "Patient/example"},
        "authored": "2026-03-04T10:30:00Z",
        "item": items,
    }


@pytest.mark.parametrize("instrument", list(REGISTRY), ids=lambda i: i.id)
def test_every_instrument_becomes_a_questionnaire_with_coded_options(instrument: Instrument) -> None:
    resource = fhir.questionnaire(instrument)
    assert resource["url"] == fhir.canonical_url(instrument)
    assert resource["version"] == instrument.version
    link_ids = [item["linkId"] for item in resource["item"]]
    assert link_ids == [*instrument.item_ids, "total"]
    for item, entry in zip(instrument.items, resource["item"], strict=False):
        values = [option["extension"][0]["valueDecimal"] for option in entry["answerOption"]]
        assert values == [option.value for option in item.options]


def test_phq9_questionnaire_carries_its_loinc_codes() -> None:
    resource = fhir.questionnaire(PHQ9)
    assert resource["code"] == [{"system": "http://loinc.org", "code": "44249-1"}]
    by_id = {item["linkId"]: item for item in resource["item"]}
    assert by_id["phq9_9"]["code"][0]["code"] == "44260-8"
    assert [o["valueCoding"]["code"] for o in by_id["phq9_1"]["answerOption"]] == [
        "LA6568-5",
        "LA6569-3",
        "LA6570-1",
        "LA6571-9",
    ]
    assert by_id["total"]["code"][0]["code"] == "44261-6"


def test_spanish_questionnaire_of_the_relationship_check_in() -> None:
    client = REGISTRY.get("alliance-client")
    resource = fhir.questionnaire(client, language="es")
    assert resource["language"] == "es"
    assert resource["item"][0]["text"] == client.items[0].text["es"]


def test_a_language_the_instrument_lacks_is_refused() -> None:
    with pytest.raises(ResourceError, match="no 'fr' texts"):
        fhir.questionnaire(PHQ9, language="fr")


def test_exported_administration_is_a_bundle_of_response_and_total_observation() -> None:
    answers = {item_id: 2.0 for item_id in PHQ9.required_item_ids}
    bundle = fhir.administration_bundle(PHQ9, answers, subject="Patient/c-17", authored=WHEN)
    Bundle.parse_obj(bundle)
    response, total = (entry["resource"] for entry in bundle["entry"])
    assert response["resourceType"] == "QuestionnaireResponse"
    assert total["code"]["coding"][0]["system"] == "http://loinc.org"
    assert total["code"]["coding"][0]["code"] == "44261-6"
    assert total["valueQuantity"]["value"] == 18
    assert total["interpretation"][0]["text"] == "moderately-severe"
    assert total["derivedFrom"][0]["reference"] == bundle["entry"][0]["fullUrl"]
    # the same administration exported twice gets the same ids (no duplicates downstream)
    again = fhir.administration_bundle(PHQ9, answers, subject="Patient/c-17", authored=WHEN)
    assert again == bundle


def test_an_insufficient_total_is_absent_not_zero() -> None:
    answers: dict[str, float | None] = {item_id: None for item_id in PHQ9.required_item_ids}
    answers["phq9_1"] = 1.0
    bundle = fhir.administration_bundle(PHQ9, answers)
    total = bundle["entry"][1]["resource"]
    assert "valueQuantity" not in total
    assert total["dataAbsentReason"]["coding"][0]["code"] == "unknown"
    response = bundle["entry"][0]["resource"]
    assert "total" not in [item["linkId"] for item in response["item"]]


@pytest.mark.parametrize("instrument", list(REGISTRY), ids=lambda i: i.id)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_an_administration_round_trips(instrument: Instrument, data: st.DataObject) -> None:
    answers: dict[str, float | None] = {
        item.id: data.draw(st.one_of(st.none(), st.sampled_from(item.values))) for item in instrument.items
    }
    response = fhir.questionnaire_response(instrument, answers, authored=WHEN, subject="Patient/p")
    back = fhir.parse_questionnaire_response(json.dumps(response), registry=REGISTRY)
    assert back.instrument.id == instrument.id
    assert {k: v for k, v in back.answers.items() if v is not None} == {
        k: v for k, v in answers.items() if v is not None
    }
    original = score_one(instrument, answers)
    assert back.score == original
    assert back.authored == WHEN
    assert back.subject == "Patient/p"


def test_us_core_style_phq9_is_read_by_loinc_codes() -> None:
    back = fhir.parse_questionnaire_response(us_core_style_phq9([1, 2, 1, 3, 0, 1, 2, 0, 1], 11), registry=REGISTRY)
    assert back.instrument.id == "phq9"
    assert back.score.total == 11
    assert back.score.severity == "moderate"
    assert back.score.risk is True


def test_a_stated_total_that_disagrees_is_refused() -> None:
    with pytest.raises(ResourceError, match=r"item\[9\].*stated total 12 does not match .*: 11"):
        fhir.parse_questionnaire_response(us_core_style_phq9([1, 2, 1, 3, 0, 1, 2, 0, 1], 12), registry=REGISTRY)


def response_with(**changes: Any) -> dict[str, Any]:
    resource = fhir.questionnaire_response(PHQ9, {item_id: 1.0 for item_id in PHQ9.required_item_ids})
    resource.update(changes)
    return resource


@pytest.mark.parametrize(
    ("resource", "message"),
    [
        (response_with(status="in-progress"), r"status: status is 'in-progress'; only completed or amended"),
        (
            response_with(questionnaire="http://example.org/Questionnaire/x"),
            r"questionnaire: unknown questionnaire",
        ),
        (
            response_with(questionnaire=fhir.canonical_url(PHQ9) + "|0.9"),
            r"questionnaire: answers version 0.9 of 'phq9'",
        ),
        (response_with(questionnaire=None), r"questionnaire is missing"),
        (
            {"resourceType": "Observation", "status": "final"},
            r"resourceType: expected a QuestionnaireResponse",
        ),
        (response_with(item=[{"answer": [{"valueInteger": 1}]}]), r"item\[0\]\.linkId: not a valid FHIR R4B"),
        (
            response_with(item=[{"linkId": "phq9_10", "answer": [{"valueInteger": 1}]}]),
            r"item\[0\]\.linkId: unknown linkId 'phq9_10'",
        ),
        (
            response_with(
                item=[
                    {
                        "linkId": "phq9_1",
                        "answer": [{"valueCoding": {"system": "http://loinc.org", "code": "LA9999-9"}}],
                    }
                ]
            ),
            r"item\[0\]\.answer\[0\]\.valueCoding: answer code http://loinc.org\|LA9999-9 is not an option",
        ),
        (
            response_with(item=[{"linkId": "phq9_1", "answer": [{"valueInteger": 4}]}]),
            r"item\[0\]\.answer\[0\]\.valueInteger: answer 4 is not an option of item 'phq9_1'",
        ),
        (
            response_with(item=[{"linkId": "phq9_1", "answer": [{"valueString": "often"}]}]),
            r"needs a valueCoding, valueInteger or valueDecimal answer \(got valueString\)",
        ),
        (
            response_with(
                item=[
                    {"linkId": "phq9_1", "answer": [{"valueInteger": 1}]},
                    {"linkId": "/44250-9", "answer": [{"valueInteger": 2}]},
                ]
            ),
            r"item\[1\]\.linkId: item 'phq9_1' is answered twice",
        ),
        (
            response_with(item=[{"linkId": "phq9_1", "answer": [{"valueInteger": 1}, {"valueInteger": 2}]}]),
            r"has 2 answers; exactly one is allowed",
        ),
    ],
)
def test_bad_responses_are_refused_naming_the_path(resource: dict[str, Any], message: str) -> None:
    resource = {key: value for key, value in resource.items() if value is not None}
    with pytest.raises(ResourceError, match=message):
        fhir.parse_questionnaire_response(resource, registry=REGISTRY, file="in.json")


def test_malformed_json_names_the_file_and_position() -> None:
    with pytest.raises(ResourceError, match=r"^in\.json: not valid JSON \(line 1, column 2"):
        fhir.parse_questionnaire_response("{oops", registry=REGISTRY, file="in.json")


def test_a_response_within_the_missing_rule_is_prorated_after_import() -> None:
    answers: dict[str, float | None] = {item_id: 2.0 for item_id in PHQ9.required_item_ids}
    answers["phq9_3"] = None
    back = fhir.parse_questionnaire_response(fhir.questionnaire_response(PHQ9, answers), registry=REGISTRY)
    assert back.score.status == "prorated"
    assert back.score.total == 18  # 16 answered over 8 items, prorated to 9 items
