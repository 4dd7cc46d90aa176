"""``alliance instruments list|show`` and ``alliance score``: the instrument definitions and scoring a CSV."""

from __future__ import annotations

import csv
import io
import math
import sys
from pathlib import Path
from typing import Annotated

import typer

from alliance.cli.app import app, user_errors
from alliance.errors import InputError
from alliance.instruments import (
    Instrument,
    Scale,
    Text,
    registry_from_environment,
    score_frame,
    validate_answers,
)
from alliance.interop.csvio import read_table

__all__ = ["format_number", "instruments_app"]

instruments_app = typer.Typer(
    name="instruments",
    help="List and show instrument definitions (bundled, plus a site's own from ALLIANCE_INSTRUMENTS_DIR).",
    no_args_is_help=True,
)
app.add_typer(instruments_app, name="instruments")


@instruments_app.command("list")
def list_instruments() -> None:
    """List the instruments: id, version, items, title, licence (one per line; the id comes first)."""
    with user_errors():
        registry = registry_from_environment()
        rows = [(i.id, i.version, str(len(i.items)), _english(i.title, i), i.licence.name) for i in registry]
        header = ("id", "version", "items", "title", "licence")
        if sys.stdout.isatty():
            from rich.console import Console
            from rich.table import Table

            table = Table(*header)
            for row in rows:
                table.add_row(*row)
            Console().print(table)
        else:
            typer.echo("\n".join("\t".join(row) for row in [header, *rows]))


@instruments_app.command("show")
def show_instrument(
    instrument_id: Annotated[str, typer.Argument(metavar="ID", help="Instrument id, as `instruments list` shows.")],
    lang: Annotated[str, typer.Option("--lang", help="Language of the texts (en, es, ...).")] = "en",
) -> None:
    """Show items, options, scoring, missing-data rule, severity bands, risk rules, LOINC and licence."""
    with user_errors():
        instrument = registry_from_environment().get(instrument_id)
        if lang not in instrument.languages:
            languages = ", ".join(instrument.languages)
            raise InputError(f"instrument {instrument.id} has no {lang!r} texts (languages: {languages})")
        typer.echo("\n".join(describe(instrument, lang)))


@app.command("score")
def score(
    instrument_id: Annotated[str, typer.Argument(metavar="ID", help="Instrument id, as `instruments list` shows.")],
    file: Annotated[
        Path,
        typer.Argument(
            metavar="FILE.csv",
            help="One row per administration; item columns named by the item ids `instruments show` prints, "
            "empty cell = missing answer; any other columns are passed through.",
        ),
    ],
) -> None:
    """Score a CSV of answers; write CSV: passed-through columns, total, subscales, severity, risk, status."""
    with user_errors():
        instrument = registry_from_environment().get(instrument_id)
        table = read_table(file)
        passed = [column for column in table.columns if column not in instrument.item_ids]
        outputs = ["total", *(scale.id for scale in instrument.subscales), "severity", "risk", "status"]
        for column in passed:
            if column in outputs:
                raise InputError(
                    "column name clashes with a score column of the output; rename it",
                    file=str(file),
                    column=column,
                )
        scores = score_frame(instrument, validate_answers(instrument, table, file=str(file)))
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow([*passed, *outputs])
        numbers = ["total", *(scale.id for scale in instrument.subscales)]
        formatted = {column: [format_number(value) for value in scores[column]] for column in numbers}
        formatted["severity"] = ["" if value is None else str(value) for value in scores["severity"]]
        formatted["risk"] = ["true" if value else "false" for value in scores["risk"]]
        formatted["status"] = [str(value) for value in scores["status"]]
        for position in range(len(table)):
            writer.writerow(
                [
                    *(table[column].iloc[position] for column in passed),
                    *(formatted[column][position] for column in outputs),
                ]
            )
        typer.echo(buffer.getvalue(), nl=False)


def format_number(value: float) -> str:
    """Format a score: whole numbers as integers, others with up to 4 decimals, missing as empty."""
    if value is None or math.isnan(value):
        return ""
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.4f}".rstrip("0").rstrip(".")


def describe(instrument: Instrument, language: str) -> list[str]:
    """Return the lines of ``instruments show`` for ``instrument`` in ``language``."""
    lines = [
        f"{instrument.id}  {instrument.title[language]}",
        f"version {instrument.version}; languages: {', '.join(instrument.languages)}; "
        f"validated: {'yes' if instrument.validated else 'NOT YET VALIDATED'}",
        f"  {instrument.validation_note}",
        "",
        f"Instructions: {instrument.instructions[language]}",
        "",
        "Items (the CSV column of each is its id):",
    ]
    required = set(instrument.required_item_ids)
    for item in instrument.items:
        notes = [f"options: {item.response_set or item.id}"]
        if item.domain:
            notes.append(f"domain: {item.domain}")
        if item.loinc:
            notes.append(f"LOINC {item.loinc}")
        if item.id not in required:
            notes.append("not scored; column optional")
        lines.append(f"  {item.id}  {item.text[language]}  [{'; '.join(notes)}]")
    lines += ["", "Options (value  label):"]
    groups: dict[str, list[str]] = {}
    for item in instrument.items:
        groups.setdefault(item.response_set or item.id, []).append(item.id)
    for name, members in groups.items():
        options = instrument.item(members[0]).options
        lines.append(f"  {name} ({', '.join(members)}):")
        for option in options:
            code = f"  [LOINC {option.loinc}]" if option.loinc else ""
            lines.append(f"    {option.value:g}  {option.label[language]}{code}")
    lines += ["", "Scoring:"]
    lines += [f"  {_describe_scale(scale, language)}" for scale in instrument.scales]
    rule = instrument.missing_data
    rounding = "; prorated sums rounded half up to a whole number" if rule.rounding == "half-up" else ""
    lines += [
        f"Missing data ({rule.rule}{rounding}): {rule.description}",
        f"  Source: {rule.source}",
        "",
        "Severity bands (on the total):",
    ]
    bands = instrument.severity
    for index, band in enumerate(bands):
        # Continuous totals (means): adjacent bands share a boundary, which belongs to the upper band.
        shared = index + 1 < len(bands) and bands[index + 1].lower == band.upper
        upper = f"under {band.upper:g}" if shared else f"{band.upper:g}"
        lines.append(f"  {band.lower:g} to {upper}  {band.id}  {band.label[language]}")
    if not bands:
        lines.append("  none")
    lines += ["", "Risk rules (raised whatever the total):"]
    lines += [f"  {r.item} {r.rule}  {r.message}" for r in instrument.risk] or ["  none"]
    loinc = [f"panel {instrument.loinc_panel}"] if instrument.loinc_panel else []
    loinc += [f"total {instrument.loinc_total}"] if instrument.loinc_total else []
    licence = instrument.licence
    lines += [
        "",
        f"LOINC: {', '.join(loinc) or 'none'}",
        f"Licence: {licence.name} (may be redistributed: {'yes' if licence.redistributable else 'no'})"
        + (f" {licence.url}" if licence.url else ""),
        f"  {licence.text}",
        f"Citation: {instrument.citation}",
    ]
    return lines


def _describe_scale(scale: Scale, language: str) -> str:
    reverse = ", ".join(scale.reverse) or "none"
    missing = f"up to {scale.max_missing} missing prorated" if scale.max_missing else "no missing item allowed"
    return (
        f"{scale.id}  {scale.title[language]}: {scale.method} of {len(scale.items)} items "
        f"({', '.join(scale.items)}); range {scale.minimum:g} to {scale.maximum:g}; "
        f"reverse-keyed (min + max - answer): {reverse}; {missing}"
    )


def _english(text: Text, instrument: Instrument) -> str:
    return text.get("en") or text[instrument.languages[0]]
