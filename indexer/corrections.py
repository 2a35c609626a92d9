"""Editors' corrections of transcript lines: new words, re-timed over the line's span.

A correction replaces a stored line's words (so search, quotes, exports and `rechunk` all
see it at once) and is recorded with who made it, so that every view can mark it.
"""

from __future__ import annotations

import re
from typing import Any

import sqlite_utils

from . import analyze, store
from .chunk import chunk_segments
from .models import Segment, Word

MAX_CHARS = 2000
_SPACE = re.compile(r"\s+")


class CorrectionError(ValueError):
    """A refused correction, with a message that says what to do."""


def retime(segment: Segment, text: str) -> Segment:
    """The line with `text` as its words, their times spread over the line's span by length
    (the model's word times belong to the words it heard, not to the corrected ones)."""
    words = _SPACE.sub(" ", text).strip().split(" ")
    if len(words) == 1 and analyze.unspaced_form(words[0]) is not None:
        words = list(words[0])  # Chinese, Japanese, Thai: one token per character
    weights = [len(w) + 1 for w in words]
    span = max(segment.end - segment.start, 0.01)
    at, timed = segment.start, []
    for word, weight in zip(words, weights, strict=True):
        length = span * weight / sum(weights)
        timed.append(Word(round(at, 3), round(at + length, 3), word, 1.0))
        at += length
    return Segment(segment.start, segment.end, analyze.join_words(words), tuple(timed),
                   segment.speaker)  # fmt: skip


def correct_line(db: sqlite_utils.Database, episode_id: int, seconds: float, text: str,
                 editor: str, model: str = "mpnet") -> dict[str, Any]:  # fmt: skip
    """Replace the words of the line spoken at `seconds` (and remake the meaning vectors of
    its chunks with the embedding `model`); returns the correction."""
    new_text = _SPACE.sub(" ", text or "").strip()
    if not new_text:
        raise CorrectionError("the corrected text is empty")
    if len(new_text) > MAX_CHARS:
        raise CorrectionError(f"the corrected text is too long: at most {MAX_CHARS} characters")
    episode = store.get_episode(db, episode_id)
    if episode is None:
        raise CorrectionError(f"no episode {episode_id}; see 'indexer episodes'")
    segments = list(store.get_segments(db, episode_id))
    index = next((i for i, s in enumerate(segments) if s.start <= seconds < s.end), None)
    if index is None:
        index = next((i for i, s in enumerate(segments) if s.end > seconds), None)
    if index is None:
        raise CorrectionError(f"episode {episode_id} has no line at {seconds:.1f} s")
    old = segments[index]
    segments[index] = retime(old, new_text)
    window = float(episode.get("chunk_seconds") or 45.0)
    store.save_correction(db, episode_id, segments, chunk_segments(segments, window), window, {
        "start": old.start, "end": old.end, "old_text": old.text,
        "new_text": segments[index].text, "editor": editor,
    })  # fmt: skip
    from .pipeline import restore_vectors  # the pipeline knows the embedding stage

    restore_vectors(db, episode_id, model)
    return {"episode_id": episode_id, "start": old.start, "end": old.end, "old_text": old.text,
            "text": segments[index].text, "editor": editor}  # fmt: skip


def corrected_lines(db: sqlite_utils.Database, episode_id: int) -> dict[float, dict[str, Any]]:
    """The latest correction of each corrected line, by the line's start (rounded to 0.01 s)."""
    return {round(c["start"], 2): c for c in store.corrections_of(db, episode_id)}
