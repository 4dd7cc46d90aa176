"""Validation of the detectors: ruptures against simulated truth, expected response against real outcomes.

Two procedures, both deterministic given a seed (``docs/monitoring-validation.md`` reports their numbers):

- :func:`rupture_validation`: alliance series with injected ruptures of known size, timing and repair
  (:func:`~alliance.monitoring.simulation.simulate_ruptures`); the detectors learn the between-client SD of change
  on a separate simulated training sample; precision and recall of each criterion (lenient, strict) in each mode
  (retrospective, causal), overall and by drop size, false positives per 100 sessions of clients without a rupture,
  and how often the repair session is right.
- :func:`etr_validation`: k-fold by client on a real outcome data set; the expected response is fitted on the
  training folds and flags the held-out clients at sessions 2-4; red (and red-or-amber) is compared with the
  end-of-treatment outcome, non-response (no reliable improvement, Jacobson & Truax 1991) and reliable deterioration:
  sensitivity, specificity, PPV and NPV with Wilson intervals. The rational fallback alone is reported beside it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from alliance.change.ordering import natural_key
from alliance.change.proportions import wilson_interval
from alliance.change.rci import critical_value, reliable_change
from alliance.errors import InputError
from alliance.monitoring.expected import ExpectedResponse
from alliance.monitoring.ruptures import RuptureDetector
from alliance.monitoring.simulation import precision_recall, simulate_ruptures

__all__ = [
    "ETR_VALIDATION_COLUMNS",
    "OUTCOMES",
    "RULES",
    "RUPTURE_VALIDATION_COLUMNS",
    "SIZES",
    "EtrValidation",
    "ScreeningQuality",
    "etr_validation",
    "long_from_wide",
    "rupture_validation",
    "screening_quality",
]

Better = Literal["lower", "higher"]

SIZES = (1.0, 1.5, 2.0, 3.0, 4.0)
"""Injected drop sizes (points on the 0-10 check-in) reported one by one."""
RULES = ("red", "red_or_amber", "rational_red", "rational_red_or_amber")
"""Which statuses count as a flag: of the fitted model (empirical, or its fallback), or of the rational rule alone."""
OUTCOMES = ("non_response", "deterioration")
"""End-of-treatment outcomes predicted: no reliable improvement, and reliable deterioration (first to last score)."""
ETR_VALIDATION_COLUMNS = (
    "at",
    "rule",
    "outcome",
    "n",
    "positives",
    "flagged",
    "sensitivity",
    "specificity",
    "ppv",
    "npv",
    "sens_low",
    "sens_high",
    "spec_low",
    "spec_high",
    "model",
)
"""Columns of ``alliance etr validate`` (:attr:`EtrValidation.table` also has ``true_positives``)."""
RUPTURE_VALIDATION_COLUMNS = (
    "criterion",
    "mode",
    "size",
    "ruptures",
    "found",
    "recall",
    "recall_low",
    "recall_high",
    "detections",
    "true_positives",
    "precision",
    "precision_low",
    "precision_high",
    "clean_sessions",
    "false_positives",
    "fp_per_100",
    "repairs",
    "repairs_correct",
    "repair_accuracy",
    "between_sd",
)
"""Columns of :func:`rupture_validation`."""

# A rational rule that never becomes empirical: more clients than any practice has.
_ALWAYS_RATIONAL = 2**62


# --- screening quality ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScreeningQuality:
    """How well a flag picks out the clients with an outcome: counts, rates and Wilson 95% intervals.

    ``sensitivity`` = flagged positives / positives, ``specificity`` = unflagged negatives / negatives,
    ``ppv`` = flagged positives / flagged, ``npv`` = unflagged negatives / unflagged; NaN where the denominator is 0.
    """

    n: int
    positives: int
    flagged: int
    true_positives: int
    sensitivity: float
    specificity: float
    ppv: float
    npv: float
    sens_low: float
    sens_high: float
    spec_low: float
    spec_high: float


def screening_quality(flagged: npt.ArrayLike, positive: npt.ArrayLike) -> ScreeningQuality:
    """Compare a flag with an outcome, one pair of booleans per client.

    Parameters
    ----------
    flagged:
        Whether each client was flagged.
    positive:
        Whether each client had the outcome (e.g. non-response).

    Returns
    -------
    ScreeningQuality
        Counts, sensitivity, specificity, PPV, NPV, and Wilson 95% intervals for sensitivity and specificity.

    References
    ----------
    Altman DG, Bland JM (1994). Diagnostic tests 1: sensitivity and specificity. *BMJ* 308:1552; Diagnostic tests 2:
    predictive values. *BMJ* 309:102.
    Wilson EB (1927). Probable inference, the law of succession, and statistical inference. *JASA* 22:209-212.
    """
    flag = np.asarray(flagged, dtype=bool)
    truth = np.asarray(positive, dtype=bool)
    if flag.shape != truth.shape or flag.ndim != 1:
        raise ValueError("flagged and positive must be one-dimensional and of the same length")
    n, positives, flagged_count = len(flag), int(truth.sum()), int(flag.sum())
    true_positives = int((flag & truth).sum())
    true_negatives = int((~flag & ~truth).sum())
    negatives, unflagged = n - positives, n - flagged_count
    (sens_low, spec_low), (sens_high, spec_high) = wilson_interval(
        [true_positives, true_negatives], [positives, negatives]
    )
    return ScreeningQuality(
        n=n,
        positives=positives,
        flagged=flagged_count,
        true_positives=true_positives,
        sensitivity=_ratio(true_positives, positives),
        specificity=_ratio(true_negatives, negatives),
        ppv=_ratio(true_positives, flagged_count),
        npv=_ratio(true_negatives, unflagged),
        sens_low=float(sens_low),
        sens_high=float(sens_high),
        spec_low=float(spec_low),
        spec_high=float(spec_high),
    )


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else math.nan


# --- expected response on real data --------------------------------------------------------------------------


@dataclass(frozen=True)
class EtrValidation:
    """Result of :func:`etr_validation`.

    Attributes
    ----------
    table:
        One row per flag session, rule and outcome: :data:`ETR_VALIDATION_COLUMNS` plus ``true_positives``.
    folds:
        One row per fold: ``fold``, ``train_clients``, ``test_clients`` (with a session-1 score), ``kind``
        (``empirical`` or ``rational``), ``sessions`` (the last session of the fitted table, 0 for the fallback)
        and ``reason`` (why the fallback was used).
    outcomes:
        One row per client with a session-1 score and a later score: ``id``, ``fold``, ``first``, ``last``,
        ``last_session``, ``rci``, ``non_response``, ``deterioration``.
    clients:
        Clients with a session-1 score (the ones split into folds).
    sd_pre, reliability, reliable_change:
        SD of the first scores of the clients in ``outcomes``, the reliability used, and the change in score points
        that is reliable (``1.96 * sqrt(2) * sd_pre * sqrt(1 - reliability)``).
    """

    table: pd.DataFrame
    folds: pd.DataFrame
    outcomes: pd.DataFrame
    clients: int
    sd_pre: float
    reliability: float
    reliable_change: float


def etr_validation(
    frame: pd.DataFrame,
    *,
    id: str,
    time: str,
    score: str,
    better: Better = "lower",
    flag_at: Sequence[int] = (2, 3, 4),
    folds: int = 5,
    reliability: float = 0.85,
    seed: int = 0,
) -> EtrValidation:
    """Check how well red and amber at sessions 2-4 predict the end-of-treatment outcome, by k-fold over clients.

    Parameters
    ----------
    frame:
        Long table, one row per client and session; ``time`` is the session number from 1 (the intake), ``score``
        NaN where missing.
    id, time, score:
        Names of the client, session and score columns.
    better:
        ``"lower"`` (default: BDI, PHQ-9) or ``"higher"``.
    flag_at:
        Sessions at which the held-out clients are judged (each 2 or more).
    folds:
        Number of folds (at least 2); clients with a session-1 score are shuffled with ``seed`` and dealt into folds.
    reliability:
        Reliability of the measure: for the outcome's reliable change index and for the rational fallback.
    seed:
        Seed of the fold assignment.

    Returns
    -------
    EtrValidation

    Raises
    ------
    InputError
        Too few clients with a session-1 score for ``folds`` folds (every training part needs two), or fewer than
        two clients with a session-1 score and a later one (no outcome can be judged).

    Notes
    -----
    *Outcome.* For each client with a session-1 score and a later score, the first (session-1) and the last
    observed score give the Jacobson-Truax reliable change index, with SD_pre the SD of the first scores of these
    clients: *non-response* is no reliable improvement (the RCI does not pass 1.96 in the better direction),
    *deterioration* is reliable deterioration (it passes 1.96 in the worse direction). Clients without a session-1
    score are in no fold and judged nowhere (the model skips them when fitting, too).

    *Flags.* For each fold, :class:`~alliance.monitoring.expected.ExpectedResponse` (default parameters, with
    ``better`` and ``reliability``) is fitted on the other folds; it may be the rational fallback when the training
    part is small (fewer than 30 clients, or fewer than 25 scores at session 2); ``EtrValidation.folds`` says
    which. The rules ``rational_*`` use the rational rule alone, fitted on the same training part. A held-out client
    is judged at session k when they have a score at k *and a later one*: a flag at the last score would not predict
    the end, it would be the end. ``red`` counts red; ``red_or_amber`` counts either (the fallback is never amber
    before session 4).

    References
    ----------
    Jacobson NS, Truax P (1991). Clinical significance: a statistical approach to defining meaningful change in
    psychotherapy research. *JCCP* 59(1):12-19.
    Finch AE, Lambert MJ, Schaalje BG (2001). Psychotherapy quality control: the statistical generation of expected
    recovery curves for integration into an early warning system. *Clin Psychol Psychother* 8(4):231-242.
    Hannan C, Lambert MJ, Harmon C, et al. (2005). A lab test and algorithms for identifying clients at risk for
    treatment failure. *J Clin Psychol* 61(2):155-163.
    """
    sessions = tuple(sorted({int(k) for k in flag_at}))
    if not sessions or sessions[0] < 2:
        raise ValueError(f"flag_at must be session numbers of 2 or more, not {tuple(flag_at)!r}")
    if isinstance(folds, bool) or folds < 2:
        raise ValueError(f"folds must be a whole number of at least 2, not {folds!r}")
    if not 0 < reliability < 1:
        raise ValueError(f"reliability must lie strictly between 0 and 1, not {reliability!r}")
    data = frame.loc[frame[score].notna(), [id, time, score]]
    data = data.sort_values([id, time], key=natural_key, kind="stable").reset_index(drop=True)
    first = data.loc[data[time] == 1].drop_duplicates(subset=[id], keep="last").set_index(id)[score]
    clients = first.index
    _check_fold_size(len(clients), folds=folds, column=score)
    fold_of = _assign_folds(clients, folds=folds, seed=seed)

    outcomes = _outcomes(data, first, id=id, time=time, score=score, better=better, reliability=reliability)
    outcomes.insert(1, "fold", fold_of.reindex(outcomes["id"]).to_numpy())

    statuses, fold_rows = [], []
    for fold in range(folds):
        test_ids = fold_of.index[fold_of.to_numpy() == fold]
        in_test = data[id].isin(test_ids)
        train, test = data[~in_test], data[in_test]
        model = ExpectedResponse(better=better, reliability=reliability).fit(train, id=id, time=time, score=score)
        rational = ExpectedResponse(better=better, reliability=reliability, min_clients=_ALWAYS_RATIONAL).fit(
            train, id=id, time=time, score=score
        )
        fold_rows.append(
            {
                "fold": fold,
                "train_clients": model.n_clients_,
                "test_clients": len(test_ids),
                "kind": model.kind_,
                "sessions": model.sessions_[-1] if model.sessions_ else 0,
                "reason": model.reason_,
            }
        )
        for source, fitted in (("", model), ("rational_", rational)):
            flagged = fitted.flag(test, id=id, time=time, score=score)
            flagged = flagged[flagged["time"].isin(sessions)]
            statuses.append(
                pd.DataFrame(
                    {
                        "id": flagged["id"].to_numpy(),
                        "at": flagged["time"].to_numpy(dtype="int64"),
                        "source": source,
                        "status": flagged["status"].to_numpy(),
                    }
                )
            )
    fold_table = pd.DataFrame(fold_rows)
    status = pd.concat(statuses, ignore_index=True)
    described = _describe_models(fold_table["kind"], folds=folds)

    rows = []
    for at in sessions:
        judged = outcomes[outcomes["last_session"] > at]
        for rule in RULES:
            source = "rational_" if rule.startswith("rational_") else ""
            at_k = status[(status["at"] == at) & (status["source"] == source)].set_index("id")["status"]
            present = judged[judged["id"].isin(at_k.index)]
            shown = at_k.reindex(present["id"]).to_numpy()
            hit = (shown == "red") | ((shown == "amber") & rule.endswith("red_or_amber"))
            for outcome in OUTCOMES:
                quality = screening_quality(hit, present[outcome].to_numpy(dtype=bool))
                rows.append(
                    {
                        "at": at,
                        "rule": rule,
                        "outcome": outcome,
                        **quality.__dict__,
                        "model": f"rational {folds}/{folds}" if source else described,
                    }
                )
    table = pd.DataFrame(rows)[[*ETR_VALIDATION_COLUMNS[:6], "true_positives", *ETR_VALIDATION_COLUMNS[6:]]]
    sd_pre = float(np.std(outcomes["first"].to_numpy(dtype=float), ddof=1))
    return EtrValidation(
        table=table,
        folds=fold_table,
        outcomes=outcomes,
        clients=len(clients),
        sd_pre=sd_pre,
        reliability=float(reliability),
        reliable_change=critical_value("jt") * math.sqrt(2.0) * sd_pre * math.sqrt(1.0 - reliability),
    )


def _check_fold_size(clients: int, *, folds: int, column: str) -> None:
    """Every fold needs a client and every training part two (the fallback needs an intake SD)."""
    needed = folds
    while needed - math.ceil(needed / folds) < 2:
        needed += 1
    if clients < needed:
        raise InputError(
            f"{folds}-fold validation needs at least {needed} clients with a session-1 score, found {clients}",
            column=column,
        )


def _assign_folds(clients: pd.Index, *, folds: int, seed: int) -> pd.Series:
    """Deal the clients, in an order shuffled by ``seed``, into ``folds`` folds of (nearly) equal size."""
    ordered = pd.Series(clients).sort_values(key=natural_key, kind="stable").to_numpy()
    shuffled = ordered[np.random.default_rng(seed).permutation(len(ordered))]
    return pd.Series(np.arange(len(shuffled)) % folds, index=pd.Index(shuffled))


def _outcomes(
    data: pd.DataFrame,
    first: pd.Series,
    *,
    id: str,
    time: str,
    score: str,
    better: Better,
    reliability: float,
) -> pd.DataFrame:
    """First (session-1) and last score of each client who has both, and the reliable change between them."""
    known = data[data[id].isin(first.index)]
    last = known.groupby(id, sort=False).tail(1).set_index(id)
    last = last[last[time] > 1]
    if len(last) < 2:
        raise InputError(
            f"at least 2 clients with a session-1 score and a later score are needed, found {len(last)}",
            column=score,
        )
    pre = first.reindex(last.index).to_numpy(dtype=float)
    post = last[score].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        change = reliable_change(pre, post, reliability=reliability, method="jt", better=better)
    return pd.DataFrame(
        {
            "id": last.index.to_numpy(),
            "first": pre,
            "last": post,
            "last_session": last[time].to_numpy(dtype="int64"),
            "rci": change.rci,
            "non_response": ~change.improved,
            "deterioration": change.deteriorated,
        }
    )


def _describe_models(kinds: pd.Series, *, folds: int) -> str:
    """Say which model the folds used: ``empirical 5/5``, or ``empirical 3/5; rational 2/5``."""
    counts = kinds.value_counts()
    return "; ".join(f"{kind} {int(counts[kind])}/{folds}" for kind in ("empirical", "rational") if kind in counts)


def long_from_wide(
    frame: pd.DataFrame, *, columns: Sequence[str], id: str | None = None, score: str = "score"
) -> pd.DataFrame:
    """Turn one row per client (one column per session, in order) into a long table ``id, time, <score>``.

    Parameters
    ----------
    frame:
        One row per client.
    columns:
        The score columns in session order: the first is session 1 (the intake), the next session 2, and so on.
    id:
        The client column; ``None`` numbers the rows 1, 2, ... (e.g. ``BtheB``, which has no id).
    score:
        Name of the score column in the result.

    Returns
    -------
    pandas.DataFrame
        Columns ``id``, ``time`` and ``score``, one row per client and session (missing scores kept as NaN),
        sorted by client then session.
    """
    ids = np.arange(1, len(frame) + 1) if id is None else frame[id].to_numpy()
    values = frame[list(columns)].to_numpy(dtype=float)
    return pd.DataFrame(
        {
            "id": np.repeat(ids, len(columns)),
            "time": np.tile(np.arange(1, len(columns) + 1), len(frame)),
            score: values.reshape(-1),
        }
    )


# --- ruptures against simulated truth ------------------------------------------------------------------------


def rupture_validation(
    *,
    seed: int = 0,
    clients: int = 1000,
    training_clients: int | None = None,
    rupture_share: float = 0.5,
    sizes: tuple[float, ...] = SIZES,
    noise: tuple[float, float] = (0.45, 0.35),
    item_sd: float = 0.6,
    tolerance: int = 1,
    repair_window: int = 3,
) -> pd.DataFrame:
    """Measure how well the rupture detectors find injected ruptures and their repair, in simulated series.

    Parameters
    ----------
    seed:
        One seed for everything: it gives the training and the test sample their own seeds.
    clients, training_clients:
        Clients in the test sample, and in the training sample that sets the between-client SD of change (default:
        as many as ``clients``).
    rupture_share, sizes, noise, item_sd:
        Passed to :func:`~alliance.monitoring.simulation.simulate_ruptures` for both samples (each rupture's size is
        drawn from ``sizes``; ``noise`` is the session noise's typical SD and log-SD; ``item_sd`` the item noise).
    tolerance:
        A detection within this many sessions of an injected onset (same client) counts as finding it.
    repair_window:
        The detectors' repair window (sessions).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`RUPTURE_VALIDATION_COLUMNS`; one row per criterion (``lenient``, ``strict``), mode
        (``retrospective``: own SD over the whole series; ``causal``: up to each session, as in the clinic) and
        ``size`` (``"all"``, then each size as text, e.g. ``"1.5"``).

    Notes
    -----
    - *recall*: injected ruptures with a detection within ``tolerance`` sessions of the onset / injected ruptures.
    - *precision*: detections within ``tolerance`` of an injected onset / detections. By size, both count only
      the clients whose rupture had that size (their other detections are false positives), so the per-size
      precision leaves out the clients without a rupture; ``fp_per_100`` covers those, overall only.
    - *fp_per_100*: detections on clients without an injected rupture (``false_positives``) per 100 of their
      sessions (``clean_sessions``); these three are NaN in the rows by size.
    - *repair_accuracy*: of the injected ruptures found, the share whose nearest detection (earlier on a tie)
      has the right ``repaired_at``: the injected session of repair, or none when the rupture was not repaired
      within ``repair_window`` sessions of its onset.
    Recall and precision have Wilson 95% intervals.

    References
    ----------
    Stiles WB, Glick MJ, Osatuke K, et al. (2004). Patterns of alliance development and the rupture-repair
    hypothesis: are productive relationships U-shaped or V-shaped? *J Couns Psychol* 51(1):81-92.
    Crits-Christoph P, Gibbons MBC, Hamilton J, Ring-Kurtz S, Gallop R (2011). The dependability of alliance
    assessments: the alliance-outcome correlation is larger than you might think. *JCCP* 79(3):267-278.
    """
    train_seed, test_seed = (int(value) for value in np.random.SeedSequence(seed).generate_state(2))
    training, test = (
        simulate_ruptures(
            clients=size, rupture_share=rupture_share, sizes=sizes, noise=noise, item_sd=item_sd, seed=part_seed
        )
        for size, part_seed in ((training_clients or clients, train_seed), (clients, test_seed))
    )
    truth, scores = test.truth, test.scores
    clean = scores[~scores["id"].isin(truth["id"])]
    rows = []
    for criterion in ("lenient", "strict"):
        for mode in ("retrospective", "causal"):
            detector = RuptureDetector(criterion=criterion, repair_window=repair_window, causal=mode == "causal")
            detector.fit(training.scores, id="id", time="time", score="score")
            found = detector.detect(scores, id="id", time="time", score="score")
            repairs = _repairs(found, truth, tolerance=tolerance, window=repair_window)
            on_clean = int(found["id"].isin(clean["id"]).sum())
            groups: list[tuple[str, pd.DataFrame]] = [("all", truth)]
            groups += [(f"{size:g}", truth[truth["size"] == size]) for size in sizes]
            for label, part in groups:
                detections = found if label == "all" else found[found["id"].isin(part["id"])]
                quality = precision_recall(detections, part, tolerance=tolerance)
                judged = repairs[repairs["id"].isin(part["id"])]
                (recall_low, precision_low), (recall_high, precision_high) = wilson_interval(
                    [quality.found, quality.true_positives], [quality.ruptures, quality.detections]
                )
                rows.append(
                    {
                        "criterion": criterion,
                        "mode": mode,
                        "size": label,
                        "ruptures": quality.ruptures,
                        "found": quality.found,
                        "recall": quality.recall,
                        "recall_low": float(recall_low),
                        "recall_high": float(recall_high),
                        "detections": quality.detections,
                        "true_positives": quality.true_positives,
                        "precision": quality.precision,
                        "precision_low": float(precision_low),
                        "precision_high": float(precision_high),
                        # Clients without a rupture have no size: their counts belong to the overall row only.
                        "clean_sessions": float(len(clean)) if label == "all" else math.nan,
                        "false_positives": float(on_clean) if label == "all" else math.nan,
                        "fp_per_100": 100.0 * on_clean / len(clean) if label == "all" and len(clean) else math.nan,
                        "repairs": len(judged),
                        "repairs_correct": int(judged["correct"].sum()),
                        "repair_accuracy": _ratio(int(judged["correct"].sum()), len(judged)),
                        "between_sd": detector.between_sd_,
                    }
                )
    return pd.DataFrame(rows, columns=list(RUPTURE_VALIDATION_COLUMNS))


def _repairs(found: pd.DataFrame, truth: pd.DataFrame, *, tolerance: int, window: int) -> pd.DataFrame:
    """For each injected rupture that was found: whether its nearest detection has the right repair session."""
    truth = truth.reset_index(drop=True).assign(rupture=lambda t: np.arange(len(t)))
    pairs = truth.merge(found[["id", "time", "repaired_at"]], on="id", suffixes=("", "_found"))
    pairs["distance"] = (pairs["time_found"] - pairs["time"]).abs()
    pairs = pairs[pairs["distance"] <= tolerance]
    nearest = pairs.sort_values(["rupture", "distance", "time_found"], kind="stable").drop_duplicates("rupture")
    onset = nearest["time"].to_numpy(dtype=float)
    injected = nearest["repaired_at"].to_numpy(dtype=float)
    # An injected return later than the window is not a repair under the detector's own definition.
    injected = np.where(injected - onset <= window, injected, np.nan)
    detected = nearest["repaired_at_found"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    correct = (injected == detected) | (np.isnan(injected) & np.isnan(detected))
    return pd.DataFrame({"id": nearest["id"].to_numpy(), "correct": correct})
