"""The four tables of the analytics data contract (docs/analytics-data.md), built from the clinic database.

One code path: the research export de-identifies these tables (:mod:`alliance.clinic.reports.deidentify`), the
analytics page hands them to ``alliance.analytics.metrics.compute_frames`` as they are. Four queries, one per table
(plus the clients' identity join for the date of birth, which becomes an age band here and goes no further). Only
the columns of the contract are built: no names, contacts, notes or free-text answers ever enter these frames.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from django.conf import settings
from django.db.models import QuerySet

from alliance.clinic.checkins.models import CheckIn
from alliance.clinic.practice.access import client_filter
from alliance.clinic.practice.models import Appointment, Client, Episode
from alliance.clinic.registry import instruments

__all__ = [
    "AGE_BANDS",
    "ALLIANCE_CLIENT",
    "CONTRACT_INSTRUMENTS",
    "NO_TEAM_PREFIX",
    "TABLES",
    "ContractTables",
    "age_band",
    "alliance_domains",
    "contract_tables",
]

ALLIANCE_CLIENT = "alliance-client"
CONTRACT_INSTRUMENTS = ("phq9", "gad7", ALLIANCE_CLIENT)
TABLES = ("clients", "episodes", "appointments", "checkins")
AGE_BANDS = ((18, 25, "18-25"), (26, 35, "26-35"), (36, 45, "36-45"), (46, 55, "46-55"), (56, 65, "56-65"))
OLDEST_BAND = "66+"  # every age from 66 up, so ages of 90 and over are never shown apart (HIPAA Safe Harbor)
APPOINTMENT_STATUSES = (
    Appointment.Status.ATTENDED,
    Appointment.Status.DID_NOT_ATTEND,
    Appointment.Status.CANCELLED,
)
NO_TEAM_PREFIX = "no-team-"
ENDINGS = {
    Episode.Ending.ONGOING: "open",
    Episode.Ending.COMPLETED: "completed",
    Episode.Ending.DROPPED_OUT: "dropped_out",
    Episode.Ending.REFERRED_ON: "referred_on",
}


@dataclass(frozen=True)
class ContractTables:
    """The four contract tables as pandas frames (ids as strings, dates as ``datetime.date``)."""

    clients: pd.DataFrame
    episodes: pd.DataFrame
    appointments: pd.DataFrame
    checkins: pd.DataFrame

    def as_dict(self) -> dict[str, pd.DataFrame]:
        return {name: getattr(self, name) for name in TABLES}

    def row_counts(self) -> dict[str, int]:
        return {name: len(frame) for name, frame in self.as_dict().items()}


def alliance_domains() -> tuple[str, ...]:
    """Return the relationship check-in's item ids: the domain columns of the ``checkins`` table."""
    return tuple(instruments().get(ALLIANCE_CLIENT).item_ids)


def age_band(age: float | None) -> str | None:
    """Return the contract's band for an age in whole years (None when unknown or under 18)."""
    if age is None or np.isnan(age) or age < AGE_BANDS[0][0]:
        return None
    for low, high, label in AGE_BANDS:
        if low <= age <= high:
            return label
    return OLDEST_BAND


def contract_tables(
    *, user: Any = None, practice_ids: Iterable[int] | None = None, today: dt.date | None = None
) -> ContractTables:
    """Build the four contract tables of what ``user`` may see (``visible_to``), or of everything when ``user`` is None.

    ``practice_ids`` narrows to those practices. A client's age band is their age at their first referral (or
    ``today`` when they have no episode). Appointments still scheduled are left out (they have no outcome yet), and
    so are the therapist's own mirror ratings and any other instrument: the contract holds the client's PHQ-9,
    GAD-7 and relationship check-in only.
    """
    clients: QuerySet[Any] = Client.objects.all()
    episodes: QuerySet[Any] = Episode.objects.all()
    appointments: QuerySet[Any] = Appointment.objects.filter(status__in=APPOINTMENT_STATUSES)
    checkins: QuerySet[Any] = CheckIn.objects.filter(
        instrument__in=CONTRACT_INSTRUMENTS, respondent=CheckIn.Respondent.CLIENT
    )
    if user is not None:
        clients = clients.filter(client_filter(user))
        episodes = episodes.filter(client_filter(user, "client"))
        appointments = appointments.filter(client_filter(user, "client"))
        checkins = checkins.filter(client_filter(user, "client"))
    if practice_ids is not None:
        chosen = list(practice_ids)
        clients = clients.filter(practice_id__in=chosen)
        episodes = episodes.filter(client__practice_id__in=chosen)
        appointments = appointments.filter(client__practice_id__in=chosen)
        checkins = checkins.filter(client__practice_id__in=chosen)
    episode_frame = _episodes(episodes)
    return ContractTables(
        clients=_clients(clients, episode_frame, today=today or dt.date.today()),
        episodes=episode_frame.drop(columns=["_referral"]),
        appointments=_appointments(appointments),
        checkins=_checkins(checkins),
    )


def _records(queryset: QuerySet[Any], fields: Mapping[str, str]) -> pd.DataFrame:
    rows = list(queryset.order_by("pk").values_list(*fields))
    return pd.DataFrame.from_records(rows, columns=list(fields.values()))


def _ids(values: pd.Series) -> pd.Series:
    """Primary keys as the contract's string ids (missing stays missing)."""
    return values.map(lambda v: None if v is None or (isinstance(v, float) and np.isnan(v)) else str(int(v))).astype(
        object
    )


def _local_dates(values: pd.Series) -> pd.Series:
    """Aware timestamps as calendar dates in the practice's time zone."""
    if values.empty:
        return pd.Series([], dtype=object, index=values.index)
    local = pd.to_datetime(values, utc=True).dt.tz_convert(settings.TIME_ZONE)
    return pd.Series([moment.date() for moment in local], dtype=object, index=values.index)


def _dates(values: pd.Series) -> pd.Series:
    return values.map(lambda v: v if isinstance(v, dt.date) else None).astype(object)


def _episodes(queryset: QuerySet[Any]) -> pd.DataFrame:
    frame = _records(
        queryset,
        {
            "id": "episode_id",
            "client_id": "client_id",
            "client__practice_id": "practice_id",
            "therapist__team_id": "team_id",
            "therapist_id": "therapist_id",
            "referral_date": "referral_date",
            "opened_on": "start_date",
            "closed_on": "end_date",
            "ending": "ending",
        },
    )
    for column in ("episode_id", "client_id", "practice_id", "team_id", "therapist_id"):
        frame[column] = _ids(frame[column])
    # A therapist in no team counts in their practice's "no team" group (the contract needs a team on every row).
    no_team = frame["team_id"].isna()
    frame.loc[no_team, "team_id"] = NO_TEAM_PREFIX + frame.loc[no_team, "practice_id"]
    frame["referral_date"] = _dates(frame["referral_date"].where(frame["referral_date"].notna(), frame["start_date"]))
    frame["start_date"] = _dates(frame["start_date"])
    frame["end_date"] = _dates(frame["end_date"])
    frame["ending"] = frame["ending"].map(lambda v: ENDINGS.get(v, "open")).astype(object)
    frame["_referral"] = frame["referral_date"]
    return frame


def _clients(queryset: QuerySet[Any], episodes: pd.DataFrame, *, today: dt.date) -> pd.DataFrame:
    frame = _records(
        queryset,
        {
            "id": "client_id",
            "practice_id": "practice_id",
            "ethnicity": "ethnicity",
            "language": "language",
            "identity__date_of_birth": "_born",
            "gender": "gender",
            "deprivation": "deprivation",
        },
    )
    frame["client_id"] = _ids(frame["client_id"])
    frame["practice_id"] = _ids(frame["practice_id"])
    first_referral = episodes.groupby("client_id")["_referral"].min() if len(episodes) else pd.Series(dtype=object)
    at = frame["client_id"].map(first_referral).map(lambda v: v if isinstance(v, dt.date) else today)
    ages = [_age(born, when) for born, when in zip(frame["_born"], at, strict=True)]
    frame.insert(4, "age_band", pd.Series([age_band(a) for a in ages], dtype=object, index=frame.index))
    frame["deprivation"] = pd.to_numeric(frame["deprivation"], errors="coerce").astype("Int64")
    return frame.drop(columns=["_born"])


def _age(born: Any, when: dt.date) -> float | None:
    if not isinstance(born, dt.date):
        return None
    return float(when.year - born.year - ((when.month, when.day) < (born.month, born.day)))


def _appointments(queryset: QuerySet[Any]) -> pd.DataFrame:
    frame = _records(
        queryset,
        {
            "id": "appointment_id",
            "episode_id": "episode_id",
            "session_number": "session_number",
            "starts_at": "date",
            "status": "status",
        },
    )
    frame["appointment_id"] = _ids(frame["appointment_id"])
    frame["episode_id"] = _ids(frame["episode_id"])
    frame["session_number"] = pd.to_numeric(frame["session_number"]).astype("int64")
    frame["date"] = _local_dates(frame["date"])
    frame["status"] = frame["status"].astype(object)
    return frame


def _checkins(queryset: QuerySet[Any]) -> pd.DataFrame:
    frame = _records(
        queryset,
        {
            "id": "checkin_id",
            "episode_id": "episode_id",
            "appointment_id": "appointment_id",
            "submitted_at": "date",
            "instrument": "instrument",
            "total": "total",
            "answers": "_answers",
        },
    )
    for column in ("checkin_id", "episode_id", "appointment_id"):
        frame[column] = _ids(frame[column])
    frame["date"] = _local_dates(frame["date"])
    frame["instrument"] = frame["instrument"].astype(object)
    frame["total"] = pd.to_numeric(frame["total"], errors="coerce").astype(float)
    is_alliance = frame["instrument"] == ALLIANCE_CLIENT
    for domain in alliance_domains():
        # Only the numbers of the relationship check-in's items; anything else (never expected) becomes missing.
        values = [
            _number(answers.get(domain)) if own else np.nan
            for answers, own in zip(frame["_answers"], is_alliance, strict=True)
        ]
        frame[domain] = np.asarray(values, dtype=float)
    return frame.drop(columns=["_answers"])


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return np.nan
    return float(value)
