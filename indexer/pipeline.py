"""download -> transcribe -> chunk -> store, one item at a time, failures kept per item."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import sqlite_utils

from . import download, embed, export, feeds, store, transcribe
from .chunk import chunk_segments
from .config import Settings
from .models import Chunk, MediaItem, Segment, Transcript

ALREADY = "already indexed (use --force to transcribe again)"
REPLACED = "the feed replaced this episode's audio: indexed again"
TRANSCRIPT_BYTES = 20 * 1024 * 1024
CHAPTERS_BYTES = 2 * 1024 * 1024
log = logging.getLogger(__name__)


@dataclass
class ItemResult:
    """What happened to one media item."""

    target: str
    title: str
    status: str  # "indexed", "skipped", "failed" or "queued" (handed to a job queue)
    episode_id: int | None = None
    error: str | None = None
    duration: float | None = None
    seconds: float = 0.0
    segments: int = 0
    chunks: int = 0
    note: str | None = None


class Reporter(Protocol):
    """Receives progress while items are processed (the CLI draws bars with it)."""

    def started(self, item: MediaItem) -> None: ...
    def downloading(self, done: int, total: int | None) -> None: ...
    def transcribing(self, done: float, total: float) -> None: ...
    def finished(self, result: ItemResult) -> None: ...


class _Silent:
    def started(self, item: MediaItem) -> None:
        pass

    def downloading(self, done: int, total: int | None) -> None:
        pass

    def transcribing(self, done: float, total: float) -> None:
        pass

    def finished(self, result: ItemResult) -> None:
        pass


Entry = MediaItem | download.DownloadError | download.KnownEntry


@dataclass(frozen=True)
class WorkItem:
    """An item handed to a job queue instead of being indexed here: what a worker needs
    besides its own settings (the publisher's transcript and chapters are fetched there)."""

    item: MediaItem
    force: bool = False
    transcript: feeds.TranscriptLink | None = None
    chapters_url: str | None = None
    vocab: tuple[str, ...] = ()
    failures_source: int | None = None  # refresh: record a failure against this source


# Puts a WorkItem on a job queue; returns a "queued" (or "skipped"/"failed") ItemResult.
Enqueue = Callable[[WorkItem], "ItemResult"]


def _items(target: str, is_known: download.IsKnown | None) -> Iterator[Entry]:
    if download.is_local(target):
        try:
            yield download.local_item(target)
        except download.DownloadError as exc:
            yield exc
        return
    try:
        yield from download.list_items(target, is_known)
    except download.DownloadError as exc:
        yield exc


def fetch_feed(url: str, *, etag: str | None = None,
               last_modified: str | None = None) -> download.Fetched | None:  # fmt: skip
    """The feed at url (status 304 when unchanged), or None when url is not a feed."""
    if not url.startswith(("http://", "https://")) or download.site_extractor(url):
        return None
    return download.get_feed(url, etag=etag, last_modified=last_modified)


@dataclass(frozen=True)
class FeedOptions:
    """Which entries of a feed to index, and how."""

    limit: int | None = None  # new items
    since: str | None = None  # ISO date
    transcribe: bool = False  # ignore publisher transcripts
    force: bool = False
    report_known: bool = True  # yield a "skipped" result for entries already indexed


def index_feed(
    db: sqlite_utils.Database,
    url: str,
    feed: feeds.Feed,
    settings: Settings,
    options: FeedOptions | None = None,
    *,
    wait: Callable[[MediaItem], str | None] | None = None,
    failed: Callable[[MediaItem, str], None] | None = None,
    reporter: Reporter | None = None,
    enqueue: Enqueue | None = None,
) -> Iterator[ItemResult]:
    """Index a feed's entries, newest first (`add FEED` and `refresh` both come here).

    `wait(item)` says why an item must not be tried now; `failed(item, error)` hears of
    every failure; with `enqueue`, new entries go to a job queue instead of being indexed.
    """
    opts = options or FeedOptions()
    rep = reporter or _Silent()
    for reason in feed.refused:
        log.warning(f"{url}: {reason}")
    source = store.find_source(db, url)
    done = 0
    seen: set[str] = set()
    for entry in sorted(feed.items, key=lambda e: e.timestamp or 0, reverse=True):
        if opts.limit is not None and done >= opts.limit:
            break
        if opts.since and entry.published and entry.published < opts.since:
            continue
        if not entry.enclosure_url and not entry.transcripts:
            if entry.refused:  # it named only local files (or other non-web links)
                refused = ItemResult(url, entry.title, "skipped", error=entry.refused[0])
                rep.finished(refused)
                yield refused
            continue
        item = download.feed_item(url, feed, entry)
        if item.key in seen:
            # A guid listed twice: the newest entry is the episode. Indexing the older one
            # too would replace it, and every later run would index both again.
            log.warning(f"{url}: {entry.title}: the feed repeats guid {item.media_id[:200]!r}")
            continue
        seen.add(item.key)
        stored = store.episode_by_key(db, item.key)
        if stored is None and source is not None:
            stored = store.adopt_legacy_key(db, source["id"], item.legacy_key, item.key)
        replaced = stored is not None and download.audio_replaced(stored, item)
        if stored is not None and not opts.force and not replaced:
            if opts.report_known:
                known = ItemResult(url, item.title, "skipped", stored["id"], error=ALREADY)
                rep.finished(known)
                yield known
            continue
        why = wait(item) if wait else None
        if why:
            yield ItemResult(url, item.title, "skipped", error=why)
            continue
        done += 1
        for reason in entry.refused:
            log.warning(f"{entry.title}: {reason}")
        rep.started(item)
        if enqueue is not None:
            result = enqueue(WorkItem(item, force=replaced or opts.force,
                                      transcript=None if opts.transcribe else entry.best_transcript(),
                                      chapters_url=entry.chapters_url,
                                      vocab=tuple(_vocab(db, item))))  # fmt: skip
        else:
            result = _index_entry(db, item, entry, settings, opts, rep,
                                  force=replaced or opts.force)  # fmt: skip
        if result.status == "indexed" and replaced:
            result.note = REPLACED
        if result.status == "failed" and failed:
            failed(item, result.error or "failed")
        rep.finished(result)
        yield result


def _index_entry(db: sqlite_utils.Database, item: MediaItem, entry: feeds.FeedItem,
                 settings: Settings, opts: FeedOptions, rep: Reporter,
                 force: bool) -> ItemResult:  # fmt: skip
    link = None if opts.transcribe else entry.best_transcript()
    try:
        extra = entry_extras(link, entry.chapters_url)
    except (download.DownloadError, ValueError) as exc:
        return ItemResult(item.source_url, item.title, "failed", error=str(exc))
    return index_item(db, item, settings, force=force, reporter=rep, **extra)  # type: ignore[arg-type]


def entry_extras(link: feeds.TranscriptLink | None, chapters_url: str | None) -> dict[str, object]:
    """A feed entry's publisher transcript (`provided`) and chapters, fetched; raises
    DownloadError or ValueError."""
    extra: dict[str, object] = {}
    if link is not None:
        got = download.http_get(link.url, max_bytes=TRANSCRIPT_BYTES)
        text = got.body.decode("utf-8", errors="replace")
        extra["provided"] = Provided(
            tuple(export.parse_transcript(text, link.fmt)), link.url, link.language
        )
    if chapters_url:
        got = download.http_get(chapters_url, max_bytes=CHAPTERS_BYTES)
        extra["chapters"] = tuple(feeds.parse_chapters(got.body))
    return extra


def index_targets(
    db: sqlite_utils.Database,
    targets: list[str],
    settings: Settings,
    *,
    force: bool = False,
    reporter: Reporter | None = None,
    enqueue: Enqueue | None = None,
) -> Iterator[ItemResult]:
    """Index every media item behind the targets; yields one result per item (with
    `enqueue`, new items go to a job queue instead)."""
    rep = reporter or _Silent()

    def is_known(key: str) -> bool:
        return store.episode_by_key(db, key) is not None

    for target in targets:
        try:
            got = fetch_feed(target)
            if got is not None:
                feed = feeds.parse_feed(got.body, url=got.url or target,
                                        content_type=got.content_type)  # fmt: skip
                yield from index_feed(db, target, feed, settings, FeedOptions(force=force),
                                      reporter=rep, enqueue=enqueue)  # fmt: skip
                continue
        except (download.DownloadError, feeds.FeedError) as exc:
            failure = ItemResult(target, target, "failed", error=str(exc))
            rep.finished(failure)
            yield failure
            continue
        for entry in _items(target, None if force else is_known):
            if isinstance(entry, download.DownloadError):
                result = ItemResult(target, target, "failed", error=str(entry))
            elif isinstance(entry, download.KnownEntry):
                result = ItemResult(target, entry.title, "skipped", error=ALREADY)
                found = store.episode_by_key(db, entry.key)
                result.episode_id = found["id"] if found else None
            else:
                rep.started(entry)
                if enqueue is not None:
                    result = enqueue(WorkItem(entry, force=force, vocab=tuple(_vocab(db, entry))))
                else:
                    result = index_item(db, entry, settings, force=force, reporter=rep)
            rep.finished(result)
            yield result


@dataclass(frozen=True)
class Provided:
    """A transcript the publisher made (Podcasting 2.0), used instead of transcribing."""

    segments: tuple[Segment, ...]
    url: str
    language: str | None = None
    origin: str = "publisher"  # or "subtitles" (uploaded by a video's creator)


def index_item(
    db: sqlite_utils.Database,
    item: MediaItem,
    settings: Settings,
    *,
    force: bool = False,
    reporter: Reporter | None = None,
    provided: Provided | None = None,
    chapters: tuple[tuple[float, str], ...] = (),
) -> ItemResult:
    """Run one item through every stage; the episode is stored whole or not at all."""
    began = time.monotonic()
    existing = store.episode_by_key(db, item.key)
    if existing and not force:
        return ItemResult(item.source_url, item.title, "skipped", existing["id"], ALREADY,
                          item.duration)  # fmt: skip
    got = produce(item, settings, reporter=reporter, provided=provided, chapters=chapters,
                  vocab=_vocab(db, item))  # fmt: skip
    if isinstance(got, ItemResult):
        return got
    result = store_produced(db, got, settings)
    result.seconds = time.monotonic() - began
    return result


@dataclass
class Produced:
    """An item's transcript, chunk vectors and provenance, ready to store: the first half of
    index_item (no database needed), which a queue worker hands back to the store step."""

    item: MediaItem
    transcript: Transcript
    chunk_seconds: float
    origin: str = "whisper"
    transcript_url: str | None = None
    chapters: tuple[tuple[float, str], ...] = ()
    vectors: store.Vectors | None = None  # (model id, vectors, line sign bits or None)
    local_path: str | None = None
    seconds: float = 0.0

    def chunks(self) -> list[Chunk]:
        """The search chunks (the same ones the vectors were made for)."""
        return chunk_segments(self.transcript.segments, self.chunk_seconds)


def too_long(item: MediaItem, settings: Settings) -> str | None:
    """Why an item is skipped for its length (max_duration), or None."""
    if settings.max_duration and item.duration and item.duration > settings.max_duration:
        return f"longer than max_duration ({item.duration:.0f} s)"
    return None


def produce(
    item: MediaItem,
    settings: Settings,
    *,
    reporter: Reporter | None = None,
    provided: Provided | None = None,
    chapters: tuple[tuple[float, str], ...] = (),
    vocab: Sequence[str] = (),
    keep_media: bool | None = None,
) -> Produced | ItemResult:
    """Download and transcribe (or take the provided transcript), chunk and embed; a
    "failed" or "skipped" ItemResult says why not. Writes no database."""
    rep = reporter or _Silent()
    began = time.monotonic()
    result = ItemResult(item.source_url, item.title, "failed", duration=item.duration)
    why = too_long(item, settings)
    if why:
        result.status, result.error = "skipped", why
        return result
    keep = settings.keep_media if keep_media is None else keep_media
    downloaded: Path | None = None
    path: Path | None = None
    try:
        if provided is None and settings.subtitles:
            provided = _creator_subtitles(item, settings)
        if provided is not None:
            # Cues without word timings get estimated ones when stored.
            segments = tuple(s for s in provided.segments if s.text.strip())
            if not segments:
                raise transcribe.TranscriptionError("the publisher's transcript is empty")
            duration = item.duration or segments[-1].end
            transcript = Transcript(
                segments, provided.language or item.language or "", duration, None
            )
        else:
            if item.path:
                path = Path(item.path)
            else:
                downloaded = path = download.fetch_audio(item, settings.media_path, rep.downloading)
            transcript = transcribe.transcribe(
                path,
                settings,
                hints=transcribe.build_hints(item.title, item.description, vocab),
                on_progress=rep.transcribing,
            )
        chunks = chunk_segments(transcript.segments, settings.chunk_seconds)
        return Produced(
            item,
            transcript,
            settings.chunk_seconds,
            origin=provided.origin if provided else "whisper",
            transcript_url=provided.url if provided else None,
            chapters=chapters,
            vectors=chunk_vectors(chunks, settings, transcript.segments),
            local_path=str(path) if path and ((keep and downloaded) or item.path) else None,
            seconds=time.monotonic() - began,
        )
    except (download.DownloadError, transcribe.TranscriptionError, embed.EmbedError) as exc:
        result.error = str(exc)
    except OSError as exc:
        result.error = _os_error(exc)
    finally:
        if downloaded is not None and not keep:
            downloaded.unlink(missing_ok=True)
    result.seconds = time.monotonic() - began
    return result


def _os_error(exc: OSError) -> str:
    return f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else "")


def store_produced(db: sqlite_utils.Database, produced: Produced, settings: Settings) -> ItemResult:
    """Store a produced transcript in one transaction (the second half of index_item)."""
    item, transcript = produced.item, produced.transcript
    result = ItemResult(item.source_url, item.title, "failed", duration=item.duration,
                        seconds=produced.seconds)  # fmt: skip
    chunks = produced.chunks()
    try:
        name = item.channel or (Path(item.path).name if item.path else None)
        source_id = store.source_id_for(db, item.source_url, name)
        result.episode_id = store.save_episode(
            db,
            item,
            transcript,
            chunks,
            source_id=source_id,
            chunk_seconds=produced.chunk_seconds,
            local_path=produced.local_path,
            origin=produced.origin,
            transcript_url=produced.transcript_url,
            chapters=produced.chapters,
            vectors=produced.vectors,
        )
        result.status = "indexed"
        result.duration = transcript.duration
        result.segments, result.chunks = len(transcript.segments), len(chunks)
    except store.StoreError as exc:
        result.error = str(exc)
    except OSError as exc:
        result.error = _os_error(exc)
    return result


def _creator_subtitles(item: MediaItem, settings: Settings) -> Provided | None:
    found = download.creator_subtitles(item, settings.language)
    if found is None:
        return None
    url, fmt, lang = found
    try:
        text = download.http_get(url).body.decode("utf-8", errors="replace")
        segments = tuple(export.parse_transcript(text, fmt))
    except (download.DownloadError, ValueError):
        return None  # unreachable or unreadable subtitles: transcribe instead
    return Provided(segments, url, lang, origin="subtitles")


def chunk_vectors(chunks: Sequence[Chunk], settings: Settings,
                  segments: Sequence[Segment] = ()) -> store.Vectors | None:  # fmt: skip
    """The chunks' meaning vectors (and their lines' sign bits, given the segments), stored
    with them; None with embedding_model = "off"."""
    if settings.embedding_model == "off" or not chunks:
        return None
    embedder = embed.load(settings.embedding_model)
    pairs = [(c.text, [s.text for s in segments[c.first_segment : c.last_segment + 1]]
              if segments else []) for c in chunks]  # fmt: skip
    vectors, lines = embed.encode_chunks(embedder, pairs)
    return embedder.model_id, vectors, lines if segments else None


def _vocab(db: sqlite_utils.Database, item: MediaItem) -> list[str]:
    """The vocabulary editors gave the item's show (`indexer vocab add`)."""
    source = store.find_source(db, item.source_url) if item.source_url else None
    return store.vocab_of(db, source["id"]) if source else []


def rechunk(db: sqlite_utils.Database, episode_id: int, window: float,
            model: str = embed.DEFAULT) -> int:  # fmt: skip
    """Re-chunk a stored transcript with a new window, without transcribing (the chunks'
    meaning vectors are remade with the embedding `model`); returns chunks."""
    segments = store.get_segments(db, episode_id)
    chunks = chunk_segments(segments, window)
    store.replace_chunks(db, episode_id, segments, chunks, window)
    restore_vectors(db, episode_id, model)
    return len(chunks)


def restore_vectors(db: sqlite_utils.Database, episode_id: int, model: str = embed.DEFAULT) -> int:
    """Remake the vectors of an episode's chunks that lost them (rechunked, corrected), when
    the database's vectors come from `model`; returns how many were made."""
    if model == "off" or store.vector_model(db) != embed.model_id(model):
        return 0  # none yet, or another model's: `indexer embed` makes them
    return embed_missing(db, embed.load(model), episode_id=episode_id)


def embed_missing(db: sqlite_utils.Database, embedder: embed.Embedder, *,
                  episode_id: int | None = None,
                  on_batch: Callable[[int], None] | None = None) -> int:  # fmt: skip
    """Make the vectors of chunks that have none (of one episode, if given), a batch at a
    time (so an interrupted run keeps what it made); returns how many were made."""
    made = 0
    while todo := store.chunks_without_vectors(db, 256, episode_id=episode_id):
        vectors, lines = embed.encode_chunks(
            embedder, [(row["text"], [s.text for s in store.chunk_segments(row)]) for row in todo]
        )
        store.save_vectors(db, [(row["id"], v, ln) for row, v, ln in
                                zip(todo, vectors, lines, strict=True)], embedder.model_id)  # fmt: skip
        made += len(todo)
        if on_batch:
            on_batch(len(todo))
    return made
