"""Alliance series with known truth: injected ruptures of known size, timing and repair, on realistic noise.

Used to validate the rupture detectors (``docs/monitoring-validation.md``). The relationship check-in is the mean of
eight 0–10 items, so series are drawn at the item level: scores come in steps of 1/8 and pile up near the ceiling, as
session alliance ratings do (Hatcher & Gillaspy 2006 report means near 6 of 7 on the WAI-SR; SRS totals cluster above
the 36/40 cut-off).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["DetectionQuality", "SimulatedRuptures", "match_ruptures", "precision_recall", "simulate_ruptures"]

ITEMS = 8


@dataclass(frozen=True)
class SimulatedRuptures:
    """Simulated check-ins (``id, time, score``) and the injected ruptures (``id, time, size, repaired_at``)."""

    scores: pd.DataFrame
    truth: pd.DataFrame


def simulate_ruptures(
    *,
    clients: int = 400,
    sessions: tuple[int, int] = (8, 16),
    rupture_share: float = 0.5,
    sizes: tuple[float, ...] = (1.0, 1.5, 2.0, 3.0, 4.0),
    level: tuple[float, float] = (8.0, 1.0),
    noise: tuple[float, float] = (0.45, 0.35),
    autocorrelation: float = 0.3,
    item_sd: float = 0.6,
    seed: int = 0,
) -> SimulatedRuptures:
    """Draw alliance series; about ``rupture_share`` of clients get one rupture of a size drawn from ``sizes``.

    Each client has a level (normal, mean and SD ``level``, clipped to 3–9.8), a slight upward trend (0.03 per
    session), AR(1) session noise with a client-specific SD (log-normal around ``noise[0]`` with log-SD ``noise[1]``)
    and item noise ``item_sd``. A rupture starts between session 3 and the fourth-last and lowers the latent level
    by its size for one session (60%), two sessions (25%) or for good (15%, unrepaired). ``truth.repaired_at`` is
    the first session back at the client's level, or NaN.
    """
    if not 0 <= rupture_share <= 1:
        raise ValueError("rupture_share must lie between 0 and 1")
    rng = np.random.default_rng(seed)
    rows: list[pd.DataFrame] = []
    truth: list[dict[str, float]] = []
    for client in range(1, clients + 1):
        n = int(rng.integers(sessions[0], sessions[1] + 1))
        t = np.arange(1, n + 1)
        base = float(np.clip(rng.normal(*level), 3.0, 9.8))
        sd = float(noise[0] * np.exp(rng.normal(0.0, noise[1])))
        shocks = rng.normal(0.0, sd, n)
        ar = np.zeros(n)
        for i in range(n):
            ar[i] = (autocorrelation * ar[i - 1] if i else 0.0) + shocks[i]
        latent = base + 0.03 * (t - 1) + ar
        if rng.random() < rupture_share and n >= 6:
            onset = int(rng.integers(3, n - 2))
            size = float(rng.choice(sizes))
            length = int(rng.choice([1, 2, n], p=[0.60, 0.25, 0.15]))
            hit = (t >= onset) & (t < onset + length)
            latent = latent - np.where(hit, size, 0.0)
            repaired = onset + length if onset + length <= n else np.nan
            truth.append({"id": client, "time": onset, "size": size, "repaired_at": repaired})
        items = np.clip(np.rint(latent[:, None] + rng.normal(0.0, item_sd, (n, ITEMS))), 0, 10)
        rows.append(pd.DataFrame({"id": client, "time": t, "score": items.mean(axis=1)}))
    truth_frame = pd.DataFrame(truth, columns=["id", "time", "size", "repaired_at"])
    return SimulatedRuptures(scores=pd.concat(rows, ignore_index=True), truth=truth_frame)


def match_ruptures(detected: pd.DataFrame, truth: pd.DataFrame, *, tolerance: int = 1) -> pd.DataFrame:
    """Pair each injected rupture with a detection of the same client within ``tolerance`` sessions of its onset.

    Returns ``truth`` with a boolean column ``found``.
    """
    found = []
    by_client: dict[Any, Any] = {key: group["time"].to_numpy() for key, group in detected.groupby("id")}
    for row in truth.itertuples(index=False):
        times = by_client.get(row.id, np.array([]))
        found.append(bool(np.any(np.abs(times - row.time) <= tolerance)))
    return truth.assign(found=found)


@dataclass(frozen=True)
class DetectionQuality:
    """How detections compare with the injected truth."""

    detections: int
    true_positives: int
    ruptures: int
    found: int

    @property
    def precision(self) -> float:
        return self.true_positives / self.detections if self.detections else float("nan")

    @property
    def recall(self) -> float:
        return self.found / self.ruptures if self.ruptures else float("nan")


def precision_recall(detected: pd.DataFrame, truth: pd.DataFrame, *, tolerance: int = 1) -> DetectionQuality:
    """Count detections near an injected rupture (true positives) and injected ruptures that were detected."""
    onsets: dict[Any, Any] = {key: group["time"].to_numpy() for key, group in truth.groupby("id")}
    true_positives = sum(
        bool(np.any(np.abs(onsets.get(row.id, np.array([])) - row.time) <= tolerance))
        for row in detected.itertuples(index=False)
    )
    matched = match_ruptures(detected, truth, tolerance=tolerance)
    return DetectionQuality(
        detections=len(detected),
        true_positives=int(true_positives),
        ruptures=len(truth),
        found=int(matched["found"].sum()),
    )
