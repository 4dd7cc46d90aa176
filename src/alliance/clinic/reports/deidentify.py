"""De-identify the contract tables for research: keyed pseudonyms, per-client date shifts, coarsened rare groups.

- Every id (client, episode, appointment, check-in, therapist, team, practice) becomes HMAC-SHA256 of its kind and
  value under a secret key kept apart from the export: the same key gives the same pseudonym (exports can be
  linked over time by whoever holds the key), another key gives unrelated ones, and without the key the clinic's
  ids cannot be recovered or checked.
- Each client's dates move back by one keyed offset of 1 to 365 days: intervals within a client (weeks between
  sessions, time from referral to start) are kept exactly; calendar dates and the order of different clients are
  not (and no shifted date lies in the future).
- A client group with fewer than ``k`` clients in the export (an ethnicity, language, gender, age band or
  deprivation quintile) becomes ``other`` (deprivation: unknown), so no rare combination singles a client out
  by one value.
- Every column of every table is checked against an allow-list before anything is written.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pandas as pd

from alliance.analytics.schema import COARSENED as OTHER
from alliance.clinic.reports.tables import ContractTables, alliance_domains
from alliance.errors import InputError

__all__ = [
    "DEFAULT_K",
    "GROUP_COLUMNS",
    "KEY_BYTES",
    "MAX_SHIFT_DAYS",
    "OTHER",
    "ExportKey",
    "allowed_columns",
    "check_allowed",
    "deidentify",
    "load_or_create_key",
]

DEFAULT_K = 5
KEY_BYTES = 32
MAX_SHIFT_DAYS = 365
PSEUDONYM_HEX = 24  # 96 bits: no collision expected below ~10^14 ids
GROUP_COLUMNS = ("ethnicity", "language", "age_band", "gender", "deprivation")
_ID_KINDS = {
    "client_id": "client",
    "practice_id": "practice",
    "episode_id": "episode",
    "team_id": "team",
    "therapist_id": "therapist",
    "appointment_id": "appointment",
    "checkin_id": "checkin",
}
_DATE_COLUMNS = {
    "episodes": ("referral_date", "start_date", "end_date"),
    "appointments": ("date",),
    "checkins": ("date",),
}
_KEY_TEXT = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class ExportKey:
    """The secret key of the research export, where it is kept and whether this run made it."""

    secret: bytes
    path: Path
    created: bool

    def pseudonym(self, kind: str, value: str) -> str:
        digest = hmac.new(self.secret, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()
        return digest[:PSEUDONYM_HEX]

    def shift_days(self, client_id: str) -> int:
        """Return the client's date offset in days: -1 to -``MAX_SHIFT_DAYS`` (always earlier, never 0)."""
        digest = hmac.new(self.secret, f"date-shift:{client_id}".encode(), hashlib.sha256).digest()
        return -(int.from_bytes(digest[:8], "big") % MAX_SHIFT_DAYS + 1)


def load_or_create_key(path: Path, *, out: Path) -> ExportKey:
    """Read the key at ``path`` or create it (random, mode 0600); refuse a key file inside the export folder ``out``."""
    key_path = path.expanduser().resolve()
    if key_path.is_relative_to(out.expanduser().resolve()):
        raise InputError(
            "the key file must be kept apart from the export: it is inside the output folder", file=str(path)
        )
    if not key_path.exists():
        if not key_path.parent.is_dir():
            raise InputError("the folder for the key file does not exist", file=str(path))
        try:
            descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as exc:
            raise InputError(f"cannot create the key file ({exc.strerror})", file=str(path)) from None
        secret = secrets.token_bytes(KEY_BYTES)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secret.hex() + "\n")
        return ExportKey(secret, key_path, created=True)
    if not key_path.is_file():
        raise InputError("the key file is not a regular file", file=str(path))
    if stat.S_IMODE(key_path.stat().st_mode) & 0o077:
        raise InputError("the key file may be read by others; make it private (chmod 600)", file=str(path))
    try:
        text = key_path.read_text().strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the key file ({exc})", file=str(path)) from None
    if not _KEY_TEXT.match(text):
        raise InputError(f"not a research-export key (expected {2 * KEY_BYTES} hex digits)", file=str(path))
    return ExportKey(bytes.fromhex(text), key_path, created=False)


def allowed_columns() -> dict[str, tuple[str, ...]]:
    """Return the allow-list: every column an export may hold, per table (the data contract, nothing more)."""
    return {
        "clients": ("client_id", "practice_id", "ethnicity", "language", "age_band", "gender", "deprivation"),
        "episodes": (
            "episode_id",
            "client_id",
            "practice_id",
            "team_id",
            "therapist_id",
            "referral_date",
            "start_date",
            "end_date",
            "ending",
        ),
        "appointments": ("appointment_id", "episode_id", "session_number", "date", "status"),
        "checkins": (
            "checkin_id",
            "episode_id",
            "appointment_id",
            "date",
            "instrument",
            "total",
            *alliance_domains(),
        ),
    }


def check_allowed(tables: Mapping[str, pd.DataFrame]) -> None:
    """Raise ``InputError`` unless every table is in the contract and holds exactly its allowed columns."""
    allowed = allowed_columns()
    for name, frame in tables.items():
        if name not in allowed:
            raise InputError(f"table {name!r} is not in the export's allow-list")
        extra = [column for column in frame.columns if column not in allowed[name]]
        if extra:
            raise InputError(f"column {extra[0]!r} of table {name!r} is not in the export's allow-list")
        missing = [column for column in allowed[name] if column not in frame.columns]
        if missing:
            raise InputError(f"column {missing[0]!r} of table {name!r} is missing")


def deidentify(tables: ContractTables, *, key: ExportKey, k: int = DEFAULT_K) -> ContractTables:
    """Return ``tables`` with keyed pseudonyms, per-client shifted dates and client groups under ``k`` coarsened."""
    if k < 1:
        raise InputError(f"k must be at least 1, not {k}")
    client_of_episode = dict(zip(tables.episodes["episode_id"], tables.episodes["client_id"], strict=True))
    shift = {client: key.shift_days(client) for client in tables.clients["client_id"]}
    shift.update({client: key.shift_days(client) for client in tables.episodes["client_id"] if client not in shift})

    def shifted(frame: pd.DataFrame, table: str, clients: pd.Series) -> pd.DataFrame:
        out = frame.copy()
        days = clients.map(lambda c: shift.get(c, 0) if c is not None else 0)
        for column in _DATE_COLUMNS.get(table, ()):
            out[column] = pd.Series(
                [
                    None if d is None or pd.isna(d) else d + timedelta(days=int(n))
                    for d, n in zip(out[column], days, strict=True)
                ],
                dtype=object,
                index=out.index,
            )
        return out

    clients = _coarsen(tables.clients, k=k)
    episodes = shifted(tables.episodes, "episodes", tables.episodes["client_id"])
    appointments = shifted(
        tables.appointments, "appointments", tables.appointments["episode_id"].map(client_of_episode)
    )
    checkins = shifted(tables.checkins, "checkins", tables.checkins["episode_id"].map(client_of_episode))
    result = ContractTables(
        clients=_pseudonymise(clients, key),
        episodes=_pseudonymise(episodes, key),
        appointments=_pseudonymise(appointments, key),
        checkins=_pseudonymise(checkins, key),
    )
    check_allowed(result.as_dict())
    return result


def _pseudonymise(frame: pd.DataFrame, key: ExportKey) -> pd.DataFrame:
    out = frame.copy()
    for column, kind in _ID_KINDS.items():
        if column in out.columns:
            out[column] = pd.Series(
                [None if v is None or pd.isna(v) else key.pseudonym(kind, str(v)) for v in out[column]],
                dtype=object,
                index=out.index,
            )
    return out


def _coarsen(clients: pd.DataFrame, *, k: int) -> pd.DataFrame:
    """Replace each group value held by fewer than ``k`` clients with ``other`` (deprivation: unknown)."""
    out = clients.copy()
    for column in GROUP_COLUMNS:
        counts = out[column].value_counts(dropna=True)
        rare = set(counts[counts < k].index)
        if not rare:
            continue
        is_rare = out[column].isin(rare)
        if column == "deprivation":
            out[column] = out[column].mask(is_rare).astype("Int64")
        else:
            out[column] = out[column].where(~is_rare, OTHER).astype(object)
    return out
