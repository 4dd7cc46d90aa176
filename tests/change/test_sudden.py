"""Sudden gains and losses, checked against the R package suddengains (Wiedemann et al. 2020).

Golden values come from the package's own published outputs on its example data ``sgdata`` (BDI, sessions
1-12, ``sg_crit1_cutoff = 7``, all other arguments at their defaults):

- [bysg-ref]   reference page of ``create_bysg()`` (pkgdown site, reference/create_bysg.md):
  "A tibble: 24 x 28" and its first ten rows.
- [describe]   ``describe_sg()`` in tests/testthat/test-describe_sg.R, the reference page and the vignette
  (articles/suddengains-tutorial.md): 24 gains; 15 of 43 clients with a gain; 8 with more than one;
  70.83% of gains belong to clients with several; magnitude mean 11, SD 3.43; first gain per client
  mean 11.4, SD 3.98.
- [bysg-test]  tests/testthat/test-create_bysg.R: every gain of ids 1-18 with the scores around it.
- [vignette]   the tutorial: "The first gain experienced by ID 5 is from session 3 to 4, whereas the
  largest gain was experienced from session 8 to 9."
- [intervals]  reference page of ``count_intervals()`` on sgdata: 473 between-session intervals, 387 where a
  gain can theoretically be found (first and last skipped), 298 that can be decided given missing data.
- [testthat-sg], [testthat-sl]  tests/testthat/test-identify_sg.R and test-identify_sl.R: small hand-made
  series with the package's expected interval-by-interval answers.
- [check]      ``check_interval()`` examples in the vignette.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from alliance.change.sudden import CHANGE_COLUMNS, find_sudden_changes, judge_intervals

NA = np.nan
BDI_SESSIONS = [f"bdi_s{i}" for i in range(1, 13)]

# [bysg-test]: (id, pregain session, score at pregain session, score at postgain session) for ids 1-18.
PUBLISHED_GAINS_IDS_1_TO_18 = [
    (1, 3, 34, 23),
    (1, 7, 29, 17),
    (3, 8, 35, 26),
    (4, 3, 32, 22),
    (5, 3, 36, 26),
    (5, 8, 19, 6),
    (9, 3, 32, 23),
    (10, 2, 35, 25),
    (10, 4, 25, 17),
    (12, 3, 31, 23),
    (13, 3, 36, 23),
    (13, 8, 18, 10),
    (14, 2, 37, 23),
    (18, 3, 35, 24),
]


def sgdata_long(shared_data: Path) -> pd.DataFrame:
    """Return sgdata's BDI sessions 1-12 in long format (id, session, bdi)."""
    wide = pd.read_csv(shared_data / "longitudinal" / "sgdata.csv")
    long = wide.melt(id_vars="id", value_vars=BDI_SESSIONS, var_name="variable", value_name="bdi")
    long["session"] = long["variable"].str.removeprefix("bdi_s").astype("int64")
    return long[["id", "session", "bdi"]]


def series(*scores: float) -> pd.DataFrame:
    """One client's scores at sessions 1, 2, 3, ... (NaN for missing)."""
    return pd.DataFrame({"id": 1, "session": range(1, len(scores) + 1), "score": [float(s) for s in scores]})


def gains(frame: pd.DataFrame, **options: object) -> list[tuple[int, int]]:
    """Return the (from, to) sessions of the sudden gains in ``frame``."""
    found = find_sudden_changes(frame, id="id", time="session", score="score", cutoff=7, kind="gains", **options)
    return list(zip(found["from_time"], found["to_time"], strict=True))


# --- The package's published results on sgdata --------------------------------------------------------------


@pytest.fixture(scope="module")
def sgdata_gains(shared_data: Path) -> pd.DataFrame:
    return find_sudden_changes(sgdata_long(shared_data), id="id", time="session", score="bdi", cutoff=7, kind="gains")


def test_sgdata_has_the_24_published_gains_in_15_of_43_clients(sgdata_gains: pd.DataFrame) -> None:
    assert len(sgdata_gains) == 24  # [bysg-ref], [describe] sg_total_n
    per_client = sgdata_gains.groupby("id").size()
    assert len(per_client) == 15  # [describe] sg_n; sg_pct 34.88 = 15 / 43
    assert round(100 * 15 / 43, 2) == 34.88
    assert int((per_client > 1).sum()) == 8  # [describe] sg_multiple_n (18.6% of 43)
    in_multiple = int(per_client[per_client > 1].sum())
    assert round(100 * in_multiple / 24, 2) == 70.83  # [describe] bysg sg_multiple_pct


def test_sgdata_gain_magnitudes_match_the_published_mean_and_sd(sgdata_gains: pd.DataFrame) -> None:
    magnitude = sgdata_gains["pre"] - sgdata_gains["post"]
    assert round(magnitude.mean(), 2) == 11.0  # [describe] bysg sg_magnitude_m
    assert round(magnitude.std(), 2) == 3.43  # [describe] bysg sg_magnitude_sd
    first = sgdata_gains.drop_duplicates("id", keep="first")
    first_magnitude = first["pre"] - first["post"]
    assert round(first_magnitude.mean(), 2) == 11.4  # [describe] byperson (first gain) sg_magnitude_m
    assert round(first_magnitude.std(), 2) == 3.98  # [describe] byperson sg_magnitude_sd


def test_sgdata_gains_of_ids_1_to_18_are_the_published_ones(sgdata_gains: pd.DataFrame) -> None:
    early = sgdata_gains[sgdata_gains["id"] <= 18]
    found = [(int(r.id), int(r.from_time), int(r.pre), int(r.post)) for r in early.itertuples(index=False)]
    assert found == PUBLISHED_GAINS_IDS_1_TO_18  # [bysg-test]; the first ten rows also in [bysg-ref]
    assert (early["to_time"] == early["from_time"] + 1).all()
    assert set(early["kind"]) == {"gain"}


def test_client_5_first_gain_is_3_to_4_and_largest_is_8_to_9(sgdata_gains: pd.DataFrame) -> None:
    client5 = sgdata_gains[sgdata_gains["id"] == 5]
    assert (client5["from_time"].iloc[0], client5["to_time"].iloc[0]) == (3, 4)  # [vignette]
    largest = client5.loc[(client5["pre"] - client5["post"]).idxmax()]
    assert (largest["from_time"], largest["to_time"]) == (8, 9)  # [vignette]


def test_sgdata_interval_counts_match_count_intervals(shared_data: Path) -> None:
    wide = pd.read_csv(shared_data / "longitudinal" / "sgdata.csv")
    judged = judge_intervals(wide[BDI_SESSIONS].to_numpy(float), cutoff=1, direction="fall")
    assert judged.size == 473  # [intervals] total_between_sess_intervals = 43 x 11
    assert judged[:, 1:-1].size == 387  # [intervals] total_between_sess_intervals_sg = 43 x 9
    assert int(np.isfinite(judged).sum()) == 298  # [intervals] available_between_sess_intervals_sg
    # The first and last intervals are never decidable: the windows need two scores on each side.
    assert np.isnan(judged[:, [0, -1]]).all()


def test_sgdata_sudden_losses_are_three_hand_checked_rises(shared_data: Path) -> None:
    # No published count of sudden losses on sgdata exists; these three were checked by hand, e.g. id 4,
    # sessions 7-12 = 21, 19, 24 | 33, 30, 28: rise 9 >= 7 and >= 25% of 24; means 21.33 -> 30.33, pooled
    # SD sqrt((12.67 + 12.67) / 4) = 2.52, 9 > 2.776 * 2.52 = 6.99.
    losses = find_sudden_changes(
        sgdata_long(shared_data), id="id", time="session", score="bdi", cutoff=7, kind="losses"
    )
    rows = [(int(r.id), int(r.from_time), int(r.to_time), r.pre, r.post) for r in losses.itertuples(index=False)]
    assert rows == [(4, 9, 10, 24.0, 33.0), (34, 7, 8, 8.0, 20.0), (35, 7, 8, 4.0, 22.0)]
    assert set(losses["kind"]) == {"loss"}


# --- The package's own small test cases ---------------------------------------------------------------------

# [testthat-sg] df1 and df2: six consecutive scores per id; the package judges 2->3, 3->4, 4->5.
TESTTHAT_DF1 = [
    [28, 19, 23, 12, 13, NA],
    [28, 19, 23, 11, 12, NA],
    [28, 19, NA, 12, 13, NA],
    [28, 19, 23, 12, 13, NA],
    [28, 19, 23, 12, 14, NA],
    [28, 19, NA, 12, 13, NA],
    [28, 19, 23, 11, 12, NA],
    [28, 25, 28, 11, 12, NA],
    [28, 26, 28, 11, 12, NA],
    [NA, 26, 28, NA, 12, 11],
]
TESTTHAT_DF1_EXPECTED_SG = [
    [0, 0, NA],
    [0, 1, NA],
    [NA, NA, NA],
    [0, 0, NA],
    [0, 0, NA],
    [NA, NA, NA],
    [0, 1, NA],
    [0, 1, NA],
    [0, 1, NA],
    [NA, NA, NA],
]
TESTTHAT_DF2 = [
    [35, 37, 23, 23, 24, 21],
    [35, 37, 34, 24, 24, 21],
    [35, 37, 34, 34, 24, 21],
    [35, 37, 34, 37, 37, 37],
]
TESTTHAT_DF2_EXPECTED_SG = [[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 0, 0]]
# [testthat-sl] df2 with identify_sl(sg_crit1_cutoff = -7).
TESTTHAT_SL_DF2 = [
    [10, 11, 12, 30, 28, 33],
    [10, 11, 12, 10, 28, 33],
    [10, 11, 30, 30, 28, 33],
    [35, 37, 34, 23, 24, 21],
]
TESTTHAT_SL_DF2_EXPECTED = [[0, 1, 0], [0, 0, 1], [1, 0, 0], [0, 0, 0]]


@pytest.mark.parametrize(
    ("scores", "direction", "expected"),
    [
        (TESTTHAT_DF1, "fall", TESTTHAT_DF1_EXPECTED_SG),
        (TESTTHAT_DF2, "fall", TESTTHAT_DF2_EXPECTED_SG),
        (TESTTHAT_SL_DF2, "rise", TESTTHAT_SL_DF2_EXPECTED),
    ],
    ids=["sg-df1", "sg-df2", "sl-df2"],
)
def test_package_testthat_cases(scores: list[list[float]], direction: str, expected: list[list[float]]) -> None:
    judged = judge_intervals(np.array(scores, dtype=float), cutoff=7, direction=direction)
    # Our columns are 1->2 .. 5->6; the package reports 2->3 .. 4->5 (the others are never decidable).
    np.testing.assert_array_equal(judged[:, 1:4], np.array(expected, dtype=float))
    assert np.isnan(judged[:, [0, 4]]).all()


@pytest.mark.parametrize(
    ("pre", "post", "direction", "alpha"),
    [
        ((32, 31, 33), (5, 6, 7), "fall", 0.05),  # [check] critical value 2.776
        ((32, 31, 33), (5, 6, 7), "fall", 0.01),  # [check] critical value 4.604
        ((NA, 31, 33), (5, NA, 7), "fall", 0.01),  # [check] critical value 9.925 (2 + 2 scores)
        ((5, NA, 7), (16, 12, 14), "rise", 0.05),  # [check] sudden loss, critical value 3.182
    ],
)
def test_check_interval_examples_are_sudden_changes(
    pre: tuple[float, ...], post: tuple[float, ...], direction: str, alpha: float
) -> None:
    judged = judge_intervals(np.array([[*pre, *post]], dtype=float), cutoff=7, direction=direction, alpha=alpha)
    assert judged[0, 2] == 1.0


# --- Hand-checked rules -------------------------------------------------------------------------------------


def test_a_clear_drop_is_a_gain_with_its_sessions_and_scores() -> None:
    found = find_sudden_changes(series(30, 31, 30, 18, 17, 18), id="id", time="session", score="score", cutoff=7)
    assert list(found.columns) == list(CHANGE_COLUMNS)
    assert found.to_dict("records") == [
        {"id": 1, "from_time": 3, "to_time": 4, "kind": "gain", "pre": 30.0, "post": 18.0}
    ]


def test_cutoff_and_25_percent_are_inclusive_boundaries() -> None:
    # Drop of exactly 7 from 28: 7 >= 7 and 7 >= 0.25 * 28.
    assert gains(series(28, 28, 28, 21, 21, 21)) == [(3, 4)]
    # Drop of 6 misses the cutoff.
    assert gains(series(28, 28, 28, 22, 22, 22)) == []
    # Drop of 9 from 40 meets the cutoff but not 25% (10).
    assert gains(series(40, 40, 40, 31, 31, 31)) == []
    # Drop of 10 from 40 is exactly 25%.
    assert gains(series(40, 40, 40, 30, 30, 30)) == [(3, 4)]


def test_critical_value_follows_the_scores_present() -> None:
    # Pre 20, 22, 30 (mean 24, SS 56); post 10, 12, 14 (mean 12, SS 8): pooled SD sqrt(64 / 4) = 4,
    # difference 12 = 3.0 SDs > 2.776 (df 4): a gain.
    full = np.array([[20, 22, 30, 10, 12, 14]], dtype=float)
    assert judge_intervals(full, cutoff=7, direction="fall")[0, 2] == 1.0
    # Without the third post score: post mean 11, SS 2, pooled SD sqrt(58 / 3) = 4.397, difference 13 =
    # 2.957 SDs: above 2.776 but below the adjusted 3.182 (df 3), so not a gain.
    gap = np.array([[20, 22, 30, 10, 12, NA]], dtype=float)
    assert judge_intervals(gap, cutoff=7, direction="fall")[0, 2] == 0.0
    assert 2.776 < 13 / math.sqrt(58 / 3) < 3.182
    assert round(float(stats.t.ppf(0.975, 3)), 3) == 3.182
    assert round(float(stats.t.ppf(0.975, 2)), 3) == 4.303


def test_fewer_than_two_scores_in_a_window_leaves_the_interval_undecided() -> None:
    # Pre window for 3->4 is sessions 1-3, post window 4-6.
    few_before = np.array([[NA, NA, 30, 10, 11, 12]], dtype=float)
    few_after = np.array([[30, 31, 30, 10, NA, NA]], dtype=float)
    assert np.isnan(judge_intervals(few_before, cutoff=7, direction="fall")[0, 2])
    assert np.isnan(judge_intervals(few_after, cutoff=7, direction="fall")[0, 2])
    assert gains(series(NA, NA, 30, 10, 11, 12)) == []


def test_a_missing_score_at_either_end_of_the_interval_is_not_a_gain() -> None:
    # The change 30 -> (missing) -> 10 spans two intervals, neither of which can be judged.
    judged = judge_intervals(np.array([[31, 30, 30, NA, 10, 11, 10]], dtype=float), cutoff=7, direction="fall")
    assert np.isnan(judged[0, 2]) and np.isnan(judged[0, 3])
    assert gains(series(31, 30, 30, NA, 10, 11, 10)) == []


def test_an_absent_session_row_is_missing_not_skipped() -> None:
    # Session 4 has no row: 30 at session 3 and 10 at session 5 are not consecutive.
    frame = series(31, 30, 30, 99, 10, 11, 10)
    frame = frame[frame["session"] != 4]
    assert gains(frame) == []
    # With session 4 present the same drop is found.
    assert gains(series(31, 30, 30, 10, 10, 11, 10)) == [(3, 4)]


def test_clients_with_different_session_ranges_keep_their_own_session_numbers() -> None:
    early = series(30, 31, 30, 18, 17, 18)  # sessions 1-6
    late = series(30, 31, 30, 18, 17, 18).assign(id=2)
    late["session"] += 3  # sessions 4-9
    found = find_sudden_changes(
        pd.concat([early, late]), id="id", time="session", score="score", cutoff=7, kind="gains"
    )
    assert found[["id", "from_time", "to_time"]].values.tolist() == [[1, 3, 4], [2, 6, 7]]


def test_the_first_interval_is_skipped_unless_a_baseline_precedes_it() -> None:
    # A drop from session 1 to 2 has only one score before it (the package's identify_sg_1to2 = FALSE).
    assert gains(series(30, 18, 17, 18, 17)) == []
    # Including a baseline measurement (session 0) makes the interval 1 -> 2 judgeable, as the package
    # does with identify_sg_1to2 = TRUE and a baseline first in sg_var_list.
    with_baseline = series(31, 30, 18, 17, 18, 17)
    with_baseline["session"] -= 1
    assert gains(with_baseline) == [(1, 2)]


def test_the_last_score_cannot_be_the_post_gain_session() -> None:
    assert gains(series(30, 31, 30, 31, 30, 10)) == []
    assert gains(series(30, 31, 30, 31, 30, 10, 11)) == [(5, 6)]


def test_losses_mirror_gains_and_higher_is_better_swaps_them() -> None:
    rises = series(10, 11, 10, 20, 21, 20)
    both = find_sudden_changes(rises, id="id", time="session", score="score", cutoff=7, kind="both")
    assert both[["from_time", "kind"]].to_dict("records") == [{"from_time": 3, "kind": "loss"}]
    higher = find_sudden_changes(rises, id="id", time="session", score="score", cutoff=7, better="higher")
    assert higher[["from_time", "kind"]].to_dict("records") == [{"from_time": 3, "kind": "gain"}]
    # A rise must also be 25% of the score before it: 32 -> 39 is 7 points but only 22%.
    small = series(32, 31, 32, 39, 40, 39)
    assert find_sudden_changes(small, id="id", time="session", score="score", cutoff=7, kind="losses").empty


def test_changes_are_sorted_by_id_as_numbers_then_session() -> None:
    frame = pd.concat(
        [
            series(30, 31, 30, 18, 17, 18, 30, 31).assign(id="10"),
            series(30, 31, 30, 18, 17, 18).assign(id="2"),
        ]
    )
    found = find_sudden_changes(frame, id="id", time="session", score="score", cutoff=7, kind="both")
    assert found[["id", "from_time", "kind"]].values.tolist() == [
        ["2", 3, "gain"],
        ["10", 3, "gain"],
        ["10", 6, "loss"],
    ]


def test_no_rows_gives_an_empty_table_with_the_columns() -> None:
    empty = find_sudden_changes(series()[:0], id="id", time="session", score="score", cutoff=7)
    assert list(empty.columns) == list(CHANGE_COLUMNS) and empty.empty


@pytest.mark.parametrize("options", [{"cutoff": 0}, {"cutoff": -7}, {"alpha": 1.5}, {"kind": "sg"}, {"better": "up"}])
def test_bad_options_are_refused(options: dict[str, object]) -> None:
    arguments: dict[str, object] = {"id": "id", "time": "session", "score": "score", "cutoff": 7, **options}
    with pytest.raises(ValueError):
        find_sudden_changes(series(1, 2, 3), **arguments)


# --- Property: the vectorised judge equals the package's loop, cell by cell ---------------------------------


def package_loop(x: np.ndarray, *, cutoff: float, rise: bool, alpha: float = 0.05) -> np.ndarray:
    """Re-state the package's identify_sg / identify_sl loop plainly (sudden losses with a mirrored 25%)."""
    rows, m = x.shape
    out = np.full((rows, m - 1), np.nan)
    sign = -1.0 if rise else 1.0
    for i in range(rows):
        for j in range(2, m - 1):  # the package's col_j = 3 .. ncol - 1 (0-based postgain column j)
            before, after = x[i, j - 1], x[i, j]
            pre = [v for v in x[i, max(0, j - 3) : j] if not np.isnan(v)]
            post = [v for v in x[i, j : min(m, j + 3)] if not np.isnan(v)]
            if np.isnan(before) or np.isnan(after) or len(pre) < 2 or len(post) < 2:
                continue
            crit1 = sign * (before - after) >= cutoff
            crit2 = sign * (before - after) >= 0.25 * before
            df = len(pre) + len(post) - 2
            pooled = math.sqrt(((len(pre) - 1) * np.var(pre, ddof=1) + (len(post) - 1) * np.var(post, ddof=1)) / df)
            crit3 = sign * (np.mean(pre) - np.mean(post)) > abs(stats.t.ppf(alpha / 2, df)) * pooled
            out[i, j - 1] = float(crit1 and crit2 and crit3)
    return out


score_matrices = st.integers(min_value=1, max_value=6).flatmap(
    lambda rows: st.integers(min_value=2, max_value=10).flatmap(
        lambda cols: st.lists(
            st.lists(st.one_of(st.integers(0, 40).map(float), st.just(np.nan)), min_size=cols, max_size=cols),
            min_size=rows,
            max_size=rows,
        )
    )
)


@settings(max_examples=200, deadline=None)
@given(matrix=score_matrices, rise=st.booleans(), cutoff=st.sampled_from([1.0, 4.0, 7.0]))
def test_vectorised_judge_equals_the_package_loop(matrix: list[list[float]], rise: bool, cutoff: float) -> None:
    x = np.array(matrix, dtype=float)
    judged = judge_intervals(x, cutoff=cutoff, direction="rise" if rise else "fall")
    np.testing.assert_array_equal(judged, package_loop(x, cutoff=cutoff, rise=rise))


def test_large_caseloads_are_judged_quickly() -> None:
    # 100,000 clients x 20 sessions (2 million scores) in one vectorised pass.
    rng = np.random.default_rng(7)
    scores = rng.integers(0, 45, size=(100_000, 20)).astype(float)
    scores[rng.random(scores.shape) < 0.1] = np.nan
    judged = judge_intervals(scores, cutoff=7, direction="fall")
    assert judged.shape == (100_000, 19)
    assert np.nansum(judged) > 0
