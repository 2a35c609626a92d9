from __future__ import annotations

import math
import random
from collections.abc import Sequence
from itertools import pairwise

import pytest

from indexer.chunk import chunk_segments
from indexer.models import Chunk, Segment
from tests.conftest import make_segment

VOCABULARY = [
    "harbour",
    "mayor",
    "dredge",
    "channel",
    "oyster",
    "library",
    "volunteers",
    "storm",
    "forecast",
    "rain",
    "wind",
    "furniture",
    "container",
    "ships",
    "fishermen",
    "comic",
]


def seg(start: float, end: float, text: str = "word") -> Segment:
    return Segment(start, end, text)


def expected_text(segments: Sequence[Segment]) -> str:
    return " ".join(s.text.strip() for s in segments if s.text.strip())


def assert_valid_chunks(segments: Sequence[Segment], chunks: list[Chunk], window: float) -> None:
    """Every property chunk_segments promises, checked against its input."""
    if not segments:
        assert chunks == []
        return
    assert [c.index for c in chunks] == list(range(len(chunks)))
    # Contiguous, ordered cover of every segment: each lands in exactly one chunk.
    assert chunks[0].first_segment == 0
    assert chunks[-1].last_segment == len(segments) - 1
    for before, after in pairwise(chunks):
        assert after.first_segment == before.last_segment + 1
    owners = [c.index for c in chunks for _ in range(c.first_segment, c.last_segment + 1)]
    assert len(owners) == len(segments)
    for c in chunks:
        assert c.first_segment <= c.last_segment
        members = segments[c.first_segment : c.last_segment + 1]
        assert c.start == members[0].start
        assert c.end == members[-1].end
        assert c.text == expected_text(members)
        # Only a chunk made of one over-long segment may be longer than the window.
        if c.first_segment != c.last_segment:
            assert c.end - c.start <= window
    # Greedy: a chunk stops only because the next segment would not have fit.
    for before, after in pairwise(chunks):
        assert segments[after.first_segment].end - before.start > window
    # No word is split, lost, duplicated or reordered.
    chunk_words = [w for c in chunks for w in c.text.split()]
    segment_words = [w for s in segments for w in s.text.split()]
    assert chunk_words == segment_words


def test_empty_input_gives_no_chunks() -> None:
    assert chunk_segments([], 45.0) == []
    assert chunk_segments((), 1.0) == []


@pytest.mark.parametrize("window", [0, 0.0, -1, -45.0])
def test_non_positive_window_is_rejected(window: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        chunk_segments([seg(0, 1)], window)


def test_non_positive_window_is_rejected_even_without_segments() -> None:
    with pytest.raises(ValueError):
        chunk_segments([], 0)


def test_nan_window_is_rejected() -> None:
    with pytest.raises(ValueError):
        chunk_segments([seg(0, 10), seg(10, 20), seg(20, 3000)], math.nan)


def test_single_segment_is_one_chunk() -> None:
    s = make_segment("Good morning and welcome to the harbour report.", 1.5)
    assert chunk_segments([s], 45.0) == [
        Chunk(0, s.start, s.end, "Good morning and welcome to the harbour report.", 0, 0)
    ]


def test_consecutive_segments_are_grouped_up_to_the_window() -> None:
    segments = [seg(10.0 * i, 10.0 * i + 10.0, f"s{i}") for i in range(6)]
    chunks = chunk_segments(segments, 25.0)
    assert [(c.first_segment, c.last_segment) for c in chunks] == [(0, 1), (2, 3), (4, 5)]
    assert [(c.start, c.end) for c in chunks] == [(0.0, 20.0), (20.0, 40.0), (40.0, 60.0)]
    assert [c.text for c in chunks] == ["s0 s1", "s2 s3", "s4 s5"]
    assert_valid_chunks(segments, chunks, 25.0)


def test_chunk_exactly_as_long_as_the_window_is_kept_whole() -> None:
    segments = [seg(0.0, 15.0, "a"), seg(15.0, 30.0, "b"), seg(30.0, 30.5, "c")]
    chunks = chunk_segments(segments, 30.0)
    assert [(c.first_segment, c.last_segment) for c in chunks] == [(0, 1), (2, 2)]
    assert chunks[0].end - chunks[0].start == 30.0


def test_window_is_measured_from_first_start_to_last_end_including_gaps() -> None:
    # Two 1-second segments 50 seconds apart don't fit a 45-second window.
    segments = [seg(0.0, 1.0, "before"), seg(50.0, 51.0, "after")]
    chunks = chunk_segments(segments, 45.0)
    assert [c.text for c in chunks] == ["before", "after"]


def test_default_window_is_45_seconds() -> None:
    segments = [seg(5.0 * i, 5.0 * i + 5.0, str(i)) for i in range(20)]
    chunks = chunk_segments(segments)
    assert all(c.end - c.start <= 45.0 for c in chunks)
    assert chunks[0].last_segment == 8  # 9 five-second segments: 45 seconds
    assert_valid_chunks(segments, chunks, 45.0)


@pytest.mark.parametrize("position", [0, 1, 2])
def test_segment_longer_than_the_window_is_a_chunk_of_its_own(position: int) -> None:
    short = [seg(0.0, 5.0, "one"), seg(5.0, 10.0, "two")]
    segments: list[Segment] = []
    t = 0.0
    for i in range(3):
        length = 120.0 if i == position else 5.0
        text = "long monologue without a pause" if i == position else short[i % 2].text
        segments.append(seg(t, t + length, text))
        t += length
    chunks = chunk_segments(segments, 30.0)
    long_chunks = [c for c in chunks if c.text == "long monologue without a pause"]
    assert len(long_chunks) == 1
    only = long_chunks[0]
    assert only.first_segment == only.last_segment == position
    assert (only.start, only.end) == (segments[position].start, segments[position].end)
    assert_valid_chunks(segments, chunks, 30.0)


def test_every_segment_longer_than_the_window() -> None:
    segments = [seg(100.0 * i, 100.0 * i + 100.0, f"talk{i}") for i in range(4)]
    chunks = chunk_segments(segments, 10.0)
    assert [(c.first_segment, c.last_segment) for c in chunks] == [(i, i) for i in range(4)]
    assert_valid_chunks(segments, chunks, 10.0)


def test_text_is_stripped_and_joined_with_single_spaces() -> None:
    # faster-whisper segment texts start with a space; blank segments add no text.
    segments = [
        seg(0.0, 2.0, " Hello there."),
        seg(2.0, 3.0, "   "),
        seg(3.0, 4.0, ""),
        seg(4.0, 6.0, " General Kenobi. "),
    ]
    chunks = chunk_segments(segments, 45.0)
    assert len(chunks) == 1
    assert chunks[0].text == "Hello there. General Kenobi."
    assert (chunks[0].first_segment, chunks[0].last_segment) == (0, 3)


def test_words_are_never_split_between_chunks() -> None:
    lines = [
        "Container ships are getting bigger every single year.",
        "The mayor wants to dredge the channel to fourteen metres.",
        "Fishermen worry that the dredging will harm the oyster beds.",
        "Our public library opened in nineteen twelve.",
    ]
    segments = []
    t = 0.0
    for line in lines:
        s = make_segment(line, t)
        segments.append(s)
        t = s.end + 0.3
    chunks = chunk_segments(segments, 6.0)
    assert len(chunks) > 1
    for c in chunks:
        assert c.text.split() == [
            w for s in segments[c.first_segment : c.last_segment + 1] for w in s.text.split()
        ]
    assert_valid_chunks(segments, chunks, 6.0)


def test_input_is_not_modified_and_accepts_any_sequence() -> None:
    segments = tuple(seg(3.0 * i, 3.0 * i + 3.0, f"w{i}") for i in range(10))
    copy = tuple(segments)
    from_tuple = chunk_segments(segments, 7.0)
    from_list = chunk_segments(list(segments), 7.0)
    assert from_tuple == from_list
    assert segments == copy


def random_segments(rng: random.Random, count: int) -> list[Segment]:
    segments = []
    t = rng.uniform(0.0, 5.0)
    for _ in range(count):
        t += rng.choice([0.0, 0.0, rng.uniform(0.0, 3.0), rng.uniform(0.0, 40.0)])
        length = rng.choice([rng.uniform(0.2, 8.0), rng.uniform(0.2, 8.0), rng.uniform(20, 200)])
        words = [rng.choice(VOCABULARY) for _ in range(rng.randint(0, 12))]
        text = rng.choice(["", " "]) + " ".join(words) + rng.choice(["", " ", "  "])
        segments.append(seg(round(t, 2), round(t + length, 2), text))
        t += length
    return segments


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 42, 1234, 99999])
def test_random_transcripts_keep_every_invariant(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(40):
        segments = random_segments(rng, rng.randint(0, 60))
        window = rng.choice([0.5, 5.0, 30.0, 45.0, 120.0, rng.uniform(0.1, 300.0)])
        chunks = chunk_segments(segments, window)
        assert_valid_chunks(segments, chunks, window)
