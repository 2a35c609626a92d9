"""Editors' tools through the Flask test client: clip links, embeds, oEmbed, citations, browsing."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient

import web
from indexer import export, store
from indexer.cli import cli
from tests.conftest import add_fake_episode

LINES = [(0.0, "Good evening and welcome to City Desk."),
         (5.0, "The harbour expansion was approved by the council tonight."),
         (10.0, "Critics say the dredging will harm the oyster beds.")]  # fmt: skip


@pytest.fixture
def site(tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / "editor.db"
    db = store.open_db(path)
    podcast = add_fake_episode(db, LINES, title="Harbour vote", media_id="harbour",
                               url="https://citydesk.example/episodes/harbour-vote",
                               speakers=[None, "Mayor Lee", "Ana Ruiz"])  # fmt: skip
    db.execute("update episodes set media_url = 'https://cdn.example/harbour.mp3' where id = ?",
               [podcast])  # fmt: skip
    video = add_fake_episode(db, LINES, title="Video night", media_id="vid")
    db.close()
    return {"path": str(path), "podcast": podcast, "video": video}


@pytest.fixture
def client(site: dict[str, Any]) -> FlaskClient:
    return web.create_app({"DATABASE": site["path"], "TESTING": True}).test_client()


def test_a_hit_carries_its_citation_clip_and_embed(client, site):
    hit = client.get("/api/search?q=harbour+expansion").get_json()["hits"][0]
    cite = hit["citation"]["plain"]
    assert cite.startswith(
        "Mayor Lee: “The harbour expansion was approved by the council tonight.”"
    )
    assert "Test Show, “Harbour vote”, 2024-05-01, 0:00:04–" in cite
    # the publisher's page is the link, the media beside it, and the transcript is automatic
    assert "https://citydesk.example/episodes/harbour-vote#t=4" in cite
    assert "(audio: https://cdn.example/harbour.mp3#t=4," in cite
    assert cite.endswith("Automatic transcript, check against the audio.")
    assert hit["citation"]["markdown"].startswith("> **Mayor Lee:** The harbour expansion")
    assert re.fullmatch(rf"http://localhost/episodes/{site['podcast']}\?t=4\.\d\d&end=\d+\.\d\d",
                        hit["clip_url"])  # fmt: skip
    assert f'src="http://localhost/embed/{site["podcast"]}?t=4.' in hit["embed_html"]


def test_citation_forms():
    c = export.citation("  said  this ", start=2550, end=2610, title="Ep 1", show="Show",
                        published="2024-05-01", link="https://x.example/1")  # fmt: skip
    assert (
        c["plain"] == "“said this” — Show, “Ep 1”, 2024-05-01, 0:42:30–0:43:30. https://x.example/1"
    )
    assert c["markdown"] == ("> said this\n>\n> — Show, *Ep 1*, 2024-05-01, "
                             "[0:42:30–0:43:30](https://x.example/1)")  # fmt: skip
    made = export.citation("x", start=5, automatic=True)["plain"]
    assert made == "“x” — 0:00:05. Automatic transcript, check against the audio."


def test_a_clip_page_plays_a_range(client, site):
    page = client.get(f"/episodes/{site['podcast']}?t=4&end=9.5").get_data(as_text=True)
    assert 'data-start="4.0" data-end="9.5"' in page and 'id="clip-note"' in page
    assert client.get(f"/episodes/{site['podcast']}?t=9&end=4").status_code == 400
    assert client.get(f"/episodes/{site['podcast']}?t=4&end=soon").status_code == 400
    video = client.get(f"/episodes/{site['video']}?t=4&end=9").get_data(as_text=True)
    assert "youtube-nocookie.com/embed/abcdefghijk?start=4&amp;end=9" in video
    # YouTube refuses embeds that send no referrer: its frame sends the origin
    assert 'referrerpolicy="strict-origin-when-cross-origin"' in video


def test_the_embed_page_may_be_framed_by_other_sites_and_nothing_else(client, site):
    embed = client.get(f"/embed/{site['podcast']}?t=4&end=9")
    assert embed.status_code == 200
    assert "frame-ancestors *" in embed.headers["Content-Security-Policy"]
    body = embed.get_data(as_text=True)
    assert "The harbour expansion was approved" in body and "Critics" not in body
    assert "https://cdn.example/harbour.mp3#t=4.00,9.00" in body
    page = client.get(f"/episodes/{site['podcast']}")
    assert "frame-ancestors 'self'" in page.headers["Content-Security-Policy"]
    assert client.get("/embed/999").status_code == 404
    assert client.get(f"/embed/{site['podcast']}?t=9&end=3").status_code == 400


def test_oembed_turns_a_pasted_link_into_the_player(client, site):
    page = client.get(f"/episodes/{site['podcast']}").get_data(as_text=True)
    discovery = re.search(r'<link rel="alternate" type="application/json\+oembed" href="([^"]+)"',
                          page)  # fmt: skip
    assert discovery
    link = f"http://localhost/episodes/{site['podcast']}?t=5&end=9"
    r = client.get("/oembed", query_string={"url": link, "maxwidth": "400"})
    assert r.status_code == 200
    doc = r.get_json()
    assert (doc["version"], doc["type"], doc["title"]) == ("1.0", "rich", "Harbour vote")
    assert doc["width"] == 400 and 'width="400"' in doc["html"]
    assert f'src="http://localhost/embed/{site["podcast"]}?t=5.00&amp;end=9.00"' in doc["html"]
    assert client.get("/oembed", query_string={"url": "https://elsewhere.example/episodes/1"}
                      ).status_code == 404  # fmt: skip
    assert client.get("/oembed", query_string={"url": "http://localhost/episodes/999"}
                      ).status_code == 404  # fmt: skip
    assert client.get("/oembed", query_string={"url": link, "format": "xml"}).status_code == 501
    assert client.get("/oembed", query_string={"url": "http://[::1/x"}).status_code == 404


def test_episode_list_page_and_api(client, site):
    page = client.get("/episodes").get_data(as_text=True)
    assert "Harbour vote" in page and "Video night" in page
    body = client.get("/api/episodes?limit=1").get_json()
    assert body["more"] is True and len(body["episodes"]) == 1
    rest = client.get("/api/episodes?limit=1&offset=1").get_json()
    assert {body["episodes"][0]["title"], rest["episodes"][0]["title"]} == {"Harbour vote",
                                                                          "Video night"}  # fmt: skip
    assert rest["episodes"][0]["url"].startswith("http://localhost/episodes/")
    assert client.get("/api/episodes?limit=0").status_code == 400


def test_the_link_page_takes_a_range_and_shows_the_quote(client, site):
    r = client.get("/link", query_string={"url": "https://citydesk.example/episodes/harbour-vote",
                                          "t": "0:05-0:09"})  # fmt: skip
    body = r.get_data(as_text=True)
    assert r.status_code == 200
    assert "The harbour expansion was approved" in body and "0:00:05–0:00:09" in body
    assert "copy-clip" in body and "data-quote=" in body
    api = client.get("/api/link", query_string={"url": "https://youtu.be/abcdefghijk",
                                                "t": "42:30-43:30"}).get_json()  # fmt: skip
    assert api["embed"].endswith("?start=2550&end=2610&enablejsapi=1")
    assert api["url"] == "https://www.youtube.com/watch?v=abcdefghijk&t=2550s"


def test_long_transcripts_load_light(tmp_path):
    """A 4-hour episode: one set of line buttons, and the page compressed on the wire."""
    path = tmp_path / "long.db"
    db = store.open_db(path)
    words = "and then the council said that the harbour plan would need another vote soon"
    lines = [(i * 4.0, f"{words} {i}.") for i in range(3600)]
    episode = add_fake_episode(db, lines, title="Four hours", media_id="long", window=45.0)
    db.close()
    client = web.create_app({"DATABASE": str(path), "TESTING": True}).test_client()
    page = client.get(f"/episodes/{episode}", headers={"Accept-Encoding": "gzip"})
    assert page.status_code == 200 and page.headers.get("Content-Encoding") == "gzip"
    assert len(page.data) < 300_000, len(page.data)
    import gzip

    html = gzip.decompress(page.data).decode()
    # the lines around ?t= come with the page, the rest from /lines (fetched by its script)
    assert html.count("<button") < 20 and html.count('class="seg') == 400
    assert 'data-first="0" data-last="400" data-total="3600"' in html
    rest = client.get(f"/episodes/{episode}/lines?from=400&to=3600").get_data(as_text=True)
    assert rest.count('class="seg') == 3200 and 'id="s400"' in rest and 'id="s3599"' in rest
    late = client.get(f"/episodes/{episode}?t=3:00:00").get_data(as_text=True)
    at = int(re.search(r'class="seg current" id="s(\d+)"', late).group(1))  # type: ignore[union-attr]
    assert 2690 <= at <= 2700 and f'data-first="{at - 100}"' in late
    whole = client.get(f"/episodes/{episode}?all=1").get_data(as_text=True)
    assert whole.count('class="seg') == 3600 and "more-lines" not in whole
    assert client.get(f"/episodes/{episode}/lines?from=5&to=2").status_code == 400


def test_cli_link_takes_a_range(site):
    runner = CliRunner()
    env = {"INDEXER_DB": site["path"]}
    result = runner.invoke(cli, ["link", "https://citydesk.example/episodes/harbour-vote",
                                 "0:05-0:09", "--json"], env=env)  # fmt: skip
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert (doc["seconds"], doc["end"], doc["time"]) == (5.0, 9.0, "0:00:05–0:00:09")
    assert doc["quote"]["text"].startswith("The harbour expansion was approved")
    plain = runner.invoke(cli, ["link", "https://cdn.example/harbour.mp3", "42:30-43:30"], env=env)
    assert plain.exit_code == 0 and plain.output.splitlines()[0] == (
        "https://cdn.example/harbour.mp3#t=2550,2610"
    )
    bad = runner.invoke(cli, ["link", "https://cdn.example/harbour.mp3", "43:30-42:30"], env=env)
    assert bad.exit_code != 0 and "end must come after" in bad.output


def test_a_show_page_lists_its_episodes(client, site):
    shows = client.get("/episodes").get_data(as_text=True)
    link = re.search(r'href="(/shows/\d+)">', shows)
    assert link
    page = client.get(link.group(1)).get_data(as_text=True)
    assert "Harbour vote" in page and "Video night" in page and "2 episodes indexed" in page
    assert client.get("/shows/999").status_code == 404
    search = client.get("/?q=harbour").get_data(as_text=True)
    assert 'href="/shows/' in search  # a hit's show links to its page
