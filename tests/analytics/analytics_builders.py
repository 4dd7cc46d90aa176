"""Build small contract tables from per-episode session lists (shared by the analytics tests)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd

from alliance.analytics.schema import ALLIANCE_ITEMS

START = dt.date(2024, 1, 1)


@dataclass
class Ep:
    """One client with one episode; ``sessions`` are (status, phq9, gad7, alliance), one per weekly appointment."""

    id: str
    sessions: list[tuple[str, float | None, float | None, float | None]]
    practice: str = "P1"
    team: str = "T1"
    therapist: str = "H1"
    ending: str = "completed"
    ethnicity: str = "A"
    language: str = "en"
    age_band: str = "26-35"
    gender: str = "female"
    deprivation: int | None = 3
    extra: dict[str, object] = field(default_factory=dict)


def frames(episodes: list[Ep]) -> dict[str, pd.DataFrame]:
    clients, eps, appts, checks = [], [], [], []
    for ep in episodes:
        clients.append(
            {
                "client_id": f"C{ep.id}",
                "practice_id": ep.practice,
                "ethnicity": ep.ethnicity,
                "language": ep.language,
                "age_band": ep.age_band,
                "gender": ep.gender,
                "deprivation": ep.deprivation,
            }
        )
        last = START + dt.timedelta(weeks=max(len(ep.sessions) - 1, 0))
        eps.append(
            {
                "episode_id": ep.id,
                "client_id": f"C{ep.id}",
                "practice_id": ep.practice,
                "team_id": ep.team,
                "therapist_id": ep.therapist,
                "referral_date": START - dt.timedelta(days=30),
                "start_date": START,
                "end_date": None if ep.ending == "open" else last,
                "ending": ep.ending,
            }
        )
        for number, (status, phq9, gad7, alliance) in enumerate(ep.sessions, start=1):
            date = START + dt.timedelta(weeks=number - 1)
            appointment = f"{ep.id}-A{number}"
            appts.append(
                {"appointment_id": appointment, "episode_id": ep.id, "session_number": number, "date": date,
                 "status": status}
            )  # fmt: skip
            for instrument, total in (("phq9", phq9), ("gad7", gad7), ("alliance-client", alliance)):
                if total is None:
                    continue
                items = {item: (total if instrument == "alliance-client" else None) for item in ALLIANCE_ITEMS}
                checks.append(
                    {"checkin_id": f"{appointment}-{instrument}", "episode_id": ep.id, "appointment_id": appointment,
                     "date": date, "instrument": instrument, "total": float(total), **items}
                )  # fmt: skip
    checkin_columns = ["checkin_id", "episode_id", "appointment_id", "date", "instrument", "total", *ALLIANCE_ITEMS]
    return {
        "clients": pd.DataFrame(clients),
        "episodes": pd.DataFrame(eps),
        "appointments": pd.DataFrame(appts),
        "checkins": pd.DataFrame(checks, columns=checkin_columns),
    }


Session = tuple[str, float, float, float | None]


def scored(pairs: list[tuple[float, float]], alliance: float | None = 8.0) -> list[Session]:
    """Attended sessions with these (PHQ-9, GAD-7) scores and a steady alliance."""
    return [("attended", phq9, gad7, alliance) for phq9, gad7 in pairs]
