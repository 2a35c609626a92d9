"""Reading podcast RSS feeds (with Podcasting 2.0 transcripts and chapters). Pure, no I/O."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import timezone
from email.utils import parsedate_to_datetime
from typing import Any

NS = {
    "itunes": "http://www.itunes.com/dtds/podcast-1.0.dtd",
    "podcast": "https://podcastindex.org/namespace/1.0",
    "content": "http://purl.org/rss/1.0/modules/content/",
    "atom": "http://www.w3.org/2005/Atom",
}
# Which transcript formats we can read, best first (JSON has word timings).
TRANSCRIPT_TYPES = {
    "application/json": "json",
    "application/x-subrip": "srt",
    "application/srt": "srt",
    "text/srt": "srt",
    "text/vtt": "vtt",
}


class FeedError(ValueError):
    """The document is not a readable RSS feed."""


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
    description: str | None = None
    published: str | None = None  # ISO date
    timestamp: float | None = None
    duration: float | None = None
    link: str | None = None
    image: str | None = None
    transcripts: list[TranscriptLink] = field(default_factory=list)
    chapters_url: str | None = None

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


def looks_like_feed(body: bytes) -> bool:
    """True when a document starts like RSS or Atom."""
    head = body[:2048].lstrip().lower()
    return (
        b"<rss" in head
        or b"<feed" in head
        or (head.startswith(b"<?xml") and b"<rss" in body[:8192].lower())
    )


def _text(el: ET.Element | None) -> str | None:
    if el is None or el.text is None:
        return None
    value = el.text.strip()
    return value or None


def parse_duration(value: str | None) -> float | None:
    """itunes:duration as seconds: `3723`, `1:02:03` or `62:03`."""
    if not value:
        return None
    try:
        parts = [float(p) for p in value.strip().split(":")]
    except ValueError:
        return None
    seconds = 0.0
    for part in parts:
        seconds = seconds * 60 + part
    return seconds if seconds > 0 else None


def _date(value: str | None) -> tuple[str | None, float | None]:
    if not value:
        return None, None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        match = re.match(r"\d{4}-\d{2}-\d{2}", value.strip())
        return (match.group(0), None) if match else (None, None)
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc).date().isoformat(), when.timestamp()


def _transcript_format(mime: str | None, url: str) -> str | None:
    if mime and mime.split(";")[0].strip().lower() in TRANSCRIPT_TYPES:
        return TRANSCRIPT_TYPES[mime.split(";")[0].strip().lower()]
    ext = url.lower().split("?")[0].rsplit(".", 1)[-1]
    return ext if ext in ("json", "srt", "vtt") else None


def parse_feed(body: bytes) -> Feed:
    """Parse an RSS 2.0 podcast feed."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise FeedError(f"not a valid RSS feed ({exc})") from None
    channel = root.find("channel")
    if root.tag != "rss" or channel is None:
        raise FeedError("not an RSS feed (no <rss><channel>)")
    image = channel.find("itunes:image", NS)
    items = []
    for it in channel.findall("item"):
        enclosure = it.find("enclosure")
        enclosure_url = enclosure.get("url") if enclosure is not None else None
        published, stamp = _date(_text(it.find("pubDate")))
        transcripts = []
        for tr in it.findall("podcast:transcript", NS):
            url = tr.get("url")
            fmt = _transcript_format(tr.get("type"), url or "")
            if url and fmt:
                transcripts.append(TranscriptLink(url, fmt, tr.get("language")))
        chapters = it.find("podcast:chapters", NS)
        item_image = it.find("itunes:image", NS)
        items.append(
            FeedItem(
                guid=_text(it.find("guid")),
                title=_text(it.find("title")) or _text(it.find("itunes:title", NS)) or "",
                enclosure_url=enclosure_url,
                enclosure_type=enclosure.get("type") if enclosure is not None else None,
                description=_text(it.find("content:encoded", NS)) or _text(it.find("description")),
                published=published,
                timestamp=stamp,
                duration=parse_duration(_text(it.find("itunes:duration", NS))),
                link=_text(it.find("link")),
                image=item_image.get("href") if item_image is not None else None,
                transcripts=transcripts,
                chapters_url=chapters.get("url") if chapters is not None else None,
            )
        )
    return Feed(
        title=_text(channel.find("title")),
        link=_text(channel.find("link")),
        image=image.get("href") if image is not None else None,
        items=items,
    )


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
