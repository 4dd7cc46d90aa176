"""Repair suggestions of the clinical support tool: loading them, and ranking them for one client.

The suggestions live in ``suggestions.yaml`` (our own words, each with its references). Which ones a client gets
depends on three things, most specific first:

1. what the client said in the follow-up questionnaire (``alliance-followup``): :func:`followup_needs`;
2. which relationship domains are in strain in the latest relationship check-in: :func:`strained_domains`;
3. the client's status: a rupture in the relationship, or not on track on the outcome measures.

Everything here is pure (no Django): the support panel (``support.panel``) feeds it from the database.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml

from alliance.errors import DefinitionError
from alliance.instruments import Instrument

__all__ = [
    "CHECKIN_DOMAINS",
    "CONCERN_BELOW",
    "DOMAINS",
    "DOMAIN_LABELS",
    "NEEDS",
    "NEED_ITEMS",
    "NEED_LABELS",
    "STATUSES",
    "STATUS_LABELS",
    "Reference",
    "Suggestion",
    "bundled_suggestions",
    "followup_needs",
    "load_suggestions",
    "matched",
    "parse_suggestions",
    "strained_domains",
    "suggest",
]

DOMAINS: tuple[str, ...] = ("bond", "goals", "tasks", "respect", "cultural-respect", "safety")
"""Relationship domains a suggestion can target (Bordin's goals, tasks and bond, plus respect, culture, safety)."""
STATUSES: tuple[str, ...] = ("rupture", "not-on-track")
"""A strained relationship (the check-in dipped or is low), or an outcome worse than expected."""
NEEDS: tuple[str, ...] = ("relationship-strain", "low-motivation", "low-support", "life-event", "poor-cultural-fit")
"""What the follow-up questionnaire can show."""

DOMAIN_LABELS: Mapping[str, str] = {
    "bond": "bond (trust, feeling understood)",
    "goals": "agreement on goals",
    "tasks": "agreement on the way of working",
    "respect": "respect",
    "cultural-respect": "respect for culture and beliefs",
    "safety": "feeling safe",
}
STATUS_LABELS: Mapping[str, str] = {"rupture": "strain in the relationship", "not-on-track": "not on track"}
NEED_LABELS: Mapping[str, str] = {
    "relationship-strain": "the client does not feel heard or free to disagree",
    "low-motivation": "low motivation or hope",
    "low-support": "little support from other people",
    "life-event": "a recent stressful event",
    "poor-cultural-fit": "therapy does not fit the client's culture and values",
}

NEED_ITEMS: Mapping[str, tuple[str, ...]] = {
    "relationship-strain": ("heard", "speak_up"),
    "low-motivation": ("keep_going", "hope"),
    "low-support": ("people", "backing"),
    "poor-cultural-fit": ("values", "whole_self"),
}
"""The ``alliance-followup`` items whose mean shows each need (0-4, higher is better)."""
LIFE_EVENT_ITEM = "event"  # 0 no, 1 yes
LIFE_STRAIN_ITEM = "strain"  # 0-4, higher is worse: reversed to 4 - answer before comparing
FOLLOWUP_MAXIMUM = 4.0
CONCERN_BELOW = 2.5
"""A follow-up domain mean below this (on 0-4: under halfway between "partly" and "mostly true") is a need.

Provisional, like the items themselves (``alliance-followup`` is not yet validated).
"""
# A stressful event reported without an answer on how much it gets in the way: a middling concern.
_EVENT_ONLY_LEVEL = 2.0

Fail = Callable[[str, str], DefinitionError]
_YEAR = re.compile(r"\((?:19|20)\d\d\)")

# Relationship check-in (alliance-client) item domains -> suggestion domains; "overall" targets no domain.
CHECKIN_DOMAINS: Mapping[str, str] = {
    "bond": "bond",
    "empathy": "bond",
    "respect": "respect",
    "goals": "goals",
    "tasks": "tasks",
    "cultural-respect": "cultural-respect",
    "safety-boundaries": "safety",
}


@dataclass(frozen=True)
class Reference:
    """One published source: its key in ``suggestions.yaml`` and the full citation."""

    key: str
    citation: str


@dataclass(frozen=True)
class Suggestion:
    """One repair suggestion and when it applies (any one of its domains, statuses or follow-up needs)."""

    id: str
    title: str
    text: str
    domains: frozenset[str]
    statuses: frozenset[str]
    followup: frozenset[str]
    references: tuple[Reference, ...]


# --- loading ----------------------------------------------------------------------------------------------------


def parse_suggestions(data: object, *, source: str) -> tuple[Suggestion, ...]:
    """Check parsed ``suggestions.yaml`` content and build the suggestions, in file order.

    A problem raises ``DefinitionError`` naming ``source``, the entry (index and id) and the field, e.g.
    ``suggestions.yaml: suggestions[3] (revisit-goals).when.domains[0]: unknown domain 'goal' (known: ...)``.
    """

    def fail(path: str, message: str) -> DefinitionError:
        return DefinitionError(f"{source}: {path}: {message}")

    if not isinstance(data, Mapping) or set(data) != {"suggestions", "references"}:
        raise fail("$", "must be a mapping with exactly the keys 'suggestions' and 'references'")
    references = _references(data["references"], fail)
    entries = data["suggestions"]
    if not isinstance(entries, list) or not entries:
        raise fail("suggestions", "must be a non-empty list")
    built: list[Suggestion] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        where = f"suggestions[{index}]"
        if not isinstance(entry, Mapping):
            raise fail(where, "must be a mapping")
        if isinstance(entry.get("id"), str):
            where = f"{where} ({entry['id']})"
        suggestion = _suggestion(entry, references, where=where, fail=fail)
        if suggestion.id in seen:
            raise fail(f"{where}.id", f"id {suggestion.id!r} appears twice")
        seen.add(suggestion.id)
        built.append(suggestion)
    return tuple(built)


def _references(raw: object, fail: Fail) -> dict[str, Reference]:
    if not isinstance(raw, Mapping) or not raw:
        raise fail("references", "must be a non-empty mapping of key to full citation")
    table = {}
    for key, citation in raw.items():
        year = _YEAR.search(citation) if isinstance(citation, str) else None
        if not isinstance(citation, str) or year is None or len(citation[year.end() :].split()) < 3:
            raise fail(f"references.{key}", "must be a full citation: authors (year). title. source")
        table[str(key)] = Reference(key=str(key), citation=" ".join(citation.split()))
    return table


def _suggestion(entry: Mapping[str, Any], references: Mapping[str, Reference], *, where: str, fail: Fail) -> Suggestion:
    allowed = {"id", "title", "text", "when", "references"}
    extra = sorted(set(entry) - allowed)
    if extra:
        raise fail(f"{where}.{extra[0]}", f"unknown field (fields: {', '.join(sorted(allowed))})")
    for field in ("id", "title", "text"):
        value = entry.get(field)
        if not isinstance(value, str) or not value.strip():
            raise fail(f"{where}.{field}", "missing or empty")
    if not all(part.isalnum() and part.islower() for part in entry["id"].split("-")):
        raise fail(f"{where}.id", f"{entry['id']!r} is not lower-case words joined by '-'")
    sentences = _sentences(entry["text"])
    if not 2 <= sentences <= 4:
        raise fail(f"{where}.text", f"should be 2 to 4 sentences, found {sentences}")
    when = entry.get("when")
    if not isinstance(when, Mapping) or not when:
        raise fail(f"{where}.when", "missing: say which domains, statuses or follow-up needs it applies to")
    conditions: dict[str, frozenset[str]] = {}
    for key, known, noun in (
        ("domains", DOMAINS, "domain"),
        ("statuses", STATUSES, "status"),
        ("followup", NEEDS, "need"),
    ):
        values = when.get(key, [])
        if not isinstance(values, list):
            raise fail(f"{where}.when.{key}", "must be a list")
        for position, value in enumerate(values):
            if value not in known:
                raise fail(f"{where}.when.{key}[{position}]", f"unknown {noun} {value!r} (known: {', '.join(known)})")
        conditions[key] = frozenset(values)
    extra = sorted(set(when) - set(conditions))
    if extra:
        raise fail(f"{where}.when.{extra[0]}", "unknown condition (conditions: domains, statuses, followup)")
    if not any(conditions.values()):
        raise fail(f"{where}.when", "names no domain, status or follow-up need: it would never apply")
    keys = entry.get("references")
    if not isinstance(keys, list) or not keys:
        raise fail(f"{where}.references", "every suggestion needs at least one reference")
    for position, key in enumerate(keys):
        if key not in references:
            raise fail(f"{where}.references[{position}]", f"unknown reference {key!r} (define it under references)")
    return Suggestion(
        id=entry["id"],
        title=" ".join(entry["title"].split()),
        text=" ".join(entry["text"].split()),
        domains=conditions["domains"],
        statuses=conditions["statuses"],
        followup=conditions["followup"],
        references=tuple(references[key] for key in keys),
    )


def _sentences(text: str) -> int:
    """Count sentences: full stops, question and exclamation marks followed by a space or the end."""
    flat = " ".join(text.split()) + " "
    return sum(flat.count(mark + " ") + flat.count(mark + '" ') for mark in ".?!")


def load_suggestions(text: str, *, source: str) -> tuple[Suggestion, ...]:
    """Parse YAML ``text`` (named ``source`` in errors) and check it."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DefinitionError(f"{source}: not valid YAML ({' '.join(str(exc).split())})") from None
    return parse_suggestions(data, source=source)


@functools.cache
def bundled_suggestions() -> tuple[Suggestion, ...]:
    """Return the suggestions shipped in ``suggestions.yaml`` (read and checked once per process)."""
    text = resources.files("alliance.clinic.support").joinpath("suggestions.yaml").read_text("utf-8")
    return load_suggestions(text, source="suggestions.yaml")


# --- what the client's answers show --------------------------------------------------------------------------------


def followup_needs(answers: Mapping[str, float | None] | None) -> tuple[str, ...]:
    """Return the needs the follow-up ``answers`` show, most pressing (lowest domain mean) first.

    A need is a domain of ``alliance-followup`` whose mean of the answered items is below :data:`CONCERN_BELOW`
    (0-4 scale). A life event is a need when the client reported a stressful event, or when what is going on
    makes it hard to focus on therapy (``strain`` above 1.5, i.e. "partly true" or more). Ties keep the order
    of :data:`NEEDS`.
    """
    if not answers:
        return ()
    levels: dict[str, float] = {}
    for need, items in NEED_ITEMS.items():
        given = [float(v) for v in (answers.get(item) for item in items) if v is not None and not _nan(v)]
        if given and sum(given) / len(given) < CONCERN_BELOW:
            levels[need] = sum(given) / len(given)
    event, strain = answers.get(LIFE_EVENT_ITEM), answers.get(LIFE_STRAIN_ITEM)
    room = None if strain is None or _nan(strain) else FOLLOWUP_MAXIMUM - float(strain)
    reported = event is not None and not _nan(event) and float(event) >= 1
    if reported or (room is not None and room < CONCERN_BELOW):
        levels["life-event"] = room if room is not None else _EVENT_ONLY_LEVEL
    return tuple(sorted(levels, key=lambda need: (levels[need], NEEDS.index(need))))


def strained_domains(
    instrument: Instrument,
    latest: Mapping[str, float | None],
    earlier: Sequence[Mapping[str, float | None]] = (),
    *,
    below: float = 7.0,
    drop: float = 2.0,
) -> frozenset[str]:
    """Return the relationship domains in strain in the latest relationship check-in (``alliance-client``).

    An item is in strain when its answer is below ``below`` (default 7 on the 0-10 items, clearly under the
    provisional cut-off of 8 for the mean) or at least ``drop`` points (default 2) below the client's own mean of
    that item in ``earlier`` check-ins. Item domains map to suggestion domains (empathy counts as bond; the overall
    item targets none). Provisional, until the rupture detectors report the domain of each rupture.
    """
    strained = set()
    for item in instrument.items:
        domain = CHECKIN_DOMAINS.get(item.domain or "")
        value = latest.get(item.id)
        if domain is None or value is None or _nan(value):
            continue
        before = [float(v) for v in (answers.get(item.id) for answers in earlier) if v is not None and not _nan(v)]
        fell = bool(before) and sum(before) / len(before) - float(value) >= drop
        if float(value) < below or fell:
            strained.add(domain)
    return frozenset(strained)


def _nan(value: object) -> bool:
    return isinstance(value, float) and math.isnan(value)


# --- ranking ----------------------------------------------------------------------------------------------------


def suggest(
    domains: Iterable[str],
    statuses: Iterable[str],
    followup: Mapping[str, float | None] | None = None,
    *,
    suggestions: Sequence[Suggestion] | None = None,
) -> list[Suggestion]:
    """Return the suggestions that apply, most specific first.

    Parameters
    ----------
    domains:
        Relationship domains in strain (:data:`DOMAINS`), e.g. from :func:`strained_domains`.
    statuses:
        The client's statuses (:data:`STATUSES`): ``rupture`` and/or ``not-on-track``.
    followup:
        The client's answers to the follow-up questionnaire (item id -> value), or None when not answered.
    suggestions:
        The suggestions to choose from; by default :func:`bundled_suggestions`.

    Notes
    -----
    A suggestion applies when one of its domains, statuses or follow-up needs holds. Ranking, in order: those
    matching a need from the client's own follow-up answers first (the most pressing need first, see
    :func:`followup_needs`); then the share of the suggestion's domains that are in strain (a suggestion aimed at
    exactly this domain before a general one); then the share of its statuses that hold; then the order of the
    file, which puts the general first steps (talking about the relationship) before the narrower ones.
    """
    pool = bundled_suggestions() if suggestions is None else tuple(suggestions)
    strained, current = frozenset(domains), frozenset(statuses)
    needs = followup_needs(followup)

    def key(position: int) -> tuple[int, int, float, float, int]:
        candidate = pool[position]
        hits = [needs.index(need) for need in candidate.followup if need in needs]
        domain_share = len(candidate.domains & strained) / len(candidate.domains) if candidate.domains else 0.0
        status_share = len(candidate.statuses & current) / len(candidate.statuses) if candidate.statuses else 0.0
        return (0 if hits else 1, min(hits, default=0), -domain_share, -status_share, position)

    applicable = [
        position
        for position, candidate in enumerate(pool)
        if candidate.domains & strained or candidate.statuses & current or candidate.followup & set(needs)
    ]
    return [pool[position] for position in sorted(applicable, key=key)]


def matched(
    suggestion: Suggestion,
    *,
    domains: Iterable[str],
    statuses: Iterable[str],
    needs: Iterable[str],
) -> tuple[str, ...]:
    """Return, in words, why ``suggestion`` applies: the follow-up needs, domains and statuses it matches."""
    return (
        *(NEED_LABELS[need] for need in NEEDS if need in suggestion.followup and need in set(needs)),
        *(DOMAIN_LABELS[domain] for domain in DOMAINS if domain in suggestion.domains and domain in set(domains)),
        *(STATUS_LABELS[status] for status in STATUSES if status in suggestion.statuses and status in set(statuses)),
    )
