"""Internal consistency: Cronbach's alpha against published values; McDonald's omega against exact cases.

Alpha oracles: the pingouin documentation (its ``cronbach_alpha`` dataset, 15 respondents x 10 items:
alpha 0.591719, Feldt 95% CI [0.195, 0.840]; pingouin states these were checked against R psych) and the
R package performance documentation (``cronbachs_alpha(mtcars[, c("cyl", "gear", "carb", "hp")])`` =
0.09463206). No small data set with a published one-factor omega total was found, so omega is checked on
cases whose answer follows from the formula by hand: a correlation matrix generated exactly by one factor,
and three items, where the one-factor model is just identified and the loadings have a closed form.
"""

from __future__ import annotations

from random import Random

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from alliance.change.consistency import cronbach_alpha, mcdonald_omega, omega_from_correlation

# pingouin.read_dataset("cronbach_alpha"): scores of respondents 0..14 on items Q1..Q10.
PINGOUIN_ITEMS = np.array(
    [
        [3, 5, 7, 2, 6, 1, 4, 2, 6, 5, 4, 4, 5, 6, 4],
        [2, 4, 3, 4, 5, 2, 3, 4, 5, 4, 3, 2, 5, 5, 3],
        [4, 6, 5, 3, 6, 3, 5, 4, 5, 6, 5, 3, 6, 5, 5],
        [1, 3, 5, 3, 5, 4, 3, 3, 5, 4, 2, 2, 2, 4, 5],
        [4, 5, 6, 2, 4, 2, 5, 7, 1, 3, 5, 5, 3, 2, 3],
        [5, 1, 4, 2, 4, 5, 2, 2, 6, 5, 3, 3, 3, 2, 1],
        [1, 2, 3, 2, 4, 2, 1, 2, 5, 3, 2, 4, 2, 1, 3],
        [4, 5, 3, 6, 6, 3, 2, 4, 2, 1, 3, 2, 4, 4, 2],
        [3, 5, 6, 6, 7, 5, 4, 6, 3, 7, 4, 3, 4, 6, 3],
        [2, 5, 5, 3, 5, 2, 3, 5, 2, 2, 1, 4, 5, 5, 4],
    ],
    dtype=float,
).T

# R datasets::mtcars (Motor Trend, 1974), columns cyl, gear, carb, hp, in the data set's row order.
MTCARS = np.array(
    [
        [6, 4, 4, 110], [6, 4, 4, 110], [4, 4, 1, 93], [6, 3, 1, 110], [8, 3, 2, 175], [6, 3, 1, 105],
        [8, 3, 4, 245], [4, 4, 2, 62], [4, 4, 2, 95], [6, 4, 4, 123], [6, 4, 4, 123], [8, 3, 3, 180],
        [8, 3, 3, 180], [8, 3, 3, 180], [8, 3, 4, 205], [8, 3, 4, 215], [8, 3, 4, 230], [4, 4, 1, 66],
        [4, 4, 2, 52], [4, 4, 1, 65], [4, 3, 1, 97], [8, 3, 2, 150], [8, 3, 2, 150], [8, 3, 4, 245],
        [8, 3, 2, 175], [4, 4, 1, 66], [4, 5, 2, 91], [4, 5, 2, 113], [8, 5, 4, 264], [6, 5, 6, 175],
        [8, 5, 8, 335], [4, 4, 2, 109],
    ],
    dtype=float,
)  # fmt: skip


# --- Alpha: published values --------------------------------------------------------------------------------


def test_alpha_and_feldt_interval_equal_the_pingouin_documentation() -> None:
    alpha = cronbach_alpha(PINGOUIN_ITEMS)

    assert round(alpha.value, 6) == 0.591719
    assert (round(alpha.ci_low, 3), round(alpha.ci_high, 3)) == (0.195, 0.840)
    assert (alpha.n, alpha.k) == (15, 10)


def test_alpha_equals_the_performance_documentation_on_mtcars() -> None:
    assert cronbach_alpha(MTCARS).value == pytest.approx(0.09463206, abs=5e-9)


def test_rows_with_a_missing_item_are_left_out() -> None:
    with_gap = np.vstack([PINGOUIN_ITEMS, [np.nan] + [1.0] * 9])

    alpha = cronbach_alpha(with_gap)

    assert alpha.n == 15
    assert alpha.value == pytest.approx(cronbach_alpha(PINGOUIN_ITEMS).value, abs=1e-15)


def test_a_wider_confidence_gives_a_wider_interval() -> None:
    narrow, wide = cronbach_alpha(PINGOUIN_ITEMS, confidence=0.80), cronbach_alpha(PINGOUIN_ITEMS, confidence=0.99)

    assert wide.ci_low < narrow.ci_low < narrow.value < narrow.ci_high < wide.ci_high


# --- Omega: exact cases -------------------------------------------------------------------------------------


def test_omega_recovers_an_exact_one_factor_structure() -> None:
    loadings = np.array([0.8, 0.7, 0.6, 0.5, 0.4, 0.3])
    correlation = np.outer(loadings, loadings)
    np.fill_diagonal(correlation, 1.0)
    # By hand: (sum of loadings)^2 = 3.3^2 = 10.89; sum of uniquenesses = 6 - 1.99 = 4.01.
    expected = 10.89 / (10.89 + 4.01)

    omega = omega_from_correlation(correlation)

    np.testing.assert_allclose(omega.loadings, loadings, atol=1e-9)
    assert omega.total == pytest.approx(expected, abs=1e-12)


def test_omega_of_three_items_uses_the_closed_form_loadings() -> None:
    # With three items one factor fits exactly: loading_1 = sqrt(r12 * r13 / r23), and so on.
    items = MTCARS[:, [0, 3, 2]]  # cyl, hp, carb: all positively correlated
    r = np.corrcoef(items, rowvar=False)
    by_hand = np.sqrt([r[0, 1] * r[0, 2] / r[1, 2], r[0, 1] * r[1, 2] / r[0, 2], r[0, 2] * r[1, 2] / r[0, 1]])

    omega = mcdonald_omega(items)

    np.testing.assert_allclose(omega.loadings, by_hand, atol=1e-9)
    assert omega.total == pytest.approx(1 - (1 - by_hand**2).sum() / r.sum(), abs=1e-12)
    assert omega.n == 32


def test_omega_is_at_least_alpha_for_congeneric_items() -> None:
    # Alpha understates reliability when loadings differ (it assumes tau-equivalence).
    rng = np.random.default_rng(2024)
    factor = rng.normal(size=(5000, 1))
    loadings = np.array([0.9, 0.7, 0.5, 0.3])
    items = factor * loadings + rng.normal(size=(5000, 4)) * np.sqrt(1 - loadings**2)

    assert mcdonald_omega(items).total > cronbach_alpha(items).standardized


def test_loadings_are_signed_to_a_positive_sum() -> None:
    loadings = np.array([-0.8, -0.7, -0.6, -0.5])
    correlation = np.outer(loadings, loadings)
    np.fill_diagonal(correlation, 1.0)

    np.testing.assert_allclose(omega_from_correlation(correlation).loadings, -loadings, atol=1e-9)


def test_a_matrix_that_is_not_a_correlation_matrix_is_refused() -> None:
    with pytest.raises(ValueError, match="correlation matrix"):
        omega_from_correlation(np.full((3, 3), 2.0))


# --- Alpha: properties --------------------------------------------------------------------------------------

likert = arrays(
    np.float64,
    st.tuples(st.integers(4, 30), st.integers(2, 7)),
    elements=st.integers(0, 6).map(float),
)


def _usable(x: np.ndarray) -> bool:
    return bool(np.all(x.std(axis=0) > 0) and x.sum(axis=1).std() > 0)


@settings(max_examples=80, deadline=None)
@given(likert)
def test_alpha_of_standardised_items_is_the_spearman_brown_of_the_mean_correlation(x: np.ndarray) -> None:
    assume(_usable(x))
    k = x.shape[1]
    z = (x - x.mean(axis=0)) / x.std(axis=0, ddof=1)
    r = np.corrcoef(x, rowvar=False)
    mean_r = (r.sum() - k) / (k * (k - 1))

    alpha = cronbach_alpha(z)

    assert alpha.value == pytest.approx(k * mean_r / (1 + (k - 1) * mean_r), rel=1e-9, abs=1e-9)
    assert cronbach_alpha(x).standardized == pytest.approx(alpha.value, rel=1e-9, abs=1e-9)


@settings(max_examples=80, deadline=None)
@given(likert, st.randoms(use_true_random=False))
def test_alpha_does_not_depend_on_item_order_and_never_exceeds_one(x: np.ndarray, rnd: Random) -> None:
    assume(_usable(x))
    order = list(range(x.shape[1]))
    rnd.shuffle(order)

    alpha = cronbach_alpha(x).value

    assert cronbach_alpha(x[:, order]).value == pytest.approx(alpha, rel=1e-12, abs=1e-12)
    assert alpha <= 1.0 + 1e-12


def test_parallel_items_reach_the_spearman_brown_value() -> None:
    # Parallel items: one true score plus errors of equal variance, uncorrelated with the true score and
    # with each other *in the sample* (orthonormal columns), so the sample covariance matrix is exactly
    # compound symmetric and alpha must equal k r / (1 + (k - 1) r) with r = a^2 / (a^2 + b^2).
    n, k, a, b = 12, 4, 1.5, 1.0
    rng = np.random.default_rng(3)
    q, _ = np.linalg.qr(np.column_stack([np.ones(n), rng.normal(size=(n, 1 + k))]))
    true, errors = q[:, 1], q[:, 2:]
    items = a * true[:, None] + b * errors
    r = a**2 / (a**2 + b**2)

    cov = np.cov(items, rowvar=False)
    assert np.allclose(cov, cov[0, 1] + np.eye(k) * (cov[0, 0] - cov[0, 1]), atol=1e-14)
    assert cronbach_alpha(items).value == pytest.approx(k * r / (1 + (k - 1) * r), abs=1e-12)
