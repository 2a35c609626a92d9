from __future__ import annotations

import json

import pytest

from indexer.export import (
    FORMATS,
    TranscriptError,
    _timestamp,
    export_transcript,
    parse_transcript,
    to_json,
    to_srt,
    to_txt,
    to_vtt,
)
from indexer.models import Segment, Word

SEGMENTS = (
    Segment(
        0.0,
        1.5,
        " Hello there.",
        (Word(0.0, 0.7, " Hello", 0.9), Word(0.7, 1.5, " there.", 0.8)),
    ),
    Segment(2.25, 4.0, " No words here."),
    Segment(3725.5, 3727.125, " Ça va très bien."),
)


def test_formats() -> None:
    assert FORMATS == ("srt", "vtt", "json", "txt")


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0, "00:00:00,000"),
        (1.5, "00:00:01,500"),
        (1.9996, "00:00:02,000"),
        (1.9994, "00:00:01,999"),
        (59.9995, "00:01:00,000"),
        (0.0005, "00:00:00,001"),
        (1.0005, "00:00:01,001"),
        (3599.9999, "01:00:00,000"),
        (3725.5, "01:02:05,500"),
        (360000.0, "100:00:00,000"),
        (-0.01, "00:00:00,000"),
    ],
)
def test_timestamp(seconds: float, expected: str) -> None:
    assert _timestamp(seconds, ",") == expected
    assert _timestamp(seconds, ".") == expected.replace(",", ".")


def test_timestamp_rejects_nan() -> None:
    with pytest.raises(ValueError, match="cannot format time"):
        _timestamp(float("nan"), ",")


def test_to_srt() -> None:
    assert to_srt(SEGMENTS) == (
        "1\n"
        "00:00:00,000 --> 00:00:01,500\n"
        "Hello there.\n"
        "\n"
        "2\n"
        "00:00:02,250 --> 00:00:04,000\n"
        "No words here.\n"
        "\n"
        "3\n"
        "01:02:05,500 --> 01:02:07,125\n"
        "Ça va très bien.\n"
    )


def test_to_srt_skips_empty_and_keeps_numbering_contiguous() -> None:
    segments = [
        Segment(0.0, 1.0, "one"),
        Segment(1.0, 2.0, "   "),
        Segment(2.0, 3.0, ""),
        Segment(3.0, 4.0, "two"),
    ]
    assert to_srt(segments) == (
        "1\n00:00:00,000 --> 00:00:01,000\none\n\n2\n00:00:03,000 --> 00:00:04,000\ntwo\n"
    )


def test_to_srt_empty() -> None:
    assert to_srt([]) == ""


def test_to_srt_neutralises_arrows_and_blank_lines() -> None:
    segments = [Segment(0.0, 1.0, " a --> b\n\n  c ---> d ----> e\n")]
    assert to_srt(segments) == "1\n00:00:00,000 --> 00:00:01,000\na -> b\nc -> d -> e\n"


def test_to_vtt() -> None:
    assert to_vtt(SEGMENTS) == (
        "WEBVTT\n"
        "\n"
        "00:00:00.000 --> 00:00:01.500\n"
        "Hello there.\n"
        "\n"
        "00:00:02.250 --> 00:00:04.000\n"
        "No words here.\n"
        "\n"
        "01:02:05.500 --> 01:02:07.125\n"
        "Ça va très bien.\n"
    )


def test_to_vtt_title_goes_in_a_note() -> None:
    assert to_vtt(SEGMENTS[:1], title="Episode 1 --> the\nstart") == (
        "WEBVTT\n\nNOTE Episode 1 -> the start\n\n00:00:00.000 --> 00:00:01.500\nHello there.\n"
    )


def test_to_vtt_empty() -> None:
    assert to_vtt([]) == "WEBVTT\n"
    assert to_vtt([Segment(0.0, 1.0, " ")], title="") == "WEBVTT\n"


def test_to_vtt_neutralises_arrows_blank_lines_and_markup() -> None:
    segments = [Segment(0.0, 1.0, "x --> y\n\n\nQ&A <b> 1 > 0")]
    assert to_vtt(segments) == (
        "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nx -> y\nQ&amp;A &lt;b> 1 > 0\n"
    )


def test_to_json() -> None:
    assert to_json(SEGMENTS) == (
        "{\n"
        '  "version": "1.0.0",\n'
        '  "segments": [\n'
        "    {\n"
        '      "startTime": 0.0,\n'
        '      "endTime": 0.7,\n'
        '      "body": "Hello"\n'
        "    },\n"
        "    {\n"
        '      "startTime": 0.7,\n'
        '      "endTime": 1.5,\n'
        '      "body": "there."\n'
        "    },\n"
        "    {\n"
        '      "startTime": 2.25,\n'
        '      "endTime": 4.0,\n'
        '      "body": "No words here."\n'
        "    },\n"
        "    {\n"
        '      "startTime": 3725.5,\n'
        '      "endTime": 3727.125,\n'
        '      "body": "Ça va très bien."\n'
        "    }\n"
        "  ]\n"
        "}\n"
    )


def test_to_json_language_rounding_and_empty_words() -> None:
    segments = [
        Segment(
            0.12345,
            2.0,
            "a b",
            (Word(0.12345, 0.99951, " a"), Word(1.0, 1.1, "  "), Word(1.5, 2.0, "b")),
        ),
        Segment(3.0, 4.0, ""),
    ]
    doc = json.loads(to_json(segments, language="en"))
    assert doc == {
        "version": "1.0.0",
        "language": "en",
        "segments": [
            {"startTime": 0.123, "endTime": 1.0, "body": "a"},
            {"startTime": 1.5, "endTime": 2.0, "body": "b"},
        ],
    }


def test_to_json_empty() -> None:
    assert json.loads(to_json([])) == {"version": "1.0.0", "segments": []}


def test_to_txt() -> None:
    assert to_txt(SEGMENTS) == (
        "[0:00:00] Hello there.\n[0:00:02] No words here.\n[1:02:05] Ça va très bien.\n"
    )


def test_to_txt_one_line_per_segment_and_skips_empty() -> None:
    segments = [Segment(59.99, 61.0, " two\nlines "), Segment(61.0, 62.0, "  ")]
    assert to_txt(segments) == "[0:00:59] two lines\n"


@pytest.mark.parametrize("fmt", FORMATS)
def test_export_transcript_dispatches(fmt: str) -> None:
    expected = {
        "srt": to_srt(SEGMENTS),
        "vtt": to_vtt(SEGMENTS, title="T"),
        "json": to_json(SEGMENTS, language="fr"),
        "txt": to_txt(SEGMENTS),
    }[fmt]
    assert export_transcript(SEGMENTS, fmt, title="T", language="fr") == expected
    assert export_transcript(SEGMENTS, fmt.upper(), title="T", language="fr") == expected


def test_export_transcript_unknown_format() -> None:
    with pytest.raises(ValueError, match=r"^unknown format 'x'; choose srt, vtt, json or txt$"):
        export_transcript(SEGMENTS, "x")


def test_round_trip_srt() -> None:
    parsed = parse_transcript(to_srt(SEGMENTS))
    assert [(s.start, s.end, s.text) for s in parsed] == [
        (s.start, s.end, s.text.strip()) for s in SEGMENTS
    ]
    assert all(s.words == () for s in parsed)


def test_round_trip_vtt() -> None:
    segments = [*SEGMENTS, Segment(5.0, 6.0, "Q&A <b> 1 > 0")]
    parsed = parse_transcript(to_vtt(segments, title="Title"))
    assert [(s.start, s.end, s.text) for s in parsed] == [
        (s.start, s.end, s.text.strip()) for s in segments
    ]


def test_round_trip_json() -> None:
    parsed = parse_transcript(to_json(SEGMENTS))
    assert parsed == [
        Segment(0.0, 1.5, "Hello there.", (Word(0.0, 0.7, "Hello"), Word(0.7, 1.5, "there."))),
        Segment(2.25, 4.0, "No words here."),
        Segment(3725.5, 3727.125, "Ça va très bien."),
    ]
    words = [w for s in parsed for w in s.words]
    original = [w for s in SEGMENTS for w in s.words]
    assert [(w.start, w.end, w.text) for w in words] == [
        (w.start, w.end, w.text.strip()) for w in original
    ]


def test_parse_srt() -> None:
    text = (
        "\ufeff1\r\n"
        "00:00:00,000 --> 00:00:02,760\r\n"
        "<i>Sarah:</i> In today's episode,\r\n"
        'you\'ll learn <font color="red">whether</font> a < b\r\n'
        "\r\n"
        "2\r\n"
        "00:00:02.760 --> 00:00:06,090 X1:10 X2:20\r\n"
        "{\\an8}Q&amp;A\r\n"
        "\r\n"
        "\r\n"
        "00:07,000 --> 00:08,5\r\n"
        "no number, short time\r\n"
        "\r\n"
        "4\r\n"
        "00:00:09,000 --> 00:00:10,000\r\n"
        "<b></b>\r\n"
    )
    assert parse_transcript(text) == [
        Segment(0.0, 2.76, "Sarah: In today's episode, you'll learn whether a < b"),
        Segment(2.76, 6.09, "Q&amp;A"),
        Segment(7.0, 8.5, "no number, short time"),
    ]


def test_parse_srt_keeps_text_after_a_blank_line_inside_a_cue() -> None:
    text = (
        "1\n00:00:01,000 --> 00:00:02,000\nfirst\n\nsecond\n\n2\n00:00:03,000 --> 00:00:04,000\nx\n"
    )
    assert parse_transcript(text, "srt") == [
        Segment(1.0, 2.0, "first second"),
        Segment(3.0, 4.0, "x"),
    ]


def test_parse_empty_srt() -> None:
    assert parse_transcript("") == []
    assert parse_transcript("\n\n  \n", "srt") == []


def test_parse_vtt() -> None:
    text = (
        "WEBVTT - Podcast\n"
        "Kind: captions\n"
        "\n"
        "STYLE\n"
        "::cue { color: red }\n"
        "\n"
        "NOTE a comment\n"
        "that spans lines\n"
        "\n"
        "intro\n"
        "00:00.000 --> 00:05.000 align:start position:0%\n"
        "<v John>Podcasting 2.0 is <c.yellow>really</c> changing\n"
        "the game.\n"
        "\n"
        "00:05.000 --> 00:00:10,000\n"
        "<v.loud Tom>Yeah,<00:00:06.000> <b>absolutely</b> &amp; &lt;more&gt;\n"
        "\n"
        "01:00:10.000 --> 01:00:15.000 line:0\n"
        "<ruby>漢<rt>kan</rt></ruby>字 ünïcode\n"
        "\n"
        "not a cue, ignored like browsers do\n"
    )
    assert parse_transcript(text) == [
        Segment(0.0, 5.0, "Podcasting 2.0 is really changing the game.", speaker="John"),
        Segment(5.0, 10.0, "Yeah, absolutely & <more>", speaker="Tom"),
        Segment(3610.0, 3615.0, "漢kan字 ünïcode"),
    ]


def test_parse_vtt_cue_right_after_header() -> None:
    text = "WEBVTT\n00:01.000 --> 00:02.000\nhi\n"
    assert parse_transcript(text) == [Segment(1.0, 2.0, "hi")]


def test_parse_empty_vtt() -> None:
    assert parse_transcript("WEBVTT\n") == []


def test_parse_json_groups_words() -> None:
    doc = {
        "version": "1.0.0",
        "segments": [
            {"speaker": "Darth Vader", "startTime": 0.5, "endTime": 0.75, "body": "I"},
            {"speaker": "Darth Vader", "startTime": 1, "endTime": 1.25, "body": "am"},
            {"speaker": "Darth Vader", "startTime": 1.5, "endTime": 2.0, "body": "your"},
            {"speaker": "Darth Vader", "startTime": 2.25, "endTime": 2.5, "body": "father\n"},
            {"speaker": "Luke", "startTime": 2.75, "endTime": 3.0, "body": "No"},
            {"speaker": "Vader", "startTime": 3.0, "endTime": 3.5, "body": "Yes"},
            {"speaker": "Vader", "startTime": 3.5, "endTime": 3.75, "body": "it's"},
            {"speaker": "Vader", "startTime": 4.0, "endTime": 4.25, "body": '"true."'},
            {"speaker": "Vader", "startTime": 4.5, "endTime": 4.75, "body": "Search"},
            {"speaker": "Vader", "startTime": 6.5, "endTime": 6.75, "body": "your"},
            {"speaker": "Vader", "startTime": 7.0, "endTime": 7.5, "body": "feelings"},
            {"speaker": "Vader", "startTime": 7.5, "endTime": 7.5, "body": "  "},
        ],
    }
    segments = parse_transcript(json.dumps(doc))
    assert [(s.start, s.end, s.text) for s in segments] == [
        (0.5, 2.5, "I am your father"),
        (2.75, 3.0, "No"),
        (3.0, 4.25, 'Yes it\'s "true."'),
        (4.5, 4.75, "Search"),
        (6.5, 7.5, "your feelings"),
    ]
    assert segments[0].words == (
        Word(0.5, 0.75, "I"),
        Word(1.0, 1.25, "am"),
        Word(1.5, 2.0, "your"),
        Word(2.25, 2.5, "father"),
    )


def test_parse_json_splits_long_segments() -> None:
    entries = [{"startTime": i, "endTime": i + 0.5, "body": f"w{i}"} for i in range(30)]
    segments = parse_transcript(json.dumps({"segments": entries}))
    assert [(s.start, s.end, len(s.words)) for s in segments] == [(0.0, 19.5, 20), (20.0, 29.5, 10)]


def test_parse_json_phrases_and_missing_end_time() -> None:
    doc = {
        "segments": [
            {"startTime": 0, "body": "Welcome to the show."},
            {"startTime": 4.0, "body": "Hi"},
            {"startTime": 4.5, "body": "all."},
        ]
    }
    assert parse_transcript(json.dumps(doc), "application/json") == [
        Segment(0.0, 4.0, "Welcome to the show."),
        Segment(4.0, 4.5, "Hi all.", (Word(4.0, 4.5, "Hi"), Word(4.5, 4.5, "all."))),
    ]


@pytest.mark.parametrize(
    ("fmt", "text"),
    [
        ("srt", "1\n00:00:01,000 --> 00:00:02,000\nx\n"),
        ("SRT", "1\n00:00:01,000 --> 00:00:02,000\nx\n"),
        ("application/x-subrip", "1\n00:00:01,000 --> 00:00:02,000\nx\n"),
        ("vtt", "WEBVTT\n\n00:01.000 --> 00:02.000\nx\n"),
        ("text/vtt", "WEBVTT\n\n00:01.000 --> 00:02.000\nx\n"),
        ("json", '{"segments": [{"startTime": 1, "endTime": 2, "body": "x y"}]}'),
        (None, '  {"segments": [{"startTime": 1, "endTime": 2, "body": "x y"}]}'),
    ],
)
def test_parse_formats(fmt: str | None, text: str) -> None:
    assert [(s.start, s.end) for s in parse_transcript(text, fmt)] == [(1.0, 2.0)]


@pytest.mark.parametrize(
    ("text", "fmt", "message"),
    [
        ("hello world", None, "SRT block 1: expected a cue number and a timing line"),
        ("1\n00:00:01 -> 00:00:02\nx", None, "SRT block 1: expected a cue number"),
        ("1\n00:00:aa,000 --> 00:00:02,000\nx", None, "SRT block 1: bad timestamp '00:00:aa,000'"),
        ("1\n00:00:61,000 --> 00:00:62,000\nx", None, "bad timestamp '00:00:61,000'"),
        ("1\n00:61:00,000 --> 00:62:00,000\nx", None, "bad timestamp '00:61:00,000'"),
        ("1\n -->\nx", None, "SRT block 1: bad timing line '-->'"),
        ("1\n00:00:05,000 --> 00:00:02,000\nx", None, "SRT block 1: ends .* before it starts"),
        ("not vtt", "vtt", "not a WebVTT file"),
        ("WEBVTTX\n", "vtt", "not a WebVTT file"),
        ("WEBVTT\n\n00:01.000 --> nope\nx", None, "WebVTT block 2: bad timestamp 'nope'"),
        ("{", None, "invalid transcript JSON: Expecting"),
        ("[]", "json", "expected an object with a 'segments' list"),
        ('{"segments": {}}', None, "expected an object with a 'segments' list"),
        ('{"segments": [1]}', None, "transcript JSON segment 1: expected an object, not 1"),
        ('{"segments": [{"body": "x"}]}', None, "segment 1: missing startTime"),
        ('{"segments": [{"startTime": "1"}]}', None, "startTime must be a number, not '1'"),
        ('{"segments": [{"startTime": true}]}', None, "startTime must be a number, not True"),
        ('{"segments": [{"startTime": -1}]}', None, "startTime must be a non-negative number"),
        ('{"segments": [{"startTime": NaN}]}', None, "startTime must be a non-negative number"),
        ('{"segments": [{"startTime": 2, "endTime": 1}]}', None, "endTime 1.0 is before"),
        ('{"segments": [{"startTime": 0, "body": 5}]}', None, "body must be a string, not 5"),
        ("x", "html", "unknown transcript format 'html'; choose srt, vtt or json"),
    ],
)
def test_parse_malformed(text: str, fmt: str | None, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        parse_transcript(text, fmt)
    assert isinstance(info.value, TranscriptError)
    assert "\n" not in str(info.value)


def test_parse_malformed_message_is_short() -> None:
    doc = json.dumps({"segments": [["x" * 500]]})
    with pytest.raises(TranscriptError) as info:
        parse_transcript(doc)
    assert len(str(info.value)) < 120


def test_speakers_round_trip_through_vtt_and_json() -> None:
    segments = [
        Segment(0.0, 2.0, "Hello there.", (Word(0.0, 1.0, "Hello"), Word(1.0, 2.0, "there.")),
                "Ana Ruiz"),
        Segment(2.5, 4.0, "Hi Ana.", (Word(2.5, 3.0, "Hi"), Word(3.0, 4.0, "Ana.")), "Ben"),
    ]  # fmt: skip
    assert [s.speaker for s in parse_transcript(to_vtt(segments))] == ["Ana Ruiz", "Ben"]
    assert [s.speaker for s in parse_transcript(to_json(segments))] == ["Ana Ruiz", "Ben"]
    assert to_txt(segments).splitlines()[1] == "[0:00:02] Ben: Hi Ana."
    assert "Ana Ruiz: Hello there." in to_srt(segments)
