"""The demo's sample transcript: original text, attached once to one of ana's sessions with a check-in, analysed."""

from __future__ import annotations

from typing import Any

from clinic_factories import alliance, phq9

from alliance.clinic.listening import demo, worker
from alliance.clinic.listening.demo import attach_demo_transcript, sample_text
from alliance.clinic.listening.models import SessionTranscript
from alliance.transcripts import parse


def test_the_sample_is_a_short_mi_conversation_with_sustain_talk() -> None:
    transcript = parse(sample_text() + "\n")
    assert 40 <= len(transcript) <= 50
    assert {u.speaker for u in transcript.utterances} == {"therapist", "client"}
    assert "isn't realistic" in sample_text() and "no point" in sample_text()  # the stretch of sustain talk


def test_the_demo_attaches_it_once_and_analyses_it(ana: Any, make_client: Any, monkeypatch: Any) -> None:
    from listening_support import ScriptedLabeller

    make_client(ana, code="C-A", sessions=[{"phq9": phq9(1), "alliance-client": alliance(8)}, {"phq9": phq9(1)}])
    monkeypatch.setattr(demo, "load_default_labeller", ScriptedLabeller)
    first = attach_demo_transcript(ana.practice)
    assert first.state == "done" and first.transcript is not None
    assert first.transcript.appointment.session_number == 1  # the session with the relationship check-in
    again = attach_demo_transcript(ana.practice)
    assert again.transcript == first.transcript and SessionTranscript.objects.count() == 1


def test_without_a_labeller_the_demo_leaves_it_queued(ana: Any, make_client: Any, monkeypatch: Any) -> None:
    make_client(ana, code="C-B", sessions=[{"alliance-client": alliance(8)}])

    def missing() -> Any:
        raise worker.LabellerUnavailableError("the utterance labeller is not available (ImportError)")

    monkeypatch.setattr(demo, "load_default_labeller", missing)
    result = attach_demo_transcript(ana.practice)
    assert result.state == "queued" and "not available" in result.note
