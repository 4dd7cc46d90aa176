"""Alliance ruptures and their repair: V-shaped dips in session-by-session relationship scores.

A *rupture* is a deterioration of the working alliance: disagreement on goals, poor collaboration on tasks or a
strain in the bond (Eubanks, Muran & Safran 2018). In session scores it shows as a V: high, low, high again
(Stiles et al. 2004; Strauss et al. 2006). We adopt (REFERENCE §6):

- *baseline* at session t: the mean of up to ``baseline_window`` (3) earlier scores of the client, sessions
  without a score skipped; at least ``min_previous`` (1) earlier score is needed;
- *drop*: baseline - score (score - baseline when lower scores are better);
- *threshold*: ``max(k x own SD, between_sd_)``, k = 1 (lenient) or 2 (strict). The own SD is the sample SD
  (ddof = 1) of the client's scores; ``between_sd_`` is the SD of session-to-session change pooled across
  clients, which guards against noisy clients (the stricter of the two wins);
- a *rupture* starts at t when drop > 0 and drop >= threshold; while the score stays below the band
  (baseline - threshold) the same rupture goes on: no new one starts;
- it is *repaired* at the first later session, at most ``repair_window`` (3) sessions later, whose score is back
  within the band (>= baseline - threshold). A rupture that comes back later than that ends unrepaired.

The own SD comes from the whole series passed in (retrospective, as in the studies). In the clinic the series
ends at the session just rated, which makes it causal there; ``causal=True`` makes it causal everywhere: the own
SD at t uses only the scores up to t, so a finding never changes when later sessions arrive.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from alliance.change.ordering import natural_key
from alliance.instruments import Instrument, score_frame

__all__ = [
    "DOMAIN_COLUMNS",
    "RUPTURE_COLUMNS",
    "RuptureDetector",
    "domain_ruptures",
]

Criterion = Literal["lenient", "strict"]
Better = Literal["higher", "lower"]
Rule = Literal["dip", "floor", "cutoff"]

RUPTURE_COLUMNS = ("id", "time", "baseline", "score", "drop", "repaired_at")
"""The contract columns of :meth:`RuptureDetector.detect` (it adds ``threshold`` and ``ended_at``)."""
DOMAIN_COLUMNS = ("id", "time", "domain", "rule", "baseline", "score", "drop", "threshold", "repaired_at")
"""Columns of :func:`domain_ruptures`."""

# How many own SDs make a rupture under each criterion (Stiles et al. 2004).
_SDS: dict[str, float] = {"lenient": 1.0, "strict": 2.0}
# Scores are sums or means of a few answers: compare with a tolerance so that 7.25 - 1.25 == 6 holds.
_TOLERANCE = 1e-9
TOTAL_DOMAIN = "total"
"""The ``domain`` of findings on the instrument's total."""


class RuptureDetector:
    """Find V-shaped dips (ruptures) in session scores and whether they were repaired.

    Parameters are only stored here (scikit-learn style); :meth:`fit` checks them and learns ``between_sd_``.

    Parameters
    ----------
    criterion:
        ``"lenient"`` (the drop is at least 1 own SD) or ``"strict"`` (2 own SDs).
    better:
        ``"higher"`` when higher scores mean a better relationship (our check-in, SRS, WAI), else ``"lower"``.
    baseline_window:
        How many earlier scores (at most) make the baseline (default 3, as in Stiles et al. 2004).
    repair_window:
        A repair counts when the score is back within the band at most this many sessions after the dip
        (default 3: "within 1-3 sessions").
    between_sd:
        The between-client SD of session-to-session change; ``None`` (default) fits it from the data given to
        :meth:`fit`.
    min_previous:
        Fewest earlier scores a baseline needs (default 1).
    causal:
        ``False`` (default): the own SD uses the client's whole series, as in the retrospective studies.
        ``True``: the own SD at session t uses the scores up to t only, as the clinic sees them.

    Attributes
    ----------
    between_sd_ : float
        The between-client SD of change in use (fitted or given). 0 when fewer than two changes were seen, in
        which case only the own SD guards.
    n_clients_, n_changes_ : int
        Clients with at least one score, and session-to-session changes, in the data given to :meth:`fit`.

    References
    ----------
    Stiles WB, Glick MJ, Osatuke K, et al. (2004). Patterns of alliance development and the rupture-repair
    hypothesis: are productive relationships U-shaped or V-shaped? *J Couns Psychol* 51(1):81-92.
    Strauss JL, Hayes AM, Johnson SL, et al. (2006). Early alliance, alliance ruptures, and symptom change in a
    nonrandomized trial of cognitive therapy for avoidant and obsessive-compulsive personality disorders.
    *JCCP* 74(2):337-345.
    Eubanks CF, Muran JC, Safran JD (2018). Alliance rupture repair: a meta-analysis. *Psychotherapy*
    55(4):508-519.
    """

    between_sd_: float
    n_clients_: int
    n_changes_: int

    def __init__(
        self,
        criterion: Criterion = "lenient",
        better: Better = "higher",
        baseline_window: int = 3,
        repair_window: int = 3,
        between_sd: float | None = None,
        min_previous: int = 1,
        causal: bool = False,
    ) -> None:
        self.criterion = criterion
        self.better = better
        self.baseline_window = baseline_window
        self.repair_window = repair_window
        self.between_sd = between_sd
        self.min_previous = min_previous
        self.causal = causal

    def get_params(self) -> dict[str, Any]:
        """Return the parameters given to ``__init__`` (to build an unfitted copy)."""
        return {
            "criterion": self.criterion,
            "better": self.better,
            "baseline_window": self.baseline_window,
            "repair_window": self.repair_window,
            "between_sd": self.between_sd,
            "min_previous": self.min_previous,
            "causal": self.causal,
        }

    def __repr__(self) -> str:
        params = ", ".join(f"{name}={value!r}" for name, value in self.get_params().items())
        return f"RuptureDetector({params})"

    def fit(self, frame: pd.DataFrame, *, id: str, time: str, score: str) -> RuptureDetector:
        """Check the parameters and learn the between-client SD of session-to-session change.

        Parameters
        ----------
        frame:
            Long table, one row per client and session; ``score`` is NaN where missing.
        id, time, score:
            Names of the client, session and score columns.

        Returns
        -------
        RuptureDetector
            ``self``.

        Notes
        -----
        A change is the difference between two consecutive scores of one client (a session without a score
        is skipped, as in the baseline). All clients' changes are pooled into one sample and its SD
        (ddof = 1) is ``between_sd_``: how much a client's score typically moves from one session to the next
        in this practice or study.
        """
        ids, _, values = _prepare(frame, id=id, time=time, score=score)
        return self._fit_sorted(ids, values)

    def _fit_sorted(self, ids: np.ndarray, values: np.ndarray) -> RuptureDetector:
        """Fit on scores already sorted by client then session, missing ones removed."""
        self._check_params()
        same_client = ids[1:] == ids[:-1]
        changes = np.diff(values)[same_client]
        self.n_clients_ = len(np.unique(ids))
        self.n_changes_ = len(changes)
        if self.between_sd is not None:
            self.between_sd_ = float(self.between_sd)
        else:
            self.between_sd_ = float(np.std(changes, ddof=1)) if len(changes) >= 2 else 0.0
        return self

    def detect(self, frame: pd.DataFrame, *, id: str, time: str, score: str) -> pd.DataFrame:
        """Return every rupture in ``frame``: when it happened, how deep it was and when it was repaired.

        Parameters
        ----------
        frame:
            Long table, one row per client and session (``time`` in whole sessions); ``score`` NaN where
            missing (skipped).
        id, time, score:
            Names of the client, session and score columns.

        Returns
        -------
        pandas.DataFrame
            One row per rupture, sorted by id then time, with columns ``id``, ``time`` (the session of the
            dip), ``baseline``, ``score``, ``drop`` (how far below the baseline, positive), ``repaired_at``
            (the session of the repair, ``<NA>`` when not repaired within ``repair_window``), ``threshold``
            (the drop that was needed) and ``ended_at`` (the session at which the score was back within the
            band, repaired or not; ``<NA>`` while the rupture is still open at the end of the series).
        """
        ids, times, values = _prepare(frame, id=id, time=time, score=score)
        return self._detect_sorted(ids, times, values)

    def _detect_sorted(self, ids: np.ndarray, times: np.ndarray, values: np.ndarray) -> pd.DataFrame:
        """Detect in scores already sorted by client then session, missing ones removed."""
        if not hasattr(self, "between_sd_"):
            raise ValueError("this RuptureDetector is not fitted yet: call fit() first")
        sign = 1.0 if self.better == "higher" else -1.0
        # Work on a "higher is better" copy, so that a drop is always baseline - score.
        good = sign * values
        starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]]) if len(ids) else np.array([], dtype=int)
        position = np.arange(len(ids)) - np.repeat(starts, np.diff(np.r_[starts, len(ids)]))
        baseline = _baseline(good, position, window=self.baseline_window, min_previous=self.min_previous)
        own_sd = _own_sd(good, starts, position, causal=self.causal)
        threshold = np.fmax(_SDS[self.criterion] * own_sd, self.between_sd_)
        drop = baseline - good
        with np.errstate(invalid="ignore"):
            candidate = (drop > _TOLERANCE) & (drop >= threshold - _TOLERANCE)
        rows, repaired, ended = self._episodes(good, times, starts, candidate, baseline - threshold)
        found = pd.DataFrame(
            {
                "id": ids[rows],
                "time": times[rows],
                "baseline": sign * baseline[rows],
                "score": values[rows],
                "drop": drop[rows],
                "repaired_at": pd.array(repaired, dtype="Int64"),
                "threshold": threshold[rows],
                "ended_at": pd.array(ended, dtype="Int64"),
            }
        )
        return found

    def _episodes(
        self,
        good: np.ndarray,
        times: np.ndarray,
        starts: np.ndarray,
        candidate: np.ndarray,
        band: np.ndarray,
    ) -> tuple[list[int], list[int | None], list[int | None]]:
        """Walk the candidate dips in order: start a rupture, follow it until the score is back in the band."""
        ends = np.r_[starts[1:], len(good)] if len(starts) else starts
        client_end = np.repeat(ends, np.diff(np.r_[starts, len(good)])) if len(starts) else ends
        rows: list[int] = []
        repaired: list[int | None] = []
        ended: list[int | None] = []
        open_until = -1  # rows up to here belong to a rupture already found (same client)
        for row in np.flatnonzero(candidate):
            if row <= open_until:
                continue
            stop = int(client_end[row])
            later = good[row + 1 : stop]
            back = np.flatnonzero(later >= band[row] - _TOLERANCE)
            rows.append(int(row))
            if back.size:
                returned = int(row) + 1 + int(back[0])
                ended.append(int(times[returned]))
                gap = times[returned] - times[row]
                repaired.append(int(times[returned]) if gap <= self.repair_window else None)
                # The session that comes back ends this rupture; it does not start a new one.
                open_until = returned
            else:
                ended.append(None)
                repaired.append(None)
                open_until = stop - 1
        return rows, repaired, ended

    def _check_params(self) -> None:
        if self.criterion not in _SDS:
            raise ValueError(f"criterion must be 'lenient' or 'strict', not {self.criterion!r}")
        if self.better not in ("higher", "lower"):
            raise ValueError(f"better must be 'higher' or 'lower', not {self.better!r}")
        for name in ("baseline_window", "repair_window", "min_previous"):
            value = getattr(self, name)
            if not isinstance(value, int | np.integer) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a whole number of at least 1, not {value!r}")
        if self.min_previous > self.baseline_window:
            raise ValueError(
                f"min_previous ({self.min_previous}) cannot exceed baseline_window ({self.baseline_window})"
            )
        if self.between_sd is not None and not (np.isfinite(self.between_sd) and self.between_sd >= 0):
            raise ValueError(f"between_sd must be a number of at least 0, or None, not {self.between_sd!r}")


def _prepare(frame: pd.DataFrame, *, id: str, time: str, score: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return ids, times and scores of the rows with a score, sorted by client then session."""
    present = frame.loc[frame[score].notna(), [id, time, score]]
    ordered = present.sort_values([id, time], key=natural_key, kind="stable")
    return (
        ordered[id].to_numpy(),
        ordered[time].to_numpy(),
        ordered[score].to_numpy(dtype=float),
    )


def _baseline(good: np.ndarray, position: np.ndarray, *, window: int, min_previous: int) -> np.ndarray:
    """Mean of up to ``window`` earlier scores of the same client (NaN with fewer than ``min_previous``)."""
    total = np.zeros(len(good))
    count = np.zeros(len(good), dtype=int)
    for lag in range(1, window + 1):
        has = position >= lag
        shifted = np.r_[np.full(min(lag, len(good)), np.nan), good[:-lag]] if len(good) else good
        total += np.where(has, shifted, 0.0)
        count += has
    mean: np.ndarray = np.divide(total, count, out=np.full(len(good), np.nan), where=count >= min_previous)
    return mean


def _own_sd(good: np.ndarray, starts: np.ndarray, position: np.ndarray, *, causal: bool) -> np.ndarray:
    """Each row's client SD (ddof = 1): of the whole series, or (causal) of the scores up to that row."""
    if not len(good):
        return np.empty(0)
    lengths = np.diff(np.r_[starts, len(good)])
    # Centre each client on its first score so that the running sums do not lose precision.
    centred = good - np.repeat(good[starts], lengths)
    if causal:
        # Running sums restart at each client (a single cumulative sum over all clients would lose precision).
        client = np.repeat(np.arange(len(starts)), lengths)
        running = pd.DataFrame({"x": centred, "x2": centred**2}).groupby(client).cumsum()
        sums = running["x"].to_numpy(dtype=float)
        squares = running["x2"].to_numpy(dtype=float)
        count = position + 1.0
    else:
        sums = np.repeat(np.add.reduceat(centred, starts), lengths)
        squares = np.repeat(np.add.reduceat(centred**2, starts), lengths)
        count = np.repeat(lengths, lengths).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        variance = (squares - sums**2 / count) / (count - 1.0)
    return np.sqrt(np.where(count >= 2, np.clip(variance, 0.0, None), np.nan))


def domain_ruptures(
    answers: pd.DataFrame,
    *,
    instrument: Instrument,
    detector: RuptureDetector,
    total_detector: RuptureDetector | None = None,
    id: str = "id",
    time: str = "time",
    floor: float = 4.0,
    cutoff_band: str = "below-cutoff",
) -> pd.DataFrame:
    """Find ruptures per domain of a relationship check-in, and the item-floor and below-cut-off rules.

    Parameters
    ----------
    answers:
        One row per client and session: ``id``, ``time`` and one float column per item (named by item id,
        NaN where unanswered).
    instrument:
        The check-in's definition: each item's ``domain`` groups the items (an item without one is its own
        domain); the ``total`` scale and severity bands give the total and the cut-off.
    detector:
        A template: each domain (and the total) gets an unfitted copy with the same parameters, fitted on that
        domain's scores, so each has its own between-client SD unless ``between_sd`` was given.
    total_detector:
        The template for the total (default: ``detector``). A single 0-10 item moves more from session to
        session than the mean of eight, so the clinic guards domains with a larger between-client SD.
    id, time:
        Names of the client and session columns.
    floor:
        A domain score at or below this is flagged (default 4 of 10: provisional, our choice until it is
        calibrated on local data).
    cutoff_band:
        The total's severity band that asks for a conversation (default ``below-cutoff``, under 8 of 10).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`DOMAIN_COLUMNS`, sorted by id, time, rule (dip, floor, cutoff) and domain order, with
        ``rule``:

        - ``dip``: a rupture (see :class:`RuptureDetector`) in one domain's score (the mean of its items) or
          in the total (``domain == "total"``);
        - ``floor``: the domain's score is at or below ``floor`` (``baseline``, ``drop``, ``threshold`` empty);
        - ``cutoff``: the total is in ``cutoff_band`` (``domain == "total"``).

    References
    ----------
    Bordin ES (1979). The generalizability of the psychoanalytic concept of the working alliance.
    *Psychotherapy: Theory, Research & Practice* 16(3):252-260.
    Stiles WB et al. (2004), *J Couns Psychol* 51(1):81-92 (V-shaped rupture-repair sequences).
    Duncan BL et al. (2003), *J Brief Therapy* 3(1):3-12 (an alliance cut-off that asks for a conversation).
    """
    domains = _domains(instrument, present=answers.columns)
    ordered = answers.sort_values([id, time], key=natural_key, kind="stable")
    item_values = ordered.reindex(columns=instrument.item_ids).astype(float)
    scores = pd.DataFrame({id: ordered[id].to_numpy(), time: ordered[time].to_numpy()})
    for domain, members in domains.items():
        scores[domain] = item_values[list(members)].mean(axis=1, skipna=True).to_numpy()
    scored = score_frame(instrument, item_values)
    scores[TOTAL_DOMAIN] = scored["total"].to_numpy(dtype=float)

    ids, times = scores[id].to_numpy(), scores[time].to_numpy()
    parts = []
    order = [*domains, TOTAL_DOMAIN]
    for domain in order:
        values = scores[domain].to_numpy(dtype=float)
        present = ~np.isnan(values)
        template = total_detector if domain == TOTAL_DOMAIN and total_detector is not None else detector
        copy = RuptureDetector(**template.get_params())._fit_sorted(ids[present], values[present])
        dips = copy._detect_sorted(ids[present], times[present], values[present])
        parts.append(_as_domain_rows(dips, domain=domain, rule="dip"))
    for domain in domains:
        low = scores[scores[domain] <= floor + _TOLERANCE]
        parts.append(_rule_rows(low, id=id, time=time, values=low[domain], domain=domain, rule="floor"))
    below = scored["severity"].astype(object).to_numpy() == cutoff_band
    flagged = scores[below]
    parts.append(
        _rule_rows(flagged, id=id, time=time, values=flagged[TOTAL_DOMAIN], domain=TOTAL_DOMAIN, rule="cutoff")
    )
    found = pd.concat(parts, ignore_index=True)
    found["_rule"] = found["rule"].map({"dip": 0, "floor": 1, "cutoff": 2})
    found["_domain"] = found["domain"].map({domain: rank for rank, domain in enumerate(order)})
    found = found.sort_values(["id", "time", "_rule", "_domain"], key=_sort_key, kind="stable")
    return found[list(DOMAIN_COLUMNS)].reset_index(drop=True)


def _domains(instrument: Instrument, *, present: Sequence[str] | pd.Index) -> dict[str, tuple[str, ...]]:
    """Group the instrument's items by domain, in definition order (items without a column are left out)."""
    groups: dict[str, list[str]] = {}
    for item in instrument.items:
        if item.id in present:
            groups.setdefault(item.domain or item.id, []).append(item.id)
    return {domain: tuple(members) for domain, members in groups.items()}


def _as_domain_rows(dips: pd.DataFrame, *, domain: str, rule: Rule) -> pd.DataFrame:
    rows = dips.drop(columns=["ended_at"]).copy()
    rows.insert(2, "domain", domain)
    rows.insert(3, "rule", rule)
    return rows


def _rule_rows(frame: pd.DataFrame, *, id: str, time: str, values: pd.Series, domain: str, rule: Rule) -> pd.DataFrame:
    count = len(frame)
    return pd.DataFrame(
        {
            "id": frame[id].to_numpy(),
            "time": frame[time].to_numpy(),
            "domain": [domain] * count,
            "rule": [rule] * count,
            "baseline": np.full(count, np.nan),
            "score": values.to_numpy(dtype=float),
            "drop": np.full(count, np.nan),
            "threshold": np.full(count, np.nan),
            "repaired_at": pd.array([None] * count, dtype="Int64"),
        }
    )


def _sort_key(column: pd.Series) -> pd.Series:
    return column if column.name in ("_rule", "_domain") else natural_key(column)
