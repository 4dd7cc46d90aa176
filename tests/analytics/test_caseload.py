"""The demo caseload is reproducible, made of valid answers, realistic, and its report adds up."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alliance.analytics.caseload import caseload_report, generate_caseload
from alliance.change.talking_therapies import episode_outcomes
from alliance.instruments import bundled_registry, score_frame

REGISTRY = bundled_registry()


@pytest.fixture(scope="module")
def large() -> pd.DataFrame:
    return generate_caseload(REGISTRY, clients=400, seed=7).sessions


def test_the_same_seed_gives_the_same_caseload() -> None:
    first = generate_caseload(REGISTRY, clients=20, seed=11).sessions
    pd.testing.assert_frame_equal(first, generate_caseload(REGISTRY, clients=20, seed=11).sessions)
    assert not first.equals(generate_caseload(REGISTRY, clients=20, seed=12).sessions)


def test_every_answer_is_an_option_of_its_item(large: pd.DataFrame) -> None:
    for instrument_id in ("phq9", "gad7", "alliance-client"):
        instrument = REGISTRY.get(instrument_id)
        for item_id in instrument.total.items:
            answers = large[item_id].dropna()
            assert set(answers.unique()) <= set(instrument.item(item_id).values), item_id
    assert large["phq9_1"].isna().any()  # some answers are missing, as in practice


def test_outcomes_look_like_the_literature(large: pd.DataFrame) -> None:
    scored = large.assign(
        phq9=score_frame(REGISTRY.get("phq9"), large)["total"],
        gad7=score_frame(REGISTRY.get("gad7"), large)["total"],
        alliance=score_frame(REGISTRY.get("alliance-client"), large)["total"],
    )
    outcomes = episode_outcomes(scored).set_index("client")
    cases = outcomes[outcomes["case_at_start"] == True]  # noqa: E712  (nullable booleans)
    recovery = cases["recovered"].astype(float).mean()
    assert 0.40 <= recovery <= 0.62  # national recovery ≈ 50% (REFERENCE §4)
    assert outcomes["reliable_deterioration"].astype(float).mean() < 0.12
    early = scored[scored["session"] <= 3].groupby("client")["alliance"].mean()
    improvement = outcomes["first_phq9"] - outcomes["last_phq9"]
    known = improvement.notna()
    r = np.corrcoef(early.reindex(improvement.index)[known], improvement[known])[0, 1]
    assert 0.15 <= r <= 0.42  # alliance-outcome r ≈ .28 (Flückiger et al. 2018)


def test_the_report_adds_up() -> None:
    caseload = generate_caseload(REGISTRY, clients=60, seed=3)
    report = caseload_report(caseload, REGISTRY)
    o = report.outcomes
    assert report.clients == 60 and report.check_ins == len(caseload.sessions)
    assert report.by_therapist["clients"].sum() == 60
    assert report.by_therapist["recovered"].sum() == o.recovered
    assert report.by_therapist["cases"].sum() == o.cases
    low, high = report.recovery_interval
    assert low <= o.recovery_rate <= high
    assert o.reliable_recovery <= min(o.recovered, o.reliable_improvement)
    sessions = caseload.sessions.assign(
        phq9=score_frame(REGISTRY.get("phq9"), caseload.sessions)["total"],
        gad7=score_frame(REGISTRY.get("gad7"), caseload.sessions)["total"],
    )
    deteriorated = episode_outcomes(sessions).query("reliable_deterioration == True")["client"]
    assert set(deteriorated) <= set(report.attention["client"])
    for reasons in report.attention["reasons"]:
        assert reasons and not reasons.startswith(";")


def test_a_caseload_needs_people() -> None:
    with pytest.raises(ValueError, match="at least one client"):
        generate_caseload(REGISTRY, clients=0)
