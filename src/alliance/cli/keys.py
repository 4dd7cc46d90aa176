"""``alliance keys generate | rotate``: the encryption keys of data at rest (docs/encryption.md)."""

from __future__ import annotations

import sys

import typer

from alliance.cli.app import app
from alliance.cli.clinic import _setup_django, clinic_errors

__all__ = ["keys_generate", "keys_rotate"]

keys = typer.Typer(name="keys", help="Encryption keys of data at rest (transcripts).", no_args_is_help=True)
app.add_typer(keys, name="keys")


@keys.command("generate")
def keys_generate() -> None:
    """Print a new random encryption key (put it first in ALLIANCE_ENCRYPTION_KEYS, then run `keys rotate`)."""
    from cryptography.fernet import Fernet

    print(Fernet.generate_key().decode("ascii"))


@keys.command("rotate")
def keys_rotate(
    batch_size: int = typer.Option(500, min=1, max=100_000, help="Rows per transaction."),
) -> None:
    """Re-encrypt every encrypted value with the first configured key; print a CSV row per model."""
    with clinic_errors():
        _setup_django()
        from alliance.clinic.crypto import Rotated, rotate

        print("model,rows,values", flush=True)

        def show(result: Rotated) -> None:
            print(f"{result.model},{result.rows},{result.values}", flush=True)

        results = rotate(batch_size=batch_size, report=show)
    total = sum(result.values for result in results)
    sys.stderr.write(f"alliance: {total} values re-encrypted with the first key; older keys may now be removed\n")
