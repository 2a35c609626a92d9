"""Writers of formats older versions stored, for tests of the upgrade path."""

from __future__ import annotations

from collections.abc import Sequence

from indexer.models import Segment
from indexer.timings import _varint, _zigzag


def encode_v1(segments: Sequence[Segment], origin: float) -> bytes:
    """Timings as version 1 stored them: per word, a start delta and a length."""
    out = bytearray([1])
    _varint(out, len(segments))
    previous = round(origin * 100)
    for seg in segments:
        _varint(out, len(seg.words))
        for w in seg.words:
            start, end = round(w.start * 100), round(w.end * 100)
            _varint(out, _zigzag(start - previous))
            _varint(out, max(end - start, 0))
            previous = start + max(end - start, 0)
    return bytes(out)
