"""Reliable change index: six methods checked against outputs of the R package clinicalsignificance.

Oracles, in order of strength:
1. R outputs stored beside the checkout (jacobson_1989 DAS, JT and EN): every rci to 1e-9, every category.
2. Category counts printed by the R package itself for claus_2020 (its testthat snapshots
   tests/testthat/_snaps/cs_distribution.md, rci methods JT, EN, HLL, GLN, NK, HA with the HAMD, and its
   distribution-based vignette with the BDI-II).
3. For GLN, HLL, NK and HA single values no R print-out was found: those tests compute the value by hand
   from the published formula, on the fixture the R package's own tests use.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alliance.change.rci import critical_value, reliable_change

# --- 1. R outputs on Jacobson et al. (1989): DAS, higher is better, reliability .80 -----------------------


@pytest.mark.parametrize("method", ["jt", "en"])
def test_rci_and_categories_equal_the_r_output_on_the_das(shared_data: Path, method: str) -> None:
    reference = pd.read_csv(shared_data / "reference" / f"jacobson_1989_das_distribution_{method.upper()}.csv")

    result = reliable_change(reference["pre"], reference["post"], reliability=0.80, method=method, better="higher")

    np.testing.assert_allclose(result.rci, reference["rci"], rtol=0, atol=1e-9)
    assert list(result.category) == list(reference["category"].str.lower())
    assert list(result.improved) == list(reference["improved"])
    assert list(result.deteriorated) == list(reference["deteriorated"])


def test_en_compares_the_post_score_with_the_estimated_true_pre_score(shared_data: Path) -> None:
    # Couple-member 25 got worse by one point, yet the EN index is positive: the pre score (93) lies
    # above the mean, so the estimated true pre score regresses to 90.7 and 92 lies above it.
    reference = pd.read_csv(shared_data / "reference" / "jacobson_1989_das_distribution_EN.csv")
    result = reliable_change(reference["pre"], reference["post"], reliability=0.80, method="en", better="higher")

    row = int(np.flatnonzero(reference["id"] == 25)[0])
    assert reference["change"][row] == -1
    assert result.rci[row] == pytest.approx(0.242660474258758, abs=1e-9)


# --- 2. Category counts printed by the R package for claus_2020 ---------------------------------------------


def _claus_pairs(shared_data: Path, outcome: str) -> pd.DataFrame:
    data = pd.read_csv(shared_data / "longitudinal" / "claus_2020.csv")
    wide = data.pivot(index="id", columns="time", values=outcome)[[1, 4]].dropna()
    return wide.set_axis(["pre", "post"], axis=1)


CLAUS_HAMD_DISTRIBUTION = {
    # method: (improved, unchanged, deteriorated) of 40, from cs_distribution(claus_2020, id, time, hamd,
    # pre = 1, post = 4, reliability = 0.8, rci_method = ...) (NK with reliability_post = 0.5)
    "jt": (29, 10, 1),
    "en": (32, 5, 3),
    "hll": (12, 16, 12),
    "gln": (29, 10, 1),
    "nk": (28, 11, 1),
    "ha": (32, 7, 1),
}


@pytest.mark.parametrize("method", sorted(CLAUS_HAMD_DISTRIBUTION))
def test_category_counts_equal_the_r_package_snapshot_on_the_hamd(shared_data: Path, method: str) -> None:
    pairs = _claus_pairs(shared_data, "hamd")
    result = reliable_change(
        pairs["pre"],
        pairs["post"],
        reliability=0.8,
        reliability_post=0.5 if method == "nk" else None,
        method=method,
        better="lower",
    )

    counts = (int(result.improved.sum()), int(result.unchanged.sum()), int(result.deteriorated.sum()))
    assert counts == CLAUS_HAMD_DISTRIBUTION[method]


@pytest.mark.parametrize(("method", "counts"), [("jt", (18, 22, 0)), ("ha", (25, 15, 0))])
def test_category_counts_equal_the_r_vignette_on_the_bdi(
    shared_data: Path, method: str, counts: tuple[int, int, int]
) -> None:
    # Distribution-based vignette: 40 of 43 patients used, reliability .801.
    pairs = _claus_pairs(shared_data, "bdi")
    assert len(pairs) == 40

    result = reliable_change(pairs["pre"], pairs["post"], reliability=0.801, method=method)

    assert (int(result.improved.sum()), int(result.unchanged.sum()), int(result.deteriorated.sum())) == counts


# --- 3. Each formula by hand, on the fixture of the R package's own tests -----------------------------------

PRE = np.array([30.0, 20, 10, 8, 6, 4, 2])
POST = np.array([3.0, 2, 2, 2, 2, 2, 1])
M_PRE, SD_PRE, M_POST, SD_POST, R = 10.0, 5.0, 7.0, 6.0, 0.80
NORMS = {"m_pre": M_PRE, "sd_pre": SD_PRE, "m_post": M_POST, "sd_post": SD_POST}


def test_jt_divides_the_change_by_the_standard_error_of_the_difference() -> None:
    s_diff = math.sqrt(2) * SD_PRE * math.sqrt(1 - R)  # 3.1623

    result = reliable_change(PRE, POST, reliability=R, method="jt", **NORMS)

    np.testing.assert_allclose(result.rci, (POST - PRE) / s_diff, rtol=1e-15)
    assert result.rci[0] == pytest.approx(-27 / 3.16227766016838, rel=1e-14)


def test_gln_predicts_the_post_score_from_the_pre_mean() -> None:
    se_prediction = SD_PRE * math.sqrt(1 - R**2)  # 3.0
    # First client: ((3 - 10) - 0.8 * (30 - 10)) / 3 = (-7 - 16) / 3
    result = reliable_change(PRE, POST, reliability=R, method="gln", **NORMS)

    assert se_prediction == pytest.approx(3.0)
    assert result.rci[0] == pytest.approx(-23 / 3, rel=1e-14)
    np.testing.assert_allclose(result.rci, ((POST - M_PRE) - R * (PRE - M_PRE)) / 3.0, rtol=1e-14)


def test_hll_also_removes_the_mean_change() -> None:
    # First client: ((3 - 7) - 0.8 * (30 - 10)) / 3 = -20 / 3; HLL is GLN shifted by (M_post - M_pre) / 3.
    gln = reliable_change(PRE, POST, reliability=R, method="gln", **NORMS)
    hll = reliable_change(PRE, POST, reliability=R, method="hll", **NORMS)

    assert hll.rci[0] == pytest.approx(-20 / 3, rel=1e-14)
    np.testing.assert_allclose(hll.rci - gln.rci, -(M_POST - M_PRE) / 3.0, rtol=1e-12)


def test_nk_uses_the_pre_and_the_post_reliability() -> None:
    # denominator sqrt(0.8^2 * 25 * 0.2 + 25 * (1 - 0.6)) = sqrt(3.2 + 10) = sqrt(13.2)
    # first client: 3 - (0.8 * 20 + 10) = -23
    result = reliable_change(PRE, POST, reliability=R, reliability_post=0.6, method="nk", **NORMS)

    assert result.rci[0] == pytest.approx(-23 / math.sqrt(13.2), rel=1e-14)
    assert result.reliability_post == 0.6


def test_nk_without_a_post_reliability_uses_the_pre_reliability() -> None:
    # Then its denominator is SE * sqrt(1 + r^2), so NK = EN / sqrt(1 + r^2).
    en = reliable_change(PRE, POST, reliability=R, method="en", **NORMS)
    nk = reliable_change(PRE, POST, reliability=R, method="nk", **NORMS)

    np.testing.assert_allclose(nk.rci, en.rci / math.sqrt(1 + R**2), rtol=1e-14)


def test_ha_weights_individual_and_mean_change_by_the_reliability_of_the_difference() -> None:
    se = SD_PRE * math.sqrt(1 - R)
    r_xx_1 = (SD_PRE**2 - se**2) / SD_PRE**2
    r_xx_2 = (SD_POST**2 - se**2) / SD_POST**2
    r12 = float(np.corrcoef(PRE, POST)[0, 1])
    r_dd = (SD_PRE**2 * r_xx_1 + SD_POST**2 * r_xx_2 - 2 * SD_PRE * SD_POST * r12) / (
        SD_PRE**2 + SD_POST**2 - 2 * SD_PRE * SD_POST * r12
    )
    expected = ((POST - PRE) * r_dd + (M_POST - M_PRE) * (1 - r_dd)) / (math.sqrt(r_dd) * math.sqrt(2 * se**2))

    result = reliable_change(PRE, POST, reliability=R, method="ha", **NORMS)

    assert r_xx_1 == pytest.approx(R)
    assert result.r_dd == pytest.approx(r_dd, rel=1e-14)
    np.testing.assert_allclose(result.rci, expected, rtol=1e-13)


# --- Decisions ---------------------------------------------------------------------------------------------


def test_ha_tests_one_sided_and_the_others_two_sided() -> None:
    assert critical_value("jt") == pytest.approx(1.959963984540054, abs=1e-15)
    assert critical_value("ha") == pytest.approx(1.6448536269514722, abs=1e-15)
    assert critical_value("gln", 0.10) == pytest.approx(critical_value("ha", 0.05))


def test_rci_keeps_the_sign_of_the_change_and_better_decides_the_category() -> None:
    pre, post = np.array([20.0, 20, 10, 30]), np.array([5.0, 35, 10, 30])

    lower = reliable_change(pre, post, reliability=0.8, better="lower")
    higher = reliable_change(pre, post, reliability=0.8, better="higher")

    np.testing.assert_array_equal(lower.rci, higher.rci)
    assert list(lower.category) == ["improved", "deteriorated", "unchanged", "unchanged"]
    assert list(higher.category) == ["deteriorated", "improved", "unchanged", "unchanged"]


def test_a_change_exactly_at_the_critical_value_is_not_reliable() -> None:
    # With SD_pre 10 and r .5, S_diff = 10; a change of exactly crit * 10 is not beyond it (strict >).
    crit = critical_value("jt")
    result = reliable_change(np.array([0.0, 0.0]), np.array([crit * 10, -crit * 10]), reliability=0.5, sd_pre=10.0)

    assert np.abs(result.rci) == pytest.approx(crit)
    assert list(result.category) == ["unchanged", "unchanged"]


@settings(max_examples=60, deadline=None)
@given(
    scores=st.lists(st.tuples(st.integers(0, 60), st.integers(0, 60)), min_size=3, max_size=40).filter(
        lambda pairs: len({p for p, _ in pairs}) > 1
    ),
    reliability=st.floats(0.05, 0.95),
    method=st.sampled_from(["jt", "gln", "hll", "en", "nk"]),
)
def test_swapping_better_swaps_improved_and_deteriorated(
    scores: list[tuple[int, int]], reliability: float, method: str
) -> None:
    pre = np.array([p for p, _ in scores], dtype=float)
    post = np.array([q for _, q in scores], dtype=float)

    lower = reliable_change(pre, post, reliability=reliability, method=method, better="lower")
    higher = reliable_change(pre, post, reliability=reliability, method=method, better="higher")

    np.testing.assert_array_equal(lower.improved, higher.deteriorated)
    np.testing.assert_array_equal(lower.deteriorated, higher.improved)
    assert not (lower.improved & lower.deteriorated).any()


@pytest.mark.parametrize("reliability", [0.0, 1.0, -0.2, 1.5])
def test_a_reliability_outside_zero_and_one_is_refused(reliability: float) -> None:
    with pytest.raises(ValueError, match="reliability"):
        reliable_change([1.0, 2.0], [2.0, 3.0], reliability=reliability)


def test_an_unknown_method_is_refused() -> None:
    with pytest.raises(ValueError, match="method"):
        reliable_change([1.0, 2.0], [2.0, 3.0], reliability=0.8, method="hlm")  # type: ignore[arg-type]
