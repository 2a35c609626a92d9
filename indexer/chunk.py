"""Grouping transcript segments into time-window chunks, the unit of search. Pure."""

from __future__ import annotations

import math
from collections.abc import Sequence

from .models import Chunk, Segment


def chunk_segments(segments: Sequence[Segment], window: float = 45.0) -> list[Chunk]:
    """Group consecutive whole segments into chunks of about `window` seconds.

    A segment is never split, so no word is ever cut in two; a segment longer than
    the window becomes a chunk of its own.
    """
    if not 0 < window < math.inf:
        raise ValueError(f"chunk window must be a positive number of seconds, not {window}")
    chunks: list[Chunk] = []
    group: list[int] = []

    def close() -> None:
        first, last = segments[group[0]], segments[group[-1]]
        text = " ".join(segments[i].text.strip() for i in group if segments[i].text.strip())
        chunks.append(Chunk(len(chunks), first.start, last.end, text, group[0], group[-1]))

    for i, seg in enumerate(segments):
        if group and seg.end - segments[group[0]].start > window:
            close()
            group = []
        group.append(i)
    if group:
        close()
    return chunks
