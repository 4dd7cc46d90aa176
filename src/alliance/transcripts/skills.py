"""Communication-skill feedback from a labelled session transcript, compared with MITI thresholds.

The input is a :class:`~alliance.transcripts.model.Transcript` whose utterances already carry labels (from the
labeller, or gold codes): therapist ``reflection`` (``simple`` | ``complex``), ``question`` (``open`` |
``closed``), ``therapist_input``, ``other``; client ``change``, ``neutral``, ``sustain``. Metrics that need
labels are ``None`` where the transcript has none; talk share, monologues, readability, jargon and the lexical
cues need only the text.

Definitions
-----------
- **Reflection-to-question ratio** R/Q over therapist utterances. With no questions it is undefined (``None``);
  if there were reflections it is rated ``good`` (any number of reflections to no questions is above 2:1).
- **Complex reflections** = complex / reflections that carry a sublabel; **open questions** likewise.
- **Therapist talk share** by words (therapist words / all words) and by time. An utterance lasts from its
  ``start`` to its ``end``, or to the next utterance's ``start`` when it has no end (AnnoMI gives starts only);
  the last one without an end, and any without a start, is left out of the time share.
- **Longest monologue**: consecutive therapist utterances merged into one turn; the longest by words (and
  separately by seconds), with its utterance range. Its seconds run from the first start to the last stop.
- **Change talk** = change / (change + sustain) among client utterances.
- **Sustained resistance**: a run of at least ``min_run`` (default 2) client utterances in a row, all sustain
  talk. Therapist turns between them do not break the run (turns alternate, so "in a row" means the client's
  consecutive answers); a client utterance that is change, neutral or unlabelled does. Each moment gives the
  range of utterance indices, its start time and a context window of ``context`` utterances either side
  (indices only: the app shows the text).
- **Empathy indicators** (not a validated score): reflections per labelled therapist utterance, and the share
  of therapist utterances with a lexical cue of each EPITOME mechanism (see :mod:`~alliance.transcripts.lexicons`).
- **Clarity** of therapist speech: Flesch reading ease, Flesch-Kincaid grade, mean sentence length (see
  :mod:`~alliance.transcripts.readability`) and jargon terms per word.
- **Self-disclosure share**: therapist utterances with a first-person self-disclosure cue, of all therapist
  utterances.

Only three metrics have MITI thresholds: R:Q (fair 1, good 2; MITI 4.2.1), complex reflections (fair 40%, good
50%; MITI 4.2.1) and open questions (fair 50%, good 70%; MITI 3.1.1). The others carry no rating.

References
----------
Moyers, T. B., Manuel, J. K., & Ernst, D. (2014). Motivational Interviewing Treatment Integrity Coding Manual
4.2.1. Unpublished manual.
Moyers, T. B., Martin, T., Manuel, J. K., Miller, W. R., & Ernst, D. (2010). Revised Global Scales:
Motivational Interviewing Treatment Integrity 3.1.1. University of New Mexico, CASAA.
Wu, Z., Balloccu, S., Kumar, V., Helaoui, R., Reiter, E., Reforgiato Recupero, D., & Riboni, D. (2022).
AnnoMI: a dataset of expert-annotated counselling dialogues. ICASSP 2022, 6177-6181.
Sharma, A., Miner, A. S., Atkins, D. C., & Althoff, T. (2020). A computational approach to understanding
empathy expressed in text-based mental health support. EMNLP 2020, 5263-5276.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, is_dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from alliance.transcripts import lexicons
from alliance.transcripts.model import Transcript
from alliance.transcripts.readability import WORD, readability

__all__ = [
    "THRESHOLDS",
    "Clarity",
    "Counts",
    "Cue",
    "Empathy",
    "Metric",
    "Monologue",
    "Rating",
    "ResistanceMoment",
    "SelfDisclosure",
    "SkillReport",
    "Threshold",
    "rate",
    "skills",
]

Rating = Literal["below fair", "fair", "good"]


@dataclass(frozen=True)
class Threshold:
    """The MITI cut-offs of one metric: at least ``fair`` is fair, at least ``good`` is good."""

    fair: float
    good: float
    source: str


THRESHOLDS: dict[str, Threshold] = {
    "reflection_to_question": Threshold(1.0, 2.0, "MITI 4.2.1"),
    "complex_reflections": Threshold(0.40, 0.50, "MITI 4.2.1"),
    "open_questions": Threshold(0.50, 0.70, "MITI 3.1.1"),
}


@dataclass(frozen=True)
class Metric:
    """One number and, where MITI gives cut-offs, its rating; ``value`` is ``None`` when it cannot be computed."""

    value: float | None
    rating: Rating | None = None
    fair: float | None = None
    good: float | None = None
    source: str | None = None


def rate(value: float | None, threshold: Threshold | None) -> Metric:
    """Rate ``value`` against ``threshold`` (no rating without a threshold or a value)."""
    if threshold is None:
        return Metric(value)
    rating: Rating | None = None
    if value is not None:
        rating = "good" if value >= threshold.good else "fair" if value >= threshold.fair else "below fair"
    return Metric(value, rating, threshold.fair, threshold.good, threshold.source)


@dataclass(frozen=True)
class Counts:
    """Utterances by speaker and by label (``unlabelled`` counts utterances without a label)."""

    utterances: int
    therapist: int
    client: int
    unlabelled: int
    reflections: int
    simple_reflections: int
    complex_reflections: int
    questions: int
    open_questions: int
    closed_questions: int
    therapist_input: int
    other: int
    change: int
    neutral: int
    sustain: int


@dataclass(frozen=True)
class Monologue:
    """A run of consecutive therapist utterances: ``first`` and ``last`` are utterance indices."""

    first: int
    last: int
    utterances: int
    words: int
    seconds: float | None
    start: float | None


@dataclass(frozen=True)
class ResistanceMoment:
    """Consecutive client sustain talk: ``first`` to ``last`` utterance index, and the context window around it."""

    first: int
    last: int
    sustain: int
    start: float | None
    context_first: int
    context_last: int


@dataclass(frozen=True)
class Cue:
    """Therapist utterances with at least one cue of a kind, and their share of all therapist utterances."""

    utterances: int
    share: float | None


@dataclass(frozen=True)
class Empathy:
    """Empathy indicators after EPITOME's three mechanisms; lexical cues, not a validated empathy score."""

    reflection_rate: float | None
    emotional_reactions: Cue
    interpretations: Cue
    explorations: Cue


@dataclass(frozen=True)
class Clarity:
    """Readability and jargon of the therapist's speech (``None`` where the therapist said no words)."""

    words: int
    sentences: int
    syllables: int
    reading_ease: float | None
    grade_level: float | None
    mean_sentence_length: float | None
    jargon_terms: int
    jargon_rate: float | None


@dataclass(frozen=True)
class SelfDisclosure:
    """Therapist utterances with a self-disclosure cue: how many, their share, and their indices."""

    utterances: int
    share: float | None
    indices: tuple[int, ...]


@dataclass(frozen=True)
class SkillReport:
    """Skill metrics of one session; :meth:`to_dict` gives plain JSON-ready values (no transcript text)."""

    counts: Counts
    reflection_to_question: Metric
    complex_reflections: Metric
    open_questions: Metric
    therapist_word_share: Metric
    therapist_time_share: Metric
    longest_monologue: Monologue | None
    longest_monologue_by_time: Monologue | None
    change_talk: Metric
    resistance: tuple[ResistanceMoment, ...] | None
    empathy: Empathy
    clarity: Clarity
    self_disclosure: SelfDisclosure

    def to_dict(self) -> dict[str, Any]:
        """Return the report as nested dicts and lists of numbers, strings and ``None`` (NaN becomes ``None``)."""
        plain = _plain(self)
        assert isinstance(plain, dict)  # a dataclass always becomes a dict
        return plain


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def skills(transcript: Transcript, *, min_run: int = 2, context: int = 2) -> SkillReport:
    """Compute the skill metrics of one session from its (labelled) utterances.

    Parameters
    ----------
    transcript:
        The session; labels are read from its utterances (see the module docstring for the definitions).
    min_run:
        Fewest consecutive client sustain utterances that make a moment of sustained resistance.
    context:
        Utterances to show either side of a resistance moment.

    Returns
    -------
    SkillReport
    """
    table = _table(transcript)
    therapist = table["speaker"].eq("therapist").to_numpy()
    label = table["label"]
    counts = _counts(table, therapist)

    reflections, questions = counts.reflections, counts.questions
    ratio = reflections / questions if questions else None
    ratio_metric = rate(ratio, THRESHOLDS["reflection_to_question"])
    if questions == 0 and reflections > 0:
        ratio_metric = Metric(None, "good", *_cutoffs("reflection_to_question"))
    has_client_labels = bool(label[~therapist].notna().any())

    words = table["words"].to_numpy()
    total_words = int(words.sum())
    # Out-of-order timestamps give negative durations: count them as no time rather than negative time.
    durations = np.clip(table["stop"].to_numpy() - table["start"].to_numpy(), 0, None)
    timed = np.isfinite(durations)
    therapist_seconds = float(durations[timed & therapist].sum())
    timed_total = therapist_seconds + float(durations[timed & ~therapist].sum())

    therapist_texts = table.loc[therapist, "text"]
    normalised = therapist_texts.map(lexicons.normalise)
    n_therapist = int(therapist.sum())

    return SkillReport(
        counts=counts,
        reflection_to_question=ratio_metric,
        complex_reflections=rate(
            _share(counts.complex_reflections, counts.simple_reflections + counts.complex_reflections),
            THRESHOLDS["complex_reflections"],
        ),
        open_questions=rate(
            _share(counts.open_questions, counts.open_questions + counts.closed_questions),
            THRESHOLDS["open_questions"],
        ),
        therapist_word_share=Metric(_share(int(words[therapist].sum()), total_words)),
        therapist_time_share=Metric(therapist_seconds / timed_total if timed_total > 0 else None),
        longest_monologue=_monologue(table, therapist, by="words"),
        longest_monologue_by_time=_monologue(table, therapist, by="seconds"),
        change_talk=Metric(_share(counts.change, counts.change + counts.sustain)),
        resistance=_resistance(table, therapist, min_run=min_run, context=context) if has_client_labels else None,
        empathy=Empathy(
            reflection_rate=_share(reflections, int(label[therapist].notna().sum())),
            emotional_reactions=_cue(normalised, lexicons.EMOTIONAL_REACTIONS, n_therapist),
            interpretations=_cue(normalised, lexicons.INTERPRETATIONS, n_therapist),
            explorations=_cue(normalised, lexicons.EXPLORATIONS, n_therapist),
        ),
        clarity=_clarity(therapist_texts, normalised),
        self_disclosure=_self_disclosure(normalised, table.loc[therapist, "index"], n_therapist),
    )


def _cutoffs(name: str) -> tuple[float, float, str]:
    threshold = THRESHOLDS[name]
    return threshold.fair, threshold.good, threshold.source


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _table(transcript: Transcript) -> pd.DataFrame:
    """One row per utterance: index, speaker, labels, text, words, start, and stop (end, else next start)."""
    utterances = transcript.utterances
    table = pd.DataFrame(
        {
            "index": [u.index for u in utterances],
            "speaker": [u.speaker for u in utterances],
            "label": pd.Series([u.label for u in utterances], dtype=object),
            "sublabel": pd.Series([u.sublabel for u in utterances], dtype=object),
            "text": pd.Series([u.text for u in utterances], dtype=object),
            "start": np.array([np.nan if u.start is None else u.start for u in utterances], dtype=float),
            "end": np.array([np.nan if u.end is None else u.end for u in utterances], dtype=float),
        }
    )
    table["words"] = table["text"].str.count(WORD.pattern).astype(int)
    table["stop"] = table["end"].where(table["end"].notna(), table["start"].shift(-1))
    return table


def _counts(table: pd.DataFrame, therapist: np.ndarray) -> Counts:
    label = table["label"].where(pd.Series(therapist), "client:" + table["label"].fillna(""))
    pair = label.fillna("") + "/" + table["sublabel"].fillna("")
    tally = label.value_counts()
    pairs = pair.value_counts()

    def n(key: str) -> int:
        return int(tally.get(key, 0))

    return Counts(
        utterances=len(table),
        therapist=int(therapist.sum()),
        client=int((~therapist).sum()),
        unlabelled=int(table["label"].isna().sum()),
        reflections=n("reflection"),
        simple_reflections=int(pairs.get("reflection/simple", 0)),
        complex_reflections=int(pairs.get("reflection/complex", 0)),
        questions=n("question"),
        open_questions=int(pairs.get("question/open", 0)),
        closed_questions=int(pairs.get("question/closed", 0)),
        therapist_input=n("therapist_input"),
        other=n("other"),
        change=n("client:change"),
        neutral=n("client:neutral"),
        sustain=n("client:sustain"),
    )


def _monologue(table: pd.DataFrame, therapist: np.ndarray, *, by: Literal["words", "seconds"]) -> Monologue | None:
    mine = np.flatnonzero(therapist)
    if not len(mine):
        return None
    # A run starts wherever a therapist utterance does not directly follow another one.
    opens = np.flatnonzero(np.r_[True, np.diff(mine) > 1])
    firsts, lasts = mine[opens], mine[np.r_[opens[1:] - 1, len(mine) - 1]]
    words = np.add.reduceat(table["words"].to_numpy()[mine], opens)
    start, stop = table["start"].to_numpy(), table["stop"].to_numpy()
    seconds = np.clip(stop[lasts] - start[firsts], 0, None)
    if by == "seconds" and not np.isfinite(seconds).any():
        return None
    best = int(np.nanargmax(words if by == "words" else seconds))  # the first of equals
    index = table["index"].to_numpy()
    return Monologue(
        first=int(index[firsts[best]]),
        last=int(index[lasts[best]]),
        utterances=int(lasts[best] - firsts[best] + 1),
        words=int(words[best]),
        seconds=float(seconds[best]) if np.isfinite(seconds[best]) else None,
        start=float(start[firsts[best]]) if np.isfinite(start[firsts[best]]) else None,
    )


def _resistance(
    table: pd.DataFrame, therapist: np.ndarray, *, min_run: int, context: int
) -> tuple[ResistanceMoment, ...]:
    positions = np.flatnonzero(~therapist)
    sustain = table["label"].to_numpy()[positions] == "sustain"
    # Runs of sustain in the client's own sequence of utterances: edges where it switches on and off.
    edges = np.diff(np.r_[0, sustain.astype(int), 0])
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    index, start = table["index"].to_numpy(), table["start"].to_numpy()
    last_position = len(table) - 1
    moments = []
    for run_start, run_stop in zip(starts, stops, strict=True):
        if run_stop - run_start < min_run:
            continue
        first, last = positions[run_start], positions[run_stop - 1]
        moments.append(
            ResistanceMoment(
                first=int(index[first]),
                last=int(index[last]),
                sustain=int(run_stop - run_start),
                start=None if np.isnan(start[first]) else float(start[first]),
                context_first=int(index[max(0, first - context)]),
                context_last=int(index[min(last_position, last + context)]),
            )
        )
    return tuple(moments)


def _cue(normalised: pd.Series, phrases: tuple[str, ...], n_therapist: int) -> Cue:
    hits = int(normalised.str.contains(lexicons.matcher(phrases)).sum())
    return Cue(hits, _share(hits, n_therapist))


def _clarity(texts: pd.Series, normalised: pd.Series) -> Clarity:
    scores = readability(texts.tolist())
    jargon = int(normalised.str.count(lexicons.matcher(lexicons.JARGON).pattern).sum())

    def finite(value: float) -> float | None:
        return value if math.isfinite(value) else None

    return Clarity(
        words=scores.words,
        sentences=scores.sentences,
        syllables=scores.syllables,
        reading_ease=finite(scores.reading_ease),
        grade_level=finite(scores.grade_level),
        mean_sentence_length=finite(scores.mean_sentence_length),
        jargon_terms=jargon,
        jargon_rate=_share(jargon, scores.words),
    )


def _self_disclosure(normalised: pd.Series, index: pd.Series, n_therapist: int) -> SelfDisclosure:
    found = normalised.str.contains(lexicons.matcher(lexicons.SELF_DISCLOSURE)).to_numpy(dtype=bool)
    indices = tuple(int(i) for i in index.to_numpy()[found])
    return SelfDisclosure(len(indices), _share(len(indices), n_therapist), indices)
