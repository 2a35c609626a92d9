"""Following feeds and cron refresh: only new work, publisher transcripts, failures, kills, locks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from click.testing import CliRunner

from indexer import store
from indexer.cli import cli
from tests.conftest import MediaServer, Recording

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent


def run(args: list[str], env: dict[str, str]):
    return CliRunner().invoke(cli, args, env=env, catch_exceptions=False)


def item_xml(n: int, title: str, url: str, *, guid: str | None = None, extra: str = "") -> str:
    date = format_datetime(datetime(2024, 4, 1 + n, 8, tzinfo=UTC))
    guid_xml = f"<guid>{escape(guid)}</guid>" if guid else ""
    return (f"<item><title>{escape(title)}</title>{guid_xml}<pubDate>{date}</pubDate>"
            f'<enclosure url="{escape(url)}" type="audio/mpeg" length="1"/>{extra}</item>')  # fmt: skip


def write_feed(server: MediaServer, name: str, items: list[str], stamp: float) -> str:
    """Write a feed file with a given modification time (the server's Last-Modified)."""
    path = server.root / name
    path.write_text(
        '<?xml version="1.0"?><rss version="2.0" '
        'xmlns:podcast="https://podcastindex.org/namespace/1.0"><channel>'
        f"<title>Feed {name}</title>{''.join(items)}</channel></rss>"
    )
    os.utime(path, (stamp, stamp))
    return server.url(name)


def media_requests(server: MediaServer, since: int) -> list[str]:
    return [r for r in server.requests[since:] if not r.endswith(".xml")]


def test_refresh_indexes_only_what_is_new(media_server, recordings, env):
    recs: list[Recording] = list(recordings.values())
    urls = [media_server.url(r.path.name) for r in recs]
    items = [
        item_xml(i, r.title, u, guid=f"grow-{i}")
        for i, (r, u) in enumerate(zip(recs, urls, strict=False))
    ]
    feed = write_feed(media_server, "growing.xml", items[:2], time.time() - 100)
    assert run(["follow", feed, "--name", "growing"], env).exit_code == 0

    first = run(["refresh"], env)
    assert first.exit_code == 0, first.output
    assert first.output.startswith("refresh: 1 sources, 2 new, 0 failed")
    assert len(first.output.splitlines()) == 1  # no TTY: one summary line

    write_feed(media_server, "growing.xml", items, time.time() - 50)
    before = len(media_server.requests)
    second = run(["refresh", "--json"], env)
    summary = json.loads(second.output)
    assert summary["new"] == 1 and summary["failed"] == 0
    assert [i["title"] for i in summary["details"][0]["items"]] == [recs[2].title]
    assert all(recs[2].path.name in r for r in media_requests(media_server, before))

    before = len(media_server.requests)
    third = run(["refresh", "--json"], env)
    summary = json.loads(third.output)
    assert summary["new"] == 0 and summary["unchanged"] == 1
    assert media_server.requests[before:] == ["/growing.xml"]  # one conditional GET, a 304

    db = store.open_db(env["INDEXER_DB"], readonly=True)
    assert db.execute("select count(*) from episodes").fetchone()[0] == 3
    # `add` of the same feed keys entries the same way: nothing new, nothing fetched.
    before = len(media_server.requests)
    again = run(["add", feed], env)
    assert [line.split()[0] for line in again.stdout.splitlines()] == ["skipped"] * 3
    assert media_requests(media_server, before) == []


def test_limit_and_since_take_the_newest(media_server, recordings, env):
    recs = list(recordings.values())
    items = [item_xml(i, r.title, media_server.url(r.path.name), guid=f"lim-{i}")
             for i, r in enumerate(recs)]  # fmt: skip
    feed = write_feed(media_server, "limits.xml", items, time.time() - 100)
    run(["follow", feed], env)
    result = run(["refresh", "--limit", "1", "--json"], env)
    titles = [i["title"] for i in json.loads(result.output)["details"][0]["items"]]
    assert titles == [recs[-1].title]  # the newest
    write_feed(media_server, "limits.xml", items, time.time() - 50)
    result = run(["refresh", "--since", "2024-04-02", "--json"], env)
    titles = [i["title"] for i in json.loads(result.output)["details"][0]["items"]]
    assert titles == [recs[1].title]  # 2024-04-02; the 04-01 one is too old
    bad = CliRunner().invoke(cli, ["refresh", "--since", "last week"], env=env)
    assert bad.exit_code == 1 and "YYYY-MM-DD" in bad.output


VTT = """WEBVTT

00:00:01.000 --> 00:00:04.000
Welcome back to the transit hour.

00:00:30.000 --> 00:00:34.000
The new tram line to the airport opens in May.
"""

CHAPTERS = json.dumps(
    {
        "version": "1.2.0",
        "chapters": [{"startTime": 0, "title": "Intro"}, {"startTime": 25, "title": "Trams"}],
    }  # fmt: skip
)


def test_publisher_transcript_is_used_instead_of_transcribing(media_server, env):
    (media_server.root / "transit.vtt").write_text(VTT)
    (media_server.root / "transit-chapters.json").write_text(CHAPTERS)
    extra = (f'<podcast:transcript url="{media_server.url("transit.vtt")}" type="text/vtt"/>'
             f'<podcast:chapters url="{media_server.url("transit-chapters.json")}" '
             'type="application/json+chapters"/>')  # fmt: skip
    # The enclosure does not even exist: nothing may be downloaded or transcribed.
    items = [item_xml(0, "Transit hour", media_server.url("missing-audio.mp3"),
                      guid="transit-1", extra=extra)]  # fmt: skip
    feed = write_feed(media_server, "transit.xml", items, time.time() - 100)
    run(["follow", feed], env)
    before = len(media_server.requests)
    result = run(["refresh"], env)
    assert result.exit_code == 0, result.output
    assert "/missing-audio.mp3" not in media_server.requests[before:]
    db = store.open_db(env["INDEXER_DB"], readonly=True)
    episode = db.execute("select transcript_origin, transcript_url, model from episodes").fetchone()
    assert episode == ("publisher", media_server.url("transit.vtt"), None)
    hit = json.loads(run(["search", "tram line airport", "--json"], env).output)[0]
    assert hit["chapter"] == "Trams"
    assert 30.0 <= hit["start"] + 0.5 <= 34.0
    assert hit["url"] == f"{media_server.url('missing-audio.mp3')}#t={int(hit['start'])}"


def test_transcribe_flag_ignores_the_publisher_transcript(media_server, recordings, env):
    rec = recordings["weather"]
    (media_server.root / "wrong.vtt").write_text(VTT)
    extra = f'<podcast:transcript url="{media_server.url("wrong.vtt")}" type="text/vtt"/>'
    items = [item_xml(0, rec.title, media_server.url(rec.path.name), guid="forced", extra=extra)]
    feed = write_feed(media_server, "forced.xml", items, time.time() - 100)
    run(["follow", feed], env)
    assert run(["refresh", "--transcribe"], env).exit_code == 0
    db = store.open_db(env["INDEXER_DB"], readonly=True)
    assert db.execute("select transcript_origin, model from episodes").fetchone() == (
        "whisper",
        "whisper-base",
    )


def test_failed_items_are_recorded_and_retried_with_backoff(media_server, recordings, env):
    rec = recordings["library"]
    items = [
        item_xml(0, "Broken", media_server.url("corrupt.mp3"), guid="broken"),
        item_xml(1, rec.title, media_server.url(rec.path.name), guid="fine"),
    ]
    feed = write_feed(media_server, "flaky.xml", items, time.time() - 100)
    run(["follow", feed, "--name", "flaky"], env)
    first = run(["refresh"], env)
    assert first.exit_code == 1
    assert "1 new, 1 failed" in first.output
    db = store.open_db(env["INDEXER_DB"], readonly=True)
    failure = db.execute("select title, attempts, error from failures").fetchone()
    assert failure[:2] == ("Broken", 1) and "not a readable" in failure[2]
    sources = run(["sources"], env).output
    assert "flaky" in sources and "last error" in sources and "1 episodes" in sources

    write_feed(media_server, "flaky.xml", items, time.time() - 50)
    before = len(media_server.requests)
    second = run(["refresh", "--json"], env)
    summary = json.loads(second.output)
    assert summary["failed"] == 0 and second.exit_code == 0
    assert summary["details"][0]["items"][0]["status"] == "skipped"  # waiting for its backoff
    assert media_requests(media_server, before) == []

    write_feed(media_server, "flaky.xml", items, time.time() - 20)
    third = run(["refresh", "--retry-failed"], env)
    assert third.exit_code == 1
    assert db.execute("select attempts from failures").fetchone()[0] == 2


def _start_refresh(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "indexer", "refresh"],
        env={**os.environ, **env},
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(condition, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise TimeoutError("condition not met")
        time.sleep(0.05)


@pytest.mark.parametrize("moment", ["download", "transcription"])
def test_a_killed_refresh_is_completed_by_the_next_run(media_server, recordings, env, moment):
    recs = list(recordings.values())
    # Downloads are throttled only when the kill must land inside one.
    prefix = "slow/" if moment == "download" else ""
    items = [item_xml(i, r.title, media_server.url(prefix + r.path.name), guid=f"kill-{moment}-{i}")
             for i, r in enumerate(recs)]  # fmt: skip
    feed = write_feed(media_server, f"kill-{moment}.xml", items, time.time() - 100)
    run(["follow", feed], env)
    media = Path(env["INDEXER_MEDIA_DIR"])
    before = len(media_server.requests)
    proc = _start_refresh(env)

    def downloading() -> bool:
        return any(r.startswith("/slow/") for r in media_server.requests[before:])

    def downloaded() -> bool:
        return media.is_dir() and any(p.suffix not in (".part", ".ytdl") for p in media.iterdir())

    _wait_for(downloading if moment == "download" else downloaded)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    db = store.open_db(env["INDEXER_DB"], readonly=True)
    assert db.execute("select count(*) from episodes").fetchone()[0] == 0  # none half-stored

    # Same entries (same guids) at full speed; a half-finished download is resumed.
    fast = [i.replace("/slow/", "/") for i in items]
    write_feed(media_server, f"kill-{moment}.xml", fast, time.time() - 50)
    rerun = run(["refresh"], env)
    assert rerun.exit_code == 0, rerun.output
    db = store.open_db(env["INDEXER_DB"], readonly=True)
    titles = [r[0] for r in db.execute("select title from episodes order by title")]
    assert titles == sorted(r.title for r in recs)
    assert (
        db.execute("select count(*) from chunks_fts where chunks_fts match 'storm'").fetchone()[0]
        == 1
    )


def test_concurrent_refreshes_never_process_a_source_twice(media_server, recordings, env):
    rec = recordings["harbour"]
    items = [item_xml(0, rec.title, media_server.url(f"slow/{rec.path.name}"), guid="both")]
    feed = write_feed(media_server, "both.xml", items, time.time() - 100)
    run(["follow", feed], env)
    first, second = _start_refresh(env), _start_refresh(env)
    out1, out2 = first.communicate(timeout=120), second.communicate(timeout=120)
    assert first.returncode == 0 and second.returncode == 0, (out1, out2)
    summaries = (out1[0] + out2[0]).splitlines()
    assert any("1 new" in line for line in summaries)
    assert any("busy with another run" in line for line in summaries)
    db = store.open_db(env["INDEXER_DB"], readonly=True)
    assert db.execute("select count(*) from episodes").fetchone()[0] == 1
    assert "Traceback" not in out1[1] + out2[1]


def test_follow_errors_and_unfollow(media_server, env):
    bad = CliRunner().invoke(cli, ["follow", "http://127.0.0.1:9/feed.xml"], env=env)
    assert bad.exit_code == 1 and bad.output.startswith("Error: ") and "Traceback" not in bad.output
    feed = write_feed(media_server, "unf.xml", [], time.time() - 100)
    assert "following" in run(["follow", feed, "--name", "gone"], env).output
    assert "unfollowed" in run(["unfollow", "gone"], env).output
    assert "gone" not in run(["sources"], env).output
    missing = CliRunner().invoke(cli, ["unfollow", "gone"], env=env)
    assert missing.exit_code == 1 and "not following" in missing.output


def test_creator_subtitles_are_used_when_asked(media_server, recordings, env):
    rec = recordings["harbour"]
    (media_server.root / "talk.vtt").write_text(VTT)
    # yt-dlp's generic extractor reads HTML5 <track> elements as the creator's subtitles.
    (media_server.root / "talk.html").write_text(
        "<html><head><title>Council talk</title></head><body>"
        f'<video controls src="{rec.path.name}">'
        '<track kind="subtitles" src="talk.vtt" srclang="en" label="English"></video>'
        "</body></html>"
    )
    plain = run(["add", media_server.url("talk.html")], env)
    assert plain.exit_code == 0, plain.output
    db = store.open_db(env["INDEXER_DB"], readonly=True)
    assert db.execute("select transcript_origin from episodes").fetchone() == ("whisper",)
    forced = run(["add", media_server.url("talk.html"), "--force", "--subtitles"], env)
    assert forced.exit_code == 0, forced.output
    row = db.execute("select transcript_origin, transcript_url, model from episodes").fetchone()
    assert row == ("subtitles", media_server.url("talk.vtt"), None)
    hit = json.loads(run(["search", "tram airport", "--json"], env).stdout)[0]
    assert hit["title"].startswith("Council talk")
