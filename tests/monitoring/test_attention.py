"""Who needs attention now: risk first, then deterioration, the relationship, and missed check-ins."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alliance.change.talking_therapies import episode_outcomes
from alliance.instruments import bundled_registry
from alliance.monitoring.attention import (
    GAD7_NORM,
    PHQ9_NORM,
    ReliabilityNorm,
    Thresholds,
    alliance_cutoff,
    attention,
    change_so_far,
    rating_gap,
    reasons_of,
    top_severity,
)

DAY = pd.Timestamp("2026-01-05", tz="UTC")


def checkin(
    client: str,
    week: int,
    instrument: str,
    total: float | None,
    *,
    risk: bool = False,
    severity: str = "",
    respondent: str = "client",
    appointment: float = math.nan,
) -> dict[str, Any]:
    return {
        "client": client,
        "when": DAY + pd.Timedelta(weeks=week),
        "instrument": instrument,
        "total": math.nan if total is None else total,
        "risk": risk,
        "severity": severity,
        "respondent": respondent,
        "appointment": appointment,
    }


def appointment(client: str, number: int, status: str = "attended") -> dict[str, Any]:
    return {
        "client": client,
        "appointment": hash((client, number)) % 100_000,
        "when": DAY + pd.Timedelta(weeks=number),
        "status": status,
        "session": number,
    }


def frame(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(columns))


CHECKIN = ("client", "when", "instrument", "total", "risk", "severity", "respondent", "appointment")
APPOINTMENT = ("client", "appointment", "when", "status", "session")


def codes(
    rows: list[dict[str, Any]], appointments: list[dict[str, Any]] | None = None, **kwargs: Any
) -> dict[str, list[str]]:
    found = attention(frame(rows, CHECKIN), frame(appointments or [], APPOINTMENT), **kwargs)
    return {str(c): list(group["code"]) for c, group in found.groupby("client", sort=False)}


def test_a_risk_item_at_the_latest_phq9_flags_the_client_but_an_old_one_does_not() -> None:
    rows = [
        checkin("now", 0, "phq9", 14),
        checkin("now", 1, "phq9", 12, risk=True),
        checkin("before", 0, "phq9", 14, risk=True),
        checkin("before", 1, "phq9", 12),
    ]
    assert codes(rows) == {"now": ["risk"]}


def test_an_unresolved_risk_alert_keeps_the_flag_and_both_details_are_kept() -> None:
    rows = [checkin("a", 0, "phq9", 12, risk=True), checkin("b", 0, "phq9", 5)]
    alerts = pd.DataFrame({"client": ["a", "b", "b"], "kind": ["risk", "risk", "risk"]})
    found = attention(frame(rows, CHECKIN), frame([], APPOINTMENT), open_alerts=alerts)
    a = reasons_of(found, "a")
    assert [r.code for r in a] == ["risk"]
    assert a[0].detail == "PHQ-9 item 9 above 0 at the latest PHQ-9; unresolved risk alert"
    assert [(r.code, r.severity) for r in reasons_of(found, "b")] == [("risk", 4)]


@pytest.mark.parametrize(
    ("phq9", "gad7", "flagged"),
    [
        ((8, 14), None, True),  # PHQ-9 +6: reliable
        ((8, 13), None, False),  # +5: within measurement error
        (None, (5, 9), True),  # GAD-7 +4: reliable
        ((8, 14), (12, 8), False),  # PHQ-9 up but GAD-7 reliably down: mixed, not deterioration (NHS rule)
        ((8, 14), (12, 9), True),  # GAD-7 down by 3 does not count as a reliable fall
        ((14, 8), None, False),
    ],
)
def test_reliable_deterioration_uses_the_nhs_thresholds(
    phq9: tuple[int, int] | None, gad7: tuple[int, int] | None, flagged: bool
) -> None:
    rows = []
    for instrument, pair in (("phq9", phq9), ("gad7", gad7)):
        if pair is not None:
            rows += [checkin("c", 0, instrument, pair[0]), checkin("c", 3, instrument, pair[1])]
    assert ("deterioration" in codes(rows).get("c", [])) is flagged


def test_deterioration_detail_names_the_scores() -> None:
    rows = [checkin("c", 0, "phq9", 8), checkin("c", 1, "phq9", None), checkin("c", 2, "phq9", 15)]
    found = attention(frame(rows, CHECKIN), frame([], APPOINTMENT))
    assert reasons_of(found, "c")[0].detail == "PHQ-9 8 → 15 (+7) since the first score"


def test_a_latest_relationship_check_in_below_the_cutoff_band_is_flagged() -> None:
    rows = [
        checkin("low", 0, "alliance-client", 9.0, severity="at-or-above-cutoff"),
        checkin("low", 1, "alliance-client", 8.5, severity="at-or-above-cutoff"),
        checkin("low", 2, "alliance-client", 7.5, severity="below-cutoff"),
        checkin("recovered", 0, "alliance-client", 6.0, severity="below-cutoff"),
        checkin("recovered", 1, "alliance-client", 8.5, severity="at-or-above-cutoff"),
    ]
    found = codes(rows)
    assert found["low"] == ["alliance-low", "alliance-drop"]  # 7.5 is also 1.25 below the mean of 9.0 and 8.5
    assert "recovered" not in found


@pytest.mark.parametrize(("latest", "dropped"), [(7.25, True), (7.5, False), (6.0, True)])
def test_a_drop_of_one_point_from_the_mean_of_earlier_check_ins_is_flagged(latest: float, dropped: bool) -> None:
    rows = [
        checkin("c", 0, "alliance-client", 8.0),
        checkin("c", 1, "alliance-client", 8.5),
        checkin("c", 2, "alliance-client", latest),
    ]
    # mean of the earlier two = 8.25: a fall to 7.25 is exactly 1.0
    assert ("alliance-drop" in codes(rows).get("c", [])) is dropped


def test_the_alliance_thresholds_are_parameters() -> None:
    rows = [checkin("c", 0, "alliance-client", 9.0), checkin("c", 1, "alliance-client", 8.5, severity="fine")]
    assert codes(rows) == {}
    assert codes(rows, thresholds=Thresholds(alliance_drop=0.5)) == {"c": ["alliance-drop"]}
    assert codes(rows, thresholds=Thresholds(alliance_low_band="fine")) == {"c": ["alliance-low"]}


def test_the_therapist_form_never_counts_as_the_clients_relationship_check_in() -> None:
    rows = [
        checkin("c", 0, "alliance-client", 9.0),
        checkin("c", 1, "alliance-therapist", 3.0, respondent="therapist", severity="below-cutoff"),
    ]
    assert codes(rows) == {}


def test_the_last_attended_session_without_a_client_check_in_is_flagged() -> None:
    visits = [appointment("c", 1), appointment("c", 2), appointment("c", 3, "scheduled")]
    answered_first_only = [
        checkin("c", 1, "phq9", 9, appointment=visits[0]["appointment"]),
        checkin("c", 2, "alliance-therapist", 8, respondent="therapist", appointment=visits[1]["appointment"]),
    ]
    found = attention(frame(answered_first_only, CHECKIN), frame(visits, APPOINTMENT))
    assert [(r.code, r.detail) for r in reasons_of(found, "c")] == [
        ("no-checkin", "no client check-in at the last attended session (session 2)")
    ]
    answered_both = [*answered_first_only, checkin("c", 2, "phq9", 8, appointment=visits[1]["appointment"])]
    assert attention(frame(answered_both, CHECKIN), frame(visits, APPOINTMENT)).empty


@pytest.mark.parametrize(
    ("statuses", "flagged"),
    [
        (["attended", "did_not_attend", "attended", "did_not_attend"], True),
        (["did_not_attend", "did_not_attend", "attended", "attended", "attended"], False),  # outside the last 4
        (["attended", "did_not_attend", "cancelled", "attended", "scheduled", "scheduled"], False),
        (["did_not_attend", "did_not_attend"], True),
    ],
)
def test_two_did_not_attend_in_the_last_four_appointments_are_flagged(statuses: list[str], flagged: bool) -> None:
    visits = [appointment("c", n, status) for n, status in enumerate(statuses, start=1)]
    answered = [checkin("c", v["session"], "phq9", 9, appointment=v["appointment"]) for v in visits]
    found = codes(answered, visits)
    assert ("did-not-attend" in found.get("c", [])) is flagged


def test_reasons_are_ranked_risk_then_deterioration_then_alliance_then_attendance() -> None:
    visits = [appointment("all", 1), appointment("all", 2, "did_not_attend"), appointment("all", 3, "did_not_attend")]
    rows = [
        checkin("all", 0, "phq9", 8),
        checkin("all", 1, "phq9", 16, risk=True),
        checkin("all", 0, "alliance-client", 9.0),
        checkin("all", 1, "alliance-client", 6.0, severity="below-cutoff"),
        checkin("calm", 0, "phq9", 5),
    ]
    found = attention(frame(rows, CHECKIN), frame(visits, APPOINTMENT))
    assert [r.code for r in reasons_of(found, "all")] == [
        "risk",
        "deterioration",
        "alliance-low",
        "alliance-drop",
        "no-checkin",
        "did-not-attend",
    ]
    assert [r.severity for r in reasons_of(found, "all")] == [4, 3, 2, 2, 1, 1]
    assert top_severity(found).to_dict() == {"all": 4}
    assert reasons_of(found, "calm") == ()


def test_no_data_gives_an_empty_table_with_the_columns() -> None:
    found = attention(frame([], CHECKIN), frame([], APPOINTMENT))
    assert found.empty and list(found.columns) == ["client", "code", "severity", "label", "detail"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 27), st.integers(0, 21)), min_size=2, max_size=6))
def test_deterioration_agrees_with_the_nhs_episode_outcomes_when_every_session_has_both(
    scores: list[tuple[int, int]],
) -> None:
    rows = []
    for week, (phq9, gad7) in enumerate(scores):
        rows += [checkin("c", week, "phq9", phq9), checkin("c", week, "gad7", gad7)]
    ours = "deterioration" in codes(rows).get("c", [])
    table = pd.DataFrame(
        {"client": "c", "session": range(len(scores)), "phq9": [p for p, _ in scores], "gad7": [g for _, g in scores]}
    )
    assert ours is bool(episode_outcomes(table.astype({"phq9": float, "gad7": float}))["reliable_deterioration"][0])


# --- reliable change so far -------------------------------------------------------------------------------------


def test_change_so_far_matches_hand_computed_jacobson_truax_values() -> None:
    rows = [
        checkin("c", 0, "phq9", 12),
        checkin("c", 1, "phq9", 14),
        checkin("c", 2, "phq9", 18),
        checkin("c", 0, "gad7", 15),
        checkin("c", 2, "gad7", 9),
    ]
    change = change_so_far(frame(rows, CHECKIN))
    assert change.phq9 is not None and change.gad7 is not None
    # PHQ-9: S_diff = sqrt(2) * 5.7 * sqrt(1 - .89) = 2.673537; RCI = 6 / 2.673537 = 2.244218
    assert change.phq9.change == 6
    assert change.phq9.rci == pytest.approx(2.244218, abs=1e-6)
    assert change.phq9.reliable_change == pytest.approx(1.959964 * 2.673537, abs=1e-5)
    assert (change.phq9.nhs, change.phq9.rci_category) == ("deteriorated", "deteriorated")
    # GAD-7: S_diff = sqrt(2) * 4.8 * sqrt(1 - .92) = 1.92 exactly; RCI = -6 / 1.92 = -3.125
    assert change.gad7.rci == pytest.approx(-3.125, abs=1e-9)
    assert change.gad7.reliable_change == pytest.approx(3.763131, abs=1e-5)
    assert (change.gad7.nhs, change.gad7.rci_category) == ("improved", "improved")
    assert change.overall == "no reliable change"  # one measure up, the other down (NHS rule)


def test_change_so_far_with_a_given_norm() -> None:
    rows = [checkin("c", 0, "phq9", 18), checkin("c", 5, "phq9", 8)]
    # r = .84, SD 5: SE = 5 * .4 = 2, S_diff = 2 * sqrt(2) = 2.828427; RCI = -10 / 2.828427 = -3.535534
    norm = ReliabilityNorm(reliability=0.84, sd=5.0, source="test")
    change = change_so_far(frame(rows, CHECKIN), norms={"phq9": norm, "gad7": GAD7_NORM})
    assert change.phq9 is not None
    assert change.phq9.rci == pytest.approx(-3.535534, abs=1e-6)
    assert change.phq9.norm is norm
    assert change.gad7 is None
    assert change.overall == "reliable improvement"


def test_a_change_of_five_is_neither_nhs_reliable_nor_jt_reliable_with_the_default_norm() -> None:
    rows = [checkin("c", 0, "phq9", 15), checkin("c", 1, "phq9", 10)]
    change = change_so_far(frame(rows, CHECKIN)).phq9
    assert change is not None
    assert (change.nhs, change.rci_category) == ("no reliable change", "unchanged")
    assert 5 < change.reliable_change < 6  # the default norms agree with the NHS whole-number threshold


def test_one_score_is_no_change_yet() -> None:
    change = change_so_far(frame([checkin("c", 0, "phq9", 15), checkin("c", 1, "phq9", None)], CHECKIN))
    assert change.phq9 is None and change.gad7 is None and change.overall is None


def test_the_default_norms_cite_their_sources() -> None:
    assert (PHQ9_NORM.reliability, GAD7_NORM.reliability) == (0.89, 0.92)
    assert "Kroenke" in PHQ9_NORM.source and "Spitzer" in GAD7_NORM.source


# --- the client and the therapist side by side ---------------------------------------------------------------


def test_the_gap_per_domain_is_client_minus_therapist_and_two_points_are_flagged() -> None:
    instrument = bundled_registry().get("alliance-client")
    client = {"bond": 6, "understood": 8, "respect": 10, "goals": 5, "tasks": 7, "culture": 9, "safety": 9}
    therapist = {item.id: 8 for item in instrument.items}
    gaps = {g.item: g for g in rating_gap(client, therapist, instrument=instrument)}
    assert list(gaps) == [item.id for item in instrument.items]
    assert (gaps["bond"].gap, gaps["bond"].flagged, gaps["bond"].domain) == (-2.0, True, "bond")
    assert (gaps["understood"].gap, gaps["understood"].flagged) == (0.0, False)
    assert (gaps["respect"].gap, gaps["respect"].flagged) == (2.0, True)
    assert (gaps["tasks"].gap, gaps["tasks"].flagged) == (-1.0, False)
    assert (gaps["overall"].client, gaps["overall"].gap, gaps["overall"].flagged) == (None, None, False)


def test_the_alliance_cutoff_is_read_from_the_instrument() -> None:
    assert alliance_cutoff(bundled_registry().get("alliance-client")) == 8
    with pytest.raises(KeyError):
        alliance_cutoff(bundled_registry().get("phq9"))


def test_reliable_change_is_consistent_with_numpy() -> None:
    # the smallest reliable change equals 1.96 * sqrt(2) * SD * sqrt(1 - r)
    rows = [checkin("c", 0, "gad7", 3), checkin("c", 1, "gad7", 3)]
    change = change_so_far(frame(rows, CHECKIN)).gad7
    assert change is not None
    assert change.reliable_change == pytest.approx(1.959964 * np.sqrt(2) * 4.8 * np.sqrt(0.08), abs=1e-5)
    assert (change.rci, change.nhs, change.rci_category) == (0.0, "no reliable change", "unchanged")
