"""An instrument as an HTML form: what the templates render (one fieldset per item) and reading the answers back.

The rules of what an answer may be live in ``checkins.service.validate_answers``; this module only finds which
item a bad answer belongs to, so the page can point at it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from django.http import QueryDict

from alliance.clinic.checkins.service import CheckinError, validate_answers
from alliance.instruments import Instrument, Item

__all__ = [
    "Choice",
    "InstrumentForm",
    "Question",
    "RawAnswers",
    "build_form",
    "field_name",
    "invalid_items",
    "new_form_key",
    "read_answers",
    "read_form_key",
    "text_language",
]

# {item id: the submitted string, or None when the item was left blank}
RawAnswers = dict[str, str | None]
# A value nobody can choose by tapping: two answers for one item (a tampered form).
_AMBIGUOUS = "\x00ambiguous"


@dataclass(frozen=True)
class Choice:
    """One radio button of a question."""

    value: str
    label: str
    input_id: str
    checked: bool


@dataclass(frozen=True)
class Question:
    """One item as a ``<fieldset>``: ``grid`` items (0–10) use the big number grid with its two anchors."""

    item_id: str
    name: str
    dom_id: str
    number: int
    text: str
    choices: tuple[Choice, ...]
    grid: bool
    anchors: tuple[str, str] | None
    invalid: bool


@dataclass(frozen=True)
class InstrumentForm:
    """One instrument ready to render; ``fallback`` says its texts are not in the language the client chose."""

    instrument_id: str
    title: str
    instructions: str
    text_language: str
    fallback: bool
    questions: tuple[Question, ...]


def text_language(instrument: Instrument, language: str) -> str:
    """Return the language to show ``instrument`` in: ``language`` when it has it, else English (or its first)."""
    if language in instrument.languages:
        return language
    return "en" if "en" in instrument.languages else instrument.languages[0]


def field_name(instrument_id: str, item_id: str) -> str:
    """Return the form field name of one item (instrument id first, so two instruments share a page safely)."""
    return f"{instrument_id}:{item_id}"


def build_form(
    instrument: Instrument,
    *,
    language: str,
    values: Mapping[str, str | None] | None = None,
    invalid: Sequence[str] = (),
) -> InstrumentForm:
    """Describe ``instrument`` as a form in ``language``, with ``values`` pre-selected and ``invalid`` items marked."""
    shown = text_language(instrument, language)
    values = values or {}
    questions = tuple(
        _question(
            instrument, item, number=number, language=shown, value=values.get(item.id), invalid=item.id in invalid
        )
        for number, item in enumerate(instrument.items, start=1)
    )
    return InstrumentForm(
        instrument_id=instrument.id,
        title=instrument.title[shown],
        instructions=instrument.instructions[shown],
        text_language=shown,
        fallback=shown != language,
        questions=questions,
    )


def read_answers(instrument: Instrument, data: QueryDict) -> RawAnswers:
    """Return the submitted answer of every item of ``instrument`` (None where left blank); other fields are ignored."""
    raw: RawAnswers = {}
    for item in instrument.items:
        submitted = [value for value in data.getlist(field_name(instrument.id, item.id)) if value != ""]
        if not submitted:
            raw[item.id] = None
        elif len(submitted) == 1:
            raw[item.id] = submitted[0]
        else:
            raw[item.id] = _AMBIGUOUS
    return raw


def invalid_items(instrument: Instrument, raw: Mapping[str, str | None]) -> tuple[str, ...]:
    """Return the items whose submitted answer is not one of their options (the service's rule, item by item)."""
    bad: list[str] = []
    for item_id, value in raw.items():
        if value is None:
            continue
        try:
            validate_answers(instrument, {item_id: value})
        except CheckinError:
            bad.append(item_id)
    return tuple(bad)


def new_form_key() -> str:
    """Return a fresh key for one rendering of a form (the idempotency key of what it submits)."""
    return str(uuid.uuid4())


def read_form_key(data: QueryDict) -> str | None:
    """Return the submitted form key in canonical form, or None when it is missing or not a UUID."""
    try:
        return str(uuid.UUID(data.get("form_key", "")))
    except ValueError:
        return None


def _question(
    instrument: Instrument, item: Item, *, number: int, language: str, value: str | None, invalid: bool
) -> Question:
    name = field_name(instrument.id, item.id)
    dom_id = f"q-{instrument.id}-{item.id}"
    options = sorted(item.options, key=lambda option: option.value)
    # A scale of plain numbers (labels only on the two ends) goes on the touch grid; named options stack as a list.
    grid = len(options) > 2 and all(option.label[language] == f"{option.value:g}" for option in options[1:-1])
    choices = tuple(
        Choice(
            value=f"{option.value:g}",
            label=f"{option.value:g}" if grid else option.label[language],
            input_id=f"{dom_id}-{index}",
            checked=_same(value, option.value),
        )
        for index, option in enumerate(options)
    )
    anchors = (
        (
            f"{options[0].value:g} = {options[0].label[language]}",
            f"{options[-1].value:g} = {options[-1].label[language]}",
        )
        if grid
        else None
    )
    return Question(
        item_id=item.id,
        name=name,
        dom_id=dom_id,
        number=number,
        text=item.text[language],
        choices=choices,
        grid=grid,
        anchors=anchors,
        invalid=invalid,
    )


def _same(submitted: str | None, value: float) -> bool:
    if submitted is None:
        return False
    try:
        return float(submitted) == value
    except ValueError:
        return False
