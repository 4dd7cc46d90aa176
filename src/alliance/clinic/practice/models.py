"""Practices, teams, clients (pseudonymous; identity kept apart), episodes and appointments."""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.db import models

from alliance.clinic.crypto import EncryptedTextField
from alliance.clinic.encrypted import EncryptedDateField
from alliance.clinic.practice.access import client_filter


class VisibleQuerySet(models.QuerySet[Any]):
    """A queryset whose rows belong to a client; ``visible_to`` keeps those the user may see."""

    client_path = "client"

    def visible_to(self, user: Any) -> VisibleQuerySet:
        return self.filter(client_filter(user, self.client_path))


class Practice(models.Model):
    name = models.CharField(max_length=200)
    # Shown to a client whose PHQ-9 item 9 is above 0: the practice's own crisis contacts.
    crisis_message_en = models.TextField(
        default="If you are thinking about harming yourself, please tell your therapist today. If you are in danger "
        "now, call your local emergency number."
    )
    crisis_message_es = models.TextField(
        default="Si está pensando en hacerse daño, por favor dígaselo hoy a su terapeuta. Si está en peligro ahora, "
        "llame al número de emergencias de su zona."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class Team(models.Model):
    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="teams")
    name = models.CharField(max_length=200)
    supervisor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="supervised_teams"
    )

    def __str__(self) -> str:
        return self.name


class ClientQuerySet(VisibleQuerySet):
    client_path = ""


class Client(models.Model):
    """A client by pseudonymous code; scores hang off this, identity lives in ``ClientIdentity``."""

    class Language(models.TextChoices):
        EN = "en", "English"
        ES = "es", "Español"

    practice = models.ForeignKey(Practice, on_delete=models.PROTECT, related_name="clients")
    therapist = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="clients")
    code = models.CharField(max_length=40, help_text="Pseudonymous code shown on screens and exports.")
    language = models.CharField(max_length=5, choices=Language.choices, default=Language.EN)
    consent_supervision = models.BooleanField(
        default=False, help_text="The client agreed that the supervisor may see session transcripts."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Set when the practice erased what identifies the client (alliance.clinic.rights): the scores stay, de-identified.
    erased_at = models.DateTimeField(null=True, blank=True)

    objects = ClientQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["practice", "code"], name="client_code_unique_in_practice")]
        indexes = [models.Index(fields=["therapist", "code"])]
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class ClientIdentity(models.Model):
    """Name and contact details, apart from scores (shown only where needed; never in exports).

    Every field is encrypted at rest (``alliance.clinic.crypto``): the database holds Fernet tokens only, so these
    columns cannot be searched in SQL.
    """

    client = models.OneToOneField(Client, on_delete=models.CASCADE, related_name="identity")
    name = EncryptedTextField()
    email = EncryptedTextField(blank=True)
    phone = EncryptedTextField(blank=True)
    date_of_birth = EncryptedDateField(null=True, blank=True)

    objects = VisibleQuerySet.as_manager()

    def __str__(self) -> str:
        return f"identity of {self.client}"


class Episode(models.Model):
    """One course of treatment."""

    class Ending(models.TextChoices):
        ONGOING = "", "Ongoing"
        COMPLETED = "completed", "Completed"
        DROPPED_OUT = "dropped_out", "Dropped out (unplanned)"
        REFERRED_ON = "referred_on", "Referred on"

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="episodes")
    therapist = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="episodes")
    opened_on = models.DateField()
    closed_on = models.DateField(null=True, blank=True)
    ending = models.CharField(max_length=20, choices=Ending.choices, blank=True, default=Ending.ONGOING)

    objects = VisibleQuerySet.as_manager()

    class Meta:
        ordering = ["opened_on"]

    def __str__(self) -> str:
        return f"episode of {self.client} from {self.opened_on}"


class Appointment(models.Model):
    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        ATTENDED = "attended", "Attended"
        DID_NOT_ATTEND = "did_not_attend", "Did not attend"
        CANCELLED = "cancelled", "Cancelled"

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="appointments")
    episode = models.ForeignKey(Episode, on_delete=models.CASCADE, related_name="appointments")
    therapist = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="appointments")
    starts_at = models.DateTimeField()
    session_number = models.PositiveIntegerField(help_text="1 = the first (intake) session of the episode.")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.SCHEDULED)

    objects = VisibleQuerySet.as_manager()

    class Meta:
        ordering = ["starts_at"]
        indexes = [models.Index(fields=["client", "starts_at"])]

    def __str__(self) -> str:
        return f"{self.client} session {self.session_number}"


def new_client_code() -> str:
    """Return a fresh pseudonymous client code (no name, no date of birth in it)."""
    return "C-" + secrets.token_hex(3).upper()
