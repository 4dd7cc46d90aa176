"""The order in which ids are reported."""

from __future__ import annotations

import pandas as pd

__all__ = ["natural_key"]


def natural_key(column: pd.Series) -> pd.Series:
    """Sort key for ids: as numbers when every id is a number ("2" before "10"), otherwise as text."""
    numbers = pd.to_numeric(column, errors="coerce")
    return numbers if bool(numbers.notna().all()) else column.astype(str)
