"""``alliance audit verify | backup | restore``: the audit chain check and database backups (Django imported inside).

``audit verify`` exits 0 on an intact log and 1 naming the first bad record; ``backup`` and ``restore`` refuse to
overwrite anything unless ``--force``. Bad settings or files are one line on stderr and exit code 2.
"""

from __future__ import annotations

from pathlib import Path

import typer

from alliance.cli.app import app
from alliance.cli.clinic import _setup_django, clinic_errors

__all__ = ["audit_verify", "backup", "restore"]

EXIT_BROKEN_CHAIN = 1

audit = typer.Typer(name="audit", help="The clinic's hash-chained audit log.", no_args_is_help=True)
app.add_typer(audit, name="audit")


@audit.command("verify")
def audit_verify() -> None:
    """Recompute the audit hash chain: exit 0 when intact, 1 naming the first bad record."""
    with clinic_errors():
        _setup_django()
        from alliance.clinic.audit.chain import verify

        result = verify()
    if result.problem is not None:
        typer.echo(f"alliance: audit log BROKEN at {result.problem}", err=True)
        raise typer.Exit(EXIT_BROKEN_CHAIN)
    typer.echo(f"audit log intact: {result.records} records, head #{result.head_seq} {result.head_hash}")


@app.command("backup")
def backup(
    out: Path = typer.Option(..., "--out", help="Backup file to write (SQLite file or pg_dump custom format)."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Back up the clinic database (DATABASE_URL) to --out, consistent while the server runs."""
    with clinic_errors():
        _setup_django()
        from alliance.clinic.backup import backup as make_backup

        result = make_backup(out, force=force)
    typer.echo(f"backup of the {result.engine} database written to {result.path} ({result.bytes} bytes)")


@app.command("restore")
def restore(
    file: Path = typer.Argument(..., help="A file written by `alliance backup`."),
    force: bool = typer.Option(False, "--force", help="Replace a database that already holds data."),
) -> None:
    """Restore a backup into the clinic database (DATABASE_URL); then check the audit chain."""
    with clinic_errors():
        _setup_django()
        from alliance.clinic.audit.chain import verify
        from alliance.clinic.backup import restore as restore_backup

        target = restore_backup(file, force=force)
        result = verify()
    typer.echo(f"restored {file} into {target}")
    if result.problem is not None:
        typer.echo(f"alliance: audit log BROKEN at {result.problem}", err=True)
        raise typer.Exit(EXIT_BROKEN_CHAIN)
    typer.echo(f"audit log intact: {result.records} records")
