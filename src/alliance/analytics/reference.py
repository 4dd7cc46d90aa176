"""The same metrics in plain pandas: the benchmark's baseline and a second, independent implementation to test against.

Written the straightforward way (sort, ``groupby``, ``shift``, ``merge``) from the definitions in
``docs/analytics.md``, not from the Ibis code; the finishing statistics (Wilson, Fisher, ICC, ...) are shared.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from alliance.analytics import metrics as m
from alliance.analytics.schema import CLIENT_GROUPS
from alliance.analytics.statistics import fisher_interval, mean_interval, oneway_icc, within_slope
from alliance.change.talking_therapies import GAD7_CASENESS, GAD7_RELIABLE_CHANGE, PHQ9_CASENESS, PHQ9_RELIABLE_CHANGE

__all__ = ["compute_pandas", "episode_features_pandas"]

_TOL = 1e-9


def _sessions(checkins: pd.DataFrame) -> pd.DataFrame:
    scored = checkins[checkins["total"].notna()]
    wide = scored.pivot_table(index=["episode_id", "date"], columns="instrument", values="total", aggfunc="max")
    wide = wide.reindex(columns=["phq9", "gad7", "alliance-client"]).rename(columns={"alliance-client": "alliance"})
    wide.columns.name = None
    return wide.reset_index().sort_values(["episode_id", "date"], kind="stable").reset_index(drop=True)


def _alliance(sessions: pd.DataFrame) -> pd.DataFrame:
    s = sessions.loc[sessions["alliance"].notna(), ["episode_id", "date", "alliance"]].reset_index(drop=True)
    g = s.groupby("episode_id", sort=False)["alliance"]
    s["pos"] = g.cumcount() + 1
    lags = [g.shift(lag) for lag in range(1, m.RUPTURE_BASELINE + 1)]
    s["baseline"] = pd.concat(lags, axis=1).mean(axis=1)
    s["own_sd"] = g.transform("std")
    between = (s["alliance"] - g.shift(1)).std()
    between = 0.0 if pd.isna(between) else float(between)
    s["drop"] = s["baseline"] - s["alliance"]
    out = s.groupby("episode_id", sort=False).agg(n_alliance=("alliance", "size"))
    early = s[s["pos"] <= m.EARLY_SESSIONS].groupby("episode_id", sort=False)["alliance"].mean()
    out["early_alliance"] = early.reindex(out.index)
    for criterion, sds in m._CRITERIA.items():
        threshold = np.fmax(sds * s["own_sd"], between)
        candidate = (s["drop"] > _TOL) & (s["drop"] >= threshold - _TOL)
        band = s["baseline"] - threshold
        first = s[candidate].groupby("episode_id").first()[["pos"]].assign(band=band[candidate].groupby(
            s.loc[candidate, "episode_id"]).first())  # fmt: skip
        rows = s[["episode_id", "pos", "alliance"]].merge(first, on="episode_id", suffixes=("", "_first"))
        back = (
            (rows["pos"] > rows["pos_first"])
            & (rows["pos"] <= rows["pos_first"] + m.RUPTURE_REPAIR)
            & (rows["alliance"] >= rows["band"] - _TOL)
        )
        repaired = back.groupby(rows["episode_id"]).any()
        out[f"rupture_{criterion}"] = out.index.isin(first.index)
        out[f"repaired_{criterion}"] = repaired.reindex(out.index, fill_value=False).astype(bool)
    return out


def episode_features_pandas(frames: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per episode with the same columns as :func:`alliance.analytics.metrics.episode_features`."""
    sessions = _sessions(frames["checkins"])
    ep = (
        frames["episodes"]
        .merge(frames["clients"][["client_id", *CLIENT_GROUPS]], on="client_id", how="left")
        .set_index("episode_id")
    )
    end = pd.to_datetime(ep["end_date"])
    ep["period"] = np.where(
        end.isna(), "open", end.dt.year.astype("Int64").astype(str) + "-Q" + end.dt.quarter.astype("Int64").astype(str)
    )
    ep["ended"] = ep["ending"] != "open"

    appts = frames["appointments"]
    status = appts["status"]
    counts = pd.DataFrame(
        {
            "attended": (status == "attended").groupby(appts["episode_id"]).sum(),
            "did_not_attend": (status == "did_not_attend").groupby(appts["episode_id"]).sum(),
            "booked": (status != "cancelled").groupby(appts["episode_id"]).sum(),
        }
    )
    keys = sessions[["episode_id", "date"]].assign(has=True)
    attended = appts.loc[status == "attended", ["episode_id", "date"]].merge(
        keys, on=["episode_id", "date"], how="left"
    )
    counts["completed"] = attended["has"].notna().groupby(attended["episode_id"]).sum()
    ep = ep.join(counts)

    paired = sessions[sessions["phq9"].notna() & sessions["gad7"].notna()]
    g = paired.groupby("episode_id")
    scores = pd.DataFrame(
        {
            "n_paired": g.size(),
            "first_phq9": g["phq9"].first(),
            "last_phq9": g["phq9"].last(),
            "first_gad7": g["gad7"].first(),
            "last_gad7": g["gad7"].last(),
        }
    )
    ep = ep.join(scores).join(_alliance(sessions))
    for column in ("attended", "booked", "did_not_attend", "completed", "n_paired", "n_alliance"):
        ep[column] = ep[column].fillna(0).astype("int64")

    finished = ep["ended"] & (ep["attended"] >= m.MIN_ATTENDED) & (ep["n_paired"] >= 2)
    dphq, dgad = ep["last_phq9"] - ep["first_phq9"], ep["last_gad7"] - ep["first_gad7"]
    case_start = (ep["first_phq9"] >= PHQ9_CASENESS) | (ep["first_gad7"] >= GAD7_CASENESS)
    case_end = (ep["last_phq9"] >= PHQ9_CASENESS) | (ep["last_gad7"] >= GAD7_CASENESS)
    falls = (dphq <= -PHQ9_RELIABLE_CHANGE) | (dgad <= -GAD7_RELIABLE_CHANGE)
    rises = (dphq >= PHQ9_RELIABLE_CHANGE) | (dgad >= GAD7_RELIABLE_CHANGE)
    improved, recovered = falls & ~rises, case_start & ~case_end
    series = ep["n_alliance"] >= 2
    ep["finished"] = finished
    ep["case"] = finished & case_start
    ep["recovered"] = finished & case_start & recovered
    ep["improved"] = finished & improved
    ep["deteriorated"] = finished & rises & ~falls
    ep["reliably_recovered"] = finished & case_start & recovered & improved
    ep["improvement"] = (-dphq).where(finished)
    ep["dropped_out"] = ep["ending"] == "dropped_out"
    for name, source in (
        ("rupture", "rupture_lenient"), ("repaired", "repaired_lenient"),
        ("rupture_strict", "rupture_strict"), ("repaired_strict", "repaired_strict"),
    ):  # fmt: skip
        ep[name] = series & ep[source].fillna(False).astype(bool)
    ep.attrs["sessions"] = sessions
    return ep.reset_index()


def _agg(frame: pd.DataFrame, keys: Sequence[str], **spec: tuple[str, object]) -> pd.DataFrame:
    if keys:
        return frame.groupby(list(keys), dropna=False).agg(**spec).reset_index()
    return frame.assign(_all=0).groupby("_all").agg(**spec).reset_index(drop=True)


def _counts(ep: pd.DataFrame) -> pd.DataFrame:
    return ep.assign(dropped_out=ep["dropped_out"] & ep["ended"])


_OUTCOME_SPEC = {
    "clients": ("client_id", "nunique"),
    "episodes": ("episode_id", "size"),
    **{name: (name, "sum") for name in ("finished", "case", "recovered", "improved", "deteriorated")},
    "reliably_recovered": ("reliably_recovered", "sum"),
    "ended": ("ended", "sum"),
    "dropped_out": ("dropped_out", "sum"),
}


def compute_pandas(
    frames: Mapping[str, pd.DataFrame], by: Sequence[str] = ("practice_id",), *, metrics: Sequence[str] | None = None
) -> dict[str, pd.DataFrame]:
    """The metrics of :func:`alliance.analytics.metrics.compute`, in plain pandas (same columns, same rows)."""
    keys = m._check_by(by)
    ep = _counts(episode_features_pandas(frames))
    sessions = ep.attrs["sessions"]
    names = list(m.METRICS) if metrics is None else list(metrics)
    results = {}
    for name in names:
        frame = _BUILDERS[name](ep, sessions, keys)
        results[name] = m._finish(frame, keys, m.METRICS[name])
    return results


def _outcomes(ep: pd.DataFrame, sessions: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    frame = _agg(ep, keys, **_OUTCOME_SPEC).rename(columns={"case": "cases"})
    for outcome in ("recovery", "reliable_improvement", "reliable_deterioration", "reliable_recovery"):
        events, trials = m.OUTCOMES[outcome]
        m._add_rate(frame, outcome, events, trials)
    return frame


def _alliance_metric(ep: pd.DataFrame, sessions: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    ep = ep.assign(series=ep["n_alliance"] >= 2)
    frame = _agg(
        ep,
        keys,
        clients=("client_id", "nunique"),
        episodes=("episode_id", "size"),
        early_alliance_n=("early_alliance", "count"),
        early_alliance=("early_alliance", "mean"),
        early_alliance_sd=("early_alliance", "std"),
        rupture_n=("series", "sum"),
        rupture_count=("rupture", "sum"),
        repaired_count=("repaired", "sum"),
        rupture_strict_count=("rupture_strict", "sum"),
        repaired_strict_count=("repaired_strict", "sum"),
    )
    low, high = mean_interval(frame["early_alliance"], frame["early_alliance_sd"], frame["early_alliance_n"])
    frame["early_alliance_low"], frame["early_alliance_high"] = low, high
    m._add_rate(frame, "rupture", "rupture_count", "rupture_n")
    m._add_rate(frame, "repaired", "repaired_count", "rupture_count")
    m._add_rate(frame, "rupture_strict", "rupture_strict_count", "rupture_n")
    m._add_rate(frame, "repaired_strict", "repaired_strict_count", "rupture_strict_count")
    return frame


def _association(ep: pd.DataFrame, sessions: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    both = ep[ep["early_alliance"].notna() & ep["improvement"].notna()]
    clients = _agg(ep, keys, clients=("client_id", "nunique"))
    if keys:
        rows = [
            {**dict(zip(keys, key if isinstance(key, tuple) else (key,), strict=True)), "between_n": len(group),
             "between_r": group["early_alliance"].corr(group["improvement"])}
            for key, group in both.groupby(list(keys), dropna=False)
        ]  # fmt: skip
        corr = pd.DataFrame(rows, columns=[*keys, "between_n", "between_r"])
    else:
        corr = pd.DataFrame({"between_n": [len(both)], "between_r": [both["early_alliance"].corr(both["improvement"])]})
    between = m._merge(clients, corr, keys)
    between["between_n"] = between["between_n"].fillna(0)
    low, high = fisher_interval(between["between_r"], between["between_n"])
    between["between_low"], between["between_high"] = low, high

    phq = sessions[sessions["phq9"].notna()].copy()
    phq["change_next"] = phq.groupby("episode_id")["phq9"].shift(-1) - phq["phq9"]
    pairs = phq[phq["alliance"].notna() & phq["change_next"].notna()].copy()
    grouped = pairs.groupby("episode_id")
    pairs["x"] = pairs["alliance"] - grouped["alliance"].transform("mean")
    pairs["y"] = pairs["change_next"] - grouped["change_next"].transform("mean")
    pairs = pairs.merge(ep[["episode_id", *keys]], on="episode_id")
    pairs["xx"], pairs["xy"], pairs["yy"] = pairs["x"] ** 2, pairs["x"] * pairs["y"], pairs["y"] ** 2
    within = _agg(
        pairs, keys, within_n=("episode_id", "size"), within_episodes=("episode_id", "nunique"),
        sxx=("xx", "sum"), sxy=("xy", "sum"), syy=("yy", "sum"),
    )  # fmt: skip
    slope, se, lo, hi = within_slope(
        within["within_n"], within["within_episodes"], within["sxx"], within["sxy"], within["syy"]
    )
    within["within_slope"], within["within_se"], within["within_low"], within["within_high"] = slope, se, lo, hi
    return m._merge(between, within, keys)


def _therapist_effects(ep: pd.DataFrame, sessions: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    outer = [key for key in keys if key != "therapist_id"]
    done = ep[ep["improvement"].notna()].assign(sq=lambda f: f["improvement"] ** 2)
    pt = (
        done.groupby([*outer, "therapist_id"], dropna=False)
        .agg(n=("episode_id", "size"), s=("improvement", "sum"), q=("sq", "sum"))
        .reset_index()
    )
    pt["gs"], pt["nn"] = pt["s"] ** 2 / pt["n"], pt["n"] ** 2
    sums = _agg(
        pt, outer, therapists=("therapist_id", "size"), episodes=("n", "sum"), total=("s", "sum"),
        squares=("q", "sum"), group_squares=("gs", "sum"), n_squared=("nn", "sum"),
    )  # fmt: skip
    counted = ep.assign(client_id=ep["client_id"].where(ep["improvement"].notna()))
    clients = _agg(counted, outer, clients=("client_id", "nunique"))
    frame = m._merge(clients, sums, outer)
    icc, low, high = oneway_icc(
        frame["therapists"], frame["episodes"], frame["total"], frame["squares"], frame["group_squares"],
        frame["n_squared"],
    )  # fmt: skip
    frame["mean_improvement"] = frame["total"] / frame["episodes"]
    frame["icc"], frame["icc_low"], frame["icc_high"] = icc, low, high
    if "therapist_id" in keys:
        frame["therapist_id"] = pd.NA
    return frame


def _engagement(ep: pd.DataFrame, sessions: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    frame = _agg(
        ep, keys, clients=("client_id", "nunique"), episodes=("episode_id", "size"), attended=("attended", "sum"),
        completed=("completed", "sum"), booked=("booked", "sum"), did_not_attend=("did_not_attend", "sum"),
        ended=("ended", "sum"), dropped_out=("dropped_out", "sum"),
    )  # fmt: skip
    m._add_rate(frame, "checkin_completion", "completed", "attended")
    m._add_rate(frame, "dna", "did_not_attend", "booked")
    m._add_rate(frame, "unplanned_ending", "dropped_out", "ended")
    return frame


def _equity(ep: pd.DataFrame, sessions: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    spec = {**_OUTCOME_SPEC}
    ep = ep.rename(columns={"case": "cases"})
    spec["cases"] = ("cases", "sum")
    del spec["case"]

    def grouped(table: pd.DataFrame, group_keys: Sequence[str]) -> pd.DataFrame:
        return _agg(table, group_keys, **spec)

    return m._equity_from(grouped, ep, keys)


_BUILDERS = {
    "outcomes": _outcomes,
    "alliance": _alliance_metric,
    "association": _association,
    "therapist_effects": _therapist_effects,
    "engagement": _engagement,
    "equity": _equity,
}
