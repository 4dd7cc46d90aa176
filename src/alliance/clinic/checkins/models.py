"""Check-ins (one scored administration each) and the one-time links clients answer through."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from alliance.clinic.practice.models import Appointment, Client, Episode, VisibleQuerySet


class CheckIn(models.Model):
    """One administration of one instrument, with its answers and scores as computed at submission."""

    class Respondent(models.TextChoices):
        CLIENT = "client", "Client"
        THERAPIST = "therapist", "Therapist (mirror form)"

    class Source(models.TextChoices):
        LINK = "link", "One-time link"
        KIOSK = "kiosk", "Clinic tablet (kiosk)"
        API = "api", "API"
        STAFF = "staff", "Entered by staff"
        IMPORT = "import", "Imported"

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="checkins")
    episode = models.ForeignKey(Episode, on_delete=models.CASCADE, related_name="checkins")
    appointment = models.ForeignKey(
        Appointment, on_delete=models.SET_NULL, null=True, blank=True, related_name="checkins"
    )
    instrument = models.CharField(max_length=80)
    instrument_version = models.CharField(max_length=40)
    respondent = models.CharField(max_length=20, choices=Respondent.choices, default=Respondent.CLIENT)
    language = models.CharField(max_length=5, default="en")
    answers = models.JSONField(help_text="{item id: value or null}")
    total = models.FloatField(null=True, blank=True)
    subscales = models.JSONField(default=dict)
    severity = models.CharField(max_length=40, blank=True)
    risk = models.BooleanField(default=False)
    status = models.CharField(max_length=20)  # ok | prorated | insufficient
    source = models.CharField(max_length=20, choices=Source.choices)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    submitted_at = models.DateTimeField(default=timezone.now)
    idempotency_key = models.CharField(max_length=200, null=True, blank=True, unique=True)

    objects = VisibleQuerySet.as_manager()

    class Meta:
        ordering = ["submitted_at", "pk"]
        indexes = [
            models.Index(fields=["client", "instrument", "submitted_at"]),
            models.Index(fields=["episode", "submitted_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.instrument} of {self.client} at {self.submitted_at:%Y-%m-%d %H:%M}"


class CheckinLink(models.Model):
    """A one-time, expiring link; only the hash of its secret is stored.

    A session link belongs to one appointment (start -> end -> done); a follow-up link (the support tool's
    questionnaire, sent between sessions) belongs to no appointment and has one stage (followup -> done).
    """

    class Purpose(models.TextChoices):
        SESSION = "session", "Session check-in"
        FOLLOWUP = "followup", "Follow-up questionnaire (support tool)"

    class Stage(models.TextChoices):
        START = "start", "Outcome measures (start of session)"
        END = "end", "Relationship check-in (end of session)"
        FOLLOWUP = "followup", "Follow-up questionnaire"
        DONE = "done", "Completed"

    appointment = models.ForeignKey(
        Appointment, on_delete=models.CASCADE, null=True, blank=True, related_name="checkin_links"
    )
    purpose = models.CharField(max_length=10, choices=Purpose.choices, default=Purpose.SESSION)
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="checkin_links")
    token_hash = models.CharField(max_length=64, unique=True)
    kiosk = models.BooleanField(default=False)
    stage = models.CharField(max_length=10, choices=Stage.choices, default=Stage.START)
    language = models.CharField(max_length=5, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    # A newer link for the same appointment replaces this one (the client then sees "no longer valid").
    superseded_at = models.DateTimeField(null=True, blank=True)
    # The start stage endorsed a risk item: the client is shown the practice's safety message before going on.
    start_risk = models.BooleanField(default=False)

    objects = VisibleQuerySet.as_manager()

    @property
    def is_superseded(self) -> bool:
        return self.superseded_at is not None

    @property
    def is_expired(self) -> bool:
        return timezone.now() >= self.expires_at

    @property
    def is_used(self) -> bool:
        return self.used_at is not None

    def __str__(self) -> str:
        if self.purpose == self.Purpose.FOLLOWUP:
            return f"follow-up link for {self.client}"
        return f"check-in link for {self.appointment}"
