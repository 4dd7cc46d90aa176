"""``alliance transcript label|report|train``: utterance labels, skill feedback and the labeller's training."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Any

import pandas as pd
import typer

from alliance.cli.app import app, user_errors
from alliance.cli.output import echo_csv
from alliance.errors import InputError
from alliance.transcripts.model import Transcript

__all__ = ["label", "report", "train"]

transcript_app = typer.Typer(
    help="Session transcripts: label utterances, report communication skills, train the labeller."
)
app.add_typer(transcript_app, name="transcript")


class FormatChoice(StrEnum):
    """Transcript file formats (``auto`` picks by extension, then by content)."""

    AUTO = "auto"
    TXT = "txt"
    VTT = "vtt"
    SRT = "srt"
    JSON = "json"
    ANNOMI = "annomi"


FORMAT_OPTION = typer.Option(FormatChoice.AUTO, "--format", help="File format: auto, txt, vtt, srt, json or annomi.")
SPEAKER_OPTION = typer.Option(
    None,
    "--speaker",
    help="NAME=ROLE: a name used as a speaker prefix or voice tag, and its role (therapist or client). Repeatable.",
)


def _speakers(pairs: list[str] | None) -> dict[str, str] | None:
    if not pairs:
        return None
    mapping: dict[str, str] = {}
    for pair in pairs:
        name, sep, role = pair.partition("=")
        if not sep or not name.strip() or role.strip() not in ("therapist", "client"):
            raise InputError(f"--speaker {pair!r} must look like NAME=therapist or NAME=client")
        mapping[name.strip()] = role.strip()
    return mapping


def _read(file: Path, fmt: FormatChoice, speakers: list[str] | None) -> dict[str, Transcript] | Transcript:
    """One transcript, or (AnnoMI, possibly many) transcripts by id."""
    from alliance.transcripts.parse import detect_format, parse, parse_annomi

    if not file.is_file():
        raise InputError("no such file", file=str(file))
    chosen = fmt.value
    if chosen == "auto":
        from alliance.files import read_text

        chosen = detect_format(read_text(file), name=str(file))
    if chosen == "annomi":
        return parse_annomi(file)
    return parse(file, format=chosen, speakers=_speakers(speakers))  # type: ignore[arg-type]


@transcript_app.command("label")
def label(
    file: Path = typer.Argument(..., help="The transcript file."),
    fmt: FormatChoice = FORMAT_OPTION,
    speaker: list[str] | None = SPEAKER_OPTION,
) -> None:
    """Label every utterance: CSV index,speaker,label,confidence (AnnoMI: transcript_id,utterance_id,speaker,...)."""
    from alliance.transcripts.labeller import load_labeller

    with user_errors():
        read = _read(file, fmt, speaker)
        labeller = load_labeller()
        if isinstance(read, Transcript):
            predictions = labeller.predict(read)
            frame = pd.DataFrame(
                {
                    "index": [p.index for p in predictions],
                    "speaker": [p.speaker for p in predictions],
                    "label": [p.label for p in predictions],
                    "confidence": [p.confidence for p in predictions],
                }
            )
            echo_csv(frame, columns=["index", "speaker", "label", "confidence"], numbers=["confidence"])
            return
        rows: list[dict[str, Any]] = []
        for transcript_id, transcript in read.items():
            rows += [
                {
                    "transcript_id": transcript_id,
                    "utterance_id": p.index,
                    "speaker": p.speaker,
                    "label": p.label,
                    "confidence": p.confidence,
                }
                for p in labeller.predict(transcript)
            ]
        columns = ["transcript_id", "utterance_id", "speaker", "label", "confidence"]
        echo_csv(pd.DataFrame(rows, columns=columns), columns=columns, numbers=["confidence"])


def report_of(transcript: Transcript, *, labels: str = "auto") -> dict[str, Any]:
    """Skill metrics as JSON-ready data; ``auto`` takes the file's labels when every utterance has one."""
    from alliance.transcripts.labeller import load_labeller
    from alliance.transcripts.skills import skills

    use_file = labels == "file" or (labels == "auto" and transcript.labelled)
    if labels == "file" and not transcript.labelled:
        raise InputError("--labels file: not every utterance of the file carries a label", file=transcript.source)
    source: dict[str, Any]
    if use_file:
        labelled, source = transcript, {"labels": "file"}
    else:
        labeller = load_labeller()
        predictions = labeller.predict(transcript)
        labelled = transcript.with_labels([p.label for p in predictions], [p.sublabel for p in predictions])
        source = {
            "labels": "model",
            "model": labeller.card.get("encoder", {}).get("name"),
            "head_sha256": labeller.card.get("sha256", {}).get("head.npz"),
            "adapter_sha256": labeller.card.get("sha256", {}).get("adapter.npz"),
            "low_confidence_utterances": [p.index for p in predictions if p.confidence < 0.5],
        }
    return {"labelling": source, **skills(labelled).to_dict()}


@transcript_app.command("report")
def report(
    file: Path = typer.Argument(..., help="The transcript file."),
    fmt: FormatChoice = FORMAT_OPTION,
    speaker: list[str] | None = SPEAKER_OPTION,
    labels: str = typer.Option(
        "auto", "--labels", help="model (label with the labeller), file (labels in the file) or auto."
    ),
) -> None:
    """Communication-skill metrics as JSON (an AnnoMI file with several transcripts: one report per transcript)."""
    with user_errors():
        if labels not in ("auto", "model", "file"):
            raise InputError(f"--labels must be auto, model or file, not {labels!r}")
        read = _read(file, fmt, speaker)
        if isinstance(read, Transcript):
            out: dict[str, Any] = report_of(read, labels=labels)
        else:
            out = {"transcripts": [{"transcript_id": key, **report_of(t, labels=labels)} for key, t in read.items()]}
        typer.echo(json.dumps(out, indent=2, ensure_ascii=False))


@transcript_app.command("train")
def train(
    annomi: Path = typer.Option(..., "--data", help="AnnoMI-format CSV with gold labels (AnnoMI-full for sublabels)."),
    folds: Path | None = typer.Option(None, "--folds", help="CSV transcript_id,fold: report grouped cross-validation."),
    out: Path | None = typer.Option(
        None, "--out", help="Where to write adapter.npz, head.npz and card.json (default: the package)."
    ),
    epochs: int = typer.Option(4, "--epochs", min=1, help="Passes over the training transcripts (shipped: 4)."),
    blocks: int = typer.Option(
        2, "--blocks", min=1, max=6, help="How many of the encoder's top blocks the adapter trains (shipped: 2)."
    ),
    device: str | None = typer.Option(
        None, "--device", help="Torch device to train on: cpu, cuda, cuda:N (default: a CUDA GPU if torch sees one)."
    ),
) -> None:
    """Fine-tune the utterance labeller on AnnoMI (optionally cross-validated by transcript) and write it."""
    from alliance.transcripts import finetune

    with user_errors():
        for path in (annomi, folds):
            if path is not None and not path.is_file():
                raise InputError("no such file", file=str(path))

        def say(message: str) -> None:
            sys.stderr.write(message + "\n")

        directory = out or finetune.ARTEFACTS
        result = finetune.train(
            annomi,
            folds,
            out=directory,
            recipe=finetune.Recipe(epochs=epochs, blocks=blocks, device=device),
            progress=say,
        )
        for task, scores in result.cross_validation.items():
            typer.echo(
                f"{task}: macro-F1 {scores['macro_f1']:.3f}, kappa {scores['kappa']:.3f}, "
                f"accuracy {scores['accuracy']:.3f} (n = {scores['n']}; per fold {result.per_fold[task]})"
            )
        typer.echo(f"wrote {', '.join(str(directory / name) for name in ('adapter.npz', 'head.npz', 'card.json'))}")
