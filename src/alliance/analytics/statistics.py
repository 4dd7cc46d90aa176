"""The statistics that finish a metric from its aggregates: intervals, correlations, a within-client slope, the ICC.

The engines (DuckDB, Spark) reduce millions of rows to a few sums per group; these vectorised functions turn those
sums into estimates and intervals, so the same code finishes every engine's result.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import stats

from alliance.change.proportions import wilson_interval

__all__ = [
    "fisher_interval",
    "mean_interval",
    "newcombe_difference",
    "oneway_icc",
    "wilson_interval",
    "within_slope",
]

FloatArray = npt.NDArray[np.float64]


def _z(confidence: float) -> float:
    return float(stats.norm.ppf(0.5 + confidence / 2))


def fisher_interval(r: npt.ArrayLike, n: npt.ArrayLike, *, confidence: float = 0.95) -> tuple[FloatArray, FloatArray]:
    """Confidence interval of a Pearson correlation by Fisher's z: ``tanh(atanh(r) ± z / sqrt(n - 3))``.

    NaN where ``n < 4`` or ``r`` is missing; an ``r`` of ±1 gives the degenerate interval [r, r].

    References
    ----------
    Fisher RA (1921). On the "probable error" of a coefficient of correlation deduced from a small sample.
    *Metron* 1:3-32.
    """
    rr = np.asarray(r, dtype=float)
    nn = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.arctanh(np.clip(rr, -1.0, 1.0))
        half = _z(confidence) / np.sqrt(nn - 3.0)
        low = np.where(nn > 3, np.tanh(z - half), np.nan)
        high = np.where(nn > 3, np.tanh(z + half), np.nan)
    return low, high


def mean_interval(
    mean: npt.ArrayLike, sd: npt.ArrayLike, n: npt.ArrayLike, *, confidence: float = 0.95
) -> tuple[FloatArray, FloatArray]:
    """Student-t interval of a mean from its SD (ddof = 1) and count; NaN where ``n < 2``."""
    m = np.asarray(mean, dtype=float)
    s = np.asarray(sd, dtype=float)
    nn = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        t = stats.t.ppf(0.5 + confidence / 2, np.where(nn > 1, nn - 1, np.nan))
        half = t * s / np.sqrt(nn)
    return np.where(nn > 1, m - half, np.nan), np.where(nn > 1, m + half, np.nan)


def newcombe_difference(
    x1: npt.ArrayLike, n1: npt.ArrayLike, x2: npt.ArrayLike, n2: npt.ArrayLike, *, confidence: float = 0.95
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Difference of two independent proportions ``x1/n1 - x2/n2`` with Newcombe's hybrid score interval.

    Returns ``(difference, low, high)``; NaN where either denominator is 0.

    References
    ----------
    Newcombe RG (1998). Interval estimation for the difference between independent proportions: comparison of
    eleven methods. *Stat Med* 17(8):873-890 (method 10, built from the two Wilson intervals).
    """
    a, na = np.asarray(x1, dtype=float), np.asarray(n1, dtype=float)
    b, nb = np.asarray(x2, dtype=float), np.asarray(n2, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p1, p2 = a / na, b / nb
    l1, u1 = wilson_interval(a, na, confidence=confidence)
    l2, u2 = wilson_interval(b, nb, confidence=confidence)
    d = p1 - p2
    low = d - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    ok = (na > 0) & (nb > 0)
    return np.where(ok, d, np.nan), np.where(ok, low, np.nan), np.where(ok, high, np.nan)


def within_slope(
    n: npt.ArrayLike,
    groups: npt.ArrayLike,
    sxx: npt.ArrayLike,
    sxy: npt.ArrayLike,
    syy: npt.ArrayLike,
    *,
    confidence: float = 0.95,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    r"""Within-client (fixed-effects) regression slope from centred sums, with its standard error and interval.

    The model is :math:`y_{it} = \alpha_i + \beta x_{it} + e_{it}`, one intercept per client. With
    :math:`\tilde x = x - \bar x_i` and :math:`\tilde y = y - \bar y_i` (centred on each client's own mean), the
    sums ``sxx`` = :math:`\sum \tilde x^2`, ``sxy`` = :math:`\sum \tilde x \tilde y` and ``syy`` =
    :math:`\sum \tilde y^2` give :math:`\hat\beta = S_{xy}/S_{xx}`, residual variance
    :math:`s^2 = (S_{yy} - \hat\beta S_{xy}) / (n - g - 1)` and :math:`SE = \sqrt{s^2 / S_{xx}}`, exactly as
    least squares with one dummy per client (``groups`` = g clients, ``n`` observations). The interval uses
    Student's t with n - g - 1 degrees of freedom.

    Returns ``(slope, se, low, high)``; NaN where the degrees of freedom are below 1 or ``sxx`` is 0.

    References
    ----------
    Wooldridge JM (2010). *Econometric Analysis of Cross Section and Panel Data*, 2nd ed., ch. 10 (the fixed
    effects estimator). Falkenström F, Granström F, Holmqvist R (2013). Therapeutic alliance predicts symptomatic
    improvement session by session. *J Couns Psychol* 60(3):317-328.
    """
    nn, g = np.asarray(n, dtype=float), np.asarray(groups, dtype=float)
    xx, xy, yy = (np.asarray(v, dtype=float) for v in (sxx, sxy, syy))
    df = nn - g - 1.0
    ok = (df >= 1) & (xx > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = xy / xx
        residual = np.clip(yy - slope * xy, 0.0, None) / df
        se = np.sqrt(residual / xx)
        t = stats.t.ppf(0.5 + confidence / 2, np.where(ok, df, np.nan))
    return (
        np.where(ok, slope, np.nan),
        np.where(ok, se, np.nan),
        np.where(ok, slope - t * se, np.nan),
        np.where(ok, slope + t * se, np.nan),
    )


def oneway_icc(
    groups: npt.ArrayLike,
    n: npt.ArrayLike,
    total: npt.ArrayLike,
    squares: npt.ArrayLike,
    group_squares: npt.ArrayLike,
    n_squared: npt.ArrayLike,
    *,
    confidence: float = 0.95,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    r"""Intraclass correlation of a one-way random-intercept model (ANOVA estimator) with its F-based interval.

    The model is :math:`y_{ij} = \mu + u_j + e_{ij}` with :math:`u_j \sim N(0, \sigma_u^2)` for group (therapist)
    j; the ICC :math:`\sigma_u^2 / (\sigma_u^2 + \sigma_e^2)` is the share of outcome variance between groups.
    From aggregates over k groups with :math:`n_j` members, sum :math:`S_j` and sum of squares:

    - ``groups`` = k, ``n`` = :math:`N = \sum n_j`, ``total`` = :math:`\sum S_j`, ``squares`` =
      :math:`\sum y^2`, ``group_squares`` = :math:`\sum S_j^2 / n_j`, ``n_squared`` = :math:`\sum n_j^2`;
    - :math:`MSB = (\sum S_j^2/n_j - (\sum S_j)^2/N)/(k-1)`, :math:`MSW = (\sum y^2 - \sum S_j^2/n_j)/(N-k)`,
      :math:`n_0 = (N - \sum n_j^2 / N)/(k-1)`;
    - :math:`ICC = (MSB - MSW) / (MSB + (n_0 - 1) MSW)` (can be below 0 when groups differ less than chance);
    - interval: :math:`F = MSB/MSW`, :math:`F_L = F / F_{1-\alpha/2}(k-1, N-k)`,
      :math:`F_U = F \cdot F_{1-\alpha/2}(N-k, k-1)`, bounds :math:`(F_{L,U} - 1)/(F_{L,U} + n_0 - 1)`.

    With equal group sizes this is Shrout & Fleiss's ICC(1,1) and its interval; with unequal sizes n0 replaces
    the common size (Searle 1971). Returns ``(icc, low, high)``; NaN where k < 2, N <= k or MSW is 0.

    References
    ----------
    Shrout PE, Fleiss JL (1979). Intraclass correlations: uses in assessing rater reliability. *Psychol Bull*
    86(2):420-428 (Table 2 data; ICC(1,1) = .17). Searle SR (1971). *Linear Models*, ch. 9. Baldwin SA, Imel ZE
    (2013). Therapist effects: findings and methods. In Lambert MJ (ed.), *Bergin and Garfield's Handbook of
    Psychotherapy and Behavior Change*, 6th ed., 258-297.
    """
    k = np.asarray(groups, dtype=float)
    big_n = np.asarray(n, dtype=float)
    s, q = np.asarray(total, dtype=float), np.asarray(squares, dtype=float)
    gs, n2 = np.asarray(group_squares, dtype=float), np.asarray(n_squared, dtype=float)
    alpha = 1.0 - confidence
    with np.errstate(invalid="ignore", divide="ignore"):
        ok = (k >= 2) & (big_n > k)
        df1 = np.where(ok, k - 1.0, np.nan)
        df2 = np.where(ok, big_n - k, np.nan)
        msb = np.clip(gs - s * s / big_n, 0.0, None) / df1
        msw = np.clip(q - gs, 0.0, None) / df2
        n0 = (big_n - n2 / big_n) / df1
        icc = (msb - msw) / (msb + (n0 - 1.0) * msw)
        f = msb / msw
        f_low = f / stats.f.ppf(1 - alpha / 2, df1, df2)
        f_high = f * stats.f.ppf(1 - alpha / 2, df2, df1)
        low = (f_low - 1.0) / (f_low + n0 - 1.0)
        high = (f_high - 1.0) / (f_high + n0 - 1.0)
    ok = ok & (msw > 0)
    return np.where(ok, icc, np.nan), np.where(ok, low, np.nan), np.where(ok, high, np.nan)
