"""Ruptures are V-shaped dips against the client's own level; repair is a return within 1-3 sessions."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from alliance.instruments import bundled_registry
from alliance.monitoring.ruptures import DOMAIN_COLUMNS, RUPTURE_COLUMNS, RuptureDetector, domain_ruptures

ITEMS = ("bond", "understood", "respect", "goals", "tasks", "culture", "safety", "overall")


def series(*scores: float, client: object = "a", start: int = 1) -> pd.DataFrame:
    """One client's scores at sessions start, start + 1, ... (NaN = no score that session)."""
    return pd.DataFrame({"id": client, "time": np.arange(start, start + len(scores)), "score": list(scores)})


def detect(frame: pd.DataFrame, **params: object) -> pd.DataFrame:
    detector = RuptureDetector(**params).fit(frame, id="id", time="time", score="score")  # type: ignore[arg-type]
    return detector.detect(frame, id="id", time="time", score="score")


def rows(found: pd.DataFrame) -> list[tuple[object, ...]]:
    """The contract columns as plain tuples, numbers rounded to 6 places, NA as None."""
    out = []
    for record in found[list(RUPTURE_COLUMNS)].itertuples(index=False):
        out.append(
            tuple(
                None if value is pd.NA else round(float(value), 6) if isinstance(value, float | np.floating) else value
                for value in record
            )
        )
    return out


# --- hand-made series with known answers -------------------------------------------------------------------


def test_a_v_shaped_dip_is_a_rupture_repaired_when_the_score_comes_back() -> None:
    # 9 9 9 5 6 9 9: mean 8, deviations 1 1 1 -3 -2 1 1, SS 18, SD = sqrt(18 / 6) = 1.732.
    # Session 4: baseline mean(9, 9, 9) = 9, drop 9 - 5 = 4 >= max(1 x 1.732, 1.0) -> rupture.
    # Band 9 - 1.732 = 7.268: session 5 (6) is still below, session 6 (9) is back -> repaired at 6.
    found = detect(series(9, 9, 9, 5, 6, 9, 9), between_sd=1.0)
    assert rows(found) == [("a", 4, 9.0, 5.0, 4.0, 6)]
    assert found["threshold"].iloc[0] == pytest.approx(math.sqrt(3))
    assert found["ended_at"].iloc[0] == 6


def test_the_strict_criterion_needs_two_own_sds_and_has_a_wider_band() -> None:
    # Same series, strict: threshold 2 x 1.732 = 3.464 <= drop 4 -> rupture; band 9 - 3.464 = 5.536, so the 6
    # at session 5 is already back -> repaired at 5.
    found = detect(series(9, 9, 9, 5, 6, 9, 9), criterion="strict", between_sd=1.0)
    assert rows(found) == [("a", 4, 9.0, 5.0, 4.0, 5)]


def test_a_dip_between_one_and_two_sds_is_lenient_only() -> None:
    # 9 7 9 9 7 9: mean 8.333, SS 4 x 0.444 + 2 x 1.778 = 5.333, SD = sqrt(5.333 / 5) = 1.033.
    # Session 2: baseline 9, drop 2 >= 1.033 (lenient; back at 3). Session 5: baseline mean(7, 9, 9) = 8.333,
    # drop 1.333 >= 1.033 (lenient). Strict needs 2 x 1.033 = 2.066: neither.
    noisy = series(9, 7, 9, 9, 7, 9)
    lenient = detect(noisy, between_sd=0.5)
    assert [(row[1], row[2], row[4]) for row in rows(lenient)] == [(2, 9.0, 2.0), (5, 8.333333, 1.333333)]
    assert detect(noisy, criterion="strict", between_sd=0.5).empty


def test_a_slow_return_ends_the_rupture_unrepaired_and_the_low_run_is_one_rupture() -> None:
    # 9 9 9 4 4 4 4 9: mean 6.5, SS 8 x 2.5^2 = 50, SD = sqrt(50 / 7) = 2.673.
    # Session 4: drop 5 >= 2.673 -> rupture; band 9 - 2.673 = 6.327. Sessions 5-7 stay below: the same rupture
    # (no new one, although their own baselines would not flag them anyway). Back at session 8: 4 sessions
    # after the dip, beyond the repair window of 3 -> not repaired, but it has ended.
    found = detect(series(9, 9, 9, 4, 4, 4, 4, 9), between_sd=1.0)
    assert rows(found) == [("a", 4, 9.0, 4.0, 5.0, None)]
    assert found["ended_at"].iloc[0] == 8


def test_a_deeper_second_fall_inside_an_open_rupture_is_not_a_new_one() -> None:
    # 9 9 9 5 3 9: session 5 (3) is 4.667 below its own baseline mean(9, 9, 5) = 7.667, but the rupture that
    # began at session 4 is still open (3 is below the band), so it is the same rupture; repaired at 6.
    found = detect(series(9, 9, 9, 5, 3, 9), between_sd=1.0)
    assert [(row[1], row[5]) for row in rows(found)] == [(4, 6)]


def test_an_open_rupture_has_no_end_yet() -> None:
    found = detect(series(9, 9, 9, 3), between_sd=1.0)
    assert rows(found) == [("a", 4, 9.0, 3.0, 6.0, None)]
    assert found["ended_at"].isna().all()


def test_when_lower_is_better_a_rise_is_the_dip() -> None:
    # A symptom-like scale: 10 10 10 16 10. Mean 11.2, SS 4 x 1.44 + 4.8^2 = 28.8, SD = sqrt(28.8 / 4) = 2.683.
    # Session 4: drop = score - baseline = 16 - 10 = 6 >= 2.683 -> rupture; band 10 + 2.683; back at 5.
    found = detect(series(10, 10, 10, 16, 10), better="lower", between_sd=1.0)
    assert rows(found) == [("a", 4, 10.0, 16.0, 6.0, 5)]
    assert found["threshold"].iloc[0] == pytest.approx(math.sqrt(7.2))


def test_sessions_without_a_score_are_skipped_and_the_repair_window_counts_sessions() -> None:
    # Sessions 1, 2, 4, 5 scored 8 8 4 8 (session 3 missing). Baseline at 4 = mean(8, 8) = 8, drop 4.
    # SD of (8, 8, 4, 8): mean 7, SS 1 + 1 + 9 + 1 = 12, SD = sqrt(12 / 3) = 2 -> threshold 2; back at 5.
    frame = pd.DataFrame({"id": "a", "time": [1, 2, 3, 4, 5], "score": [8, 8, np.nan, 4, 8]})
    assert rows(detect(frame, between_sd=1.0)) == [("a", 4, 8.0, 4.0, 4.0, 5)]
    # Back only at session 8, four sessions later (5-7 have no score): not a repair.
    late = pd.DataFrame({"id": "a", "time": [1, 2, 3, 4, 8], "score": [8, 8, 8, 4, 8]})
    assert rows(detect(late, between_sd=1.0)) == [("a", 4, 8.0, 4.0, 4.0, None)]


def test_the_baseline_needs_min_previous_scores() -> None:
    # 9 3 9: session 2 is 6 below the single score before it (SD of 9 3 9 = 3.46) -> a rupture with the default
    # min_previous = 1, none when two earlier scores are required (session 3 rises).
    assert [row[1] for row in rows(detect(series(9, 3, 9), between_sd=1.0))] == [2]
    assert detect(series(9, 3, 9), between_sd=1.0, min_previous=2).empty


def test_the_between_client_sd_guards_a_steady_client_against_a_small_wobble() -> None:
    # 8 8 8 7 8: own SD 0.447, so a 1-point drop is 2.2 own SDs; the guard decides.
    steady = series(8, 8, 8, 7, 8)
    assert detect(steady, between_sd=1.5).empty
    assert rows(detect(steady, between_sd=0.5)) == [("a", 4, 8.0, 7.0, 1.0, 5)]


def test_causal_detection_uses_only_the_scores_up_to_each_session() -> None:
    # At session 4 the clinic has seen 9 9 9 5: mean 8, SS 12, SD = sqrt(12 / 3) = 2 (retrospective: 1.732).
    causal = detect(series(9, 9, 9, 5, 6, 9, 9), between_sd=1.0, causal=True)
    assert causal["threshold"].iloc[0] == pytest.approx(2.0)
    # Band 9 - 2 = 7: 6 at session 5 is still below; 9 at 6 is back.
    assert rows(causal) == [("a", 4, 9.0, 5.0, 4.0, 6)]


def test_clients_are_judged_separately_and_sorted_by_id_as_numbers() -> None:
    frame = pd.concat([series(9, 9, 9, 3, 9, client="10"), series(9, 9, 2, client="2"), series(5, 5, 5, client="3")])
    found = detect(frame, between_sd=1.0)
    assert [(row[0], row[1]) for row in rows(found)] == [("2", 3), ("10", 4)]


def test_fit_pools_session_to_session_changes_across_clients() -> None:
    # Client a: 1, (missing), 4, 5 -> changes 3, 1; client b: 5, 5 -> 0; client c: 3 -> none.
    # Changes 3, 1, 0: mean 4/3, SD = sqrt(((5/3)^2 + (1/3)^2 + (4/3)^2) / 2) = sqrt(7/3) = 1.528.
    frame = pd.concat(
        [
            pd.DataFrame({"id": "a", "time": [1, 2, 3, 4], "score": [1, np.nan, 4, 5]}),
            series(5, 5, client="b"),
            series(3, client="c"),
        ]
    )
    detector = RuptureDetector().fit(frame, id="id", time="time", score="score")
    assert detector.between_sd_ == pytest.approx(math.sqrt(7 / 3))
    assert (detector.n_clients_, detector.n_changes_) == (3, 3)
    given = RuptureDetector(between_sd=0.25).fit(frame, id="id", time="time", score="score")
    assert given.between_sd_ == 0.25


def test_with_fewer_than_two_changes_only_the_own_sd_guards() -> None:
    detector = RuptureDetector().fit(series(5, 6), id="id", time="time", score="score")
    assert detector.between_sd_ == 0.0


def test_parameters_are_checked_by_fit_and_detect_needs_fit() -> None:
    frame = series(9, 9, 3)
    for bad in (
        {"criterion": "loose"},
        {"better": "up"},
        {"baseline_window": 0},
        {"repair_window": 1.5},
        {"min_previous": 4},
        {"between_sd": -1.0},
    ):
        with pytest.raises(ValueError):
            RuptureDetector(**bad).fit(frame, id="id", time="time", score="score")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not fitted"):
        RuptureDetector().detect(frame, id="id", time="time", score="score")


def test_an_empty_table_has_no_ruptures() -> None:
    empty = series()
    found = detect(empty, between_sd=1.0)
    assert found.empty
    assert list(found.columns[:6]) == list(RUPTURE_COLUMNS)


# --- properties ---------------------------------------------------------------------------------------------

SCORES = st.lists(st.integers(0, 10).map(float), min_size=2, max_size=10)
GUARDS = st.sampled_from([0.0, 0.5, 1.0, 2.0])
CRITERIA = st.sampled_from(["lenient", "strict"])


def in_rupture(found: pd.DataFrame, session: int) -> bool:
    """Whether a rupture starts at ``session`` or is still open there (started earlier, not yet back)."""
    for start, end in zip(found["time"], found["ended_at"], strict=True):
        if start <= session and (pd.isna(end) or session < end):
            return True
    return False


@settings(max_examples=100, deadline=None)
@given(level=st.floats(0, 10), length=st.integers(1, 12), criterion=CRITERIA, guard=GUARDS, causal=st.booleans())
def test_a_flat_series_never_ruptures(level: float, length: int, criterion: str, guard: float, causal: bool) -> None:
    assert detect(series(*[level] * length), criterion=criterion, between_sd=guard, causal=causal).empty


@settings(max_examples=100, deadline=None)
@given(scores=SCORES, criterion=CRITERIA, causal=st.booleans(), margin=st.floats(0.01, 5))
def test_no_rupture_when_every_drop_is_below_the_between_client_sd(
    scores: list[float], criterion: str, causal: bool, margin: float
) -> None:
    # No drop can exceed the range of the series.
    guard = max(scores) - min(scores) + margin
    assert detect(series(*scores), criterion=criterion, between_sd=guard, causal=causal).empty


@settings(max_examples=150, deadline=None)
@given(scores=SCORES, guard=GUARDS, causal=st.booleans())
def test_every_strict_rupture_is_inside_a_lenient_one(scores: list[float], guard: float, causal: bool) -> None:
    strict = detect(series(*scores), criterion="strict", between_sd=guard, causal=causal)
    lenient = detect(series(*scores), criterion="lenient", between_sd=guard, causal=causal)
    assert all(in_rupture(lenient, session) for session in strict["time"])


@settings(max_examples=150, deadline=None)
@given(scores=SCORES, data=st.data(), criterion=CRITERIA, guard=GUARDS)
def test_in_the_clinic_a_deeper_dip_is_flagged_whenever_a_shallower_one_is(
    scores: list[float], data: st.DataObject, criterion: str, guard: float
) -> None:
    # Causal: the dip cannot change what was found before it. The strict criterion needs 3 earlier scores:
    # with fewer, a deeper dip raises 2 x own SD faster than the drop (SD of a, a, a - d is d / sqrt(3)).
    first = 3 if criterion == "strict" else 1
    assume(len(scores) > first)
    at = data.draw(st.integers(first, len(scores) - 1))
    shallow, deeper = data.draw(st.floats(0, 10)), data.draw(st.floats(0, 10))
    small, big = list(scores), list(scores)
    small[at] -= shallow
    big[at] -= shallow + deeper
    if in_rupture(detect(series(*small), criterion=criterion, between_sd=guard, causal=True), at + 1):
        assert in_rupture(detect(series(*big), criterion=criterion, between_sd=guard, causal=True), at + 1)


@settings(max_examples=150, deadline=None)
@given(
    prefix=st.lists(st.integers(0, 10).map(float), min_size=1, max_size=8).map(sorted),
    suffix=st.lists(st.integers(0, 10).map(float), max_size=6),
    criterion=CRITERIA,
    guard=GUARDS,
    shallow=st.floats(0, 10),
    deeper=st.floats(0, 10),
)
def test_retrospectively_a_deeper_first_dip_is_flagged_whenever_a_shallower_one_is(
    prefix: list[float], suffix: list[float], criterion: str, guard: float, shallow: float, deeper: float
) -> None:
    # A rising prefix has no rupture of its own, so only the dip itself is judged (over the whole series).
    scores = [*prefix, prefix[-1], *suffix]
    assume(criterion == "lenient" or len(scores) >= 4)
    at = len(prefix)
    small, big = list(scores), list(scores)
    small[at] -= shallow
    big[at] -= shallow + deeper
    if (detect(series(*small), criterion=criterion, between_sd=guard)["time"] == at + 1).any():
        assert (detect(series(*big), criterion=criterion, between_sd=guard)["time"] == at + 1).any()


@settings(max_examples=100, deadline=None)
@given(scores=SCORES, guard=GUARDS, criterion=CRITERIA)
def test_a_repair_comes_one_to_three_sessions_after_the_dip_and_ends_it(
    scores: list[float], guard: float, criterion: str
) -> None:
    found = detect(series(*scores), criterion=criterion, between_sd=guard)
    repaired = found.dropna(subset=["repaired_at"])
    gap = repaired["repaired_at"].astype(int) - repaired["time"]
    assert gap.between(1, 3).all()
    assert (repaired["repaired_at"] == repaired["ended_at"]).all()
    assert (found["drop"] > 0).all()
    assert (found["drop"] >= found["threshold"] - 1e-9).all()


# --- per domain ---------------------------------------------------------------------------------------------


def answers(*sessions: dict[str, float], client: str = "a") -> pd.DataFrame:
    """Relationship check-ins: every item 9 unless the session's dict says otherwise."""
    records = [{"id": client, "time": number, **{item: 9.0 for item in ITEMS}, **changes} for number, changes in
               enumerate(sessions, start=1)]  # fmt: skip
    return pd.DataFrame(records)


def test_a_dip_in_one_domain_says_which_domain_and_the_floor_rule_fires_too() -> None:
    instrument = bundled_registry().get("alliance-client")
    # Bond 9 9 9 3 9: mean 7.8, SS 4 x 1.44 + 4.8^2 = 28.8, SD = sqrt(7.2) = 2.683; drop 6 -> dip; band
    # 9 - 2.683 = 6.317, back at 5. 3 <= 4 -> floor. Total at 4: (3 + 7 x 9) / 8 = 8.25: no dip (0.75 < the
    # guard 1.0), not below the cut-off of 8.
    found = domain_ruptures(
        answers({}, {}, {}, {"bond": 3}, {}),
        instrument=instrument,
        detector=RuptureDetector(between_sd=1.0),
    )
    assert list(found.columns) == list(DOMAIN_COLUMNS)
    got = [
        (r.id, r.time, r.domain, r.rule, r.score, None if r.repaired_at is pd.NA else r.repaired_at)
        for r in found.itertuples(index=False)
    ]
    assert got == [("a", 4, "bond", "dip", 3.0, 5), ("a", 4, "bond", "floor", 3.0, None)]
    assert found["drop"].iloc[0] == 6.0


def test_domains_carry_the_instruments_names_and_the_cutoff_rule_uses_the_total() -> None:
    instrument = bundled_registry().get("alliance-client")
    # Cultural respect (item "culture") falls 9 -> 2 at session 3; every item is 7 at session 5: the total 7
    # is in the below-cut-off band (under 8), and each domain's fall 9 -> 7 is a dip too.
    found = domain_ruptures(
        answers({}, {}, {"culture": 2}, {}, dict.fromkeys(ITEMS, 7.0)),
        instrument=instrument,
        detector=RuptureDetector(between_sd=1.5),
    )
    session3 = found[found["time"] == 3]
    assert list(zip(session3["domain"], session3["rule"], strict=True)) == [
        ("cultural-respect", "dip"),
        ("cultural-respect", "floor"),
    ]
    cutoff = found[found["rule"] == "cutoff"]
    assert list(zip(cutoff["time"], cutoff["domain"], cutoff["score"], strict=True)) == [(5, "total", 7.0)]


def test_the_total_may_have_its_own_guard() -> None:
    instrument = bundled_registry().get("alliance-client")
    # Every item falls 9 -> 8 at session 4: total 9 9 9 8 (a 1-point dip); each item dips by 1 as well.
    frame = answers({}, {}, {}, dict.fromkeys(ITEMS, 8.0))
    found = domain_ruptures(
        frame,
        instrument=instrument,
        detector=RuptureDetector(between_sd=2.0),
        total_detector=RuptureDetector(between_sd=1.0),
    )
    assert list(zip(found["domain"], found["rule"], strict=True)) == [("total", "dip")]


def test_a_detector_without_a_guard_learns_one_per_domain() -> None:
    instrument = bundled_registry().get("alliance-client")
    # Two clients; client b's goals item swings 9/1 every session, so the goals guard is large and client a's
    # goals dip 9 -> 5 is not a rupture, while the same dip in the steady bond domain is. The total (changes
    # 0 0 -1 +1 and +1 -1 +1 -1: SD sqrt(6 / 7) = 0.926) dips too: a's total falls 9 -> 8.
    a = answers({}, {}, {}, {"bond": 5, "goals": 5}, {}, client="a")
    b = answers({"goals": 1}, {}, {"goals": 1}, {}, {"goals": 1}, client="b")
    found = domain_ruptures(pd.concat([a, b]), instrument=instrument, detector=RuptureDetector())
    dips = found[found["rule"] == "dip"]
    assert list(zip(dips["id"], dips["domain"], strict=True)) == [("a", "bond"), ("a", "total")]
