"""Validation: flags against outcomes (sensitivity, specificity, ...), k-fold by client, ruptures against truth."""

from __future__ import annotations

import io
import math
import re
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alliance.change.proportions import wilson_interval
from alliance.errors import InputError
from alliance.monitoring.validation import (
    ETR_VALIDATION_COLUMNS,
    RULES,
    RUPTURE_VALIDATION_COLUMNS,
    _repairs,
    etr_validation,
    long_from_wide,
    rupture_validation,
    screening_quality,
)

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "monitoring-validation.md"


# --- screening quality on hand-made flags --------------------------------------------------------------------


def test_sensitivity_specificity_and_predictive_values_from_counts() -> None:
    # 10 clients: 3 with the outcome; 3 flagged, 2 of them with the outcome.
    flagged = [True, True, True, False, False, False, False, False, False, False]
    positive = [True, True, False, True, False, False, False, False, False, False]
    quality = screening_quality(flagged, positive)
    assert (quality.n, quality.positives, quality.flagged, quality.true_positives) == (10, 3, 3, 2)
    assert quality.sensitivity == pytest.approx(2 / 3)
    assert quality.specificity == pytest.approx(6 / 7)
    assert quality.ppv == pytest.approx(2 / 3)
    assert quality.npv == pytest.approx(6 / 7)
    low, high = wilson_interval([2, 6], [3, 7])
    assert (quality.sens_low, quality.sens_high) == (pytest.approx(low[0]), pytest.approx(high[0]))
    assert (quality.spec_low, quality.spec_high) == (pytest.approx(low[1]), pytest.approx(high[1]))


def test_rates_without_a_denominator_are_not_numbers() -> None:
    quality = screening_quality([False, False], [False, False])  # nobody positive, nobody flagged
    assert math.isnan(quality.sensitivity) and math.isnan(quality.sens_low) and math.isnan(quality.ppv)
    assert quality.specificity == 1.0 and quality.npv == 1.0 and quality.spec_high == 1.0
    empty = screening_quality([], [])
    assert empty.n == 0 and math.isnan(empty.specificity)
    with pytest.raises(ValueError, match="same length"):
        screening_quality([True], [True, False])


# --- expected response, k-fold by client ---------------------------------------------------------------------


def tiny_history() -> pd.DataFrame:
    """Twelve clients in four groups of three, plus one who left after session 2.

    Intakes alternate 20 and 30 (SD about 5; with reliability .9 a change of about 4.6 is reliable). Group A gets
    15 worse at session 2 and stays there; B 15 better; C unchanged at 2, then 15 worse at the end; D unchanged.
    With under 30 clients every fold uses the rational fallback: red at session 2 = reliably worse than the intake.
    """
    course = {"A": (15, 15), "B": (-15, -15), "C": (0, 15), "D": (0, 0)}
    rows = []
    for number, (change_2, change_3) in enumerate(np.repeat(list(course.values()), 3, axis=0), start=1):
        intake = 20 if number % 2 else 30
        client = f"c{number:02d}"
        rows += [(client, 1, intake), (client, 2, intake + change_2), (client, 3, intake + change_3)]
    rows += [("c13", 1, 20), ("c13", 2, 40)]  # flagged red at 2, but no later score: not judged
    return pd.DataFrame(rows, columns=["client", "session", "bdi"])


def validate(frame: pd.DataFrame, **options: object) -> pd.DataFrame:
    options = {"flag_at": (2,), "folds": 3, "reliability": 0.9} | options
    result = etr_validation(frame, id="client", time="session", score="bdi", **options)  # type: ignore[arg-type]
    return result.table.set_index(["at", "rule", "outcome"])


def test_red_at_session_two_against_known_outcomes() -> None:
    table = validate(tiny_history())
    # Non-response: A, C, D (9 of 12); deterioration: A, C (6). Flagged red: A (3).
    for rule in RULES:
        nonresponse = table.loc[(2, rule, "non_response")]
        assert (nonresponse["n"], nonresponse["positives"], nonresponse["flagged"]) == (12, 9, 3)
        assert nonresponse["sensitivity"] == pytest.approx(3 / 9) and nonresponse["specificity"] == 1.0
        assert nonresponse["ppv"] == 1.0 and nonresponse["npv"] == pytest.approx(3 / 9)
        deterioration = table.loc[(2, rule, "deterioration")]
        assert (deterioration["positives"], deterioration["true_positives"]) == (6, 3)
        assert deterioration["sensitivity"] == 0.5 and deterioration["npv"] == pytest.approx(6 / 9)
    # 9 clients per training part, fewer than min_clients = 30: the fitted model is the fallback in every fold.
    assert set(table["model"]) == {"rational 3/3"}
    assert list(table.reset_index().columns) == [
        *ETR_VALIDATION_COLUMNS[:6],
        "true_positives",
        *ETR_VALIDATION_COLUMNS[6:],
    ]


def test_the_result_does_not_depend_on_the_fold_seed_when_every_call_is_clear() -> None:
    pd.testing.assert_frame_equal(validate(tiny_history(), seed=0), validate(tiny_history(), seed=7))


def test_folds_are_seeded_balanced_and_described() -> None:
    frame = tiny_history()
    first = etr_validation(frame, id="client", time="session", score="bdi", folds=3, reliability=0.9, seed=5)
    again = etr_validation(frame, id="client", time="session", score="bdi", folds=3, reliability=0.9, seed=5)
    other = etr_validation(frame, id="client", time="session", score="bdi", folds=3, reliability=0.9, seed=6)
    pd.testing.assert_frame_equal(first.outcomes, again.outcomes)
    assert not first.outcomes["fold"].equals(other.outcomes["fold"])
    assert first.folds["test_clients"].tolist() == [5, 4, 4]  # 13 clients with an intake, dealt into 3 folds
    assert first.folds["train_clients"].tolist() == [8, 9, 9]
    assert set(first.folds["kind"]) == {"rational"} and first.folds["reason"].str.contains("min_clients").all()
    assert first.clients == 13
    # Outcomes: all 13 have a later score; c13 deteriorated (+20) at its last score, session 2.
    c13 = first.outcomes.set_index("id").loc["c13"]
    assert (c13["last_session"], c13["deterioration"]) == (2, True)
    assert first.reliable_change == pytest.approx(1.96 * math.sqrt(2) * first.sd_pre * math.sqrt(0.1), rel=1e-3)


def generated_history(clients: int = 80, seed: int = 3) -> pd.DataFrame:
    """Clients improving at different rates over 6 sessions, some getting worse."""
    rng = np.random.default_rng(seed)
    intake = rng.normal(25, 6, clients)
    slope = rng.normal(-1.5, 1.5, clients)
    sessions = np.arange(1, 7)
    scores = intake[:, None] + slope[:, None] * (sessions - 1) + rng.normal(0, 2.5, (clients, 6))
    return pd.DataFrame(
        {
            "client": np.repeat(np.arange(1, clients + 1), 6),
            "session": np.tile(sessions, clients),
            "bdi": np.round(scores.reshape(-1)),
        }
    )


def test_with_enough_history_the_empirical_model_is_used_and_amber_only_adds_flags() -> None:
    table = validate(generated_history(), flag_at=(2, 3, 4, 5), folds=4, reliability=0.92)
    assert set(table.loc[pd.IndexSlice[:, ["red", "red_or_amber"], :], "model"]) == {"empirical 4/4"}
    assert set(table.loc[pd.IndexSlice[:, ["rational_red", "rational_red_or_amber"], :], "model"]) == {"rational 4/4"}
    for at in (2, 3, 4, 5):
        for outcome in ("non_response", "deterioration"):
            for narrow, wide in (("red", "red_or_amber"), ("rational_red", "rational_red_or_amber")):
                assert table.loc[(at, wide, outcome), "flagged"] >= table.loc[(at, narrow, outcome), "flagged"]
                assert (
                    table.loc[(at, wide, outcome), "true_positives"]
                    >= table.loc[(at, narrow, outcome), "true_positives"]
                )
            assert len(set(table.loc[pd.IndexSlice[at, :, outcome], "n"])) == 1  # every rule judges the same clients
    # The fallback is never amber before its fallback_session (4).
    for at in (2, 3):
        assert (
            table.loc[(at, "rational_red", "non_response"), "flagged"]
            == table.loc[(at, "rational_red_or_amber", "non_response"), "flagged"]
        )


def test_too_little_data_is_an_input_error() -> None:
    with pytest.raises(InputError, match="5-fold validation needs at least 5 clients with a session-1 score, found"):
        validate(tiny_history().query("client <= 'c04'"), folds=5)
    # Four intakes, but only one client came back after the intake: no outcome to judge against.
    one_came_back = pd.DataFrame({"client": list("aabcd"), "session": [1, 2, 1, 1, 1], "bdi": [1, 2, 3, 4, 5]})
    with pytest.raises(
        InputError, match="at least 2 clients with a session-1 score and a later score are needed, found 1"
    ):
        validate(one_came_back, folds=2)
    with pytest.raises(ValueError, match="flag_at"):
        validate(tiny_history(), flag_at=(1, 2))
    with pytest.raises(ValueError, match="folds"):
        validate(tiny_history(), folds=1)


def test_wide_tables_become_long() -> None:
    wide = pd.DataFrame({"who": ["x", "y"], "pre": [30, 20], "post": [10, np.nan]})
    long = long_from_wide(wide, id="who", columns=["pre", "post"], score="bdi")
    assert long.to_dict("list") == {
        "id": ["x", "x", "y", "y"],
        "time": [1, 2, 1, 2],
        "bdi": [30.0, 10.0, 20.0, pytest.approx(np.nan, nan_ok=True)],
    }
    assert long_from_wide(wide, columns=["pre"])["id"].tolist() == [1, 2]  # no id column: rows numbered


def test_outcomes_match_the_r_package_on_claus_2020(shared_data: Path) -> None:
    # Oracle: clinicalsignificance's distribution-based vignette, cs_distribution(claus_2020, pre = 1, post = 4,
    # reliability = 0.801): N used 40, improved 18, unchanged 22, deteriorated 0 (JT). Every client's last score here
    # is session 4, so first-to-last is the package's pre-post.
    claus = pd.read_csv(shared_data / "longitudinal" / "claus_2020.csv")
    result = etr_validation(claus, id="id", time="time", score="bdi", reliability=0.801)
    outcomes = result.outcomes
    assert len(outcomes) == 40 and set(outcomes["last_session"]) == {4}
    assert int((~outcomes["non_response"]).sum()) == 18
    assert int(outcomes["deterioration"].sum()) == 0


# --- ruptures against simulated truth ------------------------------------------------------------------------


def test_rupture_validation_is_deterministic_and_complete() -> None:
    first = rupture_validation(seed=4, clients=120)
    pd.testing.assert_frame_equal(first, rupture_validation(seed=4, clients=120))
    assert list(first.columns) == list(RUPTURE_VALIDATION_COLUMNS)
    assert len(first) == 2 * 2 * 6  # criteria x modes x (all + five sizes)
    overall = first[first["size"] == "all"].set_index(["criterion", "mode"])
    by_size = first[first["size"] != "all"].groupby(["criterion", "mode"])["ruptures"].sum()
    assert overall["ruptures"].to_dict() == by_size.to_dict()  # every injected rupture has one of the sizes
    assert overall["fp_per_100"].notna().all() and first.loc[first["size"] != "all", "fp_per_100"].isna().all()
    assert overall.loc[("lenient", "retrospective"), "recall"] >= overall.loc[("strict", "retrospective"), "recall"]
    assert overall["between_sd"].nunique() == 1  # learnt once, from the training sample


def test_big_ruptures_are_found_and_clean_series_give_only_false_positives() -> None:
    big = rupture_validation(seed=1, clients=150, rupture_share=1.0, sizes=(4.0,)).set_index(
        ["criterion", "mode", "size"]
    )
    assert big.loc[("lenient", "retrospective", "4"), "recall"] > 0.95
    assert big.loc[("lenient", "retrospective", "4"), "repair_accuracy"] > 0.9
    clean = rupture_validation(seed=1, clients=150, rupture_share=0.0).set_index(["criterion", "mode", "size"])
    row = clean.loc[("lenient", "retrospective", "all")]
    assert row["ruptures"] == 0 and math.isnan(row["recall"]) and row["true_positives"] == 0
    assert row["false_positives"] == row["detections"]
    assert row["fp_per_100"] == pytest.approx(100 * row["detections"] / row["clean_sessions"])


def test_repair_is_right_when_the_nearest_detection_has_the_injected_session() -> None:
    truth = pd.DataFrame(
        {"id": [1, 2, 3, 4, 5], "time": [5, 4, 7, 3, 3], "size": 2.0, "repaired_at": [6.0, np.nan, 9.0, 4.0, 8.0]}
    )
    found = pd.DataFrame(
        {
            "id": [1, 1, 2, 3, 5],
            "time": [5, 9, 5, 7, 3],
            "repaired_at": pd.array([6, None, None, 8, None], dtype="Int64"),
        }
    )
    judged = _repairs(found, truth, tolerance=1, window=3).set_index("id")["correct"]
    # 1: right session; 2: found one session late, unrepaired as injected; 3: repaired at 8, not 9; 4: not found;
    # 5: injected return after 5 sessions is beyond the window, so "not repaired" is right.
    assert judged.to_dict() == {1: True, 2: True, 3: False, 5: True}


# --- the numbers in docs/monitoring-validation.md ------------------------------------------------------------

# Copied from the doc's tables (seed 0; simulation with 2000 clients in each sample).
DOC_SIMULATION = {
    ("lenient", "retrospective", "all"): {"found": 860, "ruptures": 1023, "detections": 1440, "false_positives": 407},
    ("strict", "causal", "all"): {"found": 463, "ruptures": 1023, "detections": 605, "false_positives": 115},
    ("lenient", "retrospective", "1"): {"found": 96, "ruptures": 198},
    ("strict", "retrospective", "4"): {"found": 179, "ruptures": 194},
}
DOC_REAL = {  # (data set, at, rule, outcome): (true positives, positives, flagged, n)
    ("claus_2020", 3, "red", "deterioration"): (3, 4, 5, 40),
    ("BtheB", 2, "red_or_amber", "non_response"): (13, 38, 17, 73),
    ("sgdata", 2, "red", "non_response"): (2, 4, 6, 40),
    ("anxiety", 3, "red_or_amber", "deterioration"): (7, 8, 30, 109),
    ("anxiety", 4, "rational_red_or_amber", "non_response"): (28, 30, 44, 90),
}


def real_sets(folder: Path) -> dict[str, tuple[pd.DataFrame, float]]:
    """The four data sets as in the doc: long frames ``id, time, score`` and each measure's reliability."""
    claus = pd.read_csv(folder / "claus_2020.csv")
    btheb = pd.read_csv(folder / "BtheB.csv")
    sgdata = pd.read_csv(folder / "sgdata.csv")
    anxiety = pd.read_csv(folder / "anxiety.csv")
    return {
        "claus_2020": (claus.rename(columns={"bdi": "score"}), 0.92),
        "BtheB": (long_from_wide(btheb, columns=["bdi.pre", "bdi.2m", "bdi.3m", "bdi.5m", "bdi.8m"]), 0.92),
        "sgdata": (long_from_wide(sgdata, id="id", columns=[f"bdi_s{s}" for s in range(13)]), 0.92),
        "anxiety": (
            anxiety.assign(id=anxiety["subject"], time=anxiety["measurement"] + 1, score=anxiety["anxiety"]),
            0.80,
        ),
    }


def test_headline_simulation_figures_equal_the_doc() -> None:
    table = rupture_validation(seed=0, clients=2000).set_index(["criterion", "mode", "size"])
    for key, expected in DOC_SIMULATION.items():
        assert {name: int(table.loc[key, name]) for name in expected} == expected, key
    text = DOC.read_text(encoding="utf-8")
    assert "| lenient | retrospective | 860/1023 = 0.84 [0.82, 0.86] | 860/1440 = 0.60 [0.57, 0.62] |" in text


def test_headline_real_data_figures_equal_the_doc(shared_data: Path) -> None:
    sets = real_sets(shared_data / "longitudinal")
    for (name, at, rule, outcome), expected in DOC_REAL.items():
        frame, reliability = sets[name]
        table = etr_validation(frame, id="id", time="time", score="score", reliability=reliability, seed=0).table
        row = table.set_index(["at", "rule", "outcome"]).loc[(at, rule, outcome)]
        assert (row["true_positives"], row["positives"], row["flagged"], row["n"]) == expected, name


@pytest.mark.slow
def test_the_doc_script_prints_exactly_the_doc_tables(shared_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = DOC.read_text(encoding="utf-8")
    script = re.search(r"```python\n(# regenerate.*?)```", text, flags=re.DOTALL)
    assert script is not None, "the doc must hold the script that regenerates its numbers"
    monkeypatch.chdir(ROOT)  # the script reads ../shared/data from the repository root
    output = io.StringIO()
    with redirect_stdout(output):
        exec(compile(script.group(1), str(DOC), "exec"), {"__name__": "doc"})
    doc_lines = set(text.splitlines())
    missing = [line for line in output.getvalue().splitlines() if line.strip() and line not in doc_lines]
    assert not missing, f"{len(missing)} printed lines are not in the doc, first: {missing[:3]}"
