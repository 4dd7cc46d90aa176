"""A seeded demo caseload (item-level check-ins) and its outcome report.

The generator draws whole item answers, so every number in the report goes through the same scoring,
missing-data and outcome code as real data. Its parameters follow the literature cited in
``docs/demo-caseload.md``: about half of the cases recover, early alliance correlates with improvement
(r ≈ .28), a minority deteriorates, some drop out, some have sudden gains and alliance dips.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from alliance.change.proportions import wilson_interval
from alliance.change.sudden import find_sudden_changes
from alliance.change.talking_therapies import OutcomeSummary, episode_outcomes, summarise_outcomes
from alliance.instruments import Instrument, Registry, score_frame

__all__ = [
    "ATTENTION_COLUMNS",
    "PHQ9_SUDDEN_CUTOFF",
    "THERAPIST_COLUMNS",
    "Caseload",
    "CaseloadReport",
    "caseload_report",
    "generate_caseload",
]

# A sudden gain on the PHQ-9 needs at least its reliable change value (6 points, NHS Talking Therapies).
PHQ9_SUDDEN_CUTOFF = 6.0
EARLY_SESSIONS = 3
THERAPIST_COLUMNS = (
    "therapist",
    "clients",
    "finished",
    "cases",
    "recovered",
    "recovery_rate",
    "recovery_low",
    "recovery_high",
    "early_alliance",
)
ATTENTION_COLUMNS = ("client", "therapist", "sessions", "first_phq9", "last_phq9", "reasons")


@dataclass(frozen=True)
class Caseload:
    """Check-ins of a caseload: one row per client and attended session, one column per item answered."""

    sessions: pd.DataFrame
    seed: int


@dataclass(frozen=True)
class CaseloadReport:
    """What a practice wants to know first about a caseload."""

    clients: int
    therapists: int
    check_ins: int
    outcomes: OutcomeSummary
    recovery_interval: tuple[float, float]
    sudden_gains: int
    clients_with_sudden_gain: int
    sudden_losses: int
    by_therapist: pd.DataFrame
    attention: pd.DataFrame


def generate_caseload(registry: Registry, *, clients: int = 48, therapists: int = 4, seed: int = 2026) -> Caseload:
    """Draw a realistic caseload of PHQ-9, GAD-7 and relationship check-ins (same ``seed``, same caseload)."""
    if clients < 1 or therapists < 1:
        raise ValueError("a caseload needs at least one client and one therapist")
    rng = np.random.default_rng(seed)
    phq9, gad7, alliance = registry.get("phq9"), registry.get("gad7"), registry.get("alliance-client")

    therapist_of = np.array([f"T{1 + i % therapists:02d}" for i in range(clients)])
    therapist_effect = dict(zip(sorted(set(therapist_of)), rng.normal(0.0, 0.012, therapists), strict=False))
    responsiveness = rng.standard_normal(clients)
    # Alliance level loads .45 on responsiveness; after measurement noise r(early alliance, change) ≈ .28.
    loading = 0.45
    alliance_level = np.clip(
        7.9 + 1.1 * (loading * responsiveness + np.sqrt(1 - loading**2) * rng.standard_normal(clients)), 2, 10
    )
    rate = 0.085 + 0.065 * responsiveness + np.array([therapist_effect[t] for t in therapist_of])
    intake_phq9 = np.clip(rng.normal(15.0, 4.5, clients), 4, 27)
    intake_gad7 = np.clip(0.62 * intake_phq9 + rng.normal(3.0, 2.8, clients), 2, 21)
    planned = rng.integers(6, 15, clients)
    dropped = rng.random(clients) < 0.15
    n_sessions = np.where(dropped, rng.integers(2, 5, clients), planned)
    gain_at = np.where(rng.random(clients) < 0.18, rng.integers(3, 8, clients), 0)
    dip_at = np.where(rng.random(clients) < 0.45, rng.integers(2, 9, clients), 0)

    rows: list[pd.DataFrame] = []
    for c in range(clients):
        t = np.arange(1, n_sessions[c] + 1)
        decay = np.exp(-rate[c] * (t - 1))
        sudden = np.where((gain_at[c] > 0) & (t >= gain_at[c]), rng.uniform(0.55, 0.75), 1.0)
        phq_latent = np.clip(intake_phq9[c] * decay * sudden + rng.normal(0, 1.6, t.size), 0, 27)
        gad_latent = np.clip(intake_gad7[c] * decay * sudden + rng.normal(0, 1.4, t.size), 0, 21)
        dip = np.where(t == dip_at[c], rng.uniform(2.0, 3.5), 0.0) + np.where(t == dip_at[c] + 1, 0.8, 0.0)
        alliance_latent = np.clip(alliance_level[c] + 0.06 * (t - 1) - dip + rng.normal(0, 0.35, t.size), 0, 10)
        frame = pd.DataFrame({"client": f"C{c + 1:04d}", "therapist": therapist_of[c], "session": t})
        frame = frame.join(_item_answers(phq9, phq_latent, rng, missing=0.02))
        frame = frame.join(_item_answers(gad7, gad_latent, rng, missing=0.02))
        frame = frame.join(_item_answers(alliance, alliance_latent, rng, missing=0.01, spread=0.6))
        rows.append(frame)
    return Caseload(sessions=pd.concat(rows, ignore_index=True), seed=seed)


def caseload_report(caseload: Caseload, registry: Registry) -> CaseloadReport:
    """Score every check-in and summarise outcomes, sudden changes, therapists and clients needing attention."""
    sessions = caseload.sessions
    scored = sessions[["client", "therapist", "session"]].assign(
        phq9=score_frame(registry.get("phq9"), sessions)["total"],
        gad7=score_frame(registry.get("gad7"), sessions)["total"],
        alliance=score_frame(registry.get("alliance-client"), sessions)["total"],
        risk=score_frame(registry.get("phq9"), sessions)["risk"],
    )
    outcomes = episode_outcomes(scored)
    summary = summarise_outcomes(outcomes)
    low, high = wilson_interval(summary.recovered, summary.cases)
    changes = find_sudden_changes(
        scored, id="client", time="session", score="phq9", cutoff=PHQ9_SUDDEN_CUTOFF, better="lower", kind="both"
    )
    gains = changes[changes["kind"] == "gain"]
    therapist_of = scored.groupby("client")["therapist"].first()
    return CaseloadReport(
        clients=int(scored["client"].nunique()),
        therapists=int(scored["therapist"].nunique()),
        check_ins=len(scored),
        outcomes=summary,
        recovery_interval=(float(low), float(high)),
        sudden_gains=len(gains),
        clients_with_sudden_gain=int(gains["id"].nunique()),
        sudden_losses=int((changes["kind"] == "loss").sum()),
        by_therapist=_by_therapist(scored, outcomes, therapist_of),
        attention=_attention(scored, outcomes, therapist_of, changes),
    )


def _item_answers(
    instrument: Instrument,
    latent_total: npt.NDArray[np.float64],
    rng: np.random.Generator,
    *,
    missing: float,
    spread: float = 0.55,
) -> pd.DataFrame:
    """Draw whole answers whose scale score tracks ``latent_total`` (sum or mean scale of the instrument)."""
    total = instrument.total
    items = [instrument.item(item_id) for item_id in total.items]
    per_item = latent_total / len(items) if total.method == "sum" else latent_total
    answers: dict[str, npt.NDArray[np.float64]] = {}
    for item in items:
        # Risk items (PHQ-9 item 9) are endorsed far less often than the others, mostly at high severity.
        risky = any(rule.item == item.id for rule in instrument.risk)
        weight = 0.2 if risky else 1.0 + rng.normal(0, 0.08)
        noise = spread * (item.maximum - item.minimum) / 4 * (0.5 if risky else 1.0)
        raw = per_item * weight + rng.normal(0, noise, latent_total.size)
        allowed = np.asarray(item.values, dtype=float)
        nearest = allowed[np.abs(raw[:, None] - allowed[None, :]).argmin(axis=1)]
        answers[item.id] = np.where(rng.random(latent_total.size) < missing, np.nan, nearest)
    return pd.DataFrame(answers)


def _by_therapist(scored: pd.DataFrame, outcomes: pd.DataFrame, therapist_of: pd.Series) -> pd.DataFrame:
    with_therapist = outcomes.assign(therapist=therapist_of.reindex(outcomes["client"]).to_numpy())
    grouped = with_therapist.groupby("therapist", sort=True)
    table = pd.DataFrame(
        {
            "clients": grouped.size(),
            "finished": grouped["first_phq9"].count(),
            "cases": grouped["case_at_start"].sum(),
            "recovered": grouped["recovered"].sum(),
        }
    )
    table["recovery_rate"] = table["recovered"] / table["cases"].where(table["cases"] > 0)
    low, high = wilson_interval(table["recovered"], table["cases"])
    table["recovery_low"], table["recovery_high"] = low, high
    early = scored[scored["session"] <= EARLY_SESSIONS].groupby("therapist")["alliance"].mean()
    table["early_alliance"] = early.reindex(table.index)
    return table.reset_index()[list(THERAPIST_COLUMNS)]


def _attention(
    scored: pd.DataFrame, outcomes: pd.DataFrame, therapist_of: pd.Series, changes: pd.DataFrame
) -> pd.DataFrame:
    last = scored.sort_values("session").groupby("client").last()
    reasons = pd.Series("", index=outcomes["client"].to_numpy())
    reasons = _add(
        reasons, outcomes.set_index("client")["reliable_deterioration"].fillna(False), "reliable deterioration"
    )
    reasons = _add(reasons, last["risk"].reindex(reasons.index).fillna(False), "PHQ-9 item 9 > 0 (last)")
    losses = set(changes.loc[changes["kind"] == "loss", "id"])
    reasons = _add(reasons, pd.Series(reasons.index.isin(list(losses)), index=reasons.index), "sudden loss")
    below = last["alliance"].reindex(reasons.index) < 6
    reasons = _add(reasons, below.fillna(False), "alliance < 6 (last)")
    flagged = outcomes.set_index("client").loc[reasons[reasons != ""].index]
    return pd.DataFrame(
        {
            "client": flagged.index,
            "therapist": therapist_of.reindex(flagged.index).to_numpy(),
            "sessions": flagged["sessions"].to_numpy(),
            "first_phq9": flagged["first_phq9"].to_numpy(),
            "last_phq9": flagged["last_phq9"].to_numpy(),
            "reasons": reasons[reasons != ""].to_numpy(),
        }
    )[list(ATTENTION_COLUMNS)]


def _add(reasons: pd.Series, mask: pd.Series, reason: str) -> pd.Series:
    hit = mask.astype(bool).to_numpy()
    joined = np.where(reasons.to_numpy() == "", reason, reasons.to_numpy().astype(str) + "; " + reason)
    return pd.Series(np.where(hit, joined, reasons.to_numpy()), index=reasons.index)
