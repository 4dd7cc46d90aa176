"""FHIR R4B: Questionnaires from instrument definitions, scored administrations out, QuestionnaireResponses in.

``fhir.resources`` checks structure but not codes, so everything clinical is checked here: status, the
questionnaire canonical, linkIds, answer codes, and any total the sender stated (recomputed, never trusted).
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.questionnaire import Questionnaire
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
from pydantic.v1 import ValidationError

from alliance.errors import ResourceError
from alliance.instruments import Instrument, Item, Option, Registry, Score, score_one

__all__ = [
    "CANONICAL_BASE",
    "ImportedResponse",
    "administration_bundle",
    "answer_system",
    "canonical_url",
    "observation",
    "parse_questionnaire_response",
    "questionnaire",
    "questionnaire_response",
]

# Canonical URLs are identifiers, not addresses: nothing is fetched from them.
CANONICAL_BASE = "http://alliance.local/fhir"
LOINC = "http://loinc.org"
ORDINAL_VALUE = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
TOTAL_LINK_ID = "total"
ACCEPTED_STATUSES = ("completed", "amended")
_TOLERANCE = 1e-9


def canonical_url(instrument: Instrument) -> str:
    """Return the Questionnaire canonical URL of ``instrument`` (without version)."""
    return f"{CANONICAL_BASE}/Questionnaire/{instrument.id}"


def answer_system(instrument: Instrument) -> str:
    """Return the code system of ``instrument``'s own answer codes (used where LOINC has none)."""
    return f"{CANONICAL_BASE}/CodeSystem/{instrument.id}-answers"


def questionnaire(instrument: Instrument, *, language: str = "en") -> dict[str, Any]:
    """Return ``instrument`` as a FHIR R4B Questionnaire (JSON-ready dict) in ``language``."""
    if language not in instrument.languages:
        raise ResourceError(
            f"instrument {instrument.id!r} has no {language!r} texts (languages: {', '.join(instrument.languages)})"
        )
    required = set(instrument.required_item_ids)
    items: list[dict[str, Any]] = [
        _drop_none(
            {
                "linkId": item.id,
                "code": [{"system": LOINC, "code": item.loinc}] if item.loinc else None,
                "text": item.text[language],
                "type": "choice",
                "required": item.id in required,
                "answerOption": [
                    {
                        "valueCoding": _coding(instrument, option, language),
                        "extension": [{"url": ORDINAL_VALUE, "valueDecimal": option.value}],
                    }
                    for option in item.options
                ],
            }
        )
        for item in instrument.items
    ]
    items.append(
        _drop_none(
            {
                "linkId": TOTAL_LINK_ID,
                "code": [{"system": LOINC, "code": instrument.loinc_total}] if instrument.loinc_total else None,
                "text": instrument.total.title[language],
                "type": "decimal",
                "readOnly": True,
            }
        )
    )
    resource = _drop_none(
        {
            "resourceType": "Questionnaire",
            "id": instrument.id,
            "url": canonical_url(instrument),
            "version": instrument.version,
            "name": "".join(part.capitalize() for part in instrument.id.replace("-", " ").split()),
            "title": instrument.title[language],
            "status": "active",
            "language": language,
            "code": [{"system": LOINC, "code": instrument.loinc_panel}] if instrument.loinc_panel else None,
            "description": instrument.instructions[language],
            "copyright": f"{instrument.licence.name}. {instrument.licence.text}",
            "item": items,
        }
    )
    return _checked(Questionnaire, resource)


def questionnaire_response(
    instrument: Instrument,
    answers: Mapping[str, float | None],
    *,
    score: Score | None = None,
    subject: str | None = None,
    authored: datetime | None = None,
    language: str = "en",
    resource_id: str | None = None,
) -> dict[str, Any]:
    """Return one administration as a completed QuestionnaireResponse, with its total as a read-only item.

    ``subject`` is a FHIR reference such as ``"Patient/abc"``; the total is recomputed when ``score`` is None.
    """
    score = score if score is not None else score_one(instrument, answers)
    items: list[dict[str, Any]] = []
    for item in instrument.items:
        value = answers.get(item.id)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        items.append(
            {
                "linkId": item.id,
                "text": item.text.get(language) or item.text[instrument.languages[0]],
                "answer": [{"valueCoding": _coding(instrument, item.option(float(value)), language)}],
            }
        )
    if score.total is not None:
        items.append({"linkId": TOTAL_LINK_ID, "answer": [{"valueDecimal": score.total}]})
    resource = _drop_none(
        {
            "resourceType": "QuestionnaireResponse",
            "id": resource_id,
            "questionnaire": f"{canonical_url(instrument)}|{instrument.version}",
            "status": "completed",
            "subject": {"reference": subject} if subject else None,
            "authored": authored.isoformat() if authored else None,
            "language": language,
            "item": items,
        }
    )
    return _checked(QuestionnaireResponse, resource)


def observation(
    instrument: Instrument,
    score: Score,
    *,
    subject: str | None = None,
    effective: datetime | None = None,
    derived_from: str | None = None,
    resource_id: str | None = None,
) -> dict[str, Any]:
    """Return the total of a scored administration as a survey Observation (LOINC code where one exists).

    An insufficient total carries a ``dataAbsentReason`` instead of a value; subscales become components.
    """
    code = (
        {
            "system": LOINC,
            "code": instrument.loinc_total,
            "display": instrument.total.title[instrument.languages[0]],
        }
        if instrument.loinc_total
        else {"system": f"{CANONICAL_BASE}/CodeSystem/{instrument.id}-scales", "code": "total"}
    )
    value: dict[str, Any]
    if score.total is None:
        value = {
            "dataAbsentReason": {
                "coding": [{"system": "http://terminology.hl7.org/CodeSystem/data-absent-reason", "code": "unknown"}],
                "text": "too many items unanswered to score (instrument's missing-data rule)",
            }
        }
    else:
        value = {"valueQuantity": _quantity(score.total)}
    components = [
        {
            "code": {"coding": [{"system": f"{CANONICAL_BASE}/CodeSystem/{instrument.id}-scales", "code": scale_id}]},
            **(
                {"valueQuantity": _quantity(scale_value)}
                if scale_value is not None
                else {"dataAbsentReason": {"coding": [_absent_unknown()]}}
            ),
        }
        for scale_id, scale_value in score.subscales.items()
    ]
    resource = _drop_none(
        {
            "resourceType": "Observation",
            "id": resource_id,
            "status": "final",
            "category": [
                {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                            "code": "survey",
                        }
                    ]
                }
            ],
            "code": {"coding": [code], "text": instrument.total.title[instrument.languages[0]]},
            "subject": {"reference": subject} if subject else None,
            "effectiveDateTime": effective.isoformat() if effective else None,
            "derivedFrom": [{"reference": derived_from}] if derived_from else None,
            "interpretation": [{"text": score.severity}] if score.severity else None,
            "component": components or None,
            **value,
        }
    )
    return _checked(Observation, resource)


def administration_bundle(
    instrument: Instrument,
    answers: Mapping[str, float | None],
    *,
    subject: str | None = None,
    authored: datetime | None = None,
    language: str = "en",
) -> dict[str, Any]:
    """Return a scored administration as a collection Bundle: the QuestionnaireResponse and the total's Observation.

    Resource ids are derived from the content (uuid5), so exporting the same administration twice gives the same ids.
    """
    score = score_one(instrument, answers)
    seed = json.dumps(
        [
            instrument.id,
            instrument.version,
            subject,
            authored.isoformat() if authored else None,
            sorted(answers.items()),
        ],
        default=str,
    )
    response_id = str(uuid.uuid5(uuid.NAMESPACE_URL, "qr:" + seed))
    observation_id = str(uuid.uuid5(uuid.NAMESPACE_URL, "obs:" + seed))
    response = questionnaire_response(
        instrument,
        answers,
        score=score,
        subject=subject,
        authored=authored,
        language=language,
        resource_id=response_id,
    )
    total = observation(
        instrument,
        score,
        subject=subject,
        effective=authored,
        derived_from=f"urn:uuid:{response_id}",
        resource_id=observation_id,
    )
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": f"urn:uuid:{response_id}", "resource": response},
            {"fullUrl": f"urn:uuid:{observation_id}", "resource": total},
        ],
    }
    return _checked(Bundle, bundle)


@dataclass(frozen=True)
class ImportedResponse:
    """A QuestionnaireResponse read back: the instrument, the answers by item id, and their score."""

    instrument: Instrument
    answers: Mapping[str, float | None]
    score: Score
    subject: str | None
    authored: datetime | None


def parse_questionnaire_response(
    data: str | bytes | Mapping[str, Any], *, registry: Registry, file: str | None = None
) -> ImportedResponse:
    """Read a QuestionnaireResponse for one of ``registry``'s instruments, checking what FHIR libraries do not.

    Checks: JSON and FHIR structure, ``status`` (completed or amended), the ``questionnaire`` canonical (ours,
    with a matching version, or LOINC's ``http://loinc.org/q/<panel>``), every linkId (the item id, its LOINC
    code, or ``/`` + LOINC code), one answer per item with a code or value among the item's options, no item
    twice, and any stated total (linkId ``total`` or the LOINC total code) against the recomputed total.
    Raises ``ResourceError`` naming the path of the first problem.
    """
    # FHIR JSON has no nulls; fhir.resources lets them through as "absent", so they are dropped here too (a null
    # "item" or "valueCoding" crashed the walk below; found by the property tests).
    resource = _without_nulls(_load_json(data, file=file))
    if resource.get("resourceType") != "QuestionnaireResponse":
        raise ResourceError(
            f"expected a QuestionnaireResponse, got resourceType {resource.get('resourceType')!r}",
            path="resourceType",
            file=file,
        )
    try:
        parsed = QuestionnaireResponse.parse_obj(resource)
    except ValidationError as exc:
        first = exc.errors()[0]
        path = _path(part for part in first["loc"] if part != "__root__")
        raise ResourceError(
            f"not a valid FHIR R4B QuestionnaireResponse: {first['msg']}", path=path, file=file
        ) from None
    status = resource.get("status")
    if status not in ACCEPTED_STATUSES:
        raise ResourceError(
            f"status is {status!r}; only {' or '.join(ACCEPTED_STATUSES)} responses can be scored",
            path="status",
            file=file,
        )
    instrument = _instrument_of(resource.get("questionnaire"), registry=registry, file=file)
    answers: dict[str, float | None] = {}
    stated_total: tuple[float, str] | None = None
    for path, entry in _walk_items(resource.get("item", [])):
        link_id = str(entry["linkId"])
        if _is_total(instrument, link_id):
            stated_total = (_stated_number(entry, path=path, file=file), path)
            continue
        if not entry.get("answer"):
            if entry.get("item"):
                continue  # a group
            item = _item_for(instrument, link_id, path=path, file=file)
            answers.setdefault(item.id, None)
            continue
        item = _item_for(instrument, link_id, path=path, file=file)
        if answers.get(item.id) is not None:
            raise ResourceError(f"item {item.id!r} is answered twice", path=f"{path}.linkId", file=file)
        if len(entry["answer"]) != 1:
            raise ResourceError(
                f"item {item.id!r} has {len(entry['answer'])} answers; exactly one is allowed",
                path=f"{path}.answer",
                file=file,
            )
        answers[item.id] = _answer_value(instrument, item, entry["answer"][0], path=f"{path}.answer[0]", file=file)
    score = score_one(instrument, answers)
    if stated_total is not None:
        value, path = stated_total
        if score.total is None or not math.isclose(value, score.total, rel_tol=0.0, abs_tol=_TOLERANCE):
            recomputed = "not computable (too many items unanswered)" if score.total is None else f"{score.total:g}"
            raise ResourceError(
                f"stated total {value:g} does not match the total recomputed from the answers: {recomputed}",
                path=path,
                file=file,
            )
    subject = resource.get("subject", {}).get("reference")
    authored = parsed.authored
    return ImportedResponse(
        instrument=instrument,
        answers=answers,
        score=score,
        subject=subject,
        authored=authored if isinstance(authored, datetime) else None,
    )


# --- helpers ---------------------------------------------------------------------------------------------------


def _coding(instrument: Instrument, option: Option, language: str) -> dict[str, Any]:
    display = option.label.get(language) or option.label[instrument.languages[0]]
    if option.loinc:
        return {"system": LOINC, "code": option.loinc, "display": display}
    return {"system": answer_system(instrument), "code": _code_of(option.value), "display": display}


def _code_of(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _quantity(value: float) -> dict[str, Any]:
    return {"value": value, "unit": "{score}", "system": "http://unitsofmeasure.org", "code": "{score}"}


def _absent_unknown() -> dict[str, str]:
    return {"system": "http://terminology.hl7.org/CodeSystem/data-absent-reason", "code": "unknown"}


def _drop_none(mapping: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in mapping.items() if value is not None}


def _checked(model: Any, resource: dict[str, Any]) -> dict[str, Any]:
    """Validate ``resource`` against the R4B model (a bug here is ours, not the user's) and return it."""
    model.parse_obj(resource)
    return resource


def _load_json(data: str | bytes | Mapping[str, Any], *, file: str | None) -> dict[str, Any]:
    if isinstance(data, Mapping):
        return dict(data)
    try:
        loaded = json.loads(data)
    except json.JSONDecodeError as exc:
        raise ResourceError(f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})", file=file) from None
    except UnicodeDecodeError:
        raise ResourceError("not UTF-8 text", file=file) from None
    if not isinstance(loaded, dict):
        raise ResourceError("expected a JSON object (a FHIR resource)", file=file)
    return loaded


def _without_nulls(node: Any) -> Any:
    if isinstance(node, dict):
        return {key: _without_nulls(value) for key, value in node.items() if value is not None}
    if isinstance(node, list):
        return [_without_nulls(value) for value in node if value is not None]
    return node


def _path(parts: Iterator[Any] | tuple[Any, ...]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _walk_items(items: list[dict[str, Any]], prefix: str = "item") -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield (path, item) for every item, nested groups and answer-nested items included."""
    for index, entry in enumerate(items):
        path = f"{prefix}[{index}]"
        yield path, entry
        yield from _walk_items(entry.get("item", []), f"{path}.item")
        for answer_index, answer in enumerate(entry.get("answer", [])):
            yield from _walk_items(answer.get("item", []), f"{path}.answer[{answer_index}].item")


def _instrument_of(canonical: object, *, registry: Registry, file: str | None) -> Instrument:
    if not isinstance(canonical, str) or not canonical:
        raise ResourceError(
            "questionnaire is missing: cannot tell which instrument was answered",
            path="questionnaire",
            file=file,
        )
    url, _, version = canonical.partition("|")
    for instrument in registry:
        if url == canonical_url(instrument):
            if version and version != instrument.version:
                raise ResourceError(
                    f"answers version {version} of {instrument.id!r}; this system has version {instrument.version}",
                    path="questionnaire",
                    file=file,
                )
            return instrument
        if instrument.loinc_panel and url == f"{LOINC}/q/{instrument.loinc_panel}":
            return instrument
    raise ResourceError(
        f"unknown questionnaire {canonical!r} (known: {', '.join(canonical_url(i) for i in registry)})",
        path="questionnaire",
        file=file,
    )


def _is_total(instrument: Instrument, link_id: str) -> bool:
    return link_id == TOTAL_LINK_ID or (
        instrument.loinc_total is not None and link_id.lstrip("/") == instrument.loinc_total
    )


def _item_for(instrument: Instrument, link_id: str, *, path: str, file: str | None) -> Item:
    for item in instrument.items:
        if link_id == item.id or (item.loinc is not None and link_id.lstrip("/") == item.loinc):
            return item
    raise ResourceError(
        f"unknown linkId {link_id!r} for {instrument.id!r} (items: {', '.join(instrument.item_ids)})",
        path=f"{path}.linkId",
        file=file,
    )


def _answer_value(
    instrument: Instrument, item: Item, answer: Mapping[str, Any], *, path: str, file: str | None
) -> float:
    if "valueCoding" in answer:
        coding = answer["valueCoding"]
        system, code = coding.get("system"), coding.get("code")
        for option in item.options:
            ours = _coding(instrument, option, instrument.languages[0])
            if code == ours["code"] and system in (None, ours["system"]):
                return option.value
        allowed = ", ".join(_coding(instrument, option, instrument.languages[0])["code"] for option in item.options)
        raise ResourceError(
            f"answer code {system}|{code} is not an option of item {item.id!r} (allowed codes: {allowed})",
            path=f"{path}.valueCoding",
            file=file,
        )
    for key in ("valueInteger", "valueDecimal"):
        if key in answer:
            value = float(answer[key])
            if value in item.values:
                return value
            raise ResourceError(
                f"answer {value:g} is not an option of item {item.id!r} (allowed: "
                f"{', '.join(_code_of(v) for v in item.values)})",
                path=f"{path}.{key}",
                file=file,
            )
    kinds = ", ".join(key for key in answer if key.startswith("value")) or "none"
    raise ResourceError(
        f"item {item.id!r} needs a valueCoding, valueInteger or valueDecimal answer (got {kinds})",
        path=path,
        file=file,
    )


def _stated_number(entry: Mapping[str, Any], *, path: str, file: str | None) -> float:
    answers = entry.get("answer") or []
    for key in ("valueDecimal", "valueInteger"):
        if len(answers) == 1 and key in answers[0]:
            return float(answers[0][key])
    raise ResourceError(
        "the stated total needs one valueDecimal or valueInteger answer", path=f"{path}.answer", file=file
    )
