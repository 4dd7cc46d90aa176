"""A session transcript as values: who said what, when, and (once labelled) what kind of talk it was.

Labels follow AnnoMI (Wu et al. 2022), which codes motivational-interviewing behaviour after the MITI:
therapist utterances are a reflection (simple or complex), a question (open or closed), therapist input or
other; client utterances are change talk, neutral talk or sustain talk. A parser makes unlabelled
utterances; a labeller (or gold annotations) fills ``label`` and ``sublabel`` with :meth:`Transcript.with_labels`;
the skill metrics read the labels and never the other way round.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal, get_args

__all__ = [
    "CLIENT_LABELS",
    "QUESTION_SUBLABELS",
    "REFLECTION_SUBLABELS",
    "SPEAKERS",
    "SUBLABELS",
    "THERAPIST_LABELS",
    "Speaker",
    "Transcript",
    "Utterance",
    "label_problem",
]

Speaker = Literal["therapist", "client"]
SPEAKERS: tuple[str, ...] = get_args(Speaker)

THERAPIST_LABELS = ("reflection", "question", "therapist_input", "other")
CLIENT_LABELS = ("change", "neutral", "sustain")
REFLECTION_SUBLABELS = ("simple", "complex")
QUESTION_SUBLABELS = ("open", "closed")
#: Which sublabels each label may carry; a label not named here carries none.
SUBLABELS: dict[str, tuple[str, ...]] = {"reflection": REFLECTION_SUBLABELS, "question": QUESTION_SUBLABELS}


@dataclass(frozen=True)
class Utterance:
    """One turn of talk.

    Parameters
    ----------
    index:
        Position in the session: 0, 1, 2, ... in the order read, except for AnnoMI files, which keep their
        ``utterance_id`` so that labels and feedback can be joined back to the source.
    speaker:
        ``"therapist"`` or ``"client"``.
    text:
        What was said, whitespace collapsed to single spaces.
    start, end:
        Seconds from the start of the recording, where the source gives them.
    label, sublabel:
        Behaviour code (see the module docstring); ``None`` until labelled.
    """

    index: int
    speaker: Speaker
    text: str
    start: float | None = None
    end: float | None = None
    label: str | None = None
    sublabel: str | None = None


@dataclass(frozen=True)
class Transcript:
    """The utterances of one session in spoken order, and where they came from (a file name, or ``None``)."""

    utterances: tuple[Utterance, ...]
    source: str | None = None

    def __len__(self) -> int:
        return len(self.utterances)

    @property
    def labelled(self) -> bool:
        """Whether every utterance carries a label."""
        return all(u.label is not None for u in self.utterances)

    def with_labels(self, labels: Sequence[str | None], sublabels: Sequence[str | None] | None = None) -> Transcript:
        """Return a copy whose utterances carry ``labels`` (and ``sublabels``), one per utterance in order.

        This is where a labeller's output plugs in. Raises ``ValueError`` when the lengths differ or a label
        does not fit its speaker (a client utterance labelled ``"question"``, a ``"simple"`` question).
        """
        subs: Sequence[str | None] = sublabels if sublabels is not None else [None] * len(labels)
        if len(labels) != len(self.utterances) or len(subs) != len(self.utterances):
            raise ValueError(f"{len(labels)} labels and {len(subs)} sublabels for {len(self.utterances)} utterances")
        for utterance, label, sublabel in zip(self.utterances, labels, subs, strict=True):
            problem = label_problem(utterance.speaker, label, sublabel)
            if problem:
                raise ValueError(f"utterance {utterance.index}: {problem}")
        return replace(
            self,
            utterances=tuple(
                replace(u, label=label, sublabel=sublabel)
                for u, label, sublabel in zip(self.utterances, labels, subs, strict=True)
            ),
        )


def label_problem(speaker: str, label: str | None, sublabel: str | None) -> str | None:
    """Say what is wrong with a label for an utterance by ``speaker``, or return ``None`` when it fits."""
    allowed = THERAPIST_LABELS if speaker == "therapist" else CLIENT_LABELS
    if label is None:
        return "a sublabel without a label" if sublabel is not None else None
    if label not in allowed:
        return f"label {label!r} is not one of {', '.join(allowed)} (for a {speaker} utterance)"
    if sublabel is not None and sublabel not in SUBLABELS.get(label, ()):
        fitting = SUBLABELS.get(label)
        return f"sublabel {sublabel!r} does not fit label {label!r}" + (
            f" (use {', '.join(fitting)})" if fitting else " (it takes none)"
        )
    return None
