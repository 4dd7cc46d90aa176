"""Alerts raised from check-ins (with a lifecycle: new, seen, acted on, resolved), the good-news events shown on the
chart, each practice's monitoring settings and its fitted expected-response model.

Alerts and events come from :func:`alliance.monitoring.evaluate` (see ``alerts/service.py``); both carry the
finding's ``dedup_key`` = ``"<client id>:<finding key>"``, unique, so the same event is stored at most once.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from alliance.clinic.crypto import EncryptedTextField
from alliance.clinic.practice.models import Client, Practice, VisibleQuerySet
from alliance.monitoring.evaluate import RuleSettings

__all__ = ["Alert", "Event", "ExpectedResponseFit", "MonitoringSettings"]


class Alert(models.Model):
    """Something the treating therapist should act on; resolving it is the therapist's decision, never automatic."""

    class Kind(models.TextChoices):
        RISK = "risk", "Risk item endorsed"
        DETERIORATION = "deterioration", "Reliable deterioration"
        LOW_ALLIANCE = "low_alliance", "Relationship check-in below cut-off"
        RUPTURE = "rupture", "Possible rupture"
        FLOOR = "floor", "Relationship domain very low"
        SUDDEN_LOSS = "sudden_loss", "Sudden loss (symptoms worse)"
        NOT_ON_TRACK = "not_on_track", "Not on track"
        DROPOUT = "dropout", "Dropout risk"
        PERSPECTIVE_GAP = "perspective_gap", "Client and therapist differ"

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
    # 4 = contact the client today ... 1 = worth a conversation (monitoring.evaluate.KINDS).
    severity = models.PositiveSmallIntegerField(default=2)
    session = models.PositiveIntegerField(null=True, blank=True, help_text="The session the finding is about.")
    message = models.CharField(max_length=300)
    # The numbers behind the message (domain, baseline, expected band...), never answers or free text.
    details = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=20, choices=State.choices, default=State.NEW)
    # What staff wrote they did: free text about the client, encrypted at rest.
    action_taken = EncryptedTextField(blank=True)
    raised_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # One alert per event: "<client id>:<finding key>", e.g. "17:rupture:goals:session-5" (see docs/alerts.md).
    dedup_key = models.CharField(max_length=200, unique=True)

    objects = VisibleQuerySet.as_manager()

    class Meta:
        ordering = ["-raised_at"]
        indexes = [models.Index(fields=["client", "state"])]

    @property
    def is_open(self) -> bool:
        return self.state != self.State.RESOLVED

    @property
    def repaired_at(self) -> int | None:
        """For a rupture: the session at which the score came back within its band (set by the repair event)."""
        value = (self.details or {}).get("repaired_at")
        return int(value) if isinstance(value, int | float) else None

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for {self.client}"


class Event(models.Model):
    """Good news found after a check-in (a repaired rupture, a sudden gain): shown on the chart, never alerting."""

    class Kind(models.TextChoices):
        REPAIR = "repair", "Rupture repaired"
        SUDDEN_GAIN = "sudden_gain", "Sudden gain (symptoms better)"

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="monitoring_events")
    checkin = models.ForeignKey(
        "checkins.CheckIn", on_delete=models.CASCADE, null=True, blank=True, related_name="monitoring_events"
    )
    kind = models.CharField(max_length=30, choices=Kind.choices)
    session = models.PositiveIntegerField(null=True, blank=True)
    message = models.CharField(max_length=300)
    details = models.JSONField(default=dict, blank=True)
    recorded_at = models.DateTimeField(default=timezone.now)
    dedup_key = models.CharField(max_length=200, unique=True)

    objects = VisibleQuerySet.as_manager()

    class Meta:
        ordering = ["recorded_at", "pk"]
        indexes = [models.Index(fields=["client", "kind"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for {self.client}"


class MonitoringSettings(models.Model):
    """Which monitoring rules a practice uses and their thresholds (one row per practice, made with the defaults).

    The risk rule has no switch: a risk item endorsed always raises an alert (docs/alerts.md says why).
    """

    class Criterion(models.TextChoices):
        LENIENT = "lenient", "Lenient: a dip of at least 1 of the client's own SDs"
        STRICT = "strict", "Strict: a dip of at least 2 of the client's own SDs"

    practice = models.OneToOneField(Practice, on_delete=models.CASCADE, related_name="monitoring_settings")
    rupture = models.BooleanField(default=True, help_text="Ruptures (dips in a relationship domain or the total).")
    low_alliance = models.BooleanField(default=True, help_text="The relationship check-in below its cut-off.")
    floor = models.BooleanField(default=True, help_text="A relationship domain at or below the floor.")
    sudden_change = models.BooleanField(default=True, help_text="Sudden gains and losses on the PHQ-9 and GAD-7.")
    not_on_track = models.BooleanField(
        default=True, help_text="Not on track against the expected response of similar clients (PHQ-9)."
    )
    milder_alerts = models.BooleanField(
        default=False,
        help_text="Also alert on the milder levels: amber (slower progress than 3 in 4 similar clients) and a "
        "moderate dropout risk. Red and a high dropout risk always alert; amber is always shown on the client page.",
    )
    dropout = models.BooleanField(default=True, help_text="Dropout risk (missed appointments, a falling alliance).")
    perspective_gap = models.BooleanField(
        default=True, help_text="Client and therapist rating the same session differently."
    )
    criterion = models.CharField(max_length=10, choices=Criterion.choices, default=Criterion.LENIENT)
    between_sd = models.FloatField(
        default=1.0,
        validators=[MinValueValidator(0.0), MaxValueValidator(10.0)],
        help_text="Smallest dip of the relationship total that can count as a rupture (provisional 1.0 of 10).",
    )
    domain_between_sd = models.FloatField(
        default=2.0,
        validators=[MinValueValidator(0.0), MaxValueValidator(10.0)],
        help_text="Smallest dip of one relationship domain that can count as a rupture (provisional 2.0 of 10).",
    )
    repair_window = models.PositiveSmallIntegerField(
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(10)],
        help_text="Sessions within which a return to the usual range counts as a repair.",
    )
    gap_at = models.FloatField(
        default=2.0,
        validators=[MinValueValidator(0.5), MaxValueValidator(10.0)],
        help_text="Client-minus-therapist difference on an item that is flagged (points of 10).",
    )
    floor_at = models.FloatField(
        default=4.0,
        validators=[MinValueValidator(0.0), MaxValueValidator(10.0)],
        help_text="A relationship domain at or below this is flagged (provisional 4 of 10).",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "monitoring settings"
        verbose_name_plural = "monitoring settings"

    @classmethod
    def for_practice(cls, practice_id: int) -> MonitoringSettings:
        """Return the practice's settings, creating them with the defaults the first time."""
        found, _ = cls.objects.get_or_create(practice_id=practice_id)
        return found

    def rules(self) -> RuleSettings:
        """The settings as :class:`alliance.monitoring.evaluate.RuleSettings` (risk always on)."""
        return RuleSettings(
            risk=True,
            rupture=self.rupture,
            cutoff=self.low_alliance,
            floor=self.floor,
            sudden_change=self.sudden_change,
            not_on_track=self.not_on_track,
            dropout=self.dropout,
            perspective_gap=self.perspective_gap,
            criterion="strict" if self.criterion == self.Criterion.STRICT else "lenient",
            between_sd=float(self.between_sd),
            domain_between_sd=float(self.domain_between_sd),
            repair_window=int(self.repair_window),
            gap_at=float(self.gap_at),
            floor_at=float(self.floor_at),
        )

    def __str__(self) -> str:
        return f"monitoring settings of {self.practice}"


class ExpectedResponseFit(models.Model):
    """A practice's expected-response model for one instrument (``alliance-etr/1`` JSON), refitted on demand."""

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="expected_response_fits")
    instrument = models.CharField(max_length=80)
    kind = models.CharField(max_length=20, help_text="empirical, or rational (too little history).")
    document = models.JSONField(help_text="The fitted model as ExpectedResponse.to_json() wrote it.")
    clients = models.PositiveIntegerField(help_text="Episodes with an intake (session 1) score.")
    observations = models.PositiveIntegerField(help_text="Scores of those episodes at any session.")
    sessions = models.PositiveIntegerField(default=0, help_text="Sessions the quantile table covers (0: rational).")
    fitted_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["practice", "instrument"], name="one_expected_response_per_instrument")
        ]

    def __str__(self) -> str:
        return f"{self.instrument} expected response of {self.practice} ({self.kind}, {self.clients} clients)"
