"""The error tree: every error a user can cause is an ``AllianceError`` that says where it happened."""

from __future__ import annotations

__all__ = ["AllianceError", "DefinitionError", "InputError", "ResourceError"]


class AllianceError(Exception):
    """Base of every error this package raises on purpose."""


class InputError(AllianceError):
    """Bad input data; names the file, the data row (1 = first row after the header) and the column.

    Parameters
    ----------
    message:
        What is wrong, in plain words.
    file, row, column:
        Where, as far as known. ``row`` counts data rows from 1 (the header is not a row), so the
        line number in a CSV file with a header is ``row + 1``.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.row = row
        self.column = column
        super().__init__(str(self))

    def __str__(self) -> str:
        where = []
        if self.file is not None:
            where.append(self.file)
        if self.row is not None:
            where.append(f"row {self.row} (line {self.row + 1})")
        if self.column is not None:
            where.append(f"column '{self.column}'")
        return ", ".join(where) + ": " + self.message if where else self.message

    def located(self, *, file: str) -> InputError:
        """Return a copy of this error that also names ``file``."""
        return InputError(self.message, file=file, row=self.row, column=self.column)


class DefinitionError(AllianceError):
    """An instrument definition that does not follow the schema or is inconsistent."""


class ResourceError(AllianceError):
    """A structured document (e.g. a FHIR resource) that is malformed or inconsistent; names the file and path.

    ``path`` is a JSONPath-like location such as ``item[2].answer[0].valueCoding.code``.
    """

    def __init__(self, message: str, *, path: str = "", file: str | None = None) -> None:
        self.message = message
        self.path = path
        self.file = file
        super().__init__(str(self))

    def __str__(self) -> str:
        where = [part for part in (self.file, self.path) if part]
        return ", ".join(where) + ": " + self.message if where else self.message
