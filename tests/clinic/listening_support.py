"""Helpers for the transcript tests (import as ``from listening_support import ...``).

``ScriptedLabeller`` is a test double with the labeller's interface: it labels by simple visible rules so that the
metrics of a small transcript can be computed by hand. The real labeller is tested where it is built, and used here by
the tests marked ``real_labeller`` when it is installed.
"""

from __future__ import annotations

from collections.abc import Callable

from alliance.transcripts import Transcript
from alliance.transcripts.labeller import Prediction

# T/C lines of a tiny session whose metrics are counted by hand in the tests.
TINY = """T: What brings you here today?
C: I can't stop smoking, that's the thing.
T: Smoking feels out of your control.
C: There's no point trying again.
T: Did you try to stop before?
C: I want to quit for my kids.
"""
TINY_PHRASE = "no point trying again"


class ScriptedLabeller:
    """Therapist: '?' → question (open after what/how/why, else closed), else simple reflection. Client: "can't",
    "no point" → sustain; "want to" → change; else neutral. Confidence 0.9, except 0.4 for every utterance whose index
    is in ``low``."""

    name = "scripted test labeller"

    def __init__(self, low: frozenset[int] = frozenset({2})) -> None:
        self.low = low
        self.calls = 0

    def predict(
        self, transcript: Transcript, *, progress: Callable[[int, int], None] | None = None
    ) -> tuple[Prediction, ...]:
        self.calls += 1
        found = []
        for done, u in enumerate(transcript.utterances, start=1):
            text = u.text.lower()
            if u.speaker == "therapist":
                if text.endswith("?"):
                    label, sub = "question", "open" if text.startswith(("what", "how", "why")) else "closed"
                else:
                    label, sub = "reflection", "simple"
            else:
                sub = None
                label = (
                    "sustain"
                    if ("can't" in text or "no point" in text)
                    else "change"
                    if "want to" in text
                    else "neutral"
                )
            found.append(Prediction(u.index, u.speaker, label, sub, 0.4 if u.index in self.low else 0.9))
            if progress is not None:
                progress(done, len(transcript))
        return tuple(found)


class BrokenLabeller:
    """Fails the way a model might, with transcript text in its message (which must never be stored)."""

    name = "broken"

    def predict(
        self, transcript: Transcript, *, progress: Callable[[int, int], None] | None = None
    ) -> tuple[Prediction, ...]:
        raise RuntimeError(f"tokenizer choked on {transcript.utterances[0].text!r}")
