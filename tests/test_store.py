from __future__ import annotations

import json
import math
import os
import sqlite3
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
import sqlite_utils

from indexer import search, store, timings
from indexer.chunk import chunk_segments
from indexer.models import Chunk, MediaItem, Segment, Transcript, Word
from tests.conftest import add_fake_episode, make_segment
from tests.legacy import encode_v1

HARBOUR = [
    (0.0, "Good morning and welcome to the harbour report."),
    (5.0, "Container ships are getting bigger every single year."),
    (30.0, "The mayor wants to dredge the channel to fourteen metres."),
    (60.0, "Fishermen worry that the dredging will harm the oyster beds."),
]


def media(media_id: str = "ep1", **fields: object) -> MediaItem:
    values: dict[str, object] = {
        "source_url": "https://example.com/feed.xml",
        "extractor": "Test",
        "media_id": media_id,
        "title": f"Episode {media_id}",
        "webpage_url": f"https://example.com/{media_id}",
        "published": "2024-05-01",
    }
    values.update(fields)
    return MediaItem(**values)  # type: ignore[arg-type]


def transcript_of(segments: tuple[Segment, ...]) -> Transcript:
    return Transcript(segments, "en", segments[-1].end if segments else 0.0, "test-model")


def save(
    db: sqlite_utils.Database,
    lines: list[tuple[float, str]],
    item: MediaItem,
    *,
    source_id: int | None = None,
    window: float = 45.0,
) -> int:
    segments = tuple(make_segment(text, start) for start, text in lines)
    return store.save_episode(
        db,
        item,
        transcript_of(segments),
        chunk_segments(segments, window),
        source_id=source_id,
        chunk_seconds=window,
    )


def counts(db: sqlite_utils.Database) -> dict[str, int]:
    """Rows of episodes and chunks, and the segments decoded from all stored chunks."""
    segments = sum(
        len(store.get_segments(db, row["id"])) for row in db.query("select id from episodes")
    )
    return {
        "episodes": db.table("episodes").count,
        "segments": segments,
        "chunks": db.table("chunks").count,
    }


def found(db: sqlite_utils.Database, word: str) -> list[str]:
    """Texts of the chunks whose full-text index holds word (analysed as English)."""

    return [row["text"] for row in store.search_chunks(db, search.parse_query(word, "en").strict)]


def assert_fts_consistent(db: sqlite_utils.Database) -> None:
    # FTS5's own check that the index matches the chunks table it indexes.
    db.execute("insert into chunks_fts(chunks_fts) values ('integrity-check')")
    fts_rows = db.execute("select count(*) from chunks_fts").fetchone()[0]
    assert fts_rows == db.table("chunks").count


# --- opening and migrations -------------------------------------------------------------


MIGRATIONS = [
    "m001_initial", "m002_follow_and_chapters", "m003_compact_timings", "m004_timings_v2",
    "m005_feed_scoped_keys", "m006_lines", "m007_analysed_search_text",
    "m008_reanalysed_terms", "m009_alerts", "m010_editors", "m011_chunk_vectors", "m012_line_signs",
    "m013_vectors_generation",
]  # fmt: skip


def test_migrations_create_the_schema(db: sqlite_utils.Database) -> None:
    names = set(db.table_names())
    assert {"sources", "episodes", "chunks", "chunks_fts", "failures", "chapters"} <= names
    assert "segments" not in names
    assert db["chunks"].detect_fts() == "chunks_fts"
    columns = db["chunks"].columns_dict
    assert columns["timings"] is bytes
    assert "first_segment" not in columns and "last_segment" not in columns
    applied = [r["name"] for r in db.query("select name from _sqlite_migrations")]
    assert applied == MIGRATIONS
    assert counts(db) == {"episodes": 0, "segments": 0, "chunks": 0}


def test_migrations_are_applied_once(tmp_path: Path) -> None:
    path = tmp_path / "twice.db"
    first = store.open_db(path)
    add_fake_episode(first, HARBOUR)
    first.close()
    second = store.open_db(path)
    rows = list(second.query("select migration_set, name from _sqlite_migrations"))
    assert rows == [{"migration_set": "podcast-indexer", "name": n} for n in MIGRATIONS]
    # Re-opening kept the data.
    assert counts(second)["episodes"] == 1
    assert found(second, "harbour")
    third = store.open_db(path)
    assert third.execute("select count(*) from _sqlite_migrations").fetchone()[0] == len(MIGRATIONS)


def test_an_old_database_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = sqlite_utils.Database(path)
    store.migrations.apply(old, stop_before="m002_follow_and_chapters")
    assert "failures" not in old.table_names()
    old.close()
    db = store.open_db(path)
    add_fake_episode(db, HARBOUR)
    assert {"failures", "chapters"} <= set(db.table_names())
    assert "transcript_url" in db["episodes"].columns_dict
    assert found(db, "harbour")


def test_an_upgrade_reanalyses_german_and_han_chunks(tmp_path: Path) -> None:
    path = tmp_path / "m007.db"
    old = sqlite_utils.Database(path)
    store.migrations.apply(old, stop_before="m008_reanalysed_terms")
    de = add_fake_episode(old, [(0.0, "Der Wohnungsmarkt in Berlin")], media_id="de",
                          language="de")  # fmt: skip
    zh = add_fake_episode(old, [(0.0, "住房價格上漲了")], media_id="zh", language="zh")
    en = add_fake_episode(old, HARBOUR, media_id="en")
    # The terms an earlier version wrote: no compound parts, traditional characters
    old.execute("update chunks set search_text = 'der wohnungsmarkt in berlin' "
                "where episode_id = ?", [de])  # fmt: skip
    old.execute("update chunks set search_text = '住房 房價 價上 上漲 漲了' where episode_id = ?",
                [zh])  # fmt: skip
    english = old.execute("select search_text from chunks where episode_id = ?", [en]).fetchall()
    old.close()
    db = store.open_db(path)
    assert_fts_consistent(db)
    for word, language, episode in [("Markt", "de", de), ("价格", "zh", zh), ("價格", "zh", zh)]:
        chunks = store.search_chunks(db, search.parse_query(word, language).strict)
        assert [c["episode_id"] for c in chunks] == [episode], word
    assert (
        db.execute("select search_text from chunks where episode_id = ?", [en]).fetchall()
        == english
    )


def legacy_episode(
    db: sqlite_utils.Database,
    media_id: str,
    segments: list[tuple[float, float, str, list[list[object]]]],
    chunks: list[tuple[int, int, str]],
    chunk_seconds: float | None,
) -> int:
    """Store an episode the m002 way: segment rows with JSON words, chunks naming segments."""
    episodes = db.table("episodes")
    episodes.insert(
        {"key": f"test:{media_id}", "title": f"Old {media_id}", "extractor": "Test",
         "media_id": media_id, "chunk_seconds": chunk_seconds}
    )  # fmt: skip
    episode_id = int(episodes.last_pk)
    db.table("segments").insert_all(
        {"episode_id": episode_id, "idx": i, "start": start, "end": end, "text": text,
         "words": json.dumps(words)}
        for i, (start, end, text, words) in enumerate(segments)
    )  # fmt: skip
    db.table("chunks").insert_all(
        {"episode_id": episode_id, "idx": i, "start": segments[first][0],
         "end": segments[last][1], "text": text, "first_segment": first, "last_segment": last}
        for i, (first, last, text) in enumerate(chunks)
    )  # fmt: skip
    return episode_id


# Whisper's shape: words with a leading space and a probability, times to the centisecond.
OLD_HARBOUR = [
    (
        0.0,
        2.1,
        " Good morning, harbour.",
        [[0.0, 0.52, " Good", 0.91], [0.6, 1.2, " morning,", 0.87], [1.3, 2.1, " harbour.", 0.99]],
    ),
    (5.0, 6.04, " Container ships.", [[5.0, 5.73, " Container", 0.8], [5.8, 6.04, " ships.", 0.7]]),
    (30.0, 31.5, " The mayor", [[30.0, 30.4, " The", 1.0], [30.45, 31.5, " mayor", 0.6]]),
]


def test_m003_converts_an_m002_database(tmp_path: Path) -> None:
    path = tmp_path / "m002.db"
    old = sqlite_utils.Database(path)
    store.migrations.apply(old, stop_before="m003_compact_timings")
    assert "segments" in old.table_names()
    harbour = legacy_episode(
        old, "harbour", OLD_HARBOUR, [(0, 1, "Good morning, harbour. Container ships. zeppelin"),
                                      (2, 2, "The mayor")], chunk_seconds=20.0,
    )  # fmt: skip
    # A publisher's cue has no word timings; no chunk window stored falls back to 45 s.
    cues: list[tuple[float, float, str, list[list[object]]]] = [
        (0.0, 4.0, "oyster beds ok", []),
        (50.0, 51.0, "dredging", []),
    ]
    cue_id = legacy_episode(old, "cues", cues, [(0, 0, "oyster beds ok"), (1, 1, "dredging")],
                            chunk_seconds=None)  # fmt: skip
    old.close()

    db = store.open_db(path)
    applied = [r["name"] for r in db.query("select name from _sqlite_migrations")]
    assert applied == MIGRATIONS
    assert "segments" not in db.table_names()
    columns = db["chunks"].columns_dict
    assert "first_segment" not in columns and "last_segment" not in columns
    assert "timings" in columns

    back = store.get_segments(db, harbour)
    expected = [[(w[0], w[1], str(w[2]).strip()) for w in words] for _, _, _, words in OLD_HARBOUR]
    assert [[(w.start, w.end, w.text) for w in s.words] for s in back] == expected
    assert [s.text for s in back] == ["Good morning, harbour.", "Container ships.", "The mayor"]
    assert [(s.start, s.end) for s in back] == [(s, e) for s, e, _, _ in OLD_HARBOUR]
    assert all(w.probability == 1.0 for s in back for w in s.words)
    # Chunks are rebuilt from the words with the episode's window.
    assert db.table("chunks").count_where("episode_id = ?", [harbour]) == len(
        chunk_segments(back, 20.0)
    )

    cue_segments = store.get_segments(db, cue_id)
    assert [s.text for s in cue_segments] == ["oyster beds ok", "dredging"]
    assert [w.text for w in cue_segments[0].words] == ["oyster", "beds", "ok"]
    assert (cue_segments[0].words[0].start, cue_segments[0].words[-1].end) == (0.0, 4.0)
    assert db.table("chunks").count_where("episode_id = ?", [cue_id]) == 2  # 45 s window

    assert found(db, "harbour") == ["Good morning, harbour. Container ships."]
    assert found(db, "mayor") == ["The mayor"]
    assert found(db, "oyster") == ["oyster beds ok"]
    assert found(db, "zeppelin") == []  # the old chunk text (and its index entry) is gone
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert_fts_consistent(db)
    # The converted database takes new episodes as usual.
    add_fake_episode(db, HARBOUR)
    assert len(found(db, "harbour")) == 2
    assert_fts_consistent(db)


def test_m004_repacks_version_1_timings(tmp_path: Path, caplog: pytest.LogCaptureFixture
                                        ) -> None:  # fmt: skip
    path = tmp_path / "m003.db"
    old = sqlite_utils.Database(path)
    store.migrations.apply(old, stop_before="m004_timings_v2")
    source = store.open_db(":memory:")
    episode_id = add_fake_episode(source, HARBOUR)
    expected = store.get_segments(source, episode_id)
    columns = set(old.table("episodes").columns_dict)
    old.table("episodes").insert_all(
        {k: v for k, v in r.items() if k in columns} for r in source.query("select * from episodes")
    )
    for row in source.query("select * from chunks"):
        segments = timings.decode(row["text"], row["timings"], row["start"])
        row.pop("lines")
        row.pop("search_text")
        old.table("chunks").insert({**row, "timings": encode_v1(segments, row["start"])})
    old.close()

    with caplog.at_level("WARNING", logger="indexer.store"):
        db = store.open_db(path)
    assert "upgrading" in caplog.text and "m004_timings_v2" in caplog.text
    assert [r["name"] for r in db.query("select name from _sqlite_migrations")] == MIGRATIONS
    assert {bytes(r[0])[:1] for r in db.execute("select timings from chunks")} == {b"\x02"}
    triggers = {r[0] for r in db.execute("select name from sqlite_master where type='trigger'")}
    assert triggers == {"chunks_ai", "chunks_ad", "chunks_au", "chunk_vectors_ad",
                        "chunk_vectors_insert", "chunk_vectors_delete", "chunk_vectors_update"}
    with db.atomic():  # the re-created update trigger still keeps the index in step
        db.execute("update chunks set search_text = search_text || ' zeppelin' "
                   "where id = (select min(id) from chunks)")  # fmt: skip
    assert len(found(db, "zeppelin")) == 1
    assert store.get_segments(db, episode_id) == expected
    assert found(db, "harbour")
    assert_fts_consistent(db)


def test_new_databases_use_large_pages(tmp_path: Path) -> None:
    db = store.open_db(tmp_path / "new.db")
    assert db.execute("PRAGMA page_size").fetchone()[0] == store.PAGE_SIZE
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_m003_that_fails_leaves_the_old_data(tmp_path: Path) -> None:
    path = tmp_path / "m002.db"
    old = sqlite_utils.Database(path)
    store.migrations.apply(old, stop_before="m003_compact_timings")
    legacy_episode(old, "good", OLD_HARBOUR, [(0, 2, "Good morning")], chunk_seconds=45.0)
    bad = legacy_episode(old, "bad", OLD_HARBOUR[:1], [(0, 0, "bad")], chunk_seconds=45.0)
    old.execute("update segments set words = 'not json' where episode_id = ?", [bad])
    old.conn.commit()
    old.close()
    with pytest.raises(store.StoreError, match="can.t open database"):
        store.open_db(path)
    raw = sqlite_utils.Database(path)
    applied = [r["name"] for r in raw.query("select name from _sqlite_migrations")]
    assert applied == MIGRATIONS[:2]
    assert raw.table("segments").count == 4
    assert "first_segment" in raw["chunks"].columns_dict
    assert "timings" not in raw["chunks"].columns_dict
    assert raw.table("chunks").count == 2


def test_open_db_creates_missing_parent_folders(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "index.db"
    db = store.open_db(path)
    assert path.is_file()
    assert db["chunks"].detect_fts() == "chunks_fts"


def test_open_db_in_memory() -> None:
    db = store.open_db(":memory:")
    add_fake_episode(db, HARBOUR)
    assert found(db, "oyster")


def test_foreign_keys_are_enforced(db: sqlite_utils.Database) -> None:
    blob = timings.encode([make_segment("x", 0.0)], 0.0)
    with pytest.raises(sqlite3.IntegrityError):
        db.table("chunks").insert(
            {"episode_id": 999, "idx": 0, "start": 0, "end": 1, "text": "x", "timings": blob}
        )
    with pytest.raises(sqlite3.IntegrityError):
        db.table("chapters").insert({"episode_id": 999, "start": 0.0, "title": "Intro"})
    assert db.table("chunks").count == 0
    assert_fts_consistent(db)


def test_readonly_missing_file_is_a_helpful_error(tmp_path: Path) -> None:
    missing = tmp_path / "never-indexed.db"
    with pytest.raises(store.StoreError, match="no database") as info:
        store.open_db(missing, readonly=True)
    assert str(missing) in str(info.value)
    assert "indexer add" in str(info.value)
    assert not missing.exists()


def test_readonly_directory_is_not_a_database(tmp_path: Path) -> None:
    with pytest.raises(store.StoreError):
        store.open_db(tmp_path, readonly=True)


def test_readonly_db_reads_but_rejects_writes(tmp_path: Path) -> None:
    path = tmp_path / "ro.db"
    writer = store.open_db(path)
    episode_id = add_fake_episode(writer, HARBOUR)
    writer.close()
    db = store.open_db(path, readonly=True)
    assert store.get_episode(db, episode_id)["title"] == "Test episode"
    assert found(db, "oyster")
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        db["sources"].insert({"url": "https://example.org/other.xml"})
    with pytest.raises(sqlite3.OperationalError):
        db.execute("delete from chunks")
    # Through the library, the error is one clear StoreError.
    with pytest.raises(store.StoreError, match="read-only"):
        save(db, [(0.0, "new words")], media("ep2"))
    reopened = store.open_db(path)
    assert counts(reopened) == {"episodes": 1, "segments": 4, "chunks": 2}


def test_readonly_open_of_a_non_database_file_is_a_store_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_text("this is not a database\n" * 100)
    with pytest.raises(store.StoreError):
        db = store.open_db(junk, readonly=True)
        db.execute("select count(*) from episodes").fetchone()


def test_open_non_database_file_is_a_store_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_text("this is not a database\n" * 100)
    with pytest.raises(store.StoreError, match="junk.db"):
        store.open_db(junk)


def test_open_db_whose_parent_is_a_file(tmp_path: Path) -> None:
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    with pytest.raises(store.StoreError, match="can't open database"):
        store.open_db(blocker / "x.db")
    assert blocker.read_text() == "x"


def test_open_db_on_a_directory(tmp_path: Path) -> None:
    with pytest.raises(store.StoreError, match="can't open database"):
        store.open_db(tmp_path)


def test_open_db_where_the_folder_cannot_be_written(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        # root ignores permission bits; /proc refuses new files and folders to everyone.
        targets = [Path("/proc/podcast-indexer-test/x.db"), Path("/proc/x.db")]
    else:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        targets = [locked / "x.db", locked / "sub" / "x.db"]
    try:
        for target in targets:
            with pytest.raises(store.StoreError, match="can't open database"):
                store.open_db(target)
            assert not target.exists()
    finally:
        if os.geteuid() != 0:
            (tmp_path / "locked").chmod(0o700)


# --- saving and reading ----------------------------------------------------------------


def test_save_and_read_back(db: sqlite_utils.Database) -> None:
    source_id = store.source_id_for(db, "https://example.com/feed.xml", "City Desk")
    item = media(
        "abc",
        title="The harbour expansion",
        channel="City Desk",
        duration=99.0,
        description="Show notes",
        thumbnail="https://example.com/t.jpg",
        media_url="https://cdn.example.com/abc.mp3",
    )
    episode_id = save(db, HARBOUR, item, source_id=source_id, window=20.0)

    row = store.episode_by_key(db, "test:abc")
    assert row is not None and row["id"] == episode_id
    assert row["title"] == "The harbour expansion"
    assert row["media_id"] == "abc"
    assert row["extractor"] == "Test"
    assert row["published"] == "2024-05-01"
    assert row["chunk_seconds"] == 20.0
    assert row["model"] == "test-model"
    assert row["language"] == "en"
    assert row["transcript_origin"] == "whisper"
    assert row["duration"] == pytest.approx(make_segment(HARBOUR[-1][1], 60.0).end)
    assert row["indexed_at"]

    episode = store.get_episode(db, episode_id)
    assert episode is not None
    assert episode["source_url"] == "https://example.com/feed.xml"
    assert episode["source_name"] == "City Desk"
    assert episode["media_url"] == "https://cdn.example.com/abc.mp3"

    assert store.episode_by_key(db, "test:other") is None
    assert store.get_episode(db, episode_id + 100) is None
    windows = chunk_segments([make_segment(text, start) for start, text in HARBOUR], 20.0)
    assert counts(db) == {"episodes": 1, "segments": 4, "chunks": len(windows)}


def test_episode_without_source(db: sqlite_utils.Database) -> None:
    episode_id = save(db, HARBOUR, media("lonely"), source_id=None)
    episode = store.get_episode(db, episode_id)
    assert episode is not None
    assert episode["source_id"] is None
    assert episode["source_url"] is None


def test_source_id_for_creates_once(db: sqlite_utils.Database) -> None:
    first = store.source_id_for(db, "https://example.com/a.xml", "A")
    again = store.source_id_for(db, "https://example.com/a.xml", "renamed")
    other = store.source_id_for(db, "https://example.com/b.xml")
    assert first == again != other
    assert db.table("sources").count == 2
    assert db.table("sources").get(first)["name"] == "A"


def test_segments_round_trip_with_words(db: sqlite_utils.Database) -> None:
    words = (
        Word(1.234567, 1.5049, "Hello", 0.98765),
        Word(1.6, 2.0, "wörld", 0.5),
        Word(2.001, 2.449, "again", 1.0),
    )
    segments = (
        Segment(1.234567, 2.449, " Hello wörld again", words),
        Segment(3.0, 4.0, " no words", ()),
    )
    item = media("words")
    episode_id = store.save_episode(
        db,
        item,
        transcript_of(segments),
        chunk_segments(segments, 45.0),
        source_id=None,
        chunk_seconds=45.0,
    )
    back = store.get_segments(db, episode_id)
    # Text is rebuilt from the words; times are kept to the centisecond; no probabilities.
    assert [s.text for s in back] == ["Hello wörld again", "no words"]
    assert (back[0].start, back[0].end) == (1.23, 2.45)
    assert back[0].words == (
        Word(1.23, 1.5, "Hello"),
        Word(1.6, 2.0, "wörld"),
        Word(2.0, 2.45, "again"),
    )
    # A segment without words gets estimated ones spread over its span, by length.
    assert back[1].words == (Word(3.0, 3.33, "no"), Word(3.33, 4.0, "words"))
    assert (back[1].start, back[1].end) == (3.0, 4.0)
    assert store.get_segments(db, episode_id + 1) == []


def test_segments_without_text_are_not_stored(db: sqlite_utils.Database) -> None:
    segments = (
        make_segment("before the pause", 0.0),
        Segment(2.0, 3.0, "   ", ()),
        make_segment("after the pause", 3.0),
        Segment(60.0, 70.0, "", ()),  # a chunk of its own with nothing to search
    )
    episode_id = store.save_episode(
        db, media("gaps"), transcript_of(segments), chunk_segments(segments, 45.0),
        source_id=None, chunk_seconds=45.0,
    )  # fmt: skip
    back = store.get_segments(db, episode_id)
    assert back == [segments[0], segments[2]]
    assert db.table("chunks").count == 1
    assert found(db, "pause") == ["before the pause after the pause"]
    assert_fts_consistent(db)


def test_words_with_spaces_are_stored_as_one_word(db: sqlite_utils.Database) -> None:
    words = (Word(0.0, 0.5, "in"), Word(0.5, 1.2, " New York "), Word(1.2, 1.5, "today"))
    segments = (Segment(0.0, 1.5, "in New York today", words),)
    episode_id = store.save_episode(
        db, media("ny"), transcript_of(segments), chunk_segments(segments, 45.0),
        source_id=None, chunk_seconds=45.0,
    )  # fmt: skip
    back = store.get_segments(db, episode_id)
    assert [w.text for w in back[0].words] == ["in", "New\u00a0York", "today"]
    assert [(w.start, w.end) for w in back[0].words] == [(w.start, w.end) for w in words]
    # Both halves are searchable, and as a phrase.
    assert store.count_chunks(db, '"york"') == 1
    assert store.count_chunks(db, '"new york today"') == 1


def test_segments_come_back_in_order(db: sqlite_utils.Database) -> None:
    lines = [(i * 3.0, f"line number {i}") for i in range(25)]
    episode_id = save(db, lines, media("many"), window=10.0)
    assert db.table("chunks").count > 5
    back = store.get_segments(db, episode_id)
    assert back == [make_segment(text, start) for start, text in lines]
    # Each chunk decodes to a consecutive run of the episode's segments.
    rows = db.query(
        "select start, [end], text, timings from chunks where episode_id = ? order by idx",
        [episode_id],
    )
    runs = [store.chunk_segments(row) for row in rows]
    assert [s for run in runs for s in run] == back


@pytest.mark.parametrize(
    "ref",
    ["test:ep7", "ep7", "https://example.com/ep7", "https://cdn.example.com/ep7.mp3"],
)
def test_find_episode_by_key_media_id_and_urls(db: sqlite_utils.Database, ref: str) -> None:
    save(db, HARBOUR, media("other"))
    wanted = save(db, HARBOUR, media("ep7", media_url="https://cdn.example.com/ep7.mp3"))
    episode = store.find_episode(db, ref)
    assert episode is not None and episode["id"] == wanted


def test_find_episode_by_id(db: sqlite_utils.Database) -> None:
    first = save(db, HARBOUR, media("a"))
    second = save(db, HARBOUR, media("b"))
    assert store.find_episode(db, str(second))["media_id"] == "b"
    assert store.find_episode(db, str(first))["media_id"] == "a"
    assert store.find_episode(db, "999") is None
    assert store.find_episode(db, "nothing-like-this") is None
    assert store.find_episode(db, "") is None


def test_find_episode_numeric_media_id_without_such_row_id(db: sqlite_utils.Database) -> None:
    episode_id = save(db, HARBOUR, media("12345"))
    assert episode_id != 12345
    assert store.find_episode(db, "12345")["id"] == episode_id


# --- replacing, atomicity --------------------------------------------------------------


def test_saving_the_same_key_replaces_everything(db: sqlite_utils.Database) -> None:
    old_id = save(db, HARBOUR, media("ep1", title="Old title"))
    save(db, [(0.0, "completely unrelated library talk")], media("other"))
    new_lines = [(0.0, "Volunteers repaired the leaking roof."), (70.0, "Storm tonight.")]
    new_id = save(db, new_lines, media("ep1", title="New title"))

    assert new_id == old_id  # links to the episode keep working
    assert counts(db) == {"episodes": 2, "segments": 3, "chunks": 3}
    assert store.get_episode(db, new_id)["title"] == "New title"
    assert [s.text for s in store.get_segments(db, new_id)] == [t for _, t in new_lines]
    assert found(db, "harbour") == []
    assert found(db, "oyster") == []
    assert found(db, "volunteers") == ["Volunteers repaired the leaking roof."]
    assert found(db, "library") == ["completely unrelated library talk"]
    assert_fts_consistent(db)


def test_saving_the_same_key_three_times_leaves_one_copy(db: sqlite_utils.Database) -> None:
    for _ in range(3):
        add_fake_episode(db, HARBOUR)
    assert counts(db) == {"episodes": 1, "segments": 4, "chunks": 2}
    assert len(found(db, "harbour")) == 1
    assert_fts_consistent(db)


Breaker = Callable[[tuple[Segment, ...]], tuple[tuple[Segment, ...], list[Chunk]]]


# Each breaker lets the episode row be written and makes the chunks fail after it.


def broken_chunk(segments: tuple[Segment, ...]) -> tuple[tuple[Segment, ...], list[Chunk]]:
    # The good chunks are built; the last one can't pick its segments.
    chunks = chunk_segments(segments, 45.0)
    bad = Chunk(len(chunks), 0.0, 1.0, "broken", object(), 0)  # type: ignore[arg-type]
    return segments, [*chunks, bad]


def broken_chunk_end(segments: tuple[Segment, ...]) -> tuple[tuple[Segment, ...], list[Chunk]]:
    # Encodes fine; SQLite refuses to bind the end time.
    chunks = chunk_segments(segments, 45.0)
    bad = Chunk(len(chunks), 0.0, object(), "broken", 0, 0)  # type: ignore[arg-type]
    return segments, [*chunks, bad]


def with_last_chunk(segments: tuple[Segment, ...]) -> tuple[tuple[Segment, ...], list[Chunk]]:
    """segments' chunks, the last segment in a chunk of its own (it may not chunk_segments)."""
    chunks = chunk_segments(segments[:-1], 45.0)
    last = len(segments) - 1
    tail = Chunk(len(chunks), segments[-1].start, segments[-1].end, "broken", last, last)
    return segments, [*chunks, tail]


def broken_segment(segments: tuple[Segment, ...]) -> tuple[tuple[Segment, ...], list[Chunk]]:
    # A segment without words whose text can't be split into estimated words.
    return with_last_chunk((*segments, Segment(90.0, 91.0, object())))  # type: ignore[arg-type]


def broken_words(segments: tuple[Segment, ...]) -> tuple[tuple[Segment, ...], list[Chunk]]:
    # A word whose start is NaN can't be rounded to centiseconds, in the middle of a chunk.
    bad = Segment(90.0, 91.0, "odd", (Word(math.nan, 91.0, "odd"),))
    both = (*segments[:1], bad, *segments[1:])
    return both, chunk_segments(both, 1000.0)


def broken_word_text(segments: tuple[Segment, ...]) -> tuple[tuple[Segment, ...], list[Chunk]]:
    bad = Segment(90.0, 91.0, "odd", (Word(90.0, 91.0, object()),))  # type: ignore[arg-type]
    return with_last_chunk((*segments, bad))


def duplicate_chunk_late(segments: tuple[Segment, ...]
                         ) -> tuple[tuple[Segment, ...], list[Chunk]]:  # fmt: skip
    # Over 500 chunks, so whole batches of chunk rows (and their index entries) are written
    # before the duplicate chunk index breaks the unique constraint.
    many = (*segments, *(make_segment(f"filler {i}", 100.0 + i) for i in range(600)))
    chunks = chunk_segments(many, 0.5)
    assert len(chunks) > 600
    return many, [*chunks, chunks[-1]]


BREAKERS = [
    pytest.param(broken_chunk, TypeError, id="chunk-first-segment"),
    pytest.param(broken_chunk_end, store.StoreError, id="chunk-end"),
    pytest.param(broken_segment, AttributeError, id="segment-text"),
    pytest.param(broken_words, ValueError, id="word-nan"),
    pytest.param(broken_word_text, AttributeError, id="word-text"),
    pytest.param(duplicate_chunk_late, store.StoreError, id="late-duplicate-chunk"),
]


@pytest.mark.parametrize(("breaker", "error"), BREAKERS)
def test_failed_save_leaves_nothing(
    db: sqlite_utils.Database, breaker: Breaker, error: type[Exception]
) -> None:
    segments = tuple(make_segment(text, start) for start, text in HARBOUR)
    bad_segments, bad_chunks = breaker(segments)
    with pytest.raises(error):
        store.save_episode(
            db,
            media("ep1"),
            transcript_of(bad_segments),
            bad_chunks,
            source_id=None,
            chunk_seconds=45.0,
        )
    assert counts(db) == {"episodes": 0, "segments": 0, "chunks": 0}
    assert db.execute("select count(*) from chunks_fts").fetchone()[0] == 0
    assert store.episode_by_key(db, "test:ep1") is None
    assert found(db, "harbour") == []
    assert found(db, "broken") == []
    assert found(db, "filler") == []
    assert_fts_consistent(db)
    # The connection is usable afterwards and not stuck in a transaction.
    assert not db.conn.in_transaction
    save(db, HARBOUR, media("ep1"))
    assert len(found(db, "harbour")) == 1


@pytest.mark.parametrize(("breaker", "error"), BREAKERS)
def test_failed_resave_keeps_the_old_episode(
    db: sqlite_utils.Database, breaker: Breaker, error: type[Exception]
) -> None:
    old_id = save(db, HARBOUR, media("ep1", title="Old title"))
    before = counts(db)
    new = tuple(make_segment(t, s) for s, t in [(0.0, "library volunteers"), (3.0, "roof")])
    bad_segments, bad_chunks = breaker(new)
    with pytest.raises(error):
        store.save_episode(
            db,
            media("ep1", title="New title"),
            transcript_of(bad_segments),
            bad_chunks,
            source_id=None,
            chunk_seconds=45.0,
        )
    assert counts(db) == before
    assert store.get_episode(db, old_id)["title"] == "Old title"
    assert [s.text for s in store.get_segments(db, old_id)] == [t for _, t in HARBOUR]
    assert len(found(db, "harbour")) == 1
    assert found(db, "volunteers") == []
    assert found(db, "filler") == []
    assert_fts_consistent(db)
    assert not db.conn.in_transaction


def test_save_inside_an_outer_transaction_rolls_back_with_it(db: sqlite_utils.Database) -> None:
    with pytest.raises(RuntimeError, match="abort"), db.atomic():
        save(db, HARBOUR, media("ep1"))
        raise RuntimeError("abort the batch")
    assert counts(db) == {"episodes": 0, "segments": 0, "chunks": 0}
    assert found(db, "harbour") == []


# --- delete and rechunk ----------------------------------------------------------------


def test_delete_episode(db: sqlite_utils.Database) -> None:
    gone = add_fake_episode(db, HARBOUR, media_id="gone")
    kept = add_fake_episode(db, [(0.0, "harbour library")], media_id="kept")
    store.delete_episode(db, gone)
    assert store.get_episode(db, gone) is None
    assert store.get_segments(db, gone) == []
    assert counts(db) == {"episodes": 1, "segments": 1, "chunks": 1}
    assert found(db, "harbour") == ["harbour library"]
    assert found(db, "oyster") == []
    assert store.get_episode(db, kept) is not None
    # The source stays; deleting twice is harmless.
    assert db.table("sources").count == 1
    store.delete_episode(db, gone)
    assert_fts_consistent(db)


def test_rechunk_episode(db: sqlite_utils.Database) -> None:
    lines = [(i * 4.0, f"sentence {i} about the harbour") for i in range(30)]
    episode_id = add_fake_episode(db, lines, window=45.0)
    segments_before = store.get_segments(db, episode_id)
    wide = db.table("chunks").count
    store.replace_chunks(
        db, episode_id, segments_before, chunk_segments(segments_before, 10.0), 10.0
    )
    narrow = db.table("chunks").count
    assert narrow > wide
    assert narrow == len(chunk_segments(segments_before, 10.0))
    assert store.get_segments(db, episode_id) == segments_before
    assert store.get_episode(db, episode_id)["chunk_seconds"] == 10.0
    assert store.count_chunks(db, '"harbor"') == narrow
    rows = store.search_chunks(db, '"sentenc 0"')  # as analysed: English stems
    assert [[s.text for s in store.chunk_segments(r)] for r in rows] == [
        [f"sentence {i} about the harbour" for i in range(3)]
    ]
    assert_fts_consistent(db)


def test_failed_replace_chunks_keeps_the_old_chunks(db: sqlite_utils.Database) -> None:
    episode_id = add_fake_episode(db, HARBOUR)
    segments = store.get_segments(db, episode_id)
    before = list(db.query("select * from chunks order by id"))
    bad_segments, bad_chunks = broken_chunk(tuple(segments))
    with pytest.raises(TypeError):
        store.replace_chunks(db, episode_id, bad_segments, bad_chunks, 10.0)
    assert list(db.query("select * from chunks order by id")) == before
    assert store.get_segments(db, episode_id) == segments
    assert store.get_episode(db, episode_id)["chunk_seconds"] == 45.0
    assert len(found(db, "oyster")) == 1
    assert not db.conn.in_transaction
    assert_fts_consistent(db)


def test_rechunk_leaves_other_episodes_alone(db: sqlite_utils.Database) -> None:
    first = add_fake_episode(db, HARBOUR, media_id="one")
    add_fake_episode(db, [(0.0, "library talk")], media_id="two")
    segments = store.get_segments(db, first)
    store.replace_chunks(db, first, segments, chunk_segments(segments, 1000.0), 1e3)
    assert found(db, "library") == ["library talk"]
    assert store.count_chunks(db, '"harbor"') == 1


# --- searching -------------------------------------------------------------------------


@pytest.fixture
def library(db: sqlite_utils.Database) -> dict[str, int]:
    """Three episodes mentioning 'storm', from two sources, on three dates."""
    city = store.source_id_for(db, "https://example.com/city.xml", "City Desk")
    weather = store.source_id_for(db, "https://example.com/weather.xml", "Weather Hour")
    episodes = {
        # name: (source, published, text)
        "may1": (city, "2024-05-01", "storm over the harbour"),
        "may15": (weather, "2024-05-15", "storm and rain"),
        "jun1": (weather, "2024-06-01", "storm season ends"),
        "undated": (city, None, "storm without a date"),
    }
    ids = {
        name: save(db, [(0.0, text)], media(name, published=day), source_id=source)
        for name, (source, day, text) in episodes.items()
    }
    return {**ids, "city": city, "weather": weather}


def episodes_of(rows: list[dict[str, object]]) -> set[object]:
    return {r["episode_id"] for r in rows}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("https://example.com/city.xml", {"may1", "undated"}),
        ("City Desk", {"may1", "undated"}),
        ("Weather Hour", {"may15", "jun1"}),
        ("https://example.com/weather.xml", {"may15", "jun1"}),
        ("https://example.com/nowhere.xml", set()),
        (None, {"may1", "may15", "jun1", "undated"}),
    ],
)
def test_search_filters_by_source(
    db: sqlite_utils.Database, library: dict[str, int], source: str | None, expected: set[str]
) -> None:
    rows = store.search_chunks(db, '"storm"', source=source)
    assert episodes_of(rows) == {library[name] for name in expected}
    assert store.count_chunks(db, '"storm"', source=source) == len(expected)


def test_search_filters_by_source_id(db: sqlite_utils.Database, library: dict[str, int]) -> None:
    rows = store.search_chunks(db, '"storm"', source=str(library["weather"]))
    assert episodes_of(rows) == {library["may15"], library["jun1"]}
    assert store.search_chunks(db, '"storm"', source="999") == []


@pytest.mark.parametrize(
    ("date_from", "date_to", "expected"),
    [
        ("2024-05-15", None, {"may15", "jun1"}),
        (None, "2024-05-15", {"may1", "may15"}),
        ("2024-05-15", "2024-05-15", {"may15"}),
        ("2024-05-01", "2024-06-01", {"may1", "may15", "jun1"}),
        ("2024-05-02", "2024-05-31", {"may15"}),
        ("2024-06-02", None, set()),
        ("2024-05-16", "2024-05-14", set()),
    ],
)
def test_search_filters_by_inclusive_date_range(
    db: sqlite_utils.Database,
    library: dict[str, int],
    date_from: str | None,
    date_to: str | None,
    expected: set[str],
) -> None:
    rows = store.search_chunks(db, '"storm"', date_from=date_from, date_to=date_to)
    assert episodes_of(rows) == {library[name] for name in expected}
    count = store.count_chunks(db, '"storm"', date_from=date_from, date_to=date_to)
    assert count == len(expected)


def test_search_combines_source_and_dates(
    db: sqlite_utils.Database, library: dict[str, int]
) -> None:
    rows = store.search_chunks(db, '"storm"', source="Weather Hour", date_to="2024-05-31")
    assert episodes_of(rows) == {library["may15"]}


def test_search_row_fields(db: sqlite_utils.Database) -> None:
    episode_id = add_fake_episode(db, HARBOUR, title="Harbour report", window=20.0)
    rows = store.search_chunks(db, '"mayor"')
    assert len(rows) == 1
    row = rows[0]
    assert row["episode_id"] == episode_id
    assert row["title"] == "Harbour report"
    assert row["published"] == "2024-05-01"
    assert row["channel"] == "Test Show"
    assert "mayor" in row["text"]
    assert "first_segment" not in row and "last_segment" not in row
    segments = store.get_segments(db, episode_id)
    own = store.chunk_segments(row)
    first = segments.index(own[0])
    assert segments[first : first + len(own)] == own
    assert row["start"] == own[0].start
    assert row["end"] == own[-1].end
    assert row["text"] == " ".join(s.text for s in own)
    assert any("mayor" in s.text for s in own)


def test_snippet_marks_the_matched_word(db: sqlite_utils.Database) -> None:

    add_fake_episode(db, HARBOUR)
    snippet = search.search(db, "oyster").hits[0].snippet
    assert f"{store.MARK_START}oyster{store.MARK_END}" in snippet
    assert snippet.count(store.MARK_START) == snippet.count(store.MARK_END) == 1


def test_snippet_marks_stemmed_and_accented_matches(db: sqlite_utils.Database) -> None:

    add_fake_episode(db, [(0.0, "The dredging of the Café channel.")])
    snippet = search.search(db, "dredge cafe").hits[0].snippet
    assert f"{store.MARK_START}dredging{store.MARK_END}" in snippet
    assert (
        f"{store.MARK_START}dredging{store.MARK_END} of the {store.MARK_START}Café{store.MARK_END} channel."
        in snippet
    )


def test_search_ranks_and_pages(db: sqlite_utils.Database) -> None:
    add_fake_episode(db, [(0.0, "storm " * 5 + "storm")], media_id="many")
    add_fake_episode(db, [(0.0, "a storm and other words about boats")], media_id="one")
    rows = store.search_chunks(db, '"storm"')
    assert [r["rank"] for r in rows] == sorted(r["rank"] for r in rows)
    assert rows[0]["text"].startswith("storm storm")
    page2 = store.search_chunks(db, '"storm"', limit=1, offset=1)
    assert [r["chunk_id"] for r in page2] == [rows[1]["chunk_id"]]
    assert store.search_chunks(db, '"storm"', limit=1, offset=2) == []


def test_count_chunks(db: sqlite_utils.Database) -> None:
    lines = [(i * 50.0, f"part {i} harbour" if i % 2 else f"part {i}") for i in range(6)]
    add_fake_episode(db, lines)
    assert db.table("chunks").count == 6
    assert store.count_chunks(db, '"harbor"') == 3
    assert store.count_chunks(db, '"part"') == 6
    assert store.count_chunks(db, '"zeppelin"') == 0
    assert store.count_chunks(db, '"part" NOT "harbor"') == 3


def test_bad_fts_syntax_raises_sqlite_error(db: sqlite_utils.Database) -> None:
    add_fake_episode(db, HARBOUR)
    with pytest.raises(sqlite3.OperationalError):
        store.search_chunks(db, 'harbour AND "unterminated')


# --- segment_at ------------------------------------------------------------------------


def test_segment_at(db: sqlite_utils.Database) -> None:
    episode_id = add_fake_episode(db, [(0.0, "one two three"), (10.0, "four five"), (20.0, "six")])
    segments = store.get_segments(db, episode_id)
    assert store.segment_at(db, episode_id, 0.0) == segments[0]
    assert store.segment_at(db, episode_id, 0.5) == segments[0]
    # In the pause between segments: the next one.
    assert store.segment_at(db, episode_id, 5.0) == segments[1]
    assert store.segment_at(db, episode_id, 10.3) == segments[1]
    # At a segment's very end, it is over.
    assert store.segment_at(db, episode_id, segments[1].end) == segments[2]
    assert store.segment_at(db, episode_id, segments[2].end) is None
    assert store.segment_at(db, episode_id, 10_000.0) is None
    assert store.segment_at(db, episode_id + 1, 0.0) is None


def test_segment_at_across_chunks(db: sqlite_utils.Database) -> None:
    lines = [(i * 10.0, f"part {i}") for i in range(10)]
    episode_id = add_fake_episode(db, lines, window=15.0)
    assert db.table("chunks").count > 3
    segments = store.get_segments(db, episode_id)
    for seg, following in zip(segments, [*segments[1:], None], strict=True):
        assert store.segment_at(db, episode_id, seg.start) == seg
        assert store.segment_at(db, episode_id, seg.end) == following
        assert store.segment_at(db, episode_id, seg.end + 1.0) == following


def test_segment_at_after_the_last_word_of_a_chunk(db: sqlite_utils.Database) -> None:
    # Whisper's segment (and so the chunk) may end after its last word; cues are rounded.
    first = Segment(0.0, 10.0, "a pause", (Word(0.0, 1.0, "a"), Word(1.0, 9.0, "pause")))
    later = make_segment("later on", 60.0)
    segments = (first, later)
    episode_id = store.save_episode(
        db, media("pause"), transcript_of(segments), chunk_segments(segments, 45.0),
        source_id=None, chunk_seconds=45.0,
    )  # fmt: skip
    assert store.segment_at(db, episode_id, 9.5) == later


def test_stats(db: sqlite_utils.Database) -> None:
    add_fake_episode(db, HARBOUR, window=20.0)
    assert store.stats(db) == {"sources": 1, "episodes": 1, "chunks": 3}


def _save_with_speakers(db: sqlite_utils.Database, url: str, window: float = 45.0) -> int:
    segments = (
        replace(make_segment("Welcome back to the harbour show.", 1.0), speaker="Ana Ruiz"),
        replace(make_segment("Thanks, glad to be here.", 4.5), speaker="Ben Okafor"),
        make_segment("Our first caller asks about ferries.", 62.0),
    )
    item = MediaItem(source_url="https://ex.org/f.xml", extractor="Test", media_id=url,
                     title="Speakers", webpage_url=url)  # fmt: skip
    return store.save_episode(
        db, item, Transcript(segments, "en", 70.0, None), chunk_segments(segments, window),
        source_id=None, chunk_seconds=window,
    )  # fmt: skip


def test_speakers_are_kept_per_line_and_survive_rechunk(db: sqlite_utils.Database) -> None:
    from indexer import pipeline

    episode_id = _save_with_speakers(db, "https://ex.org/a.mp3")
    speakers = [s.speaker for s in store.get_segments(db, episode_id)]
    assert speakers == ["Ana Ruiz", "Ben Okafor", None]
    pipeline.rechunk(db, episode_id, 10.0)
    assert [s.speaker for s in store.get_segments(db, episode_id)] == speakers
    assert store.segment_at(db, episode_id, 5.0).speaker == "Ben Okafor"


@pytest.mark.parametrize(
    "url", ["https://www.youtube.com/watch?v=abcdefghijk", "https://youtu.be/abcdefghijk",
            "https://vimeo.com/123456", "https://ex.org/ep.mp3"],
)  # fmt: skip
def test_the_lines_view_shows_each_line_with_its_start_and_link(db, url: str) -> None:
    from indexer import links

    episode_id = _save_with_speakers(db, url, window=30.0)
    expected = store.get_segments(db, episode_id)
    rows = list(db.query("select * from lines where episode_id = ? order by start", [episode_id]))
    assert [r["text"] for r in rows] == [s.text for s in expected]
    assert [r["start"] for r in rows] == [round(s.start, 2) for s in expected]
    assert [r["speaker"] for r in rows] == [s.speaker for s in expected]
    if "youtu.be" in url:  # the app writes the watch?v= form; both open the same second
        assert [r["link"] for r in rows] == [f"{url}?t={int(s.start)}s" for s in expected]
    elif "vimeo" in url:  # the app writes #t=1m2s; Vimeo reads #t=62s the same
        assert [r["link"] for r in rows] == [f"{url}#t={int(s.start)}s" for s in expected]
    else:
        assert [r["link"] for r in rows] == [links.deep_link(url, s.start) for s in expected]


def test_m006_adds_lines_to_an_existing_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(store, "UPGRADE_PROGRESS", 1)  # say how far it got, even this small
    path = tmp_path / "m005.db"
    old = sqlite_utils.Database(path)
    store.migrations.apply(old, stop_before="m006_lines")
    source = store.open_db(":memory:")
    episode_id = add_fake_episode(source, HARBOUR)
    old.table("episodes").insert_all(source.query("select * from episodes"))
    old.table("chunks").insert_all(
        {k: v for k, v in row.items() if k not in ("lines", "search_text")}
        for row in source.query("select * from chunks")
    )
    old.close()
    with caplog.at_level("WARNING", logger="indexer.store"):
        db = store.open_db(path)
    assert "lines: 2/2 chunks" in caplog.text and "search_text: 2/2 chunks" in caplog.text
    texts = [r[0] for r in db.execute("select text from lines order by start")]
    assert texts == [s.text for s in store.get_segments(source, episode_id)]
    assert_fts_consistent(db)  # backfilling didn't touch the search index
    assert found(db, "harbour")


def test_line_offsets_cost_little_next_to_the_text(db: sqlite_utils.Database) -> None:
    # Lines of real transcripts average about 80 characters (a sentence of 14 words).
    sentence = "the council said on tuesday that the new ferry terminal would open in spring"
    episode_id = add_fake_episode(db, [(6.0 * n, f"{sentence} {n}.") for n in range(300)])
    text, extra = db.execute("select sum(length(text)), sum(length(lines)) from chunks "
                             "where episode_id = ?", [episode_id]).fetchone()  # fmt: skip
    assert extra < 0.15 * text


def test_datasette_metadata_describes_what_exists(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from indexer.cli import cli

    path = tmp_path / "podcasts.db"
    db = store.open_db(path)
    add_fake_episode(db, HARBOUR)
    result = CliRunner().invoke(cli, ["--db", str(path), "datasette-metadata"])
    assert result.exit_code == 0, result.output
    meta = json.loads(result.output)
    tables = meta["databases"]["podcasts"]["tables"]
    names = {r[0] for r in db.execute("select name from sqlite_master where type in "
                                      "('table', 'view')")}  # fmt: skip
    assert set(tables) <= names
    assert {"episodes", "chunks", "lines"} <= set(tables)
    for table, info in tables.items():
        columns = {r[1] for r in db.execute(f"pragma table_info([{table}])")}
        assert set(info.get("columns", {})) <= columns, table
    assert tables["chunks_fts_data"] == {"hidden": True}
