"""Instruments as data: definitions (bundled YAML and a site's own), their checks, and scoring."""

from __future__ import annotations

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
from alliance.instruments.registry import (
    ENVIRONMENT_VARIABLE,
    Registry,
    UnknownInstrumentError,
    bundled_registry,
    load_definition,
    load_registry,
    parse_definition,
    registry_from_environment,
)
from alliance.instruments.scoring import (
    Score,
    Status,
    risk_flags,
    score_frame,
    score_one,
    severity_of,
    validate_answers,
)

__all__ = [
    "ENVIRONMENT_VARIABLE",
    "Band",
    "Instrument",
    "Item",
    "Licence",
    "MissingDataRule",
    "Option",
    "Registry",
    "RiskRule",
    "Scale",
    "Score",
    "Status",
    "Text",
    "UnknownInstrumentError",
    "bundled_registry",
    "load_definition",
    "load_registry",
    "parse_definition",
    "registry_from_environment",
    "risk_flags",
    "score_frame",
    "score_one",
    "severity_of",
    "validate_answers",
]
