"""Benchmark: the practice metrics on ~10M check-ins — DuckDB against plain pandas, and Spark on a 1M sample.

Run: ``python bench/analytics.py`` (``make bench``). Generates a synthetic data set with about ``--checkins`` check-ins
(``alliance synth``), then in the same run computes every metric (``by practice_id``) from the Parquet files:

- on DuckDB (``alliance.analytics.metrics.compute``, the Ibis definitions), reading the files itself;
- in plain pandas (``alliance.analytics.reference.compute_pandas``, the same definitions), files read with pyarrow;

and prints the times, the ratio (goal: DuckDB within 10 s and at least 10x faster than pandas on 2 cores), the peak
memory (resident set) of each phase, and whether the two results are equal. Then Spark (``local[2]``) and DuckDB on a
sample with about ``--spark-checkins`` check-ins, with a check that they are equal. ``--no-spark`` skips that part.
The load average is printed: the machine may be shared.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

CHECKINS_PER_CLIENT = 16.4  # what the generator draws on average (measured)


def reset_peak() -> None:
    """Reset the kernel's high-water mark of this process's resident memory (Linux; ignored elsewhere)."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def peak_mib() -> float:
    """Peak resident memory since the last reset, in MiB (Linux VmHWM; ru_maxrss elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def same(a: dict[str, pd.DataFrame], b: dict[str, pd.DataFrame]) -> list[str]:
    """Names of the metric columns that differ beyond rounding (empty: equal)."""
    differ = []
    for name in a:
        x, y = a[name], b[name]
        if list(x.columns) != list(y.columns) or len(x) != len(y):
            differ.append(f"{name} (shape)")
            continue
        for column in x.columns:
            xs, ys = pd.to_numeric(x[column], errors="coerce"), pd.to_numeric(y[column], errors="coerce")
            if xs.notna().any() or ys.notna().any():
                ok = np.allclose(xs.astype(float), ys.astype(float), rtol=1e-9, atol=1e-12, equal_nan=True)
            else:
                ok = list(x[column].astype(str)) == list(y[column].astype(str))
            if not ok:
                differ.append(f"{name}.{column}")
    return differ


def run_duckdb(data: Path) -> tuple[dict[str, pd.DataFrame], float, float]:
    from alliance.analytics.engine import connect, load_tables
    from alliance.analytics.metrics import compute

    reset_peak()
    start = time.perf_counter()
    con = connect("duckdb")
    results = compute(load_tables(con, data), by=("practice_id",))
    elapsed = time.perf_counter() - start
    con.disconnect()
    return results, elapsed, peak_mib()


def run_pandas(data: Path) -> tuple[dict[str, pd.DataFrame], float, float]:
    from alliance.analytics.reference import compute_pandas
    from alliance.analytics.schema import TABLES

    reset_peak()
    start = time.perf_counter()
    frames = {name: pd.read_parquet(data / f"{name}.parquet") for name in TABLES}
    results = compute_pandas(frames, by=("practice_id",))
    elapsed = time.perf_counter() - start
    del frames
    return results, elapsed, peak_mib()


def run_spark(data: Path) -> tuple[dict[str, pd.DataFrame], float, float]:
    from alliance.analytics.engine import connect, load_tables
    from alliance.analytics.metrics import compute

    start = time.perf_counter()
    con = connect("spark")
    started = time.perf_counter() - start
    start = time.perf_counter()
    results = compute(load_tables(con, data), by=("practice_id",))
    return results, time.perf_counter() - start, started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkins", type=int, default=10_000_000)
    parser.add_argument("--spark-checkins", type=int, default=1_000_000)
    parser.add_argument("--no-spark", action="store_true")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()

    from alliance.analytics.synth import write_synthetic

    workdir = Path(tempfile.mkdtemp(prefix="alliance-bench-analytics-"))
    try:
        print(f"cores: {os.cpu_count()}, load average before: {', '.join(f'{v:.1f}' for v in os.getloadavg())}")
        clients = max(1, round(args.checkins / CHECKINS_PER_CLIENT))
        start = time.perf_counter()
        summary = write_synthetic(clients, workdir / "large", seed=args.seed)
        generated = time.perf_counter() - start
        rows = ", ".join(f"{name} {count:,}" for name, count in summary.rows.items())
        print(f"synth: {clients:,} clients -> {rows} in {generated:.1f} s")

        duck, duck_s, duck_mib = run_duckdb(workdir / "large")
        print(f"DuckDB (Ibis metrics, all 6, by practice): {duck_s:.2f} s, peak RSS {duck_mib:,.0f} MiB")
        panda, pandas_s, pandas_mib = run_pandas(workdir / "large")
        print(f"pandas (same definitions):                 {pandas_s:.2f} s, peak RSS {pandas_mib:,.0f} MiB")
        differ = same(duck, panda)
        print(f"ratio pandas / DuckDB: {pandas_s / duck_s:.1f}x (goal >= 10x); DuckDB goal <= 10 s: "
              f"{'met' if duck_s <= 10 else 'not met'}")  # fmt: skip
        print(f"DuckDB == pandas (to rounding): {'yes' if not differ else 'NO: ' + ', '.join(differ)}")

        if not args.no_spark:
            sample = max(1, round(args.spark_checkins / CHECKINS_PER_CLIENT))
            small = write_synthetic(sample, workdir / "sample", seed=args.seed)
            print(f"sample: {sample:,} clients, {small.rows['checkins']:,} check-ins")
            duck_small, duck_small_s, _ = run_duckdb(workdir / "sample")
            spark, spark_s, spark_start = run_spark(workdir / "sample")
            differ = same(duck_small, spark)
            print(f"Spark local[2]: {spark_s:.1f} s (+ {spark_start:.1f} s to start the JVM); "
                  f"DuckDB on the same sample: {duck_small_s:.2f} s")  # fmt: skip
            print(f"Spark == DuckDB (to rounding): {'yes' if not differ else 'NO: ' + ', '.join(differ)}")
        print(f"load average after: {', '.join(f'{v:.1f}' for v in os.getloadavg())}")
        return 0
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
