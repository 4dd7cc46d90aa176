"""``alliance export --deidentify --out DIR``: the research export of the clinic database (de-identified only)."""

from __future__ import annotations

from pathlib import Path

import typer

from alliance.cli.app import app
from alliance.cli.clinic import _setup_django, clinic_errors
from alliance.errors import AllianceError

__all__ = ["export"]

REFUSAL = (
    "only a de-identified research export is offered: add --deidentify "
    "(identifiable bulk export is not available; see docs/research-export.md)"
)


@app.command("export")
def export(
    out: Path = typer.Option(..., "--out", help="A new or empty folder for the four tables."),
    deidentify: bool = typer.Option(
        False, "--deidentify", help="Required: pseudonymise ids, shift dates, coarsen rare groups."
    ),
    key_file: Path | None = typer.Option(
        None,
        "--key-file",
        help="The secret key for pseudonyms and date shifts, kept apart from the export (created, mode 0600, "
        "when missing; default: research-export.key in the clinic's data folder).",
    ),
    fmt: str = typer.Option("parquet", "--format", help="parquet or csv."),
    k: int = typer.Option(5, "--k", min=1, help="Client groups with fewer clients than this become 'other'."),
    practice: list[int] = typer.Option([], "--practice", help="Only this practice (its id); repeatable."),
) -> None:
    """Write clients, episodes, appointments and check-ins de-identified, as `alliance analytics run` reads them."""
    with clinic_errors():
        if not deidentify:
            raise AllianceError(REFUSAL)
        if fmt not in ("parquet", "csv"):
            raise AllianceError(f"--format must be parquet or csv, not {fmt!r}")
        _setup_django()
        from alliance.clinic.reports.export import research_export

        result = research_export(out, key_file=key_file, fmt=fmt, k=k, practice_ids=practice or None)
    counts = ", ".join(f"{rows} {name}" for name, rows in result.rows.items())
    made = "created" if result.key_created else "used"
    print(f"exported to {result.out}: {counts} (de-identified; key {made}: {result.key_path})")
