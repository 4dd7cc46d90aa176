"""Load instrument definitions (bundled and a site's own), check them, and find them by id."""

from __future__ import annotations

import functools
import json
import math
import os
import re
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, cast

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from alliance.errors import AllianceError, DefinitionError
from alliance.instruments.model import (
    Band,
    Instrument,
    Item,
    Licence,
    MissingDataRule,
    Option,
    RiskRule,
    Scale,
    Text,
)

__all__ = [
    "ENVIRONMENT_VARIABLE",
    "Registry",
    "UnknownInstrumentError",
    "bundled_registry",
    "load_definition",
    "load_registry",
    "parse_definition",
    "registry_from_environment",
]

ENVIRONMENT_VARIABLE = "ALLIANCE_INSTRUMENTS_DIR"
DEFINITION_SUFFIXES = (".yaml", ".yml", ".json")
# Output columns of a score; a scale named like one would make the score table ambiguous.
RESERVED_SCALE_IDS = frozenset({"severity", "risk", "status"})
_RULE = re.compile(r"^\s*(>=|<=|==|!=|>|<)\s*(-?[0-9]+(?:\.[0-9]+)?)\s*$")


class UnknownInstrumentError(AllianceError, LookupError):
    """An instrument id that no loaded definition has."""


@dataclass(frozen=True)
class Registry:
    """The instruments available here, sorted by id."""

    instruments: tuple[Instrument, ...]

    def __iter__(self) -> Iterator[Instrument]:
        return iter(self.instruments)

    def __len__(self) -> int:
        return len(self.instruments)

    def __contains__(self, instrument_id: object) -> bool:
        return any(instrument.id == instrument_id for instrument in self.instruments)

    @property
    def ids(self) -> tuple[str, ...]:
        """Every instrument id, sorted."""
        return tuple(instrument.id for instrument in self.instruments)

    def get(self, instrument_id: str) -> Instrument:
        """Return the instrument ``instrument_id``; ``UnknownInstrumentError`` lists the known ids."""
        for instrument in self.instruments:
            if instrument.id == instrument_id:
                return instrument
        raise UnknownInstrumentError(f"unknown instrument {instrument_id!r} (known: {', '.join(self.ids)})")


def load_registry(*, extra_dirs: Iterable[str | Path] = ()) -> Registry:
    """Load the bundled definitions plus every definition file in ``extra_dirs``.

    A site directory holds ``*.yaml``, ``*.yml`` or ``*.json`` files, one instrument each. A directory that
    does not exist, a file that fails its checks, or a site instrument reusing an id already loaded (bundled
    or another site file) is a ``DefinitionError``: a site never silently replaces an instrument.
    """
    instruments = {instrument.id: instrument for instrument in _bundled()}
    for directory in extra_dirs:
        folder = Path(directory)
        if not folder.is_dir():
            raise DefinitionError(f"{folder}: instrument directory not found (from {ENVIRONMENT_VARIABLE}?)")
        for path in sorted(p for p in folder.iterdir() if p.suffix.lower() in DEFINITION_SUFFIXES):
            instrument = load_definition(path)
            if instrument.id in instruments:
                earlier = instruments[instrument.id].source
                raise DefinitionError(
                    f"{path}: $.id: instrument id {instrument.id!r} is already defined by {earlier} "
                    "(a site definition may not replace another; give it its own id)"
                )
            instruments[instrument.id] = instrument
    return Registry(tuple(instruments[key] for key in sorted(instruments)))


def registry_from_environment(environ: Mapping[str, str] | None = None) -> Registry:
    """Load the registry with the site directories in ``ALLIANCE_INSTRUMENTS_DIR`` (``os.pathsep``-separated).

    This is the one place that reads the setting; ``environ`` replaces ``os.environ`` (for tests).
    """
    setting = (os.environ if environ is None else environ).get(ENVIRONMENT_VARIABLE, "")
    return load_registry(extra_dirs=[part for part in setting.split(os.pathsep) if part.strip()])


def bundled_registry() -> Registry:
    """Return the registry of the bundled definitions only."""
    return Registry(tuple(sorted(_bundled(), key=lambda instrument: instrument.id)))


def load_definition(path: str | Path) -> Instrument:
    """Read one definition file (YAML or JSON) and check it; ``DefinitionError`` names the file and path."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DefinitionError(f"{path}: cannot read definition ({exc})") from None
    return parse_definition(_parse_text(text, source=str(path)), source=str(path))


def parse_definition(data: object, *, source: str) -> Instrument:
    """Check a parsed definition against the schema and for consistency, and build the ``Instrument``.

    ``source`` names where the data came from, in errors and in ``Instrument.source``.
    """
    error = best_match(_validator().iter_errors(data))
    if error is not None:
        raise DefinitionError(f"{source}: {error.json_path}: {error.message}")
    definition = cast(dict[str, Any], data)
    return _Builder(definition, source).build()


@functools.cache
def _bundled() -> tuple[Instrument, ...]:
    folder = resources.files("alliance.instruments").joinpath("definitions")
    instruments = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(DEFINITION_SUFFIXES):
            source = f"bundled:{entry.name}"
            instruments.append(parse_definition(_parse_text(entry.read_text("utf-8"), source=source), source=source))
    return tuple(instruments)


@functools.cache
def _validator() -> Draft202012Validator:
    schema = json.loads(resources.files("alliance.instruments").joinpath("schema.json").read_text("utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe YAML loader that refuses a mapping with a repeated key (YAML would keep the last silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: set[object] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _parse_text(text: str, *, source: str) -> object:
    if source.lower().endswith(".json"):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise DefinitionError(f"{source}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass: no arbitrary objects
    except yaml.YAMLError as exc:
        raise DefinitionError(f"{source}: not valid YAML ({' '.join(str(exc).split())})") from None


def loinc_check_digit(number: str) -> int:
    """Return the LOINC mod-10 check digit of the numeric part of a code (``"44261"`` -> 6)."""
    reversed_digits = number[::-1]
    odd = reversed_digits[0::2]  # positions 1, 3, 5 ... from the right
    even = reversed_digits[1::2]
    digits = even + str(int(odd) * 2)
    return (10 - sum(int(d) for d in digits) % 10) % 10


def _number(value: float) -> float:
    """Keep whole numbers as ``int`` so that they print as ``3``, not ``3.0``."""
    return int(value) if float(value).is_integer() else float(value)


class _Builder:
    """Turn a schema-valid definition into an ``Instrument``, checking what the schema cannot."""

    def __init__(self, data: dict[str, Any], source: str) -> None:
        self.data = data
        self.source = source
        self.languages: tuple[str, ...] = tuple(data["languages"])

    def fail(self, path: str, message: str) -> DefinitionError:
        return DefinitionError(f"{self.source}: {path}: {message}")

    def text(self, value: Mapping[str, str], path: str) -> Text:
        missing = [language for language in self.languages if language not in value]
        if missing:
            raise self.fail(path, f"no {missing[0]!r} text (every text needs: {', '.join(self.languages)})")
        extra = [language for language in value if language not in self.languages]
        if extra:
            raise self.fail(path, f"language {extra[0]!r} is not in languages ({', '.join(self.languages)})")
        return Text(tuple((language, value[language]) for language in self.languages))

    def options(self, raw: Sequence[Mapping[str, Any]], path: str) -> tuple[Option, ...]:
        options = []
        seen: set[float] = set()
        for index, option in enumerate(raw):
            value = _number(option["value"])
            if value in seen:
                raise self.fail(f"{path}[{index}].value", f"option value {value:g} appears twice")
            seen.add(value)
            label = (
                self.text(option["label"], f"{path}[{index}].label")
                if "label" in option
                else Text(tuple((language, f"{value:g}") for language in self.languages))
            )
            options.append(Option(value=value, label=label, loinc=option.get("loinc")))
        return tuple(options)

    def build(self) -> Instrument:
        data = self.data
        response_sets = {
            name: self.options(raw, f"$.response_sets.{name}") for name, raw in data.get("response_sets", {}).items()
        }
        items = self.items(response_sets)
        by_id = {item.id: item for item in items}
        missing_data = data["missing_data"]
        scales = self.scales(by_id, rule=missing_data["rule"], rounding=missing_data["rounding"])
        total = next(scale for scale in scales if scale.id == "total")
        severity = self.severity(total, by_id, rounding=missing_data["rounding"])
        risk = self.risk(by_id)
        loinc = data.get("loinc", {})
        for key in ("panel", "total"):
            if key in loinc:
                self.check_loinc(loinc[key], f"$.loinc.{key}")
        licence = data["licence"]
        return Instrument(
            id=data["id"],
            title=self.text(data["title"], "$.title"),
            version=data["version"],
            citation=data["citation"],
            licence=Licence(
                name=licence["name"],
                text=licence["text"],
                redistributable=licence["redistributable"],
                url=licence.get("url"),
            ),
            languages=self.languages,
            instructions=self.text(data["instructions"], "$.instructions"),
            items=items,
            scales=scales,
            severity=severity,
            risk=risk,
            missing_data=MissingDataRule(
                rule=missing_data["rule"],
                rounding=missing_data["rounding"],
                description=missing_data["description"],
                source=missing_data["source"],
            ),
            validated=data["validated"],
            validation_note=data["validation_note"],
            loinc_panel=loinc.get("panel"),
            loinc_total=loinc.get("total"),
            source=self.source,
        )

    def check_loinc(self, code: str, path: str) -> None:
        number, check = code.split("-")
        if loinc_check_digit(number) != int(check):
            raise self.fail(path, f"LOINC code {code!r} has a wrong check digit (expected {loinc_check_digit(number)})")

    def items(self, response_sets: Mapping[str, tuple[Option, ...]]) -> tuple[Item, ...]:
        items = []
        seen: set[str] = set()
        for index, raw in enumerate(self.data["items"]):
            path = f"$.items[{index}]"
            if raw["id"] in seen:
                raise self.fail(f"{path}.id", f"item id {raw['id']!r} appears twice")
            seen.add(raw["id"])
            if "responses" in raw:
                if raw["responses"] not in response_sets:
                    known = ", ".join(response_sets) or "none"
                    raise self.fail(
                        f"{path}.responses", f"unknown response set {raw['responses']!r} (defined: {known})"
                    )
                options = response_sets[raw["responses"]]
            else:
                options = self.options(raw["options"], f"{path}.options")
            if "loinc" in raw:
                self.check_loinc(raw["loinc"], f"{path}.loinc")
            items.append(
                Item(
                    id=raw["id"],
                    text=self.text(raw["text"], f"{path}.text"),
                    options=options,
                    response_set=raw.get("responses"),
                    loinc=raw.get("loinc"),
                    domain=raw.get("domain"),
                )
            )
        return tuple(items)

    def scales(self, items: Mapping[str, Item], *, rule: str, rounding: str) -> tuple[Scale, ...]:
        scales = []
        seen: set[str] = set()
        for index, raw in enumerate(self.data["scales"]):
            path = f"$.scales[{index}]"
            if raw["id"] in seen:
                raise self.fail(f"{path}.id", f"scale id {raw['id']!r} appears twice")
            if raw["id"] in items or raw["id"] in RESERVED_SCALE_IDS:
                raise self.fail(
                    f"{path}.id",
                    f"scale id {raw['id']!r} would clash with an item or a score column "
                    f"({', '.join(sorted(RESERVED_SCALE_IDS))})",
                )
            seen.add(raw["id"])
            for position, item_id in enumerate(raw["items"]):
                if item_id not in items:
                    raise self.fail(f"{path}.items[{position}]", f"unknown item {item_id!r}")
            for position, item_id in enumerate(raw.get("reverse", [])):
                if item_id not in raw["items"]:
                    raise self.fail(
                        f"{path}.reverse[{position}]", f"reverse-keyed item {item_id!r} is not in this scale"
                    )
            members = [items[item_id] for item_id in raw["items"]]
            if raw["method"] == "sum":
                low = sum(item.minimum for item in members)
                high = sum(item.maximum for item in members)
            else:
                low = sum(item.minimum for item in members) / len(members)
                high = sum(item.maximum for item in members) / len(members)
            declared = raw["range"]
            if not (math.isclose(declared["min"], low) and math.isclose(declared["max"], high)):
                raise self.fail(
                    f"{path}.range",
                    f"declared range {declared['min']:g} to {declared['max']:g} does not match its items' "
                    f"options ({raw['method']}: {low:g} to {high:g})",
                )
            if raw["max_missing"] >= len(members):
                raise self.fail(f"{path}.max_missing", "at least one item must be answered (max_missing < items)")
            if rule == "none" and raw["max_missing"] != 0:
                raise self.fail(f"{path}.max_missing", "missing_data.rule is 'none', so max_missing must be 0")
            scales.append(
                Scale(
                    id=raw["id"],
                    title=self.text(raw["title"], f"{path}.title"),
                    items=tuple(raw["items"]),
                    method=raw["method"],
                    minimum=_number(low),
                    maximum=_number(high),
                    max_missing=raw["max_missing"],
                    reverse=tuple(raw.get("reverse", [])),
                )
            )
        return tuple(scales)

    def severity(self, total: Scale, items: Mapping[str, Item], *, rounding: str) -> tuple[Band, ...]:
        raw_bands = self.data.get("severity", [])
        whole = (
            total.method == "sum"
            and all(float(v).is_integer() for item_id in total.items for v in items[item_id].values)
            and (total.max_missing == 0 or rounding == "half-up")
        )
        bands = []
        seen: set[str] = set()
        for index, raw in enumerate(raw_bands):
            path = f"$.severity[{index}]"
            if raw["id"] in seen:
                raise self.fail(f"{path}.id", f"band id {raw['id']!r} appears twice")
            seen.add(raw["id"])
            if raw["from"] > raw["to"] or (not whole and raw["from"] == raw["to"]):
                raise self.fail(path, f"band runs backwards or is empty ({raw['from']:g} to {raw['to']:g})")
            if index == 0 and not math.isclose(raw["from"], total.minimum):
                raise self.fail(f"{path}.from", f"the first band must start at the total's minimum {total.minimum:g}")
            if index > 0:
                previous = raw_bands[index - 1]["to"]
                expected = previous + 1 if whole else previous
                if not math.isclose(raw["from"], expected):
                    kind = "integer totals: previous 'to' + 1" if whole else "continuous totals: previous 'to'"
                    raise self.fail(
                        f"{path}.from",
                        f"bands must be contiguous without overlap: expected {expected:g} ({kind}), "
                        f"got {raw['from']:g}",
                    )
            bands.append(
                Band(
                    id=raw["id"],
                    lower=_number(raw["from"]),
                    upper=_number(raw["to"]),
                    label=self.text(raw["label"], f"{path}.label"),
                )
            )
        if bands and not math.isclose(bands[-1].upper, total.maximum):
            raise self.fail(
                f"$.severity[{len(bands) - 1}].to",
                f"the last band must end at the total's maximum {total.maximum:g}",
            )
        return tuple(bands)

    def risk(self, items: Mapping[str, Item]) -> tuple[RiskRule, ...]:
        rules = []
        for index, raw in enumerate(self.data.get("risk", [])):
            path = f"$.risk[{index}]"
            if raw["item"] not in items:
                raise self.fail(f"{path}.item", f"unknown item {raw['item']!r}")
            match = _RULE.match(raw["rule"])
            if match is None:  # unreachable after the schema, whose pattern is the same expression
                raise self.fail(f"{path}.rule", f"cannot read rule {raw['rule']!r}")
            rules.append(
                RiskRule(
                    item=raw["item"],
                    operator=match.group(1),
                    threshold=_number(float(match.group(2))),
                    message=raw["message"],
                )
            )
        return tuple(rules)
