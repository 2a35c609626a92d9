"""Feeds as found in the wild, feed-scoped identity, safe fetching, overlapping writers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import sqlite_utils
from click.testing import CliRunner

from indexer import download, feeds, store
from indexer.cli import cli
from indexer.models import MediaItem, feed_scope
from tests.conftest import MediaServer, add_fake_episode

ROOT = Path(__file__).resolve().parent.parent
PODCAST = 'xmlns:podcast="https://podcastindex.org/namespace/1.0"'


def run(args: list[str], env: dict[str, str]):
    return CliRunner().invoke(cli, args, env=env, catch_exceptions=False)


def rss(channel: str, items: str, *, head: str = '<?xml version="1.0" encoding="UTF-8"?>') -> str:
    return f'{head}<rss version="2.0" {PODCAST}><channel>{channel}{items}</channel></rss>'


# --- parsing: what hand-made and generated feeds really look like -----------------------

WILD = {
    "whitespace before the declaration": (
        "\n\n  "
        + rss(
            "<title>Morning Brief</title>",
            "<item><title>Ep one</title><guid>1</guid>"
            "<pubDate>Tue, 03 Jun 2025 09:00:00 GMT</pubDate>"
            '<enclosure url="https://ex.org/1.mp3" type="audio/mpeg"/></item>',
        ),
        "Morning Brief",
        "Ep one",
        "2025-06-03",
    ),
    "html entities": (
        rss(
            "<title>Talk&nbsp;Show &mdash; live</title>",
            "<item><title>Rates &amp; rents&hellip;</title><guid>2</guid>"
            "<pubDate>Mon, 02 Jun 2025 09:00:00 GMT</pubDate>"
            '<enclosure url="https://ex.org/2.mp3"/></item>',
        ),
        "Talk\xa0Show \u2014 live",
        "Rates & rents\u2026",
        "2025-06-02",
    ),
    "a bare ampersand": (
        rss(
            "<title>Q&A with the mayor</title>",
            "<item><title>Parks & Rec Q&A</title><guid>3</guid>"
            "<pubDate>Sun, 01 Jun 2025 09:00:00 GMT</pubDate>"
            '<enclosure url="https://ex.org/3.mp3?a=1&b=2"/></item>',
        ),
        "Q&A with the mayor",
        "Parks & Rec Q&A",
        "2025-06-01",
    ),
    "ISO 8601 date": (
        rss(
            "<title>Iso</title>",
            "<item><title>T</title><guid>4</guid>"
            "<pubDate>2025-05-31T23:30:00-04:00</pubDate>"
            '<enclosure url="https://ex.org/4.mp3"/></item>',
        ),
        "Iso",
        "T",
        "2025-06-01",
    ),
    "EDT and a two-digit year": (
        rss(
            "<title>Edt</title>",
            "<item><title>T</title><guid>5</guid>"
            "<pubDate>Fri, 30 May 25 22:15:00 EDT</pubDate>"
            '<enclosure url="https://ex.org/5.mp3"/></item>',
        ),
        "Edt",
        "T",
        "2025-05-31",
    ),
    "Atom": (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        "<title>Atom Hour</title><entry><title>Entry</title><id>urn:a:1</id>"
        "<updated>2025-04-05T10:00:00Z</updated>"
        '<link rel="enclosure" href="https://ex.org/a.mp3" type="audio/mpeg" length="99"/>'
        "</entry></feed>",
        "Atom Hour",
        "Entry",
        "2025-04-05",
    ),
    "RSS 1.0 (RDF)": (
        '<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"'
        ' xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/"'
        ' xmlns:enc="http://purl.oclc.org/net/rss_2.0/enc#">'
        '<channel rdf:about="https://ex.org/"><title>Rdf Radio</title></channel>'
        '<item rdf:about="https://ex.org/r1"><title>R one</title><link>https://ex.org/r1</link>'
        "<dc:date>2025-03-04T08:00:00Z</dc:date>"
        '<enc:enclosure rdf:resource="https://ex.org/r1.mp3" enc:type="audio/mpeg"/></item>'
        "</rdf:RDF>",
        "Rdf Radio",
        "R one",
        "2025-03-04",
    ),
}


@pytest.mark.parametrize("case", list(WILD), ids=list(WILD))
def test_feeds_from_the_wild_parse_with_title_and_date_right(case: str) -> None:
    body, title, item_title, date = WILD[case]
    feed = feeds.parse_feed(body.encode())
    assert feed.title == title
    assert feed.items[0].title == item_title
    assert feed.items[0].published == date
    assert feed.items[0].enclosure_url and feed.items[0].enclosure_url.startswith("https://ex.org/")


def test_latin1_feed() -> None:
    body = ('<?xml version="1.0" encoding="ISO-8859-1"?><rss version="2.0"><channel>'
            "<title>Caf\xe9 Gespr\xe4ch</title><item><title>\xc9pisode \xfcber Z\xfcge</title>"
            '<guid>1</guid><enclosure url="https://ex.org/1.mp3"/></item></channel></rss>')  # fmt: skip
    feed = feeds.parse_feed(body.encode("latin-1"))
    assert (feed.title, feed.items[0].title) == ("Café Gespräch", "Épisode über Züge")


def test_podcasting_2_tags_every_transcript_any_prefix_relative_links() -> None:
    body = (
        '<?xml version="1.0"?><rss version="2.0" '
        'xmlns:pc="https://podcastindex.org/namespace/1.0"><channel><title>P</title>'
        '<item><title>E</title><guid>g</guid><enclosure url="media/e.mp3" length="12345"/>'
        '<pc:transcript url="/t/e.html" type="text/html"/>'
        '<pc:transcript url="/t/e.vtt" type="text/vtt" language="en"/>'
        '<pc:transcript url="/t/e.json" type="application/json"/>'
        '<pc:chapters url="/t/e-chapters.json" type="application/json+chapters"/>'
        "</item></channel></rss>"
    )
    feed = feeds.parse_feed(body.encode(), url="https://host.example/show/feed.xml")
    item = feed.items[0]
    assert item.enclosure_url == "https://host.example/show/media/e.mp3"
    assert item.enclosure_length == 12345
    assert [t.fmt for t in item.transcripts] == ["vtt", "json"]  # HTML is not read
    assert item.best_transcript() == feeds.TranscriptLink("https://host.example/t/e.json", "json")
    assert item.chapters_url == "https://host.example/t/e-chapters.json"


def test_a_feed_cannot_name_local_files() -> None:
    body = rss(
        "<title>Hostile</title><itunes:image href='file:///etc/hosts'/>",
        "<item><title>E</title><guid>1</guid>"
        '<enclosure url="file:///etc/passwd"/>'
        '<podcast:transcript url="file:///etc/hosts" type="text/vtt"/>'
        '<podcast:chapters url="file:///etc/hostname" type="application/json+chapters"/>'
        "<link>javascript:alert(1)</link></item>",
    )
    feed = feeds.parse_feed(body.encode(), url="https://ex.org/feed.xml")
    item = feed.items[0]
    assert (item.enclosure_url, item.transcripts, item.chapters_url, item.link) == (
        None, [], None, None)  # fmt: skip
    assert len(feed.refused) == 1 and "image" in feed.refused[0]
    assert len(item.refused) == 4  # the enclosure, transcript, chapters, link
    assert item.guid == "1"
    assert all("only http(s)" in r for r in feed.refused + item.refused)


@pytest.mark.parametrize("body", [b"", b"<html><body>hello</body></html>", b"\x00\xffgarbage"])
def test_not_a_feed_is_a_one_line_feed_error(body: bytes) -> None:
    with pytest.raises(feeds.FeedError, match="not an RSS or Atom feed") as err:
        feeds.parse_feed(body)
    assert "\n" not in str(err.value)


def test_replaced_audio_is_told_from_tracking_changes() -> None:
    def item(url: str, length: int | None) -> MediaItem:
        return MediaItem("https://ex.org/f.xml", "Generic", "1", "E", url, media_url=url,
                         scope="s", media_length=length)  # fmt: skip

    stored = {"media_url": "https://cdn.ex.org/ep1.mp3?token=a", "media_length": 1000}
    assert not download.audio_replaced(stored, item("https://cdn.ex.org/ep1.mp3?token=b", 1000))
    tracked = "https://dts.podtrac.com/redirect.mp3/cdn.ex.org/ep1.mp3"
    assert not download.audio_replaced(stored, item(tracked, None))
    assert download.audio_replaced(stored, item("https://cdn.ex.org/ep1-fixed.mp3", 1000))
    assert download.audio_replaced(stored, item("https://cdn.ex.org/ep1.mp3", 2000))


# --- fetching: http(s) only, bounded in size and time --------------------------------


@pytest.fixture(scope="module")
def hostile() -> Iterator[str]:
    """A server whose answers try to make the client read local files or never finish."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            try:
                if self.path in ("/to-file", "/to-ftp"):
                    self.send_response(302)
                    where = (
                        "file:///etc/hostname" if self.path == "/to-file" else "ftp://127.0.0.1/x"
                    )
                    self.send_header("Location", where)
                    self.end_headers()
                elif self.path == "/endless":
                    self.send_response(200)
                    self.end_headers()
                    while True:
                        self.wfile.write(b"x" * 65536)
                elif self.path == "/drip":
                    self.send_response(200)
                    self.end_headers()
                    for _ in range(100):
                        self.wfile.write(b"x")
                        self.wfile.flush()
                        time.sleep(0.2)
                else:
                    self.send_response(200)
                    self.end_headers()
                    self.wfile.write(b"ok")
            except (BrokenPipeError, ConnectionResetError):
                pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.parametrize("url", ["file:///etc/hostname", "ftp://127.0.0.1/x", "/etc/hostname"])
def test_only_http_urls_are_fetched(url: str) -> None:
    with pytest.raises(download.DownloadError, match="only http"):
        download.http_get(url)


@pytest.mark.parametrize("path", ["/to-file", "/to-ftp"])
def test_a_redirect_away_from_http_is_refused(hostile: str, path: str) -> None:
    assert download.http_get(hostile + "/ok").body == b"ok"
    with pytest.raises(download.DownloadError, match="only http|is not allowed") as err:
        download.http_get(hostile + path)
    assert "\n" not in str(err.value)


def test_responses_are_bounded_in_size_and_time(hostile: str) -> None:
    with pytest.raises(download.DownloadError, match="larger than 1 MB"):
        download.http_get(hostile + "/endless", max_bytes=2**20)
    began = time.monotonic()
    with pytest.raises(download.DownloadError, match="took longer than 1 s"):
        download.http_get(hostile + "/drip", max_seconds=1)
    assert time.monotonic() - began < 5


# --- identity: guids are only unique within a feed ------------------------------------

VTT = "WEBVTT\n\n00:00:01.000 --> 00:00:04.000\n{text}\n"


def long_vtt(text: str, cues: int) -> str:
    """A transcript of many cues, so that storing it takes a while."""
    out = [VTT.format(text=text)]
    for n in range(cues):
        out.append(
            f"\n00:{5 + n // 6:02d}:{n % 6 * 10:02d}.000 --> 00:{5 + n // 6:02d}:"
            f"{n % 6 * 10 + 9:02d}.000\nline {n} of a long talk about {text}\n"
        )
    return "".join(out)


def show(server: MediaServer, name: str, episodes: list[tuple[str, str, str]],
         stamp: float | None = None, cues: int = 0) -> str:  # fmt: skip
    """A feed of episodes (guid, title, spoken text) with publisher VTT transcripts."""
    items = []
    for n, (guid, title, text) in enumerate(episodes):
        (server.root / f"{name}-{guid}.vtt").write_text(long_vtt(text, cues))
        items.append(
            f"<item><title>{title}</title><guid>{guid}</guid>"
            f"<pubDate>Mon, 0{n + 1} Sep 2025 09:00:00 GMT</pubDate>"
            f'<enclosure url="{server.url(f"{name}-{guid}.mp3")}" type="audio/mpeg" length="{100 + n}"/>'
            f'<podcast:transcript url="{server.url(f"{name}-{guid}.vtt")}" type="text/vtt"/></item>'
        )
    path = server.root / f"{name}.xml"
    path.write_text(rss(f"<title>Show {name}</title>", "".join(items)))
    if stamp is not None:
        os.utime(path, (stamp, stamp))
    return server.url(f"{name}.xml")


def hits(env: dict[str, str], query: str) -> list[dict]:
    return json.loads(run(["search", query, "--json"], env).output)


def test_two_shows_with_the_same_guids_are_both_indexed(media_server, env) -> None:
    one = show(media_server, "alpha", [("1", "Alpha one", "the alpha harbour story")])
    two = show(media_server, "beta", [("1", "Beta one", "the beta lighthouse story")])
    assert run(["follow", one], env).exit_code == 0
    assert run(["follow", two], env).exit_code == 0
    result = run(["refresh"], env)
    assert result.exit_code == 0, result.output
    assert "2 new" in result.output
    assert [h["title"] for h in hits(env, "harbour")] == ["Alpha one"]
    assert [h["title"] for h in hits(env, "lighthouse")] == ["Beta one"]
    db = store.open_db(env["INDEXER_DB"], readonly=True)
    keys = {r[0] for r in db.execute("select key from episodes")}
    assert keys == {f"feed:{feed_scope(one)}:1", f"feed:{feed_scope(two)}:1"}


def test_add_feed_and_follow_share_one_path_without_duplicates(media_server, env) -> None:
    feed = show(media_server, "gamma", [("g1", "Gamma one", "gamma tram depot"),
                                        ("g2", "Gamma two", "gamma ferry pier")])  # fmt: skip
    first = run(["add", feed], env)
    assert first.exit_code == 0, first.output
    again = run(["add", feed], env)
    assert again.exit_code == 0 and again.output.count("already indexed") == 2, again.output
    run(["follow", feed], env)
    refreshed = run(["refresh"], env)
    assert refreshed.exit_code == 0 and "0 new" in refreshed.output, refreshed.output
    db = store.open_db(env["INDEXER_DB"], readonly=True)
    assert db.execute("select count(*) from episodes").fetchone()[0] == 2


def test_replaced_audio_under_the_same_guid_is_indexed_again(media_server, env) -> None:
    feed = show(
        media_server,
        "delta",
        [("d1", "Delta", "first cut about the old bridge")],
        stamp=time.time() - 100,
    )
    run(["follow", feed], env)
    assert "1 new" in run(["refresh"], env).output
    # The publisher fixes the episode: new file, new transcript, same guid.
    xml = (media_server.root / "delta.xml").read_text()
    (media_server.root / "delta.xml").write_text(xml.replace("delta-d1.mp3", "delta-d1-v2.mp3"))
    os.utime(media_server.root / "delta.xml", (time.time() - 50, time.time() - 50))
    (media_server.root / "delta-d1.vtt").write_text(
        VTT.format(text="fixed cut about the new tunnel")
    )
    result = run(["refresh"], env)
    assert result.exit_code == 0, result.output
    assert "replaced" in result.output
    assert [h["title"] for h in hits(env, "tunnel")] == ["Delta"]
    assert hits(env, "bridge") == []
    db = store.open_db(env["INDEXER_DB"], readonly=True)
    assert db.execute("select count(*) from episodes").fetchone()[0] == 1
    assert "0 new" in run(["refresh"], env).output  # noticed once, not on every refresh


def test_old_feed_keys_are_migrated_and_adopted(tmp_path: Path, media_server, env) -> None:
    feed = show(media_server, "eps", [("e1", "Old one", "an episode stored before scoping")])
    db = store.open_db(env["INDEXER_DB"])
    # As an older version stored it: `add FEED` keyed it by the bare guid.
    add_fake_episode(db, [(1.0, "an episode stored before scoping")], extractor="Generic",
                     media_id="e1", source=feed)  # fmt: skip
    assert run(["add", feed], env).output.count("already indexed") == 1
    assert [r[0] for r in db.execute("select key from episodes")] == [f"feed:{feed_scope(feed)}:e1"]

    # A followed feed's episodes and failures are re-keyed by the migration itself.
    old = sqlite_utils.Database(tmp_path / "old.db")
    store.migrations.apply(old, stop_before="m005_feed_scoped_keys")
    old.table("sources").insert({"id": 1, "url": "https://ex.org/f.xml", "kind": "feed"})
    old.table("sources").insert({"id": 2, "url": "https://youtube.com/@x", "kind": "ytdlp"})
    old.table("episodes").insert_all([
        {"source_id": 1, "key": "generic:7", "title": "Feed item"},
        {"source_id": 2, "key": "youtube:abcdefghijk", "title": "Video"},
    ])  # fmt: skip
    old.table("failures").insert({"source_id": 1, "key": "generic:8", "title": "Failing"})
    old.close()
    new = store.open_db(tmp_path / "old.db")
    scope = feed_scope("https://ex.org/f.xml")
    assert [r[0] for r in new.execute("select key from episodes order by id")] == [
        f"feed:{scope}:7", "youtube:abcdefghijk"]  # fmt: skip
    assert new.execute("select key from failures").fetchone()[0] == f"feed:{scope}:8"


def test_a_feed_naming_local_files_indexes_none_of_them(media_server, env, tmp_path) -> None:
    secret = tmp_path / "secret.vtt"
    secret.write_text(VTT.format(text="zanzibar password hunter2"))
    body = rss("<title>Sly</title>",
               f'<item><title>Sly one</title><guid>s1</guid>'
               f'<podcast:transcript url="{secret.as_uri()}" type="text/vtt"/></item>'
               f'<item><title>Sly two</title><guid>s2</guid><enclosure url="{secret.as_uri()}"/>'
               "</item>")  # fmt: skip
    (media_server.root / "sly.xml").write_text(body)
    result = CliRunner().invoke(cli, ["add", media_server.url("sly.xml")], env=env)
    assert "only http(s)" in result.output, result.output
    assert "Traceback" not in result.output
    assert hits(env, "zanzibar") == []


# --- overlapping writers ---------------------------------------------------------------


SHOWS, EPISODES = 6, 6


def test_overlapping_refreshes_all_finish_while_the_site_answers(media_server, env) -> None:
    from tests.test_server import Server

    def episodes(s: int) -> list[tuple[str, str, str]]:
        return [(str(n), f"Busy {s}-{n}", f"busy show {s} part {n} word{s}x{n}")
                for n in range(EPISODES)]  # fmt: skip

    feeds_ = [show(media_server, f"busy{s}", episodes(s), cues=300) for s in range(SHOWS)]
    for url in feeds_:
        assert run(["follow", url], env).exit_code == 0
    server = Server(env["INDEXER_DB"])
    errors: list[str] = []
    stop = threading.Event()

    def search() -> None:
        while not stop.is_set():
            for path in ("/api/search?q=busy+show", "/?q=part", "/api/search?q=word1x2"):
                try:
                    urllib.request.urlopen(server.base + path, timeout=10).read()
                except urllib.error.HTTPError as exc:
                    errors.append(f"{path}: {exc.code}")
                except OSError as exc:
                    errors.append(f"{path}: {exc}")

    reader = threading.Thread(target=search)
    reader.start()
    try:
        for _ in range(2):  # rounds: cron runs that overlap, then overlap again
            procs = [
                subprocess.Popen(
                    [sys.executable, "-m", "indexer", "refresh", "--retry-failed"],
                    env={**os.environ, **env},
                    cwd=ROOT,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )  # fmt: skip
                for _ in range(3)
            ]
            outs = [p.communicate(timeout=300) for p in procs]
            for proc, (out, err) in zip(procs, outs, strict=True):
                assert proc.returncode == 0, (out, err)
                assert "Traceback" not in err and "locked" not in out + err
            for s in range(SHOWS):  # a new episode in every show for the next round
                show(media_server, f"busy{s}", [*episodes(s), ("late", "Late", "late one")],
                     stamp=time.time() + 5, cues=300)  # fmt: skip
    finally:
        stop.set()
        reader.join()
        server.stop()
    assert errors == []
    db = store.open_db(env["INDEXER_DB"], readonly=True)
    total = SHOWS * (EPISODES + 1)
    assert db.execute("select count(*) from episodes").fetchone()[0] == total, outs
    assert db.execute("select count(distinct key) from episodes").fetchone()[0] == total
