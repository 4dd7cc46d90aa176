"""Benchmark: reliable change and categories (Jacobson-Truax) for a national-service-sized cohort.

Times, in one run on the same generated data (seeded):
- the vectorised core, ``reliable_change`` on arrays plus its categories;
- the whole tidy path, ``change_table`` on a long frame (2 rows per patient: pairing, sorting, table);
- two plain row-by-row Python baselines: one on ready-made pre/post lists (against the core), one that
  also pairs the tidy rows through a dict and sorts the ids (against ``change_table``),
and checks that the baselines and the vectorised code give identical categories.

Run: ``python bench/change.py [--patients N]`` (default 1,000,000).
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable
from statistics import NormalDist
from typing import TypeVar

import numpy as np
import pandas as pd

from alliance.change.rci import reliable_change
from alliance.change.significance import change_table

RELIABILITY = 0.84
T = TypeVar("T")


def generate(patients: int, *, seed: int = 20240611) -> tuple[np.ndarray, np.ndarray]:
    """Pre and post scores on a 0-27 scale (PHQ-9-like): most improve a little, some a lot, some worsen."""
    rng = np.random.default_rng(seed)
    pre = np.clip(np.round(rng.normal(16.0, 5.0, patients)), 0, 27)
    post = np.clip(np.round(pre - rng.normal(5.0, 6.0, patients)), 0, 27)
    return pre, post


def row_by_row(pre: list[float], post: list[float], reliability: float) -> list[str]:
    """Jacobson-Truax categories with plain Python loops: the baseline."""
    n = len(pre)
    mean = 0.0
    for x in pre:
        mean += x
    mean /= n
    squares = 0.0
    for x in pre:
        squares += (x - mean) ** 2
    sd = math.sqrt(squares / (n - 1))
    s_diff = math.sqrt(2.0 * (sd * math.sqrt(1.0 - reliability)) ** 2)
    critical = NormalDist().inv_cdf(0.975)
    out = []
    for before, after in zip(pre, post, strict=True):
        rci = (after - before) / s_diff
        if -rci > critical:  # lower is better
            out.append("improved")
        elif -rci < -critical:
            out.append("deteriorated")
        else:
            out.append("unchanged")
    return out


def row_by_row_tidy(ids: list[int], times: list[str], scores: list[float], reliability: float) -> list[str]:
    """Pair the tidy rows through a dict, sort the ids, then categorise: the end-to-end baseline."""
    pairs: dict[int, list[float]] = {}
    for client, occasion, value in zip(ids, times, scores, strict=True):
        slot = pairs.setdefault(client, [math.nan, math.nan])
        slot[0 if occasion == "pre" else 1] = value
    complete = [pairs[c] for c in sorted(pairs) if not (math.isnan(pairs[c][0]) or math.isnan(pairs[c][1]))]
    return row_by_row([p for p, _ in complete], [q for _, q in complete], reliability)


def timed(function: Callable[[], T], *, repeat: int = 1) -> tuple[float, T]:
    """Return the best wall time of ``repeat`` runs and the last result."""
    best = math.inf
    result: T
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=1_000_000, help="number of patients (default 1,000,000)")
    args = parser.parse_args()
    n = args.patients

    pre, post = generate(n)
    tidy = pd.DataFrame(
        {
            "id": np.repeat(np.arange(n), 2),
            "time": np.tile(np.array(["pre", "post"], dtype=object), n),
            "score": np.column_stack([pre, post]).ravel(),
        }
    )
    pre_list, post_list = pre.tolist(), post.tolist()

    core_s, core = timed(lambda: reliable_change(pre, post, reliability=RELIABILITY).category, repeat=3)
    table_s, analysis = timed(
        lambda: change_table(tidy, id="id", time="time", score="score", pre="pre", post="post", reliability=RELIABILITY)
    )
    loop_s, baseline = timed(lambda: row_by_row(pre_list, post_list, RELIABILITY))
    columns = (tidy["id"].tolist(), tidy["time"].tolist(), tidy["score"].tolist())
    tidy_loop_s, tidy_baseline = timed(lambda: row_by_row_tidy(*columns, RELIABILITY))

    same_core = core.tolist() == baseline
    same_table = analysis.table["category"].tolist() == tidy_baseline == baseline
    counts = pd.Series(baseline).value_counts()
    print(f"patients: {n:,} (JT, reliability {RELIABILITY}, lower is better)")
    print("categories: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    rows = [
        ("vectorised reliable_change + categories", core_s),
        ("row-by-row Python on pre/post lists", loop_s),
        ("vectorised change_table (tidy rows)", table_s),
        ("row-by-row Python on tidy rows", tidy_loop_s),
    ]
    for label, seconds in rows:
        print(f"{label:<42}{seconds:8.3f} s {n / seconds:14,.0f} patients/s")
    print(f"speed-up, core vs row-by-row on lists:      {loop_s / core_s:6.1f}x")
    print(f"speed-up, change_table vs row-by-row tidy:  {tidy_loop_s / table_s:6.1f}x")
    print(f"identical categories: core {same_core}, table {same_table}")
    if not (same_core and same_table):
        raise SystemExit("categories differ between the vectorised code and the baseline")


if __name__ == "__main__":
    main()
