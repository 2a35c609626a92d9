"""The command line: help, links, errors (no model needed)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import pty
import subprocess
import sys
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlite_utils
from click.testing import CliRunner

from indexer import cli as cli_module
from indexer import search, store
from indexer.cli import cli
from tests.conftest import add_fake_episode
from tests.speech import RATE, write_wav


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
    assert [h["episode_id"] for h in store.search_chunks(db, "oyster")] == [second]
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


# --- CLI conventions: --db/--config anywhere, NO_COLOR, --json, --verbose ---------------------


def test_every_command_takes_db_and_config_after_its_name():
    for name, command in cli.commands.items():
        options = {opt for p in command.params for opt in getattr(p, "opts", [])}
        assert {"--db", "--config"} <= options, name


def test_db_after_the_command_wins_over_the_group(env, tmp_path):
    db = store.open_db(tmp_path / "other.db")
    add_fake_episode(db, [(0.0, "we talk about bicycle lanes")], title="Other episode")
    other = str(tmp_path / "other.db")
    listed = json.loads(invoke("episodes", "--db", other, "--json").stdout)
    assert [e["title"] for e in listed] == ["Other episode"]
    hits = json.loads(invoke("search", "--db", other, "bicycle", "--json").stdout)
    assert [h["title"] for h in hits] == ["Other episode"]
    missing = str(tmp_path / "missing.db")
    hits = json.loads(invoke("--db", missing, "search", "bicycle", "--db", other, "--json").stdout)
    assert len(hits) == 1
    result = CliRunner().invoke(cli, ["--db", other, "episodes", "--db", missing])
    assert result.exit_code == 1 and "missing.db" in result.stderr


def test_config_after_the_command(env, tmp_path, monkeypatch):
    cfg = tmp_path / "indexer.toml"
    cfg.write_text(f'db = "{tmp_path / "from-file.db"}"\n')
    monkeypatch.delenv("INDEXER_DB")
    result = CliRunner().invoke(cli, ["episodes", "--config", str(cfg)])
    assert result.exit_code == 1 and "from-file.db" in result.stderr


def _colour_search(env: dict[str, str], **extra_env: str) -> str:
    db = store.open_db(env["INDEXER_DB"])
    add_fake_episode(db, [(0.0, "we talk about bicycle lanes")])
    # color=True makes CliRunner behave like a terminal.
    return CliRunner(env=extra_env).invoke(cli, ["search", "bicycle"], color=True).stdout


def test_search_highlights_on_a_terminal(env):
    assert "\x1b[" in _colour_search(env)
    assert "\x1b[" in _colour_search(env, NO_COLOR="")  # empty means unset


def test_no_color_turns_highlighting_off(env):
    out = _colour_search(env, NO_COLOR="1")
    assert "\x1b" not in out and "bicycle" in out


def _run_indexer(args: list[str], *, on_terminal: bool, **extra_env: str) -> str:
    """Run `python -m indexer` in a subprocess, stdout on a pseudo-terminal or a pipe."""
    environ = {**os.environ, **extra_env}
    cmd = [sys.executable, "-m", "indexer", *args]
    if not on_terminal:
        return subprocess.run(cmd, capture_output=True, text=True, env=environ, timeout=120,
                              check=True).stdout  # fmt: skip
    master, slave = pty.openpty()
    try:
        subprocess.run(cmd, stdout=slave, stderr=subprocess.DEVNULL, env=environ, timeout=120,
                       check=True)  # fmt: skip
    finally:
        os.close(slave)
    chunks = []
    with contextlib.suppress(OSError):  # EIO once everything is read
        while data := os.read(master, 4096):
            chunks.append(data)
    os.close(master)
    return b"".join(chunks).decode()


def test_colour_only_on_a_terminal_without_no_color(env):
    db = store.open_db(env["INDEXER_DB"])
    add_fake_episode(db, [(0.0, "we talk about bicycle lanes")])
    assert "\x1b[" in _run_indexer(["search", "bicycle"], on_terminal=True)
    for out in (
        _run_indexer(["search", "bicycle"], on_terminal=True, NO_COLOR="1"),
        _run_indexer(["search", "bicycle"], on_terminal=False),
    ):
        assert "\x1b" not in out and "bicycle" in out


def test_commands_that_report_have_json():
    with_json = {
        name for name, c in cli.commands.items() if any(p.name == "as_json" for p in c.params)
    }
    assert with_json == {"add", "search", "link", "episodes", "rechunk", "optimize", "follow",
                         "unfollow", "sources", "refresh", "correct", "embed", "jobs"}  # fmt: skip


def test_json_output_of_each_command(env, monkeypatch):
    db = store.open_db(env["INDEXER_DB"])
    episode = add_fake_episode(db, [(float(t), f"sentence {t}.") for t in range(0, 120, 10)],
                               media_id="dQw4w9WgXcQ",
                               url="https://www.youtube.com/watch?v=dQw4w9WgXcQ")  # fmt: skip
    monkeypatch.setattr("indexer.download.probe_source", lambda url: ("feed", "City Desk"))

    def run_json(*args: str) -> Any:
        result = invoke(*args, "--json")
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    link = run_json("link", "https://youtu.be/dQw4w9WgXcQ", "0:20")
    assert link["link"] == "https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=20s"
    assert link["seconds"] == 20.0 and link["time"] == "0:00:20"
    assert link["quote"]["text"] == "sentence 20." and link["quote"]["episode_id"] == episode
    assert run_json("link", "https://example.com/unknown.mp3", "10")["quote"] is None
    follow = run_json("follow", "https://example.com/feed.rss", "--name", "citydesk")
    assert follow == {"id": follow["id"], "url": "https://example.com/feed.rss",
                      "name": "citydesk", "kind": "feed"}  # fmt: skip
    assert [s["id"] for s in run_json("sources")] == [follow["id"]]
    unfollow = run_json("unfollow", "citydesk")
    assert unfollow == {"id": follow["id"], "url": "https://example.com/feed.rss",
                        "name": "citydesk"}  # fmt: skip
    rechunk = run_json("rechunk", str(episode), "--chunk-seconds", "20")
    assert rechunk == {"chunk_seconds": 20.0, "episodes": [{"episode_id": episode, "chunks": 6}]}
    optimize = run_json("optimize")
    assert set(optimize) == {"bytes_before", "bytes_after", "prefix_index"}
    assert optimize["bytes_after"] > 0 and optimize["prefix_index"] is None
    assert [e["id"] for e in run_json("episodes")] == [episode]


def test_add_json_is_one_document_and_failures_go_to_stderr(env, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("not audio at all\n" * 50)
    result = CliRunner().invoke(cli, ["add", str(notes), str(tmp_path / "gone.mp3"), "--json"])
    assert result.exit_code == 1
    summary = json.loads(result.stdout)
    assert {k: summary[k] for k in ("indexed", "skipped", "failed")} == {
        "indexed": 0, "skipped": 0, "failed": 2}  # fmt: skip
    assert [i["status"] for i in summary["items"]] == ["failed", "failed"]
    assert all(i["error"] for i in summary["items"])
    assert len(result.stderr.strip().splitlines()) == 2


@pytest.mark.parametrize(
    "args",
    [
        ["link", "https://youtu.be/dQw4w9WgXcQ", "4x:30"],
        ["unfollow", "nobody"],
        ["rechunk", "99"],
        ["search", "NEAR(", "--advanced"],
    ],
)
def test_json_errors_are_one_line_on_stderr(env, args):
    store.open_db(env["INDEXER_DB"])
    result = CliRunner().invoke(cli, [*args, "--json"])
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.startswith("Error: ") and len(result.stderr.splitlines()) == 1


def test_rechunk_checks_every_id_before_changing_anything(env):
    db = store.open_db(env["INDEXER_DB"])
    episode = add_fake_episode(db, [(float(t), f"sentence {t}.") for t in range(0, 120, 10)])
    result = CliRunner().invoke(cli, ["rechunk", str(episode), "99", "--chunk-seconds", "20"])
    assert result.exit_code == 1 and "no episode 99" in result.stderr
    assert store.open_db(env["INDEXER_DB"]).table("chunks").count == 3


def test_verbose_shows_ytdlp_log_on_stderr_only_while_asked(env, monkeypatch):
    def probe(url: str) -> tuple[str, str]:
        logging.getLogger(cli_module.YTDLP_LOGGER).debug("[generic] Extracting URL: %s", url)
        logging.getLogger(cli_module.YTDLP_LOGGER).warning("slow server")
        return "ytdlp", "A playlist"

    monkeypatch.setattr("indexer.download.probe_source", probe)
    logger = logging.getLogger(cli_module.YTDLP_LOGGER)
    before = (logger.level, logger.propagate, list(logger.handlers))
    for args in (["follow", "https://example.com/a", "-v"], ["-v", "follow", "https://e.com/b"],
                 ["--verbose", "follow", "https://e.com/c", "--verbose", "--json"]):  # fmt: skip
        result = invoke(*args)
        assert result.exit_code == 0
        assert "[generic] Extracting URL: https://e" in result.stderr, args
        assert "WARNING: slow server" in result.stderr
        assert "Extracting" not in result.stdout
        assert (logger.level, logger.propagate, list(logger.handlers)) == before
    quiet = invoke("follow", "https://example.com/d")
    assert "Extracting" not in quiet.output


@pytest.fixture
def wav_server(tmp_path: Path) -> Iterator[str]:
    """A local HTTP server with one short wav file; yields its URL."""
    root = tmp_path / "www"
    root.mkdir()
    write_wav(root / "tone.wav", (np.sin(np.arange(RATE) / 10) * 3000).astype(np.int16))

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/tone.wav"
    httpd.shutdown()
    httpd.server_close()


def test_verbose_follow_shows_real_ytdlp_messages(env, wav_server):
    verbose = invoke("follow", wav_server, "--verbose", "--json")
    assert verbose.exit_code == 0
    assert json.loads(verbose.stdout)["kind"] == "ytdlp"
    assert f"[generic] Extracting URL: {wav_server}" in verbose.stderr
    quiet = invoke("follow", wav_server, "--db", str(Path(env["INDEXER_DB"]).with_name("q.db")))
    assert quiet.exit_code == 0 and "[generic]" not in quiet.output
