"""Reading podcast feeds (RSS 2.0, RSS 1.0, Atom; Podcasting 2.0 tags) with feedparser. No I/O."""

from __future__ import annotations

import calendar
import io
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlparse

import feedparser
from feedparser.mixin import _FeedParserMixin

from .links import MEDIA_EXTENSIONS

# Which transcript formats we can read, best first (JSON has word timings).
TRANSCRIPT_TYPES = {
    "application/json": "json",
    "application/x-subrip": "srt",
    "application/srt": "srt",
    "text/srt": "srt",
    "text/vtt": "vtt",
}
PODCAST_NAMESPACES = (
    "https://podcastindex.org/namespace/1.0",
    "https://github.com/Podcastindex-org/podcast-namespace/blob/main/docs/1.0.md",
)


class FeedError(ValueError):
    """The document is not a readable feed."""


def _start_podcast_transcript(self: Any, attrs: dict[str, str]) -> None:
    # feedparser keeps only the last of repeated unknown tags; an episode often lists
    # several transcripts (HTML, SRT, VTT, JSON) and we want the best one.
    self._get_context().setdefault("podcast_transcripts", []).append(dict(attrs))


def _start_podcast_chapters(self: Any, attrs: dict[str, str]) -> None:
    self._get_context()["podcast_chapters"] = dict(attrs)


# feedparser dispatches namespaced tags to `_start_<prefix>_<name>` methods of its mixin;
# giving the Podcasting 2.0 namespace one prefix makes `pc:transcript` work like
# `podcast:transcript`. Both only add keys that feedparser itself never sets.
for _uri in PODCAST_NAMESPACES:
    _FeedParserMixin.namespaces.setdefault(_uri, "podcast")
_FeedParserMixin._start_podcast_transcript = _start_podcast_transcript  # type: ignore[attr-defined]
_FeedParserMixin._start_podcast_chapters = _start_podcast_chapters  # type: ignore[attr-defined]


@dataclass(frozen=True)
class TranscriptLink:
    url: str
    fmt: str  # "json", "srt" or "vtt"
    language: str | None = None


@dataclass
class FeedItem:
    """One episode entry of a feed."""

    guid: str | None
    title: str
    enclosure_url: str | None
    enclosure_type: str | None = None
    enclosure_length: int | None = None
    description: str | None = None
    published: str | None = None  # ISO date
    timestamp: float | None = None
    duration: float | None = None
    link: str | None = None
    image: str | None = None
    transcripts: list[TranscriptLink] = field(default_factory=list)
    chapters_url: str | None = None
    refused: list[str] = field(default_factory=list)  # links left out, and why

    def best_transcript(self) -> TranscriptLink | None:
        """The publisher transcript we prefer: JSON, then VTT, then SRT."""
        order = {"json": 0, "vtt": 1, "srt": 2}
        return min(self.transcripts, key=lambda t: order[t.fmt], default=None)


@dataclass
class Feed:
    title: str | None
    link: str | None
    image: str | None
    items: list[FeedItem]
    refused: list[str] = field(default_factory=list)  # the feed's links left out, and why


def looks_like_feed(body: bytes) -> bool:
    """True when a document starts like RSS, RSS 1.0 (RDF) or Atom."""
    head = body[:4096].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if not head.startswith(b"<"):
        return False
    return any(tag in head for tag in (b"<rss", b"<feed", b"<rdf:rdf", b"<rdf "))


def is_web_url(url: str | None) -> bool:
    """True for absolute http(s) URLs: the only kind a feed may make us fetch or link."""
    if not url:
        return False
    try:
        parsed = urlparse(url.strip())
    except ValueError:  # "http://[::1/": a bracketed host that is no IP address
        return False
    return parsed.scheme.lower() in ("http", "https") and bool(parsed.netloc)


def parse_duration(value: str | None) -> float | None:
    """itunes:duration as seconds: `3723`, `1:02:03` or `62:03`."""
    if not value:
        return None
    try:
        parts = [float(p) for p in str(value).strip().split(":")]
    except ValueError:
        return None
    seconds = 0.0
    for part in parts:
        seconds = seconds * 60 + part
    return seconds if seconds > 0 else None


# A bare "&" ("Q&A") is not XML; feedparser's lenient parser would read "&A" as an entity.
_BARE_AMP = re.compile(rb"&(?!#[0-9]+;|#[xX][0-9a-fA-F]+;|[A-Za-z][A-Za-z0-9]*;)")
# A DOCTYPE's internal subset ("[<!ENTITY ...>]") can declare entities that expand a few
# bytes into gigabytes. feedparser removes declarations only at the start of a line, so
# one written on the line of <?xml ...?> reached expat; no feed needs one.
_DTD_SUBSET = re.compile(rb"(<!DOCTYPE[^\[>]*)\[.*?\]\s*>", re.DOTALL)


def _repair(body: bytes) -> bytes:
    """Fix the two defects found most in hand-made feeds, and drop DTD declarations."""
    body = body.lstrip(b" \t\r\n")  # whitespace before <?xml ...?> makes it invalid XML
    if body.startswith(b"\xef\xbb\xbf"):
        body = b"\xef\xbb\xbf" + body[3:].lstrip(b" \t\r\n")
    body = _DTD_SUBSET.sub(rb"\1>", body, count=1)
    return _BARE_AMP.sub(b"&amp;", body)


# Control characters (but tab and newline) are never text, and ESC or CSI in a title
# printed on a terminal would be obeyed as an escape sequence.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
MAX_TITLE = 500  # characters; longer is junk that would fill every line showing the title


def _text(value: Any) -> str:
    """A feed's text without control characters."""
    return _CONTROL.sub("", value if isinstance(value, str) else "").strip()


def _title(value: Any) -> str:
    """A title on one line, control characters removed, at most MAX_TITLE characters."""
    title = " ".join(line.strip() for line in _text(value).splitlines() if line.strip())
    return title if len(title) <= MAX_TITLE else title[: MAX_TITLE - 1].rstrip() + "\u2026"


def _date(entry: Any) -> tuple[str | None, float | None]:
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    if not parsed:
        return None, None
    stamp = float(calendar.timegm(parsed))
    return datetime.fromtimestamp(stamp, tz=UTC).date().isoformat(), stamp


def _transcript_format(mime: str | None, url: str) -> str | None:
    kind = (mime or "").split(";")[0].strip().lower()
    if kind in TRANSCRIPT_TYPES:
        return TRANSCRIPT_TYPES[kind]
    ext = url.lower().split("?")[0].rsplit(".", 1)[-1]
    return ext if ext in ("json", "srt", "vtt") else None


def _length(value: Any) -> int | None:
    try:
        n = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return n if n > 0 else None


class _Links:
    """Resolves URLs against the feed's address and keeps only http(s) ones."""

    def __init__(self, base: str | None) -> None:
        self.base = base
        self.refused: list[str] = []

    def __call__(self, url: Any, what: str) -> str | None:
        if not url or not isinstance(url, str):
            return None
        try:
            full = urljoin(self.base, url.strip()) if self.base else url.strip()
        except ValueError:  # a malformed host: refused below like any non-web link
            full = ""
        if is_web_url(full):
            return full
        self.refused.append(f"{what} {url.strip()[:200]!r} refused: only http(s) links are used")
        return None


def _enclosure(entry: Any) -> tuple[str | None, str | None, int | None]:
    for enc in entry.get("enclosures") or []:
        if enc.get("href"):
            return enc["href"], enc.get("type"), _length(enc.get("length"))
    rdf = entry.get("enc_enclosure")  # RSS 1.0's enclosure module
    if isinstance(rdf, dict) and rdf.get("rdf:resource"):
        return (
            rdf["rdf:resource"],
            rdf.get("enc:type") or rdf.get("type"),
            _length(rdf.get("enc:length") or rdf.get("length")),
        )
    link = entry.get("link") or ""
    if link.lower().split("?")[0].rsplit(".", 1)[-1] in MEDIA_EXTENSIONS:
        return link, None, None  # feeds that link the audio itself
    return None, None, None


def _image(node: Any) -> str | None:
    image = node.get("image")
    if isinstance(image, dict):
        return image.get("href") or image.get("url")
    return None


def _item(entry: Any, link: _Links) -> FeedItem:
    seen = len(link.refused)
    url, mime, length = _enclosure(entry)
    published, stamp = _date(entry)
    transcripts = []
    for tr in entry.get("podcast_transcripts") or []:
        found = link(tr.get("url"), "transcript")
        fmt = _transcript_format(tr.get("type"), found or "")
        if found and fmt:
            transcripts.append(TranscriptLink(found, fmt, tr.get("language")))
    chapters = entry.get("podcast_chapters") or {}
    content = entry.get("content") or []
    description = _text((content[0].get("value") if content else None) or entry.get("summary"))
    page = link(entry.get("link"), "link")
    item = FeedItem(
        guid=(entry.get("id") or "").strip() or None,
        title=_title(entry.get("title")),
        enclosure_url=link(url, "enclosure"),
        enclosure_type=mime,
        enclosure_length=length,
        description=description or None,
        published=published,
        timestamp=stamp,
        duration=parse_duration(entry.get("itunes_duration")),
        link=None if page == url else page,
        image=link(_image(entry), "image"),
        transcripts=transcripts,
        chapters_url=link(chapters.get("url"), "chapters"),
    )
    item.refused = link.refused[seen:]
    return item


def parse_feed(body: bytes, *, url: str | None = None, content_type: str | None = None) -> Feed:
    """Parse an RSS 2.0, RSS 1.0 or Atom feed as served at `url` (relative links resolve)."""
    # No content-location: feedparser would resolve guids ("1") against it as if URLs.
    headers = {"content-type": content_type} if content_type else {}
    # A stream, never a string: feedparser.parse("file:///...") would read that file.
    data = feedparser.parse(io.BytesIO(_repair(body)), response_headers=headers,
                            resolve_relative_uris=False, sanitize_html=True)  # fmt: skip
    version = data.get("version") or ""
    if not version and not data.entries:
        reason = data.get("bozo_exception") if looks_like_feed(body) else None
        raise FeedError(f"not a readable RSS or Atom feed ({reason})" if reason else
                        "not an RSS or Atom feed")  # fmt: skip
    link = _Links(url)
    info = data.feed
    feed = Feed(
        title=_title(info.get("title")) or None,
        link=link(info.get("link"), "link"),
        image=link(_image(info), "image"),
        items=[],
    )
    feed.refused = list(link.refused)  # the feed's own; each item keeps its own
    feed.items = [_item(entry, link) for entry in data.entries]
    return feed


def parse_chapters(body: bytes | str) -> list[tuple[float, str]]:
    """Podcasting 2.0 JSON chapters as (start seconds, title), in order."""
    try:
        data: Any = json.loads(body)
        chapters = [
            (float(c["startTime"]), str(c.get("title") or "").strip())
            for c in data.get("chapters", [])
            if isinstance(c, dict) and "startTime" in c and c.get("toc", True) is not False
        ]
    except (ValueError, TypeError, AttributeError, KeyError):
        raise FeedError("not a Podcasting 2.0 chapters file") from None
    return sorted((c for c in chapters if c[1]), key=lambda c: c[0])
