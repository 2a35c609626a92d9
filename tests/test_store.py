from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlite_utils

from indexer import store
from indexer.chunk import chunk_segments
from indexer.models import Chunk, MediaItem, Segment, Transcript, Word
from tests.conftest import add_fake_episode, make_segment

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
    return {t: db.table(t).count for t in ("episodes", "segments", "chunks")}


def found(db: sqlite_utils.Database, word: str) -> list[str]:
    """Texts of the chunks whose full-text index holds word."""
    return [row["text"] for row in store.search_chunks(db, f'"{word}"')]


def assert_fts_consistent(db: sqlite_utils.Database) -> None:
    # FTS5's own check that the index matches the chunks table it indexes.
    db.execute("insert into chunks_fts(chunks_fts) values ('integrity-check')")
    fts_rows = db.execute("select count(*) from chunks_fts").fetchone()[0]
    assert fts_rows == db.table("chunks").count


# --- opening and migrations -------------------------------------------------------------


MIGRATIONS = ["m001_initial", "m002_follow_and_chapters"]


def test_migrations_create_the_schema(db: sqlite_utils.Database) -> None:
    names = set(db.table_names())
    assert {"sources", "episodes", "segments", "chunks", "chunks_fts"} <= names
    assert db["chunks"].detect_fts() == "chunks_fts"
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
    with pytest.raises(sqlite3.IntegrityError):
        db["segments"].insert({"episode_id": 999, "idx": 0, "start": 0, "end": 1, "text": "x"})


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
    assert [s.text for s in back] == [" Hello wörld again", " no words"]
    assert (back[0].start, back[0].end) == (1.234567, 2.449)
    assert back[0].words == (
        Word(1.23, 1.5, "Hello", 0.99),
        Word(1.6, 2.0, "wörld", 0.5),
        Word(2.0, 2.45, "again", 1.0),
    )
    assert back[1].words == ()
    assert store.get_segments(db, episode_id + 1) == []


def test_segments_come_back_in_order(db: sqlite_utils.Database) -> None:
    lines = [(i * 3.0, f"line number {i}") for i in range(25)]
    episode_id = save(db, lines, media("many"))
    assert [s.text for s in store.get_segments(db, episode_id)] == [t for _, t in lines]
    middle = store.segment_range(db, episode_id, 10, 12)
    assert [s.text for s in middle] == ["line number 10", "line number 11", "line number 12"]


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


def broken_chunk(segments: tuple[Segment, ...]) -> tuple[tuple[Segment, ...], list[Chunk]]:
    # The segments insert fine; the chunk insert fails after them.
    chunks = chunk_segments(segments, 45.0)
    bad = Chunk(len(chunks), 0.0, 1.0, "broken", object(), 0)  # type: ignore[arg-type]
    return segments, [*chunks, bad]


def broken_segment(segments: tuple[Segment, ...]) -> tuple[tuple[Segment, ...], list[Chunk]]:
    # The episode row is written; the last segment's text can't be stored.
    bad = (*segments, Segment(90.0, 91.0, object()))  # type: ignore[arg-type]
    return bad, chunk_segments(segments, 45.0)


def broken_words(segments: tuple[Segment, ...]) -> tuple[tuple[Segment, ...], list[Chunk]]:
    # A word that can't be serialised to JSON, in the middle of the segments.
    bad = Segment(90.0, 91.0, "odd", (Word(90.0, 91.0, object()),))  # type: ignore[arg-type]
    return (*segments[:2], bad, *segments[2:]), chunk_segments(segments, 45.0)


BREAKERS = [
    pytest.param(broken_chunk, store.StoreError, id="chunk"),
    pytest.param(broken_segment, store.StoreError, id="segment-text"),
    pytest.param(broken_words, TypeError, id="word-json"),
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
    assert store.episode_by_key(db, "test:ep1") is None
    assert found(db, "harbour") == []
    assert found(db, "broken") == []
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
    assert_fts_consistent(db)


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
    store.rechunk_episode(db, episode_id, chunk_segments(segments_before, 10.0), 10.0)
    narrow = db.table("chunks").count
    assert narrow > wide
    assert narrow == len(chunk_segments(segments_before, 10.0))
    assert store.get_segments(db, episode_id) == segments_before
    assert store.get_episode(db, episode_id)["chunk_seconds"] == 10.0
    assert store.count_chunks(db, '"harbour"') == narrow
    rows = store.search_chunks(db, '"sentence 0"')
    assert [(r["first_segment"], r["last_segment"]) for r in rows] == [(0, 2)]
    assert_fts_consistent(db)


def test_rechunk_leaves_other_episodes_alone(db: sqlite_utils.Database) -> None:
    first = add_fake_episode(db, HARBOUR, media_id="one")
    add_fake_episode(db, [(0.0, "library talk")], media_id="two")
    store.rechunk_episode(db, first, chunk_segments(store.get_segments(db, first), 1000.0), 1e3)
    assert found(db, "library") == ["library talk"]
    assert store.count_chunks(db, '"harbour"') == 1


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
    segments = store.get_segments(db, episode_id)
    first, last = row["first_segment"], row["last_segment"]
    assert row["start"] == segments[first].start
    assert row["end"] == segments[last].end
    assert any("mayor" in s.text for s in segments[first : last + 1])


def test_snippet_marks_the_matched_word(db: sqlite_utils.Database) -> None:
    add_fake_episode(db, HARBOUR)
    snippet = store.search_chunks(db, '"oyster"')[0]["snippet"]
    assert f"{store.MARK_START}oyster{store.MARK_END}" in snippet
    assert snippet.count(store.MARK_START) == snippet.count(store.MARK_END) == 1


def test_snippet_marks_stemmed_and_accented_matches(db: sqlite_utils.Database) -> None:
    add_fake_episode(db, [(0.0, "The dredging of the Café channel")])
    snippet = store.search_chunks(db, '"dredge" AND "cafe"')[0]["snippet"]
    assert f"{store.MARK_START}dredging{store.MARK_END}" in snippet
    assert f"{store.MARK_START}Café{store.MARK_END}" in snippet


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
    assert store.count_chunks(db, '"harbour"') == 3
    assert store.count_chunks(db, '"part"') == 6
    assert store.count_chunks(db, '"zeppelin"') == 0
    assert store.count_chunks(db, '"part" NOT "harbour"') == 3


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


def test_stats(db: sqlite_utils.Database) -> None:
    add_fake_episode(db, HARBOUR, window=20.0)
    assert store.stats(db) == {"sources": 1, "episodes": 1, "segments": 4, "chunks": 3}
