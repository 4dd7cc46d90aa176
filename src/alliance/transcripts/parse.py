"""Read session transcripts: plain text with speaker prefixes, WebVTT, SRT, JSON and AnnoMI-format CSV.

Every reader returns a :class:`~alliance.transcripts.model.Transcript` of unlabelled utterances (AnnoMI files
can also bring their gold labels). Speakers are roles, ``therapist`` or ``client``; a turn is recognised by a
prefix (``T:``, ``C:``, ``Therapist:``, ``Client:``, ``Counsellor:``, ``Patient:`` ..., any case) or by a
name the caller maps to a role (``speakers={"Dr Lee": "therapist", "Sam": "client"}``). A prefix that looks
like a name but is neither is reported as an unknown speaker, never guessed.

Errors are :class:`TranscriptError`, one line naming the file and the line (CSV: the data row and column,
JSON: the item). Messages never quote what was said: a transcript is clinical data.
"""

from __future__ import annotations

import csv
import html
import io
import json
import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, cast, get_args

import pandas as pd

from alliance.errors import InputError
from alliance.files import read_text
from alliance.transcripts.model import (
    CLIENT_LABELS,
    QUESTION_SUBLABELS,
    REFLECTION_SUBLABELS,
    SPEAKERS,
    THERAPIST_LABELS,
    Speaker,
    Transcript,
    Utterance,
    label_problem,
)

__all__ = [
    "ANNOMI_COLUMNS",
    "FORMATS",
    "Format",
    "TranscriptError",
    "detect_format",
    "parse",
    "parse_annomi",
    "parse_json",
    "parse_srt",
    "parse_text",
    "parse_timestamp",
    "parse_vtt",
]

Format = Literal["auto", "txt", "vtt", "srt", "json", "annomi"]
FORMATS: tuple[str, ...] = get_args(Format)

_Fail = Callable[["pd.Series[bool]", str, str], None]

ANNOMI_COLUMNS = ("transcript_id", "utterance_id", "interlocutor", "utterance_text")
"""Columns an AnnoMI-format CSV must have; ``timestamp`` and the label columns are optional."""

# Prefixes every transcript understands without a speaker map (matched case-insensitively).
DEFAULT_ROLES: dict[str, Speaker] = {
    "t": "therapist",
    "therapist": "therapist",
    "counsellor": "therapist",
    "counselor": "therapist",
    "c": "client",
    "client": "client",
    "patient": "client",
}
EXTENSIONS: dict[str, Format] = {
    ".txt": "txt",
    ".text": "txt",
    ".vtt": "vtt",
    ".srt": "srt",
    ".json": "json",
    ".csv": "annomi",
}
SPEAKER_HINT = "map names with --speaker NAME=ROLE"

_PREFIX = re.compile(r"^\s*([^:]{1,60}?)\s*:\s*(.*)$")
# A prefix that could be somebody's name: one to three words ("Jo", "Dr. Lee", "Speaker 2"). Such a prefix is an
# unknown speaker; anything else before a colon ("So here is the thing: ...") is just text.
_NAME_LIKE = re.compile(r"^[^\W\d_][\w.'’-]*(?:\s+(?:[^\W\d_][\w.'’-]*|\d+)){0,2}$")
_VOICE = re.compile(r"^\s*<v(?:\.[^\s>]*)?(?:\s+([^>]*))?>(.*)$")
_TAG = re.compile(r"<[^>]*>")
_SRT_TAG = re.compile(r"</?(?:i|b|u|font)(?:\s[^>]*)?>|\{\\[^}]*\}", re.IGNORECASE)
_VTT_TIME = re.compile(r"^(?:(\d{2,}):)?([0-5]\d):([0-5]\d)\.(\d{3})$")
_SRT_TIME = re.compile(r"^(\d+):([0-5]\d):([0-5]\d)[,.](\d{1,3})$")
_TIMING = re.compile(r"^\s*(\S+)[ \t]+-->[ \t]+(\S+)(?:[ \t].*)?$")
# AnnoMI writes HH:MM:SS; a stray extra digit (one row of the data set says 00:09:025) still reads as seconds.
_CLOCK = re.compile(r"^(?:(\d+):)?(\d{1,2}):(\d+(?:\.\d+)?)$")


class TranscriptError(InputError):
    """A transcript that cannot be read; names the file and the line, row or item where it went wrong.

    ``line`` counts lines of a text file from 1 (plain text, WebVTT, SRT, JSON syntax); ``row`` and ``column``
    are the CSV data row and column as in :class:`~alliance.errors.InputError`; ``item`` counts the entries
    of a JSON list from 1.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        row: int | None = None,
        column: str | None = None,
        item: int | None = None,
    ) -> None:
        self.line = line
        self.item = item
        super().__init__(message, file=file, row=row, column=column)

    def __str__(self) -> str:
        where = [self.file] if self.file is not None else []
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.row is not None:
            where.append(f"row {self.row} (line {self.row + 1})")
        if self.item is not None:
            where.append(f"item {self.item}")
        if self.column is not None:
            where.append(f"column '{self.column}'")
        return ", ".join(where) + ": " + self.message if where else self.message

    def located(self, *, file: str) -> TranscriptError:
        """Return a copy of this error that also names ``file``."""
        return TranscriptError(
            self.message, file=file, line=self.line, row=self.row, column=self.column, item=self.item
        )


# ----------------------------------------------------------------------------------------------------- entry


def parse(
    source: str | Path,
    *,
    format: Format = "auto",
    speakers: Mapping[str, str] | None = None,
) -> Transcript:
    """Read one session transcript from a file or from text.

    Parameters
    ----------
    source:
        A :class:`~pathlib.Path` is always a file. A ``str`` is the transcript itself, unless it is a single
        line naming an existing file (or a missing file with a transcript extension, which is an error).
    format:
        ``"auto"`` picks by the file extension (``.txt``, ``.vtt``, ``.srt``, ``.json``, ``.csv``) and
        otherwise by content (see :func:`detect_format`).
    speakers:
        Names used as prefixes or voice tags, mapped to ``"therapist"`` or ``"client"`` (not used for AnnoMI,
        whose ``interlocutor`` column already names the role).

    Raises
    ------
    TranscriptError
        Unreadable file, unknown format, unknown speaker, malformed timing, bad JSON, missing CSV columns, an
        empty transcript; or an AnnoMI file holding several transcripts (use :func:`parse_annomi`).
    """
    if format not in FORMATS:
        raise TranscriptError(f"unknown format {format!r} (use one of {', '.join(FORMATS)})")
    text, name = _read(source)
    chosen = format if format != "auto" else detect_format(text, name=name)
    if chosen == "annomi":
        transcripts = _annomi(text, file=name, with_labels=False)
        if len(transcripts) != 1:
            raise TranscriptError(
                f"holds {len(transcripts)} transcripts; read it with parse_annomi (one per transcript_id)",
                file=name,
            )
        return next(iter(transcripts.values()))
    reader = {"txt": parse_text, "vtt": parse_vtt, "srt": parse_srt, "json": parse_json}[chosen]
    return reader(text, speakers=speakers, file=name)


def detect_format(text: str, *, name: str | None = None) -> Format:
    """Tell the format of a transcript: by the extension of ``name`` when it has a known one, else by content.

    Content rules, in order: a ``WEBVTT`` first line is WebVTT; ``[`` or ``{`` first is JSON; a CSV header
    with the AnnoMI columns is AnnoMI; a number on the first line and a ``-->`` timing on the second is SRT;
    anything else is plain text.
    """
    if name is not None:
        known = EXTENSIONS.get(Path(name).suffix.lower())
        if known is not None:
            return known
    body = text.lstrip("\ufeff \t\r\n")
    if body.startswith("WEBVTT"):
        return "vtt"
    if body[:1] in ("[", "{"):
        return "json"
    lines = body.split("\n", 2)
    if set(ANNOMI_COLUMNS) <= {cell.strip() for cell in lines[0].split(",")}:
        return "annomi"
    if len(lines) > 1 and lines[0].strip().isdigit() and "-->" in lines[1]:
        return "srt"
    return "txt"


# ------------------------------------------------------------------------------------------------ plain text


def parse_text(text: str, *, speakers: Mapping[str, str] | None = None, file: str | None = None) -> Transcript:
    """Read a plain-text transcript: each turn starts with a speaker prefix, lines without one continue it.

    Blank lines are ignored (they neither end nor start a turn).
    """
    roles = _Roles(speakers, file=file)
    turns = _Turns(file=file)
    for number, line in enumerate(_lines(text), start=1):
        if not line.strip():
            continue
        speaker, rest = roles.split(line, line_number=number)
        if speaker is not None:
            turns.start(speaker, rest, line=number)
        else:
            turns.extend(
                line,
                line=number,
                why="text before the first speaker prefix (start each turn with 'T:', 'C:', 'Therapist:', "
                "'Client:' or a mapped name)",
            )
    return turns.transcript()


# ----------------------------------------------------------------------------------------------- WebVTT, SRT


def parse_vtt(text: str, *, speakers: Mapping[str, str] | None = None, file: str | None = None) -> Transcript:
    """Read a WebVTT file: cue timings give start and end; voice tags (``<v Therapist>``) or prefixes the speaker.

    NOTE, STYLE and REGION blocks are skipped; cue identifiers and settings are ignored; a cue without a
    speaker continues the turn before it (captioners split long turns over several cues).
    """
    lines = _lines(text)
    first = lines[0].lstrip("\ufeff") if lines else ""
    if not (first == "WEBVTT" or first.startswith(("WEBVTT ", "WEBVTT\t"))):
        raise TranscriptError("not a WebVTT file (the first line must be WEBVTT)", file=file, line=1)
    roles = _Roles(speakers, file=file)
    turns = _Turns(file=file)
    blocks = _blocks(lines)
    for number, line in next(blocks, []):  # the header block: WEBVTT and its header lines
        if "-->" in line:
            raise TranscriptError("a blank line must follow the WEBVTT header", file=file, line=number)
    for block in blocks:
        head = block[0][1]
        if head.split(maxsplit=1)[0] in ("NOTE", "STYLE", "REGION") and "-->" not in head:
            continue
        timing_at = 0 if "-->" in head else 1
        if timing_at >= len(block) or "-->" not in block[timing_at][1]:
            raise TranscriptError(
                "expected a cue timing line 'HH:MM:SS.mmm --> HH:MM:SS.mmm'", file=file, line=block[0][0]
            )
        number, timing = block[timing_at]
        start, end = _cue_times(timing, _VTT_TIME, file=file, line=number, example="HH:MM:SS.mmm")
        _cue_payload(block[timing_at + 1 :], start, end, roles=roles, turns=turns, strip=_TAG)
    return turns.transcript()


def parse_srt(text: str, *, speakers: Mapping[str, str] | None = None, file: str | None = None) -> Transcript:
    """Read an SRT file: cue number, timing ``00:00:01,000 --> 00:00:04,000``, then text with speaker prefixes.

    Formatting tags (``<i>``, ``<b>``, ``<font>``) are dropped; a cue without a speaker continues the turn
    before it.
    """
    roles = _Roles(speakers, file=file)
    turns = _Turns(file=file)
    for block in _blocks(_lines(text)):
        number, head = block[0]
        if not head.strip().lstrip("\ufeff").isdigit():
            raise TranscriptError("expected a cue number", file=file, line=number)
        if len(block) < 2 or "-->" not in block[1][1]:
            raise TranscriptError(
                "expected a cue timing line 'HH:MM:SS,mmm --> HH:MM:SS,mmm'", file=file, line=number + 1
            )
        start, end = _cue_times(block[1][1], _SRT_TIME, file=file, line=block[1][0], example="HH:MM:SS,mmm")
        _cue_payload(block[2:], start, end, roles=roles, turns=turns, strip=_SRT_TAG)
    return turns.transcript()


def _cue_payload(
    payload: list[tuple[int, str]],
    start: float,
    end: float,
    *,
    roles: _Roles,
    turns: _Turns,
    strip: re.Pattern[str],
) -> None:
    """Add the text lines of one cue: a voice tag or a prefix starts a turn, other lines continue one."""
    for number, raw in payload:
        voice = _VOICE.match(raw)
        if voice and voice.group(1) and voice.group(1).strip():
            name = voice.group(1).strip()
            speaker = roles.role(name)
            if speaker is None:
                raise roles.unknown(name, line=number)
            turns.start(speaker, _clean(voice.group(2), strip), line=number, start=start, end=end)
            continue
        line = _clean(raw, strip)
        speaker, rest = roles.split(line, line_number=number)
        if speaker is not None:
            turns.start(speaker, rest, line=number, start=start, end=end)
        else:
            turns.extend(
                line,
                line=number,
                end=end,
                why="cue has no speaker (use a voice tag such as <v Therapist> or a prefix such as 'T:')",
            )


def _clean(text: str, strip: re.Pattern[str]) -> str:
    """Drop markup; WebVTT also escapes ``&``, ``<`` and ``>`` as HTML entities, SRT has no escapes."""
    plain = strip.sub("", text)
    return html.unescape(plain) if strip is _TAG else plain


def _cue_times(
    timing: str, pattern: re.Pattern[str], *, file: str | None, line: int, example: str
) -> tuple[float, float]:
    """Read ``start --> end`` (cue settings after it are ignored) into seconds."""
    bad = TranscriptError(f"malformed cue timing (expected '{example} --> {example}')", file=file, line=line)
    match = _TIMING.match(timing)
    if not match:
        raise bad
    times = []
    for stamp in match.groups():
        part = pattern.match(stamp)
        if not part:
            raise bad
        hours, minutes, seconds, fraction = part.groups()
        times.append(int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds) + int(fraction.ljust(3, "0")) / 1000)
    if times[1] < times[0]:
        raise TranscriptError("cue ends before it starts", file=file, line=line)
    return times[0], times[1]


# ------------------------------------------------------------------------------------------------------ JSON


def parse_json(text: str, *, speakers: Mapping[str, str] | None = None, file: str | None = None) -> Transcript:
    """Read ``[{"speaker": ..., "text": ..., "start": ..., "end": ...}, ...]`` (or ``{"utterances": [...]}``).

    ``start`` and ``end`` are optional, in seconds or as ``HH:MM:SS(.mmm)`` strings. Optional ``label`` and
    ``sublabel`` keys carry labels already made (they are checked against the speaker); other keys are ignored.
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TranscriptError(f"not valid JSON: {exc.msg} (column {exc.colno})", file=file, line=exc.lineno) from None
    except (ValueError, RecursionError):
        raise TranscriptError("not valid JSON (a number too long or nesting too deep)", file=file) from None
    if isinstance(data, dict) and "utterances" in data:
        data = data["utterances"]
    if not isinstance(data, list):
        raise TranscriptError('expected a list of utterances: [{"speaker": ..., "text": ...}, ...]', file=file)
    roles = _Roles(speakers, file=file)
    utterances = [_json_utterance(item, number, roles=roles) for number, item in enumerate(data, start=1)]
    if not utterances:
        raise TranscriptError("transcript has no utterances", file=file)
    return Transcript(tuple(utterances), file)


def _json_utterance(item: object, number: int, *, roles: _Roles) -> Utterance:
    """Check one JSON entry (``number`` counts from 1) and make it an utterance."""
    file = roles.file
    if not isinstance(item, dict):
        raise TranscriptError('expected an object {"speaker": ..., "text": ...}', file=file, item=number)
    name, said = item.get("speaker"), item.get("text")
    if not isinstance(name, str) or not name.strip():
        raise TranscriptError("field 'speaker' is missing or not a string", file=file, item=number)
    speaker = roles.role(name)
    if speaker is None:
        raise roles.unknown(name, item=number)
    if not isinstance(said, str) or not said.split():
        raise TranscriptError("field 'text' is missing, empty or not a string", file=file, item=number)
    start, end = (_json_time(item.get(key), key, file=file, item=number) for key in ("start", "end"))
    if start is not None and end is not None and end < start:
        raise TranscriptError("ends before it starts", file=file, item=number)
    label, sublabel = item.get("label"), item.get("sublabel")
    if not (label is None or isinstance(label, str)) or not (sublabel is None or isinstance(sublabel, str)):
        raise TranscriptError("fields 'label' and 'sublabel' must be strings", file=file, item=number)
    wrong = label_problem(speaker, label, sublabel)
    if wrong:
        raise TranscriptError(wrong, file=file, item=number)
    return Utterance(number - 1, speaker, _squash(said), start, end, label, sublabel)


def _json_time(value: object, key: str, *, file: str | None, item: int) -> float | None:
    if value is None:
        return None
    if isinstance(value, str):
        seconds = parse_timestamp(value)
        if seconds is None:
            raise TranscriptError(f"field '{key}' is not a time (seconds, or HH:MM:SS)", file=file, item=item)
        return seconds
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise TranscriptError(f"field '{key}' is not a time (a number of seconds from 0)", file=file, item=item)
    return float(value)


def parse_timestamp(text: str) -> float | None:
    """Read ``HH:MM:SS``, ``MM:SS`` (each with optional decimals) or plain seconds; ``None`` if it is not one."""
    stamp = text.strip()
    match = _CLOCK.match(stamp)
    if match:
        hours, minutes, seconds = match.groups()
        if int(minutes) >= 60 or float(seconds) >= 60:
            return None
        return int(hours or 0) * 3600 + int(minutes) * 60 + float(seconds)
    if re.fullmatch(r"\d+(?:\.\d+)?", stamp):
        return float(stamp)
    return None


# ---------------------------------------------------------------------------------------------------- AnnoMI


def parse_annomi(source: str | Path, *, with_labels: bool = False) -> dict[str, Transcript]:
    """Read an AnnoMI-format CSV into one transcript per ``transcript_id`` (keys as written, in file order).

    Parameters
    ----------
    source:
        The CSV file (or its text; see :func:`parse`). Columns ``transcript_id, utterance_id, interlocutor,
        utterance_text`` are required; ``timestamp`` (``HH:MM:SS``) becomes ``start``; others are ignored.
    with_labels:
        Also load the gold labels, for evaluation: ``main_therapist_behaviour`` and ``client_talk_type``
        (required then) and, where the file has them (AnnoMI-full), ``reflection_subtype`` and
        ``question_subtype`` as sublabels of reflections and questions.

    Notes
    -----
    ``Utterance.index`` is the ``utterance_id``, and utterances are ordered by it. AnnoMI-full has one row per
    annotation; when a file has an ``annotator_id`` column, repeated ``(transcript_id, utterance_id)`` rows are
    further annotations of the same utterance and the first in file order is used. Without that column a
    repeated pair is an error. (The development split holds no utterance annotated twice: the transcripts
    coded by several annotators are not in it.)
    """
    text, name = _read(source)
    return _annomi(text, file=name, with_labels=with_labels)


def _annomi(text: str, *, file: str | None, with_labels: bool) -> dict[str, Transcript]:
    frame = _csv_frame(text, file=file)
    required = list(ANNOMI_COLUMNS) + (["main_therapist_behaviour", "client_talk_type"] if with_labels else [])
    for column in required:
        if column not in frame.columns:
            raise TranscriptError(
                f"missing column (the file has: {', '.join(map(str, frame.columns))})", file=file, column=column
            )
    cells = frame.apply(lambda column: column.str.strip())

    def fail(mask: pd.Series, column: str, message: str) -> None:
        if mask.any():
            row = int(mask.index[mask.to_numpy()][0])
            raise TranscriptError(message, file=file, row=row, column=column)

    fail(cells["transcript_id"] == "", "transcript_id", "transcript_id is missing")
    fail(~cells["utterance_id"].str.fullmatch(r"\d+"), "utterance_id", "utterance_id is not a whole number")
    speaker = cells["interlocutor"].str.lower()
    fail(~speaker.isin(SPEAKERS), "interlocutor", "interlocutor is not 'therapist' or 'client'")
    fail(cells["utterance_text"] == "", "utterance_text", "utterance has no text")
    starts = pd.Series([None] * len(cells), index=cells.index, dtype=object)
    if "timestamp" in cells.columns:
        starts = cells["timestamp"].map(lambda stamp: parse_timestamp(stamp) if stamp else None)
        fail((cells["timestamp"] != "") & starts.isna(), "timestamp", "timestamp is not HH:MM:SS")
    key = ["transcript_id", "utterance_id"]
    repeated = cells.duplicated(subset=key, keep="first")
    if "annotator_id" not in cells.columns:
        fail(repeated, "utterance_id", "utterance_id repeats an earlier row of the same transcript")

    labels = pd.Series([None] * len(cells), index=cells.index, dtype=object)
    sublabels = labels.copy()
    if with_labels:
        labels, sublabels = _gold_labels(cells, speaker, fail)

    table = pd.DataFrame(
        {
            "transcript": cells["transcript_id"],
            "position": cells["utterance_id"].astype(int),
            "speaker": speaker,
            "text": cells["utterance_text"].map(_squash),
            "start": starts,
            "label": labels,
            "sublabel": sublabels,
        }
    ).loc[~repeated]
    transcripts: dict[str, Transcript] = {}
    for transcript_id, group in table.groupby("transcript", sort=False):
        ordered = group.sort_values("position", kind="stable")
        transcripts[str(transcript_id)] = Transcript(
            tuple(
                Utterance(
                    index=int(row.position),
                    speaker=cast(Speaker, row.speaker),
                    text=str(row.text),
                    start=None if row.start is None or pd.isna(row.start) else float(row.start),
                    label=None if row.label is None else str(row.label),
                    sublabel=None if row.sublabel is None else str(row.sublabel),
                )
                for row in ordered.itertuples(index=False)
            ),
            file,
        )
    if not transcripts:
        raise TranscriptError("transcript has no utterances", file=file)
    return transcripts


def _gold_labels(cells: pd.DataFrame, speaker: pd.Series, fail: _Fail) -> tuple[pd.Series, pd.Series]:
    """Gold label and sublabel of each row: the therapist's main behaviour or the client's talk type."""
    therapist = speaker == "therapist"
    behaviour, talk = cells["main_therapist_behaviour"], cells["client_talk_type"]
    fail(
        therapist & ~behaviour.isin(("", *THERAPIST_LABELS)),
        "main_therapist_behaviour",
        f"not one of {', '.join(THERAPIST_LABELS)}",
    )
    fail(~therapist & ~talk.isin(("", *CLIENT_LABELS)), "client_talk_type", f"not one of {', '.join(CLIENT_LABELS)}")
    label = behaviour.where(therapist, talk)
    sublabel = pd.Series("", index=cells.index, dtype=object)
    for main, column, allowed in (
        ("reflection", "reflection_subtype", REFLECTION_SUBLABELS),
        ("question", "question_subtype", QUESTION_SUBLABELS),
    ):
        if column in cells.columns:
            mine = therapist & (label == main)
            fail(mine & ~cells[column].isin(("", *allowed)), column, f"not one of {', '.join(allowed)}")
            sublabel = sublabel.where(~mine, cells[column])
    return label.where(label != "", None), sublabel.where(sublabel != "", None)


def _csv_frame(text: str, *, file: str | None) -> pd.DataFrame:
    """Read CSV text as strings; the index is the 1-based data row; blank rows are dropped."""
    if not text.strip():
        raise TranscriptError("file is empty (a header row is needed)", file=file)
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            skip_blank_lines=False,
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, csv.Error, ValueError) as exc:
        raise TranscriptError(f"not a well-formed CSV file ({str(exc).splitlines()[0][:80]})", file=file) from None
    frame.columns = [str(column).strip() for column in frame.columns]
    frame.index = pd.RangeIndex(1, len(frame) + 1)
    frame = frame.astype(str)
    blank = (frame.apply(lambda column: column.str.strip()) == "").all(axis=1)
    kept: pd.DataFrame = frame.loc[~blank]
    return kept


# ---------------------------------------------------------------------------------------------- shared parts


@dataclass
class _Draft:
    speaker: Speaker
    line: int
    parts: list[str] = field(default_factory=list)
    start: float | None = None
    end: float | None = None


class _Turns:
    """Collects turns as lines arrive; a turn is finished when the next one starts."""

    def __init__(self, *, file: str | None) -> None:
        self.file = file
        self.done: list[Utterance] = []
        self.draft: _Draft | None = None

    def start(
        self, speaker: Speaker, text: str, *, line: int, start: float | None = None, end: float | None = None
    ) -> None:
        self._finish()
        self.draft = _Draft(speaker, line, [text], start, end)

    def extend(self, text: str, *, line: int, why: str, end: float | None = None) -> None:
        if self.draft is None:
            raise TranscriptError(why, file=self.file, line=line)
        self.draft.parts.append(text)
        if end is not None:
            self.draft.end = end

    def transcript(self) -> Transcript:
        self._finish()
        if not self.done:
            raise TranscriptError("transcript has no utterances", file=self.file)
        return Transcript(tuple(self.done), self.file)

    def _finish(self) -> None:
        draft, self.draft = self.draft, None
        if draft is None:
            return
        text = _squash(" ".join(draft.parts))
        if not text:
            raise TranscriptError("turn has no text", file=self.file, line=draft.line)
        self.done.append(Utterance(len(self.done), draft.speaker, text, draft.start, draft.end))


class _Roles:
    """Maps speaker prefixes and names to roles, and reports names it does not know."""

    def __init__(self, speakers: Mapping[str, str] | None, *, file: str | None) -> None:
        self.file = file
        self.table: dict[str, Speaker] = dict(DEFAULT_ROLES)
        self.mapped: list[str] = []
        for name, role in (speakers or {}).items():
            if not _key(name):
                raise TranscriptError("speaker map: a name is empty", file=file)
            if role.strip().lower() not in SPEAKERS:
                raise TranscriptError(
                    f"speaker map: role {role!r} for {name!r} must be 'therapist' or 'client'", file=file
                )
            self.table[_key(name)] = cast(Speaker, role.strip().lower())
            self.mapped.append(name.strip())

    def role(self, name: str) -> Speaker | None:
        return self.table.get(_key(name))

    def split(self, line: str, *, line_number: int) -> tuple[Speaker | None, str]:
        """Return the speaker of a prefixed line and the rest of it, or ``(None, line)`` for a continuation."""
        match = _PREFIX.match(line)
        if not match:
            return None, line
        name, rest = match.groups()
        speaker = self.role(name)
        if speaker is not None:
            return speaker, rest
        if _NAME_LIKE.match(name.strip()):
            raise self.unknown(name, line=line_number)
        return None, line

    def unknown(self, name: str, *, line: int | None = None, item: int | None = None) -> TranscriptError:
        shown = _squash(name)[:40]
        known = ", ".join(["therapist", "client", *self.mapped])
        return TranscriptError(
            f"unknown speaker {shown!r} (known: {known}; {SPEAKER_HINT})", file=self.file, line=line, item=item
        )


def _key(name: str) -> str:
    return " ".join(name.split()).casefold()


def _squash(text: str) -> str:
    return " ".join(text.split())


def _lines(text: str) -> list[str]:
    return text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _blocks(lines: list[str]) -> Iterator[list[tuple[int, str]]]:
    """Yield runs of non-blank lines with their 1-based line numbers."""
    block: list[tuple[int, str]] = []
    for number, line in enumerate(lines, start=1):
        if line.strip():
            block.append((number, line))
        elif block:
            yield block
            block = []
    if block:
        yield block


def _read(source: str | Path) -> tuple[str, str | None]:
    """Return the text of ``source`` and its file name (``None`` for text given directly)."""
    if isinstance(source, str):
        single = "\n" not in source and "\r" not in source and 0 < len(source) < 4096
        if not (single and _is_file(source)):
            if single and not any(c.isspace() for c in source) and Path(source).suffix.lower() in EXTENSIONS:
                raise TranscriptError("file not found", file=source)
            return source, None
    return read_text(source, error=TranscriptError, kind="transcript"), str(source)


def _is_file(candidate: str) -> bool:
    try:
        return Path(candidate).is_file()
    except (OSError, ValueError):
        return False
