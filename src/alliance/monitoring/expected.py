"""Expected treatment response: is this client on track, compared with similar clients of the same practice?

Fitted from the practice's own history: for each intake score and each session, the spread of the scores of the
``neighbours`` (25) clients whose intake was nearest. A client is *red* when worse than 90% of those clients were
at that session, *amber* when worse than 75% of them, else *green*. With too little history (fewer than
``min_clients`` clients) the model falls back to a rational rule based on reliable change. Either way the model
states how much data it rests on (:meth:`ExpectedResponse.to_json`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal, cast

import numpy as np
import pandas as pd
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from alliance.change.ordering import natural_key
from alliance.errors import AllianceError, InputError

__all__ = [
    "FLAG_COLUMNS",
    "FORMAT",
    "REQUIRED_QUANTILES",
    "ExpectedResponse",
    "ModelError",
]

Better = Literal["lower", "higher"]
Kind = Literal["empirical", "rational"]
Status = Literal["green", "amber", "red"]

FORMAT = "alliance-etr/1"
"""The version tag of the saved model (``format`` in its JSON)."""
FLAG_COLUMNS = ("id", "time", "expected", "lower", "upper", "status")
"""Columns of :meth:`ExpectedResponse.flag`."""
REQUIRED_QUANTILES = (0.10, 0.25, 0.50, 0.75, 0.90)
"""Quantiles the status needs: the median (expected), 10th/90th (band, red) and 25th/75th (amber)."""

# Two-sided 5% critical value of the reliable change index (Jacobson & Truax 1991).
_Z = 1.96
_TOLERANCE = 1e-9


class ModelError(AllianceError):
    """A saved expected-response model that cannot be used; names the file and the JSON field."""

    def __init__(self, message: str, *, field: str = "", file: str | None = None) -> None:
        self.message = message
        self.field = field
        self.file = file
        super().__init__(str(self))

    def __str__(self) -> str:
        where = [part for part in (self.file, f"field '{self.field}'" if self.field else "") if part]
        return ", ".join(where) + ": " + self.message if where else self.message

    def located(self, *, file: str) -> ModelError:
        """Return a copy of this error that also names ``file``."""
        return ModelError(self.message, field=self.field, file=file)


class ExpectedResponse:
    """Expected score by session given the intake score, fitted from a practice's own history.

    Parameters (only stored here, scikit-learn style; checked by :meth:`fit`):

    Parameters
    ----------
    better:
        ``"lower"`` (default: PHQ-9, GAD-7, BDI, OQ-45) or ``"higher"`` (ORS, WHO-5).
    min_clients:
        Fewest clients with an intake score for the empirical model (default 30); fewer gives the rational
        fallback.
    neighbours:
        How many clients with the nearest intake score make each cell of the table (default 25).
    quantiles:
        Quantiles stored per cell; must include 0.10, 0.25, 0.50, 0.75 and 0.90.
    fallback_session:
        From this session on, the rational fallback is amber unless the client has reliably improved
        (default 4).
    reliability:
        Reliability of the measure for the fallback's reliable change value (default 0.85).
    random_state:
        ``None`` (default): clients equally near an intake score are taken in id order; an integer: in an order
        shuffled with that seed. Either way the result is reproducible.

    Attributes
    ----------
    kind_ : {"empirical", "rational"}
        Which model was fitted; ``reason_`` says why when it is the fallback.
    n_clients_, n_observations_ : int
        Clients with a session-1 (intake) score, and their scores at any session, in the history.
    n_skipped_ : int
        Clients in the history without a session-1 score (not used: nothing to condition on).
    sessions_ : tuple of int
        Sessions 1..T of the table, T the last session up to which every session has at least ``neighbours``
        scores (empty for the fallback).
    intakes_ : tuple of int
        The intake grid: whole numbers covering the observed intake range (empty for the fallback).
    table_ : pandas.DataFrame or None
        One row per intake and session: ``intake``, ``session`` and one column per quantile (``q10``, ...).
    intake_sd_, reliable_change_ : float
        SD of the intake scores and the reliable change value ``1.96 * sqrt(2) * SD * sqrt(1 - reliability)``.
    fitted_at_ : str
        When it was fitted (ISO 8601, UTC).

    References
    ----------
    Finch AE, Lambert MJ, Schaalje BG (2001). Psychotherapy quality control: the statistical generation of
    expected recovery curves for integration into an early warning system. *Clin Psychol Psychother*
    8(4):231-242.
    Lambert MJ, Whipple JL, Kleinstäuber M (2018). Collecting and delivering progress feedback: a meta-analysis
    of routine outcome monitoring. *Psychotherapy* 55(4):520-537.
    Jacobson NS, Truax P (1991). Clinical significance: a statistical approach to defining meaningful change in
    psychotherapy research. *JCCP* 59(1):12-19.
    """

    kind_: Kind
    reason_: str
    n_clients_: int
    n_observations_: int
    n_skipped_: int
    sessions_: tuple[int, ...]
    intakes_: tuple[int, ...]
    table_: pd.DataFrame | None
    intake_sd_: float
    reliable_change_: float
    fitted_at_: str

    def __init__(
        self,
        better: Better = "lower",
        min_clients: int = 30,
        neighbours: int = 25,
        quantiles: Sequence[float] = REQUIRED_QUANTILES,
        fallback_session: int = 4,
        reliability: float = 0.85,
        random_state: int | None = None,
    ) -> None:
        self.better = better
        self.min_clients = min_clients
        self.neighbours = neighbours
        self.quantiles = quantiles
        self.fallback_session = fallback_session
        self.reliability = reliability
        self.random_state = random_state

    def get_params(self) -> dict[str, Any]:
        """Return the parameters given to ``__init__``."""
        return {
            "better": self.better,
            "min_clients": self.min_clients,
            "neighbours": self.neighbours,
            "quantiles": list(self.quantiles),
            "fallback_session": self.fallback_session,
            "reliability": self.reliability,
            "random_state": self.random_state,
        }

    def __repr__(self) -> str:
        params = ", ".join(f"{name}={value!r}" for name, value in self.get_params().items())
        return f"ExpectedResponse({params})"

    # --- fitting ------------------------------------------------------------------------------------------

    def fit(self, frame: pd.DataFrame, *, id: str, time: str, score: str) -> ExpectedResponse:
        """Learn the expected path and its spread from a history of episodes.

        Parameters
        ----------
        frame:
            Long table, one row per client and session; ``time`` is the session number from 1 (the intake),
            ``score`` NaN where missing (skipped).
        id, time, score:
            Names of the client, session and score columns.

        Returns
        -------
        ExpectedResponse
            ``self``.

        Raises
        ------
        InputError
            Fewer than two clients have a session-1 score (not even the fallback's SD can be computed).

        Notes
        -----
        Like MyOutcomes' mean path of the clients with the same intake score ± 1 (REFERENCE §7), but
        with a fixed number of neighbours instead of a fixed width, so every cell rests on the same amount of
        data: for each whole-number intake ``g`` in the observed range and each session ``s`` in 1..T, the
        ``neighbours`` clients with a score at ``s`` whose intake is nearest to ``g`` (ties in the order set by
        ``random_state``) give the empirical quantiles (numpy's default, linear interpolation: R's type 7)
        of their scores at ``s``. T is the last session up to which every session has at least
        ``neighbours`` scores, so no cell rests on fewer.

        The fallback (``kind_ == "rational"``) is used with fewer than ``min_clients`` clients, or when
        not even session 2 has ``neighbours`` scores.
        """
        self._check_params()
        data = frame.loc[frame[score].notna(), [id, time, score]]
        sessions = data[time].to_numpy(dtype=float)
        intake = data.loc[sessions == 1].drop_duplicates(subset=[id], keep="last").set_index(id)[score]
        known = data[data[id].isin(intake.index)]
        self.n_clients_ = len(intake)
        self.n_observations_ = len(known)
        self.n_skipped_ = int(data[id].nunique() - len(intake))
        if self.n_clients_ < 2:
            raise InputError(
                f"at least 2 clients with a session-1 score are needed to fit an expected response, "
                f"found {self.n_clients_}",
                column=score,
            )
        intakes = intake.to_numpy(dtype=float)
        self.intake_sd_ = float(np.std(intakes, ddof=1))
        self.reliable_change_ = _Z * math.sqrt(2.0) * self.intake_sd_ * math.sqrt(1.0 - self.reliability)
        self.fitted_at_ = datetime.now(UTC).isoformat(timespec="seconds")

        counts = known.groupby(time).size()
        last = 0
        while counts.get(last + 1, 0) >= self.neighbours:
            last += 1
        if self.n_clients_ < self.min_clients or last < 2:
            self.kind_ = "rational"
            self.reason_ = (
                f"{self.n_clients_} clients with an intake score, fewer than min_clients = {self.min_clients}"
                if self.n_clients_ < self.min_clients
                else f"fewer than neighbours = {self.neighbours} scores at session 2"
            )
            self.sessions_, self.intakes_, self.table_ = (), (), None
            return self
        self.kind_ = "empirical"
        self.reason_ = ""
        self.sessions_ = tuple(range(1, last + 1))
        self.intakes_ = tuple(range(math.floor(intakes.min()), math.ceil(intakes.max()) + 1))
        self.table_ = self._table(known, intake, id=id, time=time, score=score)
        return self

    def _table(self, known: pd.DataFrame, intake: pd.Series, *, id: str, time: str, score: str) -> pd.DataFrame:
        # Tie order: clients in id order, or shuffled by the seed; a stable sort by distance then keeps it.
        clients = pd.Index(pd.Series(intake.index).sort_values(key=natural_key, kind="stable"))
        if self.random_state is not None:
            clients = clients[np.random.default_rng(self.random_state).permutation(len(clients))]
        rank = pd.Series(np.arange(len(clients)), index=clients)
        grid = np.asarray(self.intakes_, dtype=float)
        levels = np.asarray(self.quantiles, dtype=float)
        blocks = []
        for session in self.sessions_:
            at = known[known[time].to_numpy(dtype=float) == session].drop_duplicates(subset=[id], keep="last")
            at = at.iloc[np.argsort(rank.loc[at[id]].to_numpy(), kind="stable")]
            their_intake = intake.loc[at[id]].to_numpy(dtype=float)
            scores = at[score].to_numpy(dtype=float)
            distance = np.abs(grid[:, np.newaxis] - their_intake[np.newaxis, :])
            nearest = np.argsort(distance, axis=1, kind="stable")[:, : self.neighbours]
            # Rounded to 9 places so that 21.2 is not written as 21.200000000000003.
            values = np.round(np.quantile(scores[nearest], levels, axis=1).T, 9)  # one row per grid value
            block = pd.DataFrame(values, columns=[_column(q) for q in levels])
            block.insert(0, "intake", np.asarray(self.intakes_, dtype="int64"))
            block.insert(1, "session", session)
            blocks.append(block)
        return pd.concat(blocks, ignore_index=True).sort_values(["intake", "session"], ignore_index=True)

    # --- using it -----------------------------------------------------------------------------------------

    def band(self, intake: float, *, sessions: Iterable[int]) -> pd.DataFrame:
        """Return the expected score and band for a client with this ``intake`` at each of ``sessions``.

        Columns ``session``, ``expected`` (median), ``lower`` and ``upper`` (10th and 90th percentiles; for
        the fallback: intake ± the reliable change value), ``amber`` (the 75th percentile when lower is
        better, else the 25th; for the fallback: the intake). For drawing the band behind a client's line.
        """
        wanted = np.asarray(list(sessions), dtype=float)
        expected, lower, upper, amber, _ = self._reference(np.full(len(wanted), float(intake)), wanted)
        return pd.DataFrame(
            {"session": wanted.astype("int64"), "expected": expected, "lower": lower, "upper": upper, "amber": amber}
        )

    def flag(self, frame: pd.DataFrame, *, id: str, time: str, score: str, at: int | None = None) -> pd.DataFrame:
        """Judge each score against the expected response of clients with the same intake.

        Parameters
        ----------
        frame:
            Long table, one row per client and session (``time`` from 1); a client's intake is their session-1
            score.
        id, time, score:
            Names of the client, session and score columns.
        at:
            Only judge this session (one row per client that has a score there).

        Returns
        -------
        pandas.DataFrame
            Columns :data:`FLAG_COLUMNS`, sorted by id then time; one row per score of a client who has an
            intake score. Rows without a score, and every row of a client without a session-1 score, are left
            out (nothing to judge, or nothing to judge against).

        Notes
        -----
        Empirical model, lower is better: *red* when the score is above the 90th percentile of the clients
        with the nearest intake at that session (worse than 9 in 10 of them), *amber* when above the 75th,
        else *green*; mirrored (below the 10th, below the 25th) when higher is better. ``expected`` is the
        median, ``lower`` and ``upper`` the 10th and 90th percentiles. The intake is rounded (half up) to the
        grid and held within it; sessions after the last fitted one use the last one.

        Rational fallback: ``expected`` is the intake and the band is intake ± RC, the reliable change value.
        *Red* when reliably worse than the intake (a change beyond RC in the bad direction), *amber* from
        ``fallback_session`` on when not reliably better, else *green* (REFERENCE §7).
        """
        if not hasattr(self, "kind_"):
            raise ValueError("this ExpectedResponse is not fitted yet: call fit() or from_json() first")
        data = frame.loc[frame[score].notna(), [id, time, score]]
        times = data[time].to_numpy(dtype=float)
        intake = data.loc[times == 1].drop_duplicates(subset=[id], keep="last").set_index(id)[score]
        judged = data[data[id].isin(intake.index)]
        if at is not None:
            judged = judged[judged[time].to_numpy(dtype=float) == at]
        judged = judged.sort_values([id, time], key=natural_key, kind="stable")
        client_intake = intake.loc[judged[id]].to_numpy(dtype=float)
        sessions = judged[time].to_numpy(dtype=float)
        values = judged[score].to_numpy(dtype=float)
        expected, lower, upper, amber, red = self._reference(client_intake, sessions)
        sign = 1.0 if self.better == "lower" else -1.0  # worse = sign * (score - reference) > 0
        if self.kind_ == "empirical":
            is_red = sign * (values - red) > _TOLERANCE
            is_amber = sign * (values - amber) > _TOLERANCE
        else:
            change = sign * (values - client_intake)
            is_red = change > self.reliable_change_ + _TOLERANCE
            reliably_better = -change > self.reliable_change_ + _TOLERANCE
            is_amber = (sessions >= self.fallback_session) & ~reliably_better
        status = np.where(is_red, "red", np.where(is_amber, "amber", "green"))
        return pd.DataFrame(
            {
                "id": judged[id].to_numpy(),
                "time": judged[time].to_numpy(),
                "expected": expected,
                "lower": lower,
                "upper": upper,
                "status": status.astype(object),
            }
        )

    def _reference(
        self, intake: np.ndarray, sessions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Return expected, lower, upper, amber line and red line for each (intake, session)."""
        if self.kind_ == "rational":
            rc = self.reliable_change_
            red = intake + (rc if self.better == "lower" else -rc)
            return intake.copy(), intake - rc, intake + rc, intake.copy(), red
        table = self.table_
        if table is None:
            raise ValueError("an empirical model needs its table")
        grid_low, grid_high = self.intakes_[0], self.intakes_[-1]
        row = np.clip(np.floor(intake + 0.5), grid_low, grid_high).astype(int) - grid_low
        column = np.clip(sessions, 1, self.sessions_[-1]).astype(int) - 1
        position = row * len(self.sessions_) + column

        def quantile(level: float) -> np.ndarray:
            return np.asarray(table[_column(level)].to_numpy(dtype=float)[position], dtype=float)

        lower, upper = quantile(0.10), quantile(0.90)
        if self.better == "lower":
            return quantile(0.50), lower, upper, quantile(0.75), upper
        return quantile(0.50), lower, upper, quantile(0.25), lower

    # --- saving and loading -------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """Return the fitted model as a JSON-ready dictionary (schema ``alliance-etr/1``).

        It states what the model rests on: ``kind`` (and ``reason`` for the fallback), ``fitted_at``, the
        ``parameters`` and ``data`` (clients, observations, skipped clients, sessions, intake range and SD,
        the reliable change value), and the quantile ``table`` (``null`` for the fallback).
        """
        if not hasattr(self, "kind_"):
            raise ValueError("this ExpectedResponse is not fitted yet: call fit() first")
        table = None
        if self.table_ is not None:
            columns = ["intake", "session", *(_column(q) for q in self.quantiles)]
            rows = [
                [int(row[0]), int(row[1]), *(float(v) for v in row[2:])]
                for row in self.table_[columns].itertuples(index=False, name=None)
            ]
            table = {"columns": columns, "rows": rows}
        return {
            "format": FORMAT,
            "kind": self.kind_,
            "reason": self.reason_,
            "fitted_at": self.fitted_at_,
            "parameters": self.get_params(),
            "data": {
                "clients": self.n_clients_,
                "observations": self.n_observations_,
                "skipped_clients": self.n_skipped_,
                "sessions": list(self.sessions_),
                "intakes": list(self.intakes_),
                "intake_sd": self.intake_sd_,
                "reliable_change": self.reliable_change_,
            },
            "table": table,
        }

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> ExpectedResponse:
        """Rebuild a fitted model from :meth:`to_json`'s dictionary, checking every field.

        Raises
        ------
        ModelError
            Naming the first field that is missing, of the wrong type or inconsistent.
        """
        if not isinstance(document, Mapping):
            raise ModelError(f"must be a JSON object, not {type(document).__name__}")
        if document.get("format") != FORMAT:
            raise ModelError(f"must be {json.dumps(FORMAT)} (not a model this version can read)", field="format")
        error = best_match(_VALIDATOR.iter_errors(document))
        if error is not None:
            path = [str(part) for part in error.absolute_path]
            if error.validator == "required":
                missing = next(name for name in error.validator_value if name not in error.instance)
                raise ModelError("is missing", field=".".join([*path, missing]))
            raise ModelError(_schema_message(error), field=".".join(path))
        parameters = document["parameters"]
        model = cls(
            better=parameters["better"],
            min_clients=parameters["min_clients"],
            neighbours=parameters["neighbours"],
            quantiles=tuple(float(q) for q in parameters["quantiles"]),
            fallback_session=parameters["fallback_session"],
            reliability=float(parameters["reliability"]),
            random_state=parameters["random_state"],
        )
        try:
            model._check_params()
        except ValueError as exc:
            raise ModelError(str(exc), field="parameters") from None
        data = document["data"]
        model.kind_ = cast(Kind, document["kind"])
        model.reason_ = str(document["reason"])
        model.fitted_at_ = str(document["fitted_at"])
        model.n_clients_ = int(data["clients"])
        model.n_observations_ = int(data["observations"])
        model.n_skipped_ = int(data["skipped_clients"])
        model.sessions_ = tuple(int(s) for s in data["sessions"])
        model.intakes_ = tuple(int(i) for i in data["intakes"])
        model.intake_sd_ = float(data["intake_sd"])
        model.reliable_change_ = float(data["reliable_change"])
        model.table_ = _table_from_json(document, model)
        return model

    def _check_params(self) -> None:
        if self.better not in ("lower", "higher"):
            raise ValueError(f"better must be 'lower' or 'higher', not {self.better!r}")
        for name, low in (("min_clients", 2), ("neighbours", 1), ("fallback_session", 1)):
            value = getattr(self, name)
            if not isinstance(value, int | np.integer) or isinstance(value, bool) or value < low:
                raise ValueError(f"{name} must be a whole number of at least {low}, not {value!r}")
        levels = [float(q) for q in self.quantiles]
        if any(not 0 < q < 1 for q in levels) or levels != sorted(set(levels)):
            raise ValueError(f"quantiles must be increasing numbers between 0 and 1, not {self.quantiles!r}")
        if not set(REQUIRED_QUANTILES) <= set(levels):
            raise ValueError(f"quantiles must include {', '.join(map(str, REQUIRED_QUANTILES))}")
        if not 0 <= self.reliability < 1:
            raise ValueError(f"reliability must be at least 0 and below 1, not {self.reliability!r}")
        if self.random_state is not None and (
            not isinstance(self.random_state, int | np.integer) or isinstance(self.random_state, bool)
        ):
            raise ValueError(f"random_state must be None or a whole number, not {self.random_state!r}")


def _column(level: float) -> str:
    """Name of a quantile's column: 0.1 -> ``q10``, 0.125 -> ``q12.5``."""
    return f"q{round(level * 100, 6):g}"


_NUMBER = {"type": "number"}
_COUNT = {"type": "integer", "minimum": 0}
_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["format", "kind", "reason", "fitted_at", "parameters", "data", "table"],
    "properties": {
        "format": {"const": FORMAT},
        "kind": {"enum": ["empirical", "rational"]},
        "reason": {"type": "string"},
        "fitted_at": {"type": "string", "minLength": 1},
        "parameters": {
            "type": "object",
            "required": [
                "better",
                "min_clients",
                "neighbours",
                "quantiles",
                "fallback_session",
                "reliability",
                "random_state",
            ],
            "properties": {
                "better": {"enum": ["lower", "higher"]},
                "min_clients": {"type": "integer", "minimum": 2},
                "neighbours": {"type": "integer", "minimum": 1},
                "quantiles": {"type": "array", "items": _NUMBER, "minItems": 5},
                "fallback_session": {"type": "integer", "minimum": 1},
                "reliability": {"type": "number", "minimum": 0, "exclusiveMaximum": 1},
                "random_state": {"type": ["integer", "null"]},
            },
        },
        "data": {
            "type": "object",
            "required": [
                "clients",
                "observations",
                "skipped_clients",
                "sessions",
                "intakes",
                "intake_sd",
                "reliable_change",
            ],
            "properties": {
                "clients": {"type": "integer", "minimum": 2},
                "observations": _COUNT,
                "skipped_clients": _COUNT,
                "sessions": {"type": "array", "items": {"type": "integer", "minimum": 1}},
                "intakes": {"type": "array", "items": {"type": "integer"}},
                "intake_sd": {"type": "number", "minimum": 0},
                "reliable_change": {"type": "number", "minimum": 0},
            },
        },
        "table": {
            "type": ["object", "null"],
            "required": ["columns", "rows"],
            "properties": {
                "columns": {"type": "array", "items": {"type": "string"}},
                "rows": {"type": "array", "items": {"type": "array", "items": _NUMBER}},
            },
        },
    },
}
_VALIDATOR = Draft202012Validator(_SCHEMA)


def _schema_message(error: Any) -> str:
    """Say what the field must be, without echoing its (possibly long) value."""
    rule, expected = error.validator, error.validator_value
    if rule == "type":
        return f"must be of type {' or '.join(expected) if isinstance(expected, list) else expected}"
    if rule == "enum":
        return "must be one of " + ", ".join(json.dumps(value) for value in expected)
    if rule == "const":
        return f"must be {json.dumps(expected)}"
    if rule == "minimum":
        return f"must be at least {expected}"
    if rule == "exclusiveMaximum":
        return f"must be below {expected}"
    if rule == "minItems":
        return f"must have at least {expected} entries"
    if rule == "minLength":
        return "must not be empty"
    return str(error.message)[:120]


def _table_from_json(document: Mapping[str, Any], model: ExpectedResponse) -> pd.DataFrame | None:
    """Check the table against kind, sessions, intakes and quantiles; return it as a DataFrame."""
    table = document["table"]
    if model.kind_ == "rational":
        if table is not None:
            raise ModelError("must be null for a rational (fallback) model", field="table")
        if model.sessions_ or model.intakes_:
            raise ModelError("must be empty for a rational (fallback) model", field="data.sessions")
        return None
    if table is None:
        raise ModelError("is missing: an empirical model needs its quantile table", field="table")
    if model.sessions_ != tuple(range(1, len(model.sessions_) + 1)) or not model.sessions_:
        raise ModelError("must be the sessions 1, 2, ..., T", field="data.sessions")
    if model.intakes_ != tuple(range(model.intakes_[0], model.intakes_[0] + len(model.intakes_))):
        raise ModelError("must be consecutive whole numbers", field="data.intakes")
    columns = ["intake", "session", *(_column(q) for q in model.quantiles)]
    if list(table["columns"]) != columns:
        raise ModelError(f"must be {columns}", field="table.columns")
    rows = table["rows"]
    expected_rows = len(model.sessions_) * len(model.intakes_)
    if len(rows) != expected_rows:
        raise ModelError(f"has {len(rows)} rows, expected {expected_rows} (intakes x sessions)", field="table.rows")
    for number, row in enumerate(rows):
        if len(row) != len(columns):
            raise ModelError(f"has {len(row)} values, expected {len(columns)}", field=f"table.rows.{number}")
    frame = pd.DataFrame(rows, columns=columns)
    frame["intake"] = frame["intake"].astype("int64")
    frame["session"] = frame["session"].astype("int64")
    grid = pd.MultiIndex.from_product([model.intakes_, model.sessions_])
    if not pd.MultiIndex.from_frame(frame[["intake", "session"]]).equals(grid):
        raise ModelError("must list every intake x session once, sorted by intake then session", field="table.rows")
    values = frame[columns[2:]].to_numpy(dtype=float)
    if not np.isfinite(values).all():
        raise ModelError("holds a value that is not a finite number", field="table.rows")
    if (np.diff(values, axis=1) < -_TOLERANCE).any():
        bad = int(np.flatnonzero((np.diff(values, axis=1) < -_TOLERANCE).any(axis=1))[0])
        raise ModelError("quantiles must not decrease along the row", field=f"table.rows.{bad}")
    return frame
