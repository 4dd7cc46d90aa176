"""The feedback page's content: the stored report in words and numbers, resistance moments with the utterances around
them, the labelled transcript (low-confidence labels marked) and that appointment's client check-ins."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from alliance.clinic.checkins.models import CheckIn
from alliance.clinic.listening.models import Analysis, SessionTranscript
from alliance.clinic.registry import instruments
from alliance.instruments import UnknownInstrumentError

__all__ = ["LOW_CONFIDENCE", "Feedback", "Line", "MetricRow", "feedback"]

#: Labels below this confidence are marked on the page (check them in the transcript).
LOW_CONFIDENCE = 0.6

_LABEL_WORDS = {
    ("reflection", "simple"): "simple reflection",
    ("reflection", "complex"): "complex reflection",
    ("reflection", None): "reflection",
    ("question", "open"): "open question",
    ("question", "closed"): "closed question",
    ("question", None): "question",
    ("therapist_input", None): "therapist input",
    ("other", None): "other",
    ("change", None): "change talk",
    ("neutral", None): "neutral",
    ("sustain", None): "sustain talk",
}


@dataclass(frozen=True)
class MetricRow:
    """One metric as shown: its value in words, the MITI threshold and whether it was met."""

    name: str
    value: str
    threshold: str
    verdict: str  # "met (good)", "met (fair)", "not met", "no threshold", "not computable"
    css: str
    note: str = ""


@dataclass(frozen=True)
class Line:
    """One utterance on the page."""

    index: int
    speaker: str
    text: str
    label: str
    confidence: float | None
    low: bool
    highlight: bool = False


@dataclass(frozen=True)
class Moment:
    first: int
    last: int
    sustain: int
    start: str
    lines: tuple[Line, ...]


@dataclass(frozen=True)
class CheckinSummary:
    title: str
    total: str
    band: str
    rows: tuple[tuple[str, str], ...] = ()


@dataclass
class Feedback:
    rated: list[MetricRow]
    talk: list[MetricRow]
    empathy: list[MetricRow]
    clarity: list[MetricRow]
    moments: list[Moment]
    lines: list[Line]
    low_count: int
    checkins: list[CheckinSummary]
    labeller: str
    counts: Mapping[str, int] = field(default_factory=dict)
    self_disclosure: list[Line] = field(default_factory=list)


def feedback(stored: SessionTranscript, analysis: Analysis) -> Feedback:
    """Build the feedback of a finished analysis (decrypts the transcript for the utterances shown in context)."""
    report: Mapping[str, Any] = analysis.report
    predictions = {int(p["index"]): p for p in analysis.predictions}
    lines = [_line(u.index, u.speaker, u.text, predictions.get(u.index)) for u in stored.transcript().utterances]
    by_index = {line.index: position for position, line in enumerate(lines)}
    moments = [_moment(m, lines, by_index) for m in report.get("resistance") or []]
    disclosure = report.get("self_disclosure") or {}
    return Feedback(
        rated=_rated(report),
        talk=_talk(report),
        empathy=_empathy(report),
        clarity=_clarity(report),
        moments=moments,
        lines=lines,
        low_count=sum(1 for line in lines if line.low),
        checkins=_checkins(stored),
        labeller=analysis.labeller,
        counts=report.get("counts") or {},
        self_disclosure=[lines[by_index[i]] for i in disclosure.get("indices", []) if i in by_index],
    )


def _line(index: int, speaker: str, text: str, prediction: Mapping[str, Any] | None) -> Line:
    if prediction is None:
        return Line(index, speaker, text, "unlabelled", None, False)
    label = _LABEL_WORDS.get((prediction["label"], prediction.get("sublabel")), str(prediction["label"]))
    confidence = float(prediction["confidence"])
    return Line(index, speaker, text, label, confidence, confidence < LOW_CONFIDENCE)


def _moment(moment: Mapping[str, Any], lines: Sequence[Line], by_index: Mapping[int, int]) -> Moment:
    first, last = by_index.get(moment["context_first"], 0), by_index.get(moment["context_last"], len(lines) - 1)
    shown = []
    for line in lines[first : last + 1]:
        inside = moment["first"] <= line.index <= moment["last"] and line.speaker == "client"
        shown.append(Line(line.index, line.speaker, line.text, line.label, line.confidence, line.low, inside))
    return Moment(moment["first"], moment["last"], moment["sustain"], _clock(moment.get("start")), tuple(shown))


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.0f}%"


def _number(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return ""
    whole = int(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


def _verdict(metric: Mapping[str, Any]) -> tuple[str, str]:
    rating = metric.get("rating")
    if metric.get("fair") is None:
        return "no threshold", "neutral"
    if rating is None:
        return "not computable", "neutral"
    if rating == "below fair":
        return "not met", "unmet"
    return f"met ({rating})", "met"


def _rated(report: Mapping[str, Any]) -> list[MetricRow]:
    rows = []
    specs = (
        ("reflection_to_question", "Reflections per question", lambda v: _number(v, 2), lambda x: f"{x:g}"),
        ("complex_reflections", "Complex reflections (of reflections)", _percent, _percent),
        ("open_questions", "Open questions (of questions)", _percent, _percent),
    )
    for key, name, show, cut in specs:
        metric = report.get(key) or {}
        verdict, css = _verdict(metric)
        value = metric.get("value")
        note = ""
        if key == "reflection_to_question" and value is None and metric.get("rating") == "good":
            value_text, note = "no questions", "reflections and no questions: rated good"
        else:
            value_text = show(value)
        threshold = (
            f"fair ≥ {cut(metric['fair'])}, good ≥ {cut(metric['good'])} ({metric.get('source')})"
            if metric.get("fair") is not None
            else "—"
        )
        rows.append(MetricRow(name, value_text, threshold, verdict, css, note))
    return rows


def _plain(name: str, value: str, note: str = "") -> MetricRow:
    return MetricRow(name, value, "—", "no threshold", "neutral", note)


def _talk(report: Mapping[str, Any]) -> list[MetricRow]:
    counts = report.get("counts") or {}
    rows = [
        _plain("Your share of the words", _percent((report.get("therapist_word_share") or {}).get("value"))),
        _plain(
            "Your share of the time",
            _percent((report.get("therapist_time_share") or {}).get("value")),
            "needs timestamps (WebVTT, SRT, JSON with times)",
        ),
    ]
    longest = report.get("longest_monologue")
    if longest:
        seconds = f", {longest['seconds']:.0f} s" if longest.get("seconds") is not None else ""
        rows.append(
            _plain(
                "Longest monologue",
                f"{longest['words']} words{seconds}",
                f"utterances {longest['first']}–{longest['last']} ({longest['utterances']} in a row)",
            )
        )
    change = (report.get("change_talk") or {}).get("value")
    rows.append(
        _plain(
            "Change talk vs sustain talk",
            f"{counts.get('change', 0)} : {counts.get('sustain', 0)}",
            f"change talk is {_percent(change)} of change + sustain; {counts.get('neutral', 0)} neutral",
        )
    )
    return rows


def _empathy(report: Mapping[str, Any]) -> list[MetricRow]:
    empathy = report.get("empathy") or {}
    rows = [_plain("Reflections (of your labelled utterances)", _percent(empathy.get("reflection_rate")))]
    for key, name in (
        ("emotional_reactions", "Emotional reactions (warmth, concern)"),
        ("interpretations", "Interpretations (what the client seems to feel)"),
        ("explorations", "Explorations (asking about what was not said)"),
    ):
        cue = empathy.get(key) or {}
        rows.append(
            _plain(
                name,
                f"{cue.get('utterances', 0)} utterance{'' if cue.get('utterances', 0) == 1 else 's'}",
                _percent(cue.get("share")),
            )
        )
    disclosure = report.get("self_disclosure") or {}
    rows.append(
        _plain("Self-disclosure", f"{disclosure.get('utterances', 0)} utterances", _percent(disclosure.get("share")))
    )
    return rows


def _clarity(report: Mapping[str, Any]) -> list[MetricRow]:
    clarity = report.get("clarity") or {}
    return [
        _plain("Reading ease (Flesch)", _number(clarity.get("reading_ease"), 0), "higher is easier; 60–70 is plain"),
        _plain("Grade level (Flesch–Kincaid)", _number(clarity.get("grade_level"))),
        _plain("Words per sentence", _number(clarity.get("mean_sentence_length"))),
        _plain(
            "Jargon",
            f"{clarity.get('jargon_terms', 0)} terms",
            f"{_number(None if clarity.get('jargon_rate') is None else 1000 * clarity['jargon_rate'])} per 1,000 words",
        ),
    ]


def _checkins(stored: SessionTranscript) -> list[CheckinSummary]:
    registry = instruments()
    found = []
    order = {"alliance-client": 0, "phq9": 1, "gad7": 2}
    checkins = CheckIn.objects.filter(
        appointment_id=stored.appointment_id, respondent=CheckIn.Respondent.CLIENT, instrument__in=tuple(order)
    )
    for checkin in sorted(checkins, key=lambda c: (order.get(c.instrument, 9), c.submitted_at)):
        try:
            instrument = registry.get(checkin.instrument)
        except UnknownInstrumentError:
            continue
        title = instrument.title.get("en") or instrument.id
        total = "—" if checkin.total is None else f"{checkin.total:g}"
        rows: tuple[tuple[str, str], ...] = ()
        if checkin.instrument == "alliance-client":
            rows = tuple(
                (
                    item.domain or item.id,
                    "—" if checkin.answers.get(item.id) is None else f"{checkin.answers[item.id]:g}",
                )
                for item in instrument.items
            )
        found.append(CheckinSummary(str(title), total, checkin.severity, rows))
    return found
