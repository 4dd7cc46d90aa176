"""Oracle tests for the statistics that finish each metric (published examples and hand-computed cases)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from alliance.analytics.statistics import fisher_interval, mean_interval, newcombe_difference, oneway_icc, within_slope

# Shrout & Fleiss (1979), Table 2: 6 targets (rows) rated by 4 judges.
SHROUT_FLEISS = np.array([[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]], float)


def _icc_of(groups: list[np.ndarray]) -> tuple[float, float, float]:
    sums = np.array([g.sum() for g in groups])
    sizes = np.array([len(g) for g in groups], float)
    squares = sum((g**2).sum() for g in groups)
    group_squares = (sums**2 / sizes).sum()
    icc, low, high = oneway_icc(len(groups), sizes.sum(), sums.sum(), squares, group_squares, (sizes**2).sum())
    return float(icc), float(low), float(high)


def test_icc_reproduces_shrout_fleiss_icc_1_1_and_its_interval() -> None:
    # Published: ICC(1,1) = .17 (BMS 11.24, WMS 6.26); psych::ICC gives the F-based interval -0.13 to 0.72.
    icc, low, high = _icc_of(list(SHROUT_FLEISS))
    assert icc == pytest.approx((11.2417 - 6.2639) / (11.2417 + 3 * 6.2639), abs=1e-4)
    assert round(icc, 2) == 0.17
    assert low == pytest.approx(-0.133, abs=1e-3)
    assert high == pytest.approx(0.723, abs=1e-3)


def test_icc_of_unequal_groups_matches_hand_computed_anova() -> None:
    # Groups {1,2,3} and {7,9}: N=5, k=2, grand mean 4.4; SSB = 3*(2-4.4)^2 + 2*(8-4.4)^2 = 43.2; SSW = 2 + 2 = 4.
    # MSB = 43.2, MSW = 4/3, n0 = (5 - 13/5)/1 = 2.4; ICC = (43.2 - 4/3) / (43.2 + 1.4 * 4/3).
    icc, _, _ = _icc_of([np.array([1.0, 2.0, 3.0]), np.array([7.0, 9.0])])
    assert icc == pytest.approx((43.2 - 4 / 3) / (43.2 + 1.4 * 4 / 3))


def test_icc_needs_two_groups() -> None:
    icc, low, high = _icc_of([np.array([1.0, 2.0, 3.0])])
    assert np.isnan(icc) and np.isnan(low) and np.isnan(high)


def test_newcombe_reproduces_the_published_example() -> None:
    # Newcombe (1998), Table II example (a): 56/70 - 48/80, method 10: 0.0524 to 0.3339.
    d, low, high = newcombe_difference(56, 70, 48, 80)
    assert float(d) == pytest.approx(0.2)
    assert float(low) == pytest.approx(0.0524, abs=1e-4)
    assert float(high) == pytest.approx(0.3339, abs=1e-4)


def test_fisher_interval_hand_computed() -> None:
    # r = .5, n = 28: z = atanh(.5) = 0.549306, SE = 1/5; tanh(0.549306 -+ 1.959964 * 0.2).
    low, high = fisher_interval(0.5, 28)
    assert float(low) == pytest.approx(np.tanh(0.5493061 - 0.3919928), abs=1e-6)
    assert float(high) == pytest.approx(np.tanh(0.5493061 + 0.3919928), abs=1e-6)
    assert np.isnan(fisher_interval(0.5, 3)[0])


def test_mean_interval_is_student_t() -> None:
    low, high = mean_interval(10.0, 2.0, 16)
    half = stats.t.ppf(0.975, 15) * 2.0 / 4.0
    assert (float(low), float(high)) == pytest.approx((10 - half, 10 + half))


def test_within_slope_equals_least_squares_with_one_dummy_per_client() -> None:
    rng = np.random.default_rng(3)
    client = np.repeat(np.arange(6), [3, 4, 5, 3, 6, 4])
    x = rng.normal(7, 1, client.size) + client
    y = -0.4 * x + 2.0 * client + rng.normal(0, 1, client.size)
    dummies = (client[:, None] == np.arange(6)[None, :]).astype(float)
    design = np.column_stack([x, dummies])
    coef, residual, *_ = np.linalg.lstsq(design, y, rcond=None)
    df = client.size - 6 - 1
    sigma2 = float(residual[0]) / df
    se = np.sqrt(sigma2 * np.linalg.inv(design.T @ design)[0, 0])
    xd = x - np.array([x[client == c].mean() for c in client])
    yd = y - np.array([y[client == c].mean() for c in client])
    slope, got_se, low, high = within_slope(client.size, 6, (xd * xd).sum(), (xd * yd).sum(), (yd * yd).sum())
    assert float(slope) == pytest.approx(coef[0])
    assert float(got_se) == pytest.approx(se)
    t = stats.t.ppf(0.975, df)
    assert (float(low), float(high)) == pytest.approx((coef[0] - t * se, coef[0] + t * se))
