"""Oracle tests of the metrics on hand-built episodes: every count and rate is worked out by hand here."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from analytics_builders import Ep, frames, scored
from scipy import stats

from alliance.analytics.engine import connect, tables_from_frames
from alliance.analytics.metrics import METRICS, compute_frames, episode_features
from alliance.analytics.statistics import newcombe_difference, wilson_interval
from alliance.change.talking_therapies import episode_outcomes
from alliance.monitoring.ruptures import RuptureDetector

OUTCOME_EPISODES = [
    Ep("E1", scored([(15, 10), (10, 6), (5, 3)])),  # case; recovered; reliable improvement -> reliable recovery
    Ep("E2", scored([(12, 9), (8, 7)])),  # case; recovered (8 < 10, 7 < 8); change -4/-2 is not reliable
    Ep("E3", scored([(8, 5), (16, 10)])),  # not a case at the start; reliable deterioration
    Ep("E4", scored([(20, 15), (18, 14)])),  # case; still a case; no reliable change
    Ep("E5", scored([(20, 15)])),  # one session: not finished
    Ep("E6", scored([(20, 15), (5, 2)]), ending="open"),  # open: not finished
    Ep("E7", scored([(14, 12), (7, 6)]), ending="dropped_out"),  # finished although it ended early
]


def test_outcomes_count_and_rate_as_worked_out_by_hand() -> None:
    row = compute_frames(frames(OUTCOME_EPISODES), metrics=["outcomes"])["outcomes"].iloc[0]
    assert row["practice_id"] == "P1"
    assert (row["clients"], row["episodes"], row["finished"], row["cases"]) == (7, 7, 5, 4)
    assert (row["recovery"], row["reliable_improvement"], row["reliable_deterioration"], row["reliable_recovery"]) == (
        3, 2, 1, 2,
    )  # fmt: skip
    assert row["recovery_rate"] == pytest.approx(3 / 4)
    low, high = wilson_interval(3, 4)
    assert (row["recovery_low"], row["recovery_high"]) == pytest.approx((float(low), float(high)))
    assert row["reliable_deterioration_rate"] == pytest.approx(1 / 5)
    assert not row["suppressed"]


def test_outcome_flags_agree_with_talking_therapies_module() -> None:
    con = connect("duckdb")
    features = episode_features(tables_from_frames(con, frames(OUTCOME_EPISODES))).to_pandas().set_index("episode_id")
    finished = ["E1", "E2", "E3", "E4", "E7"]
    long = pd.DataFrame(
        [
            {"client": ep.id, "session": number, "phq9": phq9, "gad7": gad7}
            for ep in OUTCOME_EPISODES
            if ep.id in finished
            for number, (_, phq9, gad7, _) in enumerate(ep.sessions, start=1)
        ]
    )
    expected = episode_outcomes(long).set_index("client")
    for column, ours in (
        ("case_at_start", "case"),
        ("recovered", "recovered"),
        ("reliable_improvement", "improved"),
        ("reliable_deterioration", "deteriorated"),
        ("reliable_recovery", "reliably_recovered"),
    ):
        want = expected[column].fillna(False).astype(bool)
        got = features.loc[finished, ours].astype(bool)
        assert list(got) == list(want.loc[finished]), column
    assert not features.loc[["E5", "E6"], "finished"].any()


def test_small_groups_are_blanked_and_flagged() -> None:
    data = frames([*OUTCOME_EPISODES[:4], Ep("Q1", scored([(15, 10), (5, 3)]), practice="P2")])
    out = compute_frames(data, metrics=["outcomes"])["outcomes"].set_index("practice_id")
    # P1 has 4 clients and P2 one: both are blanked.
    assert out.loc["P1", "suppressed"] and out.loc["P2", "suppressed"]
    assert pd.isna(out.loc["P2", "recovery_rate"]) and pd.isna(out.loc["P2", "clients"])


def test_engagement_counts_checkins_dna_and_unplanned_endings() -> None:
    episodes = [
        Ep("E1", [("attended", 15, 10, 8), ("did_not_attend", None, None, None), ("attended", None, None, None)]),
        Ep("E2", [("attended", 15, 10, None), ("cancelled", None, None, None), ("attended", 9, 6, 7)]),
        Ep("E3", scored([(15, 10), (14, 9)]), ending="dropped_out"),
        Ep("E4", scored([(15, 10)]), ending="referred_on"),
        Ep("E5", scored([(15, 10)]), ending="open"),
    ]
    row = compute_frames(frames(episodes), metrics=["engagement"])["engagement"].iloc[0]
    # Attended: 2 + 2 + 2 + 1 + 1 = 8, of which E1's third has no check-in: 7 completed.
    assert (row["attended"], row["checkin_completion"]) == (8, 7)
    # Booked (not cancelled): 3 + 2 + 2 + 1 + 1 = 9; one DNA.
    assert (row["booked"], row["dna"]) == (9, 1)
    assert row["dna_rate"] == pytest.approx(1 / 9)
    # Ended: all but E5 (4); unplanned (dropped out): E3.
    assert (row["ended"], row["unplanned_ending"]) == (4, 1)


def _series_frames(series: dict[str, list[float | None]]) -> dict[str, pd.DataFrame]:
    return frames([Ep(name, [("attended", 12, 9, score) for score in scores]) for name, scores in series.items()])


def _detector_flags(series: dict[str, list[float | None]], criterion: str) -> pd.DataFrame:
    rows = [
        {"id": name, "time": position, "score": score}
        for name, scores in series.items()
        for position, score in enumerate([s for s in scores if s is not None], start=1)
    ]
    long = pd.DataFrame(rows)
    detector = RuptureDetector(criterion=criterion).fit(long, id="id", time="time", score="score")  # type: ignore[arg-type]
    found = detector.detect(long, id="id", time="time", score="score")
    first = found.groupby("id").first()
    flags = pd.DataFrame(index=list(series))
    flags["rupture"] = flags.index.isin(first.index)
    flags["repaired"] = [bool(name in first.index and pd.notna(first.loc[name, "repaired_at"])) for name in flags.index]
    return flags


def test_ruptures_in_window_functions_agree_with_the_rupture_detector() -> None:
    rng = np.random.default_rng(11)
    series: dict[str, list[float | None]] = {
        "V": [8.0, 8.25, 8.0, 5.0, 8.0, 8.125],  # a V: dip and repair next session
        "L": [8.0, 8.0, 8.25, 5.0, 5.0, 5.25, 5.0, 5.0],  # a dip that never comes back
        "late": [9.0, 9.0, 9.0, 6.0, 6.0, 6.0, 6.0, 9.0],  # back after 4 sessions: not repaired
        "flat": [8.0, 8.0, 8.0, 8.0],
        "gap": [8.0, None, 8.25, 4.0, None, 8.0],  # missing scores are skipped, as the detector does
        "short": [7.0],
    }
    for i in range(40):
        length = int(rng.integers(2, 12))
        scores = np.clip(np.round((7.5 + rng.normal(0, 0.8, length)) * 8) / 8, 0, 10)
        if rng.random() < 0.5:
            scores[int(rng.integers(1, length))] -= rng.uniform(1.5, 3.5)
        series[f"R{i:02d}"] = [float(s) for s in scores]
    con = connect("duckdb")
    features = episode_features(tables_from_frames(con, _series_frames(series))).to_pandas().set_index("episode_id")
    for criterion, suffix in (("lenient", ""), ("strict", "_strict")):
        expected = _detector_flags(series, criterion)
        for name in series:
            assert bool(features.loc[name, f"rupture{suffix}"]) == expected.loc[name, "rupture"], (criterion, name)
            assert bool(features.loc[name, f"repaired{suffix}"]) == expected.loc[name, "repaired"], (criterion, name)
    assert features.loc["V", "rupture"] and features.loc["V", "repaired"]
    assert features.loc["L", "rupture"] and not features.loc["L", "repaired"]
    assert features.loc["late", "rupture"] and not features.loc["late", "repaired"]
    assert not features.loc["flat", "rupture"]
    # Early alliance: the mean of the first three scores (missing ones skipped).
    assert features.loc["gap", "early_alliance"] == pytest.approx((8.0 + 8.25 + 4.0) / 3)


def test_therapist_effects_reproduce_shrout_fleiss_through_the_engine() -> None:
    table = np.array([[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]], float)
    episodes = [
        Ep(f"E{t}{j}", scored([(20, 10), (20 - table[t, j], 10)]), therapist=f"H{t}")
        for t in range(6)
        for j in range(4)
    ]
    row = compute_frames(frames(episodes), metrics=["therapist_effects"])["therapist_effects"].iloc[0]
    assert (row["therapists"], row["episodes"]) == (6, 24)
    assert row["mean_improvement"] == pytest.approx(table.mean())
    assert row["icc"] == pytest.approx(0.16574, abs=1e-5)
    assert (row["icc_low"], row["icc_high"]) == pytest.approx((-0.1329, 0.7226), abs=1e-4)
    by_therapist = compute_frames(frames(episodes), by=("therapist_id",), metrics=["therapist_effects"])
    assert len(by_therapist["therapist_effects"]) == 1  # never one row per therapist


def test_association_between_is_pearson_of_early_alliance_and_improvement() -> None:
    rng = np.random.default_rng(5)
    episodes, alliance, improvement = [], [], []
    for i in range(12):
        early = [float(v) for v in np.round(rng.uniform(5, 10, 3) * 4) / 4]
        first, last = 20.0, float(rng.integers(3, 19))
        sessions = [("attended", first, 10.0, early[0]), ("attended", 18.0, 10.0, early[1])]
        sessions += [("attended", 15.0, 10.0, early[2]), ("attended", last, 10.0, 9.0)]
        episodes.append(Ep(f"E{i:02d}", sessions))
        alliance.append(np.mean(early))
        improvement.append(first - last)
    row = compute_frames(frames(episodes), metrics=["association"])["association"].iloc[0]
    r = stats.pearsonr(alliance, improvement).statistic
    assert row["between_n"] == 12 and row["between_r"] == pytest.approx(r)
    z = np.arctanh(r)
    assert row["between_low"] == pytest.approx(np.tanh(z - 1.959964 / 3), abs=1e-6)
    # Within: alliance at a session vs PHQ-9 change to the next session, centred on each client's means.
    xs, ys, ids = [], [], []
    for ep in episodes:
        for (_, phq, _, a), (_, phq_next, _, _) in zip(ep.sessions, ep.sessions[1:], strict=False):
            xs.append(a), ys.append(phq_next - phq), ids.append(ep.id)
    long = pd.DataFrame({"id": ids, "x": xs, "y": ys})
    centred = long[["x", "y"]] - long.groupby("id")[["x", "y"]].transform("mean")
    slope = (centred.x * centred.y).sum() / (centred.x**2).sum()
    assert (row["within_n"], row["within_episodes"]) == (36, 12)
    assert row["within_slope"] == pytest.approx(slope)


def test_equity_gap_is_the_group_minus_the_average_with_a_scaled_newcombe_interval() -> None:
    white = [Ep(f"A{i}", scored([(15, 10), (5, 3) if i < 3 else (15, 10)]), ethnicity="A") for i in range(6)]
    pakistani = [Ep(f"J{i}", scored([(15, 10), (5, 3) if i < 1 else (15, 10)]), ethnicity="J") for i in range(6)]
    few = [Ep(f"K{i}", scored([(15, 10), (5, 3)]), ethnicity="K") for i in range(2)]
    out = compute_frames(frames(white + pakistani + few), metrics=["equity"])["equity"]
    recovery = out[(out.dimension == "ethnicity") & (out.outcome == "recovery")].set_index("group")
    average = 6 / 14
    assert recovery.loc["A", "rate"] == pytest.approx(3 / 6)
    assert recovery.loc["A", "average_rate"] == pytest.approx(average)
    assert recovery.loc["A", "gap"] == pytest.approx(3 / 6 - average)
    _, low, high = newcombe_difference(3, 6, 3, 8)
    assert (recovery.loc["A", "gap_low"], recovery.loc["A", "gap_high"]) == pytest.approx(
        (float(low) * 8 / 14, float(high) * 8 / 14)
    )
    assert recovery.loc["J", "gap"] == pytest.approx(1 / 6 - average)
    assert recovery.loc["K", "suppressed"]
    assert pd.isna(recovery.loc["K", "rate"]) and pd.isna(recovery.loc["K", "clients"])
    assert list(out.columns) == ["practice_id", *METRICS["equity"].columns]


def test_empty_tables_give_empty_results_and_a_lone_client_is_suppressed() -> None:
    data = frames([Ep("E1", scored([(15, 10), (5, 3)]))])
    empty = {name: frame.iloc[0:0] for name, frame in data.items()}
    results = compute_frames(empty)
    assert list(results) == list(METRICS) and all(len(frame) == 0 for frame in results.values())
    no_checkins = {**data, "checkins": data["checkins"].iloc[0:0], "appointments": data["appointments"].iloc[0:0]}
    outcomes = compute_frames(no_checkins, metrics=["outcomes"])["outcomes"]
    assert len(outcomes) == 1 and outcomes.loc[0, "suppressed"]
