"""Small dataclasses passed between the stages. Times are float seconds."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any


def feed_scope(feed_url: str) -> str:
    """The part of a feed item's key that names its feed."""
    return hashlib.sha1(feed_url.strip().encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Word:
    """One spoken word with its time span."""

    start: float
    end: float
    text: str
    probability: float = 1.0


@dataclass(frozen=True)
class Segment:
    """A transcript segment (roughly a sentence) with its words."""

    start: float
    end: float
    text: str
    words: tuple[Word, ...] = ()
    speaker: str | None = None  # as the publisher's transcript names them


@dataclass(frozen=True)
class Chunk:
    """Consecutive segments grouped into a time window; the unit of search."""

    index: int
    start: float
    end: float
    text: str
    first_segment: int
    last_segment: int


@dataclass
class MediaItem:
    """What we know about one piece of media before and after downloading it."""

    source_url: str
    extractor: str
    media_id: str
    title: str
    webpage_url: str
    channel: str | None = None
    published: str | None = None  # ISO date, YYYY-MM-DD
    duration: float | None = None
    description: str | None = None
    language: str | None = None
    thumbnail: str | None = None
    media_url: str | None = None
    path: str | None = None  # local audio file once downloaded
    # Feed items: a short hash of the feed's URL. Guids ("1", "ep-12") are only unique
    # within one feed, unlike a YouTube id.
    scope: str | None = None
    media_length: int | None = None  # the enclosure's declared size in bytes
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """Stable identity used to avoid indexing the same media twice."""
        if self.scope:
            return f"feed:{self.scope}:{self.media_id}"
        return f"{self.extractor.lower()}:{self.media_id}"

    @property
    def legacy_key(self) -> str:
        """The key a feed item had before keys were scoped to their feed."""
        return f"{self.extractor.lower()}:{self.media_id}"


@dataclass(frozen=True)
class Transcript:
    """The result of transcribing one item."""

    segments: tuple[Segment, ...]
    language: str
    duration: float
    model: str | None  # None for a publisher's transcript


@dataclass
class Hit:
    """One search result: where in which episode the query was spoken."""

    episode_id: int
    title: str
    start: float
    end: float
    text: str
    snippet: str
    url: str
    chunk_id: int
    score: float
    partial: bool = False
    quote: str = ""  # the sentence(s) holding the match
    chapter: str | None = None  # the publisher's chapter title at the hit
    speaker: str | None = None  # who says the quote, when the publisher's transcript names them
    language: str | None = None  # the episode's
    matched: int = 0
    terms: int = 0
    channel: str | None = None
    published: str | None = None
    duration: float | None = None
    webpage_url: str | None = None
    thumbnail: str | None = None
    source_id: int | None = None
    semantic: bool = False  # found by meaning only: none of the query's words are in it

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form, the shape of `indexer search --json` and /api/search."""
        return {
            "episode_id": self.episode_id,
            "title": self.title,
            "channel": self.channel,
            "published": self.published,
            "start": round(self.start, 2),
            "end": round(self.end, 2),
            "text": self.text,
            "quote": self.quote,
            "chapter": self.chapter,
            "speaker": self.speaker,
            "language": self.language,
            "snippet": self.snippet,
            "url": self.url,
            "webpage_url": self.webpage_url,
            "partial": self.partial,
            "semantic": self.semantic,
            "matched_terms": self.matched,
            "query_terms": self.terms,
            "score": round(self.score, 4),
            "chunk_id": self.chunk_id,
            "source_id": self.source_id,
        }
