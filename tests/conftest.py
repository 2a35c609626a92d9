"""Shared fixtures: spoken recordings, a local HTTP media server with an RSS feed, databases."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import format_datetime
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
import pytest
import sqlite_utils

from indexer import store
from indexer.chunk import chunk_segments
from indexer.config import Settings
from indexer.models import MediaItem, Segment, Transcript, Word
from tests.speech import RATE, Line, encode, speak_lines, write_wav

# Three short "episodes" with distinct content and several voices; first words of each
# line are what tests search for, so the true start of a phrase is the line's start.
EPISODES = {
    "harbour": (
        "The harbour expansion",
        "Show notes: the mayor, Siobhan Okonkwo, on the harbour.",
        [
            ("en-us", "Good morning and welcome to the harbour report."),
            ("en-gb", "Container ships are getting bigger every single year."),
            ("en-us", "The mayor wants to dredge the channel to fourteen metres."),
            ("en-gb+f3", "Fishermen worry that the dredging will harm the oyster beds."),
        ],
    ),
    "library": (
        "Saving the public library",
        "A conversation about libraries.",
        [
            ("en-gb", "Our public library opened in nineteen twelve."),
            ("en-us", "Volunteers repaired the leaking roof last winter."),
            ("en-gb+f3", "Children borrow more comic books than any other kind of book."),
        ],
    ),
    "weather": (
        "Storm season",
        "Weather and climate.",
        [
            ("en-us", "A powerful storm is moving up the coast tonight."),
            ("en-gb", "Forecasters expect heavy rain and strong winds until Friday."),
            ("en-us", "Please secure loose garden furniture before you go to bed."),
        ],
    ),
}


@dataclass
class Recording:
    """A generated episode file and the true start of each spoken line."""

    name: str
    title: str
    description: str
    path: Path
    lines: list[Line]


@dataclass
class MediaServer:
    """A local HTTP server on 127.0.0.1 serving files and feeds, counting requests."""

    root: Path
    port: int
    requests: list[str] = field(default_factory=list)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"


@pytest.fixture(scope="session")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Recording]:
    """The EPISODES spoken by espeak-ng as MP3, Ogg/Opus and WAV files."""
    root = tmp_path_factory.mktemp("media")
    made = {}
    for (name, (title, desc, lines)), (codec, ext) in zip(
        EPISODES.items(), [("libmp3lame", "mp3"), ("libopus", "ogg"), (None, "wav")], strict=False
    ):
        samples, placed = speak_lines(lines, gap=1.0, lead=1.5)
        wav = write_wav(root / f"{name}.wav", samples)
        path = wav if codec is None else encode(wav, root / f"{name}.{ext}", codec)
        if codec is not None:
            wav.unlink()
        made[name] = Recording(name, title, desc, path, placed)
    return made


def rss_feed(server: MediaServer, recs: list[Recording], title: str = "City Desk") -> str:
    """A podcast RSS feed whose enclosures point at the server."""
    items = []
    for n, rec in enumerate(recs):
        date = format_datetime(datetime(2024, 3, 1 + n, 9, 0, tzinfo=UTC))
        items.append(
            f"<item><title>{escape(rec.title)}</title><guid>urn:test:{rec.name}</guid>"
            f"<pubDate>{date}</pubDate><description>{escape(rec.description)}</description>"
            f'<enclosure url="{server.url(rec.path.name)}" type="audio/mpeg" length="1"/></item>'
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" '
        'xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"><channel>'
        f"<title>{escape(title)}</title><link>http://127.0.0.1/</link>"
        f"<description>Test feed</description>{''.join(items)}</channel></rss>"
    )


@pytest.fixture(scope="session")
def media_server(
    tmp_path_factory: pytest.TempPathFactory, recordings: dict[str, Recording]
) -> Iterator[MediaServer]:
    """Serve the recordings, a feed of them, and some bad files over real HTTP."""
    root = tmp_path_factory.mktemp("www")
    for rec in recordings.values():
        (root / rec.path.name).write_bytes(rec.path.read_bytes())
    (root / "page.html").write_text("<html><body><p>No media here.</p></body></html>")
    (root / "notes.txt").write_text("just some text, not audio\n" * 50)
    (root / "corrupt.mp3").write_bytes(b"ID3\x03\x00\x00\x00" + bytes(range(256)) * 40)
    (root / "empty.mp3").write_bytes(b"")
    write_wav(root / "silence.wav", np.zeros(RATE * 4, dtype=np.int16))

    class Handler(SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def handle(self) -> None:
            # yt-dlp closes the connection once it has sniffed a file's type.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                super().handle()

        def do_GET(self) -> None:
            server.requests.append(self.path)
            if self.path.startswith("/slow/"):
                return self._slow(root / self.path[len("/slow/") :])
            super().do_GET()

        def _slow(self, path: Path) -> None:
            """Serve a file at ~20 KB/s, so a test can kill a client mid-download."""
            if not path.is_file():
                self.send_error(404)
                return
            data = path.read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", "audio/mpeg")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            for i in range(0, len(data), 2048):
                self.wfile.write(data[i : i + 2048])
                self.wfile.flush()
                time.sleep(0.1)

        def do_HEAD(self) -> None:
            server.requests.append("HEAD " + self.path)
            super().do_HEAD()

        def guess_type(self, path: str | Path) -> str:  # type: ignore[override]
            name = str(path)
            if name.endswith(".xml"):
                return "application/rss+xml"
            if name.endswith(".mp3"):
                return "audio/mpeg"
            if name.endswith(".ogg"):
                return "audio/ogg"
            return super().guess_type(path)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(root)))
    server = MediaServer(root, httpd.server_address[1])
    (root / "feed.xml").write_text(rss_feed(server, list(recordings.values())))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield server
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One model cache for the whole run, so the model is assembled once."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture
def settings(tmp_path: Path, cache_dir: Path) -> Settings:
    """Settings with a fresh database and the session's model cache."""
    return Settings(db=str(tmp_path / "test.db"), cache_dir=str(cache_dir),
                    media_dir=str(tmp_path / "media"))  # fmt: skip


@pytest.fixture
def env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Environment for CLI runs: the test database and cache, no stray config file."""
    values = {
        "INDEXER_DB": settings.db,
        "INDEXER_CACHE_DIR": settings.cache_dir,
        "INDEXER_MEDIA_DIR": settings.media_dir,
        "INDEXER_CONFIG": "",
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(Path(settings.db).parent)
    return values


def words_of(text: str, start: float, step: float = 0.4) -> tuple[Word, ...]:
    """Evenly timed words, for building transcripts without a model."""
    return tuple(
        Word(round(start + i * step, 2), round(start + i * step + step * 0.8, 2), w)
        for i, w in enumerate(text.split())
    )


def make_segment(text: str, start: float, step: float = 0.4) -> Segment:
    words = words_of(text, start, step)
    return Segment(words[0].start, words[-1].end, text, words)


def add_fake_episode(
    db: sqlite_utils.Database,
    lines: list[tuple[float, str]],
    *,
    title: str = "Test episode",
    media_id: str = "ep1",
    extractor: str = "Test",
    url: str = "https://www.youtube.com/watch?v=abcdefghijk",
    source: str = "https://example.com/feed.xml",
    published: str | None = "2024-05-01",
    window: float = 45.0,
    speakers: list[str | None] | None = None,
    language: str = "en",
) -> int:
    """Store an episode from (start, text) lines with evenly spaced word times."""
    segments = tuple(make_segment(text, start) for start, text in lines)
    if speakers:
        segments = tuple(replace(s, speaker=who) for s, who in zip(segments, speakers, strict=True))
    item = MediaItem(source_url=source, extractor=extractor, media_id=media_id, title=title,
                     webpage_url=url, published=published, channel="Test Show")  # fmt: skip
    transcript = Transcript(segments, language, segments[-1].end, "test")
    return store.save_episode(
        db, item, transcript, chunk_segments(segments, window),
        source_id=store.source_id_for(db, source, "Test Show"), chunk_seconds=window,
    )  # fmt: skip


@pytest.fixture
def db(tmp_path: Path) -> sqlite_utils.Database:
    """A migrated, empty database in a temporary folder."""
    return store.open_db(tmp_path / "unit.db")
