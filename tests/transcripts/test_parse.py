"""Reading transcripts: every format gives the same utterances, and every bad input one clear, located error."""

from __future__ import annotations

import contextlib
import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alliance.errors import InputError
from alliance.transcripts import (
    Transcript,
    TranscriptError,
    Utterance,
    detect_format,
    parse,
    parse_annomi,
    parse_json,
    parse_srt,
    parse_text,
    parse_timestamp,
    parse_vtt,
)

SECRET = "my brother hits me"  # stands for anything a client says: it must never appear in an error


def said(transcript: Transcript) -> list[tuple[str, str]]:
    return [(u.speaker, u.text) for u in transcript.utterances]


# ------------------------------------------------------------------------------------------------ plain text


def test_plain_text_turns_start_at_a_prefix_and_continue_on_the_lines_below() -> None:
    transcript = parse_text(
        "T: Hello, thanks for coming in.\n"
        "What brings you here today?\n"
        "\n"
        "client: Well: my sleep, mostly.\n"
        "\n"
        "It has been bad for months.\n"
        "THERAPIST: Tell me more.\n"
        "C:It started in May."
    )
    assert said(transcript) == [
        ("therapist", "Hello, thanks for coming in. What brings you here today?"),
        ("client", "Well: my sleep, mostly. It has been bad for months."),
        ("therapist", "Tell me more."),
        ("client", "It started in May."),
    ]
    assert [u.index for u in transcript.utterances] == [0, 1, 2, 3]
    assert all(u.start is None and u.end is None and u.label is None for u in transcript.utterances)


def test_names_are_mapped_to_roles_by_the_caller() -> None:
    transcript = parse_text(
        "Dr Lee: How has the week been?\nSam: Long.\ndr  lee: Long in what way?",
        speakers={"Dr Lee": "therapist", "Sam": "Client"},
    )
    assert [u.speaker for u in transcript.utterances] == ["therapist", "client", "therapist"]


def test_a_colon_inside_a_sentence_is_text_not_a_speaker() -> None:
    transcript = parse_text("C: I kept thinking\nthe thing is, it never stops: day and night.\n")
    assert said(transcript) == [("client", "I kept thinking the thing is, it never stops: day and night.")]


def test_an_unknown_speaker_is_reported_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "session.txt"
    path.write_text("T: Hi.\nC: Hello.\n\nJo: Can I join?\n")
    with pytest.raises(TranscriptError) as caught:
        parse(path)
    assert str(caught.value) == (
        f"{path}, line 4: unknown speaker 'Jo' (known: therapist, client; map names with --speaker NAME=ROLE)"
    )
    assert caught.value.line == 4
    assert isinstance(caught.value, InputError)


def test_the_known_speakers_in_the_message_include_mapped_names() -> None:
    with pytest.raises(TranscriptError, match=r"line 2: unknown speaker 'Dr Smith' \(known: therapist, client, Sam;"):
        parse_text("Sam: hi\nDr Smith: hello", speakers={"Sam": "client"})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (f"{SECRET}\nT: hi", "line 1: text before the first speaker prefix"),
        ("\n\n  \n", "transcript has no utterances"),
        ("T: hi\nC:\n\nT: go on", "line 2: turn has no text"),
    ],
)
def test_plain_text_errors(text: str, message: str) -> None:
    with pytest.raises(TranscriptError, match=message) as caught:
        parse_text(text)
    assert SECRET not in str(caught.value)


def test_a_speaker_map_with_a_wrong_role_is_refused() -> None:
    with pytest.raises(TranscriptError, match="role 'supervisor' for 'Ann' must be 'therapist' or 'client'"):
        parse_text("Ann: hi", speakers={"Ann": "supervisor"})


# ----------------------------------------------------------------------------------------------------- WebVTT

VTT = """WEBVTT - session 3

NOTE recorded with consent;
this block is skipped

STYLE
::cue { color: white }

intro
00:00:01.000 --> 00:00:04.500 align:start position:10%
<v Therapist>How have you been &amp; how is work?</v>

00:04.500 --> 00:09.000
<v.loud Sam>Not great.</v>
I keep missing <i>days</i>.

00:00:09.000 --> 00:00:12.250
because of the headaches

01:00:12.250 --> 01:00:15.000
T: That sounds hard.
"""


def test_webvtt_reads_voice_tags_timings_and_skips_notes_and_styles() -> None:
    transcript = parse_vtt(VTT, speakers={"Sam": "client"})
    assert transcript.utterances == (
        Utterance(0, "therapist", "How have you been & how is work?", 1.0, 4.5),
        # A cue without a speaker continues the turn before it, which now ends with that cue.
        Utterance(1, "client", "Not great. I keep missing days. because of the headaches", 4.5, 12.25),
        Utterance(2, "therapist", "That sounds hard.", 3612.25, 3615.0),
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("WEBVTTX\n\n00:01.000 --> 00:02.000\nT: hi\n", "line 1: not a WebVTT file"),
        ("T: hi\n", "line 1: not a WebVTT file"),
        ("WEBVTT\n00:01.000 --> 00:02.000\nT: hi\n", "line 2: a blank line must follow the WEBVTT header"),
        ("WEBVTT\n\n00:01.000 --> 00:02.000\nT: hi\n\n00:02.000 -> 00:03.000\nC: ho\n", "line 6: expected a cue"),
        ("WEBVTT\n\n00:01.000 --> 00:02.000\nT: hi\n\n00:02.0 --> 00:03.000\nC: ho\n", "line 6: malformed cue"),
        ("WEBVTT\n\n00:01.000 --> 00:61.000\nT: hi\n", "line 3: malformed cue timing"),
        ("WEBVTT\n\n00:05.000 --> 00:02.000\nT: hi\n", "line 3: cue ends before it starts"),
        (f"WEBVTT\n\n00:01.000 --> 00:02.000\n{SECRET}\n", "line 4: cue has no speaker"),
        ("WEBVTT\n\n00:01.000 --> 00:02.000\n<v Jo>hi\n", "line 4: unknown speaker 'Jo'"),
        ("WEBVTT\n\nNOTE nothing here\n", "transcript has no utterances"),
    ],
)
def test_webvtt_errors_name_the_line(text: str, message: str) -> None:
    with pytest.raises(TranscriptError, match=message) as caught:
        parse_vtt(text, file="s.vtt")
    assert str(caught.value).startswith("s.vtt")
    assert SECRET not in str(caught.value)


# -------------------------------------------------------------------------------------------------------- SRT


def test_srt_reads_numbered_cues_with_prefixes_and_drops_formatting() -> None:
    srt = (
        "1\r\n00:00:01,000 --> 00:00:04,000\r\nT: <i>Welcome</i> back.\r\n\r\n"
        "2\r\n00:00:04,000 --> 00:00:06,500\r\nClient: Thanks.\r\nGood to be here & all.\r\n\r\n"
        "3\r\n00:00:06,500 --> 00:00:07,000\r\n{\\an8}and yes\r\n"
    )
    assert parse_srt(srt).utterances == (
        Utterance(0, "therapist", "Welcome back.", 1.0, 4.0),
        Utterance(1, "client", "Thanks. Good to be here & all. and yes", 4.0, 7.0),
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("one\n00:00:01,000 --> 00:00:02,000\nT: hi\n", "line 1: expected a cue number"),
        ("1\nT: hi\n", "line 2: expected a cue timing line"),
        ("1\n00:00:01,000 --> 00:00:02,000\nT: hi\n\n2\n00:00:02 --> 00:00:03,000\nC: ho\n", "line 6: malformed"),
    ],
)
def test_srt_errors_name_the_line(text: str, message: str) -> None:
    with pytest.raises(TranscriptError, match=message):
        parse_srt(text)


# ------------------------------------------------------------------------------------------------------- JSON


def test_json_reads_speakers_texts_times_and_labels() -> None:
    text = json.dumps(
        {
            "utterances": [
                {"speaker": "Therapist", "text": "What matters most?", "start": 0, "end": 2.5, "label": "question"},
                {"speaker": "Sam", "text": "  My   kids. ", "start": "00:00:03", "extra": "ignored"},
            ]
        }
    )
    assert parse_json(text, speakers={"Sam": "client"}).utterances == (
        Utterance(0, "therapist", "What matters most?", 0.0, 2.5, "question"),
        Utterance(1, "client", "My kids.", 3.0, None),
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[{"speaker": "T", "text": "hi"},\n {"speaker": "C" "text": "x"}]', "line 2: not valid JSON: Expecting ','"),
        ('{"speaker": "T", "text": "hi"}', "expected a list of utterances"),
        ("[]", "transcript has no utterances"),
        ('[{"speaker": "T", "text": "hi"}, 3]', "item 2: expected an object"),
        ('[{"speaker": "Jo", "text": "hi"}]', "item 1: unknown speaker 'Jo'"),
        ('[{"speaker": "T"}]', "item 1: field 'text' is missing"),
        ('[{"speaker": "T", "text": "hi", "start": "soon"}]', "item 1: field 'start' is not a time"),
        ('[{"speaker": "T", "text": "hi", "end": -1}]', "item 1: field 'end' is not a time"),
        ('[{"speaker": "T", "text": "hi", "start": true}]', "item 1: field 'start' is not a time"),
        ('[{"speaker": "T", "text": "hi", "start": NaN}]', "item 1: field 'start' is not a time"),
        ('[{"speaker": "T", "text": "hi", "start": 5, "end": 4}]', "item 1: ends before it starts"),
        ('[{"speaker": "C", "text": "hi", "label": "reflection"}]', "item 1: label 'reflection' is not one of"),
        ('[{"speaker": "T", "text": "hi", "label": "question", "sublabel": "simple"}]', "item 1: sublabel 'simple'"),
        ("[" * 100_000, "not valid JSON"),
    ],
)
def test_json_errors_name_the_position_or_item(text: str, message: str) -> None:
    with pytest.raises(TranscriptError, match=message):
        parse_json(text, file="s.json")


# ----------------------------------------------------------------------------------------------------- AnnoMI

ANNOMI = """\
transcript_id,mi_quality,utterance_id,interlocutor,timestamp,utterance_text,main_therapist_behaviour,\
client_talk_type
7,high,0,therapist,00:00:05,"So, what brings you in?",question,
7,high,1,client,00:00:09,"My wife, mostly.",,neutral
9,low,1,Client,00:01:02,No.,,sustain
9,low,0,therapist,00:00:58,You should stop.,therapist_input,
"""


def test_annomi_gives_one_transcript_per_id_keeping_utterance_ids_and_start_times() -> None:
    transcripts = parse_annomi(ANNOMI)
    assert list(transcripts) == ["7", "9"]
    assert transcripts["9"].utterances == (
        Utterance(0, "therapist", "You should stop.", 58.0),
        Utterance(1, "client", "No.", 62.0),
    )
    assert not transcripts["7"].labelled


def test_annomi_gold_labels_are_loaded_on_request() -> None:
    transcripts = parse_annomi(ANNOMI, with_labels=True)
    assert [u.label for u in transcripts["7"].utterances] == ["question", "neutral"]
    assert [u.label for u in transcripts["9"].utterances] == ["therapist_input", "sustain"]


def test_annomi_full_format_brings_subtypes_and_uses_the_first_annotation_of_an_utterance() -> None:
    full = (
        "transcript_id,utterance_id,interlocutor,timestamp,utterance_text,annotator_id,reflection_subtype,"
        "question_subtype,main_therapist_behaviour,client_talk_type\n"
        "1,0,therapist,00:00:01,You want a change.,3,complex,,reflection,\n"
        "1,0,therapist,00:00:01,You want a change.,5,simple,,reflection,\n"
        "1,1,client,00:00:04,I do.,3,,,,change\n"
        "1,2,therapist,00:00:06,Why now?,3,,open,question,\n"
        "1,3,therapist,00:00:08,Is that fair?,3,simple,closed,therapist_input,\n"
    )
    utterances = parse_annomi(full, with_labels=True)["1"].utterances
    assert [(u.index, u.label, u.sublabel) for u in utterances] == [
        (0, "reflection", "complex"),
        (1, "change", None),
        (2, "question", "open"),
        (3, "therapist_input", None),  # subtypes belong to the main behaviour only
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("transcript_id,utterance_id,utterance_text\n1,0,hi\n", "column 'interlocutor': missing column"),
        ("transcript_id,utterance_id,interlocutor,utterance_text\n1,0,coach,hi\n", "row 1 .line 2., column 'inter"),
        ("transcript_id,utterance_id,interlocutor,utterance_text\n1,x,client,hi\n", "column 'utterance_id': utter"),
        ("transcript_id,utterance_id,interlocutor,utterance_text\n1,0,client,hi\n1,0,client,ho\n", "row 2 .line 3."),
        ("transcript_id,utterance_id,interlocutor,utterance_text\n1,0,client, \n", "utterance has no text"),
        ("transcript_id,utterance_id,interlocutor,utterance_text,timestamp\n1,0,client,hi,9:75\n", "not HH:MM:SS"),
        ("", "file is empty"),
    ],
)
def test_annomi_errors_name_row_and_column(text: str, message: str) -> None:
    with pytest.raises(TranscriptError, match=message):
        parse_annomi(text)


def test_annomi_labels_outside_the_label_sets_are_refused() -> None:
    bad = ANNOMI.replace("neutral", "unsure")
    with pytest.raises(TranscriptError, match=r"row 2 \(line 3\), column 'client_talk_type': not one of"):
        parse_annomi(bad, with_labels=True)
    with pytest.raises(TranscriptError, match="column 'main_therapist_behaviour': missing column"):
        parse_annomi("transcript_id,utterance_id,interlocutor,utterance_text\n1,0,client,hi\n", with_labels=True)


def test_parse_refuses_an_annomi_file_with_several_transcripts(tmp_path: Path) -> None:
    path = tmp_path / "many.csv"
    path.write_text(ANNOMI)
    with pytest.raises(TranscriptError, match="holds 2 transcripts; read it with parse_annomi"):
        parse(path)
    one = tmp_path / "one.csv"
    one.write_text("\n".join(ANNOMI.splitlines()[:3]))
    assert len(parse(one)) == 2


def test_the_annomi_development_split_reads_whole(shared_data: Path) -> None:
    transcripts = parse_annomi(shared_data / "annomi" / "AnnoMI-simple-dev.csv", with_labels=True)
    assert len(transcripts) == 100
    assert sum(len(t) for t in transcripts.values()) == 7588
    assert all(t.labelled for t in transcripts.values())
    first = transcripts["0"].utterances[0]
    assert (first.index, first.speaker, first.start, first.label) == (0, "therapist", 13.0, "question")
    # One row of transcript 38 is stamped 00:09:025 (between 00:09:01 and 00:09:52): read as 9 min 25 s.
    assert 565.0 in {u.start for u in transcripts["38"].utterances}


# ------------------------------------------------------------------------------------------ sources, formats


def test_the_format_is_told_by_extension_then_by_content(tmp_path: Path) -> None:
    assert detect_format("T: hi", name="a.VTT") == "vtt"
    assert detect_format("WEBVTT\n\n", name="notes") == "vtt"
    assert detect_format('\n [{"speaker": "T"}]') == "json"
    assert detect_format("1\n00:00:01,000 --> 00:00:02,000\nT: hi") == "srt"
    assert detect_format("transcript_id,utterance_id,interlocutor,utterance_text\n") == "annomi"
    assert detect_format("T: hi\nC: ho") == "txt"
    path = tmp_path / "session"
    path.write_text("\ufeffWEBVTT\n\n00:01.000 --> 00:02.000\n<v T>hi\n")
    assert said(parse(path)) == [("therapist", "hi")]
    assert parse(str(path)).source == str(path)
    assert parse("T: hi.txt").source is None  # a line of text, not a file name


@pytest.mark.parametrize(
    ("source", "message"),
    [("missing.vtt", "missing.vtt: file not found"), (Path("nowhere/s.txt"), "file not found")],
)
def test_missing_files_are_reported(source: str | Path, message: str) -> None:
    with pytest.raises(TranscriptError, match=message):
        parse(source)


def test_a_file_that_is_not_utf8_or_a_directory_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "s.txt"
    path.write_bytes(b"T: caf\xe9\n")
    with pytest.raises(TranscriptError, match=r"s.txt: not UTF-8 text \(byte 6\)"):
        parse(path)
    with pytest.raises(TranscriptError, match="is a directory"):
        parse(tmp_path)
    with pytest.raises(TranscriptError, match="unknown format 'docx'"):
        parse("T: hi", format="docx")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("stamp", "seconds"),
    [("00:00:13", 13.0), ("1:02:03", 3723.0), ("02:03.5", 123.5), ("7.25", 7.25), ("00:61:00", None), ("x", None)],
)
def test_timestamps(stamp: str, seconds: float | None) -> None:
    assert parse_timestamp(stamp) == seconds


# ------------------------------------------------------------------------------------------------ properties

WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,;:!?'\"&()-", min_size=1)
TEXT = st.lists(WORD, min_size=1, max_size=8).map(" ".join)
TURNS = st.lists(st.tuples(st.sampled_from(["therapist", "client"]), TEXT), min_size=1, max_size=12)


def clock(seconds: float, separator: str) -> str:
    whole = int(seconds)
    return f"{whole // 3600:02d}:{whole // 60 % 60:02d}:{whole % 60:02d}{separator}{round(seconds % 1 * 1000):03d}"


def write(turns: list[tuple[str, str]], form: str) -> str:
    """Write a transcript the way each format's producers do (one cue per turn, two seconds each)."""
    prefix = {"therapist": "T", "client": "Client"}
    if form == "txt":
        return "\n\n".join(f"{prefix[who]}: {text}" for who, text in turns)
    if form == "json":
        return json.dumps([{"speaker": who, "text": text, "start": 2 * i} for i, (who, text) in enumerate(turns)])
    cues = []
    for i, (who, text) in enumerate(turns):
        sep = "." if form == "vtt" else ","
        timing = f"{clock(2 * i, sep)} --> {clock(2 * i + 2, sep)}"
        if form == "vtt":
            escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            cues.append(f"{timing}\n<v {who.title()}>{escaped}</v>")
        else:
            cues.append(f"{i + 1}\n{timing}\n{prefix[who]}: {text}")
    return ("WEBVTT\n\n" if form == "vtt" else "") + "\n\n".join(cues) + "\n"


@pytest.mark.parametrize("form", ["txt", "vtt", "srt", "json"])
@settings(max_examples=60, deadline=None)
@given(turns=TURNS)
def test_a_written_transcript_reads_back_the_same(form: str, turns: list[tuple[str, str]]) -> None:
    transcript = parse(write(turns, form), format="auto")
    assert said(transcript) == turns
    if form != "txt":
        assert [u.start for u in transcript.utterances] == [2.0 * i for i in range(len(turns))]


@pytest.mark.parametrize("form", ["auto", "txt", "vtt", "srt", "json", "annomi"])
@settings(max_examples=150, deadline=None)
@given(
    text=st.one_of(
        st.text(),
        st.text(alphabet="TC:<>v &-\n0123456789.,WEBVT[]{}\"'", max_size=200),
        st.sampled_from(["WEBVTT\n\n", "1\n", "[", "transcript_id,utterance_id,interlocutor,utterance_text\n"]).flatmap(
            lambda head: st.text(alphabet="TC:<>v &-\n0123456789.,\"'", max_size=120).map(lambda tail: head + tail)
        ),
    )
)
def test_garbage_raises_nothing_but_a_transcript_error(form: str, text: str) -> None:
    try:
        transcript = parse(text, format=form)  # type: ignore[arg-type]
    except TranscriptError:
        return
    assert len(transcript) > 0


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=st.binary(max_size=200), suffix=st.sampled_from([".txt", ".vtt", ".srt", ".json", ".csv", ""]))
def test_garbage_files_raise_nothing_but_a_transcript_error(raw: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"garbage{suffix}"
        path.write_bytes(raw)
        with contextlib.suppress(TranscriptError):
            parse(path)
