"""After every check-in the clinic asks: what is new about this session? Each event has one stable key."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Mapping

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from alliance.instruments import bundled_registry
from alliance.monitoring.evaluate import (
    KINDS,
    AppointmentRecord,
    CheckinRecord,
    ClientHistory,
    Finding,
    RuleSettings,
    evaluate,
)
from alliance.monitoring.expected import ExpectedResponse
from alliance.monitoring.ruptures import RuptureDetector, domain_ruptures

REGISTRY = bundled_registry()
ITEMS = ("bond", "understood", "respect", "goals", "tasks", "culture", "safety", "overall")
_order = itertools.count(1)


def rating(
    session: int, changes: Mapping[str, float] | None = None, *, level: float = 9.0, therapist: bool = False
) -> CheckinRecord:
    """A relationship check-in: every item ``level`` unless ``changes`` says otherwise."""
    answers = {item: level for item in ITEMS} | dict(changes or {})
    return CheckinRecord(
        instrument="alliance-therapist" if therapist else "alliance-client",
        session=session,
        order=next(_order),
        total=sum(answers.values()) / len(answers),
        answers=answers,
        respondent="therapist" if therapist else "client",
    )


def outcome(session: int, total: float, *, instrument: str = "phq9", risk: bool = False) -> CheckinRecord:
    return CheckinRecord(instrument=instrument, session=session, order=next(_order), total=total, risk=risk)


def attended(*sessions: int) -> tuple[AppointmentRecord, ...]:
    return tuple(AppointmentRecord(session, "attended") for session in sessions)


def run(
    checkins: Iterable[CheckinRecord],
    appointments: Iterable[AppointmentRecord] = (),
    *,
    rules: RuleSettings = RuleSettings(),
    etr: ExpectedResponse | None = None,
) -> list[Finding]:
    history = ClientHistory(checkins=tuple(checkins), appointments=tuple(appointments))
    return evaluate(history, rules=rules, etr=etr, instruments=REGISTRY)


def keys(findings: list[Finding]) -> list[str]:
    return [finding.key for finding in findings]


STEADY = [rating(s) for s in range(1, 5)]


def test_a_client_with_no_checkins_has_no_findings() -> None:
    assert run([]) == []


def test_a_steady_client_has_no_findings() -> None:
    assert run([*STEADY, rating(5)], attended(1, 2, 3, 4, 5)) == []


def test_a_sharp_drop_raises_a_rupture_per_domain_and_the_low_scores() -> None:
    # Bond 9 -> 3 and goals 9 -> 4 at session 5. Bond: causal SD of 9 9 9 9 3 = sqrt(28.8 / 4) = 2.68, guard
    # 2.0 for a domain: drop 6 -> rupture. Goals: drop 5 -> rupture. Total (3 + 4 + 6 x 9) / 8 = 7.625: drop
    # 1.375 >= max(own SD 0.615, guard 1.0) -> rupture, and below the cut-off of 8. Bond and goals <= 4: floor.
    findings = run([*STEADY, rating(5, {"bond": 3, "goals": 4})], attended(1, 2, 3, 4, 5))
    assert keys(findings) == [
        "rupture:bond:session-5",
        "rupture:goals:session-5",
        "rupture:total:session-5",
        "low-alliance:session-5",
        "floor:session-5",
        "dropout:moderate:session-5",
    ]
    bond = findings[0]
    assert (bond.kind, bond.session, bond.severity) == ("rupture", 5, KINDS["rupture"])
    assert bond.details == {
        "domain": "bond",
        "baseline": 9.0,
        "score": 3.0,
        "drop": 6.0,
        "threshold": bond.details["threshold"],
    }
    assert bond.message == "Possible rupture in the bond domain: 3.0, 6.0 below the previous level (9.0)."
    assert findings[4].details["domains"] == {"bond": 3.0, "goals": 4.0}
    assert findings[3].details == {"total": 7.625, "cutoff": 8.0}
    # Dropout: the open rupture in the total (2) plus the total below the cut-off (1) = 3 points, moderate.
    assert findings[5].details["points"] == 3


def test_the_next_session_back_in_the_band_is_a_repair_and_the_rupture_is_not_raised_again() -> None:
    checkins = [*STEADY, rating(5, {"bond": 3, "goals": 4}), rating(6)]
    findings = run(checkins, attended(1, 2, 3, 4, 5, 6))
    assert keys(findings) == ["repair:bond:session-5", "repair:goals:session-5", "repair:total:session-5"]
    assert all(finding.session == 6 and finding.severity == 0 for finding in findings)
    assert findings[0].details["rupture_session"] == 5


def test_evaluating_again_after_another_form_of_the_same_session_gives_the_same_keys() -> None:
    checkins = [*STEADY, rating(5, {"bond": 3})]
    first = keys(run(checkins))
    therapist = rating(5, therapist=True)
    again = keys(run([*checkins, therapist]))
    # The therapist's rating adds the perspective gap; everything else is the same event under the same key.
    assert [key for key in again if not key.startswith("perspective-gap")] == first
    assert "perspective-gap:session-5" in again


def test_the_perspective_gap_lists_the_items_that_differ_by_two_or_more() -> None:
    checkins = [*STEADY, rating(5, {"respect": 7}), rating(5, {"respect": 9, "tasks": 6}, therapist=True)]
    gap = [finding for finding in run(checkins) if finding.kind == "perspective_gap"]
    # Respect 7 vs 9 (-2) and tasks 9 vs 6 (+3) are flagged; the rest agree.
    assert gap[0].details["items"] == {
        "respect": {"domain": "respect", "client": 7.0, "therapist": 9.0},
        "tasks": {"domain": "tasks", "client": 9.0, "therapist": 6.0},
    }
    assert gap[0].message == (
        "Client and therapist see the session differently: respect 7 vs 9, tasks 9 vs 6 (client vs therapist)."
    )


def test_a_risk_item_comes_first_and_only_for_the_latest_session() -> None:
    checkins = [*STEADY, outcome(4, 12, risk=True), rating(5, {"bond": 3}), outcome(5, 12, risk=True)]
    findings = run(checkins)
    assert findings[0].key == "risk:phq9:session-5"
    assert findings[0].severity == 4
    assert "risk:phq9:session-4" not in keys(findings)


def test_a_risk_checkin_without_a_session_is_keyed_by_its_order() -> None:
    loose = CheckinRecord(instrument="phq9", session=None, order=999, total=20, risk=True)
    assert keys(run([loose])) == ["risk:phq9:checkin-999"]


def test_a_sudden_loss_is_found_once_the_scores_after_it_show_it_is_stable() -> None:
    # PHQ-9 8 8 8 16 16: the rise 3 -> 4 is 8 >= 6 (the NHS reliable change), >= 25% of 8, and the means
    # before (8) and after (16) differ by more than t x pooled SD (0). Judged at session 5 (two scores after).
    scores = [outcome(s, v) for s, v in enumerate([8, 8, 8, 16], start=1)]
    assert run(scores) == []
    findings = run([*scores, outcome(5, 16)])
    assert keys(findings) == ["sudden-loss:phq9:3-4"]
    loss = findings[0]
    assert loss.kind == "sudden_loss"
    assert (loss.severity, loss.details["pre"], loss.details["post"], loss.details["cutoff"]) == (3, 8.0, 16.0, 6.0)
    # Session 6 still sees it (same key, so no second alert); by session 7 it is outside the window.
    assert keys(run([*scores, outcome(5, 16), outcome(6, 16)])) == ["sudden-loss:phq9:3-4"]
    assert run([*scores, outcome(5, 16), outcome(6, 16), outcome(7, 16)]) == []


def test_a_sudden_gain_on_the_gad7_is_good_news() -> None:
    scores = [outcome(s, v, instrument="gad7") for s, v in enumerate([15, 15, 15, 7, 7], start=1)]
    findings = run(scores)
    assert [(f.key, f.severity) for f in findings] == [("sudden-gain:gad7:3-4", 0)]


def test_not_on_track_uses_the_expected_response_and_says_what_it_rests_on() -> None:
    history = pd.DataFrame({"id": ["a", "a", "b", "b"], "time": [1, 2, 1, 2], "score": [10.0, 9.0, 14.0, 12.0]})
    model = ExpectedResponse().fit(history, id="id", time="time", score="score")
    # Rational fallback: RC = 3.04 (see test_expected). Intake 12, then 16 at session 2: reliably worse -> red.
    findings = run([outcome(1, 12), outcome(2, 16)], etr=model)
    assert keys(findings) == ["etr:red:session-2"]
    red = findings[0]
    assert (red.kind, red.severity) == ("not_on_track", 3)
    assert red.details["model"] == "rational"
    assert "too few for an empirical model" in red.message
    # At session 4 without reliable improvement: amber.
    amber = run([outcome(1, 12), outcome(2, 12), outcome(3, 12), outcome(4, 11)], etr=model)
    assert [(f.key, f.severity) for f in amber] == [("etr:amber:session-4", 2)]
    # Green raises nothing; no intake score, nothing to judge.
    assert run([outcome(1, 12), outcome(2, 11)], etr=model) == []
    assert run([outcome(2, 20), outcome(3, 25)], etr=model) == []


def test_missed_appointments_raise_dropout_risk() -> None:
    appointments = (
        *attended(1, 2, 3),
        AppointmentRecord(4, "did_not_attend"),
        AppointmentRecord(5, "did_not_attend"),
        AppointmentRecord(6, "attended"),
    )
    findings = run([*STEADY, rating(6)], appointments)
    assert keys(findings) == ["dropout:high:session-6"]
    assert findings[0].message == "Dropout risk high: 2 of the last 4 not attended."


def test_rules_that_are_off_raise_nothing() -> None:
    off = RuleSettings(
        risk=False,
        rupture=False,
        cutoff=False,
        floor=False,
        sudden_change=False,
        not_on_track=False,
        dropout=False,
        perspective_gap=False,
    )
    checkins = [*STEADY, rating(5, {"bond": 1}), rating(5, therapist=True), outcome(5, 20, risk=True)]
    assert run(checkins, (AppointmentRecord(4, "did_not_attend"),), rules=off) == []
    assert run(checkins, rules=RuleSettings(rupture=False, floor=False, cutoff=False, dropout=False)) != []


def test_the_strict_criterion_and_a_larger_guard_raise_fewer_ruptures() -> None:
    # Bond 9 8 9 8 6: causal SD sqrt(6 / 4) = 1.225; baseline mean(8, 9, 8) = 8.333, drop 2.333.
    # Lenient: max(1.225, guard 2) = 2 <= 2.333 -> rupture. Strict: max(2.449, 2) = 2.449 > 2.333 -> none.
    checkins = [rating(1), rating(2, {"bond": 8}), rating(3), rating(4, {"bond": 8}), rating(5, {"bond": 6})]
    assert "rupture:bond:session-5" in keys(run(checkins))
    assert "rupture:bond:session-5" not in keys(run(checkins, rules=RuleSettings(criterion="strict")))
    # A larger guard (2.5 > 2.333) also silences it.
    assert "rupture:bond:session-5" not in keys(run(checkins, rules=RuleSettings(domain_between_sd=2.5)))


def test_a_resubmitted_form_replaces_the_earlier_one_of_the_same_session() -> None:
    checkins = [*STEADY, rating(5, {"bond": 2}), rating(5)]
    assert run(checkins) == []


def test_findings_are_sorted_by_severity() -> None:
    checkins = [*STEADY, rating(5, {"bond": 3}), outcome(5, 20, risk=True)]
    severities = [finding.severity for finding in run(checkins)]
    assert severities == sorted(severities, reverse=True)


@settings(max_examples=30, deadline=None)
@given(levels=st.lists(st.integers(0, 10), min_size=2, max_size=9))
def test_a_finding_never_appears_or_vanishes_later_the_rules_are_causal(levels: list[int]) -> None:
    # Evaluating after each session, the rupture keys raised along the way are exactly the ruptures a causal
    # detector finds in the whole series at the end.
    checkins = [rating(session, level=float(level)) for session, level in enumerate(levels, start=1)]
    raised = set()
    for end in range(1, len(checkins) + 1):
        raised |= {key for key in keys(run(checkins[:end])) if key.startswith("rupture:")}
    frame = pd.DataFrame(
        [{"id": 0, "time": s, **dict.fromkeys(ITEMS, float(v))} for s, v in enumerate(levels, start=1)]
    )
    whole = domain_ruptures(
        frame,
        instrument=REGISTRY.get("alliance-client"),
        detector=RuptureDetector(between_sd=2.0, causal=True),
        total_detector=RuptureDetector(between_sd=1.0, causal=True),
    )
    dips = whole[whole["rule"] == "dip"]
    assert raised == {f"rupture:{d}:session-{t}" for d, t in zip(dips["domain"], dips["time"], strict=True)}


def test_one_clients_long_history_is_evaluated_quickly() -> None:
    checkins = [rating(s, {"bond": 9 - (s % 4)}) for s in range(1, 41)]
    checkins += [outcome(s, 20 - s / 4) for s in range(1, 41)]
    history = ClientHistory(checkins=tuple(checkins), appointments=attended(*range(1, 41)))
    evaluate(history, instruments=REGISTRY)
    started = time.perf_counter()
    evaluate(history, instruments=REGISTRY)
    assert time.perf_counter() - started < 0.5
