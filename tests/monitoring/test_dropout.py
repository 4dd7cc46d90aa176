"""Dropout risk: points for missed and cancelled appointments, a falling alliance and the early phase."""

from __future__ import annotations

import pandas as pd

from alliance.monitoring.dropout import DropoutRules, dropout_risk
from alliance.monitoring.ruptures import RuptureDetector


def visits(*statuses: str) -> pd.DataFrame:
    return pd.DataFrame({"session": range(1, len(statuses) + 1), "status": list(statuses)})


def alliance(*totals: float) -> pd.DataFrame:
    return pd.DataFrame({"session": range(1, len(totals) + 1), "total": list(totals)})


def codes(risk: object) -> list[tuple[str, int]]:
    return [(reason.code, reason.points) for reason in risk.reasons]  # type: ignore[attr-defined]


def test_a_client_who_comes_and_rates_the_relationship_well_is_low_risk() -> None:
    risk = dropout_risk(visits(*["attended"] * 6), alliance(9, 9, 9, 9, 9, 9), cutoff=8)
    assert (risk.level, risk.points, risk.reasons) == ("low", 0, ())


def test_the_early_phase_alone_is_low() -> None:
    risk = dropout_risk(visits("attended", "attended"), alliance(9, 9), cutoff=8)
    assert (risk.level, codes(risk)) == ("low", [("early", 1)])


def test_missed_appointments_count_double_and_only_the_last_four_count() -> None:
    # Last four past appointments (session 6 is scheduled, not counted): sessions 2-5 = dna, attended,
    # cancelled, dna -> 2 x 2 + 1 x 1 = 5 points -> high. The dna at session 1 is outside the window.
    history = pd.DataFrame(
        {
            "session": [1, 2, 3, 4, 5, 6],
            "status": ["did_not_attend", "did_not_attend", "attended", "cancelled", "did_not_attend", "scheduled"],
        }
    )
    risk = dropout_risk(history)
    assert (risk.level, risk.points) == ("high", 5)
    assert codes(risk) == [("missed", 4), ("cancelled", 1)]
    assert risk.reasons[0].detail == "2 of the last 4 not attended"


def test_one_missed_appointment_is_moderate() -> None:
    risk = dropout_risk(visits("attended", "attended", "attended", "did_not_attend", "attended"))
    assert (risk.level, risk.points) == ("moderate", 2)


def test_an_open_rupture_and_a_low_alliance_add_points() -> None:
    # Totals 9 9 9 9 6: a dip of 3 (own SD 1.34 causal, guard 1.0) not yet back: 2 points; 6 < 8: 1 point.
    risk = dropout_risk(visits(*["attended"] * 5), alliance(9, 9, 9, 9, 6), cutoff=8)
    assert (risk.level, codes(risk)) == ("moderate", [("rupture", 2), ("below-cutoff", 1)])


def test_a_repaired_rupture_no_longer_counts() -> None:
    risk = dropout_risk(visits(*["attended"] * 6), alliance(9, 9, 9, 9, 6, 9), cutoff=8)
    assert risk.level == "low"


def test_the_detector_and_the_weights_can_be_changed() -> None:
    strict_guard = RuptureDetector(between_sd=5.0, causal=True)
    risk = dropout_risk(visits(*["attended"] * 5), alliance(9, 9, 9, 9, 6), detector=strict_guard)
    assert risk.points == 0
    heavy = DropoutRules(early_points=4)
    assert dropout_risk(visits("attended"), rules=heavy).level == "high"


def test_scheduled_appointments_and_missing_totals_are_ignored() -> None:
    history = pd.DataFrame({"session": [4, 5, 6], "status": ["attended", "scheduled", "scheduled"]})
    totals = pd.DataFrame({"session": [3, 4], "total": [float("nan"), 9.0]})
    risk = dropout_risk(history, totals, cutoff=8)
    assert (risk.level, risk.points) == ("low", 0)
