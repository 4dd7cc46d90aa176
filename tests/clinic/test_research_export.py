"""`alliance export --deidentify`: no identifier or free text leaves, pseudonyms keyed, intervals kept, rare groups
coarsened, clear errors, audited."""

from __future__ import annotations

import datetime as dt
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest
from report_factories import record_client
from typer.testing import CliRunner

from alliance.cli import app
from alliance.clinic.accounts.models import User
from alliance.clinic.alerts.models import Alert
from alliance.clinic.audit.models import AuditEvent
from alliance.clinic.practice.models import Client, ClientIdentity, Episode
from alliance.clinic.reports.deidentify import deidentify, load_or_create_key
from alliance.clinic.reports.tables import TABLES, contract_tables

runner = CliRunner()
NOTE = "Talked about the divorce and the new job at Acme Widgets"
ETHNICITIES = ["A", "A", "A", "A", "A", "A", "J", "J"]  # J: 2 clients, under k = 5


@pytest.fixture
def clinic(cast: dict[str, User]) -> list[Client]:
    """Eight clients of ana and ben with identities, groups, three sessions each and a noted alert."""
    clients = []
    for number, ethnicity in enumerate(ETHNICITIES):
        client = record_client(
            cast["ana"] if number % 2 == 0 else cast["ben"],
            code=f"C-EX{number:04d}",
            phq9=[18, 12, 9],
            gad7=[14, 10, 7],
            alliance=[8, 9, 6],
            start=dt.datetime(2025, 3, 3 + number, 10, tzinfo=dt.UTC),
            referral_days=30 + number,
            ending=Episode.Ending.COMPLETED if number % 2 == 0 else Episode.Ending.ONGOING,
            identity={
                "name": f"Quentin Zebulon{number}",
                "email": f"quentin.zebulon{number}@mail.example.net",
                "phone": f"+44 7700 900{number:03d}",
                "date_of_birth": dt.date(1975 if number < 6 else 2003, 5, 17),  # 49 or 21 at referral
            },
            ethnicity=ethnicity,
            gender="female",
            deprivation=1 if number < 5 else 2,
        )
        Alert.objects.create(client=client, kind=Alert.Kind.RISK, message="Risk item", dedup_key=f"{client.pk}:risk",
                             action_taken=NOTE)  # fmt: skip
        clients.append(client)
    return clients


def export(tmp_path: Path, out: str, *args: str, key: str = "keys/export.key") -> Any:
    (tmp_path / "keys").mkdir(exist_ok=True)
    return runner.invoke(
        app, ["export", "--deidentify", "--out", str(tmp_path / out), "--key-file", str(tmp_path / key), *args]
    )


def read(folder: Path, table: str) -> pd.DataFrame:
    csv = folder / f"{table}.csv"
    return pd.read_csv(csv, dtype=str) if csv.exists() else pd.read_parquet(folder / f"{table}.parquet")


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_no_name_contact_code_or_note_appears_in_any_byte_of_the_export(
    clinic: list[Client], cast: dict[str, User], tmp_path: Path, fmt: str
) -> None:
    result = export(tmp_path, "out", "--format", fmt)
    assert result.exit_code == 0, result.stderr
    forbidden = [NOTE, "Acme", "Northside Therapy", "Adult team"]
    for identity in ClientIdentity.objects.all():
        forbidden += [identity.name, identity.email, identity.phone, identity.date_of_birth.isoformat()]
    forbidden += [client.code for client in clinic]
    for user in cast.values():
        forbidden += [user.email, user.get_full_name() or user.first_name]
    files = sorted((tmp_path / "out").iterdir())
    assert [f.name for f in files] == sorted(f"{table}.{fmt}" for table in TABLES)
    for path in files:
        raw = path.read_bytes()
        text = raw.decode() if fmt == "csv" else " ".join(map(str, pq.read_table(path).to_pandas().to_numpy().ravel()))
        for value in forbidden:
            assert value.encode() not in raw, f"{value!r} in the bytes of {path.name}"
            assert value not in text, f"{value!r} in the values of {path.name}"
    # Every id is a keyed pseudonym, never the database key.
    clients = read(tmp_path / "out", "clients")
    assert {str(c.pk) for c in clinic}.isdisjoint(set(clients["client_id"]))
    assert clients["client_id"].str.fullmatch(r"[0-9a-f]{24}").all()


def test_the_export_holds_exactly_the_contract_columns(clinic: list[Client], tmp_path: Path) -> None:
    assert export(tmp_path, "out", "--format", "csv").exit_code == 0
    columns = {table: list(read(tmp_path / "out", table).columns) for table in TABLES}
    assert columns["clients"] == [
        "client_id", "practice_id", "ethnicity", "language", "age_band", "gender", "deprivation",
    ]  # fmt: skip
    assert columns["episodes"] == [
        "episode_id", "client_id", "practice_id", "team_id", "therapist_id",
        "referral_date", "start_date", "end_date", "ending",
    ]  # fmt: skip
    assert columns["appointments"] == ["appointment_id", "episode_id", "session_number", "date", "status"]
    assert columns["checkins"] == [
        "checkin_id", "episode_id", "appointment_id", "date", "instrument", "total",
        "bond", "understood", "respect", "goals", "tasks", "culture", "safety", "overall",
    ]  # fmt: skip
    checkins = read(tmp_path / "out", "checkins")
    assert set(checkins["instrument"]) == {"phq9", "gad7", "alliance-client"}
    assert len(checkins) == 8 * 3 * 3


def test_pseudonyms_are_the_same_with_the_same_key_and_unrelated_with_another(
    clinic: list[Client], tmp_path: Path
) -> None:
    assert export(tmp_path, "first").exit_code == 0
    assert export(tmp_path, "again").exit_code == 0
    assert export(tmp_path, "other", key="keys/other.key").exit_code == 0
    first, again, other = (read(tmp_path / name, "episodes") for name in ("first", "again", "other"))
    pd.testing.assert_frame_equal(first, again)
    for column in ("episode_id", "client_id", "practice_id", "team_id", "therapist_id"):
        assert set(first[column]).isdisjoint(set(other[column])), column


def test_dates_move_by_one_offset_per_client_so_every_interval_is_kept(clinic: list[Client], tmp_path: Path) -> None:
    key = load_or_create_key(tmp_path / "k.key", out=tmp_path / "out")
    raw = contract_tables()
    shifted = deidentify(raw, key=key)
    offsets = set()
    for client in clinic:
        cid, pid = str(client.pk), key.pseudonym("client", str(client.pk))
        before = raw.episodes[raw.episodes["client_id"] == cid].iloc[0]
        after = shifted.episodes[shifted.episodes["client_id"] == pid].iloc[0]
        offset = after["start_date"] - before["start_date"]
        assert -dt.timedelta(days=365) <= offset <= -dt.timedelta(days=1)
        assert after["referral_date"] - before["referral_date"] == offset
        episode = key.pseudonym("episode", before["episode_id"])
        for table in ("appointments", "checkins"):
            old, new = getattr(raw, table), getattr(shifted, table)
            old_dates = sorted(old.loc[old["episode_id"] == before["episode_id"], "date"])
            new_dates = sorted(new.loc[new["episode_id"] == episode, "date"])
            assert [d - offset for d in new_dates] == old_dates
        offsets.add(offset)
    assert len(offsets) > 1  # clients move by different offsets


def test_groups_under_k_clients_become_other(clinic: list[Client], tmp_path: Path) -> None:
    key = load_or_create_key(tmp_path / "k.key", out=tmp_path / "out")
    raw = contract_tables()
    assert sorted(raw.clients["ethnicity"]) == sorted(ETHNICITIES)
    coarse = deidentify(raw, key=key, k=5).clients
    assert sorted(coarse["ethnicity"]) == ["A"] * 6 + ["other"] * 2
    assert set(coarse["gender"]) == {"female"}  # 8 clients: kept
    assert sorted(raw.clients["age_band"]) == ["18-25"] * 2 + ["46-55"] * 6
    assert sorted(coarse["age_band"]) == ["46-55"] * 6 + ["other"] * 2
    assert sorted(raw.clients["deprivation"]) == [1] * 5 + [2] * 3
    assert (coarse["deprivation"] == 1).sum() == 5 and coarse["deprivation"].isna().sum() == 3
    looser = deidentify(raw, key=key, k=2).clients
    assert sorted(looser["ethnicity"]) == sorted(ETHNICITIES)
    assert sorted(looser["age_band"]) == ["18-25"] * 2 + ["46-55"] * 6


def test_the_key_file_is_created_private_and_reused(clinic: list[Client], tmp_path: Path) -> None:
    result = export(tmp_path, "out")
    assert result.exit_code == 0, result.stderr
    key_path = tmp_path / "keys" / "export.key"
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert "key created" in result.stdout
    secret = key_path.read_text()
    assert "key used" in export(tmp_path, "again").stdout
    assert key_path.read_text() == secret


def test_the_export_is_audited_with_who_when_and_row_counts_only(clinic: list[Client], tmp_path: Path) -> None:
    assert export(tmp_path, "out").exit_code == 0
    events = list(AuditEvent.objects.filter(action="export").order_by("pk"))
    assert [(e.object_type, e.object_id) for e in events] == [
        ("ResearchExport", "clients:8"),
        ("ResearchExport", "episodes:8"),
        ("ResearchExport", "appointments:24"),
        ("ResearchExport", "checkins:72"),
    ]
    assert all(e.actor.startswith("cli:") and e.client_id is None for e in events)


def test_without_deidentify_the_command_refuses(clinic: list[Client], tmp_path: Path) -> None:
    result = runner.invoke(app, ["export", "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "only a de-identified research export is offered" in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda p: (p / "out").write_text("x"), "the output folder is a file"),
        (lambda p: (p / "out").mkdir() or (p / "out" / "old.csv").write_text("x"), "the output folder is not empty"),
        (lambda p: None, "inside the output folder"),
    ],
    ids=["out-is-a-file", "out-not-empty", "key-inside-out"],
)
def test_bad_folders_and_a_key_inside_the_export_are_one_line_errors(
    clinic: list[Client], tmp_path: Path, setup: Any, message: str
) -> None:
    setup(tmp_path)
    key = "out/export.key" if message.startswith("inside") else "keys/export.key"
    result = export(tmp_path, "out", key=key)
    assert result.exit_code == 2, result.stdout
    assert result.stderr.count("\n") == 1 and message in result.stderr
    assert str(tmp_path / "out") in result.stderr or str(tmp_path / key) in result.stderr
    assert not AuditEvent.objects.filter(action="export").exists()


def test_a_missing_parent_folder_and_a_readable_key_file_are_refused(clinic: list[Client], tmp_path: Path) -> None:
    missing = runner.invoke(
        app,
        ["export", "--deidentify", "--out", str(tmp_path / "no" / "such" / "dir"), "--key-file", str(tmp_path / "k")],
    )
    assert missing.exit_code == 2 and "parent does not exist" in missing.stderr
    loose = tmp_path / "loose.key"
    loose.write_text("ab" * 32 + "\n")
    loose.chmod(0o644)
    result = runner.invoke(app, ["export", "--deidentify", "--out", str(tmp_path / "out"), "--key-file", str(loose)])
    assert result.exit_code == 2 and "chmod 600" in result.stderr


def test_a_missing_database_is_a_one_line_error(tmp_path: Path) -> None:
    env = dict(os.environ, DATABASE_URL=f"sqlite:///{tmp_path / 'nothing.sqlite3'}", ALLIANCE_DATA_DIR=str(tmp_path))
    command = [sys.executable, "-c", "from alliance.cli import main; main()", "export", "--deidentify"]
    result = subprocess.run(
        [*command, "--out", str(tmp_path / "out"), "--key-file", str(tmp_path / "k.key")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == f"alliance: error: no clinic database at {tmp_path / 'nothing.sqlite3'} " + (
        "(set DATABASE_URL, or run `alliance migrate` first)"
    )
    assert not (tmp_path / "nothing.sqlite3").exists()
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_the_export_reads_back_through_the_contract_and_gives_the_clinics_own_figures(
    clinic: list[Client], tmp_path: Path
) -> None:
    """`analytics run` reads what `export` writes; the metrics of the export equal those of the clinic's tables
    (only equity differs, where rare groups were coarsened)."""
    from alliance.analytics.metrics import compute_frames
    from alliance.analytics.schema import read_table_file

    assert export(tmp_path, "out").exit_code == 0
    exported = {table: read_table_file(tmp_path / "out" / f"{table}.parquet", table) for table in TABLES}
    names = ["outcomes", "alliance", "association", "engagement"]
    ours = compute_frames(contract_tables().as_dict(), by=(), metrics=names)
    theirs = compute_frames(exported, by=(), metrics=names)
    for name in names:
        pd.testing.assert_frame_equal(ours[name], theirs[name], check_dtype=False)
    assert int(ours["outcomes"]["finished"].iloc[0]) == 4 and int(ours["outcomes"]["recovery"].iloc[0]) == 4
    assert int(ours["engagement"]["attended"].iloc[0]) == 24
    run = runner.invoke(app, ["analytics", "run", "--data", str(tmp_path / "out"), "--out", str(tmp_path / "metrics")])
    assert run.exit_code == 0, run.stderr
    assert pd.read_csv(tmp_path / "metrics" / "outcomes.csv")["recovery"].tolist() == [4]
