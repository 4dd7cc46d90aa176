"""The analysis worker: conditional claims, stale jobs, progress, results, failures without transcript text."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone
from listening_support import TINY, BrokenLabeller, ScriptedLabeller

from alliance.clinic.listening.models import Analysis, SessionTranscript
from alliance.clinic.listening.service import attach, delete_transcript, requeue
from alliance.clinic.listening.worker import MAX_ATTEMPTS, claim, requeue_stale, run_job, work


@pytest.fixture
def queued(ana: Any, make_client: Any) -> list[SessionTranscript]:
    client = make_client(ana, code="C-WORK", sessions=[{}, {}, {}])
    return [
        attach(appointment, TINY, by=ana, file_name="tiny.txt")
        for appointment in client.appointments.order_by("starts_at")
    ]


def test_a_job_is_claimed_once_whoever_asks(queued: list[SessionTranscript]) -> None:
    first, second = claim("w1"), claim("w2")
    assert first is not None and second is not None and first.pk != second.pk
    assert first.transcript_id == queued[0].pk  # oldest first
    third, none = claim("w3"), claim("w4")
    assert third is not None and none is None
    assert Analysis.objects.filter(state="running").count() == 3
    assert sorted(Analysis.objects.values_list("worker", flat=True)) == ["w1", "w2", "w3"]


def test_the_claim_is_a_conditional_update(queued: list[SessionTranscript]) -> None:
    """A worker that read the same candidate as another loses the race: the UPDATE's WHERE state = queued fails."""
    pk = Analysis.objects.order_by("queued_at", "pk").values_list("pk", flat=True)[0]
    assert Analysis.objects.filter(pk=pk, state="queued").update(state="running", worker="other") == 1
    job = claim("me")
    assert job is not None and job.pk != pk and job.worker == "me"


def test_results_progress_and_labels_are_stored(queued: list[SessionTranscript]) -> None:
    job = claim("w")
    assert job is not None
    labeller = ScriptedLabeller()
    assert run_job(job, lambda: labeller, worker="w").state == "done"
    job.refresh_from_db()
    assert (job.state, job.progress, job.worker, job.labeller) == ("done", 100, "", "scripted test labeller")
    assert [(p["index"], p["label"], p["sublabel"], p["confidence"]) for p in job.predictions] == [
        (0, "question", "open", 0.9),
        (1, "sustain", None, 0.9),
        (2, "reflection", "simple", 0.4),
        (3, "sustain", None, 0.9),
        (4, "question", "closed", 0.9),
        (5, "change", None, 0.9),
    ]
    report = job.report
    # Counted by hand: 1 reflection / 2 questions; 1 of 2 questions open; 1 change vs 2 sustain; one run of sustain.
    assert (
        report["reflection_to_question"]["value"] == 0.5 and report["reflection_to_question"]["rating"] == "below fair"
    )
    assert report["open_questions"]["value"] == 0.5 and report["open_questions"]["rating"] == "fair"
    assert report["complex_reflections"]["value"] == 0.0
    assert report["change_talk"]["value"] == pytest.approx(1 / 3)
    assert [(m["first"], m["last"], m["sustain"]) for m in report["resistance"]] == [(1, 3, 2)]
    assert "smok" not in str(report) and "smok" not in str(job.predictions)


def test_a_failure_keeps_a_reason_without_transcript_text(queued: list[SessionTranscript]) -> None:
    job = claim("w")
    assert job is not None
    assert run_job(job, BrokenLabeller, worker="w").state == "failed"
    job.refresh_from_db()
    assert job.state == "failed" and "labelling the utterances: RuntimeError" in job.reason
    assert "smok" not in job.reason.lower() and "brings you" not in job.reason
    assert requeue(job) and Analysis.objects.get(pk=job.pk).state == "queued"


def test_a_labeller_that_cannot_load_fails_the_job_with_its_reason(queued: list[SessionTranscript]) -> None:
    from alliance.clinic.listening.worker import LabellerUnavailableError

    def missing() -> Any:
        raise LabellerUnavailableError("the utterance labeller is not available (ImportError)")

    job = claim("w")
    assert job is not None
    run_job(job, missing, worker="w")
    job.refresh_from_db()
    assert job.reason == "failed while loading the labeller: the utterance labeller is not available (ImportError)"


def test_stale_running_jobs_are_queued_again_then_given_up(queued: list[SessionTranscript]) -> None:
    job = claim("dead worker")
    assert job is not None
    later = timezone.now() + dt.timedelta(seconds=61)
    assert requeue_stale(now=later, stale_seconds=60) == (1, 0)
    assert Analysis.objects.get(pk=job.pk).state == "queued"
    Analysis.objects.filter(pk=job.pk).update(state="running", attempts=MAX_ATTEMPTS, heartbeat_at=timezone.now())
    assert requeue_stale(now=later, stale_seconds=60) == (0, 1)
    failed = Analysis.objects.get(pk=job.pk)
    assert failed.state == "failed" and f"after {MAX_ATTEMPTS} attempts" in failed.reason


def test_the_old_worker_never_overwrites_a_job_taken_over_or_deleted(queued: list[SessionTranscript]) -> None:
    job = claim("slow")
    assert job is not None
    Analysis.objects.filter(pk=job.pk).update(state="queued", worker="")  # taken back as stale
    taken = claim("fresh")
    assert taken is not None and taken.pk == job.pk
    assert run_job(job, ScriptedLabeller, worker="slow").state == "lost"
    assert Analysis.objects.get(pk=job.pk).worker == "fresh"
    delete_transcript(taken.transcript)
    assert run_job(taken, ScriptedLabeller, worker="fresh").state == "lost"


def test_work_once_runs_the_queue_and_loads_the_labeller_once(queued: list[SessionTranscript]) -> None:
    loads: list[ScriptedLabeller] = []

    def load() -> ScriptedLabeller:
        loads.append(ScriptedLabeller())
        return loads[-1]

    assert work(once=True, labeller=load) == 3
    assert len(loads) == 1 and loads[0].calls == 3
    assert set(Analysis.objects.values_list("state", flat=True)) == {"done"}
