"""Monitoring: which clients need attention now, and why (pure: no framework imports)."""

from alliance.monitoring.attention import (
    ChangeSoFar,
    DomainGap,
    MeasureChange,
    Reason,
    ReliabilityNorm,
    Thresholds,
    attention,
    change_so_far,
    rating_gap,
)
from alliance.monitoring.dropout import DropoutReason, DropoutRisk, DropoutRules, dropout_risk
from alliance.monitoring.evaluate import (
    AppointmentRecord,
    CheckinRecord,
    ClientHistory,
    Finding,
    RuleSettings,
    evaluate,
)
from alliance.monitoring.expected import ExpectedResponse, ModelError
from alliance.monitoring.ruptures import RuptureDetector, domain_ruptures

__all__ = [
    "AppointmentRecord",
    "ChangeSoFar",
    "CheckinRecord",
    "ClientHistory",
    "DomainGap",
    "DropoutReason",
    "DropoutRisk",
    "DropoutRules",
    "ExpectedResponse",
    "Finding",
    "MeasureChange",
    "ModelError",
    "Reason",
    "ReliabilityNorm",
    "RuleSettings",
    "RuptureDetector",
    "Thresholds",
    "attention",
    "change_so_far",
    "domain_ruptures",
    "dropout_risk",
    "evaluate",
    "rating_gap",
]
