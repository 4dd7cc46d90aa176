"""The synthetic data set recovers the literature's parameters it was drawn from (within sampling tolerance)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from alliance.analytics.engine import connect, load_tables
from alliance.analytics.metrics import compute
from alliance.analytics.schema import TABLES, read_table_file
from alliance.analytics.synth import PARAMETERS, write_synthetic

CLIENTS = 12_000


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, pd.DataFrame]]:
    out = tmp_path_factory.mktemp("synth")
    write_synthetic(CLIENTS, out, seed=11)
    con = connect("duckdb")
    return out, compute(load_tables(con, out), by=())


def test_the_files_follow_the_contract(synthetic: tuple[Path, dict[str, pd.DataFrame]]) -> None:
    out, _ = synthetic
    for table in TABLES:
        frame = read_table_file(out / f"{table}.parquet", table)  # raises on any contract violation
        assert len(frame) > 0
    assert len(read_table_file(out / "clients.parquet", "clients")) == CLIENTS


def test_the_same_seed_gives_the_same_data(tmp_path: Path) -> None:
    write_synthetic(300, tmp_path / "a", seed=3)
    write_synthetic(300, tmp_path / "b", seed=3)
    write_synthetic(300, tmp_path / "c", seed=4)
    a, b, c = (pd.read_parquet(tmp_path / name / "checkins.parquet") for name in "abc")
    pd.testing.assert_frame_equal(a, b)
    assert not a["total"].equals(c["total"])


def test_recovery_is_about_half(synthetic: tuple[Path, dict[str, pd.DataFrame]]) -> None:
    row = synthetic[1]["outcomes"].iloc[0]
    assert row["recovery_rate"] == pytest.approx(PARAMETERS["recovery"], abs=0.04)


def test_alliance_outcome_correlation_is_about_028(synthetic: tuple[Path, dict[str, pd.DataFrame]]) -> None:
    row = synthetic[1]["association"].iloc[0]
    assert row["between_r"] == pytest.approx(PARAMETERS["alliance_outcome_r"], abs=0.05)


def test_ruptures_in_about_half_of_therapies(synthetic: tuple[Path, dict[str, pd.DataFrame]]) -> None:
    row = synthetic[1]["alliance"].iloc[0]
    assert row["rupture_rate"] == pytest.approx(PARAMETERS["rupture_share"], abs=0.07)


def test_therapist_effects_are_about_five_percent(synthetic: tuple[Path, dict[str, pd.DataFrame]]) -> None:
    row = synthetic[1]["therapist_effects"].iloc[0]
    assert row["icc"] == pytest.approx(PARAMETERS["therapist_icc"], abs=0.03)
    assert row["icc_low"] < PARAMETERS["therapist_icc"] < row["icc_high"] + 0.02


def test_recovery_gap_between_white_british_and_pakistani_clients(
    synthetic: tuple[Path, dict[str, pd.DataFrame]],
) -> None:
    equity = synthetic[1]["equity"]
    recovery = equity[(equity.dimension == "ethnicity") & (equity.outcome == "recovery")].set_index("group")
    assert recovery.loc["A", "rate"] == pytest.approx(PARAMETERS["recovery_white_british"], abs=0.04)
    assert recovery.loc["J", "rate"] == pytest.approx(PARAMETERS["recovery_pakistani"], abs=0.09)
    assert recovery.loc["J", "gap_high"] < 0


def test_engagement_rates(synthetic: tuple[Path, dict[str, pd.DataFrame]]) -> None:
    row = synthetic[1]["engagement"].iloc[0]
    assert row["dna_rate"] == pytest.approx(PARAMETERS["dna_rate"], abs=0.02)
    assert row["unplanned_ending_rate"] == pytest.approx(PARAMETERS["unplanned_endings"], abs=0.05)
