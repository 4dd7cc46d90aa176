"""Score administrations of an instrument: totals, subscales, severity, risk and missing-data status.

Everything is computed column-wise over a DataFrame with one row per administration; ``score_one`` runs the
same code on a one-row frame.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from alliance.errors import InputError
from alliance.instruments.model import Instrument, Scale

__all__ = [
    "INSUFFICIENT",
    "OK",
    "PRORATED",
    "Score",
    "Status",
    "risk_flags",
    "score_frame",
    "score_one",
    "severity_of",
    "validate_answers",
]

Status = Literal["ok", "prorated", "insufficient"]
OK: Status = "ok"
PRORATED: Status = "prorated"
INSUFFICIENT: Status = "insufficient"


@dataclass(frozen=True)
class Score:
    """The score of one administration (see ``score_frame`` for what each field means)."""

    instrument: str
    total: float | None
    subscales: Mapping[str, float | None]
    severity: str | None
    risk: bool
    risk_messages: tuple[str, ...]
    status: Status


def score_frame(instrument: Instrument, answers: pd.DataFrame) -> pd.DataFrame:
    """Score every row of ``answers`` (one administration per row).

    Parameters
    ----------
    instrument:
        The instrument definition.
    answers:
        One float column per item, named by item id, NaN where unanswered; values already checked (see
        ``validate_answers``). Items outside every scale and risk rule may be left out. Other columns are
        ignored.

    Returns
    -------
    pandas.DataFrame
        Same index as ``answers``, with columns ``total``, one per subscale (named by its id, in definition
        order), ``severity`` (the id of the total's band, or None), ``risk`` (bool: any risk rule met,
        whatever the total) and ``status`` of the total: ``ok`` (nothing missing), ``prorated`` (missing
        items within the instrument's rule) or ``insufficient`` (more missing: the total is NaN, never 0).

    Notes
    -----
    Reverse-keyed items become ``item minimum + item maximum - answer`` first. A sum scale with missing
    items within its ``max_missing`` is the answered sum times ``n_items / n_answered`` (rounded half up when
    the instrument's rounding is ``half-up``); a mean scale is the mean of the answered items. Beyond
    ``max_missing`` the scale is NaN.

    References
    ----------
    .. [1] Mazza GL, Enders CK, Ruehlman LS (2015). Addressing item-level missing data: a comparison of
       proration and full information maximum likelihood estimation. Multivariate Behav Res 50(5):504-519.
    """
    frame, _ = _score(instrument, answers)
    return frame


def score_one(instrument: Instrument, answers: Mapping[str, float | None]) -> Score:
    """Score a single administration given as ``{item id: answer}``; absent or ``None`` answers are missing.

    Runs ``score_frame`` on a one-row frame. Raises ``ValueError`` for a key that is not an item id.
    """
    unknown = sorted(set(answers) - set(instrument.item_ids))
    if unknown:
        raise ValueError(f"instrument {instrument.id!r} has no item {unknown[0]!r}")
    row = {
        item_id: [math.nan if answers.get(item_id) is None else float(answers[item_id])]  # type: ignore[arg-type]
        for item_id in instrument.item_ids
    }
    frame, flags = _score(instrument, pd.DataFrame(row, dtype=float))
    first = frame.iloc[0]

    def number(value: float) -> float | None:
        return None if math.isnan(value) else float(value)

    return Score(
        instrument=instrument.id,
        total=number(first["total"]),
        subscales=MappingProxyType({scale.id: number(first[scale.id]) for scale in instrument.subscales}),
        severity=None if pd.isna(first["severity"]) else str(first["severity"]),
        risk=bool(first["risk"]),
        risk_messages=tuple(str(message) for message in flags.columns[flags.iloc[0].to_numpy(dtype=bool)]),
        status=first["status"],
    )


def risk_flags(instrument: Instrument, answers: pd.DataFrame) -> pd.DataFrame:
    """Return one boolean column per risk message key: whether any rule with that key holds in each row.

    A missing answer meets no rule (it shows in the status instead).
    """
    flags: dict[str, npt.NDArray[np.bool_]] = {}
    for rule in instrument.risk:
        values = answers[rule.item].to_numpy(dtype=float)
        with np.errstate(invalid="ignore"):
            held = np.array(_COMPARE[rule.operator](values, rule.threshold), dtype=bool) & ~np.isnan(values)
        flags[rule.message] = flags.get(rule.message, np.zeros(len(answers), dtype=bool)) | held
    return pd.DataFrame(flags, index=answers.index, dtype=bool)


def severity_of(instrument: Instrument, totals: npt.ArrayLike) -> npt.NDArray[np.object_]:
    """Return the severity band id of each total (None where the total is missing or there are no bands).

    A total belongs to the last band whose lower bound (``from``) is at or below it: for integer totals that
    is the inclusive range ``from``..``to``; for continuous totals (means) a band runs from its ``from`` up to
    the next band's ``from``, and the last band includes its ``to``.
    """
    values = np.atleast_1d(np.asarray(totals, dtype=float))
    result = np.full(values.shape, None, dtype=object)
    if not instrument.severity:
        return result
    lowers = np.array([band.lower for band in instrument.severity], dtype=float)
    ids = np.array([band.id for band in instrument.severity], dtype=object)
    position = np.searchsorted(lowers, values, side="right") - 1
    known = ~np.isnan(values) & (position >= 0)
    result[known] = ids[position[known]]
    return result


def validate_answers(instrument: Instrument, frame: pd.DataFrame, *, file: str) -> pd.DataFrame:
    """Check the answer columns of ``frame`` and return them as floats (NaN where empty).

    ``frame`` may hold text (as read by ``interop.csvio.read_table``) or numbers. Every item a score needs
    must have a column; optional items are checked when present. Each value must be one of its item's option
    values. Raises ``InputError`` naming ``file``, the 1-based data row and the column of the first bad value:
    a missing column, a value that is not a number, not a whole number where the options are, out of the
    item's range, or not one of its options.
    """
    for item_id in instrument.required_item_ids:
        if item_id not in frame.columns:
            raise InputError(
                f"missing item column (instrument {instrument.id} needs: {', '.join(instrument.required_item_ids)})",
                file=file,
                column=item_id,
            )
    columns: dict[str, pd.Series] = {}
    for item in instrument.items:
        if item.id not in frame.columns:
            continue
        raw = frame[item.id]
        shown = raw.astype(object).to_numpy()
        if pd.api.types.is_numeric_dtype(raw.dtype) and not pd.api.types.is_bool_dtype(raw.dtype):
            values = raw.to_numpy(dtype=float)
            not_number = np.zeros(len(raw), dtype=bool)
        else:
            text = raw.astype("string").str.strip()
            empty = (text.isna() | (text == "")).to_numpy(dtype=bool)
            values = pd.to_numeric(text.mask(empty), errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            not_number = np.isnan(values) & ~empty
        allowed = np.array(item.values, dtype=float)
        allowed_text = ", ".join(f"{value:g}" for value in item.values)
        answered = ~np.isnan(values)
        with np.errstate(invalid="ignore"):
            checks = [
                (not_number, "not a number: {!r}"),
                (answered & ~np.isfinite(values), "not a finite number: {!r}"),
                (
                    answered & np.isfinite(values) & (values != np.round(values))
                    if all(float(v).is_integer() for v in item.values)
                    else np.zeros(len(values), dtype=bool),
                    "not a whole number: {!r} (allowed: " + allowed_text + ")",
                ),
                (
                    answered & ((values < item.minimum) | (values > item.maximum)),
                    "value {!r} is out of range (" + f"{item.minimum:g} to {item.maximum:g})",
                ),
                (
                    answered & ~np.isin(values, allowed),
                    "value {!r} is not an allowed answer (allowed: " + allowed_text + ")",
                ),
            ]
        for bad, message in checks:
            if bad.any():
                position = int(np.argmax(bad))
                cell = str(shown[position]).strip()
                raise InputError(message.format(cell), file=file, row=position + 1, column=item.id)
        columns[item.id] = pd.Series(values, index=frame.index, dtype=float)
    return pd.DataFrame(columns, index=frame.index)


_COMPARE = {
    ">": np.greater,
    ">=": np.greater_equal,
    "<": np.less,
    "<=": np.less_equal,
    "==": np.equal,
    "!=": np.not_equal,
}


def _score(instrument: Instrument, answers: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    absent = [item_id for item_id in instrument.required_item_ids if item_id not in answers.columns]
    if absent:
        raise ValueError(f"answers lack item column(s) {', '.join(absent)} of instrument {instrument.id!r}")
    scores: dict[str, npt.NDArray[np.float64]] = {}
    total_missing = np.zeros(len(answers), dtype=int)
    for scale in instrument.scales:
        scores[scale.id], n_missing = _scale_score(instrument, scale, answers)
        if scale.id == "total":
            total_missing = n_missing
    total = instrument.total
    status = np.select(
        [total_missing == 0, total_missing <= total.max_missing],
        [OK, PRORATED],
        default=INSUFFICIENT,
    ).astype(object)
    flags = risk_flags(instrument, answers)
    frame = pd.DataFrame(
        {
            "total": scores["total"],
            **{scale.id: scores[scale.id] for scale in instrument.subscales},
            "severity": pd.Series(severity_of(instrument, scores["total"]), index=answers.index, dtype=object),
            "risk": flags.any(axis=1).to_numpy(dtype=bool),
            "status": pd.Series(status, index=answers.index, dtype=object),
        },
        index=answers.index,
    )
    return frame, flags


def _scale_score(
    instrument: Instrument, scale: Scale, answers: pd.DataFrame
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int_]]:
    """Return the scale's score per row (NaN when too many items are missing) and the missing count."""
    matrix = answers.loc[:, list(scale.items)].to_numpy(dtype=float, copy=True)
    for column, item_id in enumerate(scale.items):
        if item_id in scale.reverse:
            item = instrument.item(item_id)
            matrix[:, column] = item.minimum + item.maximum - matrix[:, column]
    answered = ~np.isnan(matrix)
    n_items = len(scale.items)
    n_answered = answered.sum(axis=1)
    n_missing = n_items - n_answered
    sums = np.where(answered, matrix, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        if scale.method == "sum":
            # sum * n / k (not mean * n): integer sums stay exact, so an exact x.5 rounds up reliably.
            prorated = sums * n_items / n_answered
            if instrument.missing_data.rounding == "half-up":
                prorated = np.floor(prorated + 0.5)
            score = np.where(n_missing == 0, sums, prorated)
        else:
            score = sums / n_answered
    usable = (n_missing <= scale.max_missing) & (n_answered > 0)
    return np.where(usable, score, np.nan), n_missing
