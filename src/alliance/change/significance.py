"""Clinical significance: reliable change combined with crossing from the clinical into the functional range.

Follows the R package ``clinicalsignificance`` (Claus et al., 2024): ``cs_distribution`` (reliable change
only: improved, unchanged, deteriorated) and ``cs_combined`` (reliable change and a cut-off between the
clinical and the functional population: recovered, improved, unchanged, deteriorated, harmed).
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from alliance.change.rci import Better, Method, RciResult, direction_of, reliable_change
from alliance.errors import InputError

__all__ = [
    "CUTOFF_TYPES",
    "TABLE_COLUMNS",
    "ChangeAnalysis",
    "Cutoff",
    "CutoffType",
    "change_table",
    "clinical_cutoff",
    "combined_categories",
    "paired_scores",
    "true_score_cutoff",
]

CutoffType = Literal["a", "b", "c"]
CUTOFF_TYPES: tuple[str, ...] = get_args(CutoffType)
TABLE_COLUMNS = ("id", "pre", "post", "change", "rci", "category")


@dataclass(frozen=True)
class Cutoff:
    """A cut-off score between the clinical and the functional population."""

    type: CutoffType
    value: float
    m_clinical: float
    sd_clinical: float
    m_functional: float | None = None
    sd_functional: float | None = None
    #: True for Hageman & Arrindell's cut-off on true scores (used with the HA method).
    true_score: bool = False


@dataclass(frozen=True, eq=False)
class ChangeAnalysis:
    """One row per client with a complete pre-post pair, and what was left out."""

    #: Columns ``id, pre, post, change, rci, category`` (categories in lower case), sorted by id.
    table: pd.DataFrame
    #: Ids seen at pre or post that lack a score at the other occasion, in id order.
    left_out: tuple[Hashable, ...]
    rci: RciResult
    #: The cut-off (combined approach) or ``None`` (distribution approach: reliable change only).
    cutoff: Cutoff | None

    @property
    def approach(self) -> Literal["distribution", "combined"]:
        """``"combined"`` when a cut-off was used, else ``"distribution"``."""
        return "distribution" if self.cutoff is None else "combined"


def clinical_cutoff(
    type: CutoffType,
    *,
    m_clinical: float,
    sd_clinical: float,
    m_functional: float | None = None,
    sd_functional: float | None = None,
    better: Better = "lower",
) -> Cutoff:
    r"""Return Jacobson & Truax's cut-off *a*, *b* or *c*.

    Parameters
    ----------
    type:
        ``"a"``: two SDs from the clinical mean towards health; ``"b"``: two SDs of the functional
        population from its mean towards the clinical range; ``"c"``: the point between the two means
        weighted by the SDs. *b* and *c* need the functional mean and SD.
    m_clinical, sd_clinical:
        Mean and SD of the clinical population; the R package uses the sample's pre-treatment scores.
    m_functional, sd_functional:
        Mean and SD of a functional (non-clinical) population.
    better:
        Which direction of the scale is healthy.

    Notes
    -----
    With :math:`d = +1` when higher is better and :math:`-1` when lower is better:
    :math:`a = M_{clin} + 2 d\,SD_{clin}`, :math:`b = M_{func} - 2 d\,SD_{func}`,
    :math:`c = (SD_{clin} M_{func} + SD_{func} M_{clin}) / (SD_{clin} + SD_{func})`.

    Cut-off *b* uses the functional SD as Jacobson & Truax define it; ``clinicalsignificance`` 2.x
    computes it with the clinical SD instead (see docs/change-statistics.md).

    References
    ----------
    .. [1] Jacobson, N. S., & Truax, P. (1991). Clinical significance: A statistical approach to
       defining meaningful change in psychotherapy research. *JCCP*, 59(1), 12-19.
    """
    d = direction_of(better)
    if type == "a":
        value = m_clinical + d * 2.0 * sd_clinical
    else:
        m_f, sd_f = _functional_norms(type, m_functional, sd_functional)
        if type == "b":
            value = m_f - d * 2.0 * sd_f
        elif type == "c":
            value = (sd_clinical * m_f + sd_f * m_clinical) / (sd_clinical + sd_f)
        else:
            raise ValueError(f"cut-off type must be one of {', '.join(CUTOFF_TYPES)}, not {type!r}")
    return Cutoff(type, float(value), m_clinical, sd_clinical, m_functional, sd_functional)


def true_score_cutoff(
    type: CutoffType,
    *,
    m_clinical: float,
    sd_clinical: float,
    reliability: float,
    m_functional: float | None = None,
    sd_functional: float | None = None,
    better: Better = "lower",
) -> Cutoff:
    r"""Return Hageman & Arrindell's cut-off on true scores (used with the HA method).

    Each population's SD is shrunk to its true-score SD, :math:`SD\sqrt{r_{xx}}`, with
    :math:`r_{xx} = (SD^2 - SE^2) / SD^2` and :math:`SE = SD_{clin}\sqrt{1 - r}` (so the clinical
    reliability is ``reliability`` itself), then cut-offs *a*, *b*, *c* are formed as in
    :func:`clinical_cutoff`.

    References
    ----------
    .. [1] Hageman, W. J., & Arrindell, W. A. (1999). Establishing clinically significant change:
       Increment of precision and the distinction between individual and group level analysis.
       *Behaviour Research and Therapy*, 37(12), 1169-1193.
    """
    d = direction_of(better)
    se = sd_clinical * np.sqrt(1.0 - reliability)
    true_sd_clinical = sd_clinical * np.sqrt((sd_clinical**2 - se**2) / sd_clinical**2)
    if type == "a":
        value = m_clinical + d * 2.0 * true_sd_clinical
    else:
        m_f, sd_f = _functional_norms(type, m_functional, sd_functional)
        r_functional = (sd_f**2 - se**2) / sd_f**2
        if r_functional <= 0.0:
            raise InputError(
                f"the functional SD ({sd_f:g}) must exceed the standard error of measurement "
                f"({se:g}) for the HA true-score cut-off"
            )
        true_sd_functional = sd_f * np.sqrt(r_functional)
        if type == "b":
            value = m_f - d * 2.0 * true_sd_functional
        elif type == "c":
            value = (true_sd_clinical * m_f + true_sd_functional * m_clinical) / (true_sd_clinical + true_sd_functional)
        else:
            raise ValueError(f"cut-off type must be one of {', '.join(CUTOFF_TYPES)}, not {type!r}")
    return Cutoff(type, float(value), m_clinical, sd_clinical, m_functional, sd_functional, true_score=True)


def combined_categories(pre: ArrayLike, post: ArrayLike, change: RciResult, cutoff: Cutoff) -> NDArray[np.str_]:
    """Return recovered, improved, unchanged, deteriorated or harmed for each client.

    Decided exactly as ``cs_combined`` in the R package, with :math:`d` the direction of health:

    - clinical at pre: ``d * pre < d * cutoff``; functional at post: ``d * post > d * cutoff`` (a
      score exactly on the cut-off is neither clinical at pre nor functional at post);
    - recovered: reliably improved, clinical at pre and functional at post;
    - harmed: reliably deteriorated, not clinical at pre and not functional at post;
    - improved / deteriorated: the remaining reliable changes; unchanged: no reliable change.

    With the HA method the end state is judged on the estimated true post score: functional at post
    when clinical at pre and ``d * (M_post + (post - M_post) r_post - cutoff) / (sqrt(r_post) SE)``
    exceeds the critical value, with :math:`r_{post} = (SD_{post}^2 - SE^2)/SD_{post}^2`; and, as in the
    R package, no client is classed harmed.

    References
    ----------
    .. [1] Jacobson, N. S., & Truax, P. (1991). *JCCP*, 59(1), 12-19.
    .. [2] Hageman, W. J., & Arrindell, W. A. (1999). *Behaviour Research and Therapy*, 37(12),
       1169-1193.
    .. [3] Claus, B. B., Wager, J., & Bonnet, U. (2024). *Journal of Statistical Software*, 111(1).
    """
    x1 = np.asarray(pre, dtype=np.float64)
    x2 = np.asarray(post, dtype=np.float64)
    d = direction_of(change.better)
    clinical_pre = d * x1 < d * cutoff.value
    if change.method == "ha":
        se = change.se_measurement
        r_post = (change.sd_post**2 - se**2) / change.sd_post**2
        true_post = (change.m_post + (x2 - change.m_post) * r_post - cutoff.value) / (np.sqrt(r_post) * se)
        functional_post = clinical_pre & (d * true_post > change.critical_value)
        recovered = functional_post & change.improved
        harmed = np.zeros_like(recovered)
    else:
        functional_post = d * x2 > d * cutoff.value
        recovered = clinical_pre & functional_post & change.improved
        harmed = ~clinical_pre & ~functional_post & change.deteriorated
    out = change.category.astype("<U12")
    out[recovered] = "recovered"
    out[harmed] = "harmed"
    return out


def paired_scores(
    frame: pd.DataFrame,
    *,
    id: str,
    time: str,
    score: str,
    pre: object,
    post: object,
) -> tuple[pd.DataFrame, tuple[Hashable, ...]]:
    """Turn a tidy frame (one row per id and time) into pre-post pairs.

    Returns the complete pairs as a frame with columns ``id, pre, post`` sorted by id (numerically
    when every id is a number), and the ids that have a row at ``pre`` or ``post`` but no score at
    the other occasion (or a missing score). Rows at other times are ignored. Each id and time must
    occur at most once.
    """
    # Two aligned Series instead of a pivot: several times faster on a million clients.
    occasions = frame[time]
    before = frame.loc[occasions == pre].set_index(id)[score]
    after = frame.loc[occasions == post].set_index(id)[score]
    if not (before.index.is_unique and after.index.is_unique):
        raise ValueError(f"each {id} may occur only once at each {time}")
    ids = before.index.append(after.index).unique()
    ids = ids[_id_order(ids)]
    wide = pd.DataFrame({"pre": before.reindex(ids), "post": after.reindex(ids)})
    complete = wide["pre"].notna() & wide["post"].notna()
    pairs = wide.loc[complete].astype(np.float64).rename_axis("id").reset_index()
    return pairs, tuple(wide.index[~complete])


def change_table(
    frame: pd.DataFrame,
    *,
    id: str,
    time: str,
    score: str,
    pre: object,
    post: object,
    reliability: float,
    method: Method = "jt",
    better: Better = "lower",
    reliability_post: float | None = None,
    functional_mean: float | None = None,
    functional_sd: float | None = None,
    cutoff_type: CutoffType | None = None,
    significance: float = 0.05,
) -> ChangeAnalysis:
    """Classify each client's pre-post change, as ``cs_distribution`` / ``cs_combined`` do in R.

    Parameters
    ----------
    frame:
        Tidy data: one row per client and occasion, with columns ``id``, ``time`` and ``score``.
    pre, post:
        The values of ``time`` that mark the pre and the post measurement.
    reliability, method, better, reliability_post, significance:
        As in :func:`alliance.change.rci.reliable_change`.
    functional_mean, functional_sd:
        Mean and SD of a functional population (give both or neither).
    cutoff_type:
        ``None`` (default): the combined approach with cut-off *a* when functional norms are given,
        else the distribution approach (reliable change only). ``"a"``, ``"b"`` or ``"c"``: the
        combined approach with that cut-off (*b* and *c* need the norms). As in R, cut-off *a* comes
        from the sample's pre-treatment mean and SD, so functional norms do not change it.

    Returns
    -------
    ChangeAnalysis
        Clients missing a pre or post score are left out and listed; all sample statistics come from
        the complete pairs only.

    Raises
    ------
    InputError
        When fewer than two complete pairs remain or the pre scores do not vary (no SD to scale
        change by), or the HA method meets data it cannot use.

    References
    ----------
    .. [1] Claus, B. B., Wager, J., & Bonnet, U. (2024). clinicalsignificance: Clinical significance
       analyses of intervention studies in R. *Journal of Statistical Software*, 111(1), 1-39.
    """
    if (functional_mean is None) != (functional_sd is None):
        raise ValueError("give both functional_mean and functional_sd, or neither")
    if cutoff_type is None and functional_mean is not None:
        cutoff_type = "a"

    pairs, left_out = paired_scores(frame, id=id, time=time, score=score, pre=pre, post=post)
    x1 = pairs["pre"].to_numpy(dtype=np.float64)
    x2 = pairs["post"].to_numpy(dtype=np.float64)
    _check_usable(x1, x2, method=method, reliability=reliability, score=score)

    change = reliable_change(
        x1,
        x2,
        reliability=reliability,
        method=method,
        better=better,
        reliability_post=reliability_post,
        significance=significance,
    )
    cutoff: Cutoff | None = None
    if cutoff_type is None:
        category = change.category
    else:
        # The clinical population is the sample at pre, as in the R package.
        if method == "ha":
            cutoff = true_score_cutoff(
                cutoff_type,
                m_clinical=change.m_pre,
                sd_clinical=change.sd_pre,
                reliability=reliability,
                m_functional=functional_mean,
                sd_functional=functional_sd,
                better=better,
            )
        else:
            cutoff = clinical_cutoff(
                cutoff_type,
                m_clinical=change.m_pre,
                sd_clinical=change.sd_pre,
                m_functional=functional_mean,
                sd_functional=functional_sd,
                better=better,
            )
        category = combined_categories(x1, x2, change, cutoff)

    table = pd.DataFrame(
        {
            "id": pairs["id"],
            "pre": x1,
            "post": x2,
            "change": x2 - x1,
            "rci": change.rci,
            "category": category,
        },
        columns=list(TABLE_COLUMNS),
    )
    return ChangeAnalysis(table=table, left_out=left_out, rci=change, cutoff=cutoff)


def _functional_norms(type: str, m: float | None, sd: float | None) -> tuple[float, float]:
    if m is None or sd is None:
        raise ValueError(f"cut-off {type!r} needs the functional mean and SD")
    return float(m), float(sd)


def _id_order(ids: pd.Index) -> NDArray[np.intp]:
    """Sort ids numerically when all are numbers (as R sorts a numeric id column), else as text."""
    if pd.api.types.is_numeric_dtype(ids.dtype):
        return np.argsort(ids.to_numpy(), kind="stable")
    numeric = pd.to_numeric(pd.Series(ids, dtype=object), errors="coerce")
    if numeric.notna().all():
        return np.argsort(numeric.to_numpy(dtype=np.float64), kind="stable")
    return np.argsort(np.asarray([str(i) for i in ids], dtype=object), kind="stable")


def _check_usable(
    x1: NDArray[np.float64], x2: NDArray[np.float64], *, method: str, reliability: float, score: str
) -> None:
    if x1.size == 0:
        raise InputError("no id has both a pre and a post score", column=score)
    if x1.size < 2:
        raise InputError(
            "only one id has both a pre and a post score; at least two are needed to estimate the pre-treatment SD",
            column=score,
        )
    if np.std(x1) == 0.0:
        raise InputError("all pre scores are equal, so reliable change is undefined (SD 0)", column=score)
    if method == "ha":
        se2 = np.var(x1, ddof=1) * (1.0 - reliability)
        if np.std(x2) == 0.0 or np.var(x2, ddof=1) <= se2:
            raise InputError(
                "the HA method needs post scores whose variance exceeds the error variance",
                column=score,
            )
        x1c, x2c = x1 - x1.mean(), x2 - x2.mean()
        s1, s2 = np.std(x1, ddof=1), np.std(x2, ddof=1)
        r12 = float(np.sum(x1c * x2c) / np.sqrt(np.sum(x1c**2) * np.sum(x2c**2)))
        r_dd = (s1**2 + s2**2 - 2.0 * se2 - 2.0 * s1 * s2 * r12) / (s1**2 + s2**2 - 2.0 * s1 * s2 * r12)
        if not r_dd > 0.0:
            raise InputError(
                f"the HA method needs a positive reliability of the difference score; these data give {r_dd:.3g}",
                column=score,
            )
