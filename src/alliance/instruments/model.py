"""An instrument as values: texts, items, options, scales, severity bands, risk rules (all frozen)."""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "Band",
    "Instrument",
    "Item",
    "Licence",
    "MissingDataRule",
    "Option",
    "RiskRule",
    "Scale",
    "Text",
]

Method = Literal["sum", "mean"]
Rounding = Literal["half-up", "none"]

_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}


@dataclass(frozen=True)
class Text:
    """One text in every language of its instrument: ``text["en"]``, ``text.get("es")``."""

    translations: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, mapping: Mapping[str, str]) -> Text:
        """Build a text from a mapping language -> text."""
        return cls(tuple((language, str(value)) for language, value in mapping.items()))

    def __getitem__(self, language: str) -> str:
        for code, value in self.translations:
            if code == language:
                return value
        raise KeyError(f"no {language!r} text (languages: {', '.join(self.languages)})")

    def get(self, language: str, default: str | None = None) -> str | None:
        """Return the text in ``language``, or ``default`` when there is none."""
        return next((value for code, value in self.translations if code == language), default)

    @property
    def languages(self) -> tuple[str, ...]:
        """The language codes this text has, in definition order."""
        return tuple(code for code, _ in self.translations)

    def as_dict(self) -> dict[str, str]:
        """Return a plain ``{language: text}`` dictionary."""
        return dict(self.translations)


@dataclass(frozen=True)
class Option:
    """One answer an item accepts: its scored value, its label and (where one exists) a LOINC answer code."""

    value: float
    label: Text
    loinc: str | None = None


@dataclass(frozen=True)
class Item:
    """One question; ``id`` is also the CSV column name for its answers."""

    id: str
    text: Text
    options: tuple[Option, ...]
    response_set: str | None = None
    loinc: str | None = None
    domain: str | None = None

    @property
    def values(self) -> tuple[float, ...]:
        """The allowed answer values, lowest first."""
        return tuple(sorted(option.value for option in self.options))

    @property
    def minimum(self) -> float:
        """The lowest allowed answer."""
        return min(option.value for option in self.options)

    @property
    def maximum(self) -> float:
        """The highest allowed answer."""
        return max(option.value for option in self.options)

    def option(self, value: float) -> Option:
        """Return the option scored ``value``."""
        for option in self.options:
            if option.value == value:
                return option
        raise KeyError(f"item {self.id!r} has no option {value:g}")


@dataclass(frozen=True)
class Scale:
    """A score made of items: the total (``id == "total"``) or a subscale.

    ``reverse`` items are reversed as ``item minimum + item maximum - answer`` before scoring. Up to
    ``max_missing`` missing items are prorated (see ``MissingDataRule``); beyond that the scale is missing.
    """

    id: str
    title: Text
    items: tuple[str, ...]
    method: Method
    minimum: float
    maximum: float
    max_missing: int
    reverse: tuple[str, ...] = ()


@dataclass(frozen=True)
class Band:
    """A severity band on the total, ``lower`` to ``upper`` (banding rule: ``scoring.severity_of``)."""

    id: str
    lower: float
    upper: float
    label: Text


@dataclass(frozen=True)
class RiskRule:
    """An item answer that must reach the therapist whatever the total, e.g. PHQ-9 item 9 ``> 0``."""

    item: str
    operator: str
    threshold: float
    message: str

    @property
    def rule(self) -> str:
        """The rule as written in the definition, e.g. ``"> 0"``."""
        return f"{self.operator} {self.threshold:g}"

    def holds(self, answer: float) -> bool:
        """Whether ``answer`` meets the rule."""
        return _OPERATORS[self.operator](answer, self.threshold)


@dataclass(frozen=True)
class MissingDataRule:
    """How missing answers are handled, and where that rule comes from.

    ``rule`` is ``"prorate"`` (each scale allows up to its ``max_missing`` items missing) or ``"none"``.
    ``rounding`` applies to prorated *sum* scales: ``"half-up"`` rounds to the nearest integer, .5 up.
    """

    rule: Literal["prorate", "none"]
    rounding: Rounding
    description: str
    source: str


@dataclass(frozen=True)
class Licence:
    """Terms of use: ``redistributable`` says whether the definition may ship with this software."""

    name: str
    text: str
    redistributable: bool
    url: str | None = None


@dataclass(frozen=True)
class Instrument:
    """A questionnaire definition, loaded and checked (see ``registry.load_definition``)."""

    id: str
    title: Text
    version: str
    citation: str
    licence: Licence
    languages: tuple[str, ...]
    instructions: Text
    items: tuple[Item, ...]
    scales: tuple[Scale, ...]
    severity: tuple[Band, ...]
    risk: tuple[RiskRule, ...]
    missing_data: MissingDataRule
    validated: bool
    validation_note: str
    loinc_panel: str | None = None
    loinc_total: str | None = None
    source: str = ""

    def __iter__(self) -> Iterator[Item]:
        return iter(self.items)

    @property
    def item_ids(self) -> tuple[str, ...]:
        """Every item id, in order (the CSV column names)."""
        return tuple(item.id for item in self.items)

    @property
    def required_item_ids(self) -> tuple[str, ...]:
        """Items a score needs: in a scale or a risk rule (others, like PHQ-9's difficulty, are optional)."""
        used = {item for scale in self.scales for item in scale.items} | {rule.item for rule in self.risk}
        return tuple(item.id for item in self.items if item.id in used)

    @property
    def total(self) -> Scale:
        """The total scale."""
        return self.scale("total")

    @property
    def subscales(self) -> tuple[Scale, ...]:
        """Every scale but the total, in definition order."""
        return tuple(scale for scale in self.scales if scale.id != "total")

    def item(self, item_id: str) -> Item:
        """Return the item ``item_id``."""
        for item in self.items:
            if item.id == item_id:
                return item
        raise KeyError(f"instrument {self.id!r} has no item {item_id!r}")

    def scale(self, scale_id: str) -> Scale:
        """Return the scale ``scale_id``."""
        for scale in self.scales:
            if scale.id == scale_id:
                return scale
        raise KeyError(f"instrument {self.id!r} has no scale {scale_id!r}")

    def band(self, band_id: str) -> Band:
        """Return the severity band ``band_id``."""
        for band in self.severity:
            if band.id == band_id:
                return band
        raise KeyError(f"instrument {self.id!r} has no severity band {band_id!r}")
