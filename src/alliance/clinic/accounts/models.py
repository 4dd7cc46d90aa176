"""Staff users (therapists, supervisors, practice admins), their API tokens, authenticators and failed log-ins."""

from __future__ import annotations

import hashlib
import secrets
from typing import ClassVar

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.utils import timezone

from alliance.clinic.crypto import EncryptedTextField


class Role(models.TextChoices):
    THERAPIST = "therapist", "Therapist"
    SUPERVISOR = "supervisor", "Supervisor"
    ADMIN = "admin", "Practice admin"


class User(AbstractUser):
    """A member of staff. Clients never have accounts: they answer through one-time links."""

    role = models.CharField(max_length=20, choices=Role.choices, default=Role.THERAPIST)
    practice = models.ForeignKey("practice.Practice", on_delete=models.PROTECT, null=True, blank=True)
    team = models.ForeignKey("practice.Team", on_delete=models.SET_NULL, null=True, blank=True, related_name="members")

    objects: ClassVar[UserManager[User]] = UserManager()  # type: ignore[assignment]

    @property
    def is_therapist(self) -> bool:
        return self.role == Role.THERAPIST

    @property
    def is_supervisor(self) -> bool:
        return self.role == Role.SUPERVISOR

    @property
    def is_practice_admin(self) -> bool:
        return self.role == Role.ADMIN

    def __str__(self) -> str:
        return self.get_full_name() or self.username


def hash_token(token: str) -> str:
    """Return the stored form of a secret token (SHA-256: tokens are random, so no slow hash is needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


class ApiToken(models.Model):
    """A bearer token for the API; only its hash is stored."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    @classmethod
    def issue(cls, user: User, *, name: str = "") -> tuple[ApiToken, str]:
        """Create a token for ``user``; return it and the secret (shown once, never stored)."""
        secret = "alc_" + secrets.token_urlsafe(32)
        return cls.objects.create(user=user, name=name, token_hash=hash_token(secret)), secret

    def __str__(self) -> str:
        return f"token {self.pk} of {self.user}"


class TotpDevice(models.Model):
    """A member of staff's authenticator app (RFC 6238 TOTP): its secret and the last time step it was used at."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="totp_device")
    # Base32; shown once at enrolment (QR code and text); encrypted at rest (alliance.clinic.crypto).
    secret = EncryptedTextField()
    created_at = models.DateTimeField(auto_now_add=True)
    confirmed_at = models.DateTimeField(null=True, blank=True, help_text="Set when the first code was right.")
    # A code is good once: steps at or before this one are refused (replay).
    last_step = models.BigIntegerField(null=True, blank=True)

    @property
    def confirmed(self) -> bool:
        return self.confirmed_at is not None

    def __str__(self) -> str:
        return f"authenticator of {self.user}"


class RecoveryCode(models.Model):
    """A single-use code for when the authenticator is lost; only its SHA-256 is stored."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="recovery_codes")
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "code_hash"], name="recovery_code_unique_per_user")]

    def __str__(self) -> str:
        return f"recovery code {self.pk} of {self.user}"


class LoginFailure(models.Model):
    """One failed attempt counted against a scope (an account, an address): lockouts are counted from these rows.

    Kept in the database so that every server process sees the same counts. ``scope`` is a SHA-256 of
    ``"<kind>:<value>"`` (a mistyped password in the username field is never stored as typed).
    """

    scope = models.CharField(max_length=64)
    kind = models.CharField(max_length=20, help_text="password, code, kiosk, api-token or checkin-link")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["scope", "at"]), models.Index(fields=["at"])]

    def __str__(self) -> str:
        return f"{self.kind} failure at {self.at:%Y-%m-%d %H:%M:%S}"
