"""RFC 6238 TOTP and RFC 4226 HOTP against the published test vectors (RFC 6238 Appendix B, RFC 4226 Appendix D)."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, urlparse

import pytest

from alliance.clinic.accounts.totp import (
    decode_secret,
    hotp,
    matching_step,
    new_secret,
    provisioning_uri,
    time_step,
    totp,
)

SEEDS = {
    "SHA1": b"12345678901234567890",
    "SHA256": b"12345678901234567890123456789012",
    "SHA512": b"1234567890123456789012345678901234567890123456789012345678901234",
}
# RFC 6238 Appendix B: (Unix time, T as hex, TOTP for SHA-1, SHA-256, SHA-512), 8 digits, X = 30 s.
APPENDIX_B = [
    (59, "0000000000000001", "94287082", "46119246", "90693936"),
    (1111111109, "00000000023523EC", "07081804", "68084774", "25091201"),
    (1111111111, "00000000023523ED", "14050471", "67062674", "99943326"),
    (1234567890, "000000000273EF07", "89005924", "91819424", "93441116"),
    (2000000000, "0000000003F940AA", "69279037", "90698825", "38618901"),
    (20000000000, "0000000027BC86AA", "65353130", "77737706", "47863826"),
]
# RFC 4226 Appendix D: HOTP of counters 0..9 with the SHA-1 seed, 6 digits.
APPENDIX_D = ["755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"]


@pytest.mark.parametrize(("at", "step_hex", "sha1", "sha256", "sha512"), APPENDIX_B)
def test_rfc6238_appendix_b(at: int, step_hex: str, sha1: str, sha256: str, sha512: str) -> None:
    assert time_step(at) == int(step_hex, 16)
    assert totp(SEEDS["SHA1"], at, digits=8, algorithm="SHA1") == sha1
    assert totp(SEEDS["SHA256"], at, digits=8, algorithm="SHA256") == sha256
    assert totp(SEEDS["SHA512"], at, digits=8, algorithm="SHA512") == sha512


def test_rfc4226_appendix_d() -> None:
    assert [hotp(SEEDS["SHA1"], counter) for counter in range(10)] == APPENDIX_D


def test_the_six_digit_code_is_the_last_six_of_the_eight() -> None:
    # Same dynamic truncation, modulo 10^6: RFC 6238's 1111111109 vector 07081804 gives 081804.
    assert totp(SEEDS["SHA1"], 1111111109) == "081804"


def test_a_code_matches_its_step_and_one_step_either_side_only() -> None:
    at = 1111111111.0  # step 0x23523ED
    step = time_step(at)
    for offset, expected in [(-2, None), (-1, step - 1), (0, step), (1, step + 1), (2, None)]:
        code = hotp(SEEDS["SHA1"], step + offset)
        assert matching_step(SEEDS["SHA1"], code, at) == expected, offset


def test_steps_already_used_never_match() -> None:
    at = 1234567890.0
    step = time_step(at)
    code = hotp(SEEDS["SHA1"], step)
    assert matching_step(SEEDS["SHA1"], code, at, after=step - 1) == step
    assert matching_step(SEEDS["SHA1"], code, at, after=step) is None  # replay
    older = hotp(SEEDS["SHA1"], step - 1)
    assert matching_step(SEEDS["SHA1"], older, at, after=step) is None  # an older code after a newer one


@pytest.mark.parametrize("code", ["", "12345", "1234567", "12a456", "      "])
def test_malformed_codes_never_match(code: str) -> None:
    assert matching_step(SEEDS["SHA1"], code, 59.0) is None


def test_secrets_are_160_random_bits_in_base32() -> None:
    first, second = new_secret(), new_secret()
    assert first != second and len(first) == 32
    assert len(decode_secret(first)) == 20
    assert decode_secret("gezd gnbv gy3t qojq gezd gnbv gy3t qojq") == SEEDS["SHA1"]  # spaces and case forgiven
    with pytest.raises(ValueError):
        decode_secret("not base32!")


def test_the_provisioning_address_is_what_authenticator_apps_read() -> None:
    secret = base64.b32encode(SEEDS["SHA1"]).decode()
    address = urlparse(provisioning_uri(secret, account="ana", issuer="alliance"))
    assert (address.scheme, address.netloc, address.path) == ("otpauth", "totp", "/alliance%3Aana")
    assert parse_qs(address.query) == {
        "secret": [secret],
        "issuer": ["alliance"],
        "algorithm": ["SHA1"],
        "digits": ["6"],
        "period": ["30"],
    }
