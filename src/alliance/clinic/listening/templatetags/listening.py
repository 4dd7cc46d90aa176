"""``{% transcripts_panel client user as listening %}``: the client page's transcripts panel.

Transcripts are listed only to those the transcript rule lets see them; the treating therapist also gets the upload
links and the consent switch. One query for the appointments with their transcripts and analyses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import template

from alliance.clinic.listening.models import Analysis, SessionTranscript, SupervisionConsent
from alliance.clinic.practice.models import Appointment, Client

register = template.Library()

SHOWN = 12  # latest attended appointments listed


@dataclass(frozen=True)
class PanelRow:
    appointment_id: int
    session: int
    starts_at: Any
    transcript_id: int | None
    state: str  # "", queued, running, done, failed
    state_label: str
    progress: int


@dataclass(frozen=True)
class Panel:
    treating: bool
    sees_transcripts: bool
    consent: bool
    consent_entry: SupervisionConsent | None
    rows: tuple[PanelRow, ...]


@register.simple_tag(name="transcripts_panel")
def transcripts_panel(client: Client, user: Any) -> Panel | None:
    """Return the panel as ``user`` sees it, or None when they see no transcripts and cannot add any."""
    treating = client.therapist_id == getattr(user, "pk", None)
    sees = treating or SessionTranscript.objects.visible_to(user).filter(client=client).exists()
    if not sees and getattr(user, "role", None) != "supervisor":
        return None  # a practice admin: nothing about transcripts
    rows: tuple[PanelRow, ...] = ()
    if sees:
        visible = {
            t.appointment_id: t
            for t in SessionTranscript.objects.visible_to(user)
            .filter(client=client)
            .select_related("analysis")
            .only("pk", "appointment_id", "analysis__state", "analysis__progress")
        }
        appointments = Appointment.objects.filter(client=client, status=Appointment.Status.ATTENDED).order_by(
            "-starts_at"
        )[:SHOWN]
        rows = tuple(_row(a, visible.get(a.pk)) for a in appointments if treating or a.pk in visible)
    latest = SupervisionConsent.objects.filter(client=client).order_by("-recorded_at", "-pk").first()
    return Panel(treating, sees, client.consent_supervision, latest, rows)


def _row(appointment: Appointment, stored: SessionTranscript | None) -> PanelRow:
    analysis: Analysis | None = getattr(stored, "analysis", None) if stored is not None else None
    state = analysis.state if analysis is not None else ""
    label = analysis.get_state_display() if analysis is not None else ""
    return PanelRow(
        appointment.pk,
        appointment.session_number,
        appointment.starts_at,
        stored.pk if stored is not None else None,
        state,
        label,
        analysis.progress if analysis is not None else 0,
    )
