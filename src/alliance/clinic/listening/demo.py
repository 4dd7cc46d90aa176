"""The demo's session transcript: our own sample MI conversation attached to one of ana's sessions and analysed."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

from alliance.clinic.accounts.models import User
from alliance.clinic.checkins.models import CheckIn
from alliance.clinic.listening.models import Analysis, SessionTranscript
from alliance.clinic.listening.service import attach
from alliance.clinic.listening.worker import LabellerUnavailableError, claim, load_default_labeller, run_job
from alliance.clinic.practice.models import Appointment, Practice

__all__ = ["SAMPLE", "DemoTranscript", "attach_demo_transcript", "sample_text"]

SAMPLE = "walking-session.txt"


@dataclass(frozen=True)
class DemoTranscript:
    transcript: SessionTranscript | None
    state: str  # done | queued | failed | none (no fitting appointment)
    note: str = ""


def sample_text() -> str:
    """The shipped sample transcript (original text written for this project; T:/C: prefixes)."""
    return (resources.files("alliance.transcripts") / "samples" / SAMPLE).read_text(encoding="utf-8")


def attach_demo_transcript(practice: Practice, *, therapist: str = "ana", analyse: bool = True) -> DemoTranscript:
    """Attach the sample to the latest attended session of ``therapist``'s first client that has a relationship
    check-in (once: an existing demo transcript is returned), and analyse it now when the labeller is available."""
    user = User.objects.filter(practice=practice, username=therapist).first()
    if user is None:
        return DemoTranscript(None, "none", f"no user {therapist!r} in the practice")
    existing = SessionTranscript.objects.filter(client__practice=practice, uploaded_by=user).first()
    if existing is None:
        with_checkin = CheckIn.objects.filter(
            client__therapist=user, instrument="alliance-client", appointment__status=Appointment.Status.ATTENDED
        ).order_by("client__code", "-appointment__starts_at")
        checkin = with_checkin.select_related("appointment").first()
        if checkin is None or checkin.appointment is None:
            return DemoTranscript(None, "none", "no attended session with a check-in")
        existing = attach(checkin.appointment, sample_text(), by=user, file_name=SAMPLE)
    analysis = Analysis.objects.get(transcript=existing)
    if analyse and analysis.state == Analysis.State.QUEUED:
        job = claim("demo", only=analysis.pk)
        if job is not None:
            try:
                labeller = load_default_labeller()
            except LabellerUnavailableError as exc:
                Analysis.objects.filter(pk=job.pk).update(state=Analysis.State.QUEUED, worker="", attempts=0)
                return DemoTranscript(existing, "queued", str(exc))
            run_job(job, lambda: labeller, worker="demo")
        analysis.refresh_from_db()
    return DemoTranscript(existing, analysis.state, analysis.reason)
