"""Encryption at rest: Fernet tokens in the database, keys from the settings, rotation without downtime.

``settings.ALLIANCE_ENCRYPTION_KEYS`` lists url-safe base64 Fernet keys (docs/encryption.md): the first encrypts,
every one decrypts (``MultiFernet``). To rotate, put a new key first and keep the old one after it, run
``alliance keys rotate`` (re-encrypts every stored value with the first key), then drop the old key.

A Fernet token is AES-128-CBC with a random IV plus HMAC-SHA256 over it (encrypt-then-MAC): the same text encrypts to
a different token each time, so an encrypted column cannot be searched or compared in SQL; tampering is detected.
Nothing here logs or puts plaintext into an error message.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.apps import apps
from django.conf import settings
from django.db import connections, models, transaction

from alliance.errors import AllianceError

__all__ = [
    "DecryptionError",
    "EncryptedTextField",
    "Rotated",
    "decrypt",
    "encrypt",
    "encrypted_fields",
    "generate_key",
    "rotate",
]


class DecryptionError(AllianceError):
    """A stored value cannot be decrypted with any configured key (never carries the value)."""


def generate_key() -> str:
    """Return a new random Fernet key (32 bytes, url-safe base64) as text."""
    return Fernet.generate_key().decode("ascii")


@lru_cache(maxsize=8)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode("ascii")) for key in keys])


def _current() -> MultiFernet:
    keys = tuple(settings.ALLIANCE_ENCRYPTION_KEYS)
    if not keys:
        raise DecryptionError("no encryption key configured (ALLIANCE_ENCRYPTION_KEYS)")
    return _fernet(keys)


def encrypt(text: str) -> str:
    """Return the Fernet token of ``text`` under the first configured key."""
    return _current().encrypt(text.encode("utf-8")).decode("ascii")


def decrypt(token: str, *, what: str = "a stored value") -> str:
    """Return the text inside ``token``; ``DecryptionError`` when no configured key opens it (or it was altered)."""
    try:
        return _current().decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeError):
        raise DecryptionError(
            f"cannot decrypt {what} with the configured encryption keys (ALLIANCE_ENCRYPTION_KEYS): the key that "
            "encrypted it is missing (was an old key removed before `alliance keys rotate` ran?) or the value was "
            "altered"
        ) from None


if TYPE_CHECKING:
    _TextField = models.TextField[Any, Any]
else:  # django-stubs makes fields generic for the type checker only
    _TextField = models.TextField


class EncryptedTextField(_TextField):
    """A text column stored as a Fernet token and decrypted on read.

    The plaintext exists only on the Python object: the database, its backups and its logs hold the token. The
    column cannot be filtered on its content (each token is different); only ``isnull`` and empty checks make sense.
    """

    description = "Text encrypted at rest (Fernet)"

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None:
            return None
        return encrypt(str(value))

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value is None:
            return None
        return decrypt(str(value), what=f"{self.model._meta.label}.{self.name}")

    def deconstruct(self) -> Any:
        name, _, args, kwargs = super().deconstruct()
        return name, "alliance.clinic.crypto.EncryptedTextField", args, kwargs


def encrypted_fields() -> Iterator[tuple[type[models.Model], list[EncryptedTextField]]]:
    """Yield every installed model that has encrypted fields, with those fields."""
    for model in apps.get_models():
        found = [field for field in model._meta.concrete_fields if isinstance(field, EncryptedTextField)]
        if found:
            yield model, found


@dataclass(frozen=True)
class Rotated:
    """What ``rotate`` did to one model: rows seen and values re-encrypted."""

    model: str
    rows: int
    values: int


def rotate(*, batch_size: int = 500, report: Callable[[Rotated], None] | None = None) -> list[Rotated]:
    """Re-encrypt every value of every ``EncryptedTextField`` with the first configured key.

    Works on the stored tokens (``MultiFernet.rotate``), in batches of ``batch_size`` rows, one transaction per batch,
    so it can run beside the app; a value that no configured key opens stops it with ``DecryptionError`` (the rows of
    earlier batches are already done; running it again is safe).
    """
    fernet = _current()
    results = []
    for model, fields in encrypted_fields():
        connection = connections[models.QuerySet(model).db]
        quote = connection.ops.quote_name
        table, pk = model._meta.db_table, model._meta.pk
        assert pk is not None and pk.column is not None
        key = quote(pk.column)
        columns = [str(field.column) for field in fields]
        select_columns = ", ".join(quote(column) for column in [pk.column, *columns])
        assignments = ", ".join(f"{quote(column)} = %s" for column in columns)
        # Rows of a batch stay locked until they are written back (SQLite: the IMMEDIATE transaction locks them all).
        lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
        rows = values = 0
        last: Any = None
        while True:
            with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
                where = f"WHERE {key} > %s " if last is not None else ""
                cursor.execute(
                    f"SELECT {select_columns} FROM {quote(table)} {where}ORDER BY {key} LIMIT %s{lock}",
                    ([last] if last is not None else []) + [batch_size],
                )
                batch = cursor.fetchall()
                for row in batch:
                    tokens = [
                        _rotate_one(fernet, token, model, field) for token, field in zip(row[1:], fields, strict=True)
                    ]
                    values += sum(token is not None for token in tokens)
                    cursor.execute(f"UPDATE {quote(table)} SET {assignments} WHERE {key} = %s", [*tokens, row[0]])
            rows += len(batch)
            if len(batch) < batch_size:
                break
            last = batch[-1][0]
        result = Rotated(model=model._meta.label, rows=rows, values=values)
        if report is not None:
            report(result)
        results.append(result)
    return results


def _rotate_one(fernet: MultiFernet, token: Any, model: type[models.Model], field: EncryptedTextField) -> str | None:
    if token is None:
        return None
    try:
        return fernet.rotate(str(token).encode("ascii")).decode("ascii")
    except (InvalidToken, UnicodeError):
        raise DecryptionError(
            f"cannot re-encrypt a value of {model._meta.label}.{field.name}: no configured key opens it"
        ) from None
