"""The plain-pandas implementation (the benchmark's baseline) and the Ibis one agree on every metric and grouping."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alliance.analytics.metrics import METRICS, compute_frames
from alliance.analytics.reference import compute_pandas
from alliance.analytics.schema import TABLES
from alliance.analytics.synth import write_synthetic


@pytest.fixture(scope="module")
def frames(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pd.DataFrame]:
    out: Path = tmp_path_factory.mktemp("ref")
    write_synthetic(1200, out, seed=21)
    return {table: pd.read_parquet(out / f"{table}.parquet") for table in TABLES}


def assert_same_results(a: dict[str, pd.DataFrame], b: dict[str, pd.DataFrame]) -> None:
    assert list(a) == list(b)
    for name in a:
        x, y = a[name], b[name]
        assert list(x.columns) == list(y.columns) and len(x) == len(y), name
        for column in x.columns:
            xs, ys = pd.to_numeric(x[column], errors="coerce"), pd.to_numeric(y[column], errors="coerce")
            if xs.notna().any() or ys.notna().any():
                assert np.allclose(xs.astype(float), ys.astype(float), rtol=1e-9, atol=1e-12, equal_nan=True), (
                    name,
                    column,
                )
            else:
                assert list(x[column].astype(str)) == list(y[column].astype(str)), (name, column)


@pytest.mark.parametrize(
    "by",
    [
        ("team_id", "deprivation"),
        pytest.param(("practice_id", "period"), marks=pytest.mark.slow),
    ],
)
def test_pandas_and_duckdb_agree(frames: dict[str, pd.DataFrame], by: tuple[str, ...]) -> None:
    ibis_results = compute_frames(frames, by=by)
    pandas_results = compute_pandas(frames, by=by)
    assert list(ibis_results) == list(METRICS)
    assert_same_results(ibis_results, pandas_results)
