"""``alliance demo-report``: a seeded demo caseload and its outcome summary."""

from __future__ import annotations

import math

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from alliance.analytics.caseload import CaseloadReport, caseload_report, generate_caseload
from alliance.cli.app import app, user_errors
from alliance.instruments import registry_from_environment


@app.command("demo-report")
def demo_report(
    clients: int = typer.Option(48, min=1, max=100_000, help="Number of demo clients."),
    therapists: int = typer.Option(4, min=1, max=1_000, help="Number of demo therapists."),
    seed: int = typer.Option(2026, help="Random seed: the same seed gives the same caseload."),
) -> None:
    """Generate a realistic demo caseload (seeded) and print its outcome summary."""
    with user_errors():
        registry = registry_from_environment()
        caseload = generate_caseload(registry, clients=clients, therapists=therapists, seed=seed)
        report = caseload_report(caseload, registry)
    render(report, seed=seed, console=Console())


def render(report: CaseloadReport, *, seed: int, console: Console) -> None:
    """Print ``report`` as rich tables."""
    console.print(
        f"[bold]alliance demo caseload[/bold] (seed {seed}): {report.clients} clients, "
        f"{report.therapists} therapists, {report.check_ins} check-ins. All names are pseudonyms; data are synthetic."
    )
    o = report.outcomes
    low, high = report.recovery_interval
    summary = Table(title="Outcomes (NHS Talking Therapies definitions)", title_justify="left")
    summary.add_column("measure")
    summary.add_column("n", justify="right")
    summary.add_column("of", justify="right")
    summary.add_column("rate", justify="right")
    summary.add_row("finished (paired PHQ-9 + GAD-7)", str(o.finished), str(o.clients), _pct(o.finished / o.clients))
    summary.add_row("case at start", str(o.cases), str(o.finished), _pct(o.cases / o.finished))
    summary.add_row(
        "recovery (among cases)",
        str(o.recovered),
        str(o.cases),
        f"{_pct(o.recovery_rate)} (95% CI {_pct(low)}–{_pct(high)})",
    )
    summary.add_row(
        "reliable improvement", str(o.reliable_improvement), str(o.finished), _pct(o.reliable_improvement_rate)
    )
    summary.add_row(
        "reliable deterioration", str(o.reliable_deterioration), str(o.finished), _pct(o.reliable_deterioration_rate)
    )
    summary.add_row(
        "reliable recovery (among cases)", str(o.reliable_recovery), str(o.cases), _pct(o.reliable_recovery_rate)
    )
    summary.add_row(
        "sudden gains, PHQ-9 (clients)",
        f"{report.sudden_gains} ({report.clients_with_sudden_gain})",
        str(o.clients),
        "",
    )
    summary.add_row("sudden losses, PHQ-9", str(report.sudden_losses), "", "")
    console.print(summary)

    therapists = Table(title="By therapist (alphabetical, 95% intervals: not a ranking)", title_justify="left")
    for name in ("therapist", "clients", "cases", "recovered", "recovery (95% CI)", "early alliance"):
        therapists.add_column(name, justify="left" if name == "therapist" else "right")
    for row in report.by_therapist.itertuples(index=False):
        therapists.add_row(
            str(row.therapist),
            str(row.clients),
            str(row.cases),
            str(row.recovered),
            f"{_pct(row.recovery_rate)} ({_pct(row.recovery_low)}–{_pct(row.recovery_high)})",
            "" if _float(row.early_alliance) is None else f"{_float(row.early_alliance):.1f}",
        )
    console.print(therapists)

    attention = Table(title="Clients needing attention", title_justify="left")
    for name in ("client", "therapist", "sessions", "first PHQ-9", "last PHQ-9", "why"):
        attention.add_column(name)
    for row in report.attention.itertuples(index=False):
        attention.add_row(
            str(row.client),
            str(row.therapist),
            str(row.sessions),
            _number(row.first_phq9),
            _number(row.last_phq9),
            str(row.reasons),
        )
    console.print(attention if len(report.attention) else "No client needs attention.")


def _pct(value: object) -> str:
    number = _float(value)
    return "–" if number is None else f"{100 * number:.1f}%"


def _number(value: object) -> str:
    number = _float(value)
    return "" if number is None else f"{number:g}"


def _float(value: object) -> float | None:
    """Return ``value`` as a float, or None when it is missing (None, NaN, pandas NA)."""
    if value is None or value is pd.NA:
        return None
    number = float(value)  # type: ignore[arg-type]
    return None if math.isnan(number) else number
