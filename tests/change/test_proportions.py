"""Wilson intervals equal the published values (Newcombe 1998, Table II, method 3)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from alliance.change.proportions import wilson_interval


@pytest.mark.parametrize(
    ("x", "n", "low", "high"),
    [(81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0, 0.1611), (1, 29, 0.0061, 0.1718)],
)
def test_newcombe_examples(x: int, n: int, low: float, high: float) -> None:
    lo, hi = wilson_interval(x, n)
    assert float(lo) == pytest.approx(low, abs=5e-5)
    assert float(hi) == pytest.approx(high, abs=5e-5)


def test_no_trials_gives_no_interval() -> None:
    lo, hi = wilson_interval([0, 3], [0, 4])
    assert np.isnan(lo[0]) and np.isnan(hi[0])
    assert 0 < lo[1] < 0.75 < hi[1] <= 1


@given(st.integers(1, 10_000), st.data())
def test_interval_contains_the_estimate(n: int, data: st.DataObject) -> None:
    x = data.draw(st.integers(0, n))
    lo, hi = wilson_interval(x, n)
    assert float(lo) <= x / n <= float(hi)
