"""The SQLite schema, its migrations and every query. The only module that knows the schema."""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils
from sqlite_utils import Migrations

from . import analyze, timings
from .models import Chunk, MediaItem, Segment, Transcript, Word, feed_scope

# Private-use characters mark matches in snippets: they survive HTML escaping and are
# replaced by <mark> (web) or bold (terminal) at the edge.
MARK_START = "\ue000"
MARK_END = "\ue001"
# The first schema's tokenizer (m001); since m007 the index holds terms analysed in Python
# (indexer/analyze.py: per-language stems, folding, CJK bigrams, Thai words), so FTS5's
# built-in tokenizer only splits them, with marks counted as letters (Devanagari, Thai).
LEGACY_TOKENIZE = "porter unicode61 remove_diacritics 2"
TOKENIZE = "unicode61 remove_diacritics 0 categories 'L* N* Co M*'"
PAGE_SIZE = 16384

migrations = Migrations("podcast-indexer")
log = logging.getLogger(__name__)


class StoreError(Exception):
    """The database could not be opened, read or written."""


@migrations()
def m001_initial(db: sqlite_utils.Database) -> None:
    db.table("sources").create(
        {
            "id": int, "url": str, "name": str, "followed": int, "added_at": str,
            "last_refresh": str, "last_error": str,
        },
        pk="id",
        not_null={"url"},
        defaults={"followed": 0},
    )  # fmt: skip
    db.table("sources").create_index(["url"], unique=True)
    db.table("episodes").create(
        {
            "id": int, "source_id": int, "key": str, "extractor": str, "media_id": str,
            "title": str, "channel": str, "published": str, "duration": float,
            "webpage_url": str, "media_url": str, "description": str, "language": str,
            "thumbnail": str, "local_path": str, "transcript_origin": str, "model": str,
            "chunk_seconds": float, "indexed_at": str,
        },
        pk="id",
        not_null={"key", "title"},
        foreign_keys=[("source_id", "sources", "id")],
    )  # fmt: skip
    db.table("episodes").create_index(["key"], unique=True)
    db.table("episodes").create_index(["source_id", "published"])
    db.table("episodes").create_index(["published"])
    db.table("segments").create(
        {"id": int, "episode_id": int, "idx": int, "start": float, "end": float,
         "text": str, "words": str},
        pk="id",
        foreign_keys=[("episode_id", "episodes", "id")],
    )  # fmt: skip
    db.table("segments").create_index(["episode_id", "idx"], unique=True)
    db.table("chunks").create(
        {"id": int, "episode_id": int, "idx": int, "start": float, "end": float,
         "text": str, "first_segment": int, "last_segment": int},
        pk="id",
        foreign_keys=[("episode_id", "episodes", "id")],
    )  # fmt: skip
    db.table("chunks").create_index(["episode_id", "idx"], unique=True)
    db.table("chunks").enable_fts(
        ["text"], fts_version="FTS5", create_triggers=True, tokenize=LEGACY_TOKENIZE
    )


@migrations()
def m002_follow_and_chapters(db: sqlite_utils.Database) -> None:
    sources = db.table("sources")
    for column in ("kind", "etag", "last_modified"):
        sources.add_column(column, str)
    db.table("episodes").add_column("transcript_url", str)
    db.table("failures").create(
        {"id": int, "source_id": int, "key": str, "title": str, "url": str, "error": str,
         "attempts": int, "last_attempt": str, "next_attempt": str},
        pk="id",
        foreign_keys=[("source_id", "sources", "id")],
    )  # fmt: skip
    db.table("failures").create_index(["key"], unique=True)
    db.table("chapters").create(
        {"id": int, "episode_id": int, "start": float, "title": str},
        pk="id",
        foreign_keys=[("episode_id", "episodes", "id")],
    )
    db.table("chapters").create_index(["episode_id", "start"])


@migrations()
def m003_compact_timings(db: sqlite_utils.Database) -> None:
    """Text once (in chunks, indexed by FTS) and word times as a compact blob; no segments table."""
    from .chunk import chunk_segments

    db.table("chunks").add_column("timings", bytes)
    for episode in list(db.query("select id, chunk_seconds from episodes")):
        rows = db.query(
            "select start, [end], text, words from segments where episode_id = ? order by idx",
            [episode["id"]],
        )
        segments = [timings.estimate_words(_legacy_segment(r)) for r in rows]
        chunks = chunk_segments(segments, episode["chunk_seconds"] or 45.0)
        db.execute("delete from chunks where episode_id = ?", [episode["id"]])
        _insert_chunks(db, episode["id"], segments, chunks, lines=False)  # m006 adds them
    db.execute("drop table segments")
    db.execute("alter table chunks drop column first_segment")
    db.execute("alter table chunks drop column last_segment")


@migrations()
def m004_timings_v2(db: sqlite_utils.Database) -> None:
    """Re-pack word timings in the smaller format (one varint for most words)."""
    _rewrite_chunks(db, "timings", lambda start, text, blob, _language: (
        timings.encode(timings.decode(text, blob, start), start) if blob[:1] == b"\x01" else None
    ))  # fmt: skip


@migrations()
def m005_feed_scoped_keys(db: sqlite_utils.Database) -> None:
    """Key feed items by guid within their feed: two shows may both number guids 1, 2, 3."""
    db.table("episodes").add_column("media_length", int)
    for table in ("episodes", "failures"):
        rows = db.execute(
            f"select t.id, t.key, s.url from {table} t join sources s on s.id = t.source_id "
            "where s.kind = 'feed' and t.key like 'generic:%'"
        ).fetchall()
        for id_, key, url in rows:
            scoped = f"feed:{feed_scope(url)}:{key.split(':', 1)[1]}"
            db.execute(f"update {table} set key = ? where id = ?", [scoped, id_])


# Plain-SQL lines: one row per transcript line with its start and a deep link, for sqlite3
# and Datasette users; the app itself reads the timing blob.
LINES_VIEW = """
create view lines as
select c.episode_id, c.id as chunk_id, cast(o.key as integer) as n,
  round(c.start + json_extract(c.lines, '$.t[' || o.key || ']') / 100.0, 2) as start,
  json_extract(c.lines, '$.s[' || o.key || ']') as speaker,
  substr(c.text, o.value + 1, coalesce(
    json_extract(c.lines, '$.o[' || (o.key + 1) || ']') - o.value - 1, length(c.text))) as text,
  case
    when e.webpage_url like '%youtube.com/watch%' then e.webpage_url || '&t='
      || cast(c.start + json_extract(c.lines, '$.t[' || o.key || ']') / 100.0 as integer) || 's'
    when e.webpage_url like '%youtu.be/%' then e.webpage_url || '?t='
      || cast(c.start + json_extract(c.lines, '$.t[' || o.key || ']') / 100.0 as integer) || 's'
    when e.webpage_url like '%vimeo.com/%' then e.webpage_url || '#t='
      || cast(c.start + json_extract(c.lines, '$.t[' || o.key || ']') / 100.0 as integer) || 's'
    else e.webpage_url || '#t='
      || cast(c.start + json_extract(c.lines, '$.t[' || o.key || ']') / 100.0 as integer)
  end as link
from chunks c join json_each(c.lines, '$.o') o join episodes e on e.id = c.episode_id
"""


@migrations()
def m006_lines(db: sqlite_utils.Database) -> None:
    """Each chunk's line offsets, starts and speakers as JSON, and the `lines` view over them."""
    db.table("chunks").add_column("lines", str)
    _rewrite_chunks(db, "lines", lambda start, text, blob, _language: (
        _lines_json(timings.decode(text, blob, start), start)
    ))  # fmt: skip
    db.execute(LINES_VIEW)


@migrations()
def m007_analysed_search_text(db: sqlite_utils.Database) -> None:
    """Index language-analysed terms (chunks.search_text) instead of the porter-stemmed text."""
    db.table("chunks").add_column("search_text", str)
    db.table("episodes").create_index(["language"])  # each search asks which languages exist
    for trigger in ("chunks_ai", "chunks_ad", "chunks_au"):
        db.execute(f"drop trigger if exists {trigger}")
    _rewrite_chunks(db, "search_text", lambda start, text, blob, language: (
        search_text(timings.decode(text, blob, start), language)
    ))  # fmt: skip
    db.execute("drop table if exists chunks_fts")
    _create_fts(db, prefix=False)
    db.execute("insert into chunks_fts(chunks_fts) values('rebuild')")


@migrations()
def m008_reanalysed_terms(db: sqlite_utils.Database) -> None:
    """Re-analyse the chunks whose terms changed (compound parts, accent-less forms, American
    spellings, simplified Han, Korean and Thai as pairs, Hindi folding); English chunks
    without a British spelling are left as they were."""

    def changes(text: str, language: str | None) -> bool:
        code = analyze.language_code(language)
        return code not in (None, "en") or not text.isascii() or analyze.has_british_spelling(text)

    _rewrite_chunks(db, "search_text", lambda start, text, blob, language: (
        search_text(timings.decode(text, blob, start), language) if changes(text, language)
        else None
    ), reindex=True)  # fmt: skip


@migrations()
def m009_alerts(db: sqlite_utils.Database) -> None:
    """Saved searches (alerts) and what they found in newly indexed episodes, with the state
    of each hit's webhook delivery."""
    db.table("alerts").create(
        {"id": int, "query": str, "source_id": int, "webhook": str, "created": str},
        pk="id",
        not_null={"query", "created"},
        foreign_keys=[("source_id", "sources", "id")],
    )
    # No foreign key to episodes: re-indexing an episode replaces its row (same id), and
    # its hits must stay, so that a match is reported once.
    db.table("alert_hits").create(
        {"id": int, "alert_id": int, "episode_id": int, "start": float, "quote": str,
         "snippet": str, "link": str, "found": str, "attempts": int, "next_attempt": str,
         "delivered": str, "last_error": str},
        pk="id",
        not_null={"alert_id", "episode_id", "start", "found", "attempts"},
        defaults={"attempts": 0},
        foreign_keys=[("alert_id", "alerts", "id")],
    )  # fmt: skip
    db.table("alert_hits").create_index(["alert_id", "episode_id"], unique=True)
    db.table("alert_hits").create_index(["next_attempt"])


@migrations()
def m010_editors(db: sqlite_utils.Database) -> None:
    """Editor accounts, their corrections of transcript lines, and each show's vocabulary."""
    db.table("users").create(
        {"id": int, "name": str, "password_hash": str, "created": str},
        pk="id",
        not_null={"name", "password_hash", "created"},
    )
    db.execute("create unique index idx_users_name on users (name collate nocase)")
    # No foreign key to episodes, as for alert_hits: a re-indexed episode keeps its id.
    db.table("corrections").create(
        {"id": int, "episode_id": int, "start": float, "end": float, "old_text": str,
         "new_text": str, "editor": str, "at": str},
        pk="id",
        not_null={"episode_id", "start", "new_text", "editor", "at"},
    )  # fmt: skip
    db.table("corrections").create_index(["episode_id", "start"])
    db.table("vocab").create(
        {"id": int, "source_id": int, "term": str, "created": str},
        pk="id",
        not_null={"source_id", "term", "created"},
        foreign_keys=[("source_id", "sources", "id")],
    )
    db.table("vocab").create_index(["source_id", "term"], unique=True)
    # The key that signs editors' web sessions, shared by every server process.
    db.table("settings").create({"name": str, "value": str}, pk="name")


@migrations()
def m011_chunk_vectors(db: sqlite_utils.Database) -> None:
    """Each chunk's sentence embedding (int8), for meaning search; gone with its chunk."""
    db.execute("create table chunk_vectors (chunk_id integer primary key, vector blob not null)")
    db.execute("create trigger chunk_vectors_ad after delete on chunks begin "
               "delete from chunk_vectors where chunk_id = old.id; end")  # fmt: skip


@migrations()
def m012_line_signs(db: sqlite_utils.Database) -> None:
    """The sign bits of each chunk's lines' vectors, which place a meaning hit on its line."""
    db.execute("alter table chunk_vectors add column lines blob")


@migrations()
def m013_vectors_generation(db: sqlite_utils.Database) -> None:
    """Every change to chunk_vectors (a chunk's delete included) bumps the generation, so a
    server knows its copy is stale without counting a million rows on every search."""
    _bump_vectors(db)
    for event in ("insert", "delete", "update"):
        db.execute(f"create trigger chunk_vectors_{event} after {event} on chunk_vectors begin "
                   "update settings set value = cast(value as integer) + 1 "
                   "where name = 'vectors_generation'; end")  # fmt: skip


def _create_fts(db: sqlite_utils.Database, *, prefix: bool) -> None:
    """The full-text index over chunks.search_text, and the triggers keeping it in step."""
    extra = ", prefix='3'" if prefix else ""
    tokenize = TOKENIZE.replace("'", "''")
    # content="chunks" written so, as sqlite-utils and Datasette look for it (detect_fts).
    db.execute(f"""create virtual table chunks_fts using fts5(search_text, content="chunks", """
               f"""content_rowid='id', tokenize='{tokenize}'{extra})""")  # fmt: skip
    db.execute(
        "create trigger if not exists chunks_ai after insert on chunks begin "
        "insert into chunks_fts (rowid, search_text) values (new.id, new.search_text); end"
    )
    db.execute(
        "create trigger if not exists chunks_ad after delete on chunks begin "
        "insert into chunks_fts (chunks_fts, rowid, search_text) "
        "values ('delete', old.id, old.search_text); end"
    )
    # Only a change of the terms re-indexes a chunk (not one of its timings or lines).
    db.execute(
        "create trigger if not exists chunks_au after update of search_text on chunks "
        "begin insert into chunks_fts (chunks_fts, rowid, search_text) "
        "values ('delete', old.id, old.search_text); "
        "insert into chunks_fts (rowid, search_text) values (new.id, new.search_text); end"
    )
    # fmt: skip


def search_text(segments: Sequence[Segment], language: str | None) -> str:
    """The terms the index holds for these segments' words (see indexer/analyze.py)."""
    words = [w.text for seg in segments for w in seg.words]
    return " ".join(term for term, _ in analyze.analyze_words(words, language))


def _lines_json(segments: Sequence[Segment], origin: float) -> str:
    """Where each line starts in the chunk's text (o), when in centiseconds after the chunk's
    start (t), and who speaks (s, only when known)."""
    offsets, starts, at = [], [], 0
    for seg in segments:
        offsets.append(at)
        starts.append(round((seg.start - origin) * 100))
        at += sum(len(timings.word_text(w.text)) + 1 for w in seg.words)
    doc: dict[str, Any] = {"o": offsets, "t": starts}
    if any(seg.speaker for seg in segments):
        doc["s"] = [seg.speaker for seg in segments]
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False)


UPGRADE_PROGRESS = 50_000  # chunks: from this size on, an upgrade says how far it got


def _rewrite_chunks(db: sqlite_utils.Database, column: str,
                    compute: Callable[[float, str, bytes, str | None], Any], *,
                    reindex: bool = False) -> None:  # fmt: skip
    """Set a column of every chunk from (start, text, timings, the episode's language); None
    leaves a chunk as it is. `reindex` keeps the full-text index in step with the change."""
    # Before m007 the index's update trigger fired on any column: keep it from
    # re-indexing every chunk for a change that is not one of its terms.
    trigger = (
        None
        if reindex
        else db.execute(
            "select sql from sqlite_master where type = 'trigger' and name = 'chunks_au'"
        ).fetchone()
    )
    if trigger:
        db.execute("drop trigger chunks_au")
    total = db.execute("select count(*) from chunks").fetchone()[0]
    last, done, told = 0, 0, 0
    while True:
        rows = db.execute(
            f"select c.id, c.start, c.text, c.timings, e.language, c.[{column}] from chunks c "
            "join episodes e on e.id = c.episode_id where c.id > ? order by c.id limit 2000",
            [last],
        ).fetchall()
        if not rows:
            break
        last = rows[-1][0]
        updates = [(compute(start, text, blob, lang), id_, now)
                   for id_, start, text, blob, lang, now in rows]  # fmt: skip
        db.conn.executemany(f"update chunks set [{column}] = ? where id = ?",
                            [(new, id_) for new, id_, now in updates
                             if new is not None and new != now])  # fmt: skip
        done += len(rows)
        if total >= UPGRADE_PROGRESS and done - told >= total / 10:  # progress on large files
            told = done
            log.warning(f"  {column}: {done:,}/{total:,} chunks")
    if trigger:
        db.execute(trigger[0])


def _legacy_segment(row: dict[str, Any]) -> Segment:
    words = tuple(Word(w[0], w[1], w[2], w[3]) for w in json.loads(row["words"] or "[]"))
    return Segment(row["start"], row["end"], row["text"], words)


def open_db(path: str | Path, *, readonly: bool = False) -> sqlite_utils.Database:
    """Open (creating and migrating if needed) the database at path."""
    p = Path(path)
    try:
        if readonly:
            if not p.is_file():
                raise StoreError(f"no database at {p}; index something first with 'indexer add'")
            _upgrade_if_needed(p)
            conn = sqlite3.connect(f"{p.absolute().as_uri()}?mode=ro", uri=True,
                                   check_same_thread=False)  # fmt: skip
            db = sqlite_utils.Database(conn)
            db.execute("PRAGMA busy_timeout = 5000")
            if not db.table("chunks").exists():
                raise StoreError(f"{p} is not an indexer database")
            return db
        if str(p) != ":memory:":
            p.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite_utils.Database(p)
        db.execute("PRAGMA busy_timeout = 30000")
        # Only takes effect on a new, empty file: 16 KiB pages waste less space at the end
        # of each page with rows of ~1 KB than the default 4 KiB (about 0.15x the text).
        db.execute(f"PRAGMA page_size = {PAGE_SIZE}")
        db.execute("PRAGMA foreign_keys = ON")
        if str(p) != ":memory:":
            db.enable_wal()
        _announce_upgrade(db, p)
        if migrations.pending(db):
            # Under the write lock, so two processes opening a new file don't both migrate it.
            with writing(db):
                migrations.apply(db)
        return db
    except StoreError:
        raise
    except (sqlite3.Error, OSError, ValueError) as exc:
        raise StoreError(f"can't open database {p}: {exc}") from None


def _announce_upgrade(db: sqlite_utils.Database, path: Path) -> None:
    """Say so before migrations rewrite indexed chunks: on a large file that takes minutes."""
    if not db.table("chunks").exists() or not db.execute("select 1 from chunks limit 1").fetchone():
        return
    pending = [m.name for m in migrations.pending(db)]
    instant = {"m009_alerts", "m010_editors", "m011_chunk_vectors", "m012_line_signs",
               "m013_vectors_generation"}  # fmt: skip
    if set(pending) - instant:
        # Re-analysing every word (m007, m008) is the slow one: about 1,400 chunks/s on 2
        # cores (m008 skips most English chunks).
        slow = {"m007_analysed_search_text", "m008_reanalysed_terms"}
        minutes = 15 if slow & set(pending) else 3
        log.warning(f"upgrading {path} for this version ({', '.join(pending)}): a one-time "
                    f"step of about {minutes} minutes per million chunks; don't stop it "
                    "(if stopped, it starts again next time)")  # fmt: skip


def _upgrade_if_needed(path: Path) -> None:
    """Apply pending migrations before a read-only open (a newer version reads an older file)."""
    try:
        probe = sqlite_utils.Database(
            sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)
        )
        try:
            pending = probe.table("_sqlite_migrations").exists() and migrations.pending(probe)
        finally:
            probe.close()
    except sqlite3.DatabaseError:
        raise StoreError(f"{path} is not an indexer database") from None
    if pending:
        try:
            open_db(path).close()
        except StoreError as exc:
            raise StoreError(f"{path} was made by an older version and can't be upgraded "
                             f"here ({exc}); run any writing command, e.g. 'indexer rechunk', "
                             "as a user who can write it") from None  # fmt: skip


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def source_id_for(db: sqlite_utils.Database, url: str, name: str | None = None) -> int:
    """The id of the source row for url, creating it if needed."""
    row = db.execute("select id from sources where url = ?", [url]).fetchone()
    if row:
        return int(row[0])
    with writing(db):
        table = db.table("sources")
        table.insert({"url": url, "name": name, "added_at": _now()})
        assert table.last_pk is not None
        return int(table.last_pk)


def episode_by_key(db: sqlite_utils.Database, key: str) -> dict[str, Any] | None:
    """The stored episode with this identity key, if any."""
    rows = list(db.query("select * from episodes where key = ?", [key]))
    return rows[0] if rows else None


def adopt_legacy_key(db: sqlite_utils.Database, source_id: int, legacy: str, key: str
                     ) -> dict[str, Any] | None:  # fmt: skip
    """Re-key an episode of this source stored under its pre-scoping key; None if there is none.

    Feeds added with `indexer add` (not followed) are re-keyed here, the first time they are
    read again, since only then is it known that their episodes are feed items.
    """
    with writing(db):
        row = db.execute(
            "select id from episodes where key = ? and source_id = ?", [legacy, source_id]
        ).fetchone()
        if row is None:
            return None
        db.execute("update episodes set key = ? where id = ?", [key, row[0]])
        db.execute("update failures set key = ? where key = ? and source_id = ?",
                   [key, legacy, source_id])  # fmt: skip
    return episode_by_key(db, key)


@contextlib.contextmanager
def writing(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """A write transaction that takes the write lock at its start, waiting for other writers.

    A plain (deferred) BEGIN that reads before it writes gets "database is locked" at once
    when another process wrote in between: SQLite can't wait for that, only fail. Nested
    blocks become savepoints. Errors come out as StoreError.
    """
    try:
        if db.conn.in_transaction:
            with db.atomic():
                yield db
            return
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            if db.conn.in_transaction:
                db.conn.execute("ROLLBACK")
            raise
        try:
            db.conn.execute("COMMIT")
        except BaseException:
            if db.conn.in_transaction:
                db.conn.execute("ROLLBACK")
            raise
    except sqlite3.Error as exc:
        raise StoreError(_describe(exc)) from None


def save_episode(
    db: sqlite_utils.Database,
    item: MediaItem,
    transcript: Transcript,
    chunks: Sequence[Chunk],
    *,
    source_id: int | None,
    chunk_seconds: float,
    origin: str = "whisper",
    local_path: str | None = None,
    chapters: Sequence[tuple[float, str]] = (),
    transcript_url: str | None = None,
    vectors: Vectors | None = None,
) -> int:
    """Store an episode with its segments and chunks in one transaction; replaces by key.
    `vectors`: (model id, one meaning vector per chunk in the chunks' order, and optionally
    each chunk's line sign bits)."""
    try:
        with writing(db):
            old = episode_by_key(db, item.key)
            if old:
                _delete_episode_rows(db, old["id"])
            episodes = db.table("episodes")
            episodes.insert(
                {
                    "id": old["id"] if old else None,
                    "source_id": source_id,
                    "key": item.key,
                    "extractor": item.extractor,
                    "media_id": item.media_id,
                    "title": item.title,
                    "channel": item.channel,
                    "published": item.published,
                    "duration": transcript.duration or item.duration,
                    "webpage_url": item.webpage_url,
                    "media_url": item.media_url,
                    "media_length": item.media_length,
                    "description": item.description,
                    "language": transcript.language or item.language,
                    "thumbnail": item.thumbnail,
                    "local_path": local_path,
                    "transcript_origin": origin,
                    "transcript_url": transcript_url,
                    "model": transcript.model,
                    "chunk_seconds": chunk_seconds,
                    "indexed_at": _now(),
                }
            )
            assert episodes.last_pk is not None
            episode_id = int(episodes.last_pk)
            _insert_chunks(db, episode_id, transcript.segments, chunks,
                           language=transcript.language or item.language)  # fmt: skip
            if vectors is not None:
                _insert_vectors(db, episode_id, chunks, *vectors)
            db.table("chapters").insert_all(
                {"episode_id": episode_id, "start": start, "title": title}
                for start, title in chapters
            )
            db.execute("delete from failures where key = ?", [item.key])
            return episode_id
    except sqlite3.Error as exc:
        raise StoreError(_describe(exc)) from None


def _insert_chunks(db: sqlite_utils.Database, episode_id: int, segments: Sequence[Segment],
                   chunks: Iterable[Chunk], *, lines: bool = True,
                   language: str | None = None) -> None:  # fmt: skip
    """Insert chunks; `lines` False only in migrations that run before those columns exist."""

    def rows() -> Iterator[dict[str, Any]]:
        for c in chunks:
            group = [
                timings.estimate_words(s) for s in segments[c.first_segment : c.last_segment + 1]
            ]
            group = [s for s in group if s.words]
            if group:
                row = {"episode_id": episode_id, "idx": c.index, "start": c.start, "end": c.end,
                       "text": timings.chunk_text(group), "timings": timings.encode(group, c.start)}  # fmt: skip
                if lines:
                    row["lines"] = _lines_json(group, c.start)
                    row["search_text"] = search_text(group, language)
                yield row

    db.table("chunks").insert_all(rows(), batch_size=500)


Vectors = tuple[str, Sequence[bytes], Sequence[bytes] | None]  # model id, vectors, line signs


def _insert_vectors(db: sqlite_utils.Database, episode_id: int, chunks: Sequence[Chunk],
                    model_id: str, vectors: Sequence[bytes],
                    lines: Sequence[bytes] | None = None) -> None:  # fmt: skip
    """An episode's chunk vectors, matched to the chunks just stored by their index; none
    where the stored vectors are another model's (they can't be compared: `indexer embed
    --again` remakes them all)."""
    if vector_model(db) not in (None, model_id) and db.execute(
        "select 1 from chunk_vectors limit 1"
    ).fetchone():
        return
    signs = lines if lines is not None else [None] * len(chunks)
    by_index = {c.index: (v, s) for c, v, s in zip(chunks, vectors, signs, strict=True)}
    ids = db.execute("select id, idx from chunks where episode_id = ?", [episode_id]).fetchall()
    db.conn.executemany(
        "insert or replace into chunk_vectors (chunk_id, vector, lines) values (?, ?, ?)",
        [(i, *by_index[idx]) for i, idx in ids if idx in by_index],
    )
    db.execute("insert or replace into settings (name, value) values ('embedding_model', ?)",
               [model_id])  # fmt: skip
    _bump_vectors(db)


def _describe(exc: sqlite3.Error) -> str:
    text = str(exc)
    if "full" in text:
        return "the disk is full: free some space and run the command again (nothing was stored)"
    if "readonly" in text or "read-only" in text:
        return "the database is read-only: check its permissions"
    if "locked" in text or "busy" in text:
        return "the database is busy with another writer: try again in a moment"
    return f"database error: {text}"


def _delete_episode_rows(db: sqlite_utils.Database, episode_id: int) -> None:
    db.execute("delete from chapters where episode_id = ?", [episode_id])
    db.execute("delete from chunks where episode_id = ?", [episode_id])
    db.execute("delete from episodes where id = ?", [episode_id])


def delete_episode(db: sqlite_utils.Database, episode_id: int) -> None:
    """Remove an episode and everything it owns, in one transaction."""
    with writing(db):
        db.execute("delete from alert_hits where episode_id = ?", [episode_id])
        _delete_episode_rows(db, episode_id)


def get_episode(db: sqlite_utils.Database, episode_id: int) -> dict[str, Any] | None:
    """One episode row with its source's url and name, or None."""
    rows = list(
        db.query(
            "select e.*, s.url as source_url, s.name as source_name from episodes e "
            "left join sources s on s.id = e.source_id where e.id = ?",
            [episode_id],
        )
    )
    return rows[0] if rows else None


def find_episode(db: sqlite_utils.Database, ref: str) -> dict[str, Any] | None:
    """An episode by id, identity key, media id, or page/media URL."""
    if ref.isdigit():
        found = get_episode(db, int(ref))
        if found:
            return found
    row = db.execute(
        "select id from episodes where key = ? or media_id = ? or webpage_url = ? "
        "or media_url = ? order by id limit 1",
        [ref, ref, ref, ref],
    ).fetchone()
    return get_episode(db, row[0]) if row else None


def _decode(row: dict[str, Any]) -> list[Segment]:
    segments = timings.decode(row["text"], row["timings"], row["start"])
    lines = row.get("lines")
    speakers = json.loads(lines).get("s") if lines and '"s":' in lines else None
    if speakers and len(speakers) == len(segments):
        segments = [replace(seg, speaker=who) for seg, who in zip(segments, speakers, strict=True)]
    return segments


def get_segments(db: sqlite_utils.Database, episode_id: int) -> list[Segment]:
    """All segments of an episode with their words, in order."""
    rows = db.query(
        "select start, text, timings, lines from chunks where episode_id = ? order by idx",
        [episode_id],
    )
    return [seg for row in rows for seg in _decode(row)]


def chunk_segments(row: dict[str, Any]) -> list[Segment]:
    """The segments of a chunk row as returned by search_chunks (decoded once per row: a
    meaning hit is read for its snippet, then for its line)."""
    if "_segments" not in row:
        row["_segments"] = _decode(row)
    return row["_segments"]


def segment_at(db: sqlite_utils.Database, episode_id: int, seconds: float) -> Segment | None:
    """The segment being spoken at `seconds` (or the next one after a pause)."""
    rows = db.query(
        "select start, text, timings, lines from chunks where episode_id = ? and [end] > ? "
        "order by idx",
        [episode_id, seconds],
    )
    # A chunk's stored end can pass its last word's end, so the answer may be in the next one.
    for row in rows:
        found = next((s for s in _decode(row) if s.end > seconds), None)
        if found:
            return found
    return None


def replace_chunks(db: sqlite_utils.Database, episode_id: int, segments: Sequence[Segment],
                   chunks: Sequence[Chunk], chunk_seconds: float) -> None:  # fmt: skip
    """Replace an episode's chunks (same transcript, new windows) in one transaction."""
    with writing(db):
        row = db.execute("select language from episodes where id = ?", [episode_id]).fetchone()
        db.execute("delete from chunks where episode_id = ?", [episode_id])
        _insert_chunks(db, episode_id, segments, chunks, language=row[0] if row else None)
        db.execute(
            "update episodes set chunk_seconds = ? where id = ?", [chunk_seconds, episode_id]
        )


def list_episodes(db: sqlite_utils.Database, limit: int = 100, offset: int = 0,
                  source_id: int | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """Episodes, newest first (of one source, when given)."""
    where = "where source_id = ? " if source_id is not None else ""
    return list(
        db.query(
            "select id, title, channel, published, duration, webpage_url, language, model, "
            f"transcript_origin, indexed_at, source_id from episodes {where}"
            "order by coalesce(published, indexed_at) desc, id desc limit ? offset ?",
            [*([source_id] if source_id is not None else []), limit, offset],
        )
    )


def get_source(db: sqlite_utils.Database, source_id: int) -> dict[str, Any] | None:
    """One source with its episode count, or None."""
    rows = [s for s in list_sources(db) if s["id"] == source_id]
    return rows[0] if rows else None


def list_sources(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """Sources with their episode counts."""
    return list(
        db.query(
            "select s.*, (select count(*) from episodes e where e.source_id = s.id) as episodes "
            "from sources s order by s.id"
        )
    )


_HIT_COLUMNS = (
    "c.id as chunk_id, c.episode_id, c.start, c.[end], c.text, c.timings, c.lines, "
    "c.search_text, e.title, e.channel, e.language, "
    "e.published, e.duration, e.webpage_url, e.media_url, e.thumbnail, e.source_id"
)


Languages = str | tuple[str | None, ...] | None  # one base code, or any of several (None: unknown)


def _filters(source: str | None, date_from: str | None, date_to: str | None,
             language: Languages = None) -> tuple[str, list[Any]]:  # fmt: skip
    where, params = [], []
    if language:  # "pt" takes in "pt-BR" too
        either = []
        for code in (language,) if isinstance(language, str) else language:
            if code is None:
                either.append("e.language is null")
            else:
                either.append("e.language = ? or e.language like ?")
                params += [code, f"{code}-%"]
        where.append("(" + " or ".join(either) + ")")
    if source:
        where.append(
            "e.source_id in (select id from sources where cast(id as text) = ? "
            "or url = ? or name = ?)"
        )
        params += [source, source, source]
    if date_from:
        where.append("e.published >= ?")
        params.append(date_from)
    if date_to:
        where.append("e.published <= ?")
        params.append(date_to)
    return "".join(" and " + w for w in where), params


# Ranking scores every match; past this many, only the newest matches are ranked, so a
# query for "the" costs the same on a million chunks as on fifty thousand.
RANK_WINDOW = 10_000
# Counting is capped the same way: "10,000+" is as useful as an exact 734,512.
COUNT_CAP = RANK_WINDOW
_FROM = "from chunks_fts f join chunks c on c.id = f.rowid join episodes e on e.id = c.episode_id"


def _matching(extra: str) -> str:
    # Without filters the FTS table alone answers; joins are only paid for when filtering.
    return (
        "from chunks_fts f where chunks_fts match ?"
        if not extra
        else (f"{_FROM} where chunks_fts match ?{extra}")
    )


def search_chunks(db: sqlite_utils.Database, match: str, **options: Any) -> list[dict[str, Any]]:
    """Chunks matching an FTS5 MATCH expression, best first: `search_page` without the count."""
    return search_page(db, match, **options)[0]


def search_page(
    db: sqlite_utils.Database,
    match: str,
    **options: Any,
) -> tuple[list[dict[str, Any]], int]:
    """A page of matching chunks, best first, and how many match (COUNT_CAP + 1 means more)."""
    rows, total, _ = search_window(db, match, **options)
    return rows, total


def search_window(
    db: sqlite_utils.Database,
    match: str,
    *,
    source: str | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
    language: Languages = None,
    limit: int = 20,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int, tuple[int, int] | None]:
    """`search_page`, and (oldest, newest) rowid ranked when only the newest matches were."""
    extra, params = _filters(source, date_from, date_to, language)
    base = _matching(extra)
    # One pass over the newest matches gives both the count and where the ranking window
    # starts (the expensive part of a broad query is reading its matches; do it once).
    cap = RANK_WINDOW + 1
    total, oldest, newest = db.execute(
        f"select count(*), min(rowid), max(rowid) from (select f.rowid as rowid {base} "
        "order by f.rowid desc limit ?)",
        [match, *params, cap],
    ).fetchone()
    if not total:
        return [], 0, None
    span = (oldest, newest) if total == cap else None
    window = " and f.rowid > ?" if span is not None else ""
    # Rank first, carrying only rowid and score through the sort; fetch rows for the page
    # of winners alone. bm25() in a plain ORDER BY, not FTS5's `ORDER BY rank`: that one
    # counts every term's documents over the whole index twice, which doubles the cost of
    # common words (measured in docs/benchmarks.md).
    ranked = db.execute(
        f"select f.rowid, bm25(chunks_fts) as score {base}{window} order by score limit ? offset ?",
        [match, *params, *([oldest] if window else []), limit, offset],
    ).fetchall()
    if not ranked:
        return [], total, span
    rows = _rows_by_id(db, [r[0] for r in ranked])
    return [{**rows[rowid], "rank": rank} for rowid, rank in ranked], total, span


def _rows_by_id(db: sqlite_utils.Database, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    return {
        r["chunk_id"]: r
        for r in db.query(
            f"select {_HIT_COLUMNS} from chunks c join episodes e on e.id = c.episode_id "
            f"where c.id in ({','.join('?' * len(ids))})",
            list(ids),
        )
    }


def few_matches(
    db: sqlite_utils.Database,
    match: str,
    cap: int,
    *,
    source: str | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
    language: Languages = None,
) -> list[int] | None:
    """Ids of every chunk matching, newest first, or None when more than `cap` match."""
    ids = _newest_ids(
        db, match, cap + 1, source, date_from, date_to, oldest_first=True, language=language
    )
    return ids[::-1] if len(ids) <= cap else None


def _newest_ids(db: sqlite_utils.Database, match: str, limit: int, source: str | None,
                date_from: str | None, date_to: str | None, above: int | None = None,
                oldest_first: bool = False, language: Languages = None) -> list[int]:  # fmt: skip
    extra, params = _filters(source, date_from, date_to, language)
    if above is not None:
        extra, params = extra + " and f.rowid > ?", [*params, above]
    # FTS5 reads a posting list forward far faster than backward (a rare phrase of common
    # words: 2 ms against 70 ms at 1M chunks): scan forward when the order doesn't matter.
    order = "" if oldest_first else " desc"
    sql = f"select f.rowid {_matching(extra)} order by f.rowid{order} limit ?"
    return [r[0] for r in db.execute(sql, [match, *params, limit])]


def some_match_ids(db: sqlite_utils.Database, match: str, limit: int, *,
                   source: str | None = None, date_from: str | None = None,
                   date_to: str | None = None, above: int | None = None,
                   language: Languages = None) -> list[int]:  # fmt: skip
    """Ids of up to `limit` chunks matching an FTS5 expression under the filters, the oldest
    first (the fast direction); with `above`, only chunks with a larger id."""
    return _newest_ids(
        db, match, limit, source, date_from, date_to, above, oldest_first=True, language=language
    )


def adjacent_chunks(db: sqlite_utils.Database, match: str, limit: int, *, matched: str,
                    **filters: Any) -> list[tuple[int, str, int, str]]:  # fmt: skip
    """(id, terms) of consecutive chunks of one episode, (earlier, later), for up to `limit`
    chunks matching; `matched` says which of the two matched: "earlier" or "later"."""
    ids = some_match_ids(db, match, limit, **filters)
    if not ids:
        return []
    side = {"earlier": "p", "later": "c"}[matched]
    return [tuple(r) for r in db.execute(  # type: ignore[misc]
        "select p.id, p.search_text, c.id, c.search_text from chunks c join chunks p "
        "on p.episode_id = c.episode_id and p.idx = c.idx - 1 "
        f"where {side}.id in ({','.join('?' * len(ids))})",
        ids,
    ).fetchall()]  # fmt: skip


def hit_rows(db: sqlite_utils.Database, ids: Sequence[int]) -> list[dict[str, Any]]:
    """Chunks by id, with their episode's fields and their length in index tokens."""
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    sizes = dict(db.execute(f"select id, sz from chunks_fts_docsize where id in ({marks})", ids))
    rows = _rows_by_id(db, ids)
    return [{**rows[i], "tokens": _fts5_varints(sizes[i])[0]} for i in ids if i in rows]


def index_averages(db: sqlite_utils.Database) -> tuple[int, float]:
    """(chunks, average tokens per chunk) as FTS5's bm25 sees them."""
    row = db.execute("select block from chunks_fts_data where id = 1").fetchone()
    values = _fts5_varints(row[0]) if row else []
    if len(values) < 2 or not values[0]:
        return 0, 0.0
    return values[0], values[1] / values[0]


def _fts5_varints(blob: bytes) -> list[int]:
    """Decode FTS5's (SQLite's) big-endian varints, as in its docsize and averages records."""
    out, i = [], 0
    while i < len(blob):
        value = 0
        for k in range(9):
            byte = blob[i]
            i += 1
            if k == 8:
                value = value << 8 | byte
                break
            value = value << 7 | byte & 0x7F
            if not byte & 0x80:
                break
        out.append(value)
    return out


def chunk_total(db: sqlite_utils.Database) -> int:
    """About how many chunks there are (the largest id: instant, unlike count(*))."""
    row = db.execute("select max(id) from chunks").fetchone()
    return int(row[0] or 0)


def match_ids(
    db: sqlite_utils.Database,
    match: str,
    *,
    source: str | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
    language: Languages = None,
    limit: int = COUNT_CAP,
) -> set[int]:
    """Ids of (up to `limit`, the newest) chunks matching an FTS5 expression under the filters."""
    return set(_newest_ids(db, match, limit, source, date_from, date_to, language=language))


def count_chunks(
    db: sqlite_utils.Database,
    match: str,
    *,
    source: str | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
    language: Languages = None,
    cap: int = COUNT_CAP,
) -> int:
    """How many chunks match under the filters, counting at most cap + 1."""
    extra, params = _filters(source, date_from, date_to, language)
    sql = f"select count(*) from (select 1 {_matching(extra)} limit ?)"
    return int(db.execute(sql, [match, *params, cap + 1]).fetchone()[0])


def languages(db: sqlite_utils.Database) -> list[str | None]:
    """The languages episodes are in (base codes), the commonest first."""
    counts: dict[str | None, int] = {}
    for language, n in db.execute("select language, count(*) from episodes group by 1"):
        code = analyze.language_code(language)
        counts[code] = counts.get(code, 0) + n
    return sorted(counts, key=lambda c: -counts[c])


def has_prefix_index(db: sqlite_utils.Database) -> bool:
    """True when the search index also holds 3-letter prefixes (see `optimize`)."""
    row = db.execute("select sql from sqlite_master where name = 'chunks_fts'").fetchone()
    return bool(row) and "prefix=" in row[0].replace(" ", "")


def set_prefix_index(db: sqlite_utils.Database, enabled: bool) -> None:
    """Rebuild the search index with or without a 3-letter prefix index.

    With it, advanced-mode prefix searches (`cli*`) read one precomputed list instead of
    merging every word that starts so: `the*` goes from most of a second to milliseconds
    on a million chunks, for about 0.35x the transcript text in extra size.
    """
    if has_prefix_index(db) == enabled:
        return
    try:
        with writing(db):
            # The triggers that keep it in step with `chunks` refer to it by name and stay.
            db.execute("drop table chunks_fts")
            _create_fts(db, prefix=enabled)
            db.execute("insert into chunks_fts(chunks_fts) values('rebuild')")
    except sqlite3.Error as exc:
        raise StoreError(_describe(exc)) from None


def optimize(db: sqlite_utils.Database, *, prefix_index: bool | None = None) -> tuple[int, int]:
    """Merge the search index and rewrite the file compactly; returns bytes before and after.

    Also moves a database made before PAGE_SIZE was the default onto the larger pages, and
    adds or drops the prefix index when `prefix_index` says so.
    """

    def size() -> int:
        return int(db.execute("select page_count * page_size from pragma_page_count(), "
                              "pragma_page_size()").fetchone()[0])  # fmt: skip

    before = size()
    if prefix_index is not None:
        set_prefix_index(db, prefix_index)
    try:
        with writing(db):
            db.execute("insert into chunks_fts(chunks_fts) values('optimize')")
        if db.execute("PRAGMA page_size").fetchone()[0] == PAGE_SIZE:
            db.execute("VACUUM")  # in WAL mode: readers (a running server) may stay
        else:
            _vacuum_to_large_pages(db)
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except sqlite3.Error as exc:
        raise StoreError(_describe(exc)) from None
    return before, size()


def _vacuum_to_large_pages(db: sqlite_utils.Database) -> None:
    # The page size can only change outside WAL mode, which needs the file to itself.
    try:
        mode = db.execute("PRAGMA journal_mode = delete").fetchone()[0]
    except sqlite3.OperationalError:
        mode = "busy"
    if mode != "delete":
        raise StoreError("the database is in use (is 'indexer serve' running?): stop other "
                         "programs using it once, so it can move to larger pages")  # fmt: skip
    try:
        db.execute(f"PRAGMA page_size = {PAGE_SIZE}")
        db.execute("VACUUM")
    finally:
        db.execute("PRAGMA journal_mode = wal")


def stats(db: sqlite_utils.Database) -> dict[str, int]:
    """Row counts of the main tables."""
    return {t: db.table(t).count for t in ("sources", "episodes", "chunks")}


def chapters_of(db: sqlite_utils.Database, episode_ids: Iterable[int]
                ) -> dict[int, list[tuple[float, str]]]:  # fmt: skip
    """The chapters (start, title), in order, of each of these episodes that has any."""
    ids = sorted(set(episode_ids))
    out: dict[int, list[tuple[float, str]]] = {}
    if not ids:
        return out
    rows = db.execute(
        f"select episode_id, start, title from chapters where episode_id in "
        f"({','.join('?' * len(ids))}) order by episode_id, start",
        ids,
    )
    for episode_id, start, title in rows:
        out.setdefault(episode_id, []).append((start, title))
    return out


# --- followed sources ------------------------------------------------------------------


def follow(db: sqlite_utils.Database, url: str, name: str | None, kind: str) -> int:
    """Mark url as followed (creating its source row); returns the source id."""
    source_id = source_id_for(db, url, name)
    with writing(db):
        db.execute(
            "update sources set followed = 1, kind = ?, name = coalesce(?, name) where id = ?",
            [kind, name, source_id],
        )
    return source_id


def find_source(db: sqlite_utils.Database, ref: str) -> dict[str, Any] | None:
    """A source by id, URL or name."""
    rows = list(
        db.query(
            "select * from sources where cast(id as text) = ? or url = ? or name = ? "
            "order by id limit 1",
            [ref, ref, ref],
        )
    )
    return rows[0] if rows else None


def unfollow(db: sqlite_utils.Database, source_id: int) -> None:
    """Stop refreshing a source; its episodes stay searchable."""
    with writing(db):
        db.execute("update sources set followed = 0 where id = ?", [source_id])


def followed_sources(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """All followed sources, oldest first."""
    return list(db.query("select * from sources where followed = 1 order by id"))


def source_report(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """Followed sources with episode and pending failure counts."""
    return list(
        db.query(
            "select s.id, s.name, s.url, s.kind, s.last_refresh, s.last_error, "
            "(select count(*) from episodes e where e.source_id = s.id) as episodes, "
            "(select count(*) from failures f where f.source_id = s.id) as failing "
            "from sources s where s.followed = 1 order by s.id"
        )
    )


def update_source(db: sqlite_utils.Database, source_id: int, **fields: Any) -> None:
    """Set refresh state columns (etag, last_modified, last_refresh, last_error, name)."""
    allowed = {"etag", "last_modified", "last_refresh", "last_error", "name", "kind"}
    unknown = set(fields) - allowed
    if unknown:
        raise ValueError(f"unknown source fields: {sorted(unknown)}")
    with writing(db):
        db.table("sources").update(source_id, fields)


def failure_for(db: sqlite_utils.Database, key: str) -> dict[str, Any] | None:
    """The recorded failure of an item, if any."""
    rows = list(db.query("select * from failures where key = ?", [key]))
    return rows[0] if rows else None


def record_failure(db: sqlite_utils.Database, source_id: int | None, key: str, title: str,
                   url: str | None, error: str, attempts: int, next_attempt: str) -> None:  # fmt: skip
    """Remember that an item failed for the `attempts`-th time and when to try it again."""
    with writing(db):
        db.table("failures").upsert(
            {"key": key, "source_id": source_id, "title": title, "url": url, "error": error,
             "attempts": attempts, "last_attempt": _now(), "next_attempt": next_attempt},
            pk="key",
        )  # fmt: skip


# --- alerts: saved searches run over newly indexed episodes ---------------------------


def add_alert(db: sqlite_utils.Database, query: str, source_id: int | None,
              webhook: str | None) -> int:  # fmt: skip
    """Save an alert; returns its id."""
    with writing(db):
        table = db.table("alerts")
        table.insert({"query": query, "source_id": source_id, "webhook": webhook,
                      "created": _now()})  # fmt: skip
        assert table.last_pk is not None
        return int(table.last_pk)


_ALERT_COLUMNS = (
    "a.id, a.query, a.source_id, s.name as source_name, s.url as source_url, a.webhook, "
    "a.created, "
    "(select count(*) from alert_hits h where h.alert_id = a.id) as hits, "
    "(select count(*) from alert_hits h where h.alert_id = a.id "
    " and h.delivered is not null) as delivered, "
    "(select count(*) from alert_hits h where h.alert_id = a.id and h.delivered is null "
    " and h.next_attempt is not null) as pending, "
    "(select count(*) from alert_hits h where h.alert_id = a.id and h.delivered is null "
    " and h.next_attempt is null and h.attempts > 0) as failed, "
    "(select h.last_error from alert_hits h where h.alert_id = a.id "
    " and h.last_error is not null order by h.id desc limit 1) as last_error "
    "from alerts a left join sources s on s.id = a.source_id"
)


def list_alerts(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """Every alert, oldest first, with its source and counts of hits by delivery state."""
    return list(db.query(f"select {_ALERT_COLUMNS} order by a.id"))


def get_alert(db: sqlite_utils.Database, alert_id: int) -> dict[str, Any] | None:
    """One alert as `list_alerts` gives it, or None."""
    rows = list(db.query(f"select {_ALERT_COLUMNS} where a.id = ?", [alert_id]))
    return rows[0] if rows else None


def remove_alert(db: sqlite_utils.Database, alert_id: int) -> bool:
    """Delete an alert and its hits; False when there is no such alert."""
    with writing(db):
        db.execute("delete from alert_hits where alert_id = ?", [alert_id])
        return db.execute("delete from alerts where id = ?", [alert_id]).rowcount > 0


def episodes_for_alerts(db: sqlite_utils.Database, episode_ids: Iterable[int]
                        ) -> list[dict[str, Any]]:  # fmt: skip
    """(id, language, source_id) of these episodes, the ones that exist."""
    ids = sorted(set(episode_ids))
    if not ids:
        return []
    return list(db.query(
        f"select id, language, source_id from episodes where id in ({','.join('?' * len(ids))}) "
        "order by id",
        ids,
    ))  # fmt: skip


def match_in_episodes(db: sqlite_utils.Database, match: str, episode_ids: Sequence[int], *,
                      limit: int = 1000) -> list[dict[str, Any]]:  # fmt: skip
    """Chunks of these episodes matching an FTS5 expression, best (bm25) first, as hit rows."""
    if not episode_ids:
        return []
    marks = ",".join("?" * len(episode_ids))
    low, high = db.execute(
        f"select min(id), max(id) from chunks where episode_id in ({marks})", list(episode_ids)
    ).fetchone()
    if low is None:
        return []
    # New episodes hold the newest chunk ids: FTS5 reads only that stretch of each posting
    # list, so a common word costs the same on a million chunks as on a hundred.
    ranked = db.execute(
        "select f.rowid, bm25(chunks_fts) as score from chunks_fts f join chunks c "
        "on c.id = f.rowid where chunks_fts match ? and f.rowid between ? and ? "
        f"and c.episode_id in ({marks}) order by score limit ?",
        [match, low, high, *episode_ids, limit],
    ).fetchall()
    if not ranked:
        return []
    rows = _rows_by_id(db, [r[0] for r in ranked])
    return [{**rows[rowid], "rank": rank} for rowid, rank in ranked if rowid in rows]


def record_alert_hits(db: sqlite_utils.Database, hits: Iterable[dict[str, Any]]) -> list[int]:
    """Store hits (alert_id, episode_id, start, quote, snippet, link), each (alert, episode)
    once; returns the ids of those not seen before. A hit of an alert with a webhook is due
    for delivery at once."""
    found = _now()
    new = []
    with writing(db):
        for hit in hits:
            cursor = db.execute(
                "insert or ignore into alert_hits (alert_id, episode_id, start, quote, snippet, "
                "link, found, attempts, next_attempt) select a.id, ?, ?, ?, ?, ?, ?, 0, "
                "case when a.webhook is null then null else ? end from alerts a where a.id = ?",
                [hit["episode_id"], hit["start"], hit["quote"], hit["snippet"], hit["link"],
                 found, found, hit["alert_id"]],
            )  # fmt: skip
            if cursor.rowcount > 0:
                new.append(int(cursor.lastrowid or 0))
    return new


_DELIVERY_COLUMNS = (
    "h.id, h.alert_id, a.query, a.webhook, h.episode_id, e.title, e.channel, e.published, "
    "e.webpage_url, h.start, h.quote, h.link, h.found, h.attempts, h.next_attempt"
)


def claim_alert_deliveries(db: sqlite_utils.Database, now: str, until: str, limit: int = 100
                           ) -> list[dict[str, Any]]:  # fmt: skip
    """Hits whose webhook delivery is due at `now`, oldest first; each is held (its next
    attempt moved to `until`) so that an overlapping run does not post it too."""
    with writing(db):
        rows = list(db.query(
            f"select {_DELIVERY_COLUMNS} from alert_hits h join alerts a on a.id = h.alert_id "
            "left join episodes e on e.id = h.episode_id where h.delivered is null "
            "and a.webhook is not null and h.next_attempt is not null and h.next_attempt <= ? "
            "order by h.next_attempt, h.id limit ?",
            [now, limit],
        ))  # fmt: skip
        if rows:
            ids = [r["id"] for r in rows]
            db.execute(
                f"update alert_hits set next_attempt = ? where id in ({','.join('?' * len(ids))})",
                [until, *ids],
            )
    return rows


def alert_delivered(db: sqlite_utils.Database, hit_id: int) -> None:
    """Record that a hit's webhook took it."""
    with writing(db):
        db.execute(
            "update alert_hits set delivered = ?, attempts = attempts + 1, next_attempt = null "
            "where id = ?",
            [_now(), hit_id],
        )


def alert_failed(db: sqlite_utils.Database, hit_id: int, error: str, next_attempt: str | None,
                 *, attempted: bool = True) -> None:  # fmt: skip
    """Record a failed (or, with `attempted` False, a postponed) delivery and when to try
    again; a `next_attempt` of None gives up, keeping the error."""
    with writing(db):
        db.execute(
            "update alert_hits set attempts = attempts + ?, last_error = ?, next_attempt = ? "
            "where id = ?",
            [1 if attempted else 0, error, next_attempt, hit_id],
        )


def alert_postponed(db: sqlite_utils.Database, hit_ids: Sequence[int], when: str) -> None:
    """Make held hits due again at `when`, untried (the run ran out of time)."""
    if not hit_ids:
        return
    with writing(db):
        db.execute(
            f"update alert_hits set next_attempt = ? where id in ({','.join('?' * len(hit_ids))})",
            [when, *hit_ids],
        )


def alert_feed_hits(db: sqlite_utils.Database, alert_id: int, limit: int = 100
                    ) -> list[dict[str, Any]]:  # fmt: skip
    """An alert's hits, newest first, with their episode's title, show and date."""
    return list(db.query(
        "select h.id, h.episode_id, h.start, h.quote, h.snippet, h.link, h.found, h.delivered, "
        "e.title, e.channel, e.published from alert_hits h "
        "left join episodes e on e.id = h.episode_id where h.alert_id = ? "
        "order by h.found desc, h.id desc limit ?",
        [alert_id, limit],
    ))  # fmt: skip


# --- describing the database to Datasette ---------------------------------------------

_DESCRIPTIONS: dict[str, tuple[str, dict[str, str]]] = {
    "sources": (
        "Feeds, channels, playlists and files that episodes came from.",
        {
            "url": "The feed, channel or page URL as given to 'indexer add' or 'indexer follow'.",
            "followed": "1 when 'indexer refresh' checks it for new episodes.",
            "kind": "How it is listed: 'feed' (RSS/Atom) or 'ytdlp' (anything yt-dlp lists).",
            "etag": "The feed's ETag, for conditional GETs.",
            "last_error": "Why the last refresh failed, if it did.",
        },
    ),
    "episodes": (
        "One row per indexed episode or video.",
        {
            "key": "Identity: 'youtube:ID', 'feed:FEEDHASH:GUID', 'file:SHA256', ...",
            "webpage_url": "Where the media is watched or played; deep links are built on it.",
            "media_url": "The audio or video file itself (a feed's enclosure).",
            "media_length": "The enclosure's declared size, to notice replaced audio.",
            "transcript_origin": "'whisper' (automatic), 'publisher' or 'subtitles' (made by people).",
            "model": "The whisper model that transcribed it; empty for publisher transcripts.",
            "duration": "Seconds.",
            "language": "Spoken language code, as detected or given.",
        },
    ),
    "chunks": (
        "Transcript text in windows of about 45 s: the unit of full-text search.",
        {
            "idx": "Position of the chunk in its episode.",
            "start": "Seconds from the start of the episode.",
            "end": "Seconds from the start of the episode.",
            "text": "The words spoken in the window, as transcribed.",
            "timings": "Every word's start and end, packed (see indexer/timings.py).",
            "lines": (
                "JSON: where each line starts in text (o, characters), when (t, centiseconds "
                "after start) and who speaks (s, when known). The 'lines' view reads it."
            ),
        },
    ),
    "lines": (
        "Every transcript line with its start second, speaker and a deep link.",
        {
            "start": "Seconds from the start of the episode.",
            "link": "Opens the episode at this line (YouTube ?t=, Vimeo #t=, media #t=).",
            "n": "Position of the line in its chunk.",
        },
    ),
    "chapters": (
        "Chapters a publisher gave (Podcasting 2.0 chapters).",
        {
            "start": "Seconds from the start of the episode.",
        },
    ),
    "failures": (
        "Items that failed to index, and when 'refresh' tries them again.",
        {
            "next_attempt": "Not tried again before this time (UTC); each failure doubles the wait.",
        },
    ),
    "alerts": (
        "Saved searches run over each newly indexed episode ('indexer alert add').",
        {
            "query": "The search, as typed.",
            "source_id": "Only episodes of this source, when set.",
            "webhook": "Where each hit is POSTed as JSON, when set.",
        },
    ),
    "alert_hits": (
        "What each alert found: one row per alert and episode, reported once.",
        {
            "start": "Seconds from the start of the episode.",
            "link": "Opens the episode at the hit.",
            "next_attempt": "When the webhook is tried (again); empty once delivered or given up.",
            "delivered": "When the webhook took it (UTC).",
        },
    ),
}


def datasette_metadata(db: sqlite_utils.Database, name: str) -> dict[str, Any]:
    """Datasette metadata for this database as Datasette names it (the file name's stem)."""
    tables: dict[str, Any] = {}
    for table, (description, columns) in _DESCRIPTIONS.items():
        tables[table] = {"description": description, "columns": columns}
    tables["chunks"]["fts_table"] = "chunks_fts"
    tables["chunks"]["fts_pk"] = "id"
    for shadow in db.table_names():
        if shadow.startswith("chunks_fts") or shadow == "_sqlite_migrations":
            tables[shadow] = {"hidden": True}
    return {
        "title": "Podcast and video transcripts",
        "description": "Made by podcast-indexer. Search chunks (full text) or browse lines.",
        "databases": {name: {"tables": tables}},
    }


# --- editors: accounts, corrections, vocabulary ------------------------------------------


def add_user(db: sqlite_utils.Database, name: str, password_hash: str) -> dict[str, Any]:
    with writing(db):
        db.execute("insert into users (name, password_hash, created) values (?, ?, ?)",
                   [name, password_hash, _now()])  # fmt: skip
    user = get_user(db, name)
    assert user is not None
    return user


def get_user(db: sqlite_utils.Database, name: str) -> dict[str, Any] | None:
    rows = list(db.query("select * from users where name = ? collate nocase", [name]))
    return rows[0] if rows else None


def list_users(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    return list(db.query("select id, name, created from users order by name collate nocase"))


def remove_user(db: sqlite_utils.Database, name: str) -> bool:
    with writing(db):
        cursor = db.execute("delete from users where name = ? collate nocase", [name])
    return cursor.rowcount > 0


def save_correction(db: sqlite_utils.Database, episode_id: int, segments: Sequence[Segment],
                    chunks: Sequence[Chunk], chunk_seconds: float,
                    correction: dict[str, Any]) -> None:  # fmt: skip
    """An episode's corrected transcript and the record of the correction, in one transaction."""
    with writing(db):
        row = db.execute("select language from episodes where id = ?", [episode_id]).fetchone()
        db.execute("delete from chunks where episode_id = ?", [episode_id])
        _insert_chunks(db, episode_id, segments, chunks, language=row[0] if row else None)
        db.execute(
            "insert into corrections (episode_id, start, [end], old_text, new_text, editor, at) "
            "values (?, ?, ?, ?, ?, ?, ?)",
            [episode_id, correction["start"], correction["end"], correction["old_text"],
             correction["new_text"], correction["editor"], _now()],
        )  # fmt: skip


def corrections_of(db: sqlite_utils.Database, episode_id: int) -> list[dict[str, Any]]:
    """An episode's corrections, oldest first."""
    if not db.table("corrections").exists():
        return []
    return list(db.query("select * from corrections where episode_id = ? order by id",
                         [episode_id]))  # fmt: skip


def add_vocab(db: sqlite_utils.Database, source_id: int, term: str) -> bool:
    """Add a term to a show's vocabulary; False when it was there already."""
    with writing(db):
        cursor = db.execute(
            "insert or ignore into vocab (source_id, term, created) values (?, ?, ?)",
            [source_id, term, _now()],
        )
    return cursor.rowcount > 0


def remove_vocab(db: sqlite_utils.Database, source_id: int, term: str) -> bool:
    with writing(db):
        cursor = db.execute("delete from vocab where source_id = ? and term = ?", [source_id, term])
    return cursor.rowcount > 0


def vocab_of(db: sqlite_utils.Database, source_id: int | None) -> list[str]:
    """A show's vocabulary, in the order it was added."""
    if source_id is None or not db.table("vocab").exists():
        return []
    return [r[0] for r in db.execute("select term from vocab where source_id = ? order by id",
                                     [source_id])]  # fmt: skip


def session_key(db: sqlite_utils.Database, *, create: bool = False) -> str | None:
    """The web sessions' signing key; with `create`, made once when missing."""
    if not db.table("settings").exists():
        return None
    row = db.execute("select value from settings where name = 'session_key'").fetchone()
    if row or not create:
        return row[0] if row else None
    import secrets

    with writing(db):
        db.execute("insert or ignore into settings (name, value) values ('session_key', ?)",
                   [secrets.token_hex(32)])  # fmt: skip
    return session_key(db)


def all_vocab(db: sqlite_utils.Database) -> list[str]:
    """Every show's vocabulary terms (for search's spelling help); [] without any."""
    if not db.table("vocab").exists():
        return []
    return [r[0] for r in db.execute("select distinct term from vocab order by term")]


# --- meaning search: chunk vectors -------------------------------------------------------


def chunks_without_vectors(db: sqlite_utils.Database, limit: int,
                           episode_id: int | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """Chunks (id, start, text, timings, lines: for chunk_segments) that have no vector yet
    (of one episode, if given), oldest first."""
    where = "and c.episode_id = ? " if episode_id is not None else ""
    params = [*([episode_id] if episode_id is not None else []), limit]
    return list(db.query(
        "select c.id, c.start, c.text, c.timings, c.lines from chunks c "
        "left join chunk_vectors v on v.chunk_id = c.id "
        f"where v.chunk_id is null {where}order by c.id limit ?", params))  # fmt: skip


def save_vectors(db: sqlite_utils.Database, rows: Sequence[tuple[int, bytes, bytes | None]],
                 model_id: str) -> None:  # fmt: skip
    """Store (chunk id, vector, line sign bits) rows, skipping chunks deleted meanwhile, and
    the model that made them."""
    with writing(db):
        db.conn.executemany(
            "insert or replace into chunk_vectors (chunk_id, vector, lines) "
            "select ?, ?, ? where exists (select 1 from chunks where id = ?)",
            [(i, blob, signs, i) for i, blob, signs in rows],
        )
        db.execute("insert or replace into settings (name, value) values ('embedding_model', ?)",
                   [model_id])  # fmt: skip
        _bump_vectors(db)


def clear_vectors(db: sqlite_utils.Database) -> None:
    with writing(db):
        db.execute("delete from chunk_vectors")
        db.execute("delete from settings where name = 'embedding_model'")
        _bump_vectors(db)


def vector_model(db: sqlite_utils.Database) -> str | None:
    """The id of the model the stored vectors were made with, or None."""
    if not db.table("settings").exists():
        return None
    row = db.execute("select value from settings where name = 'embedding_model'").fetchone()
    return row[0] if row else None


def vector_counts(db: sqlite_utils.Database) -> tuple[int, int]:
    """(chunks with a vector, chunks)."""
    if not db.table("chunk_vectors").exists():
        return 0, chunk_total(db)
    have = db.execute("select count(*) from chunk_vectors").fetchone()[0]
    return have, db.execute("select count(*) from chunks").fetchone()[0]


def vectors_version(db: sqlite_utils.Database) -> int:
    """Changes whenever vectors are added, replaced or removed (m013's triggers)."""
    row = db.execute("select value from settings where name = 'vectors_generation'").fetchone()
    return int(row[0]) if row else 0


def vector_total(db: sqlite_utils.Database) -> int:
    return db.execute("select count(*) from chunk_vectors").fetchone()[0]


def _bump_vectors(db: sqlite_utils.Database) -> None:
    # Chunk ids may be reused after a delete: a counter tells servers their copy is stale.
    db.execute("insert into settings (name, value) values ('vectors_generation', '1') "
               "on conflict(name) do update set value = cast(value as integer) + 1")  # fmt: skip


def line_signs(db: sqlite_utils.Database, ids: Sequence[int]) -> dict[int, bytes | None]:
    """The stored line sign bits of chunks by id (None where there are none)."""
    marks = ",".join("?" * len(ids))
    return dict(db.execute(f"select chunk_id, lines from chunk_vectors where chunk_id in ({marks})",
                           list(ids)).fetchall()) if ids else {}  # fmt: skip


def vector_pages(db: sqlite_utils.Database, size: int = 20_000
                 ) -> Iterator[list[tuple[int, int, bytes]]]:  # fmt: skip
    """(chunk id, episode id, vector) rows in chunk id order, a page at a time, so that a
    server loading a million vectors never holds them all as Python objects."""
    cursor = db.execute(
        "select v.chunk_id, c.episode_id, v.vector from chunk_vectors v "
        "join chunks c on c.id = v.chunk_id order by v.chunk_id"
    )
    while page := cursor.fetchmany(size):
        yield page


def vectors_of(db: sqlite_utils.Database, chunk_ids: Sequence[int]) -> dict[int, bytes]:
    """The stored vectors of these chunks (a search's candidates), by chunk id."""
    out: dict[int, bytes] = {}
    for i in range(0, len(chunk_ids), 30_000):  # under SQLite's 32,766 variables
        part = chunk_ids[i : i + 30_000]
        marks = ",".join("?" * len(part))
        out.update(db.execute(f"select chunk_id, vector from chunk_vectors where chunk_id in ({marks})",
                              list(part)).fetchall())  # fmt: skip
    return out


def episode_count(db: sqlite_utils.Database, source: str | None = None, date_from: str | None = None,
                  date_to: str | None = None, language: Languages = None) -> int:  # fmt: skip
    """How many episodes a search's filters let through (all of them, without filters)."""
    extra, params = _filters(source, date_from, date_to, language)
    return db.execute(f"select count(*) from episodes e where 1 {extra}", params).fetchone()[0]


def episode_ids_matching(db: sqlite_utils.Database, source: str | None, date_from: str | None,
                         date_to: str | None, language: Languages = None) -> list[int]:  # fmt: skip
    """The episodes a search's filters let through."""
    extra, params = _filters(source, date_from, date_to, language)
    return [r[0] for r in db.execute(f"select e.id from episodes e where 1 {extra}", params)]
