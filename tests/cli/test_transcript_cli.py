"""``alliance transcript label|report|train``: the CSV and JSON contracts, AnnoMI input, and one-line errors."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from alliance.cli import app

runner = CliRunner()

SESSION = """\
Therapist: What brings you in today?
Client: I've been drinking more than I'd like.
Therapist: You're worried about how much you drink.
Client: I want to cut down before the baby comes.
Therapist: Do you drink every night?
Client: Most nights, yes.
"""


def run(*args: str | Path) -> tuple[int, str, str]:
    result = runner.invoke(app, ["transcript", *map(str, args)])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def session(tmp_path: Path) -> Path:
    path = tmp_path / "session.txt"
    path.write_text(SESSION)
    return path


def test_label_prints_one_row_per_utterance(session: Path) -> None:
    code, out, err = run("label", session)
    assert code == 0, err
    assert out.splitlines()[0] == "index,speaker,label,confidence"
    table = pd.read_csv(io.StringIO(out))
    assert table["index"].tolist() == list(range(6))
    assert table["speaker"].tolist() == ["therapist", "client"] * 3
    assert set(table.loc[table.speaker == "therapist", "label"]) <= {
        "reflection",
        "question",
        "therapist_input",
        "other",
    }
    assert set(table.loc[table.speaker == "client", "label"]) <= {"change", "neutral", "sustain"}
    assert table.loc[0, "label"] == "question" and table.loc[4, "label"] == "question"
    assert table["confidence"].between(0, 1).all()


def test_label_annomi_keeps_transcript_and_utterance_ids(tmp_path: Path) -> None:
    path = tmp_path / "two.csv"
    path.write_text(
        "transcript_id,utterance_id,interlocutor,utterance_text,extra\n"
        "7,0,therapist,How are things going with the smoking?,x\n"
        "7,1,client,I've cut down to five a day.,x\n"
        "9,4,therapist,So you feel stuck.,x\n"
        "9,5,client,Yeah.,x\n"
    )
    code, out, err = run("label", path, "--format", "annomi")
    assert code == 0, err
    assert out.splitlines()[0] == "transcript_id,utterance_id,speaker,label,confidence"
    table = pd.read_csv(io.StringIO(out))
    assert list(zip(table.transcript_id, table.utterance_id, strict=True)) == [(7, 0), (7, 1), (9, 4), (9, 5)]


def test_report_prints_the_skill_metrics_as_json(session: Path) -> None:
    code, out, err = run("report", session)
    assert code == 0, err
    report = json.loads(out)
    assert report["labelling"]["labels"] == "model"
    assert len(report["labelling"]["head_sha256"]) == 64
    assert len(report["labelling"]["adapter_sha256"]) == 64
    assert report["counts"]["questions"] >= 2
    assert report["reflection_to_question"]["source"].startswith("MITI")
    assert 0 < report["therapist_word_share"]["value"] < 1


def test_report_uses_labels_from_the_file_when_asked(tmp_path: Path) -> None:
    path = tmp_path / "labelled.json"
    path.write_text(
        json.dumps(
            [
                {"speaker": "therapist", "text": "What would you like?", "label": "question", "sublabel": "open"},
                {"speaker": "client", "text": "To stop.", "label": "change"},
            ]
        )
    )
    code, out, err = run("report", path, "--labels", "file")
    assert code == 0, err
    report = json.loads(out)
    assert report["labelling"] == {"labels": "file"}
    assert report["counts"]["questions"] == 1 and report["counts"]["open_questions"] == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("label", "missing.txt"), "missing.txt: no such file"),
        (("report", "{session}", "--labels", "guess"), "--labels must be auto, model or file"),
        (("label", "{session}", "--speaker", "Ann"), "--speaker 'Ann' must look like NAME=therapist"),
        (("report", "{session}", "--labels", "file"), "not every utterance of the file carries a label"),
        (("train", "--data", "{session}", "--device", "tpu9"), "trains on cpu, cuda or cuda:N, not 'tpu9'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(session: Path, args: tuple[str, ...], message: str) -> None:
    code, out, err = run(*[a.replace("{session}", str(session)) for a in args])
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1
    assert out == ""


def test_an_unknown_speaker_is_reported_not_guessed(tmp_path: Path) -> None:
    path = tmp_path / "names.txt"
    path.write_text("Ann: How are you?\nBob: Fine.\n")
    code, _, err = run("label", path)
    assert code == 2 and "Ann" in err
    code, out, err = run("label", path, "--speaker", "Ann=therapist", "--speaker", "Bob=client")
    assert code == 0, err
    assert out.splitlines()[1].startswith("0,therapist,")
