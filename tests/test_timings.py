"""The compact word-timing codec: text + varint blob <-> segments with words."""

from __future__ import annotations

import random

import pytest

from indexer import analyze, timings
from indexer.models import Segment, Word
from tests.legacy import encode_v1

NBSP = "\u00a0"
VOCABULARY = ["the", "harbour", "mayor", "a", "dredging", "oyster", "beds", "Café", "naïve",
              "東京", "🎙️", "שלום", "Ελλάδα", "x", "don't", "42", "—"]  # fmt: skip


def segment_of(words: list[Word]) -> Segment:
    """A segment as decode rebuilds it: spanning its words, text joined from them."""
    text = analyze.join_words([w.text for w in words])  # no spaces between CJK words
    return Segment(words[0].start, words[-1].end, text, tuple(words))


def round_trip(segments: list[Segment], origin: float) -> list[Segment]:
    return timings.decode(timings.chunk_text(segments), timings.encode(segments, origin), origin)


def random_segments(rng: random.Random, start_cs: int, count: int) -> list[Segment]:
    """Segments of words at 10 ms resolution, with pauses, overlaps and zero-length words."""
    segments, t = [], start_cs
    for _ in range(count):
        words = []
        for _ in range(rng.randint(1, 12)):
            t += rng.choice([0, 0, 3, 5, 8, 40, 250, 6000, -4, -30])  # overlaps go back
            t = max(t, 0)
            length = rng.choice([0, 1, 12, 30, 45, 200, 1500])
            words.append(Word(t / 100, (t + length) / 100, rng.choice(VOCABULARY)))
            t += length
        segments.append(segment_of(words))
    return segments


@pytest.mark.parametrize("seed", range(8))
def test_random_segments_round_trip_exactly(seed: int) -> None:
    rng = random.Random(seed)
    start = rng.choice([0, 1, 99, 4567, 360_000, 3_600_000])  # up to ten hours in
    segments = random_segments(rng, start, rng.randint(1, 40))
    # The chunk's origin is its first segment's start, but any origin must work.
    for origin in (segments[0].start, 0.0, segments[-1].end + 12.34):
        assert round_trip(segments, origin) == segments


def test_times_are_rounded_to_centiseconds() -> None:
    words = [Word(1.234567, 1.5049, "Hello", 0.5), Word(2.001, 2.449, "again", 0.25)]
    back = round_trip([Segment(1.2, 2.5, " Hello again ", tuple(words))], 1.2)
    assert back == [segment_of([Word(1.23, 1.5, "Hello"), Word(2.0, 2.45, "again")])]


def test_overlapping_and_zero_length_words_survive() -> None:
    words = [
        Word(5.0, 6.0, "long"),
        Word(5.5, 5.7, "inside"),  # starts before the previous word ends
        Word(5.7, 5.7, "instant"),  # zero length
        Word(5.7, 5.7, "again"),  # same time as the previous one
        Word(1.0, 2.0, "earlier"),  # before the origin and every previous word
        Word(2.0, 9.0, "after"),
    ]
    segments = [segment_of(words[:3]), segment_of(words[3:])]
    assert round_trip(segments, 5.0) == segments


def test_a_word_ending_before_it_starts_becomes_zero_length() -> None:
    back = round_trip([segment_of([Word(1.0, 1.5, "fine"), Word(3.0, 2.0, "odd")])], 1.0)
    assert [(w.start, w.end) for w in back[0].words] == [(1.0, 1.5), (3.0, 3.0)]


def test_words_after_one_ending_before_it_starts_keep_their_times() -> None:
    words = [Word(3.0, 2.0, "odd"), Word(3.5, 4.0, "next")]
    segments = [segment_of(words), segment_of([Word(10.0, 10.5, "later")])]
    back = round_trip(segments, 3.0)
    assert [(w.start, w.end) for s in back for w in s.words] == [
        (3.0, 3.0),
        (3.5, 4.0),
        (10.0, 10.5),
    ]


def test_words_with_spaces_are_stored_with_no_break_spaces() -> None:
    words = [Word(0.0, 0.5, " New York"), Word(0.5, 1.0, "a\tb\nc"), Word(1.0, 1.5, "one")]
    segment = Segment(0.0, 1.5, "whatever", tuple(words))
    text = timings.chunk_text([segment])
    assert text == f"New{NBSP}York a{NBSP}b{NBSP}c one"
    back = round_trip([segment], 0.0)
    assert [w.text for w in back[0].words] == [f"New{NBSP}York", f"a{NBSP}b{NBSP}c", "one"]
    assert back[0].text == text
    # Round-tripping the stored form changes nothing more.
    assert round_trip(back, 0.0) == back


def test_unicode_words_round_trip() -> None:
    texts = ["Café", "naïve", "東京", "🎙️", "שלום", "e\u0301", "zero\u200bwidth", NBSP + "x"]
    words = [Word(i / 10, i / 10 + 0.05, t) for i, t in enumerate(texts)]
    back = round_trip([segment_of(words)], 0.0)
    expected = [timings.word_text(t) for t in texts]
    assert [w.text for w in back[0].words] == expected
    assert expected[-1] == "x"  # a no-break space is whitespace too: stripped at the edges


def test_word_text() -> None:
    assert timings.word_text(" Hello") == "Hello"
    assert timings.word_text("New  York ") == f"New{NBSP}York"
    assert timings.word_text("plain") == "plain"


@pytest.mark.parametrize("seed", range(4))
def test_chunk_text_invariants(seed: int) -> None:
    rng = random.Random(seed)
    segments = random_segments(rng, 0, 10)
    segments[0] = Segment(0.0, 1.0, "ignored", (Word(0.0, 1.0, "  spaced\u2003out  "),))
    text = timings.chunk_text(segments)
    words = [w for s in segments for w in s.words]
    # One single space between words and nowhere else; each word as word_text stores it.
    assert text.split(" ") == [timings.word_text(w.text) for w in words]
    assert "  " not in text and text == text.strip()
    # Inside a word, only no-break spaces are left of any whitespace.
    assert {c for c in text if c.isspace()} <= {" ", NBSP}
    assert f"spaced{NBSP}out" in text
    # The segments' own text plays no part.
    assert "ignored" not in text
    assert timings.chunk_text([]) == ""


def test_encode_refuses_a_segment_without_words() -> None:
    good = segment_of([Word(0.0, 1.0, "fine")])
    with pytest.raises(ValueError, match="word timings"):
        timings.encode([good, Segment(1.0, 2.0, "no words here")], 0.0)


@pytest.mark.parametrize("blob", [b"", b"\x00\x01\x01\x00\x00", b"\x03\x01\x01\x00\x00"])
def test_unknown_format_is_a_value_error(blob: bytes) -> None:
    with pytest.raises(ValueError, match="unknown timing format"):
        timings.decode("word", blob, 0.0)


def test_a_truncated_blob_is_a_value_error() -> None:
    segments = [segment_of([Word(0.0, 0.5, "a"), Word(1.5, 2.0, "b"), Word(2.0, 2.5, "c")])]
    blob = timings.encode(segments, 0.0)
    with pytest.raises(ValueError, match="truncated"):
        timings.decode("a b c", blob[:-2], 0.0)


def test_the_blob_starts_with_the_version() -> None:
    blob = timings.encode([segment_of([Word(0.0, 1.0, "x")])], 0.0)
    assert blob[0] == timings.VERSION


def test_empty_chunk() -> None:
    blob = timings.encode([], 12.0)
    assert timings.decode("", blob, 12.0) == []


def test_a_chunk_of_one_empty_word_round_trips() -> None:
    segments = [segment_of([Word(0.0, 1.0, " ")])]
    assert round_trip(segments, 0.0) == [segment_of([Word(0.0, 1.0, "")])]


def test_empty_words_among_others_round_trip() -> None:
    segments = [segment_of([Word(0.0, 1.0, ""), Word(1.0, 2.0, "a"), Word(2.0, 3.0, " ")])]
    assert round_trip(segments, 0.0) == [segment_of([Word(0.0, 1.0, ""), Word(1.0, 2.0, "a"),
                                                     Word(2.0, 3.0, "")])]  # fmt: skip


@pytest.mark.parametrize("seed", range(3))
def test_whisper_like_timings_take_under_one_and_a_half_bytes_a_word(seed: int) -> None:
    # As faster-whisper emits them: most words start where the previous one ends (87% in
    # our real transcripts), lengths around 0.3 s, pauses between sentences.
    rng = random.Random(seed)
    segments, t, count = [], 3600.0, 0
    for _ in range(200):  # about ten minutes of speech
        words = []
        for _ in range(rng.randint(5, 20)):
            if rng.random() < 0.13:
                t = round(t + rng.uniform(0.01, 0.8), 2)
            length = round(rng.uniform(0.1, 0.6), 2)
            words.append(Word(t, round(t + length, 2), rng.choice(VOCABULARY)))
            t = round(t + length, 2)
        t = round(t + rng.uniform(0.3, 1.5), 2)  # a pause between sentences
        segments.append(segment_of(words))
        count += len(words)
    blob = timings.encode(segments, segments[0].start)
    assert len(blob) / count < 1.5
    assert timings.decode(timings.chunk_text(segments), blob, segments[0].start) == segments


@pytest.mark.parametrize("seed", range(4))
def test_version_1_blobs_still_decode(seed: int) -> None:
    rng = random.Random(seed)
    segments = random_segments(rng, rng.choice([0, 4567, 360_000]), rng.randint(1, 30))
    origin = segments[0].start
    blob = encode_v1(segments, origin)
    assert blob[0] == 1
    assert timings.decode(timings.chunk_text(segments), blob, origin) == segments
    assert len(timings.encode(segments, origin)) < len(blob)


# --- estimate_words --------------------------------------------------------------------


def test_estimate_words_weights_by_length() -> None:
    est = timings.estimate_words(Segment(1.0, 2.5, "a abcd"))
    # Weights are len + 1: 2 and 5 of 7.
    assert [w.text for w in est.words] == ["a", "abcd"]
    assert est.words[0].end - est.words[0].start == pytest.approx(1.5 * 2 / 7, abs=1e-3)
    assert est.words[1].end - est.words[1].start == pytest.approx(1.5 * 5 / 7, abs=1e-3)
    assert all(w.probability == 0.0 for w in est.words)  # marks the times as guesses
    assert (est.start, est.end, est.text) == (1.0, 2.5, "a abcd")


@pytest.mark.parametrize("seed", range(6))
def test_estimate_words_covers_the_span_exactly(seed: int) -> None:
    rng = random.Random(seed)
    start_ms = rng.randint(0, 10_000_000)  # a cue's times, in milliseconds
    start, end = start_ms / 1000, (start_ms + rng.randint(1, 20_000)) / 1000
    texts = [rng.choice(VOCABULARY) for _ in range(rng.randint(1, 30))]
    est = timings.estimate_words(Segment(start, end, "  " + "  ".join(texts) + " "))
    assert [w.text for w in est.words] == texts
    assert est.words[0].start == start
    assert est.words[-1].end == end
    for before, after in zip(est.words, est.words[1:], strict=False):
        assert before.end == after.start  # no gaps, no overlaps
    assert all(w.start <= w.end for w in est.words)
    # Stored, the estimated words survive (to the centisecond).
    assert len(round_trip([est], start)[0].words) == len(texts)


def test_estimate_words_of_a_zero_length_cue() -> None:
    est = timings.estimate_words(Segment(4.0, 4.0, "quick words"))
    assert [(w.start, w.end) for w in est.words] == [(4.0, 4.0), (4.0, 4.0)]


def test_estimate_words_leaves_segments_with_words_unchanged() -> None:
    segment = segment_of([Word(0.0, 1.0, "already"), Word(1.0, 1.2, "timed")])
    assert timings.estimate_words(segment) is segment


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_estimate_words_leaves_empty_text_alone(text: str) -> None:
    segment = Segment(0.0, 1.0, text)
    assert timings.estimate_words(segment) is segment
