"""End to end: real yt-dlp over a local HTTP server, the real default model, real SQLite."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from indexer import export, pipeline, store
from indexer.cli import cli
from tests.conftest import MediaServer

pytestmark = pytest.mark.slow


def run(args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, args, env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def feed_env(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path) -> dict[str, str]:
    root = tmp_path_factory.mktemp("feeddb")
    return {
        "INDEXER_DB": str(root / "feed.db"),
        "INDEXER_CACHE_DIR": str(cache_dir),
        "INDEXER_MEDIA_DIR": str(root / "media"),
        "INDEXER_CONFIG": "",
    }


@pytest.fixture(scope="module")
def indexed_feed(media_server: MediaServer, feed_env: dict[str, str]) -> tuple[int, str, str]:
    """The test feed added once through the CLI."""
    return run(["add", media_server.url("feed.xml")], feed_env)


def test_add_feed_indexes_every_entry_with_metadata(indexed_feed, feed_env, recordings):
    code, out, err = indexed_feed
    assert code == 0, err
    assert out.count("indexed") == 3
    db = store.open_db(feed_env["INDEXER_DB"], readonly=True)
    rows = {r["title"]: r for r in db.query("select * from episodes")}
    assert set(rows) == {rec.title for rec in recordings.values()}
    harbour = rows["The harbour expansion"]
    assert harbour["channel"] == "City Desk"
    assert harbour["published"] == "2024-03-01"
    assert harbour["media_id"] == "urn:test:harbour"
    assert harbour["language"] == "en"
    assert harbour["model"] == "whisper-base"
    assert harbour["duration"] == pytest.approx(recordings["harbour"].lines[-1].end + 1.0, abs=1.0)
    assert harbour["webpage_url"].endswith("/harbour.mp3")


def test_search_lands_within_two_seconds_before_each_phrase(indexed_feed, feed_env, recordings):
    assert indexed_feed[0] == 0
    checked, good, misses = 0, 0, []
    for rec in recordings.values():
        for line in rec.lines:
            phrase = " ".join(line.text.rstrip(".").split()[:4])
            code, out, err = run(["search", phrase, "--json", "--limit", "1"], feed_env)
            assert code == 0, err
            hits = json.loads(out)
            checked += 1
            ok = (
                hits
                and hits[0]["title"] == rec.title
                and line.start - 2.0 <= hits[0]["start"] <= line.start + 0.3
            )
            good += bool(ok)
            if not ok:
                misses.append((phrase, line.start, hits[0] if hits else None))
    assert checked == 10
    assert good / checked >= 0.9, misses


def test_hit_links_to_the_second_and_is_not_partial(indexed_feed, feed_env, recordings):
    code, out, _ = run(["search", '"oyster beds"', "--json"], feed_env)
    hit = json.loads(out)[0]
    line = recordings["harbour"].lines[3]
    assert hit["partial"] is False
    assert hit["url"] == f"{hit['webpage_url']}#t={int(hit['start'])}"
    assert line.start - 0.3 <= hit["start"] + 2.0  # the words are late in the line
    assert hit["start"] <= line.end


def test_adding_again_does_not_duplicate_or_fetch_media(indexed_feed, media_server, feed_env):
    before = len(media_server.requests)
    code, out, err = run(["add", media_server.url("feed.xml")], feed_env)
    assert code == 0, err
    assert [line.split()[0] for line in out.splitlines()] == ["skipped"] * 3
    assert media_server.requests[before:] == ["/feed.xml"]
    db = store.open_db(feed_env["INDEXER_DB"], readonly=True)
    assert db.execute("select count(*) from episodes").fetchone()[0] == 3


def test_export_formats_round_trip(indexed_feed, feed_env):
    db = store.open_db(feed_env["INDEXER_DB"], readonly=True)
    episode_id = db.execute("select id from episodes where title like 'Storm%'").fetchone()[0]
    segments = store.get_segments(db, episode_id)
    for fmt in export.FORMATS:
        code, out, err = run(["export", str(episode_id), "--format", fmt], feed_env)
        assert code == 0, err
        if fmt in ("srt", "vtt"):
            parsed = export.parse_transcript(out, fmt)
            assert [s.text for s in parsed] == [s.text for s in segments]
    code, out, _ = run(["export", str(episode_id), "--format", "json"], feed_env)
    doc = json.loads(out)
    assert doc["version"] == "1.0.0"
    assert {"startTime", "endTime", "body"} <= set(doc["segments"][0])
    code, out, err = run(["export", "9999"], feed_env)
    assert code == 1 and "no episode" in err


def test_link_prints_deep_link_and_the_quote(indexed_feed, feed_env, recordings):
    db = store.open_db(feed_env["INDEXER_DB"], readonly=True)
    url = db.execute("select webpage_url from episodes where title like 'Storm%'").fetchone()[0]
    line = recordings["weather"].lines[1]
    code, out, err = run(["link", url, f"0:{int(line.start + 1):02d}"], feed_env)
    assert code == 0, err
    first, quote = out.splitlines()
    assert first == f"{url}#t={int(line.start + 1)}"
    assert "Forecasters" in quote or "heavy rain" in quote.lower()
    assert "Storm season" in quote


def test_bad_inputs_fail_one_by_one_and_store_nothing(media_server, recordings, env, tmp_path):
    missing = tmp_path / "nope.mp3"
    folder = tmp_path / "a-folder"
    folder.mkdir()
    targets = [
        "http://127.0.0.1:9/unreachable.mp3",
        media_server.url("page.html"),
        media_server.url("notes.txt"),
        media_server.url("corrupt.mp3"),
        media_server.url("empty.mp3"),
        media_server.url("silence.wav"),
        media_server.url("library.ogg"),
        str(missing),
        str(folder),
        "ftp://",
    ]
    code, out, err = run(["add", *targets], env)
    assert code == 1
    assert "Traceback" not in out + err
    failures = [line for line in err.splitlines() if line.startswith("failed")]
    assert len(failures) == len(targets) - 1, err
    for line in failures:
        assert ": " in line and len(line) < 300
    assert "no speech" in err
    assert "empty" in err
    assert "no such file" in err
    assert "unsupported URL" in err
    assert out.count("indexed") == 1
    db = store.open_db(env["INDEXER_DB"], readonly=True)
    assert [r["title"] for r in db.query("select title from episodes")] == ["library"]
    assert db.execute("select count(*) from chunks").fetchone()[0] > 0


def test_local_file_add_search_and_force(recordings, env):
    path = str(recordings["weather"].path)
    code, out, err = run(["add", path, "--language", "en"], env)
    assert code == 0, err
    code, out, _ = run(["search", "garden furniture", "--json"], env)
    hit = json.loads(out)[0]
    assert hit["url"].startswith("file://") and "#t=" in hit["url"]
    code, out, _ = run(["add", path], env)
    assert "skipped" in out
    code, out, err = run(["add", path, "--force", "--chunk-seconds", "5"], env)
    assert code == 0 and "indexed" in out, err
    db = store.open_db(env["INDEXER_DB"], readonly=True)
    assert db.execute("select count(*) from episodes").fetchone()[0] == 1
    assert db.execute("select count(*) from chunks").fetchone()[0] >= 3


def test_disk_full_stores_nothing(recordings, settings):
    db = store.open_db(settings.db)
    pages = db.execute("pragma page_count").fetchone()[0]
    # SQLite's own "database or disk is full" error, as on a full disk.
    db.execute(f"pragma max_page_count = {pages}")
    item = pipeline.download.local_item(str(recordings["library"].path))
    item.description = "Long show notes. " * 10_000  # needs pages the database can't get
    result = pipeline.index_item(db, item, settings)
    assert result.status == "failed"
    assert "disk is full" in (result.error or "")
    assert db.execute("select count(*) from episodes").fetchone()[0] == 0
    assert db.execute("select count(*) from chunks_fts").fetchone()[0] == 0


def test_unwritable_database_is_one_clear_line(env):
    code, out, err = run(["--db", "/proc/no/such/dir/x.db", "add", "whatever.mp3"], env)
    assert code == 1
    assert err.startswith("Error: can't open database") and len(err.splitlines()) == 1


def test_search_without_database_says_what_to_do(tmp_path, env):
    code, _, err = run(["--db", str(tmp_path / "none.db"), "search", "x"], env)
    assert code == 1 and "indexer add" in err
