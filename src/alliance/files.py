"""Reading a user's text file at the edge, with one clear error whatever goes wrong."""

from __future__ import annotations

from pathlib import Path

from alliance.errors import InputError

__all__ = ["read_text"]


def read_text(path: str | Path, *, error: type[InputError] = InputError, kind: str = "file") -> str:
    """Return the UTF-8 text of ``path`` (a byte-order mark is dropped); raise ``error`` naming the file otherwise."""
    name = str(path)
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise error("file not found", file=name) from None
    except IsADirectoryError:
        raise error(f"is a directory, not a {kind}", file=name) from None
    except OSError as exc:
        raise error(f"cannot read file ({exc.strerror})", file=name) from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise error(f"not UTF-8 text (byte {exc.start})", file=name) from None
