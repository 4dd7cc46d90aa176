"""Sudden gains and sudden losses between consecutive sessions (Tang & DeRubeis 1999; Lutz et al. 2013).

The rules follow the R package ``suddengains`` (Wiedemann et al. 2020), our oracle. For a measure where lower
is better, the change from session n to n+1 is a *sudden gain* when all three criteria hold:

1. absolute: ``score(n) - score(n+1) >= cutoff``;
2. relative: ``score(n) - score(n+1) >= relative * score(n)`` (25% by default);
3. stable: ``mean(n-2 .. n) - mean(n+1 .. n+3) > t_crit * pooled SD`` of the two windows, using the scores
   present in each window (at least two on each side) and ``t_crit = |qt(alpha / 2, n_pre + n_post - 2)|``
   (2.776 with 3 + 3 scores, 3.182 with 3 + 2, 4.303 with 2 + 2).

A *sudden loss* is the mirror image: a rise of at least ``cutoff`` that is at least ``relative`` of the score
before it and whose mean after exceeds the mean before by the same margin. When higher scores are better the
directions swap.

Missing scores are never skipped over: sessions 3 and 5 with no score at 4 are not consecutive. An interval
whose criteria cannot be computed (a missing score on either side of it, or fewer than two scores in either
window) is *undecided*, and undecided is not a change. Because the windows need two scores before the change,
the first interval of the session grid can never be judged (the package's default,
``identify_sg_1to2 = FALSE``); because they need two after it, neither can the last: the last session can
never be the one after a change.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view
from scipy import stats

from alliance.change.ordering import natural_key

__all__ = ["CHANGE_COLUMNS", "find_sudden_changes", "judge_intervals"]

Better = Literal["lower", "higher"]
Kind = Literal["gains", "losses", "both"]
Direction = Literal["fall", "rise"]

CHANGE_COLUMNS = ("id", "from_time", "to_time", "kind", "pre", "post")
"""Columns of the table that :func:`find_sudden_changes` returns, in order."""

# Scores on each side of a change that the stability criterion looks at (n-2..n and n+1..n+3).
WINDOW = 3
# Fewest scores a window needs before the stability criterion can be computed (Lutz et al. 2013).
MIN_IN_WINDOW = 2


def judge_intervals(
    scores: np.ndarray,
    *,
    cutoff: float,
    direction: Direction,
    relative: float = 0.25,
    alpha: float = 0.05,
) -> np.ndarray:
    """Judge every interval between consecutive columns of a clients x sessions matrix.

    Parameters
    ----------
    scores:
        Two-dimensional array, one row per client and one column per consecutive session; ``NaN`` where a
        score is missing.
    cutoff:
        Smallest change (in score points) that counts as sudden; criterion 1.
    direction:
        ``"fall"`` looks for sudden drops (a gain when lower is better), ``"rise"`` for sudden rises.
    relative:
        Smallest change as a share of the score before it; criterion 2.
    alpha:
        Two-tailed significance level of the critical t value in criterion 3.

    Returns
    -------
    numpy.ndarray
        Shape ``(clients, sessions - 1)``; column ``k`` judges the change from session ``k`` to ``k + 1``:
        ``1.0`` when all three criteria are met, ``0.0`` when at least one is not, ``NaN`` when undecided.

    References
    ----------
    Tang, T. Z., & DeRubeis, R. J. (1999). Sudden gains and critical sessions in cognitive-behavioral
    therapy for depression. *Journal of Consulting and Clinical Psychology*, 67(6), 894-904.

    Lutz, W., Ehrlich, T., Rubel, J., et al. (2013). The ups and downs of psychotherapy: Sudden gains and
    sudden losses identified with session reports. *Psychotherapy Research*, 23(1), 14-24.

    Wiedemann, M., Thew, G. R., Stott, R., & Ehlers, A. (2020). suddengains: An R package to identify
    sudden gains in longitudinal data. *PLOS ONE*, 15(3), e0230276.
    """
    x = np.asarray(scores, dtype=float)
    if x.ndim != 2:
        raise ValueError(f"scores must be a two-dimensional array, not {x.ndim}-dimensional")
    if direction not in ("fall", "rise"):
        raise ValueError(f"direction must be 'fall' or 'rise', not {direction!r}")
    _check_criteria(cutoff=cutoff, relative=relative, alpha=alpha)
    sessions = x.shape[1]
    if sessions < 2:
        return np.empty((x.shape[0], 0))
    sign = 1.0 if direction == "fall" else -1.0
    before, after = x[:, :-1], x[:, 1:]
    step = sign * (before - after)
    with np.errstate(invalid="ignore"):
        absolute = step >= cutoff
        proportional = step >= relative * before

    # Pad with WINDOW - 1 missing sessions on each side, so that every interval has full-width windows
    # whose cells outside the session grid are simply missing (the package truncates them the same way).
    pad = WINDOW - 1
    padded = np.pad(x, ((0, 0), (pad, pad)), constant_values=np.nan)
    windows = sliding_window_view(padded, WINDOW, axis=1)  # window w covers sessions w - pad .. w
    n_pre, mean_pre, ss_pre = _window_stats(windows[:, : sessions - 1])
    n_post, mean_post, ss_post = _window_stats(windows[:, WINDOW : WINDOW + sessions - 1])

    decided = ~np.isnan(before) & ~np.isnan(after) & (n_pre >= MIN_IN_WINDOW) & (n_post >= MIN_IN_WINDOW)
    df = np.where(decided, n_pre + n_post - 2, 1)
    # Lutz et al. (2013): the critical value follows the scores present rather than a fixed 2.776.
    t_crit = stats.t.ppf(1.0 - alpha / 2.0, df)
    pooled_sd = np.sqrt(np.where(decided, (ss_pre + ss_post) / df, 0.0))
    with np.errstate(invalid="ignore"):
        stable = sign * (mean_pre - mean_post) > t_crit * pooled_sd
    met = absolute & proportional & stable
    return np.where(decided, met.astype(float), np.nan)


def find_sudden_changes(
    frame: pd.DataFrame,
    *,
    id: str,
    time: str,
    score: str,
    cutoff: float,
    better: Better = "lower",
    kind: Kind = "both",
    relative: float = 0.25,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """List every sudden gain and/or sudden loss in a long table of session scores.

    Parameters
    ----------
    frame:
        One row per client and session. ``time`` holds whole numbers; ``score`` holds floats, ``NaN`` when
        missing. Each ``(id, time)`` pair appears at most once.
    id, time, score:
        Names of the client, session and score columns.
    cutoff:
        Smallest change in score points (criterion 1): 7 on the BDI (Tang & DeRubeis 1999), otherwise the
        measure's reliable change value.
    better:
        ``"lower"`` when lower scores are better (PHQ-9, BDI), ``"higher"`` when higher scores are.
    kind:
        ``"gains"``, ``"losses"`` or ``"both"``.
    relative, alpha:
        As in :func:`judge_intervals`.

    Returns
    -------
    pandas.DataFrame
        Columns ``id, from_time, to_time, kind, pre, post`` (kind is ``"gain"`` or ``"loss"``; ``pre`` and
        ``post`` are the scores at ``from_time`` and ``to_time``), sorted by id then ``from_time``. Ids
        sort as numbers when every id is a number.

    Notes
    -----
    Sessions form one grid of consecutive whole numbers from the smallest to the largest ``time`` in
    ``frame``; a session without a row, or with a missing score, is a missing score, never skipped over.

    References
    ----------
    Tang, T. Z., & DeRubeis, R. J. (1999). Sudden gains and critical sessions in cognitive-behavioral
    therapy for depression. *Journal of Consulting and Clinical Psychology*, 67(6), 894-904.

    Lutz, W., Ehrlich, T., Rubel, J., et al. (2013). The ups and downs of psychotherapy: Sudden gains and
    sudden losses identified with session reports. *Psychotherapy Research*, 23(1), 14-24.

    Wiedemann, M., Thew, G. R., Stott, R., & Ehlers, A. (2020). suddengains: An R package to identify
    sudden gains in longitudinal data. *PLOS ONE*, 15(3), e0230276.
    """
    if better not in ("lower", "higher"):
        raise ValueError(f"better must be 'lower' or 'higher', not {better!r}")
    if kind not in ("gains", "losses", "both"):
        raise ValueError(f"kind must be 'gains', 'losses' or 'both', not {kind!r}")
    _check_criteria(cutoff=cutoff, relative=relative, alpha=alpha)
    if frame.empty:
        return _empty_changes(frame[id].dtype)

    times = frame[time].astype("int64")
    first = int(times.min())
    grid = pd.RangeIndex(first, int(times.max()) + 1)
    long = pd.DataFrame({"id": frame[id].to_numpy(), "time": times.to_numpy(), "score": frame[score].to_numpy()})
    wide = long.pivot(index="id", columns="time", values="score").reindex(columns=grid)
    values = wide.to_numpy(dtype=float)

    wanted = {"gains": ["gain"], "losses": ["loss"], "both": ["gain", "loss"]}[kind]
    parts = []
    for label in wanted:  # at most two passes, each vectorised over all clients and intervals
        improves = label == "gain"
        falls = improves == (better == "lower")
        judged = judge_intervals(
            values, cutoff=cutoff, direction="fall" if falls else "rise", relative=relative, alpha=alpha
        )
        rows, cols = np.nonzero(judged == 1.0)
        parts.append(
            pd.DataFrame(
                {
                    "id": wide.index[rows],
                    "from_time": (first + cols).astype("int64"),
                    "to_time": (first + cols + 1).astype("int64"),
                    "kind": label,
                    "pre": values[rows, cols],
                    "post": values[rows, cols + 1],
                }
            )
        )
    changes = pd.concat(parts, ignore_index=True)
    changes = changes.sort_values(["id", "from_time"], key=natural_key, kind="stable")
    return changes.reset_index(drop=True)


def _window_stats(windows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the count, mean and sum of squared deviations of the present scores in each window."""
    present = ~np.isnan(windows)
    count = present.sum(axis=-1)
    total = np.where(present, windows, 0.0).sum(axis=-1)
    mean = np.divide(total, count, out=np.full(count.shape, np.nan), where=count > 0)
    deviations = np.where(present, windows - mean[..., np.newaxis], 0.0)
    return count, mean, (deviations**2).sum(axis=-1)


def _check_criteria(*, cutoff: float, relative: float, alpha: float) -> None:
    if not np.isfinite(cutoff) or cutoff <= 0:
        raise ValueError(f"cutoff must be a positive number, not {cutoff!r}")
    if not np.isfinite(relative) or relative < 0:
        raise ValueError(f"relative must be zero or more, not {relative!r}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie between 0 and 1, not {alpha!r}")


def _empty_changes(id_dtype: object) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": pd.Series([], dtype=id_dtype),  # type: ignore[call-overload]
            "from_time": pd.Series([], dtype="int64"),
            "to_time": pd.Series([], dtype="int64"),
            "kind": pd.Series([], dtype=object),
            "pre": pd.Series([], dtype=float),
            "post": pd.Series([], dtype=float),
        }
    )
