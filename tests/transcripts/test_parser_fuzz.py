"""Property tests: whatever text arrives, every transcript parser returns a transcript or raises ``TranscriptError``
(the project's own, naming the line or item) — never another exception. The slow variant runs many more examples."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alliance.transcripts.parse import TranscriptError, parse, parse_annomi

QUICK = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LONG = settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FORMATS = ["auto", "txt", "vtt", "srt", "json", "annomi"]

TIME = st.from_regex(r"\A(\d{1,3}:)?\d{1,2}:\d{1,2}([.,]\d{1,4})?\Z")
SPEAKER = st.sampled_from(["T", "C", "Therapist", "Client", "Ana", "", "<v T>", "<v Client>", "Dr. X"])
WORDS = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=30)


@st.composite
def transcript_like(draw: st.DrawFn) -> str:
    """Text shaped like one of the formats, with its parts now and then wrong."""
    kind = draw(st.sampled_from(["txt", "vtt", "srt", "json", "annomi", "noise"]))
    turns = draw(st.lists(st.tuples(SPEAKER, WORDS, TIME, TIME), max_size=6))
    if kind == "txt":
        return "\n".join(f"{speaker}: {words}" for speaker, words, _, _ in turns)
    if kind in ("vtt", "srt"):
        blocks = []
        for number, (speaker, words, start, end) in enumerate(turns, start=1):
            arrow = draw(st.sampled_from([" --> ", "-->", " -> ", " --> "]))
            head = f"{number}\n" if kind == "srt" else ""
            blocks.append(f"{head}{start}{arrow}{end}\n{speaker}: {words}")
        return ("WEBVTT\n\n" if kind == "vtt" else "") + "\n\n".join(blocks)
    if kind == "json":
        items: list[Any] = [
            {"speaker": speaker, "text": words, "start": draw(st.none() | st.floats() | st.text(max_size=5) | TIME)}
            for speaker, words, _, _ in turns
        ]
        items += draw(
            st.lists(st.none() | st.integers() | st.text(max_size=5) | st.dictionaries(WORDS, WORDS), max_size=2)
        )
        return json.dumps(items if draw(st.booleans()) else {"utterances": items})
    if kind == "annomi":
        header = draw(
            st.sampled_from(
                [
                    "transcript_id,utterance_id,interlocutor,utterance_text",
                    "transcript_id,utterance_id,interlocutor,utterance_text,timestamp",
                    "transcript_id,interlocutor,utterance_text",
                ]
            )
        )
        rows = [
            f"{draw(st.sampled_from(['1', '2', '', 'x']))},{draw(st.sampled_from(['0', '1', '1', '-3', 'a', '']))},"
            f'{draw(st.sampled_from(["therapist", "client", "other", ""]))},"{words.replace(chr(34), "")}",{start}'
            for _, words, start, _ in turns
        ]
        return "\n".join([header, *rows])
    return draw(st.text(max_size=200))


def parse_all_ways(text: str) -> None:
    for format in FORMATS:
        with contextlib.suppress(TranscriptError):
            parse(text, format=format)  # type: ignore[arg-type]
    with contextlib.suppress(TranscriptError):
        parse_annomi(text)


@QUICK
@given(text=transcript_like())
def test_every_parser_returns_a_transcript_or_a_transcript_error(text: str) -> None:
    parse_all_ways(text)


@pytest.mark.slow
@LONG
@given(text=transcript_like() | st.text())
def test_every_parser_returns_a_transcript_or_a_transcript_error_long(text: str) -> None:
    parse_all_ways(text)
