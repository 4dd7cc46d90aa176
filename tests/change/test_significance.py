"""Clinical significance: cut-offs and the five categories, checked against the R package clinicalsignificance.

Oracles: the stored R output of cs_combined on the Jacobson et al. (1989) GDS (every rci to 1e-9 and every
category), the category counts the R package prints for claus_2020 in its testthat snapshots
(tests/testthat/_snaps/cs_combined.md: HAMD, cut-off c, all six methods) and in its combined-approach
vignette (BDI-II, cut-off a = 19.16), and the cut-off formulas of Jacobson & Truax (1991) computed by hand.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alliance.change.rci import reliable_change
from alliance.change.significance import (
    change_table,
    clinical_cutoff,
    combined_categories,
    paired_scores,
    true_score_cutoff,
)
from alliance.errors import InputError

CATEGORIES = ["recovered", "improved", "unchanged", "deteriorated", "harmed"]


def _counts(categories: pd.Series) -> tuple[int, ...]:
    return tuple(int((categories == c).sum()) for c in CATEGORIES)


# --- The stored R output -----------------------------------------------------------------------------------


def test_gds_combined_equals_the_r_output(shared_data: Path) -> None:
    data = pd.read_csv(shared_data / "longitudinal" / "jacobson_1989.csv")
    reference = pd.read_csv(shared_data / "reference" / "jacobson_1989_gds_combined_JT.csv")

    analysis = change_table(
        data,
        id="subject",
        time="time",
        score="gds",
        pre="pre",
        post="post",
        reliability=0.80,
        functional_mean=30,
        functional_sd=8,
        better="lower",
    )

    table = analysis.table
    assert list(table["id"]) == list(reference["id"])
    np.testing.assert_array_equal(table[["pre", "post", "change"]], reference[["pre", "post", "change"]])
    np.testing.assert_allclose(table["rci"], reference["rci"], rtol=0, atol=1e-9)
    assert list(table["category"]) == list(reference["category"].str.lower())
    # Four subjects lack a post GDS score; the R package drops them too.
    assert analysis.left_out == (27, 28, 29, 30)


def test_cutoff_a_comes_from_the_pre_scores_even_when_norms_are_given(shared_data: Path) -> None:
    data = pd.read_csv(shared_data / "longitudinal" / "jacobson_1989.csv")
    analysis = change_table(
        data,
        id="subject",
        time="time",
        score="gds",
        pre="pre",
        post="post",
        reliability=0.8,
        functional_mean=30,
        functional_sd=8,
    )

    pre = analysis.table["pre"]
    assert analysis.approach == "combined"
    assert analysis.cutoff is not None
    assert analysis.cutoff.type == "a"
    assert analysis.cutoff.value == pytest.approx(pre.mean() - 2 * pre.std(ddof=1), abs=1e-12)
    assert analysis.cutoff.value == pytest.approx(56.94968545097362, abs=1e-9)


@pytest.mark.parametrize("method", ["jt", "en"])
def test_das_distribution_table_equals_the_r_output(shared_data: Path, method: str) -> None:
    data = pd.read_csv(shared_data / "longitudinal" / "jacobson_1989.csv")
    reference = pd.read_csv(shared_data / "reference" / f"jacobson_1989_das_distribution_{method.upper()}.csv")

    analysis = change_table(
        data,
        id="subject",
        time="time",
        score="das",
        pre="pre",
        post="post",
        reliability=0.80,
        method=method,
        better="higher",
    )

    assert analysis.approach == "distribution"
    assert analysis.left_out == ()
    np.testing.assert_allclose(analysis.table["rci"], reference["rci"], rtol=0, atol=1e-9)
    assert list(analysis.table["category"]) == list(reference["category"].str.lower())


# --- Counts printed by the R package for claus_2020 ------------------------------------------------------

CLAUS_HAMD_COMBINED_C = {
    # cs_combined(claus_2020, id, time, hamd, pre = 1, post = 4, reliability = 0.8, m_functional = 8,
    # sd_functional = 8, cutoff_type = "c", rci_method = ...) (NK with reliability_post = 0.5):
    # recovered, improved, unchanged, deteriorated, harmed
    "jt": (26, 3, 10, 1, 0),
    "en": (26, 6, 5, 3, 0),
    "hll": (12, 0, 16, 11, 1),
    "gln": (26, 3, 10, 1, 0),
    "nk": (26, 2, 11, 1, 0),
    "ha": (23, 9, 7, 1, 0),
}


@pytest.mark.parametrize("method", sorted(CLAUS_HAMD_COMBINED_C))
def test_combined_counts_equal_the_r_package_snapshot(shared_data: Path, method: str) -> None:
    data = pd.read_csv(shared_data / "longitudinal" / "claus_2020.csv")

    analysis = change_table(
        data,
        id="id",
        time="time",
        score="hamd",
        pre=1,
        post=4,
        reliability=0.8,
        reliability_post=0.5 if method == "nk" else None,
        method=method,
        functional_mean=8,
        functional_sd=8,
        cutoff_type="c",
    )

    assert len(analysis.table) == 40
    assert _counts(analysis.table["category"]) == CLAUS_HAMD_COMBINED_C[method]


def test_combined_vignette_on_the_bdi(shared_data: Path) -> None:
    # Combined-approach vignette: cut-off a 19.16 from M 35.48 and SD 8.16; 10 recovered, 8 improved,
    # 22 unchanged of 40.
    data = pd.read_csv(shared_data / "longitudinal" / "claus_2020.csv")

    analysis = change_table(
        data,
        id="id",
        time="time",
        score="bdi",
        pre=1,
        post=4,
        reliability=0.801,
        functional_mean=7.69,
        functional_sd=7.52,
    )

    assert analysis.cutoff is not None
    assert round(analysis.cutoff.value, 2) == 19.16
    assert (round(analysis.cutoff.m_clinical, 2), round(analysis.cutoff.sd_clinical, 2)) == (35.48, 8.16)
    assert len(analysis.left_out) == 3
    assert _counts(analysis.table["category"]) == (10, 8, 22, 0, 0)


# --- Cut-offs by hand -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("better", "a", "b"),
    [("lower", 30 - 2 * 5, 10 + 2 * 4), ("higher", 30 + 2 * 5, 10 - 2 * 4)],
)
def test_cutoffs_a_b_c_follow_jacobson_and_truax(better: str, a: float, b: float) -> None:
    norms = {"m_clinical": 30.0, "sd_clinical": 5.0, "m_functional": 10.0, "sd_functional": 4.0}

    assert clinical_cutoff("a", better=better, **norms).value == a  # type: ignore[arg-type]
    assert clinical_cutoff("b", better=better, **norms).value == b  # type: ignore[arg-type]
    # c = (5 * 10 + 4 * 30) / (5 + 4) = 170 / 9, whatever the direction
    assert clinical_cutoff("c", better=better, **norms).value == pytest.approx(170 / 9)  # type: ignore[arg-type]


def test_cutoffs_b_and_c_need_the_functional_norms() -> None:
    with pytest.raises(ValueError, match="functional"):
        clinical_cutoff("c", m_clinical=30.0, sd_clinical=5.0)


def test_true_score_cutoff_shrinks_each_sd_to_its_true_score_sd() -> None:
    # SE = 5 * sqrt(.2); clinical reliability = .8; functional reliability = (16 - 5) / 16.
    cut_a = true_score_cutoff("a", m_clinical=30.0, sd_clinical=5.0, reliability=0.8)
    cut_c = true_score_cutoff(
        "c", m_clinical=30.0, sd_clinical=5.0, reliability=0.8, m_functional=10.0, sd_functional=4.0
    )

    t_clin, t_func = 5 * np.sqrt(0.8), 4 * np.sqrt(11 / 16)
    assert cut_a.value == pytest.approx(30 - 2 * t_clin, rel=1e-14)
    assert cut_c.value == pytest.approx((t_clin * 10 + t_func * 30) / (t_clin + t_func), rel=1e-14)
    assert cut_c.true_score


def test_true_score_cutoff_needs_a_functional_sd_above_the_measurement_error() -> None:
    with pytest.raises(InputError, match="standard error of measurement"):
        true_score_cutoff("c", m_clinical=30.0, sd_clinical=5.0, reliability=0.5, m_functional=10.0, sd_functional=3.0)


# --- Categories: boundaries and direction ---------------------------------------------------------------


def test_a_score_exactly_on_the_cutoff_is_neither_clinical_at_pre_nor_functional_at_post() -> None:
    # Lower is better; cut-off 20. Everyone changes reliably (S_diff = 10 * sqrt(2 * .2) = 6.3).
    pre = np.array([30.0, 20.0, 35.0, 10.0, 20.0])
    post = np.array([10.0, 5.0, 20.0, 25.0, 35.0])
    change = reliable_change(pre, post, reliability=0.8, sd_pre=10.0)
    cutoff = clinical_cutoff("c", m_clinical=20.0, sd_clinical=1.0, m_functional=20.0, sd_functional=1.0)

    categories = combined_categories(pre, post, change, cutoff)

    assert cutoff.value == 20.0
    assert list(categories) == [
        "recovered",  # clinical at pre, functional at post
        "improved",  # pre on the cut-off is not clinical, so not recovered
        "improved",  # post on the cut-off is not functional
        "harmed",  # functional at pre, clinical at post
        "harmed",  # pre on the cut-off is not clinical, post is clinical
    ]


def test_with_higher_is_better_the_cutoff_is_crossed_upwards() -> None:
    pre, post = np.array([10.0, 40.0]), np.array([40.0, 10.0])
    change = reliable_change(pre, post, reliability=0.8, better="higher", sd_pre=10.0)
    cutoff = clinical_cutoff("a", m_clinical=10.0, sd_clinical=10.0, better="higher")  # 30

    assert list(combined_categories(pre, post, change, cutoff)) == ["recovered", "harmed"]


def test_ha_never_calls_a_client_harmed_as_in_the_r_package() -> None:
    rng = np.random.default_rng(7)
    pre = rng.normal(20, 6, 200)
    post = pre + rng.normal(0, 8, 200)
    change = reliable_change(pre, post, reliability=0.8, method="ha")
    cutoff = true_score_cutoff("a", m_clinical=change.m_pre, sd_clinical=change.sd_pre, reliability=0.8)

    categories = combined_categories(pre, post, change, cutoff)

    assert "harmed" not in set(categories)
    assert (categories == "deteriorated").sum() == change.deteriorated.sum() > 0


# --- Pairing the tidy data ----------------------------------------------------------------------------------


def test_pairs_are_sorted_by_id_and_incomplete_ids_are_listed() -> None:
    tidy = pd.DataFrame(
        {
            "client": ["10", "2", "2", "10", "7", "3", "3", "3"],
            "week": ["0", "0", "12", "12", "0", "0", "6", "12"],
            "score": [20.0, 18.0, 9.0, 15.0, 22.0, 25.0, 20.0, np.nan],
        }
    )

    pairs, left_out = paired_scores(tidy, id="client", time="week", score="score", pre="0", post="12")

    # Numeric ids sort as numbers (2 before 10), as R sorts a numeric id column.
    assert list(pairs["id"]) == ["2", "10"]
    assert pairs[["pre", "post"]].to_numpy().tolist() == [[18.0, 9.0], [20.0, 15.0]]
    assert left_out == ("3", "7")


def test_text_ids_sort_as_text() -> None:
    tidy = pd.DataFrame({"id": ["b", "a", "b", "a"], "t": [1, 1, 2, 2], "x": [1.0, 2.0, 3.0, 5.0]})

    pairs, _ = paired_scores(tidy, id="id", time="t", score="x", pre=1, post=2)

    assert list(pairs["id"]) == ["a", "b"]


def test_without_norms_an_explicit_cutoff_a_gives_the_combined_approach() -> None:
    tidy = pd.DataFrame({"id": [1, 1, 2, 2, 3, 3], "t": [0, 1] * 3, "x": [30.0, 10, 20, 19, 25, 24]})

    distribution = change_table(tidy, id="id", time="t", score="x", pre=0, post=1, reliability=0.8)
    combined = change_table(tidy, id="id", time="t", score="x", pre=0, post=1, reliability=0.8, cutoff_type="a")

    assert distribution.approach == "distribution"
    assert combined.approach == "combined"
    assert set(distribution.table["category"]) <= {"improved", "unchanged", "deteriorated"}


def test_cutoff_c_without_norms_is_refused() -> None:
    tidy = pd.DataFrame({"id": [1, 1, 2, 2], "t": [0, 1, 0, 1], "x": [30.0, 10, 20, 19]})

    with pytest.raises(ValueError, match="functional"):
        change_table(tidy, id="id", time="t", score="x", pre=0, post=1, reliability=0.8, cutoff_type="c")


@pytest.mark.parametrize(
    ("scores", "message"),
    [
        ([30.0, np.nan, 20.0, np.nan], "no id has both"),
        ([30.0, 10.0, 20.0, np.nan], "only one id"),
        ([30.0, 10.0, 30.0, 25.0], "all pre scores are equal"),
    ],
)
def test_data_without_two_usable_pairs_are_refused(scores: list[float], message: str) -> None:
    tidy = pd.DataFrame({"id": [1, 1, 2, 2], "t": [0, 1, 0, 1], "x": scores})

    with pytest.raises(InputError, match=message):
        change_table(tidy, id="id", time="t", score="x", pre=0, post=1, reliability=0.8)
