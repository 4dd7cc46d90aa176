"""Session transcripts attached to appointments, their analysis jobs and results, and supervision consent.

What was said is stored encrypted (:class:`~alliance.clinic.crypto.EncryptedTextField`): the uploaded text and the
parsed utterances. Results hold labels, confidences and metrics — indices and numbers, never text.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from alliance.clinic.crypto import EncryptedTextField
from alliance.clinic.practice.access import transcript_filter, treating_filter
from alliance.clinic.practice.models import Appointment, Client
from alliance.transcripts import Transcript, Utterance


class TranscriptQuerySet(models.QuerySet[Any]):
    """Session transcripts; ``visible_to`` is the transcript rule, ``treated_by`` the treating therapist's."""

    client_path = "client"

    def visible_to(self, user: Any) -> TranscriptQuerySet:
        return self.filter(transcript_filter(user, self.client_path))

    def treated_by(self, user: Any) -> TranscriptQuerySet:
        return self.filter(treating_filter(user, self.client_path))


class SessionTranscript(models.Model):
    """What was said in one appointment, as uploaded (encrypted) and parsed (encrypted JSON of utterances)."""

    appointment = models.OneToOneField(Appointment, on_delete=models.CASCADE, related_name="transcript")
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="transcripts")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(default=timezone.now)
    format = models.CharField(max_length=10)
    text = EncryptedTextField(help_text="The uploaded file as text (encrypted at rest).")
    utterances_json = EncryptedTextField(help_text="Parsed utterances: speaker, text, start, end (encrypted).")
    utterance_count = models.PositiveIntegerField()
    therapist_utterances = models.PositiveIntegerField()
    client_utterances = models.PositiveIntegerField()

    objects = TranscriptQuerySet.as_manager()

    def __str__(self) -> str:
        return f"transcript of {self.appointment}"

    def transcript(self) -> Transcript:
        """Return the parsed utterances as a :class:`~alliance.transcripts.Transcript` (unlabelled)."""
        rows = json.loads(self.utterances_json)
        return Transcript(
            utterances=tuple(
                Utterance(
                    index=int(row["index"]),
                    speaker=row["speaker"],
                    text=row["text"],
                    start=row.get("start"),
                    end=row.get("end"),
                )
                for row in rows
            )
        )

    @staticmethod
    def dump(transcript: Transcript) -> str:
        """Serialise the utterances of ``transcript`` for :attr:`utterances_json` (labels are not kept here)."""
        return json.dumps(
            [
                {"index": u.index, "speaker": u.speaker, "text": u.text, "start": u.start, "end": u.end}
                for u in transcript.utterances
            ],
            ensure_ascii=False,
        )


class Analysis(models.Model):
    """The background analysis of one transcript: queued → running (progress) → done | failed, and its results."""

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    transcript = models.OneToOneField(SessionTranscript, on_delete=models.CASCADE, related_name="analysis")
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="+")
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED, db_index=True)
    progress = models.PositiveSmallIntegerField(default=0, help_text="Percent of utterances labelled.")
    reason = models.CharField(max_length=500, blank=True, help_text="Why it failed (never transcript text).")
    attempts = models.PositiveSmallIntegerField(default=0)
    worker = models.CharField(max_length=100, blank=True, help_text="host:pid of the worker that holds it.")
    queued_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    labeller = models.CharField(max_length=200, blank=True, help_text="Which labeller made the labels.")
    predictions = models.JSONField(
        default=list, help_text="One {index, speaker, label, sublabel, confidence} per utterance (no text)."
    )
    report = models.JSONField(default=dict, help_text="SkillReport.to_dict(): counts, rates, indices (no text).")

    objects = TranscriptQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["state", "queued_at"])]

    def __str__(self) -> str:
        return f"analysis of {self.transcript_id}: {self.state}"


class SupervisionConsent(models.Model):
    """One recorded change of a client's consent to supervision of their transcripts (the history; the current
    state is ``Client.consent_supervision``, which the access rule reads)."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="supervision_consents")
    given = models.BooleanField(help_text="True: consent given; False: withdrawn.")
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["recorded_at", "pk"]

    def __str__(self) -> str:
        return f"supervision consent {'given' if self.given else 'withdrawn'} for {self.client}"
