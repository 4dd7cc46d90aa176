"""Option types shared by several commands."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["BetterEnd"]


class BetterEnd(StrEnum):
    """Which end of the scale is the good one (``--better``)."""

    LOWER = "lower"
    HIGHER = "higher"
