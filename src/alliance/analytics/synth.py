"""Synthetic practice data at scale: clients, episodes, appointments and check-ins in the analytics contract.

Everything is drawn with whole-array numpy operations, a block of clients at a time, and written as Parquet with
pyarrow (no Python loop over clients or sessions). The parameters come from the literature, with sources in
``docs/synthetic-data.md``; :data:`PARAMETERS` names them so the tests can check that the data recovers them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from alliance.analytics.schema import AGE_BANDS, ALLIANCE_ITEMS, GENDERS, TABLES, arrow_schema

__all__ = ["PARAMETERS", "SynthSummary", "write_synthetic"]

PARAMETERS = {
    "recovery": 0.50,  # NHS Talking Therapies national recovery rate (target 50%)
    "alliance_outcome_r": 0.28,  # Flückiger et al. 2018 meta-analysis
    "rupture_share": 0.50,  # ruptures in about half of therapies (lenient criterion)
    "therapist_icc": 0.05,  # Baldwin & Imel 2013: ~5% of outcome variance between therapists
    "recovery_white_british": 0.51,  # NHS TT 2021/22
    "recovery_pakistani": 0.351,  # NHS TT 2021/22
    "dna_rate": 0.10,
    "unplanned_endings": 0.35,
}
"""The targets the generator is calibrated to (see ``docs/synthetic-data.md``)."""

_BLOCK = 50_000  # clients generated and written at a time
_CLIENTS_PER_THERAPIST = 50
_THERAPISTS_PER_TEAM = 8
_TEAMS_PER_PRACTICE = 4

# NHS ethnic category: White British (A) most; J = Pakistani. Shares of referrals, roughly the 2021 census.
_ETHNICITY_P = {
    "A": 0.745, "B": 0.01, "C": 0.06, "D": 0.005, "E": 0.005, "F": 0.005, "G": 0.01, "H": 0.03, "J": 0.025,
    "K": 0.01, "L": 0.015, "M": 0.01, "N": 0.025, "P": 0.005, "R": 0.005, "S": 0.015, "Z": 0.02,
}  # fmt: skip
# Shift of the improvement propensity per group (calibrated so that recovery gaps match NHS TT reports).
_ETHNICITY_SHIFT = {"A": 0.0, "B": 0.0, "C": -0.04, "H": -0.09, "J": -0.19, "K": -0.2, "L": -0.1, "M": -0.1,
                    "N": -0.1, "P": -0.1, "R": -0.04, "S": -0.1, "Z": -0.04}  # fmt: skip
_LANGUAGES = {"en": 0.92, "pl": 0.015, "ur": 0.012, "pa": 0.01, "bn": 0.008, "ro": 0.01, "ar": 0.008, "es": 0.007,
              "pt": 0.005, "so": 0.005}  # fmt: skip
_AGE_P = (0.22, 0.25, 0.19, 0.16, 0.11, 0.07)
_AGE_SHIFT = (-0.07, -0.02, 0.0, 0.015, 0.05, 0.1)
_GENDER_P = (0.65, 0.33, 0.01, 0.01)
_DEPRIVATION_P = (0.25, 0.23, 0.20, 0.17, 0.15)
_DEPRIVATION_SHIFT = (-0.08, -0.04, 0.0, 0.03, 0.06)
_START = np.datetime64("2023-01-02")
_SPAN_DAYS = 900


@dataclass(frozen=True)
class SynthSummary:
    """What was written: row counts per table and the files."""

    rows: dict[str, int]
    files: dict[str, Path]


def write_synthetic(clients: int, out: str | Path, *, seed: int = 2026) -> SynthSummary:
    """Draw ``clients`` clients (one episode each) and write ``<table>.parquet`` for the four tables into ``out``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if clients < 1:
        raise ValueError("--clients must be at least 1")
    directory = Path(out)
    directory.mkdir(parents=True, exist_ok=True)
    root = np.random.SeedSequence(seed)
    structure_seed, *block_seeds = root.spawn(1 + -(-clients // _BLOCK))
    structure = _Structure(clients, np.random.default_rng(structure_seed))
    files = {name: directory / f"{name}.parquet" for name in TABLES}
    schemas = {name: arrow_schema(name) for name in TABLES}
    writers = {name: pq.ParquetWriter(files[name], schemas[name]) for name in TABLES}
    rows = dict.fromkeys(TABLES, 0)
    try:
        for block, (first, last) in zip(block_seeds, _blocks(clients), strict=True):
            tables = _block(first, last, structure, np.random.default_rng(block))
            for name, columns in tables.items():
                table = pa.table(columns, schema=schemas[name])
                writers[name].write_table(table)
                rows[name] += table.num_rows
    finally:
        for writer in writers.values():
            writer.close()
    return SynthSummary(rows=rows, files=files)


def _blocks(clients: int) -> Iterator[tuple[int, int]]:
    for first in range(0, clients, _BLOCK):
        yield first, min(clients, first + _BLOCK)


class _Structure:
    """Practices, teams and therapists, with each therapist's effect on improvement (shared by all blocks)."""

    def __init__(self, clients: int, rng: np.random.Generator) -> None:
        self.therapists = max(2, round(clients / _CLIENTS_PER_THERAPIST))
        teams = max(1, -(-self.therapists // _THERAPISTS_PER_TEAM))
        self.team_of = np.arange(self.therapists) % teams
        self.practice_of_team = np.arange(teams) // _TEAMS_PER_PRACTICE
        # Therapist effect on the improvement propensity: SD chosen so ~5% of improvement variance lies between
        # therapists.
        self.effect = rng.normal(0.0, 0.125, self.therapists)


def _ids(prefix: str, numbers: npt.NDArray[np.int64]) -> object:
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.binary_join_element_wise(prefix, pc.cast(pa.array(numbers), pa.string()), "")


def _choice(
    rng: np.random.Generator, options: tuple[str, ...] | list[str], p: tuple[float, ...] | list[float], n: int
) -> npt.NDArray[np.int64]:
    probabilities = np.asarray(p, dtype=float)
    return rng.choice(len(options), size=n, p=probabilities / probabilities.sum())


def _block(first: int, last: int, structure: _Structure, rng: np.random.Generator) -> dict[str, dict[str, object]]:
    import pyarrow as pa

    n = last - first
    client_no = np.arange(first, last, dtype=np.int64) + 1
    therapist = rng.integers(0, structure.therapists, n)
    team = structure.team_of[therapist]
    practice = structure.practice_of_team[team]

    ethnic_codes = list(_ETHNICITY_P)
    ethnicity = _choice(rng, ethnic_codes, list(_ETHNICITY_P.values()), n)
    languages = list(_LANGUAGES)
    language = _choice(rng, languages, list(_LANGUAGES.values()), n)
    age = _choice(rng, AGE_BANDS, _AGE_P, n)
    gender = _choice(rng, GENDERS, _GENDER_P, n)
    deprivation = _choice(rng, ["1", "2", "3", "4", "5"], _DEPRIVATION_P, n)
    deprivation_known = rng.random(n) >= 0.03

    shift = (
        np.array([_ETHNICITY_SHIFT.get(code, -0.1) for code in ethnic_codes])[ethnicity]
        + np.array(_AGE_SHIFT)[age]
        + np.where(deprivation_known, np.array(_DEPRIVATION_SHIFT)[deprivation], 0.0)
        + np.where(language == 0, 0.0, -0.08)
        + np.where(gender == 1, -0.02, 0.0)
    )
    # Client responsiveness drives both the alliance and improvement (alliance-outcome r ≈ .28).
    responsiveness = rng.standard_normal(n)
    loading = 0.68
    alliance_level = np.clip(
        7.9 + 1.0 * (loading * responsiveness + np.sqrt(1 - loading**2) * rng.standard_normal(n)), 1.0, 9.8
    )
    propensity = 0.655 + shift + structure.effect[therapist] + 0.17 * responsiveness + rng.normal(0.0, 0.28, n)
    improvement = np.clip(propensity, -0.3, 1.0)  # share of intake severity gone by the planned end

    # Episode course: referral, wait, planned sessions; dropout more likely with a weak alliance.
    referral = _START + rng.integers(0, _SPAN_DAYS, n).astype("timedelta64[D]")
    start = referral + rng.integers(7, 60, n).astype("timedelta64[D]")
    planned = rng.integers(5, 15, n)
    drop_p = np.clip(0.33 - 0.06 * (alliance_level - 7.9) - 0.4 * shift, 0.05, 0.8)
    outcome_draw = rng.random(n)
    ending_code = np.where(outcome_draw < drop_p, 1, np.where(outcome_draw < drop_p + 0.07, 2, 0))
    sessions = np.where(ending_code == 1, np.minimum(planned, rng.integers(1, 6, n)), planned)
    last_possible = _START + np.timedelta64(_SPAN_DAYS + 60, "D")
    ends = start + ((sessions - 1) * 7).astype("timedelta64[D]")
    still_open = ends > last_possible - np.timedelta64(120, "D")
    ending_code = np.where(still_open & (rng.random(n) < 0.5), 3, ending_code)
    open_episode = ending_code == 3

    # One row per booked appointment.
    client_of = np.repeat(np.arange(n), sessions)
    offsets = np.arange(len(client_of)) - np.repeat(np.cumsum(sessions) - sessions, sessions)
    number = offsets + 1
    date = start[client_of] + (offsets * 7 + rng.integers(-1, 2, len(client_of)) * (offsets > 0)).astype(
        "timedelta64[D]"
    )
    status_draw = rng.random(len(client_of))
    status = np.where(status_draw < 0.10, 1, np.where(status_draw < 0.15, 2, 0))  # DNA 10%, cancelled 5%
    status[number == 1] = 0  # the first appointment is attended (the episode started)
    appointment_no = np.arange(len(client_of), dtype=np.int64) + int(first) * 20 + 1
    ended = ~open_episode
    end_date = start + ((sessions - 1) * 7).astype("timedelta64[D]")

    # Check-ins at attended appointments: 90% of sessions have some; PHQ-9 and GAD-7 98% of those, alliance 95%.
    attended = status == 0
    rows = np.flatnonzero(attended)
    who = client_of[rows]
    progress = _progress(offsets[rows], planned[who])
    intake_phq = np.clip(rng.normal(16.0, 4.6, n), 5, 27)
    intake_gad = np.clip(0.6 * intake_phq + rng.normal(4.5, 3.0, n), 3, 21)
    phq = intake_phq[who] * (1 - improvement[who] * progress) + rng.normal(0, 1.6, len(rows))
    gad = intake_gad[who] * (1 - improvement[who] * progress) + rng.normal(0, 1.4, len(rows))
    phq = np.clip(np.round(phq), 0, 27)
    gad = np.clip(np.round(gad), 0, 21)

    ruptured = rng.random(n) < 0.68
    dip_at = np.where(ruptured, rng.integers(2, np.maximum(3, sessions), n), 0)
    repaired = rng.random(n) < 0.75
    depth = rng.uniform(2.0, 3.5, n)
    session_no = number[rows]
    dip = np.where(session_no == dip_at[who], depth[who], 0.0)
    dip += np.where((session_no > dip_at[who]) & (dip_at[who] > 0) & ~repaired[who], 0.6 * depth[who], 0.0)
    latent = alliance_level[who] + 0.05 * (session_no - 1) - dip
    items = np.clip(np.round(latent[:, None] + rng.normal(0, 0.5, (len(rows), len(ALLIANCE_ITEMS)))), 0, 10)
    alliance_total = items.mean(axis=1)

    done = rng.random(len(rows)) < 0.9
    has_phq = done & (rng.random(len(rows)) < 0.98)
    has_alliance = done & (rng.random(len(rows)) < 0.95)
    parts = []
    for instrument, present, total in (
        ("phq9", has_phq, phq),
        ("gad7", has_phq, gad),
        ("alliance-client", has_alliance, alliance_total),
    ):
        index = np.flatnonzero(present)
        parts.append((instrument, index, total[index]))
    order_rows = np.concatenate([rows[index] for _, index, _ in parts])
    instrument_code = np.concatenate([np.full(len(index), code) for code, (_, index, _) in enumerate(parts)])
    totals = np.concatenate([values for _, _, values in parts])
    is_alliance = instrument_code == 2
    item_values = np.full((len(order_rows), len(ALLIANCE_ITEMS)), np.nan)
    item_values[is_alliance] = items[parts[2][1]]
    order = np.lexsort((instrument_code, order_rows))
    order_rows, instrument_code, totals, item_values = (
        order_rows[order],
        instrument_code[order],
        totals[order],
        item_values[order],
    )
    insufficient = rng.random(len(totals)) < 0.005
    totals = np.where(insufficient, np.nan, totals)
    checkin_no = np.arange(len(order_rows), dtype=np.int64) + int(first) * 60 + 1

    instruments = np.array(["phq9", "gad7", "alliance-client"], dtype=object)
    client_ids = _ids("C", client_no)
    episode_ids = _ids("E", client_no)
    practice_ids = _ids("P", practice + 1)
    team_ids = _ids("T", team + 1)
    therapist_ids = _ids("H", therapist + 1)
    appointment_ids = _ids("A", appointment_no)
    episode_of_appt = pa.compute.take(episode_ids, pa.array(client_of))
    appt_of_checkin = pa.compute.take(appointment_ids, pa.array(order_rows))
    return {
        "clients": {
            "client_id": client_ids,
            "practice_id": practice_ids,
            "ethnicity": pa.array(np.array(ethnic_codes, dtype=object)[ethnicity]),
            "language": pa.array(np.array(languages, dtype=object)[language]),
            "age_band": pa.array(np.array(AGE_BANDS, dtype=object)[age]),
            "gender": pa.array(np.array(GENDERS, dtype=object)[gender]),
            "deprivation": pa.array(deprivation + 1, mask=~deprivation_known, type=pa.int64()),
        },
        "episodes": {
            "episode_id": episode_ids,
            "client_id": client_ids,
            "practice_id": practice_ids,
            "team_id": team_ids,
            "therapist_id": therapist_ids,
            "referral_date": pa.array(referral, type=pa.date32()),
            "start_date": pa.array(start, type=pa.date32()),
            "end_date": pa.array(end_date, mask=~ended, type=pa.date32()),
            "ending": pa.array(
                np.array(["completed", "dropped_out", "referred_on", "open"], dtype=object)[ending_code]
            ),
        },
        "appointments": {
            "appointment_id": appointment_ids,
            "episode_id": episode_of_appt,
            "session_number": pa.array(number, type=pa.int64()),
            "date": pa.array(date, type=pa.date32()),
            "status": pa.array(np.array(["attended", "did_not_attend", "cancelled"], dtype=object)[status]),
        },
        "checkins": {
            "checkin_id": _ids("K", checkin_no),
            "episode_id": pa.compute.take(episode_of_appt, pa.array(order_rows)),
            "appointment_id": appt_of_checkin,
            "date": pa.array(date[order_rows], type=pa.date32()),
            "instrument": pa.array(instruments[instrument_code]),
            "total": pa.array(totals, from_pandas=True, type=pa.float64()),
            **{
                item: pa.array(item_values[:, position], from_pandas=True, type=pa.float64())
                for position, item in enumerate(ALLIANCE_ITEMS)
            },
        },
    }


def _progress(offset: npt.NDArray[np.int64], planned: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    """Share of the planned improvement reached at session ``offset + 1`` (0 at the first, 1 at the planned last)."""
    rate = 0.35
    total = 1.0 - np.exp(-rate * np.maximum(planned - 1, 1))
    reached: npt.NDArray[np.float64] = np.clip((1.0 - np.exp(-rate * offset)) / total, 0.0, 1.0)
    return reached
