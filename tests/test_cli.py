"""The command line: help, links, errors (no model needed)."""

from __future__ import annotations

import json

import pytest
import sqlite_utils
from click.testing import CliRunner

from indexer import search, store
from indexer.cli import cli
from tests.conftest import add_fake_episode


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_every_command_has_help_with_an_example():
    for name, _command in cli.commands.items():
        result = invoke(name, "--help")
        assert result.exit_code == 0
        assert "Example" in result.output, name
        assert f"indexer {name}" in result.output or name == "demo", name


def test_version():
    assert invoke("--version").output.startswith("indexer, version")


@pytest.mark.parametrize(
    ("url", "time", "expected"),
    [
        (
            "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
            "42:30",
            "https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=2550s",
        ),
        (
            "https://youtu.be/dQw4w9WgXcQ",
            "1:02:03",
            "https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=3723s",
        ),
        ("https://vimeo.com/76979871", "42m30s", "https://vimeo.com/76979871#t=42m30s"),
        ("https://example.com/ep.mp3", "2550s", "https://example.com/ep.mp3#t=2550"),
    ],
)
def test_link(env, url, time, expected):
    result = invoke("link", url, time)
    assert result.exit_code == 0
    assert result.output.strip() == expected


def test_link_bad_time_is_one_line(env):
    result = CliRunner().invoke(cli, ["link", "https://youtu.be/dQw4w9WgXcQ", "4x:30"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: can't read '4x:30' as a time")
    assert len(result.output.strip().splitlines()) == 1


def test_link_quotes_an_indexed_youtube_episode_by_any_url_form(env):
    db = store.open_db(env["INDEXER_DB"])
    add_fake_episode(db, [(0.0, "Hello there."), (100.0, "The budget vote is today.")],
                     media_id="dQw4w9WgXcQ", url="https://www.youtube.com/watch?v=dQw4w9WgXcQ")  # fmt: skip
    result = invoke("link", "https://youtu.be/dQw4w9WgXcQ?si=abc", "1:41")
    lines = result.output.splitlines()
    assert lines[0] == "https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=101s"
    assert lines[1] == '"The budget vote is today." (Test episode, 0:01:40)'


def test_search_prints_title_time_snippet_and_link(env):
    db = store.open_db(env["INDEXER_DB"])
    add_fake_episode(db, [(0.0, "intro words"), (2545.0, "we talk about bicycle lanes")])
    result = invoke("search", "bicycle lanes")
    lines = result.output.splitlines()
    assert lines[0] == "1. Test episode  0:42:25"
    assert "bicycle lanes" in lines[1]
    assert lines[2].strip() == "https://www.youtube.com/watch?v=abcdefghijk&t=2545s"
    as_json = json.loads(invoke("search", "bicycle lanes", "--json").output)
    assert {"episode_id", "title", "start", "end", "text", "url"} <= set(as_json[0])
    assert isinstance(as_json[0]["start"], float)


def test_search_reports_bad_input_in_one_line(env):
    store.open_db(env["INDEXER_DB"])
    for args in (["🙂"], ["x", "--from", "yesterday"], ["NEAR(", "--advanced"]):
        result = CliRunner().invoke(cli, ["search", *args])
        assert result.exit_code == 1, args
        assert result.output.startswith("Error: ") and len(result.output.splitlines()) == 1


def test_search_no_matches_exit_zero(env):
    store.open_db(env["INDEXER_DB"])
    result = invoke("search", "nothing")
    assert result.exit_code == 0 and "No matches" in result.output


def test_rechunk_keeps_transcript(env):
    db = store.open_db(env["INDEXER_DB"])
    episode = add_fake_episode(db, [(float(t), f"sentence {t}.") for t in range(0, 120, 10)])
    assert db.table("chunks").count == 3
    result = invoke("rechunk", str(episode), "--chunk-seconds", "20")
    assert result.exit_code == 0
    db = store.open_db(env["INDEXER_DB"])
    assert db.table("chunks").count == 6 and len(store.get_segments(db, episode)) == 12


def test_optimize_moves_an_old_small_page_database_to_large_pages(env):
    path = env["INDEXER_DB"]
    old = sqlite_utils.Database(path)
    old.execute("PRAGMA page_size = 4096")  # as databases made before version 0.2 had
    store.migrations.apply(old)
    old.close()
    db = store.open_db(path)
    assert db.execute("PRAGMA page_size").fetchone()[0] == 4096
    first = add_fake_episode(db, [(float(t), f"harbour sentence {t}.") for t in range(0, 600, 5)])
    second = add_fake_episode(db, [(0.0, "second episode about oysters.")], media_id="ep2")
    store.delete_episode(db, first)
    db.close()
    reader = store.open_db(path, readonly=True)
    reader.execute("select count(*) from chunks").fetchone()
    busy = CliRunner().invoke(cli, ["optimize"])
    assert busy.exit_code == 1 and "in use" in busy.output and "Traceback" not in busy.output
    reader.close()
    result = invoke("optimize")
    assert result.exit_code == 0 and " MB -> " in result.output, result.output
    db = store.open_db(path)
    assert db.execute("PRAGMA page_size").fetchone()[0] == store.PAGE_SIZE
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert [h["episode_id"] for h in store.search_chunks(db, "oysters")] == [second]
    assert store.search_chunks(db, "harbour") == []


def test_optimize_adds_and_drops_the_prefix_index(env):
    db = store.open_db(env["INDEXER_DB"])
    add_fake_episode(db, [(float(t), f"the harbour sentence {t}.") for t in range(0, 300, 5)])
    assert not store.has_prefix_index(db)
    reader = store.open_db(env["INDEXER_DB"], readonly=True)  # a running server's connection
    assert reader.execute("select count(*) from chunks").fetchone()[0] > 0
    result = invoke("optimize", "--prefix-index")
    assert result.exit_code == 0 and "prefix index on" in result.output
    db = store.open_db(env["INDEXER_DB"])
    assert store.has_prefix_index(db) and db["chunks"].detect_fts() == "chunks_fts"
    with_index = [h["chunk_id"] for h in store.search_chunks(db, "harb*")]
    assert with_index and db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.execute("insert into chunks_fts(chunks_fts) values ('integrity-check')")
    # The index still follows new and deleted episodes.
    later = add_fake_episode(db, [(0.0, "harbinger of storms")], media_id="later")
    assert len(store.search_chunks(db, "harb*")) == len(with_index) + 1
    store.delete_episode(db, later)
    db.execute("insert into chunks_fts(chunks_fts) values ('integrity-check')")
    assert len(search.search(reader, "harb*", advanced=True).hits) == len(with_index)
    result = invoke("optimize", "--no-prefix-index")
    assert result.exit_code == 0 and "prefix index off" in result.output
    db = store.open_db(env["INDEXER_DB"])
    assert not store.has_prefix_index(db)
    assert [h["chunk_id"] for h in store.search_chunks(db, "harb*")] == with_index


def test_config_file_and_env_precedence(env, tmp_path, monkeypatch):
    cfg = tmp_path / "indexer.toml"
    cfg.write_text(f'db = "{tmp_path / "from-file.db"}"\n')
    monkeypatch.delenv("INDEXER_DB")
    invoke("--config", str(cfg), "episodes")  # creates nothing: read-only
    result = CliRunner().invoke(cli, ["--config", str(cfg), "episodes"])
    assert "from-file.db" in result.output
    monkeypatch.setenv("INDEXER_DB", str(tmp_path / "from-env.db"))
    result = CliRunner().invoke(cli, ["--config", str(cfg), "episodes"])
    assert "from-env.db" in result.output
