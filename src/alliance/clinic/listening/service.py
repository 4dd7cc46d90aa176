"""Attach a transcript to an appointment, delete it, record supervision consent: one transaction each.

An upload is parsed at once (``alliance.transcripts``); a file that does not parse stores nothing and the error names
the line. The parsed utterances and the text are stored encrypted, and an analysis is queued for the worker.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone

from alliance.clinic.listening.models import Analysis, SessionTranscript, SupervisionConsent
from alliance.clinic.practice.models import Appointment, Client
from alliance.errors import AllianceError
from alliance.transcripts import Transcript, TranscriptError, detect_format, parse_annomi
from alliance.transcripts.parse import parse_json, parse_srt, parse_text, parse_vtt

__all__ = [
    "UPLOAD_FORMATS",
    "AttachError",
    "attach",
    "delete_transcript",
    "parse_speaker_map",
    "parse_upload",
    "record_consent",
    "requeue",
]

UPLOAD_FORMATS = ("auto", "txt", "vtt", "srt", "json", "annomi")
_READERS = {"txt": parse_text, "vtt": parse_vtt, "srt": parse_srt, "json": parse_json}


class AttachError(AllianceError):
    """The transcript cannot be attached (the appointment has one already, or it is empty)."""


def parse_speaker_map(text: str) -> dict[str, str]:
    """Read ``Name = therapist`` lines (or ``Name=client, Other=therapist``) into a speaker map.

    Raises ``TranscriptError`` naming the entry that is not ``NAME = therapist|client``.
    """
    mapping: dict[str, str] = {}
    entries = [entry.strip() for line in text.splitlines() for entry in line.split(",")]
    for number, entry in enumerate((e for e in entries if e), start=1):
        name, sep, role = entry.partition("=")
        role = role.strip().lower()
        if not sep or not name.strip() or role not in ("therapist", "client"):
            raise TranscriptError(f"speaker mapping entry {number}: write NAME = therapist or NAME = client")
        mapping[name.strip()] = role
    return mapping


def parse_upload(
    text: str, *, file_name: str | None, format: str = "auto", speakers: Mapping[str, str] | None = None
) -> tuple[Transcript, str]:
    """Parse an uploaded transcript given as text; return it and the format used.

    The text is never taken for a path on this server (``alliance.transcripts.parse`` would read a one-line string
    that names an existing file), so the format readers are called directly.
    """
    if format not in UPLOAD_FORMATS:
        raise TranscriptError(f"unknown format {format!r} (use one of {', '.join(UPLOAD_FORMATS)})", file=file_name)
    chosen = format if format != "auto" else detect_format(text, name=file_name)
    if chosen == "annomi":
        try:
            found = parse_annomi(text if "\n" in text else text + "\n")
        except TranscriptError as exc:
            raise exc.located(file=file_name) if file_name else exc from None
        if len(found) != 1:
            raise TranscriptError(f"holds {len(found)} transcripts; upload one session at a time", file=file_name)
        return next(iter(found.values())), chosen
    return _READERS[chosen](text, speakers=speakers, file=file_name), chosen


def attach(
    appointment: Appointment,
    text: str,
    *,
    by: Any,
    file_name: str | None = None,
    format: str = "auto",
    speakers: Mapping[str, str] | None = None,
) -> SessionTranscript:
    """Parse ``text`` and store it (encrypted) on ``appointment`` with a queued analysis; nothing is stored on error.

    Raises ``TranscriptError`` (with the line) when it does not parse, ``AttachError`` when the appointment already
    has a transcript.
    """
    transcript, chosen = parse_upload(text, file_name=file_name, format=format, speakers=speakers)
    therapist = sum(1 for u in transcript.utterances if u.speaker == "therapist")
    with transaction.atomic():
        if SessionTranscript.objects.filter(appointment=appointment).exists():
            raise AttachError("this appointment already has a transcript; delete it first to replace it")
        stored = SessionTranscript.objects.create(
            appointment=appointment,
            client_id=appointment.client_id,
            uploaded_by=by,
            format=chosen,
            text=text,
            utterances_json=SessionTranscript.dump(transcript),
            utterance_count=len(transcript),
            therapist_utterances=therapist,
            client_utterances=len(transcript) - therapist,
        )
        Analysis.objects.create(transcript=stored, client_id=appointment.client_id)
    return stored


def requeue(analysis: Analysis) -> bool:
    """Queue a failed analysis again (a fresh start); return whether it was failed."""
    return bool(
        Analysis.objects.filter(pk=analysis.pk, state=Analysis.State.FAILED).update(
            state=Analysis.State.QUEUED,
            progress=0,
            reason="",
            attempts=0,
            worker="",
            queued_at=timezone.now(),
            started_at=None,
            heartbeat_at=None,
            finished_at=None,
        )
    )


def delete_transcript(transcript: SessionTranscript) -> None:
    """Delete a transcript with its analysis and results (a running worker finds its job gone and stops)."""
    with transaction.atomic():
        Analysis.objects.filter(transcript=transcript).delete()
        transcript.delete()


def record_consent(client: Client, *, given: bool, by: Any) -> SupervisionConsent:
    """Record that ``client`` gave (or withdrew) consent to supervision of their transcripts, by whom and when."""
    with transaction.atomic():
        Client.objects.filter(pk=client.pk).update(consent_supervision=given)
        client.consent_supervision = given
        return SupervisionConsent.objects.create(client=client, given=given, recorded_by=by)
