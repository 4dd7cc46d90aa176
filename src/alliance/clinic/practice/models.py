"""Practices, teams, clients (pseudonymous; identity kept apart), episodes and appointments."""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from alliance.clinic.crypto import EncryptedTextField
from alliance.clinic.encrypted import EncryptedDateField
from alliance.clinic.practice.access import client_filter

# NHS Data Dictionary "Ethnic category" (2001 census groups): the code letter and its name; Z = not stated.
ETHNICITY_CHOICES = [
    ("A", "White: British"),
    ("B", "White: Irish"),
    ("C", "White: any other White background"),
    ("D", "Mixed: White and Black Caribbean"),
    ("E", "Mixed: White and Black African"),
    ("F", "Mixed: White and Asian"),
    ("G", "Mixed: any other mixed background"),
    ("H", "Asian or Asian British: Indian"),
    ("J", "Asian or Asian British: Pakistani"),
    ("K", "Asian or Asian British: Bangladeshi"),
    ("L", "Asian or Asian British: any other Asian background"),
    ("M", "Black or Black British: Caribbean"),
    ("N", "Black or Black British: African"),
    ("P", "Black or Black British: any other Black background"),
    ("R", "Other ethnic groups: Chinese"),
    ("S", "Other ethnic groups: any other ethnic group"),
    ("Z", "Not stated"),
]


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

    class Gender(models.TextChoices):
        FEMALE = "female", "Female"
        MALE = "male", "Male"
        OTHER = "other", "Other"
        NOT_STATED = "not_stated", "Not stated"

    practice = models.ForeignKey(Practice, on_delete=models.PROTECT, related_name="clients")
    therapist = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="clients")
    code = models.CharField(max_length=40, help_text="Pseudonymous code shown on screens and exports.")
    language = models.CharField(max_length=5, choices=Language.choices, default=Language.EN)
    consent_supervision = models.BooleanField(
        default=False, help_text="The client agreed that the supervisor may see session transcripts."
    )
    # Client-reported groups for the equity analysis (docs/analytics-data.md); "not stated" unless the client says.
    ethnicity = models.CharField(
        max_length=1,
        choices=ETHNICITY_CHOICES,
        default="Z",
        help_text="NHS ethnic category (Data Dictionary), as the client reports it.",
    )
    gender = models.CharField(max_length=12, choices=Gender.choices, default=Gender.NOT_STATED)
    deprivation = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(5)],
        help_text="IMD quintile of the home postcode (1 = most deprived; blank: unknown). The postcode is not kept.",
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
    referral_date = models.DateField(
        null=True, blank=True, help_text="Date of the referral (blank: taken as the day the episode opened)."
    )
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
