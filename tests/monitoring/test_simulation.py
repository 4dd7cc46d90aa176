"""Simulated alliance series: reproducible, on the check-in's scale, with the injected truth recorded."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alliance.monitoring.simulation import match_ruptures, precision_recall, simulate_ruptures


def test_series_are_reproducible_and_on_the_scale() -> None:
    first = simulate_ruptures(clients=50, seed=3)
    pd.testing.assert_frame_equal(first.scores, simulate_ruptures(clients=50, seed=3).scores)
    scores = first.scores["score"]
    assert scores.between(0, 10).all()
    assert np.allclose((scores * 8) % 1, 0)  # means of eight whole answers
    assert 6.5 < scores.mean() < 9.0  # alliance ratings sit high on the scale


def test_truth_records_every_injected_rupture() -> None:
    sim = simulate_ruptures(clients=300, rupture_share=0.5, seed=1)
    assert 0.4 < len(sim.truth) / 300 < 0.6
    assert set(sim.truth["size"]) <= {1.0, 1.5, 2.0, 3.0, 4.0}
    lengths = sim.scores.groupby("id")["time"].max()
    for row in sim.truth.itertuples(index=False):
        assert 3 <= row.time <= lengths[row.id] - 2
        assert np.isnan(row.repaired_at) or row.time < row.repaired_at <= lengths[row.id]
    assert simulate_ruptures(clients=40, rupture_share=0.0, seed=1).truth.empty


def test_a_big_dip_lowers_the_score_at_its_onset() -> None:
    sim = simulate_ruptures(clients=200, sizes=(4.0,), rupture_share=1.0, seed=2)
    scores = sim.scores.set_index(["id", "time"])["score"]
    drops = [scores[(r.id, r.time - 1)] - scores[(r.id, r.time)] for r in sim.truth.itertuples(index=False)]
    assert np.median(drops) > 3


def test_matching_counts_hits_within_the_tolerance() -> None:
    truth = pd.DataFrame({"id": [1, 2], "time": [5, 7], "size": [2.0, 2.0], "repaired_at": [6.0, np.nan]})
    detected = pd.DataFrame({"id": [1, 2, 3], "time": [6, 3, 4]})
    assert match_ruptures(detected, truth)["found"].tolist() == [True, False]
    quality = precision_recall(detected, truth)
    assert (quality.detections, quality.true_positives, quality.ruptures, quality.found) == (3, 1, 2, 1)
    assert quality.precision == pytest.approx(1 / 3) and quality.recall == 0.5
    assert np.isnan(precision_recall(detected.iloc[:0], truth.iloc[:0]).precision)
