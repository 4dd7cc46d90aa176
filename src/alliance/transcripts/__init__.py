"""Session transcripts: parsers for common formats, and communication-skill metrics from labelled utterances."""

from alliance.transcripts.model import (
    CLIENT_LABELS,
    QUESTION_SUBLABELS,
    REFLECTION_SUBLABELS,
    THERAPIST_LABELS,
    Speaker,
    Transcript,
    Utterance,
)
from alliance.transcripts.parse import (
    FORMATS,
    Format,
    TranscriptError,
    detect_format,
    parse,
    parse_annomi,
    parse_json,
    parse_srt,
    parse_text,
    parse_timestamp,
    parse_vtt,
)
from alliance.transcripts.readability import Readability, count_syllables, readability
from alliance.transcripts.skills import THRESHOLDS, Metric, SkillReport, skills

__all__ = [
    "CLIENT_LABELS",
    "FORMATS",
    "QUESTION_SUBLABELS",
    "REFLECTION_SUBLABELS",
    "THERAPIST_LABELS",
    "THRESHOLDS",
    "Format",
    "Metric",
    "Readability",
    "SkillReport",
    "Speaker",
    "Transcript",
    "TranscriptError",
    "Utterance",
    "count_syllables",
    "detect_format",
    "parse",
    "parse_annomi",
    "parse_json",
    "parse_srt",
    "parse_text",
    "parse_timestamp",
    "parse_vtt",
    "readability",
    "skills",
]
