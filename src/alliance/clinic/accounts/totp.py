"""Time-based one-time passwords (RFC 6238 over RFC 4226 HOTP) with the standard library only.

Authenticator apps use SHA-1, 6 digits and 30-second steps (the defaults here); the other algorithms and 8 digits
are there so the RFC 6238 Appendix B test vectors can be checked. Secrets travel as unpadded base32 (the form apps
accept in ``otpauth://`` links and typed by hand).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
from urllib.parse import quote, urlencode

__all__ = [
    "DIGITS",
    "STEP_SECONDS",
    "WINDOW",
    "decode_secret",
    "hotp",
    "matching_step",
    "new_secret",
    "provisioning_uri",
    "time_step",
    "totp",
]

STEP_SECONDS = 30
DIGITS = 6
# Codes of the step before and the step after are accepted too (a clock off by up to 30 seconds, a slow typist).
WINDOW = 1
_SECRET_BYTES = 20  # 160 bits, the HMAC-SHA-1 block the RFC recommends
_ALGORITHMS = {"SHA1": hashlib.sha1, "SHA256": hashlib.sha256, "SHA512": hashlib.sha512}


def new_secret() -> str:
    """Return a fresh random secret as unpadded base32 (32 characters for 160 bits)."""
    return base64.b32encode(secrets.token_bytes(_SECRET_BYTES)).decode("ascii").rstrip("=")


def decode_secret(secret: str) -> bytes:
    """Return the key bytes of a base32 secret (spaces, case and missing padding forgiven); ValueError if bad."""
    cleaned = secret.replace(" ", "").replace("-", "").upper()
    if not cleaned:
        raise ValueError("empty secret")
    padded = cleaned + "=" * (-len(cleaned) % 8)
    try:
        return base64.b32decode(padded)
    except ValueError as exc:  # binascii.Error is a ValueError
        raise ValueError("not a base32 secret") from exc


def hotp(key: bytes, counter: int, *, digits: int = DIGITS, algorithm: str = "SHA1") -> str:
    """Return the RFC 4226 HOTP value of ``counter`` under ``key`` as a zero-padded string of ``digits``."""
    digest = hmac.new(key, struct.pack(">Q", counter), _ALGORITHMS[algorithm]).digest()
    offset = digest[-1] & 0x0F
    binary = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(binary % 10**digits).zfill(digits)


def time_step(at: float, *, step: int = STEP_SECONDS) -> int:
    """Return the RFC 6238 time counter T of the Unix time ``at`` (T0 = 0)."""
    return int(at // step)


def totp(key: bytes, at: float, *, digits: int = DIGITS, algorithm: str = "SHA1", step: int = STEP_SECONDS) -> str:
    """Return the TOTP value at Unix time ``at``."""
    return hotp(key, time_step(at, step=step), digits=digits, algorithm=algorithm)


def matching_step(key: bytes, code: str, at: float, *, window: int = WINDOW, after: int | None = None) -> int | None:
    """Return the time step whose code ``code`` is (within ``window`` steps of ``at``), or None.

    Steps at or before ``after`` (the last step already used) never match: a code is good once.
    Every candidate is compared in constant time.
    """
    code = code.strip().replace(" ", "")
    if len(code) != DIGITS or not code.isdigit():
        return None
    now = time_step(at)
    found: int | None = None
    for candidate in range(now - window, now + window + 1):
        if after is not None and candidate <= after:
            continue
        if hmac.compare_digest(hotp(key, candidate), code) and found is None:
            found = candidate
    return found


def provisioning_uri(secret: str, *, account: str, issuer: str) -> str:
    """Return the ``otpauth://totp/...`` address an authenticator app reads from a QR code."""
    label = quote(f"{issuer}:{account}", safe="")
    query = urlencode(
        {"secret": secret, "issuer": issuer, "algorithm": "SHA1", "digits": DIGITS, "period": STEP_SECONDS}
    )
    return f"otpauth://totp/{label}?{query}"
