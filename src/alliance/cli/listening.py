"""``alliance transcripts work``: the background worker that analyses transcripts attached in the clinic app."""

from __future__ import annotations

import signal
import sys
from types import FrameType

import typer

from alliance.cli.app import app
from alliance.cli.clinic import _setup_django, clinic_errors

__all__ = ["transcripts_work"]

transcripts = typer.Typer(
    name="transcripts", help="Transcripts attached in the clinic app (the analysis worker).", no_args_is_help=True
)
app.add_typer(transcripts, name="transcripts")


@transcripts.command("work")
def transcripts_work(
    once: bool = typer.Option(False, "--once", help="Run the queued analyses, then stop (default: keep polling)."),
    poll: float = typer.Option(2.0, "--poll", min=0.1, max=3600, help="Seconds between looks at an empty queue."),
) -> None:
    """Claim queued analyses (safe with several workers), label the utterances, store the skill metrics."""
    stopping: list[int] = []

    def stop(signum: int, frame: FrameType | None) -> None:
        stopping.append(signum)

    with clinic_errors():
        _setup_django()
        from alliance.clinic.listening.worker import Outcome, work

        def show(outcome: Outcome) -> None:
            sys.stderr.write(f"alliance: analysis {outcome.analysis_id}: {outcome.state}\n")

        if not once:
            signal.signal(signal.SIGTERM, stop)  # finish the job in hand, then stop
        count = work(once=once, poll=poll, report=show, should_stop=lambda: bool(stopping))
    if once:
        print(f"{count} analyses run")
