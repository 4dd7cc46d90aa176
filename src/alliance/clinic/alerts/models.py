"""Alerts raised from check-ins, with a lifecycle: new, seen, acted on, resolved."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from alliance.clinic.practice.models import Client, VisibleQuerySet


class Alert(models.Model):
    class Kind(models.TextChoices):
        RISK = "risk", "Risk item endorsed"
        DETERIORATION = "deterioration", "Reliable deterioration"
        LOW_ALLIANCE = "low_alliance", "Relationship check-in below cut-off"

    class State(models.TextChoices):
        NEW = "new", "New"
        SEEN = "seen", "Seen"
        ACTED = "acted", "Acted on"
        RESOLVED = "resolved", "Resolved"

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="alerts")
    checkin = models.ForeignKey(
        "checkins.CheckIn", on_delete=models.CASCADE, null=True, blank=True, related_name="alerts"
    )
    kind = models.CharField(max_length=30, choices=Kind.choices)
    message = models.CharField(max_length=300)
    state = models.CharField(max_length=20, choices=State.choices, default=State.NEW)
    action_taken = models.TextField(blank=True)
    raised_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # One alert per event: the same rule on the same check-in never raises twice.
    dedup_key = models.CharField(max_length=200, unique=True)

    objects = VisibleQuerySet.as_manager()

    class Meta:
        ordering = ["-raised_at"]
        indexes = [models.Index(fields=["client", "state"])]

    @property
    def is_open(self) -> bool:
        return self.state != self.State.RESOLVED

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for {self.client}"
