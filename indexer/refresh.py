"""Refreshing followed feeds and channels: only new work, safe under cron."""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import logging
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import sqlite_utils

from . import download, feeds, pipeline, store
from .config import Settings
from .models import MediaItem

MAX_BACKOFF = timedelta(days=7)
log = logging.getLogger(__name__)


@dataclass
class SourceResult:
    """What a refresh did for one followed source."""

    source_id: int
    name: str
    status: str  # "ok", "unchanged", "busy" or "failed"
    error: str | None = None
    items: list[pipeline.ItemResult] = field(default_factory=list)

    @property
    def new(self) -> int:
        return sum(r.status == "indexed" for r in self.items)

    @property
    def queued(self) -> int:
        return sum(r.status == "queued" for r in self.items)

    @property
    def failed(self) -> int:
        return sum(r.status == "failed" for r in self.items) + (self.status == "failed")


@dataclass(frozen=True)
class Options:
    """How a refresh should run."""

    limit: int | None = None  # new items per source
    since: str | None = None  # ISO date
    transcribe: bool = False  # ignore publisher transcripts
    retry_failed: bool = False  # ignore backoff
    retry_seconds: float = 3600.0


@contextlib.contextmanager
def source_lock(db_path: str, source_id: int) -> Iterator[bool]:
    """An exclusive, non-blocking lock on one source; yields False when another run holds it."""
    folder = Path(f"{db_path}.locks")
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / f"source-{source_id}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        # The kernel drops the lock when the process dies, even by kill -9.
        yield True
    finally:
        os.close(fd)


def _now() -> datetime:
    return datetime.now(UTC)


def _backoff(attempts: int, base: float) -> str:
    delay = min(timedelta(seconds=base * 2 ** max(attempts - 1, 0)), MAX_BACKOFF)
    return (_now() + delay).isoformat(timespec="seconds")


def refresh(
    db: sqlite_utils.Database,
    settings: Settings,
    refs: list[str] | None = None,
    options: Options | None = None,
    reporter: pipeline.Reporter | None = None,
    enqueue: pipeline.Enqueue | None = None,
) -> Iterator[SourceResult]:
    """Refresh the given (or all) followed sources, one at a time; with `enqueue`, new
    items go to a job queue instead of being indexed here."""
    opts = options or Options()
    if refs:
        sources = []
        for ref in refs:
            found = store.find_source(db, ref)
            if found is None:
                raise store.StoreError(f"no followed source {ref!r}; see 'indexer sources'")
            sources.append(found)
    else:
        sources = store.followed_sources(db)
    for source in sources:
        name = source["name"] or source["url"]
        with source_lock(settings.db, source["id"]) as locked:
            if not locked:
                yield SourceResult(source["id"], name, "busy", "another refresh is working on it")
                continue
            yield _refresh_source(db, settings, source, opts, reporter, enqueue)


def _refresh_source(db: sqlite_utils.Database, settings: Settings, source: dict, opts: Options,
                    reporter: pipeline.Reporter | None,
                    enqueue: pipeline.Enqueue | None = None) -> SourceResult:  # fmt: skip
    result = SourceResult(source["id"], source["name"] or source["url"], "ok")
    if enqueue is not None:
        queue = enqueue  # failures a worker meets are recorded against this source

        def enqueue(work: pipeline.WorkItem) -> pipeline.ItemResult:
            return queue(dataclasses.replace(work, failures_source=source["id"]))

    try:
        if source["kind"] == "feed":
            result.items = list(_refresh_feed(db, settings, source, opts, result, reporter,
                                              enqueue))  # fmt: skip
        else:
            result.items = list(_refresh_ytdlp(db, settings, source, opts, reporter, enqueue))
    except (download.DownloadError, feeds.FeedError) as exc:
        result.status, result.error = "failed", str(exc)
    error = result.error or next((r.error for r in result.items if r.status == "failed"), None)
    try:
        store.update_source(db, source["id"], last_refresh=_now().isoformat(timespec="seconds"),
                            last_error=error)  # fmt: skip
    except store.StoreError as exc:
        log.warning(f"{result.name}: could not record the refresh ({exc})")
    return result


def _due(db: sqlite_utils.Database, key: str, opts: Options) -> str | None:
    """Why an item that failed before must wait, or None when it may be tried now."""
    failure = store.failure_for(db, key)
    if failure is None or opts.retry_failed or failure["next_attempt"] <= _now().isoformat():
        return None
    return f"failed {failure['attempts']} time(s), next try after {failure['next_attempt']}"


def _remember_failure(db: sqlite_utils.Database, source: dict, item: MediaItem, error: str,
                      opts: Options) -> None:  # fmt: skip
    """Record a failure; each new one doubles the wait before the next try.

    A failure to record it is only logged: it must never end the run.
    """
    remember_failure(db, source["id"], item, error, opts.retry_seconds)


def remember_failure(db: sqlite_utils.Database, source_id: int, item: MediaItem, error: str,
                     retry_seconds: float = Options.retry_seconds) -> None:  # fmt: skip
    """Record that an item of a followed source failed (again): later refreshes wait 1, 2,
    4, ... x retry_seconds before trying it again. Never raises (it is only logged)."""
    try:
        failure = store.failure_for(db, item.key)
        attempts = (failure["attempts"] if failure else 0) + 1
        store.record_failure(db, source_id, item.key, item.title, item.media_url, error,
                             attempts, _backoff(attempts, retry_seconds))  # fmt: skip
    except (store.StoreError, sqlite3.Error) as exc:
        log.warning(f"{item.title}: could not record the failure ({exc})")


def _run_item(db: sqlite_utils.Database, settings: Settings, source: dict, item: MediaItem,
              opts: Options, reporter: pipeline.Reporter | None,
              enqueue: pipeline.Enqueue | None = None) -> pipeline.ItemResult:  # fmt: skip
    if reporter:
        reporter.started(item)
    if enqueue is not None:
        vocab = tuple(store.vocab_of(db, source["id"]))
        result = enqueue(pipeline.WorkItem(item, vocab=vocab))
    else:
        result = pipeline.index_item(db, item, settings, reporter=reporter)
    if result.status == "failed":
        _remember_failure(db, source, item, result.error or "failed", opts)
    if reporter:
        reporter.finished(result)
    return result


def _refresh_feed(db: sqlite_utils.Database, settings: Settings, source: dict, opts: Options,
                  result: SourceResult, reporter: pipeline.Reporter | None,
                  enqueue: pipeline.Enqueue | None = None) -> Iterator[pipeline.ItemResult]:  # fmt: skip
    # Known to be a feed: no need to ask yt-dlp (whose import alone costs a second) first.
    got = download.get_feed(source["url"], etag=source["etag"],
                            last_modified=source["last_modified"])  # fmt: skip
    if got is None:
        raise feeds.FeedError(f"{source['url']} is no longer a feed")
    if got.status == 304:
        result.status = "unchanged"
        return
    options = pipeline.FeedOptions(limit=opts.limit, since=opts.since, transcribe=opts.transcribe,
                                   report_known=False)  # fmt: skip
    feed = feeds.parse_feed(got.body, url=got.url or source["url"], content_type=got.content_type)
    yield from pipeline.index_feed(
        db, source["url"], feed, settings, options,
        wait=lambda item: _due(db, item.key, opts),
        failed=lambda item, error: _remember_failure(db, source, item, error, opts),
        reporter=reporter,
        enqueue=enqueue,
    )  # fmt: skip
    # Only remember the validators once every entry was looked at, so a killed run
    # re-reads the feed next time.
    store.update_source(db, source["id"], etag=got.etag, last_modified=got.last_modified,
                        name=source["name"] or feed.title)  # fmt: skip


def _refresh_ytdlp(db: sqlite_utils.Database, settings: Settings, source: dict, opts: Options,
                   reporter: pipeline.Reporter | None,
                   enqueue: pipeline.Enqueue | None = None) -> Iterator[pipeline.ItemResult]:  # fmt: skip
    def known(key: str) -> bool:
        return store.episode_by_key(db, key) is not None or _due(db, key, opts) is not None

    done = 0
    for entry in download.list_items(source["url"], known):
        if opts.limit is not None and done >= opts.limit:
            break
        if isinstance(entry, download.KnownEntry):
            continue
        if isinstance(entry, download.DownloadError):
            yield pipeline.ItemResult(source["url"], source["url"], "failed", error=str(entry))
            continue
        if opts.since and entry.published and entry.published < opts.since:
            break  # channels and playlists list newest first
        done += 1
        yield _run_item(db, settings, source, entry, opts, reporter, enqueue)


def check_since(value: str | None) -> str | None:
    """Validate a --since date."""
    if not value:
        return None
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise ValueError(f"bad date {value!r}: use YYYY-MM-DD") from None
