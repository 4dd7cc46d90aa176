"""Shared fixtures: the study data beside the checkout (../shared/data), skipped with a reason when absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Return ``../shared/data``; skip when a fresh clone has no study data beside it (CI always has it)."""
    if not SHARED_DATA.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"CI must have the study data at {SHARED_DATA}: golden tests may not be skipped")
        pytest.skip(f"study data not found at {SHARED_DATA} (CI has it beside the checkout)")
    return SHARED_DATA
