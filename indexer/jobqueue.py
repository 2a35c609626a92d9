"""The job queue: transcription by `indexer worker` processes on any machine, storing by one
`indexer store-worker` beside the database. The only module that imports dramatiq and redis.

Dramatiq's Redis broker carries two queues: "transcribe" (download + transcribe + chunk
vectors, any number of workers) and "store" (one consumer, SQLite's one writer). A job's
state lives in a Redis hash beside them, keyed by a hash of the episode's identity, so
enqueueing an episode that is queued or running does nothing.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import dramatiq
import redis
import sqlite_utils
from dramatiq.brokers.redis import RedisBroker
from dramatiq.errors import ConnectionError as BrokerConnectionError
from dramatiq.middleware import CurrentMessage, Retries

from . import alerts, download, feeds, pipeline, refresh, store, transcribe
from .config import Settings
from .models import MediaItem, Segment, Transcript, Word

TRANSCRIBE = "transcribe"
STORE = "store"
NAMESPACE = "indexer"  # dramatiq's keys are indexer:transcribe, ...; ours indexer:job:ID
STATES = ("queued", "running", "failed", "done")
KEEP_FINISHED = 7 * 24 * 3600  # seconds a done or failed job stays listed
CRASH_LIMIT = 3  # a job whose worker died this many times on it is failed (a poison item)
LOST_AFTER = 60_000  # ms: a "queued" job whose message was never sent may be enqueued again
STORE_RETRIES = 10
PROGRESS_EVERY = 1.0  # seconds between a worker's progress updates
STOP_GRACE = 10_000  # ms a stopping worker waits for its job before handing it back
log = logging.getLogger(__name__)


class QueueError(Exception):
    """The queue is unreachable or misconfigured (one line, says what to do)."""


def job_id(key: str) -> str:
    """A job's id: derived from the episode's identity (MediaItem.key), so it is the same
    every time the episode is enqueued."""
    return hashlib.sha1(key.encode()).hexdigest()[:16]


def safe_url(url: str) -> str:
    """The URL with its password hidden, for messages."""
    parts = urlsplit(url)
    if parts.password:
        host = parts.hostname or ""
        netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _ms() -> int:
    return int(time.time() * 1000)


# Enqueue: set the job's hash unless it is queued or running, atomically, so two
# enqueuers (a refresh started twice) send one message. KEYS: job hash, job index.
# ARGV: now_ms, lost_after_ms, job id, then the hash's field/value pairs.
_ENQUEUE = """
local state = redis.call('hget', KEYS[1], 'state')
if state == 'queued' or state == 'running' then
  local sent = redis.call('hget', KEYS[1], 'message')
  local at = tonumber(redis.call('hget', KEYS[1], 'enqueued_ms') or '0')
  if sent or tonumber(ARGV[1]) - at < tonumber(ARGV[2]) then return state end
end
redis.call('del', KEYS[1])
redis.call('hset', KEYS[1], unpack(ARGV, 4))
redis.call('zadd', KEYS[2], ARGV[1], ARGV[3])
return 'new'
"""

# A worker takes a delivery: count it, and say whether to run it. KEYS: job hash.
# ARGV: run, worker, now, crash limit.
_BEGIN = """
if redis.call('hget', KEYS[1], 'run') ~= ARGV[1] then return 'stale' end
local state = redis.call('hget', KEYS[1], 'state')
if state == 'done' or state == 'failed' then return state end
if redis.call('hget', KEYS[1], 'handed') == ARGV[1] then return 'handed' end
local deliveries = redis.call('hincrby', KEYS[1], 'deliveries', 1)
local ended = tonumber(redis.call('hget', KEYS[1], 'ended') or '0')
if deliveries - 1 - ended >= tonumber(ARGV[4]) then return 'poison' end
redis.call('hset', KEYS[1], 'state', 'running', 'worker', ARGV[2], 'started', ARGV[3],
           'progress', '0', 'phase', 'starting', 'attempts', deliveries)
return 'run'
"""


# --- the wire format: JSON-ready dicts --------------------------------------------------


def _json_safe(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def item_to_dict(item: MediaItem) -> dict[str, Any]:
    """A MediaItem as JSON (yt-dlp's info dict included: the worker downloads with it)."""
    return _json_safe(dataclasses.asdict(item))


def item_from_dict(data: dict[str, Any]) -> MediaItem:
    return MediaItem(**data)


def _b64(blobs: Sequence[bytes]) -> list[str]:
    return [base64.b64encode(b).decode() for b in blobs]


def _unb64(texts: Sequence[str]) -> list[bytes]:
    return [base64.b64decode(t) for t in texts]


def produced_to_dict(produced: pipeline.Produced) -> dict[str, Any]:
    """A worker's transcript (segments with words), vectors and provenance as JSON."""
    t = produced.transcript
    vectors = None
    if produced.vectors is not None:
        model_id, blobs, lines = produced.vectors
        vectors = [model_id, _b64(blobs), None if lines is None else _b64(lines)]
    return {
        "item": item_to_dict(produced.item),
        "language": t.language,
        "duration": t.duration,
        "model": t.model,
        "segments": [
            [
                s.start,
                s.end,
                s.text,
                s.speaker,
                [[w.start, w.end, w.text, w.probability] for w in s.words],
            ]
            for s in t.segments
        ],  # fmt: skip
        "chunk_seconds": produced.chunk_seconds,
        "origin": produced.origin,
        "transcript_url": produced.transcript_url,
        "chapters": [list(c) for c in produced.chapters],
        "vectors": vectors,
        "seconds": produced.seconds,
    }


def produced_from_dict(data: dict[str, Any]) -> pipeline.Produced:
    segments = tuple(
        Segment(start, end, text, tuple(Word(*w) for w in words), speaker)
        for start, end, text, speaker, words in data["segments"]
    )
    vectors: store.Vectors | None = None
    if data["vectors"] is not None:
        model_id, blobs, lines = data["vectors"]
        vectors = (model_id, _unb64(blobs), None if lines is None else _unb64(lines))
    return pipeline.Produced(
        item_from_dict(data["item"]),
        Transcript(segments, data["language"], data["duration"], data["model"]),
        data["chunk_seconds"],
        origin=data["origin"],
        transcript_url=data["transcript_url"],
        chapters=tuple((float(s), str(t)) for s, t in data["chapters"]),
        vectors=vectors,
        seconds=data["seconds"],
    )


# Settings of the enqueuing side that a job carries: they belong to the database (chunks,
# vectors) or to the run (language, subtitles); the worker's own settings choose the model.
_CARRIED = ("chunk_seconds", "embedding_model", "language", "subtitles", "hints", "max_duration")


class _Progress:
    """A worker's pipeline.Reporter: writes the job's phase and progress, at most once a
    second (a lost update is only logged)."""

    def __init__(self, queue: JobQueue, job: str) -> None:
        self.queue, self.job, self.last = queue, job, 0.0

    def _set(self, phase: str, progress: float, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last < PROGRESS_EVERY:
            return
        self.last = now
        try:
            self.queue.client.hset(self.queue.key(self.job),
                                   mapping={"phase": phase, "progress": f"{progress:.3f}"})  # fmt: skip
        except redis.RedisError as exc:
            log.warning(f"job {self.job}: progress not recorded ({exc})")

    def started(self, item: MediaItem) -> None:
        pass

    def downloading(self, done: int, total: int | None) -> None:
        self._set("downloading", 0.0)

    def transcribing(self, done: float, total: float) -> None:
        self._set("transcribing", min(done / total, 1.0) if total else 0.0)

    def finished(self, result: pipeline.ItemResult) -> None:
        pass


class JobQueue:
    """A connection to the queue's Redis: enqueue jobs, list them, and the two actors that
    `indexer worker` and `indexer store-worker` run."""

    def __init__(self, url: str, settings: Settings) -> None:
        if not url.startswith(("redis://", "rediss://", "unix://")):
            raise QueueError(f"bad queue URL {safe_url(url)!r}: use redis://HOST:6379/0")
        self.url = url
        self.settings = settings
        try:
            self.client = redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=30,
                                               health_check_interval=15)  # fmt: skip
        except ValueError as exc:
            raise QueueError(f"bad queue URL {safe_url(url)!r}: {exc}") from None
        heartbeat = max(1.0, settings.queue_heartbeat)
        # Maintenance (handing a dead worker's jobs to others) runs on a share of the
        # broker's commands; idle workers send about one a second. Aim for a few per
        # heartbeat period, so a killed worker's job is redelivered soon after it.
        chance = min(1_000_000, int(5_000_000 / heartbeat))
        self.broker = RedisBroker(
            client=self.client,
            namespace=NAMESPACE,
            heartbeat_timeout=int(heartbeat * 1000),
            maintenance_chance=chance,
            middleware=[CurrentMessage(), Retries(max_retries=settings.queue_retries)],
        )
        backoff = int(max(settings.queue_backoff, 0.001) * 1000)
        self.transcribe_actor: Any = dramatiq.actor(
            broker=self.broker, actor_name="transcribe", queue_name=TRANSCRIBE,
            max_retries=settings.queue_retries, min_backoff=backoff,
            max_backoff=max(backoff, 3_600_000),
        )(self._transcribe)  # fmt: skip
        self.store_actor: Any = dramatiq.actor(
            broker=self.broker, actor_name="store", queue_name=STORE,
            max_retries=STORE_RETRIES, min_backoff=2000, max_backoff=300_000,
        )(self._store)  # fmt: skip
        self._enqueue_script = self.client.register_script(_ENQUEUE)
        self._begin_script = self.client.register_script(_BEGIN)
        self._db: sqlite_utils.Database | None = None
        self._current: Any = None  # the message a worker is on (handed back on stop)

    # --- keys and errors ---

    def key(self, job: str) -> str:
        return f"{NAMESPACE}:job:{job}"

    @property
    def index(self) -> str:
        return f"{NAMESPACE}:jobs"

    def _unreachable(self, exc: Exception) -> QueueError:
        return QueueError(f"can't reach the job queue at {safe_url(self.url)} ({exc}): start "
                          "Redis there or fix the URL (--queue, the queue setting, "
                          "INDEXER_QUEUE); --no-queue indexes here")  # fmt: skip

    def ping(self) -> None:
        """Raise QueueError unless Redis answers."""
        try:
            self.client.ping()
        except redis.RedisError as exc:
            raise self._unreachable(exc) from None

    # --- enqueueing ---

    def enqueue(self, work: pipeline.WorkItem) -> pipeline.ItemResult:
        """Put an item on the transcribe queue once: an item already queued or running is
        "skipped"; raises QueueError when Redis is unreachable (nothing is sent then)."""
        item = work.item
        result = pipeline.ItemResult(item.source_url, item.title, "queued", duration=item.duration)
        if item.path:
            result.status = "failed"
            result.error = ("a local file can't be queued (workers may run on other machines): "
                            "add it without a queue")  # fmt: skip
            return result
        job, run = job_id(item.key), uuid.uuid4().hex
        fields = {"state": "queued", "key": item.key, "title": item.title,
                  "source": item.source_url, "run": run, "enqueued": _now(),
                  "enqueued_ms": str(_ms()), "progress": "0", "phase": "queued",
                  "attempts": "0", "force": "1" if work.force else "0"}  # fmt: skip
        args: list[str | int] = [_ms(), LOST_AFTER, job, *[v for kv in fields.items() for v in kv]]
        try:
            state = self._enqueue_script(keys=[self.key(job), self.index], args=args)
        except redis.RedisError as exc:
            raise self._unreachable(exc) from None
        state = _text(state)
        if state != "new":
            result.status, result.error = "skipped", f"already {state} (job {job})"
            return result
        payload = {
            "job": job,
            "run": run,
            "item": item_to_dict(item),
            "force": work.force,
            "transcript": dataclasses.asdict(work.transcript) if work.transcript else None,
            "chapters_url": work.chapters_url,
            "vocab": list(work.vocab),
            "failures_source": work.failures_source,
            "settings": {name: getattr(self.settings, name) for name in _CARRIED},
        }
        try:
            message = self.transcribe_actor.send(payload)
            self.client.hset(self.key(job), "message", message.options["redis_message_id"])
        except (redis.RedisError, BrokerConnectionError) as exc:
            try:
                self.client.delete(self.key(job))
                self.client.zrem(self.index, job)
            except redis.RedisError:
                pass  # it looks queued; the next enqueue after LOST_AFTER sends it again
            raise self._unreachable(exc) from None
        result.note = f"job {job}"
        return result

    # --- listing ---

    def jobs(self, state: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        """Jobs, newest first: id, state, title, key, source, progress (0-1), phase, worker,
        attempts, error, enqueued, started, finished, episode_id."""
        try:
            ids = [_text(i) for i in self.client.zrevrange(self.index, 0, -1)]  # type: ignore[union-attr]
            pipe = self.client.pipeline()
            for job in ids:
                pipe.hgetall(self.key(job))
            rows = pipe.execute()
            gone = [job for job, row in zip(ids, rows, strict=True) if not row]
            if gone:
                self.client.zrem(self.index, *gone)  # expired: done or failed long ago
        except redis.RedisError as exc:
            raise self._unreachable(exc) from None
        out = []
        for job, row in zip(ids, rows, strict=True):
            if not row:
                continue
            data = {_text(k): _text(v) for k, v in row.items()}
            if state and data.get("state") != state:
                continue
            out.append({
                "id": job, "state": data.get("state"), "title": data.get("title"),
                "key": data.get("key"), "source": data.get("source"),
                "progress": float(data.get("progress") or 0), "phase": data.get("phase"),
                "worker": data.get("worker"), "attempts": int(data.get("attempts") or 0),
                "error": data.get("error") or None, "enqueued": data.get("enqueued"),
                "started": data.get("started"), "finished": data.get("finished"),
                "episode_id": int(data["episode_id"]) if data.get("episode_id") else None,
            })  # fmt: skip
            if len(out) >= limit:
                break
        return out

    def counts(self) -> dict[str, int]:
        """How many jobs are in each state."""
        counts = dict.fromkeys(STATES, 0)
        for job in self.jobs(limit=10**9):
            if job["state"] in counts:
                counts[job["state"]] += 1
        return counts

    # --- job state ---

    def _set(self, job: str, finished: bool = False, **fields: object) -> None:
        values = {k: "" if v is None else str(v) for k, v in fields.items()}
        try:
            pipe = self.client.pipeline()
            pipe.hset(self.key(job), mapping=values)  # type: ignore[arg-type]
            if finished:
                pipe.hset(self.key(job), "finished", _now())
                pipe.expire(self.key(job), KEEP_FINISHED)
            pipe.execute()
        except redis.RedisError as exc:
            log.warning(f"job {job}: state not recorded ({exc})")

    def _retries(self) -> int:
        message = CurrentMessage.get_current_message()
        return int(message.options.get("retries", 0)) if message else 0

    # --- the transcribe actor (on any worker machine) ---

    def _transcribe(self, payload: dict[str, Any]) -> None:
        job, run = payload["job"], payload["run"]
        self._current = CurrentMessage.get_current_message()
        worker = f"{socket.gethostname()}:{os.getpid()}"
        verdict = self._begin_script(keys=[self.key(job)], args=[run, worker, _now(), CRASH_LIMIT])
        verdict = _text(verdict)
        item = item_from_dict(payload["item"])
        if verdict == "poison":
            error = f"a worker stopped {CRASH_LIMIT} times on this item (killed or crashed)"
            log.error(f"job {job}: {item.title}: {error}; marked failed")
            self._fail(job, run, payload, item, error)
            return
        if verdict != "run":
            log.info(f"job {job}: {item.title}: {verdict}, nothing to do")
            return
        log.info(f"job {job}: {item.title}: started")
        try:
            self._produce(job, run, payload, item)
        finally:
            with contextlib.suppress(redis.RedisError):
                self.client.hincrby(self.key(job), "ended", 1)

    def _produce(self, job: str, run: str, payload: dict[str, Any], item: MediaItem) -> None:
        settings = self.settings.replace(**payload["settings"])  # language None: the worker's
        try:
            link = payload["transcript"]
            extra = pipeline.entry_extras(feeds.TranscriptLink(**link) if link else None,
                                          payload["chapters_url"])  # fmt: skip
            got = pipeline.produce(item, settings, reporter=_Progress(self, job),
                                   vocab=payload["vocab"], keep_media=False,
                                   **extra)  # type: ignore[arg-type]  # fmt: skip
        except (download.DownloadError, ValueError, transcribe.ModelError) as exc:
            got = pipeline.ItemResult(item.source_url, item.title, "failed", error=str(exc))
        except Exception as exc:  # noqa: BLE001 - a bug must fail the job, not loop forever
            log.exception(f"job {job}: {item.title}: unexpected error")
            got = pipeline.ItemResult(item.source_url, item.title, "failed",
                                      error=f"{type(exc).__name__}: {exc}")  # fmt: skip
        if isinstance(got, pipeline.ItemResult):
            if got.status == "skipped":
                log.info(f"job {job}: {item.title}: skipped, {got.error}")
                self._set(job, finished=True, state="done", phase="skipped", error=got.error,
                          progress=1)  # fmt: skip
                return
            error = got.error or "failed"
            if self._retries() < self.settings.queue_retries:
                log.warning(f"job {job}: {item.title}: {error}; will retry")
                self._set(job, state="queued", phase="waiting to retry", error=error)
                raise dramatiq.Retry(error)
            log.error(f"job {job}: {item.title}: failed: {error}")
            self._fail(job, run, payload, item, error)
            return
        self.store_actor.send({"kind": "episode", "job": job, "run": run,
                               "force": payload["force"], "produced": produced_to_dict(got)})  # fmt: skip
        self._set(job, phase="storing", progress=1, handed=run)
        log.info(f"job {job}: {item.title}: transcribed in {got.seconds:.1f} s, sent to store")

    def _fail(self, job: str, run: str, payload: dict[str, Any], item: MediaItem,
              error: str) -> None:  # fmt: skip
        self._set(job, finished=True, state="failed", phase="failed", error=error)
        if payload.get("failures_source") is not None:
            self.store_actor.send({"kind": "failure", "job": job, "run": run, "error": error,
                                   "item": payload["item"],
                                   "failures_source": payload["failures_source"]})  # fmt: skip

    # --- the store actor (one process, beside the database) ---

    def _database(self) -> sqlite_utils.Database:
        if self._db is None:  # opened in the worker thread that uses it
            self._db = store.open_db(self.settings.db)
        return self._db

    def _store(self, payload: dict[str, Any]) -> None:
        db, job, run = self._database(), payload["job"], payload["run"]
        if payload["kind"] == "failure":
            item = item_from_dict(payload["item"])
            refresh.remember_failure(db, payload["failures_source"], item, payload["error"])
            log.info(f"job {job}: {item.title}: failure recorded")
            return
        produced = produced_from_dict(payload["produced"])
        item = produced.item
        stored = store.episode_by_key(db, item.key)
        try:
            already = self.client.hget(self.key(job), "stored")
        except redis.RedisError:
            already = None
        if stored and (not payload["force"] or (already is not None and _text(already) == run)):
            # A redelivery, or an episode that was indexed meanwhile: store it once.
            log.info(f"job {job}: {item.title}: already stored as #{stored['id']}")
            self._set(job, finished=True, state="done", phase="stored", progress=1,
                      episode_id=stored["id"], stored=run)  # fmt: skip
            return
        result = pipeline.store_produced(db, produced, self.settings)
        if result.status != "indexed":
            error = result.error or "could not store"
            if self._retries() < STORE_RETRIES:
                log.warning(f"job {job}: {item.title}: {error}; will retry")
                raise dramatiq.Retry(error)
            self._set(job, finished=True, state="failed", phase="failed", error=error)
            return
        self._set(job, finished=True, state="done", phase="stored", progress=1,
                  episode_id=result.episode_id, stored=run, error=None)  # fmt: skip
        log.info(f"job {job}: indexed #{result.episode_id} {item.title} "
                 f"({result.segments} segments, {result.chunks} chunks)")  # fmt: skip
        try:
            report = alerts.after_indexing(db, [result.episode_id])  # type: ignore[list-item]
            if report.hits:
                log.info(f"job {job}: alerts: {report.hits} new hits")
        except Exception as exc:  # noqa: BLE001 - alerts never fail the store
            log.warning(f"job {job}: alerts not checked ({exc})")

    # --- running a worker ---

    def run_worker(self, role: str, on_ready: Callable[[], None] | None = None) -> None:
        """Consume the "transcribe" or "store" queue until SIGTERM or SIGINT; a job in hand
        when stopping is handed back at once (another worker starts it again)."""
        queue = TRANSCRIBE if role == TRANSCRIBE else STORE
        self.ping()
        if queue == TRANSCRIBE:
            transcribe.load_model(self.settings)  # a bad model fails now, not on every job
        else:
            self._database().close()  # a bad database fails now
            self._db = None
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        worker = dramatiq.Worker(self.broker, queues={queue}, worker_threads=1)
        worker.queue_prefetch = 1  # take the next job only when this one is done
        worker.start()
        if on_ready:
            on_ready()
        stop.wait()
        log.info("stopping")
        # Worker.stop waits for the job in hand, and for a lost broker: never for long.
        stopper = threading.Thread(target=worker.stop, kwargs={"timeout": STOP_GRACE},
                                   daemon=True)  # fmt: skip
        stopper.start()
        stopper.join(STOP_GRACE / 1000 + 5)
        current = self._current
        busy = stopper.is_alive() or any(t.is_alive() for t in worker.workers)
        if busy and current is not None:
            try:
                self.broker.do_requeue(queue, current.options["redis_message_id"])
                log.info("handed the unfinished job back to the queue")
            except (redis.RedisError, KeyError):
                pass  # the broker redelivers it after queue_heartbeat
        if busy:
            logging.shutdown()
            os._exit(0)  # the job's thread is still in the model: don't wait for it


def list_jobs(url: str, state: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """The jobs on the queue at url (see JobQueue.jobs); raises QueueError."""
    queue = JobQueue(url, Settings())
    try:
        return queue.jobs(state=state, limit=limit)
    finally:
        queue.client.close()


def connect(url: str, settings: Settings) -> JobQueue:
    """A JobQueue on url, checked to answer; raises QueueError."""
    queue = JobQueue(url, settings)
    queue.ping()
    return queue
