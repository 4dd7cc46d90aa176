"""Definitions load from the package and from a site's directories, and a bad one is refused with file and path."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from alliance.errors import AllianceError, DefinitionError
from alliance.instruments import (
    ENVIRONMENT_VARIABLE,
    UnknownInstrumentError,
    bundled_registry,
    load_definition,
    load_registry,
    parse_definition,
    registry_from_environment,
)
from alliance.instruments.registry import loinc_check_digit

SCHEMA = Path(__file__).resolve().parents[2] / "src" / "alliance" / "instruments" / "schema.json"

# A made-up site instrument shaped like a licensed session-rating scale (4 visual-analogue items, 0-10, total
# 0-40, cut-off 36). The item texts are invented here; no licensed wording is copied.
SITE_DEFINITION: dict[str, Any] = {
    "id": "site-session-scale",
    "title": {"en": "Site session scale (test)"},
    "version": "0.1",
    "citation": "Invented for a test.",
    "licence": {"name": "Site licence", "text": "Used under the site's own licence.", "redistributable": False},
    "languages": ["en"],
    "instructions": {"en": "Mark each line."},
    "response_sets": {
        "vas": [{"value": v, **({"label": {"en": "low"}} if v == 0 else {})} for v in range(11)],
    },
    "items": [
        {"id": "first", "text": {"en": "First made-up line."}, "responses": "vas"},
        {"id": "second", "text": {"en": "Second made-up line."}, "responses": "vas"},
        {"id": "third", "text": {"en": "Third made-up line."}, "responses": "vas"},
        {"id": "fourth", "text": {"en": "Fourth made-up line."}, "responses": "vas"},
    ],
    "scales": [
        {
            "id": "total",
            "title": {"en": "Total"},
            "items": ["first", "second", "third", "fourth"],
            "method": "sum",
            "range": {"min": 0, "max": 40},
            "max_missing": 0,
        }
    ],
    "severity": [
        {"id": "below-cutoff", "from": 0, "to": 35, "label": {"en": "Below 36"}},
        {"id": "at-or-above-cutoff", "from": 36, "to": 40, "label": {"en": "36 or more"}},
    ],
    "missing_data": {
        "rule": "none",
        "rounding": "none",
        "description": "No total with any item missing.",
        "source": "Test.",
    },
    "validated": False,
    "validation_note": "A test fixture.",
}


def site_definition(**changes: Any) -> dict[str, Any]:
    """Return a fresh copy of the site definition with top-level ``changes``."""
    definition = copy.deepcopy(SITE_DEFINITION)
    definition.update(changes)
    return definition


def write_definition(folder: Path, name: str, definition: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(yaml.safe_dump(definition, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def refusal(definition: object) -> str:
    with pytest.raises(DefinitionError) as caught:
        parse_definition(definition, source="site/test.yaml")
    return str(caught.value)


# --- the bundled definitions -----------------------------------------------------------------------------


def test_the_bundled_registry_has_the_five_instruments_sorted_by_id() -> None:
    assert bundled_registry().ids == ("alliance-client", "alliance-followup", "alliance-therapist", "gad7", "phq9")


def test_the_schema_itself_is_a_valid_json_schema() -> None:
    Draft202012Validator.check_schema(json.loads(SCHEMA.read_text(encoding="utf-8")))


def test_an_unknown_id_is_an_alliance_error_that_lists_the_known_ids() -> None:
    with pytest.raises(UnknownInstrumentError) as caught:
        bundled_registry().get("srs")
    assert isinstance(caught.value, AllianceError)
    assert str(caught.value) == (
        "unknown instrument 'srs' (known: alliance-client, alliance-followup, alliance-therapist, gad7, phq9)"
    )


def test_a_registry_answers_membership_and_length() -> None:
    registry = bundled_registry()
    assert "phq9" in registry and "srs" not in registry
    assert len(registry) == 5
    assert [instrument.id for instrument in registry] == list(registry.ids)


# --- a site's own definitions -----------------------------------------------------------------------------


def test_a_site_directory_adds_its_instrument_beside_the_bundled_ones(tmp_path: Path) -> None:
    write_definition(tmp_path / "site", "session.yaml", SITE_DEFINITION)
    registry = load_registry(extra_dirs=[tmp_path / "site"])
    site = registry.get("site-session-scale")
    assert registry.ids == (
        "alliance-client",
        "alliance-followup",
        "alliance-therapist",
        "gad7",
        "phq9",
        "site-session-scale",
    )
    assert site.licence.redistributable is False
    assert site.total.maximum == 40
    assert site.source == str(tmp_path / "site" / "session.yaml")


def test_a_site_definition_may_be_json(tmp_path: Path) -> None:
    (tmp_path / "session.json").write_text(json.dumps(SITE_DEFINITION), encoding="utf-8")
    assert "site-session-scale" in load_registry(extra_dirs=[tmp_path])


def test_the_environment_variable_is_read_by_one_function_and_may_list_several_directories(tmp_path: Path) -> None:
    write_definition(tmp_path / "a", "one.yaml", site_definition(id="site-one"))
    write_definition(tmp_path / "b", "two.yaml", site_definition(id="site-two"))
    setting = os.pathsep.join([str(tmp_path / "a"), str(tmp_path / "b")])
    registry = registry_from_environment({ENVIRONMENT_VARIABLE: setting})
    assert {"site-one", "site-two"} <= set(registry.ids)


def test_without_the_environment_variable_only_the_bundled_instruments_load() -> None:
    assert registry_from_environment({}).ids == bundled_registry().ids


def test_a_site_file_may_not_replace_a_bundled_instrument(tmp_path: Path) -> None:
    path = write_definition(tmp_path, "phq9.yaml", site_definition(id="phq9"))
    with pytest.raises(DefinitionError, match=r"already defined by bundled:phq9\.yaml") as caught:
        load_registry(extra_dirs=[tmp_path])
    assert str(caught.value).startswith(f"{path}: $.id: instrument id 'phq9'")


def test_two_site_files_may_not_share_an_id(tmp_path: Path) -> None:
    write_definition(tmp_path / "a", "one.yaml", SITE_DEFINITION)
    write_definition(tmp_path / "b", "two.yaml", SITE_DEFINITION)
    with pytest.raises(DefinitionError, match="already defined by"):
        load_registry(extra_dirs=[tmp_path / "a", tmp_path / "b"])


def test_a_site_directory_that_does_not_exist_stops_loading(tmp_path: Path) -> None:
    with pytest.raises(DefinitionError, match="instrument directory not found"):
        registry_from_environment({ENVIRONMENT_VARIABLE: str(tmp_path / "missing")})


def test_load_definition_reads_one_file(tmp_path: Path) -> None:
    path = write_definition(tmp_path, "session.yaml", SITE_DEFINITION)
    assert load_definition(path).id == "site-session-scale"


# --- refusals: the schema ----------------------------------------------------------------------------------


def test_a_missing_field_is_named() -> None:
    definition = site_definition()
    del definition["licence"]
    assert refusal(definition) == "site/test.yaml: $: 'licence' is a required property"


def test_a_wrong_type_is_named_with_its_json_path() -> None:
    definition = site_definition()
    definition["items"][1]["options"] = [{"value": "high"}, {"value": 1}]
    del definition["items"][1]["responses"]
    assert refusal(definition) == "site/test.yaml: $.items[1].options[0].value: 'high' is not of type 'number'"


def test_an_unknown_field_is_refused() -> None:
    assert "'colour' was unexpected" in refusal(site_definition(colour="blue"))


def test_a_definition_without_a_total_scale_is_refused() -> None:
    definition = site_definition()
    definition["scales"][0]["id"] = "sum"
    assert refusal(definition).startswith("site/test.yaml: $.scales:")


def test_a_risk_rule_must_be_a_comparison() -> None:
    definition = site_definition(risk=[{"item": "first", "rule": "is high", "message": "risk.x"}])
    assert refusal(definition).startswith("site/test.yaml: $.risk[0].rule:")


# --- refusals: what the schema cannot check ----------------------------------------------------------------


def test_item_ids_must_be_unique() -> None:
    definition = site_definition()
    definition["items"][3]["id"] = "first"
    assert refusal(definition) == "site/test.yaml: $.items[3].id: item id 'first' appears twice"


def test_a_scale_may_only_use_items_that_exist() -> None:
    definition = site_definition()
    definition["scales"][0]["items"][2] = "third_line"
    assert refusal(definition) == "site/test.yaml: $.scales[0].items[2]: unknown item 'third_line'"


def test_reverse_keyed_items_must_be_in_the_scale() -> None:
    definition = site_definition()
    definition["scales"][0]["items"] = ["first", "second", "third"]
    definition["scales"][0]["range"] = {"min": 0, "max": 30}
    definition["scales"][0]["reverse"] = ["fourth"]
    definition["severity"] = None
    del definition["severity"]
    assert refusal(definition) == (
        "site/test.yaml: $.scales[0].reverse[0]: reverse-keyed item 'fourth' is not in this scale"
    )


def test_the_declared_range_must_match_the_items_options() -> None:
    definition = site_definition()
    definition["scales"][0]["range"] = {"min": 0, "max": 44}
    assert "$.scales[0].range: declared range 0 to 44 does not match its items' options (sum: 0 to 40)" in (
        refusal(definition)
    )


def test_a_response_set_must_exist() -> None:
    definition = site_definition()
    definition["items"][0]["responses"] = "likert"
    assert refusal(definition) == "site/test.yaml: $.items[0].responses: unknown response set 'likert' (defined: vas)"


def test_option_values_must_be_unique() -> None:
    definition = site_definition()
    definition["response_sets"]["vas"][3]["value"] = 2
    assert refusal(definition) == "site/test.yaml: $.response_sets.vas[3].value: option value 2 appears twice"


def test_severity_bands_must_not_leave_a_gap() -> None:
    definition = site_definition()
    definition["severity"][1]["from"] = 37
    assert "$.severity[1].from: bands must be contiguous without overlap: expected 36" in refusal(definition)


def test_severity_bands_must_not_overlap() -> None:
    definition = site_definition()
    definition["severity"][1]["from"] = 35
    assert "$.severity[1].from: bands must be contiguous without overlap" in refusal(definition)


def test_severity_bands_must_cover_the_whole_range() -> None:
    low = site_definition()
    low["severity"][0]["from"] = 1
    assert "$.severity[0].from: the first band must start at the total's minimum 0" in refusal(low)
    high = site_definition()
    high["severity"][1]["to"] = 39
    assert "$.severity[1].to: the last band must end at the total's maximum 40" in refusal(high)


def test_bands_on_a_mean_share_their_boundaries() -> None:
    definition = site_definition()
    definition["scales"][0].update(method="mean", range={"min": 0, "max": 10})
    definition["severity"] = [
        {"id": "low", "from": 0, "to": 8, "label": {"en": "Low"}},
        {"id": "high", "from": 8, "to": 10, "label": {"en": "High"}},
    ]
    assert [band.id for band in parse_definition(definition, source="t").severity] == ["low", "high"]
    definition["severity"][1]["from"] = 9
    assert "expected 8 (continuous totals: previous 'to')" in refusal(definition)


def test_a_risk_rule_must_name_an_item() -> None:
    definition = site_definition(risk=[{"item": "fifth", "rule": "> 0", "message": "risk.x"}])
    assert refusal(definition) == "site/test.yaml: $.risk[0].item: unknown item 'fifth'"


def test_every_text_needs_every_declared_language() -> None:
    definition = site_definition(languages=["en", "es"])
    definition["title"]["es"] = "Escala"
    definition["instructions"]["es"] = "Marque cada línea."
    definition["response_sets"]["vas"][0]["label"]["es"] = "bajo"
    assert refusal(definition) == "site/test.yaml: $.items[0].text: no 'es' text (every text needs: en, es)"


def test_a_text_in_an_undeclared_language_is_refused() -> None:
    definition = site_definition()
    definition["items"][0]["text"]["fr"] = "Première ligne."
    assert refusal(definition) == "site/test.yaml: $.items[0].text: language 'fr' is not in languages (en)"


def test_a_loinc_code_with_a_wrong_check_digit_is_refused() -> None:
    definition = site_definition(loinc={"panel": "44249-2"})
    assert refusal(definition) == (
        "site/test.yaml: $.loinc.panel: LOINC code '44249-2' has a wrong check digit (expected 1)"
    )


def test_the_loinc_check_digit_matches_published_codes() -> None:
    assert [loinc_check_digit(n) for n in ("44249", "44261", "44260", "69737", "70274")] == [1, 6, 8, 5, 6]


def test_no_missing_items_may_be_allowed_when_the_rule_is_none() -> None:
    definition = site_definition()
    definition["scales"][0]["max_missing"] = 1
    assert refusal(definition) == (
        "site/test.yaml: $.scales[0].max_missing: missing_data.rule is 'none', so max_missing must be 0"
    )


def test_a_scale_may_not_be_named_like_a_score_column_or_an_item() -> None:
    definition = site_definition()
    definition["scales"].append({**definition["scales"][0], "id": "status"})
    assert "$.scales[1].id: scale id 'status' would clash" in refusal(definition)
    definition["scales"][1]["id"] = "first"
    assert "$.scales[1].id: scale id 'first' would clash" in refusal(definition)


def test_a_repeated_yaml_key_is_refused_rather_than_silently_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "twice.yaml"
    path.write_text("id: one\nid: two\n", encoding="utf-8")
    with pytest.raises(DefinitionError, match=r"twice\.yaml: not valid YAML \(.*duplicate key 'id'"):
        load_definition(path)


def test_a_file_that_is_not_yaml_is_refused_with_its_name(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("id: [unclosed\n", encoding="utf-8")
    with pytest.raises(DefinitionError, match=r"broken\.yaml: not valid YAML"):
        load_definition(path)
