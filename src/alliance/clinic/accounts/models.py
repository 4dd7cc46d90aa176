"""Staff users (therapists, supervisors, practice admins) and their API tokens."""

from __future__ import annotations

import hashlib
import secrets
from typing import ClassVar

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models


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
