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

__all__ = [
    "ChangeSoFar",
    "DomainGap",
    "MeasureChange",
    "Reason",
    "ReliabilityNorm",
    "Thresholds",
    "attention",
    "change_so_far",
    "rating_gap",
]
