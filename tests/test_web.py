"""The website and JSON API through Flask's test client, over fake episodes (no model needed)."""

from __future__ import annotations

import json
import re
import sqlite3
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from flask import Flask
from flask.testing import FlaskClient

import web
from indexer import export, store
from indexer.chunk import chunk_segments
from indexer.models import Hit, MediaItem, Transcript
from tests.conftest import add_fake_episode, make_segment
from tests.speech import RATE, write_wav
from tests.test_search import BAD_QUERIES

HOSTILE_TITLE = "<script>alert(1)</script>"
HOSTILE_TEXT = 'Beware <img src=x onerror=alert(1)> of "quotes" & ampersands in the attic.'
PAGE_SIZE = 5
LIGHTHOUSE_LINES = 12  # one chunk each: more hits than fit on two pages


def _local_episode(db, path: Path) -> int:
    """An episode whose audio we hold, the way `indexer add FILE` stores it."""
    segments = (make_segment("The ferry leaves at noon.", 0.2),
                make_segment("Tickets cost four euros.", 2.0))  # fmt: skip
    item = MediaItem(source_url=str(path), extractor="file", media_id="local1",
                     title="Ferry times", webpage_url=path.as_uri(), media_url=path.as_uri(),
                     published="2024-02-02", path=str(path))  # fmt: skip
    transcript = Transcript(segments, "en", 4.0, "test")
    return store.save_episode(db, item, transcript, chunk_segments(segments, 45.0),
                              source_id=store.source_id_for(db, str(path)), chunk_seconds=45.0,
                              local_path=str(path))  # fmt: skip


@pytest.fixture
def site(tmp_path: Path) -> dict[str, int | str]:
    """A database file with ordinary, hostile, paginated and local-media episodes."""
    path = tmp_path / "web.db"
    db = store.open_db(path)
    ids: dict[str, int | str] = {"path": str(path)}
    ids["budget"] = add_fake_episode(
        db,
        [
            (0.0, "Welcome to the show about the city."),
            (4.0, "Today the council approved the new budget for bicycle lanes."),
            (60.0, "Later the mayor said the budget was too small for the harbour."),
        ],
        title="City budget",
        media_id="ep1",
    )
    ids["storm"] = add_fake_episode(
        db,
        [(0.0, "A storm is moving up the coast tonight."), (5.0, "Heavy rain and budget cuts.")],
        title="Storm",
        media_id="ep2",
        url="https://example.com/storm.mp3",
        source="https://other.example/feed",
        published="2023-01-15",
    )
    ids["hostile"] = add_fake_episode(
        db,
        [(0.0, HOSTILE_TEXT), (3.0, "</span></li><script>alert(2)</script> harbour")],
        title=HOSTILE_TITLE,
        media_id="ep3",
        url="javascript:alert(3)",
        source="https://evil.example/feed",
    )
    ids["lighthouse"] = add_fake_episode(
        db,
        [(i * 60.0, f"Part {i}: the lighthouse keeper climbs the stairs.")
         for i in range(LIGHTHOUSE_LINES)],
        title="Lighthouses",
        media_id="ep4",
        url="https://example.com/lighthouse",
    )  # fmt: skip
    wav = write_wav(tmp_path / "ferry.wav", (np.sin(np.arange(RATE * 4) / 10) * 3000))
    ids["local"] = _local_episode(db, wav)
    ids["wav"] = str(wav)
    ids["storm_source"] = store.source_id_for(db, "https://other.example/feed")
    db.close()
    return ids


@pytest.fixture
def app(site) -> Flask:
    return web.create_app({"DATABASE": site["path"], "TESTING": True, "PAGE_SIZE": PAGE_SIZE})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def html(response) -> str:
    return response.get_data(as_text=True)


def title_of(page: str) -> str:
    found = re.search(r"<title>(.*?)</title>", page, re.S)
    assert found
    return found.group(1).strip()


def assert_hostile_escaped(page: str) -> None:
    assert "<script>alert" not in page
    assert "<img src=x" not in page
    assert "onerror=alert(1)>" not in page


# --- search page ----------------------------------------------------------------------


def test_empty_query_shows_the_form_and_a_hint(client):
    for url in ("/", "/?q=", "/?q=%20%20"):
        r = client.get(url)
        assert r.status_code == 200
        page = html(r)
        assert 'name="q"' in page and 'method="get"' in page
        assert "Type words you heard" in page
        assert title_of(page) == "Spoken search"


def test_no_results_says_so(client):
    r = client.get("/?q=zebra")
    assert r.status_code == 200
    assert "No results for “zebra”" in html(r)


def test_results_count_in_title_query_echoed_and_marked(client):
    page = html(client.get("/?q=budget"))
    # Every word "budget": two chunks of City budget (0-45 s, 60 s) and one of Storm.
    assert title_of(page).startswith("3 results for “budget”")
    assert 'value="budget"' in page
    assert "<mark>budget</mark>" in page
    assert page.count('<li class="hit') == 3


def test_hits_are_grouped_by_episode_in_rank_order(client):
    page = html(client.get("/?q=budget"))
    titles = re.findall(r'<h2><a href="/episodes/(\d+)">(.*?)</a></h2>', page)
    assert sorted(t for _, t in titles) == ["City budget", "Storm"]
    assert len(titles) == len({i for i, _ in titles})
    api = client.get("/api/search?q=budget").get_json()
    first_seen = list(dict.fromkeys(h["episode_id"] for h in api["hits"]))
    assert [int(i) for i, _ in titles] == first_seen
    group = page.split('<li class="episode">')[1 + [t for _, t in titles].index("City budget")]
    assert group.count('<li class="hit') == 2
    assert "Test Show" in group and "2024-05-01" in group


def test_hit_has_time_snippet_and_links(client, site):
    page = html(client.get("/?q=bicycle+lanes"))
    # "bicycle" is the 9th word from 4.0 s, 0.4 s apart: 7.2 s, opened 0.5 s early.
    assert f'href="/episodes/{site["budget"]}?t=6.70#at"' in page
    assert ">0:00:06</a>" in page
    assert 'href="https://www.youtube.com/watch?v=abcdefghijk&amp;t=6s"' in page
    assert 'data-link="https://www.youtube.com/watch?v=abcdefghijk&amp;t=6s"' in page
    assert "<mark>bicycle</mark> <mark>lanes</mark>" in page


def test_hostile_metadata_and_transcript_are_text(client, site):
    page = html(client.get("/?q=ampersands"))
    assert_hostile_escaped(page)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Beware &lt;img src=x onerror=alert(1)&gt; of" in page
    assert "&#34;quotes&#34; &amp; <mark>ampersands</mark>" in page
    assert 'href="javascript:' not in page  # a hostile page URL is not made a link
    assert 'class="open"' not in page
    page = html(client.get(f"/episodes/{site['hostile']}"))
    assert_hostile_escaped(page)
    assert "<title>&lt;script&gt;alert(1)&lt;/script&gt; · Spoken search</title>" in page
    assert "&lt;/span&gt;&lt;/li&gt;&lt;script&gt;alert(2)&lt;/script&gt; harbour" in page
    assert 'href="javascript:' not in page
    # The query itself is echoed as text too.
    page = html(client.get("/", query_string={"q": '"><script>alert(4)</script>'}))
    assert "<script>alert(4)" not in page
    assert "&lt;script&gt;alert(4)&lt;/script&gt;" in page


def test_pagination_links_keep_the_query_and_filters(client):
    base = "/?q=lighthouse&from=2024-01-01"
    first = html(client.get(base))
    assert title_of(first).startswith(f"{LIGHTHOUSE_LINES} results")
    assert first.count('<li class="hit') == PAGE_SIZE
    assert 'rel="prev"' not in first
    nxt = re.search(r'rel="next" href="([^"]+)"', first)
    assert nxt
    assert "q=lighthouse" in nxt.group(1) and "from=2024-01-01" in nxt.group(1)
    assert "page=2" in nxt.group(1)
    second = html(client.get(nxt.group(1).replace("&amp;", "&")))
    assert 'rel="prev"' in second and 'rel="next"' in second and "Page 2" in second
    third = html(client.get(base + "&page=3"))
    assert third.count('<li class="hit') == LIGHTHOUSE_LINES - 2 * PAGE_SIZE
    assert 'rel="next"' not in third
    pages = [first, second, third]
    times = [t for p in pages for t in re.findall(r'class="time" href="([^"]+)"', p)]
    assert len(times) == len(set(times)) == LIGHTHOUSE_LINES


def test_source_filter(client, site):
    page = html(client.get(f"/?q=budget&source={site['storm_source']}"))
    assert "Storm" in page and "City budget" not in page
    assert f'<option value="{site["storm_source"]}" selected>' in page
    page = html(client.get("/?q=budget&source=https://other.example/feed"))
    assert title_of(page).startswith("1 result for")
    assert "No results" in html(client.get("/?q=budget&source=no-such-show"))


def test_date_filters(client):
    page = html(client.get("/?q=budget&from=2024-01-01"))
    assert "City budget" in page and ">Storm<" not in page
    assert 'value="2024-01-01"' in page
    page = html(client.get("/?q=budget&to=2023-12-31"))
    assert ">Storm<" in page and "City budget" not in page
    page = html(client.get("/?q=budget&from=2023-01-01&to=2024-12-31"))
    assert title_of(page).startswith("3 results")


@pytest.mark.parametrize("bad", ["2024-13-45", "yesterday", "01/02/2024", "%00"])
def test_bad_date_is_a_clear_400_with_the_form(client, bad):
    r = client.get(f"/?q=budget&from={bad}")
    assert r.status_code == 400
    page = html(r)
    assert "YYYY-MM-DD" in page and 'name="q"' in page
    r = client.get(f"/api/search?q=budget&to={bad}")
    assert r.status_code == 400 and "YYYY-MM-DD" in r.get_json()["message"]


def test_advanced_mode(client):
    page = html(client.get("/?q=budg*&mode=advanced"))
    assert title_of(page).startswith("3 results")
    assert '<option value="advanced" selected>' in page
    r = client.get("/?q=budget+AND+(&mode=advanced")
    assert r.status_code == 400
    assert "invalid search syntax" in html(r)


def test_over_long_query_is_refused_clearly(client):
    r = client.get("/", query_string={"q": "a" * 10_000})
    assert r.status_code == 400
    assert "too long" in html(r)
    r = client.get("/api/search", query_string={"q": "budget " * 1000})
    assert r.status_code == 400
    assert "too long" in r.get_json()["message"]


# --- episode page, transcripts, media -------------------------------------------------


def test_episode_page_lists_every_segment_with_its_time(client, site):
    r = client.get(f"/episodes/{site['budget']}")
    assert r.status_code == 200
    page = html(r)
    assert title_of(page) == "City budget · Spoken search"
    assert page.count('class="seg') == 3
    for time, text in [("0:00:00", "Welcome to the show"), ("0:00:04", "approved the new budget"),
                       ("0:01:00", "too small for the harbour")]:  # fmt: skip
        assert re.search(rf">{time}</a>\s*<span class=\"text\"[^>]*>[^<]*{text}", page)
    assert 'data-s="60.00"' in page
    # A YouTube episode plays in the privacy-enhanced embed.
    assert 'src="https://www.youtube-nocookie.com/embed/abcdefghijk?start=0' in page
    for fmt in export.FORMATS:
        assert f'href="/episodes/{site["budget"]}/transcript.{fmt}?download=1"' in page


def test_episode_page_at_a_time_marks_that_line(client, site):
    page = html(client.get(f"/episodes/{site['budget']}?t=62"))
    current = re.findall(r'<li class="seg current"[^>]*data-s="([\d.]+)"', page)
    assert current == ["60.00"]
    assert '<span id="at"></span>' in page
    assert 'data-start="62.0"' in page
    page = html(client.get(f"/episodes/{site['budget']}?t=1:02"))
    assert re.findall(r'<li class="seg current"[^>]*data-s="([\d.]+)"', page) == ["60.00"]
    assert "embed/abcdefghijk?start=62" in page
    # In the pause before a line (where a hit opens, just before its first word): that line.
    page = html(client.get(f"/episodes/{site['budget']}?t=50"))
    assert re.findall(r'<li class="seg current"[^>]*data-s="([\d.]+)"', page) == ["60.00"]
    page = html(client.get(f"/episodes/{site['budget']}?t=3600"))
    assert re.findall(r'<li class="seg current"[^>]*data-s="([\d.]+)"', page) == ["60.00"]
    page = html(client.get(f"/episodes/{site['budget']}"))
    assert re.findall(r'<li class="seg current"[^>]*data-s="([\d.]+)"', page) == ["0.00"]


@pytest.mark.parametrize("t", ["abc", "-5", "1:99:99:99", "1e400", "%00", "nan", "inf"])
def test_episode_bad_time_is_400(client, site, t):
    r = client.get(f"/episodes/{site['budget']}?t={t}")
    assert r.status_code == 400
    assert "as a time" in html(r)


@pytest.mark.parametrize("path", ["/episodes/9999", "/episodes/0", "/episodes/-1",
                                  "/episodes/abc", "/episodes/99999999999999999999999",
                                  "/episodes/1.5", "/episodes/9999/transcript.srt",
                                  "/media/99999999999999999999999"])  # fmt: skip
def test_missing_episode_is_404(client, path):
    r = client.get(path)
    assert r.status_code == 404
    assert "Not found" in html(r)


def test_transcripts_are_served_inline_for_players_and_download_on_request(client, site):
    ep = site["budget"]
    # The Podcasting 2.0 <podcast:transcript> types, readable by players on other sites.
    expected = {"srt": "application/x-subrip", "vtt": "text/vtt", "json": "application/json",
                "txt": "text/plain"}  # fmt: skip
    bodies = {}
    for fmt, mime in expected.items():
        r = client.get(f"/episodes/{ep}/transcript.{fmt}")
        assert r.status_code == 200, fmt
        assert r.mimetype == mime
        assert r.headers["Access-Control-Allow-Origin"] == "*"
        assert "Content-Disposition" not in r.headers
        download = client.get(f"/episodes/{ep}/transcript.{fmt}?download=1")
        assert download.mimetype == mime and download.data == r.data
        assert download.headers["Content-Disposition"] == (
            f'attachment; filename="episode-{ep}.{fmt}"'
        )
        bodies[fmt] = html(r)
        assert "approved" in bodies[fmt]
    assert bodies["vtt"].startswith("WEBVTT")
    assert "00:01:00,000 -->" in bodies["srt"]
    assert [s.text for s in export.parse_transcript(bodies["srt"], "srt")][0].startswith("Welcome")
    doc = json.loads(bodies["json"])
    assert doc["segments"][0]["startTime"] == 0.0
    assert any(s["startTime"] == 60.0 for s in doc["segments"])
    # The hostile transcript is served as data, never as HTML.
    r = client.get(f"/episodes/{site['hostile']}/transcript.txt")
    assert r.mimetype == "text/plain" and r.headers["X-Content-Type-Options"] == "nosniff"
    assert "<img src=x onerror=alert(1)>" in html(r)


@pytest.mark.parametrize("fmt", ["pdf", "html", "SRT", "srt.exe", ""])
def test_unknown_transcript_format_is_404(client, site, fmt):
    assert client.get(f"/episodes/{site['budget']}/transcript.{fmt}").status_code == 404


def test_media_is_served_with_ranges_only_when_held(client, site):
    ep = site["local"]
    size = Path(site["wav"]).stat().st_size
    r = client.get(f"/media/{ep}")
    assert r.status_code == 200
    assert r.mimetype in ("audio/wav", "audio/x-wav")
    assert r.headers["Accept-Ranges"] == "bytes"
    assert len(r.data) == size
    r = client.get(f"/media/{ep}", headers={"Range": "bytes=100-199"})
    assert r.status_code == 206
    assert r.headers["Content-Range"] == f"bytes 100-199/{size}"
    assert r.data == Path(site["wav"]).read_bytes()[100:200]
    r = client.get(f"/media/{ep}", headers={"Range": f"bytes={size + 10}-"})
    assert r.status_code == 416
    page = html(client.get(f"/episodes/{ep}"))
    assert f'<audio id="player" controls preload="metadata" src="/media/{ep}">' in page
    assert client.get(f"/media/{site['budget']}").status_code == 404  # no local copy
    Path(site["wav"]).unlink()
    assert client.get(f"/media/{ep}").status_code == 404  # the copy is gone
    page = html(client.get(f"/episodes/{ep}"))
    assert "<audio" not in page  # file:// media can't be played from the page


def test_direct_media_episode_plays_the_original(client, site):
    page = html(client.get(f"/episodes/{site['storm']}"))
    assert (
        '<audio id="player" controls preload="metadata" src="https://example.com/storm.mp3">'
        in page
    )


# --- link maker ------------------------------------------------------------------------


def test_link_page(client):
    r = client.get("/link")
    assert r.status_code == 200 and 'name="url"' in html(r) and "message error" not in html(r)
    r = client.get("/link", query_string={"url": "https://youtu.be/dQw4w9WgXcQ", "t": "42:30"})
    page = html(r)
    assert r.status_code == 200
    assert 'href="https://www.youtube.com/watch?v=dQw4w9WgXcQ&amp;t=2550s"' in page
    assert 'data-link="https://www.youtube.com/watch?v=dQw4w9WgXcQ&amp;t=2550s"' in page
    assert 'value="42:30"' in page


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"url": "https://youtu.be/dQw4w9WgXcQ", "t": "soon"}, "as a time"),
        ({"t": "42:30"}, "Give the URL"),
        ({"url": "   ", "t": "1"}, "Give the URL"),
        ({"url": "https://x.example/" + "a" * 3000}, "too long"),
        ({"url": "javascript:alert(1)", "t": "3"}, "http"),
        ({"url": "/etc/passwd", "t": "3"}, "http"),
    ],
)
def test_link_errors(client, query, message):
    r = client.get("/link", query_string=query)
    assert r.status_code == 400
    assert message in html(r)
    assert 'href="javascript:' not in html(r) and "file:///" not in html(r)
    r = client.get("/api/link", query_string=query)
    assert r.status_code == 400
    assert r.is_json and message in r.get_json()["message"]


def test_api_link(client):
    r = client.get("/api/link?url=https://example.com/ep.mp3&t=1:02:03")
    assert r.status_code == 200
    assert r.get_json() == {"url": "https://example.com/ep.mp3#t=3723", "start": 3723.0,
                            "end": None, "time": "1:02:03", "platform": "media", "embed": None,
                            "quote": None}  # fmt: skip
    ranged = client.get("/api/link?url=https://example.com/ep.mp3&t=42:30-43:30").get_json()
    assert ranged["url"] == "https://example.com/ep.mp3#t=2550,2610"
    assert (ranged["start"], ranged["end"], ranged["time"]) == (2550.0, 2610.0, "0:42:30–0:43:30")
    assert client.get("/api/link?url=https://example.com/ep.mp3&t=43:30-42:30").status_code == 400
    assert client.get("/api/link?url=https://vimeo.com/123").get_json()["url"] == (
        "https://vimeo.com/123#t=0s"
    )


# --- JSON API ----------------------------------------------------------------------------


def test_api_search_returns_hits_like_the_cli(client, site):
    r = client.get("/api/search?q=bicycle+lanes")
    assert r.status_code == 200 and r.is_json
    body = r.get_json()
    assert body["query"] == "bicycle lanes" and body["total"] == 1
    assert body["limit"] == 20 and body["offset"] == 0
    hit = body["hits"][0]
    fields = Hit(1, "t", 0, 0, "", "", "", 1, 0).as_dict().keys()
    assert set(hit) == {*fields, "citation", "clip_url", "embed_html"}  # what an editor copies
    assert hit["episode_id"] == site["budget"] and hit["start"] == 6.7
    assert hit["clip_url"].startswith(f"http://localhost/episodes/{site['budget']}?t=6.70&end=")
    assert "City budget" in hit["citation"]["plain"] and "bicycle" in hit["citation"]["plain"]
    assert hit["embed_html"].startswith(
        f'<iframe src="http://localhost/embed/{site["budget"]}?t=6.70'
    )
    assert hit["url"] == "https://www.youtube.com/watch?v=abcdefghijk&t=6s"
    assert store.MARK_START in hit["snippet"]


def test_api_search_limit_offset_and_filters(client, site):
    body = client.get("/api/search?q=lighthouse&limit=3&offset=4").get_json()
    assert body["total"] == LIGHTHOUSE_LINES and len(body["hits"]) == 3 and body["offset"] == 4
    everything = client.get("/api/search?q=lighthouse&limit=100").get_json()["hits"]
    assert [h["chunk_id"] for h in body["hits"]] == [h["chunk_id"] for h in everything[4:7]]
    body = client.get(f"/api/search?q=budget&source={site['storm_source']}").get_json()
    assert {h["title"] for h in body["hits"]} == {"Storm"}
    body = client.get("/api/search?q=budget&from=2024-01-01&to=2024-12-31").get_json()
    assert {h["title"] for h in body["hits"]} == {"City budget"}
    body = client.get("/api/search?q=budg*&mode=advanced").get_json()
    assert body["total"] == 3


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "Missing query"),
        ("q=", "Missing query"),
        ("q=%20", "Missing query"),
        ("q=budget&limit=0", "between"),
        ("q=budget&limit=101", "between"),
        ("q=budget&limit=-1", "between"),
        ("q=budget&limit=1e9", "whole number"),
        ("q=budget&limit=abc", "whole number"),
        ("q=budget&offset=-1", "between"),
        ("q=budget&offset=99999999999999999999", "between"),
        ("q=budget+AND+(&mode=advanced", "invalid search syntax"),
        ("q=NEAR(&mode=advanced", "invalid search syntax"),
        ("q=%22&mode=advanced", "invalid search syntax"),
    ],
)
def test_api_search_errors_are_json_400(client, query, message):
    r = client.get(f"/api/search?{query}")
    assert r.status_code == 400
    assert r.is_json
    body = r.get_json()
    assert body["error"] == "Bad Request" and message in body["message"]


def test_api_episode(client, site):
    body = client.get(f"/api/episodes/{site['hostile']}").get_json()
    assert body["episode"]["title"] == HOSTILE_TITLE  # JSON carries the data as it is
    assert body["segments"][0]["text"] == HOSTILE_TEXT
    body = client.get(f"/api/episodes/{site['budget']}").get_json()
    assert body["episode"]["id"] == site["budget"]
    assert body["episode"]["source_url"] == "https://example.com/feed.xml"
    assert [s["start"] for s in body["segments"]] == [0.0, 4.0, 60.0]
    assert body["segments"][2]["url"] == "https://www.youtube.com/watch?v=abcdefghijk&t=60s"
    local = client.get(f"/api/episodes/{site['local']}").get_json()
    assert "local_path" not in local["episode"]  # server paths stay private


@pytest.mark.parametrize("path", ["/api/episodes/9999", "/api/episodes/abc", "/api/nothing",
                                  "/api/episodes/99999999999999999999999"])  # fmt: skip
def test_api_not_found_is_json(client, path):
    r = client.get(path)
    assert r.status_code == 404 and r.is_json
    assert r.get_json()["message"]


def test_api_wrong_method_is_json(client):
    r = client.post("/api/search?q=budget")
    assert r.status_code == 405 and r.is_json


# --- hostile query strings ---------------------------------------------------------------

HOSTILE_QUERY_STRINGS = [
    "q=%00",
    "q=budget%00council",
    "q=%ff%fe",
    "q=%ff%fe&mode=advanced",
    "q=%E2%80",
    "q=%",
    "q=%%%25%zz",
    "q=budget&q=harbour&q=%00",
    "q=budget&limit=1&limit=2&offset=x&offset=1",
    "q=budget&limit=-1",
    "q=budget&limit=1e9",
    "q=budget&offset=99999999999999999999",
    "q=budget&page=0",
    "q=budget&page=abc",
    "q=budget&page=-1",
    "q=budget&page=99999999999999999999",
    "q=budget&page=%00",
    "q=budget&source=%00",
    "q=budget&source=" + "x" * 5000,
    "q=budget&source=1%20or%201=1",
    "q=budget&from=%00&to=%ff",
    "q=budget&from=9999-12-31",
    "q=budget&from=0001-01-01&to=0001-01-01",
    "q=budget&mode=advanced&source=%00",
    "q=%00&mode=advanced",
    "q=" + "a" * 10_000,
    "q=" + "%F0%9F%99%82" * 3000,
    "q=" + "budget+OR+" * 40 + "x&mode=advanced",
    "q=" + "(" * 200 + "&mode=advanced",
    "q=a*b*c*&mode=advanced",
    "q=chunks_fts:budget&mode=advanced",
    "q=rank:1&mode=advanced",
    "q=budget&mode=%00",
    "&&&===&&",
    "q",
    "q=&q=budget",
    "%00=%00",
]


@pytest.mark.parametrize("query", BAD_QUERIES)
@pytest.mark.parametrize("advanced", [False, True])
def test_no_query_text_causes_a_server_error(client, query, advanced):
    params = {"q": query, **({"mode": "advanced"} if advanced else {})}
    r = client.get("/", query_string=params)
    assert r.status_code < 500
    assert r.status_code in (200, 400)
    r = client.get("/api/search", query_string=params)
    assert r.status_code in (200, 400)
    assert r.is_json
    if r.status_code == 400:
        assert r.get_json()["message"]


@pytest.mark.parametrize("query", HOSTILE_QUERY_STRINGS)
def test_hostile_query_strings_never_500(client, site, query):
    for path in ("/", "/api/search", f"/episodes/{site['budget']}", "/link", "/api/link"):
        r = client.get(f"{path}?{query}")
        assert r.status_code < 500, (path, r.status_code)
        if path.startswith("/api/"):
            assert r.is_json, path
            if r.status_code >= 400:
                assert r.get_json()["message"]


# --- headers, assets, read-only ----------------------------------------------------------

ALL_PATHS = ["/", "/?q=budget", "/?q=budget&from=bad", "/episodes/1", "/episodes/1?t=1",
             "/episodes/1/transcript.srt", "/episodes/999", "/media/1", "/link",
             "/link?url=https://youtu.be/dQw4w9WgXcQ&t=5", "/api/search?q=budget", "/api/search",
             "/api/episodes/1", "/api/episodes/999", "/api/link?url=x", "/static/app.css",
             "/static/app.js", "/nowhere"]  # fmt: skip


@pytest.mark.parametrize("path", ALL_PATHS)
def test_every_response_has_a_content_security_policy(client, path):
    r = client.get(path)
    assert r.status_code < 500
    csp = r.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "object-src 'none'" in csp
    assert r.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("host", ["a..b", "a..b:8000", ".", "x" * 64 + ".com"])
def test_a_bad_host_header_is_a_plain_400_on_every_path(client, site, host):
    for path in ["/", "/?q=budget", f"/episodes/{site['budget']}", "/link", "/nowhere",
                 f"/episodes/{site['budget']}/transcript.srt", "/static/app.css"]:  # fmt: skip
        r = client.get(path, headers={"Host": host})
        assert r.status_code == 400, (host, path)
        assert r.mimetype == "text/plain" and "Host header" in html(r), path
        assert r.headers["Content-Security-Policy"]
    r = client.get("/api/search?q=budget", headers={"Host": host})
    assert r.status_code == 400 and "Host header" in r.get_json()["message"]


class _Refs(HTMLParser):
    """Every URL attribute of a page: (tag, attribute, value, attrs)."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[tuple[str, str, str, dict[str, str | None]]] = []
        self.inline_scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        for name in ("src", "href", "action", "poster", "srcset"):
            if found.get(name) is not None:
                self.refs.append((tag, name, found[name] or "", found))
        if tag == "script" and not found.get("src"):
            self.inline_scripts += 1
        if any(name.startswith("on") for name in found):
            raise AssertionError(f"inline event handler on <{tag}>")


def _external(url: str) -> bool:
    """Whether url names a host (scheme://host or //host) rather than a path on ours."""
    return bool(re.match(r"^\s*([a-z][a-z0-9+.-]*:)?//", url, re.I))


def test_pages_load_nothing_from_other_hosts(client, site):
    pages = ["/", "/?q=budget", "/?q=ampersands", "/?q=lighthouse", f"/episodes/{site['local']}",
             f"/episodes/{site['hostile']}", "/link?url=https://youtu.be/dQw4w9WgXcQ&t=5",
             "/episodes/999"]  # fmt: skip
    for path in pages:
        parser = _Refs()
        parser.feed(html(client.get(path)))
        assert parser.inline_scripts == 0, path
        assert parser.refs, path
        for tag, name, value, attrs in parser.refs:
            if tag == "link" and attrs.get("type") == "application/json+oembed":
                assert value.startswith("http://localhost/oembed?"), value  # this site's
                continue
            if tag == "a" and name == "href" and _external(value):
                # Hit links and "Original" open the source in a new tab, without a referrer.
                assert "noopener" in (attrs.get("rel") or ""), (path, value)
                assert "noreferrer" in (attrs.get("rel") or ""), (path, value)
                continue
            assert not _external(value), (path, tag, name, value)
            assert not value.lower().startswith(("javascript:", "data:text")), (path, value)


def test_static_files_and_templates_name_no_other_host():
    root = Path(web.__file__).parent
    for file in [*root.glob("static/*"), *root.glob("templates/*.html")]:
        text = file.read_text()
        assert not re.search(r"""(src|href|action)\s*=\s*["']?\s*(https?:)?//""", text), file
        assert not re.search(r"url\(\s*[\"']?(https?:)?//", text), file
        assert not re.search(r"@import", text), file
        assert "<style" not in text and " style=" not in text, file
        if file.suffix == ".html":
            assert not re.search(r"<script(?![^>]*\bsrc=)", text), file  # no inline scripts


def test_the_app_only_reads_the_database(app, site):
    before = Path(site["path"]).read_bytes()
    client = app.test_client()
    for path in ["/?q=budget", f"/episodes/{site['budget']}", "/api/search?q=harbour"]:
        assert client.get(path).status_code == 200
    with app.app_context():
        db = web.get_db()
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            db.execute("delete from episodes")
    assert Path(site["path"]).read_bytes() == before


@pytest.mark.parametrize("kind", ["missing", "empty", "not-sqlite", "other-sqlite"])
def test_no_usable_database_is_a_clear_503_and_creates_nothing(tmp_path, kind):
    path = tmp_path / "sub" / "none.db"
    if kind != "missing":
        path.parent.mkdir()
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "not-sqlite":
        path.write_bytes(b"hello" * 100)
    elif kind == "other-sqlite":
        conn = sqlite3.connect(path)
        conn.execute("create table t (a)")
        conn.commit()
        conn.close()
    before = sorted(p.name for p in tmp_path.rglob("*"))
    app = web.create_app({"DATABASE": str(path), "TESTING": True})
    client = app.test_client()
    r = client.get("/?q=budget")
    assert r.status_code == 503
    assert "database" in html(r) or "index something" in html(r)
    assert "Traceback" not in html(r)
    r = client.get("/api/search?q=budget")
    assert r.status_code == 503 and r.is_json and r.get_json()["message"]
    assert client.get("/episodes/1").status_code == 503
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_speakers_in_page_api_search_and_exports(tmp_path: Path) -> None:
    path = tmp_path / "voices.db"
    db = store.open_db(path)
    episode = add_fake_episode(
        db, [(0.0, "Welcome to the lighthouse hour."), (3.0, "Thanks for having me.")],
        title="Voices", media_id="v1", speakers=["Ana Ruiz", "Ben <Okafor>"],
    )  # fmt: skip
    db.close()
    client = web.create_app({"DATABASE": str(path), "TESTING": True}).test_client()
    page = client.get(f"/episodes/{episode}").get_data(as_text=True)
    assert '<span class="speaker">Ana Ruiz:</span>' in page
    assert 'data-speaker="Ben &lt;Okafor&gt;"' in page  # escaped like any text
    api = client.get(f"/api/episodes/{episode}").get_json()
    assert [s["speaker"] for s in api["segments"]] == ["Ana Ruiz", "Ben <Okafor>"]
    hit = client.get("/api/search?q=having+me").get_json()["hits"][0]
    assert hit["speaker"] == "Ben <Okafor>"
    vtt = client.get(f"/episodes/{episode}/transcript.vtt").get_data(as_text=True)
    assert "<v Ana Ruiz>Welcome" in vtt and "<v Ben &lt;Okafor&gt;>Thanks" not in vtt
    assert export.parse_transcript(vtt)[1].speaker == "Ben Okafor"  # '<' '>' can't be in a voice
    doc = json.loads(client.get(f"/episodes/{episode}/transcript.json").get_data(as_text=True))
    assert {e["speaker"] for e in doc["segments"]} == {"Ana Ruiz", "Ben <Okafor>"}
    txt = client.get(f"/episodes/{episode}/transcript.txt").get_data(as_text=True)
    assert "] Ana Ruiz: Welcome to the lighthouse hour." in txt


def test_a_stored_malformed_url_gives_no_server_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.db"
    db = store.open_db(path)
    episode = add_fake_episode(db, [(0.0, "The quay was closed by the storm.")],
                               title="Bad link", media_id="bad", url="http://[::1/x.mp3")  # fmt: skip
    db.close()
    client = web.create_app({"DATABASE": str(path), "TESTING": True}).test_client()
    for url in ("/?q=quay", "/api/search?q=quay", f"/episodes/{episode}",
                f"/api/episodes/{episode}"):  # fmt: skip
        assert client.get(url).status_code == 200, url
    assert client.get("/api/search?q=quay").get_json()["hits"][0]["url"] == ""


def test_the_search_mode_is_checked(client):
    assert client.get("/?q=budget&mode=wordy").status_code == 400
    assert client.get("/api/search?q=budget&mode=wordy").status_code == 400
    # meaning search before `indexer embed` says what to do, with a 400, not a 500
    r = client.get("/api/search?q=budget&mode=semantic")
    assert r.status_code == 400 and "run 'indexer embed'" in r.get_json()["message"]
    assert "run &#39;indexer embed&#39;" in html(client.get("/?q=budget&mode=semantic"))
    # hybrid, the default, searches by keyword until there are vectors
    hybrid = client.get("/api/search?q=budget&mode=hybrid").get_json()["hits"]
    assert hybrid and hybrid == client.get("/api/search?q=budget&mode=keyword").get_json()["hits"]
