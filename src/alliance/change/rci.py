"""Reliable change: is a client's pre-post change larger than measurement error alone would make it?

Six methods, each re-implemented from the R package ``clinicalsignificance`` (Claus et al., 2024), whose
results are our oracle: Jacobson-Truax (JT), Gulliksen-Lord-Novick (GLN), Hsu-Linn-Lord (HLL),
Edwards-Nunnally (EN), Nunnally-Kotsch (NK) and Hageman-Arrindell (HA). Every function works on whole
arrays at once; nothing loops over clients.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.stats import norm

__all__ = [
    "METHODS",
    "Better",
    "Method",
    "RciResult",
    "critical_value",
    "direction_of",
    "reliable_change",
]

Method = Literal["jt", "gln", "hll", "en", "nk", "ha"]
Better = Literal["lower", "higher"]
METHODS: tuple[str, ...] = get_args(Method)

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


@dataclass(frozen=True, eq=False)
class RciResult:
    """Reliable change of each client, and the sample values it was computed from.

    ``rci`` keeps the sign of the raw change (post - pre), as the R package does; ``improved`` and
    ``deteriorated`` already account for which direction is better.
    """

    method: Method
    better: Better
    rci: FloatArray
    improved: BoolArray
    deteriorated: BoolArray
    critical_value: float
    reliability: float
    reliability_post: float
    m_pre: float
    sd_pre: float
    m_post: float
    sd_post: float
    se_measurement: float
    #: Reliability of the difference score (HA only; NaN otherwise).
    r_dd: float = float("nan")

    @property
    def unchanged(self) -> BoolArray:
        """Clients whose change is within measurement error."""
        return ~self.improved & ~self.deteriorated

    @property
    def category(self) -> NDArray[np.str_]:
        """``improved``, ``unchanged`` or ``deteriorated`` for each client."""
        out = np.full(self.rci.shape, "unchanged", dtype="<U12")
        out[self.improved] = "improved"
        out[self.deteriorated] = "deteriorated"
        return out


def direction_of(better: Better) -> int:
    """Return +1 when higher scores are better and -1 when lower scores are better."""
    if better == "higher":
        return 1
    if better == "lower":
        return -1
    raise ValueError(f"better must be 'lower' or 'higher', not {better!r}")


def critical_value(method: Method, significance: float = 0.05) -> float:
    """Return the z value an RCI must pass: two-sided, except one-sided for HA.

    Hageman & Arrindell (1999) treat the significance level as the maximum risk of misclassifying a
    client in the direction tested, so the R package uses ``qnorm(1 - alpha)`` for HA (1.645 at
    .05) and ``qnorm(1 - alpha / 2)`` (1.960) for every other method.
    """
    if not 0.0 < significance < 1.0:
        raise ValueError(f"significance must lie strictly between 0 and 1, not {significance!r}")
    tail = significance if method == "ha" else significance / 2.0
    return float(norm.ppf(1.0 - tail))


def reliable_change(
    pre: ArrayLike,
    post: ArrayLike,
    *,
    reliability: float,
    method: Method = "jt",
    better: Better = "lower",
    reliability_post: float | None = None,
    significance: float = 0.05,
    m_pre: float | None = None,
    sd_pre: float | None = None,
    m_post: float | None = None,
    sd_post: float | None = None,
) -> RciResult:
    r"""Compute the reliable change index of each client and whether it is a reliable change.

    Parameters
    ----------
    pre, post:
        Scores before and after treatment, one pair per client (no missing values).
    reliability:
        The instrument's reliability, strictly between 0 and 1 (for NK: the reliability at pre).
    method:
        ``"jt"`` (default), ``"gln"``, ``"hll"``, ``"en"``, ``"nk"`` or ``"ha"``.
    better:
        ``"lower"`` (default) when lower scores mean less distress, else ``"higher"``.
    reliability_post:
        Reliability at post, used by NK only; defaults to ``reliability`` as in the R package.
    significance:
        Significance level (default .05). For HA it is the one-sided risk of misclassification.
    m_pre, sd_pre, m_post, sd_post:
        Means and SDs to use instead of the sample's own (for instance published norms when scoring
        a single client). By default they are the sample mean and SD (``ddof=1``) of ``pre`` and
        ``post``, as in the R package.

    Returns
    -------
    RciResult

    Notes
    -----
    With :math:`r` the reliability, :math:`M_1, S_1` the pre mean and SD, :math:`M_2, S_2` the post
    mean and SD, :math:`SE = S_1\sqrt{1-r}` and :math:`S_{diff} = \sqrt{2}\,SE`:

    - JT: :math:`(x_2 - x_1) / S_{diff}`
    - GLN: :math:`[(x_2 - M_1) - r(x_1 - M_1)] / (S_1\sqrt{1-r^2})`
    - HLL: :math:`[(x_2 - M_2) - r(x_1 - M_1)] / (S_1\sqrt{1-r^2})`
    - EN: :math:`[x_2 - (r(x_1 - M_1) + M_1)] / SE` (Speer's reformulation: the post score against a
      band around the estimated true pre score, so the RCI can be positive when the raw change is
      negative)
    - NK: :math:`[x_2 - (r(x_1 - M_1) + M_1)] / \sqrt{r^2 S_1^2 (1-r) + S_1^2 (1-r_{post})}`
    - HA: :math:`[(x_2 - x_1) r_{dd} + (M_2 - M_1)(1 - r_{dd})] / (\sqrt{r_{dd}}\,\sqrt{2}\,SE)` with
      :math:`r_{xx,i} = (S_i^2 - SE^2)/S_i^2`,
      :math:`r_{dd} = (S_1^2 r_{xx,1} + S_2^2 r_{xx,2} - 2 S_1 S_2 r_{12})
      / (S_1^2 + S_2^2 - 2 S_1 S_2 r_{12})` and :math:`r_{12}` the sample pre-post correlation.

    A client improved when ``direction * rci > critical`` and deteriorated when
    ``direction * rci < -critical`` (strict inequalities, as in R), with direction +1 when higher is
    better and -1 when lower is better.

    References
    ----------
    .. [1] Jacobson, N. S., & Truax, P. (1991). Clinical significance: A statistical approach to
       defining meaningful change in psychotherapy research. *JCCP*, 59(1), 12-19.
    .. [2] Hsu, L. M. (1989). Reliable changes in psychotherapy: Taking into account regression toward
       the mean. *Behavioral Assessment*, 11(4), 459-467.
    .. [3] Hsu, L. M. (1995). Regression toward the mean associated with measurement error and the
       identification of improvement and deterioration in psychotherapy. *JCCP*, 63(1), 141-144.
    .. [4] Speer, D. C. (1992). Clinically significant change: Jacobson and Truax (1991) revisited.
       *JCCP*, 60(3), 402-408.
    .. [5] Nunnally, J. C., & Kotsch, W. E. (1983). Studies of individual subjects: Logic and methods
       of analysis. *British Journal of Clinical Psychology*, 22(2), 83-93.
    .. [6] Hageman, W. J., & Arrindell, W. A. (1999). Establishing clinically significant change.
       *Behaviour Research and Therapy*, 37(12), 1169-1193.
    .. [7] Claus, B. B., Wager, J., & Bonnet, U. (2024). clinicalsignificance: Clinical significance
       analyses of intervention studies in R. *Journal of Statistical Software*, 111(1), 1-39.
    """
    x1 = np.asarray(pre, dtype=np.float64)
    x2 = np.asarray(post, dtype=np.float64)
    if x1.shape != x2.shape or x1.ndim != 1:
        raise ValueError("pre and post must be one-dimensional arrays of the same length")
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    if not 0.0 < reliability < 1.0:
        raise ValueError(f"reliability must lie strictly between 0 and 1, not {reliability!r}")
    r_post = reliability if reliability_post is None else reliability_post
    if not 0.0 < r_post < 1.0:
        raise ValueError(f"reliability_post must lie strictly between 0 and 1, not {r_post!r}")
    direction = direction_of(better)
    crit = critical_value(method, significance)

    m1 = float(np.mean(x1)) if m_pre is None else float(m_pre)
    s1 = float(np.std(x1, ddof=1)) if sd_pre is None else float(sd_pre)
    m2 = float(np.mean(x2)) if m_post is None else float(m_post)
    s2 = float(np.std(x2, ddof=1)) if sd_post is None else float(sd_post)
    r = float(reliability)
    se = s1 * np.sqrt(1.0 - r)
    r_dd = float("nan")

    if method == "jt":
        rci = (x2 - x1) / np.sqrt(2.0 * se**2)
    elif method in ("gln", "hll"):
        # GLN predicts the post score from the pre mean; HLL also removes the sample's mean change.
        centre_post = m1 if method == "gln" else m2
        rci = ((x2 - centre_post) - r * (x1 - m1)) / (s1 * np.sqrt(1.0 - r**2))
    elif method in ("en", "nk"):
        true_pre = r * (x1 - m1) + m1
        # NK adds the error of the estimated true pre score to the error at post (each with its own reliability).
        nk_error = np.sqrt(r**2 * s1**2 * (1.0 - r) + s1**2 * (1.0 - r_post))
        denominator = se if method == "en" else nk_error
        rci = (x2 - true_pre) / denominator
    else:  # ha
        r_dd = _difference_reliability(x1, x2, s1=s1, s2=s2, se=se)
        rci = ((x2 - x1) * r_dd + (m2 - m1) * (1.0 - r_dd)) / (np.sqrt(r_dd) * np.sqrt(2.0 * se**2))

    rci = np.asarray(rci, dtype=np.float64)
    return RciResult(
        method=method,
        better=better,
        rci=rci,
        improved=direction * rci > crit,
        deteriorated=direction * rci < -crit,
        critical_value=crit,
        reliability=r,
        reliability_post=float(r_post),
        m_pre=m1,
        sd_pre=s1,
        m_post=m2,
        sd_post=s2,
        se_measurement=float(se),
        r_dd=r_dd,
    )


def _difference_reliability(x1: FloatArray, x2: FloatArray, *, s1: float, s2: float, se: float) -> float:
    """Reliability of the difference score (Hageman & Arrindell 1999, eq. 3) from the sample."""
    # Both occasions share the pre-treatment error of measurement; each reliability is then
    # the share of its own observed variance that is not error.
    r_xx_1 = (s1**2 - se**2) / s1**2
    r_xx_2 = (s2**2 - se**2) / s2**2
    r_12 = float(np.corrcoef(x1, x2)[0, 1])
    numerator = s1**2 * r_xx_1 + s2**2 * r_xx_2 - 2.0 * s1 * s2 * r_12
    denominator = s1**2 + s2**2 - 2.0 * s1 * s2 * r_12
    return float(numerator / denominator)
