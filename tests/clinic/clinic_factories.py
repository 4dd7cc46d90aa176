"""Answer builders for clinic tests (import as ``from clinic_factories import ...``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

MakeClient = Callable[..., Any]
PASSWORD = "correct-horse-battery-staple"  # every member of the test cast


def phq9(total_per_item: int, *, item9: int = 0) -> dict[str, int]:
    """PHQ-9 answers with every item at ``total_per_item`` and item 9 at ``item9``."""
    answers = {f"phq9_{i}": total_per_item for i in range(1, 9)}
    answers["phq9_9"] = item9
    return answers


def gad7(per_item: int) -> dict[str, int]:
    return {f"gad7_{i}": per_item for i in range(1, 8)}


ALLIANCE_ITEMS = ("bond", "understood", "respect", "goals", "tasks", "culture", "safety", "overall")


def alliance(value: int, **overrides: int) -> dict[str, int]:
    """Relationship check-in answers: every item at ``value`` unless overridden."""
    return {item: overrides.get(item, value) for item in ALLIANCE_ITEMS}


# A fixed authenticator key for tests (base32 of "12345678901234567890", the RFC 6238 SHA-1 seed).
TOTP_SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"


def give_authenticator(user: Any, secret: str = TOTP_SECRET) -> Any:
    """Give ``user`` a confirmed authenticator with ``secret``; return the device."""
    from django.utils import timezone

    from alliance.clinic.accounts.models import TotpDevice

    return TotpDevice.objects.create(user=user, secret=secret, confirmed_at=timezone.now())


def code_now(secret: str = TOTP_SECRET, *, at: float | None = None) -> str:
    """The code an authenticator app with ``secret`` shows at ``at`` (now by default)."""
    import time

    from alliance.clinic.accounts.totp import decode_secret, totp

    return totp(decode_secret(secret), time.time() if at is None else at)
