"""The analysis worker: claim a queued job, label the utterances, compute the skill metrics, store the results.

No broker: the queue is the ``Analysis`` table. A job is claimed with a conditional UPDATE (``state = queued`` in the
WHERE clause), so several workers on SQLite or PostgreSQL never take the same job. A running job whose heartbeat
(written with every progress update) is older than ``ALLIANCE_ANALYSIS_STALE_SECONDS`` is queued again — its worker
died — and failed after ``MAX_ATTEMPTS`` tries. Every write of a running job is conditional on this worker still
holding it, so a job taken over (or deleted by the therapist) is never overwritten by the old worker.

A failure reason never contains transcript text: it names the stage and the kind of error only.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from django.conf import settings
from django.db import close_old_connections, connection
from django.db.models import F
from django.utils import timezone

from alliance.clinic.listening.models import Analysis
from alliance.errors import AllianceError
from alliance.transcripts import Transcript, skills

__all__ = [
    "MAX_ATTEMPTS",
    "Labeller",
    "LabellerUnavailableError",
    "Outcome",
    "claim",
    "load_default_labeller",
    "requeue_stale",
    "run_job",
    "work",
    "worker_name",
]

log = logging.getLogger("alliance.listening.worker")
MAX_ATTEMPTS = 3
Progress = Callable[[int, int], None]


class PredictionLike(Protocol):
    @property
    def index(self) -> int: ...
    @property
    def speaker(self) -> str: ...
    @property
    def label(self) -> str: ...
    @property
    def sublabel(self) -> str | None: ...
    @property
    def confidence(self) -> float: ...


class Labeller(Protocol):
    """What the worker needs of ``alliance.transcripts.labeller``: one prediction per utterance, with progress."""

    def predict(self, transcript: Transcript, *, progress: Progress | None = None) -> Sequence[PredictionLike]: ...


class LabellerUnavailableError(AllianceError):
    """The utterance labeller cannot be loaded here."""


class _MismatchError(Exception):
    """The labeller's output does not fit the transcript (message: counts, indices and labels only)."""


class _LostJobError(Exception):
    """The job was taken over by another worker, or deleted, while this one ran it."""


@dataclass(frozen=True)
class Outcome:
    """What one ``run_job`` did: the analysis id and its final state (``lost``: taken over or deleted meanwhile)."""

    analysis_id: int
    state: str


def worker_name() -> str:
    """Return ``host:pid``, stored on the jobs this process holds."""
    return f"{socket.gethostname()[:80]}:{os.getpid()}"


def load_default_labeller() -> Labeller:
    """Load the shipped labeller (cached per process by the labeller module)."""
    from alliance.errors import ResourceError
    from alliance.transcripts.labeller import load_labeller

    try:
        labeller: Labeller = load_labeller()
    except ResourceError as exc:
        raise LabellerUnavailableError(f"the utterance labeller is not available: {exc}") from None
    return labeller


def requeue_stale(*, now: dt.datetime | None = None, stale_seconds: int | None = None) -> tuple[int, int]:
    """Queue again running jobs without a heartbeat for ``stale_seconds``; fail those out of attempts.

    Returns (re-queued, failed).
    """
    now = now or timezone.now()
    seconds = settings.ALLIANCE_ANALYSIS_STALE_SECONDS if stale_seconds is None else stale_seconds
    stale = Analysis.objects.filter(state=Analysis.State.RUNNING, heartbeat_at__lt=now - dt.timedelta(seconds=seconds))
    failed = stale.filter(attempts__gte=MAX_ATTEMPTS).update(
        state=Analysis.State.FAILED,
        reason=f"gave up after {MAX_ATTEMPTS} attempts: the worker stopped or went silent each time",
        finished_at=now,
        worker="",
    )
    requeued = stale.filter(attempts__lt=MAX_ATTEMPTS).update(state=Analysis.State.QUEUED, progress=0, worker="")
    return requeued, failed


def claim(worker: str, *, now: dt.datetime | None = None, only: int | None = None) -> Analysis | None:
    """Take the oldest queued job (or job ``only``) for ``worker`` (conditional UPDATE; safe with several workers)."""
    now = now or timezone.now()
    queued = Analysis.objects.filter(state=Analysis.State.QUEUED).order_by("queued_at", "pk")
    if only is not None:
        queued = queued.filter(pk=only)
    candidates = list(queued.values_list("pk", flat=True)[:8])
    for pk in candidates:
        taken = Analysis.objects.filter(pk=pk, state=Analysis.State.QUEUED).update(
            state=Analysis.State.RUNNING,
            worker=worker,
            started_at=now,
            heartbeat_at=now,
            progress=0,
            attempts=F("attempts") + 1,
        )
        if taken:
            job: Analysis = Analysis.objects.select_related("transcript").get(pk=pk)
            return job
    return None


def run_job(analysis: Analysis, get_labeller: Callable[[], Labeller], *, worker: str) -> Outcome:
    """Label and measure the transcript of a claimed ``analysis``; store the results, or ``failed`` with a reason.

    The job's own errors never escape (the worker goes on); ``get_labeller`` is called only now.
    """
    mine = Analysis.objects.filter(pk=analysis.pk, worker=worker, state=Analysis.State.RUNNING)
    stage = "loading the transcript"
    try:
        transcript = analysis.transcript.transcript()
        stage = "loading the labeller"
        model = get_labeller()
        stage = "labelling the utterances"
        predictions = list(model.predict(transcript, progress=_ProgressReporter(mine)))
        stage = "computing the skill metrics"
        if len(predictions) != len(transcript):
            raise _MismatchError(f"the labeller gave {len(predictions)} labels for {len(transcript)} utterances")
        try:
            labelled = transcript.with_labels([p.label for p in predictions], [p.sublabel for p in predictions])
        except ValueError as exc:  # its message names an utterance index and labels, never text
            raise _MismatchError(str(exc)) from None
        report = skills(labelled).to_dict()
        rows = [
            {
                "index": int(p.index),
                "speaker": str(p.speaker),
                "label": str(p.label),
                "sublabel": p.sublabel,
                "confidence": round(float(p.confidence), 4),
            }
            for p in predictions
        ]
    except _LostJobError:
        return Outcome(analysis.pk, "lost")
    except Exception as exc:  # the job fails with a reason; the worker goes on
        log.warning("analysis %s failed while %s (%s)", analysis.pk, stage, type(exc).__name__)
        updated = mine.update(
            state=Analysis.State.FAILED, reason=_reason(stage, exc), finished_at=timezone.now(), worker=""
        )
        return Outcome(analysis.pk, Analysis.State.FAILED if updated else "lost")
    updated = mine.update(
        state=Analysis.State.DONE,
        progress=100,
        predictions=rows,
        report=report,
        labeller=_describe(model),
        finished_at=timezone.now(),
        heartbeat_at=timezone.now(),
        worker="",
    )
    return Outcome(analysis.pk, Analysis.State.DONE if updated else "lost")


def work(
    *,
    once: bool = False,
    poll: float = 2.0,
    labeller: Callable[[], Labeller] | None = None,
    report: Callable[[Outcome], None] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> int:
    """Run jobs until stopped (``once``: until the queue is empty); return how many jobs were run.

    ``labeller`` loads the labeller (default: :func:`load_default_labeller`); it is called at the first job and the
    result kept for the life of the process.
    """
    load = labeller or load_default_labeller
    worker = worker_name()
    loaded: list[Labeller] = []

    def get_labeller() -> Labeller:
        if not loaded:
            loaded.append(load())
        return loaded[0]

    done = 0
    while not should_stop():
        if not connection.in_atomic_block:  # a long-running worker drops broken or expired connections
            close_old_connections()
        requeue_stale()
        job = claim(worker)
        if job is None:
            if once:
                break
            time.sleep(poll)
            continue
        outcome = run_job(job, get_labeller, worker=worker)
        done += 1
        if report is not None:
            report(outcome)
    return done


class _ProgressReporter:
    """Write progress (whole percent, at most every half second) and the heartbeat; notice a lost job."""

    def __init__(self, mine: Any) -> None:
        self.mine = mine
        self.last_percent = -1
        self.last_write = 0.0

    def __call__(self, done: int, total: int) -> None:
        percent = min(99, int(100 * done / total)) if total else 0
        now = time.monotonic()
        if percent == self.last_percent or (now - self.last_write < 0.5 and done < total):
            return
        if not self.mine.update(progress=percent, heartbeat_at=timezone.now()):
            raise _LostJobError
        self.last_percent, self.last_write = percent, now


def _reason(stage: str, exc: Exception) -> str:
    """A failure reason without transcript text: our own errors' messages (they quote no text), else the type."""
    if isinstance(exc, LabellerUnavailableError | _MismatchError):
        return f"failed while {stage}: {exc}"[:500]
    return f"failed while {stage}: {type(exc).__name__} (details are not kept: they could quote the transcript)"


def _describe(model: Any) -> str:
    for attribute in ("name", "version", "card"):
        value = getattr(model, attribute, None)
        if isinstance(value, str) and value:
            return value[:200]
    return f"{type(model).__module__}.{type(model).__name__}"[:200]
