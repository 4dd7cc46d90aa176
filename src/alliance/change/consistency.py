"""Internal consistency of a scale: Cronbach's alpha (with Feldt's interval) and McDonald's omega total.

Used to report how reliable a practice's own questionnaire is (for instance our unvalidated check-in),
and so which reliability to feed into reliable change.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import least_squares
from scipy.stats import f as f_dist

__all__ = ["Alpha", "Omega", "cronbach_alpha", "mcdonald_omega", "omega_from_correlation"]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class Alpha:
    """Cronbach's alpha of a set of items with its confidence interval."""

    value: float
    #: Feldt's interval.
    ci_low: float
    ci_high: float
    confidence: float
    #: Alpha of the standardised items, k * mean(r) / (1 + (k - 1) * mean(r)).
    standardized: float
    #: Respondents used (complete rows) and number of items.
    n: int
    k: int


@dataclass(frozen=True)
class Omega:
    """McDonald's omega total from a one-factor model of the item correlations."""

    total: float
    loadings: tuple[float, ...]
    uniquenesses: tuple[float, ...]
    #: Respondents used (complete rows), or None when computed from a correlation matrix.
    n: int | None
    k: int


def cronbach_alpha(items: pd.DataFrame | ArrayLike, *, confidence: float = 0.95) -> Alpha:
    r"""Return Cronbach's alpha of ``items`` (rows: respondents, columns: items) and Feldt's interval.

    Rows with any missing item are left out (listwise deletion).

    Notes
    -----
    :math:`\alpha = \frac{k}{k-1}\left(1 - \frac{\sum_i s_i^2}{s_X^2}\right)` with :math:`s_i^2` the item
    variances and :math:`s_X^2` the variance of the total score. Feldt's interval (Feldt, Woodruff &
    Salih, 1987): :math:`1 - (1-\alpha) F_{1-\gamma/2}` to :math:`1 - (1-\alpha) F_{\gamma/2}` with
    :math:`F` quantiles on :math:`n-1` and :math:`(n-1)(k-1)` degrees of freedom, where
    :math:`F_{1-\gamma/2}` is the upper quantile.

    References
    ----------
    .. [1] Cronbach, L. J. (1951). Coefficient alpha and the internal structure of tests.
       *Psychometrika*, 16(3), 297-334.
    .. [2] Feldt, L. S., Woodruff, D. J., & Salih, F. A. (1987). Statistical inference for coefficient
       alpha. *Applied Psychological Measurement*, 11(1), 93-103.
    """
    x = _complete_rows(items)
    n, k = x.shape
    if k < 2 or n < 2:
        raise ValueError(f"alpha needs at least 2 items and 2 complete rows, got {k} items and {n} rows")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie strictly between 0 and 1, not {confidence!r}")
    cov = np.cov(x, rowvar=False, ddof=1)
    value = _alpha_from_covariance(cov)
    sd = np.sqrt(np.diag(cov))
    corr = cov / np.outer(sd, sd)
    mean_r = float((corr.sum() - k) / (k * (k - 1)))
    tail = (1.0 - confidence) / 2.0
    df1, df2 = n - 1, (n - 1) * (k - 1)
    return Alpha(
        value=value,
        ci_low=float(1.0 - (1.0 - value) * f_dist.isf(tail, df1, df2)),
        ci_high=float(1.0 - (1.0 - value) * f_dist.isf(1.0 - tail, df1, df2)),
        confidence=confidence,
        standardized=k * mean_r / (1.0 + (k - 1) * mean_r),
        n=n,
        k=k,
    )


def mcdonald_omega(items: pd.DataFrame | ArrayLike) -> Omega:
    """Return McDonald's omega total of ``items`` from a one-factor minimum-residual model.

    Rows with any missing item are left out (listwise deletion); the model is fitted to the Pearson
    correlations of the items, as ``psych::omega`` does by default. See :func:`omega_from_correlation`.
    """
    x = _complete_rows(items)
    n, k = x.shape
    if k < 3 or n < 2:
        raise ValueError(f"omega needs at least 3 items and 2 complete rows, got {k} items and {n} rows")
    result = omega_from_correlation(np.corrcoef(x, rowvar=False))
    return Omega(result.total, result.loadings, result.uniquenesses, n=n, k=k)


def omega_from_correlation(correlation: ArrayLike) -> Omega:
    r"""Return McDonald's omega total from an item correlation matrix.

    A single common factor is fitted by minimum residual (unweighted least squares on the
    off-diagonal correlations, the default ``fm = "minres"`` of ``psych::fa``), then

    .. math:: \omega_t = 1 - \frac{\sum_i (1 - \lambda_i^2)}{V_t}

    with :math:`\lambda_i` the loadings and :math:`V_t = \sum_{ij} r_{ij}` the variance of the sum of the
    standardised items, as ``psych::omega(m, nfactors = 1)`` computes ``omega.tot``. When the model
    fits exactly this equals :math:`(\sum\lambda_i)^2 / [(\sum\lambda_i)^2 + \sum(1-\lambda_i^2)]`.
    Loadings are signed so that their sum is positive.

    References
    ----------
    .. [1] McDonald, R. P. (1999). *Test theory: A unified treatment*. Erlbaum.
    .. [2] Revelle, W., & Zinbarg, R. E. (2009). Coefficients alpha, beta, omega, and the glb:
       Comments on Sijtsma. *Psychometrika*, 74(1), 145-154.
    .. [3] Harman, H. H., & Jones, W. H. (1966). Factor analysis by minimizing residuals (minres).
       *Psychometrika*, 31(3), 351-368.
    """
    r = np.asarray(correlation, dtype=np.float64)
    if r.ndim != 2 or r.shape[0] != r.shape[1] or r.shape[0] < 3:
        raise ValueError("a square correlation matrix of at least 3 items is needed")
    if not np.allclose(np.diag(r), 1.0) or not np.allclose(r, r.T):
        raise ValueError("not a correlation matrix (symmetric, ones on the diagonal)")
    loadings = _minres_one_factor(r)
    uniquenesses = 1.0 - loadings**2
    total = 1.0 - uniquenesses.sum() / r.sum()
    return Omega(
        total=float(total),
        loadings=tuple(float(v) for v in loadings),
        uniquenesses=tuple(float(v) for v in uniquenesses),
        n=None,
        k=r.shape[0],
    )


def _alpha_from_covariance(cov: FloatArray) -> float:
    k = cov.shape[0]
    return float(k / (k - 1) * (1.0 - np.trace(cov) / cov.sum()))


def _complete_rows(items: pd.DataFrame | ArrayLike) -> FloatArray:
    x = np.asarray(items, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError("items must be a 2-D table: rows are respondents, columns are items")
    return x[~np.isnan(x).any(axis=1)]


def _minres_one_factor(r: FloatArray) -> FloatArray:
    """Loadings of one factor minimising the squared off-diagonal residuals of ``r``."""
    k = r.shape[0]
    upper = np.triu_indices(k, 1)
    # Start from one principal-axis step with squared multiple correlations as communalities.
    reduced = r.copy()
    try:
        smc = 1.0 - 1.0 / np.diag(np.linalg.inv(r))
    except np.linalg.LinAlgError:
        smc = np.max(np.abs(r - np.eye(k)), axis=1)
    np.fill_diagonal(reduced, smc)
    values, vectors = np.linalg.eigh(reduced)
    start = vectors[:, -1] * np.sqrt(max(values[-1], 1e-6))

    def residuals(lam: FloatArray) -> FloatArray:
        return np.asarray(r[upper] - lam[upper[0]] * lam[upper[1]], dtype=np.float64)

    def jacobian(lam: FloatArray) -> FloatArray:
        jac = np.zeros((upper[0].size, k))
        rows = np.arange(upper[0].size)
        jac[rows, upper[0]] = -lam[upper[1]]
        jac[rows, upper[1]] = -lam[upper[0]]
        return jac

    fit = least_squares(residuals, start, jac=jacobian, method="lm", xtol=1e-15, ftol=1e-15, gtol=1e-15)
    loadings = np.asarray(fit.x, dtype=np.float64)
    return loadings if loadings.sum() >= 0 else -loadings
