"""Confidence intervals for proportions (recovery rates and the like)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import stats

__all__ = ["wilson_interval"]


def wilson_interval(
    successes: npt.ArrayLike, trials: npt.ArrayLike, *, confidence: float = 0.95
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Return the Wilson score interval (no continuity correction) for ``successes`` out of ``trials``.

    Vectorised; where ``trials`` is 0 both bounds are NaN.

    References
    ----------
    .. [1] Wilson EB (1927). Probable inference, the law of succession, and statistical inference.
       J Am Stat Assoc 22(158):209-212.
    .. [2] Newcombe RG (1998). Two-sided confidence intervals for the single proportion: comparison of seven
       methods. Stat Med 17(8):857-872 (method 3).
    """
    x = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        p = x / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    # At x = 0 (x = n) the bound is exactly 0 (1); rounding must not put it a hair inside.
    low = np.where(n > 0, np.where(x <= 0, 0.0, np.clip(centre - half, 0.0, 1.0)), np.nan)
    high = np.where(n > 0, np.where(x >= n, 1.0, np.clip(centre + half, 0.0, 1.0)), np.nan)
    return low, high
