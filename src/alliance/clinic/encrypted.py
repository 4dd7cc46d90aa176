"""Encrypted fields beyond text, and the data migrations that encrypt existing plaintext columns in place.

``EncryptedDateField`` stores a date as the Fernet token of its ISO text (``alliance.clinic.crypto``); rotation
(``alliance keys rotate``) finds it like any ``EncryptedTextField``. ``encrypt_columns`` / ``decrypt_columns`` are
``RunPython`` steps: they read and write the raw column with SQL (the model's field would try to decrypt plaintext).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from django import forms

from alliance.clinic.crypto import EncryptedTextField, decrypt, encrypt

__all__ = ["EncryptedDateField", "decrypt_columns", "encrypt_columns"]


class EncryptedDateField(EncryptedTextField):
    """A date encrypted at rest (as the token of ``YYYY-MM-DD``); a ``datetime.date`` on the Python side."""

    description = "Date encrypted at rest (Fernet)"
    # What django-stubs' plugin reads as the Python types of the field (a date in, a date out).
    _pyi_private_set_type: dt.date | None  # type: ignore[assignment]
    _pyi_private_get_type: dt.date | None  # type: ignore[assignment]

    def get_prep_value(self, value: Any) -> Any:
        if isinstance(value, dt.date):
            value = value.isoformat()
        return super().get_prep_value(value or None)

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        text = super().from_db_value(value, expression, connection)
        return dt.date.fromisoformat(text) if text else None

    def to_python(self, value: Any) -> Any:
        if value in (None, "") or isinstance(value, dt.date):
            return value or None
        return dt.date.fromisoformat(str(value))

    def formfield(self, **kwargs: Any) -> Any:
        return forms.DateField(required=not self.blank, label=self.verbose_name.capitalize(), **kwargs)

    def deconstruct(self) -> Any:
        name, _, args, kwargs = super().deconstruct()
        return name, "alliance.clinic.encrypted.EncryptedDateField", args, kwargs


def _convert(table: str, columns: Sequence[str], change: Callable[[str], str]) -> Callable[[Any, Any], None]:
    def run(apps: Any, schema_editor: Any) -> None:
        connection = schema_editor.connection
        quote = connection.ops.quote_name
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT id, {', '.join(quote(c) for c in columns)} FROM {quote(table)}")
            rows = cursor.fetchall()
            assignments = ", ".join(f"{quote(c)} = %s" for c in columns)
            for row in rows:
                values = [None if value is None else change(str(value)) for value in row[1:]]
                cursor.execute(f"UPDATE {quote(table)} SET {assignments} WHERE id = %s", [*values, row[0]])

    return run


def encrypt_columns(table: str, columns: Sequence[str]) -> Callable[[Any, Any], None]:
    """A ``RunPython`` step that encrypts every non-null value of ``columns`` of ``table`` with the current key."""
    return _convert(table, columns, encrypt)


def decrypt_columns(table: str, columns: Sequence[str]) -> Callable[[Any, Any], None]:
    """The reverse of ``encrypt_columns`` (back to plaintext)."""
    return _convert(table, columns, lambda token: decrypt(token, what=f"{table} in a migration"))
