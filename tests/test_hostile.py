"""Hostile requests against a real `indexer serve`, and hostile feeds through `add`, `follow`
and `refresh`: never a 5xx, never a traceback, never a local file's content in the database."""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import re
import resource
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from click.testing import Result

from indexer import feeds, store
from tests.conftest import MediaServer, add_fake_episode
from tests.speech import RATE, write_wav
from tests.test_feeds import PODCAST, VTT, hits, rss, run
from tests.test_server import Server
from tests.test_web import _local_episode

# What a leaked exception looks like in a body or a log: a traceback, a frame, a class name.
LEAK = re.compile(
    r"Traceback|File \"/|\b(?:[A-Z]\w*Error|[A-Z]\w*Exception|KeyboardInterrupt|StopIteration)\b"
)
HOSTILE_TITLE = "<script>alert(1)</script> \x1b[31m\x00 \"quoted\" & 'single'"


# --- the server and a few episodes, two of them hostile -----------------------------------


@dataclass
class Site:
    """A running `indexer serve` and the ids of its episodes."""

    server: Server
    plain: int
    hostile: int
    local: int
    media_size: int
    stderr: list[str]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """`indexer serve` (one worker) on a database with plain, hostile and local episodes."""
    root = tmp_path_factory.mktemp("hostile-site")
    audio = write_wav(root / "local.wav", np.zeros(RATE * 2, dtype=np.int16))
    db = store.open_db(root / "site.db")
    plain = add_fake_episode(db, [(0.0, "The harbour master spoke about oyster beds.")])
    hostile = add_fake_episode(
        db,
        [(0.0, 'Oyster <img src=x onerror=alert(1)> "quotes" \x00 and NEAR( tokens'),
         (5.0, "text: {text}: ^caret * AND OR NOT ((")],
        title=HOSTILE_TITLE, media_id="ep2", url="javascript:alert(1)",
    )  # fmt: skip
    local = _local_episode(db, audio)
    db.close()
    server = Server(str(root / "site.db"))
    lines: list[str] = []
    assert server.proc.stderr is not None
    drain = threading.Thread(target=lambda: lines.extend(server.proc.stderr), daemon=True)
    drain.start()
    yield Site(server, plain, hostile, local, audio.stat().st_size, lines)
    if server.proc.poll() is None:
        server.stop()
    drain.join(timeout=5)


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes


class _Replay:
    """A socket stand-in that hands http.client the bytes a raw request got back."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def makefile(self, *args: object, **kwargs: object) -> io.BytesIO:
        return io.BytesIO(self.data)


def raw(site: Site, request: bytes, method: str = "GET") -> Answer | None:
    """Send request bytes as they are; the parsed answer, or None if the server just closed."""
    with socket.create_connection(("127.0.0.1", site.server.port), timeout=10) as sock:
        sock.sendall(request)
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := sock.recv(1 << 16):
            data += chunk
    if not data:
        return None
    resp = http.client.HTTPResponse(_Replay(data), method=method)  # type: ignore[arg-type]
    resp.begin()
    return Answer(resp.status, resp.headers, resp.read())


def request(site: Site, path: str, method: str = "GET", headers: dict[str, str] | None = None,
            body: bytes | None = None) -> Answer | None:  # fmt: skip
    """One HTTP/1.1 request on a fresh connection, headers and path sent byte for byte."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{site.server.port}",
             "Connection: close"]  # fmt: skip
    for name, value in (headers or {}).items():
        if name.lower() == "host":
            lines[1] = f"Host: {value}"
        else:
            lines.append(f"{name}: {value}")
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape")
    return raw(site, head + (body or b""), method)


def problems(answer: Answer | None, path: str, method: str = "GET") -> list[str]:
    """What is wrong with an answer: a 5xx, a leaked exception, an API error that isn't JSON."""
    if answer is None:
        return [f"{method} {path[:80]!r}: the server closed the connection without answering"]
    where = f"{method} {path[:80]!r} -> {answer.status}"
    text = answer.body.decode("utf-8", "replace")
    found = []
    if answer.status >= 500:
        found.append(where)
    if LEAK.search(text):
        found.append(f"{where}: leaks {LEAK.search(text).group(0)!r}")  # type: ignore[union-attr]
    # Requests gunicorn refuses before Flask sees them carry none of our headers.
    from_app = "Content-Security-Policy" in answer.headers
    if path.startswith("/api/") and from_app and answer.status >= 400 and method != "HEAD":
        try:
            assert json.loads(text)["message"]
        except (ValueError, KeyError, AssertionError):
            found.append(f"{where}: not a JSON error: {text[:80]!r}")
    return found


def check_all(site: Site, cases: list[tuple[str, str, dict[str, str] | None]]) -> list[str]:
    found: list[str] = []
    for method, path, headers in cases:
        found += problems(request(site, path, method, headers), path, method)
    return found


# Values for every parameter: broken encodings, FTS5 syntax, numbers out of every range.
VALUES = [
    "", "%00", "a%00b", "%ff%fe", "%E2%80", "%C0%AF", "%ED%A0%80", "%", "%%%25%zz", "%2",
    "%22", "*", "NEAR(", "NEAR(oyster%20harbour,%203)", "%5Eoyster", "AND%20OR%20NOT",
    "oyster%20AND", "(oyster", "oyster)", "((((", "text:oyster", "%7Btext%7D:oyster",
    "chunks_fts:oyster", "-1", "-99999999999999999999", "99999999999999999999", "1e9", "nan",
    "inf", "0x10", "1.5", "abc", "+", "%D9%A1%D9%A2", "%E2%80%AE", "%0d%0aSet-Cookie:%20x=1",
    "%3Cscript%3Ealert(1)%3C/script%3E", "javascript:alert(1)", "%27;%20drop%20table%20chunks",
    "x" * 3500,
]  # fmt: skip


def routes(site: Site) -> dict[str, list[str]]:
    """Each route of web/views.py with a base query and the parameters it reads."""
    ep = site.plain
    return {
        "/?q=oyster": ["q", "source", "from", "to", "lang", "mode", "page"],
        "/?mode=advanced&q=oyster": ["q"],
        f"/episodes/{ep}?x=1": ["t", "end"],
        f"/episodes/{site.hostile}?x=1": ["t"],
        f"/episodes/{ep}/transcript.vtt?x=1": ["download", "t"],
        f"/episodes/{site.hostile}/transcript.srt?x=1": ["download"],
        f"/media/{site.local}?x=1": ["t", "id"],
        "/link?url=https://youtu.be/dQw4w9WgXcQ": ["url", "t"],
        "/api/search?q=oyster": ["q", "source", "from", "to", "lang", "limit", "offset", "page"],
        "/api/search?mode=advanced&q=oyster": ["q"],
        f"/api/episodes/{ep}?x=1": ["id", "t"],
        "/api/link?url=https://youtu.be/dQw4w9WgXcQ": ["url", "t"],
    }


def test_every_route_with_every_hostile_parameter_value(site: Site) -> None:
    cases = []
    for base, params in routes(site).items():
        for name in params:
            for value in VALUES:
                cases.append(("GET", f"{base}&{name}={value}", None))
    found = check_all(site, cases)
    assert not found, found[:20]


def test_queries_repeated_huge_or_past_the_request_line_limit(site: Site) -> None:
    cases = []
    for base in routes(site):
        cases += [
            ("GET", base + "&q=a" * 800, None),
            ("GET", base + "&limit=1&offset=1&page=2" * 150, None),
            ("GET", base + "&" + "x" * 100_000, None),  # 100 KB
            ("GET", base + "&q=" + "%ff%fe" * 20_000, None),
        ]
    found = check_all(site, cases)
    assert not found, found[:20]
    # The limit is gunicorn's: a plain 4xx, not a dropped connection.
    answer = request(site, "/api/search?q=" + "x" * 100_000)
    assert answer is not None and 400 <= answer.status < 500


def test_episode_ids_that_are_no_episode(site: Site) -> None:
    ids = ["0", "-1", "99999", "99999999999999999999", "9223372036854775808", "abc", "1.5",
           "0x1", "1e3", "%00", "1%00", "%D9%A1", "%20", "1;drop", "%2F", "00000000000000000001"]  # fmt: skip
    cases = []
    for i in ids:
        for path in (f"/episodes/{i}", f"/episodes/{i}/transcript.vtt", f"/media/{i}",
                     f"/api/episodes/{i}"):  # fmt: skip
            cases.append(("GET", path, None))
    for fmt in ["exe", "", "vtt%00", "VTT", "json.json", "srt/", "%ff", "x" * 3000]:
        cases.append(("GET", f"/episodes/{site.plain}/transcript.{fmt}", None))
    cases += [("GET", p, None) for p in ["/api/", "/api", "/api/nowhere", "/api/search/x",
                                         "/nowhere", "/%ff%fe", "/%00"]]  # fmt: skip
    found = check_all(site, cases)
    assert not found, found[:20]
    answer = request(site, "/api/episodes/99999999999999999999")
    assert answer is not None and answer.status == 404
    assert json.loads(answer.body)["message"]


SECRETS = (b"root:x:0:0", b"def create_app", b"[project]", b"PRAGMA", b"SQLite format")
TRAVERSALS = [
    "/static/../web/__init__.py", "/static/%2e%2e/__init__.py", "/static/%2e%2e%2f__init__.py",
    "/static/..%2f..%2fpyproject.toml", "/static/..%5c..%5cpyproject.toml", "/static//etc/passwd",
    "/static/%2fetc%2fpasswd", "/static/....//....//etc/passwd", "/static/%c0%ae%c0%ae/x",
    "/static/..%252f..%252fpyproject.toml", "/static/app.css%00.txt", "/static/app.css/",
    "/static/" + "a" * 3000, "/static/%ff", "/static/", "/static", "/media/1/../../etc/passwd",
    "/media/%2e%2e%2f%2e%2e%2fetc%2fpasswd", "/media//etc/passwd", "/media/", "//etc/passwd",
    "/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/episodes/1/transcript.vtt/../../../x",
    "/episodes/1/../../pyproject.toml", "/etc/passwd", "/web/__init__.py", "/site.db",
]  # fmt: skip


def test_file_routes_serve_nothing_outside_their_folder(site: Site) -> None:
    found = []
    for path in TRAVERSALS + [f"/media/{site.local}/..%2f..%2fsite.db"]:
        answer = request(site, path)
        found += problems(answer, path)
        if answer is not None:
            found += [f"{path}: {s!r}" for s in SECRETS if s in answer.body]
    assert not found, found
    for target in ("/etc/passwd", "web/__init__.py"):  # absolute-form and bare targets
        answer = raw(site, f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        assert not problems(answer, target)
        assert answer is None or not any(s in answer.body for s in SECRETS)


METHODS = ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE", "PROPFIND", "FOO"]


def test_odd_methods_on_get_routes(site: Site) -> None:
    found = []
    for base in [*routes(site), "/static/app.css", "/nowhere", "/api/nowhere"]:
        for method in METHODS:
            body = b"q=oyster&" * 1000 if method in ("POST", "PUT", "PATCH") else None
            headers = {"Content-Type": "application/x-www-form-urlencoded"} if body else None
            answer = request(site, base, method, headers, body)
            found += problems(answer, base, method)
            if answer is not None and method == "HEAD":
                found += [f"HEAD {base}: a body"] if answer.body else []
    assert not found, found[:20]
    answer = request(site, "/api/search?q=oyster", "DELETE")
    assert answer is not None and answer.status == 405 and json.loads(answer.body)["message"]


HEADERS = [
    {"X-Long": "a" * 8000},
    {"X-Long": "a" * 20_000},
    {f"X-Many-{n}": "1" for n in range(90)},
    {f"X-Many-{n}": "1" for n in range(200)},
    {"Host": "a..b"},
    {"Host": ""},
    {"Host": "x" * 300},
    {"Host": "127.0.0.1:abc"},
    {"Host": "127.0.0.1:99999"},
    {"Host": "[::1"},
    {"Host": "ex ample.org"},
    {"Host": "evil.example.org"},
    {"Host": "\udcff\udcfe"},
    {"X-Forwarded-Host": "a..b", "X-Forwarded-For": "not an ip", "X-Forwarded-Proto": "gopher"},
    {"Accept": "application/json"},
    {"Accept": "text/html;q=0, */*;q=0"},
    {"Accept": "*/*;q=abc"},
    {"Accept": ",,,;;;"},
    {"Accept": "text/html;" + "q=1;" * 1500},
    {"Accept-Language": "xx-" + "y" * 3000 + ";q=2"},
    {"Accept-Encoding": "gzip;q=nope, br;q=-1"},
    {"Accept-Charset": "\udcff"},
    {"Cookie": "session=%ff%fe; ;;=; a" + "; b=c" * 500},
    {"If-Modified-Since": "garbage"},
    {"If-Modified-Since": "Sat, 01 Jan 99999 00:00:00 GMT"},
    {"If-None-Match": 'W/"', "If-Match": "*,,\"x"},
    {"If-Range": "garbage", "Range": "bytes=0-1"},
    {"Content-Type": "multipart/form-data; boundary="},
    {"Content-Length": "-1"},
    {"Content-Length": "abc"},
    {"Content-Length": "99999999999999999999999"},
    {"Transfer-Encoding": "chunked, gzip"},
    {"Expect": "100-continue"},
    {"Authorization": "Basic %%%"},
    {"User-Agent": "\x1b[2J" + "z" * 5000},
    {"X-Nul": "a\x00b"},
]  # fmt: skip


def test_long_bad_and_odd_headers(site: Site) -> None:
    found = []
    for base in [*routes(site), "/static/app.css"]:
        for headers in HEADERS:
            found += problems(request(site, base, "GET", headers), base + f" {list(headers)[:1]}")
    assert not found, found[:20]
    answer = request(site, "/api/search?q=oyster", headers={"Host": "a..b"})
    assert answer is not None and answer.status == 400
    assert "Host header" in json.loads(answer.body)["message"]


RANGES = ["bytes=0-99", "bytes=100-0", "bytes=0-10,20-30", "bytes=0-10,5-15", "bytes=abc",
          "bytes=-", "bytes=--1", "bytes=99999999999999999999-", "bytes=0-99999999999999999999",
          "bytes=-99999999999", "bits=0-1", "bytes=" + ",0-1" * 500, "", "bytes=1-1-1",
          "bytes=\u00bd-1"]  # fmt: skip


def test_range_headers_on_media_routes(site: Site) -> None:
    found = []
    paths = [f"/media/{site.local}", f"/episodes/{site.plain}/transcript.vtt", "/static/app.css"]
    for path in paths:
        for value in RANGES:
            for method in ("GET", "HEAD"):
                found += problems(request(site, path, method, {"Range": value}), path, method)
    assert not found, found[:20]
    answer = request(site, f"/media/{site.local}", headers={"Range": "bytes=0-99"})
    assert answer is not None and answer.status == 206 and len(answer.body) == 100
    past = request(site, f"/media/{site.local}", headers={"Range": f"bytes={site.media_size}-"})
    assert past is not None and past.status == 416


MALFORMED = [
    b"GET /\x00 HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /episodes/\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /?q=\xff\xfe\x00 HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /api/search?q=\xff\xfe\x00 HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET * HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET http://evil.example/?q=oyster HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nX-Bad\x00Name: 1\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: \xff\xfe\r\n\r\n",
    b"GET /?q=oyster HTTP/1.0\r\n\r\n",
    b"GET /api/search?q=oyster HTTP/1.1\r\nHost: x\r\n\r\nGET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n",
    b"POST /api/search HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n\r\n",
    b"POST /api/search HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked"
    b"\r\n\r\n0\r\n\r\n",
    b"G\x00T / HTTP/1.1\r\nHost: x\r\n\r\n",
    b"garbage\r\n\r\n",
    b"GET\r\n\r\n",
]  # fmt: skip


def test_malformed_requests(site: Site) -> None:
    found = []
    for data in MALFORMED:
        answer = raw(site, data)
        label = data.split(b"\r\n")[0].decode("latin-1")
        found += problems(answer, label)
    assert not found, found
    empty = raw(site, b"\r\n\r\n")  # no request at all: closed, or a plain 400
    assert empty is None or empty.status == 400


def test_hostile_episode_data_is_served_escaped(site: Site) -> None:
    for path in [f"/episodes/{site.hostile}", "/?q=oyster", "/?q=tokens"]:
        answer = request(site, path)
        assert answer is not None and answer.status == 200, path
        assert b"<script>alert" not in answer.body and b"<img src=x" not in answer.body
        assert b'href="javascript:' not in answer.body
    api = request(site, f"/api/episodes/{site.hostile}")
    assert api is not None and json.loads(api.body)["episode"]["title"] == HOSTILE_TITLE


def test_the_server_logged_no_traceback(site: Site) -> None:
    """Last in the file: it stops the server that the tests above used."""
    assert site.server.get("/api/search?q=oyster")["total"] >= 1
    assert site.server.stop() == 0
    log = "".join(site.stderr)
    assert not LEAK.search(log), log[-3000:]


# --- hostile feeds through add, follow and refresh ----------------------------------------


@dataclass
class Page:
    """An answer of the feed server; `repeat` makes big bodies without big memory."""

    body: bytes
    kind: str = "application/rss+xml"
    repeat: int = 1
    length: bool = True  # send Content-Length (else the size shows only while reading)
    head: bytes = b""  # sent once, before the repeated body


class FeedServer(MediaServer):
    pages: dict[str, Page]


@pytest.fixture(scope="module")
def feeds_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FeedServer]:
    """A local 127.0.0.1 server of hostile feeds, transcripts and oversized answers."""
    pages: dict[str, Page] = {}

    class Handler(SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            server.requests.append(self.path)
            path = self.path.split("?")[0]
            page = pages.get(path)
            if page is None and path.startswith("/t/"):  # every other transcript says its name
                word = path[3:].rsplit(".", 1)[0]
                page = Page(VTT.format(text=f"the {word} is spoken here").encode(), "text/vtt")
            if page is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", page.kind)
            if page.length:
                size = len(page.head) + len(page.body) * page.repeat
                self.send_header("Content-Length", str(size))
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(page.head)
                for _ in range(page.repeat):
                    self.wfile.write(page.body)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    server = FeedServer(tmp_path_factory.mktemp("feeds"), httpd.server_address[1])
    server.pages = pages
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield server
    httpd.shutdown()
    httpd.server_close()


SECRET = "zanzibar-hunter2-local-only"
LOCAL_MARKS = (SECRET, "root:x:0:0", "/bin/bash", "nologin")


def item(guid: str, title: str, word: str, base: str, *, extra: str = "",
         enclosure: str | None = None, day: int = 1) -> str:  # fmt: skip
    """An RSS item whose publisher VTT transcript says `word`."""
    audio = enclosure or f"{base}/audio/{word}.mp3"
    return (f"<item><title>{title}</title><guid>{guid}</guid>"
            f"<pubDate>Mon, {day:02d} Sep 2025 09:00:00 GMT</pubDate>{extra}"
            f'<enclosure url="{audio}" type="audio/mpeg" length="1000"/>'
            f'<podcast:transcript url="{base}/t/{word}.vtt" type="text/vtt"/></item>')  # fmt: skip


def laughs() -> str:
    levels = ['<!ENTITY lol0 "lollollollollollollollollollol">']
    levels += [f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, 10)]
    return f"<!DOCTYPE rss [{''.join(levels)}]>"


@dataclass
class Case:
    feed: Page
    words: tuple[str, ...] = ()  # what its transcripts say: searchable once it is indexed
    reason: str | None = None  # the error `add` must fail with (a regular expression)
    transcripts: dict[str, Page] | None = None
    absent: tuple[str, ...] = ()  # words that must not be indexed


def cases(base: str, secret: Path) -> dict[str, Case]:
    """Every hostile feed, as served at base."""
    head = '<?xml version="1.0" encoding="UTF-8"?>'
    entry = item("1", "Plain", "plainword", base)
    filler = item("f", "Filler " + "x" * 2000, "fillerword", base).encode()
    big = f'{head}<rss version="2.0" {PODCAST}><channel><title>Big</title>'.encode()
    return (
        {
            "a 1 MB title": Case(
                Page(rss("<title>Big</title>", item("1", "T" * 2**20, "bigtitle", base)).encode()),
                ("bigtitle",),
            ),  # fmt: skip
            "control characters and NULs": Case(
                Page(
                    rss(
                        "<title>Ctl\x1b[31m \x00show</title>",
                        item(
                            "1",
                            "Bad\x00 \x1b[2J\x07 title &#0; &#x1b; \x9b1m",
                            "ctrlword",
                            base,
                            extra="<description>d\x00\x01e\x7f\x1b]0;pwned\x07</description>"
                            "<itunes:summary>\x00</itunes:summary>",
                        ),
                    ).encode()
                ),
                ("ctrlword",),
            ),  # fmt: skip
            "script tags and javascript links": Case(
                Page(
                    rss(
                        "<title>&lt;script&gt;alert(1)&lt;/script&gt;</title><link>javascript:alert(1)</link>"
                        '<itunes:image href="javascript:alert(2)"/>',
                        item(
                            "1",
                            "&lt;script&gt;alert(3)&lt;/script&gt;",
                            "scriptword",
                            base,
                            extra="<link>javascript:alert(4)</link><description><![CDATA[<script>alert(5)"
                            "</script><a href='javascript:alert(6)'>x</a><img src=x onerror=alert(7)>"
                            "]]></description>",
                            enclosure="javascript:alert(8)",
                        ),
                    ).encode()
                ),
                ("scriptword",),
            ),  # fmt: skip
            "an enclosure URL with spaces and unicode": Case(
                Page(
                    rss(
                        "<title>Odd</title>",
                        item(
                            "1",
                            "Odd",
                            "oddword",
                            base,
                            enclosure=f"{base}/a b/ü é/ep 1.mp3?x=1 2&amp;y=ü",
                        )
                        + item(
                            "", "No guid", "noguidword", base, enclosure=f"{base}/ü ep.mp3", day=2
                        ),
                    ).encode()
                ),
                ("oddword", "noguidword"),
            ),  # fmt: skip
            "an invalid IPv6 host in links": Case(
                Page(
                    rss(
                        "<title>V6</title><link>http://[zz]/</link>",
                        item(
                            "1",
                            "V6",
                            "vsixword",
                            base,
                            enclosure="http://[::1/x.mp3",
                            extra="<link>http://[::1/</link>",
                        ),
                    ).encode()
                ),
                ("vsixword",),
            ),  # fmt: skip
            "a 5000-character guid": Case(
                Page(
                    rss("<title>Guid</title>", item("g" * 5000, "Long", "guidword", base)).encode()
                ),
                ("guidword",),
            ),  # fmt: skip
            "duplicate guids in one feed": Case(
                Page(
                    rss(
                        "<title>Dup</title>",
                        item("dup", "Newer", "dupnewer", base, day=2)
                        + item("dup", "Older", "dupolder", base, day=1),
                    ).encode()
                ),
                ("dupnewer",),
                absent=("dupolder",),
            ),  # fmt: skip
            "a billion laughs": Case(
                Page(
                    (
                        head
                        + laughs()
                        + rss(
                            "<title>Laughs &lol9;</title>",
                            item(
                                "1",
                                "Ha &lol9;",
                                "laughword",
                                base,
                                extra="<description>&lol9;&lol9;</description>",
                            ),
                            head="",
                        )
                    ).encode()
                ),
                ("laughword",),
            ),  # fmt: skip
            "external entities": Case(
                Page(
                    (
                        head + f'<!DOCTYPE rss [<!ENTITY x SYSTEM "file:///etc/passwd">'
                        f'<!ENTITY s SYSTEM "{secret.as_uri()}"><!ENTITY w SYSTEM "{base}/evil.dtd">'
                        f'<!ENTITY % p SYSTEM "{base}/evil.dtd"> %p;]>'
                        + rss(
                            "<title>Xxe &x;</title>",
                            item(
                                "1",
                                "Xxe &x; &s; &w;",
                                "xxeword",
                                base,
                                extra="<description>&x;&s;</description>",
                            ),
                            head="",
                        )
                    ).encode()
                ),
                ("xxeword",),
            ),  # fmt: skip
            "a 60 MB feed": Case(
                Page(filler, head=big, repeat=60 * 2**20 // len(filler)), reason="larger than 50 MB"
            ),  # fmt: skip
            "a 60 MB feed of unknown length": Case(
                Page(filler, head=big, repeat=60 * 2**20 // len(filler), length=False),
                reason="larger than 50 MB",
            ),  # fmt: skip
            "an HTML page served as RSS": Case(
                Page(b"<!doctype html><html><body><p>Not a feed</p>" + b"<div>x</div>" * 1000),
                reason="[Uu]nsupported URL|not an RSS",
            ),  # fmt: skip
            "a 30 MB transcript": Case(
                Page(
                    rss(
                        "<title>Big transcript</title>", item("1", "Huge", "hugeword", base)
                    ).encode()
                ),
                reason="larger than 20 MB",
                transcripts={"hugeword": Page(b"WEBVTT\n\n" + b"x" * 2**20, "text/vtt", repeat=30)},
            ),  # fmt: skip
        }
        | {"a plain feed": Case(Page(rss("<title>Plain</title>", entry).encode()), ("plainword",))}
    )


def all_text(path: str) -> str:
    """Every text value in the database, to look for what must not be there."""
    db = store.open_db(path, readonly=True)
    values = [v for table in db.table_names() for row in db.execute(f"select * from [{table}]")
              for v in row if isinstance(v, str)]  # fmt: skip
    db.close()
    return "\n".join(values)


def publish(site: FeedServer, name: str, case: Case) -> str:
    """Serve a case's feed (and its special transcripts); its URL."""
    path = "/" + re.sub(r"\W+", "-", name) + ".xml"
    site.pages[path] = case.feed
    for word, page in (case.transcripts or {}).items():
        site.pages[f"/t/{word}.vtt"] = page
    return f"http://127.0.0.1:{site.port}{path}"


CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def misbehaviour(result: Result, what: str) -> list[str]:
    """What is wrong with a command's run: exit code, a traceback, control or huge lines."""
    out = result.output
    found = [f"{what}: exit code {result.exit_code}"] if result.exit_code not in (0, 1) else []
    if LEAK.search(out):
        found.append(f"{what}: {LEAK.search(out).group(0)!r} in {out[:300]!r}")  # type: ignore[union-attr]
    if CONTROL.search(out):
        found.append(f"{what}: control characters in {out[:300]!r}")
    found += [f"{what}: a {len(line)}-character line" for line in out.splitlines()
              if len(line) > 2000]  # fmt: skip
    return found


CASES = list(cases("http://x", Path("/x")))


def test_entity_declarations_in_a_feed_are_never_expanded() -> None:
    # Declared on the line of <?xml ...?>, where feedparser doesn't look for them; expat
    # then expands until its amplification limit (half a second here, or memory without it).
    body = ('<?xml version="1.0" encoding="UTF-8"?>' + laughs() + rss(
        "<title>L &lol9;</title>",
        "<item><title>T</title><guid>1</guid><description>" + "&lol9;" * 50 + "</description>"
        "</item>", head="")).encode()  # fmt: skip
    began = time.monotonic()
    feed = feeds.parse_feed(body)
    assert time.monotonic() - began < 0.2
    assert "lollol" not in (feed.title or "") + (feed.items[0].description or "")


@pytest.mark.parametrize("name", CASES)
def test_a_hostile_feed_through_add_follow_and_refresh(name: str, feeds_site: FeedServer,
                                                       env: dict[str, str],
                                                       tmp_path: Path) -> None:  # fmt: skip
    secret = tmp_path / "secret.vtt"
    secret.write_text(VTT.format(text=SECRET))
    base = f"http://127.0.0.1:{feeds_site.port}"
    case = cases(base, secret)[name]
    url = publish(feeds_site, name, case)
    began = time.monotonic()
    memory = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    runs = {"add": run(["add", url], env), "add again": run(["add", url], env),
            "follow": run(["follow", url], env)}  # fmt: skip
    # The refresh path: a followed feed that was fine turns hostile.
    fine = Case(Page(rss("<title>Fine</title>", item("0", "Fine", "fineword", base)).encode()))
    later = publish(feeds_site, name + " later", fine)
    runs["follow a fine feed"] = run(["follow", later], env)
    publish(feeds_site, name + " later", case)
    runs["refresh"] = run(["refresh"], env)
    assert time.monotonic() - began < 15
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - memory < 200 * 1024

    found = [p for what, result in runs.items() for p in misbehaviour(result, what)]
    assert not found, found
    assert runs["follow a fine feed"].exit_code == 0
    if case.reason:
        for what in ("add", "add again"):
            assert runs[what].exit_code == 1, runs[what].output
            assert re.search(case.reason, runs[what].output), runs[what].output
        assert runs["refresh"].exit_code == 1, runs["refresh"].output
    else:
        assert [r.exit_code for r in runs.values()] == [0] * 5, runs
        assert "indexed  #" in runs["add"].output
        assert "indexed  #" not in runs["add again"].output  # nothing is indexed twice
    for word in case.words:
        assert [h["title"] for h in hits(env, word)], word
    for word in case.absent:
        assert hits(env, word) == [], word

    text = all_text(env["INDEXER_DB"])
    assert not [mark for mark in LOCAL_MARKS if mark in text]
    assert not CONTROL.search(text.replace("\r\n", "\n"))
    assert max(map(len, text.splitlines()), default=0) < 100_000
    assert not [r for r in feeds_site.requests if "evil" in r]  # no DTD was fetched
    db = store.open_db(env["INDEXER_DB"], readonly=True)
    for (description,) in db.execute("select description from episodes"):
        for bad in ("<script", "javascript:", "onerror"):
            assert bad not in (description or ""), description
    db.close()


def test_the_site_serves_what_hostile_feeds_stored(feeds_site: FeedServer, env: dict[str, str],
                                                   tmp_path: Path) -> None:  # fmt: skip
    secret = tmp_path / "secret.vtt"
    secret.write_text(VTT.format(text=SECRET))
    base = f"http://127.0.0.1:{feeds_site.port}"
    urls = [publish(feeds_site, f"served {name}", case)
            for name, case in cases(base, secret).items() if not case.reason]  # fmt: skip
    assert run(["add", *urls], env).exit_code == 0
    db = store.open_db(env["INDEXER_DB"], readonly=True)
    ids = [row[0] for row in db.execute("select id from episodes")]
    db.close()
    assert len(ids) >= 10
    server = Server(env["INDEXER_DB"])
    site = Site(server, ids[0], ids[1], ids[2], 0, [])
    try:
        paths = ["/", "/?q=spoken", "/?q=spoken&page=2", "/api/search?q=spoken&limit=100",
                 "/?q=spoken&mode=advanced", "/api/search?q=lol*&mode=advanced"]  # fmt: skip
        for ep in ids:
            paths += [f"/episodes/{ep}", f"/episodes/{ep}?t=1", f"/api/episodes/{ep}",
                      f"/media/{ep}"] + [f"/episodes/{ep}/transcript.{f}" for f in
                                         ("vtt", "srt", "json", "txt")]  # fmt: skip
        found = [p for path in paths for p in problems(request(site, path), path)]
        assert not found, found
        page = request(site, "/?q=spoken")
        assert page is not None and page.status == 200 and b"<script>alert" not in page.body
    finally:
        server.stop()
    assert server.proc.stderr is not None
    log = server.proc.stderr.read()
    assert not LEAK.search(log), log[-3000:]
