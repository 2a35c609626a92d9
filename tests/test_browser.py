"""The website in a real headless Chromium, served by waitress over an index made by the real model."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from indexer import download, links, pipeline, store
from indexer.config import Settings
from tests.conftest import Recording, add_fake_episode

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--autoplay-policy=no-user-gesture-required",
]
HOSTILE_TITLE = "<script>alert(1)</script>"
HOSTILE_TEXT = "Beware <img src=x onerror=alert(1)> the kraken of the deep."
# The first words of the harbour recording's second line: the hit is where that line starts.
QUERY = "container ships getting bigger"
SPOKEN = [(0.0, "Welcome to the lighthouse hour."), (3.0, "Today we talk about tides."),
          (6.0, "Thanks for having me on.")]  # fmt: skip

if not Path(CHROMIUM).exists():  # quickstart.sh installs it; never download a browser
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)", allow_module_level=True)


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory, cache_dir: Path, recordings: dict[str, Recording]
) -> dict[str, Any]:
    """One spoken recording indexed by the real model (local file, so we serve its audio)."""
    root = tmp_path_factory.mktemp("browser")
    settings = Settings(db=str(root / "web.db"), cache_dir=str(cache_dir),
                        media_dir=str(root / "media"), language="en")  # fmt: skip
    rec = recordings["harbour"]
    item = download.local_item(str(rec.path))
    item.title, item.description = rec.title, rec.description
    db = store.open_db(settings.db)
    result = pipeline.index_item(db, item, settings)
    assert result.status == "indexed", result.error
    hostile = add_fake_episode(
        db,
        [(0.0, HOSTILE_TEXT), (4.0, '"Quotes" & ampersands </li><script>alert(2)</script>')],
        title=HOSTILE_TITLE,
        media_id="evil",
        url="javascript:alert(3)",
        source="https://evil.example/feed",
    )
    speakers = add_fake_episode(
        db, SPOKEN, title="Two voices", media_id="voices", url="https://ex.org/episodes/voices",
        speakers=["Ana Ruiz", "Ana Ruiz", "Ben Okafor"],
    )  # fmt: skip
    db.close()
    return {"db": settings.db, "episode": result.episode_id, "hostile": hostile, "rec": rec,
            "speakers": speakers}  # fmt: skip


@pytest.fixture(scope="module")
def base_url(site: dict[str, Any]) -> Iterator[str]:
    """`indexer serve` itself (gunicorn, two worker processes: an editor's session must hold
    across them) on a free local port."""
    from tests.test_server import Server

    server = Server(site["db"], "--workers", "2", "--threads", "4")
    yield server.base
    assert server.stop() == 0


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Watched:
    """A page with everything it requested, dialogs it opened and script errors it hit."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("dialog", self._dialog)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("console", self._console)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def _console(self, message: Any) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            self.errors.append(message.text)


def _watched(browser: Browser, base_url: str, **options: Any) -> Iterator[Watched]:
    context = browser.new_context(base_url=base_url, **options)
    if options.get("java_script_enabled", True):
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base_url)
    watched = Watched(context.new_page())
    yield watched
    context.close()
    # Whatever a test did: nothing left 127.0.0.1, no dialog, no script error, no CSP breach.
    outside = [u for u in watched.requests if not u.startswith((base_url + "/", "data:", "blob:"))]
    assert outside == []
    assert watched.dialogs == []
    assert watched.errors == []


@pytest.fixture
def tab(browser: Browser, base_url: str) -> Iterator[Watched]:
    yield from _watched(browser, base_url, viewport={"width": 1100, "height": 800})


@pytest.fixture
def phone(browser: Browser, base_url: str) -> Iterator[Watched]:
    yield from _watched(browser, base_url, viewport={"width": 375, "height": 740},
                        is_mobile=True, has_touch=True, device_scale_factor=2)  # fmt: skip


@pytest.fixture
def no_js(browser: Browser, base_url: str) -> Iterator[Watched]:
    yield from _watched(browser, base_url, java_script_enabled=False)


def search(page: Page, text: str) -> None:
    """Type a query into the search box and submit it with Enter, as a person would."""
    page.goto("/")
    box = page.locator("input[name=q]")
    box.fill(text)
    box.press("Enter")
    page.wait_for_selector("li.hit")


def api_hit(page: Page, text: str) -> dict[str, Any]:
    response = page.request.get("/api/search", params={"q": text, "limit": "1"})
    assert response.ok
    return response.json()["hits"][0]


def copied(page: Page) -> str:
    """What the last copy put on the clipboard (waits for the async copy to finish)."""
    page.wait_for_function("() => window.lastCopied !== undefined")
    text = page.evaluate("navigator.clipboard.readText()")
    assert text == page.evaluate("window.lastCopied")
    page.evaluate("window.lastCopied = undefined")
    return str(text)


def test_typed_query_finds_the_spoken_line(tab, site):
    page = tab.page
    search(page, QUERY)
    assert QUERY in page.title()
    first = page.locator("li.hit").first
    assert "bigger" in first.locator(".snippet mark").all_inner_texts()
    assert page.locator("li.episode h2").first.inner_text() == site["rec"].title
    line = site["rec"].lines[1]
    hit = api_hit(page, QUERY)
    assert line.start - 2.0 <= hit["start"] <= line.start + 0.5
    assert first.locator("a.time").inner_text() == links.format_time(hit["start"])


def test_clicking_a_time_plays_the_audio_from_there(tab, site):
    page = tab.page
    search(page, QUERY)
    hit = api_hit(page, QUERY)
    page.locator("li.hit a.time").first.click()
    page.wait_for_url(f"**/episodes/{site['episode']}?t={hit['start']:.2f}#at")
    # Landing at ?t= seeks the local audio there once its metadata is in.
    page.wait_for_function("() => document.getElementById('player').readyState >= 1")
    page.wait_for_function(
        f"() => Math.abs(document.getElementById('player').currentTime - {hit['start']}) < 1"
    )
    assert page.locator(".seg.current").count() == 1
    line = page.locator(f"#{page.locator('.seg.current').get_attribute('id')}")
    assert "Container" in line.inner_text()  # the line with the words, not the one before
    # Play from the start of the line holding the hit.
    page.evaluate("document.getElementById('player').currentTime = 0")
    line.locator("a.time").click()
    page.wait_for_function("() => !document.getElementById('player').paused")
    now = page.evaluate("document.getElementById('player').currentTime")
    assert abs(now - hit["start"]) < 1.0
    assert page.url.endswith(f"?t={line.get_attribute('data-s')}#{line.get_attribute('id')}")
    # While it plays, the line being spoken is highlighted.
    last = page.locator(".seg").last
    page.evaluate(f"document.getElementById('player').currentTime = {last.get_attribute('data-s')}")
    page.wait_for_function(
        "() => document.querySelector('.seg:last-child').classList.contains('current')"
    )
    assert page.locator(".seg.current").count() == 1
    page.evaluate("document.getElementById('player').pause()")


def test_copy_link_and_quotes_of_a_hit(tab, site):
    page = tab.page
    search(page, QUERY)
    hit = api_hit(page, QUERY)
    first = page.locator("li.hit").first
    first.locator("button.copy-link").click()
    assert copied(page) == hit["url"]
    assert hit["url"].endswith(f"#t={int(hit['start'])}")
    first.locator("button.copy-quote").click()
    quote = copied(page)
    # what a newsroom prints: words, show, title, date, the range, the link, and a warning
    assert quote == hit["citation"]["plain"]
    assert f"“{site['rec'].title}”" in quote and "bigger" in quote.lower()
    assert links.format_time(hit["start"]) + "–" in quote
    assert "Automatic transcript, check against the audio." in quote
    first.locator("button.copy-md").click()
    markdown = copied(page)
    assert markdown == hit["citation"]["markdown"] and markdown.startswith("> ")
    assert (
        f"*{site['rec'].title}*" in markdown and f"[{links.format_time(hit['start'])}–" in markdown
    )


def test_quote_of_several_selected_lines(tab, site):
    page = tab.page
    page.goto(f"/episodes/{site['episode']}")
    assert page.locator("#selection-actions").is_hidden()
    segs = page.locator(".seg")
    assert segs.count() >= 3
    first, second = segs.nth(1), segs.nth(2)
    texts = [
        first.locator(".text").inner_text().strip(),
        second.locator(".text").inner_text().strip(),
    ]
    page.evaluate(
        """() => {
          const segs = document.querySelectorAll('.seg .text');
          const range = document.createRange();
          range.setStart(segs[1].firstChild, 0);
          range.setEnd(segs[2].firstChild, segs[2].firstChild.length);
          const sel = window.getSelection();
          sel.removeAllRanges();
          sel.addRange(range);
        }"""
    )
    page.wait_for_selector("#selection-actions", state="visible")
    page.locator("#copy-selection").click()
    quote = copied(page)
    start = float(first.get_attribute("data-s") or 0)
    end = float(second.get_attribute("data-e") or 0)
    span = f"{links.format_time(start)}–{links.format_time(end)}"
    assert f"{texts[0]} {texts[1]}" in quote
    assert span in quote and site["rec"].title in quote
    media = f"{site['rec'].path.as_uri()}#t={int(start)},{math.ceil(end)}"
    assert media in quote  # the recording's own range link
    page.locator("#copy-selection-md").click()
    markdown = copied(page)
    assert markdown.startswith(f"> {texts[0]}")
    assert f"[{span}](" in markdown and f"[audio]({media})" in markdown


def test_quotes_name_the_speakers(tab, site):
    page = tab.page
    page.goto(f"/episodes/{site['speakers']}")
    assert page.locator(".seg .speaker").all_inner_texts() == ["Ana Ruiz:", "Ana Ruiz:",
                                                               "Ben Okafor:"]  # fmt: skip
    page.locator(".seg").nth(2).hover()
    page.locator(".seg").nth(2).locator("button.copy-quote").click()
    assert copied(page).startswith("Ben Okafor: “Thanks for having me on.”")
    page.evaluate(
        """() => {
          const segs = document.querySelectorAll('.seg .text');
          const range = document.createRange();
          range.setStart(segs[0].firstChild, 0);
          range.setEnd(segs[2].firstChild, segs[2].firstChild.length);
          window.getSelection().removeAllRanges();
          window.getSelection().addRange(range);
        }"""
    )
    page.wait_for_selector("#selection-actions", state="visible")
    page.locator("#copy-selection").click()
    assert copied(page).startswith("“Ana Ruiz: Welcome to the lighthouse hour. Today we talk "
                                   "about tides. Ben Okafor: Thanks for having me on.”")  # fmt: skip
    search(page, "lighthouse hour")
    page.locator("li.hit").first.locator("button.copy-quote").click()
    assert copied(page).startswith("Ana Ruiz: “Welcome to the lighthouse hour.")


def test_phone_width_has_no_sideways_scroll(phone, site):
    page = phone.page
    search(page, QUERY)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    assert page.locator("li.hit a.time").first.is_visible()
    page.locator("li.hit a.time").first.click()
    page.wait_for_selector(".seg.current")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    assert page.locator("#player").bounding_box()["width"] <= 375  # type: ignore[index]
    page.goto(
        "/link?url=https://www.youtube.com/watch?v=dQw4w9WgXcQ%26list=PL0123456789abcdef&t=1:02:03"
    )
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    # the link maker's fields take the width of the phone (its URL field was 80 px wide)
    assert page.locator("input[name=url]").bounding_box()["width"] >= 300  # type: ignore[index]
    assert page.locator("input[name=t]").bounding_box()["width"] >= 300  # type: ignore[index]


def test_hostile_title_and_transcript_render_as_text(tab, site):
    page = tab.page
    search(page, "kraken")
    # the word's episode first (meaning search may add others below it)
    found = page.locator("li.episode").first
    assert found.locator("h2").inner_text() == HOSTILE_TITLE
    assert "<img src=x onerror=alert(1)>" in found.locator("li.hit .snippet").first.inner_text()
    assert found.locator("li.hit a.open").count() == 0  # its javascript: URL is not a link
    found.locator("li.hit a.time").first.click()
    page.wait_for_selector(".episode-page")
    assert page.locator("h1").inner_text() == HOSTILE_TITLE
    assert page.title().startswith(HOSTILE_TITLE)
    assert "</li><script>alert(2)</script>" in page.locator(".transcript").inner_text()
    assert page.locator("img, main script").count() == 0
    assert tab.dialogs == []


def test_search_works_without_javascript(no_js, site):
    page = no_js.page
    search(page, QUERY)
    assert page.url.startswith(f"{page.url.split('/?')[0]}/?q=container+ships")
    assert page.locator("li.hit").count() >= 1
    assert site["rec"].title in page.locator("li.episode h2").first.inner_text()
    page.locator("li.hit a.time").first.click()
    page.wait_for_selector(".seg.current")


def test_nothing_is_requested_from_other_hosts(tab, site, base_url):
    page = tab.page
    search(page, QUERY)
    page.locator("li.hit a.time").first.click()
    page.wait_for_function("() => document.getElementById('player').readyState >= 1")
    page.locator(".seg a.time").first.click()
    page.wait_for_function("() => !document.getElementById('player').paused")
    page.evaluate("document.getElementById('player').pause()")
    page.goto("/link?url=https://youtu.be/dQw4w9WgXcQ&t=42:30")
    page.locator("button.copy-link").click()
    assert copied(page) == "https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=2550s"
    urls = set(tab.requests)
    assert f"{base_url}/static/app.js" in urls and f"{base_url}/static/app.css" in urls
    assert f"{base_url}/media/{site['episode']}" in urls
    assert all(u.startswith((base_url + "/", "data:", "blob:")) for u in urls), urls


def test_a_clip_link_plays_only_its_range(tab, site):
    page = tab.page
    search(page, QUERY)
    hit = api_hit(page, QUERY)
    page.locator("li.hit").first.locator("button.copy-clip").click()
    clip = copied(page)
    assert clip == hit["clip_url"]
    page.goto(clip)
    end = float(page.locator(".episode-page").get_attribute("data-end") or 0)
    assert end > hit["start"] and page.locator("#clip-note").is_visible()
    page.wait_for_function("() => document.getElementById('player').readyState >= 1")
    page.wait_for_function(
        f"() => Math.abs(document.getElementById('player').currentTime - {hit['start']}) < 1"
    )
    page.evaluate("const a = document.getElementById('player'); a.playbackRate = 4; a.play()")
    page.wait_for_function("() => document.getElementById('player').paused", timeout=15_000)
    at = page.evaluate("document.getElementById('player').currentTime")
    assert end - 0.5 <= at <= end + 0.5  # stopped at the end of the range, not later
    # "Play on" lifts the end
    page.locator("#play-on").click()
    page.wait_for_function(f"() => document.getElementById('player').currentTime > {end + 0.5}")
    page.evaluate("document.getElementById('player').pause()")


def test_the_player_stays_in_view_on_a_long_page(tab, site):
    page = tab.page
    page.set_viewport_size({"width": 1100, "height": 300})
    page.goto(f"/episodes/{site['episode']}?t=0")
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    page.wait_for_function("() => window.scrollY > 0")
    box = page.locator("#player-box").bounding_box()
    assert box is not None and -1 <= box["y"] <= 5  # stuck to the top of the window


@pytest.fixture
def foreign_site(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """Another origin (another port) whose pages frame ours, as a newsroom's CMS would."""
    import functools
    import http.server

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", tmp_path
    server.shutdown()
    server.server_close()


def test_the_embed_plays_inside_another_sites_page(tab, browser, base_url, site, foreign_site):
    page = tab.page
    search(page, QUERY)
    page.locator("li.hit").first.locator("button.copy-embed").click()
    snippet = copied(page)
    hit = api_hit(page, QUERY)
    assert snippet == hit["embed_html"] and f"/embed/{site['episode']}?t=" in snippet
    origin, root = foreign_site
    episode_frame = f'<iframe id="whole" src="{base_url}/episodes/{site["episode"]}"></iframe>'
    (root / "story.html").write_text(f"<!doctype html><p>Our story</p>{snippet}{episode_frame}")
    context = browser.new_context()
    try:
        other = context.new_page()
        other.goto(f"{origin}/story.html")
        frame = next(f for f in other.frames if "/embed/" in f.url)
        frame.wait_for_selector("audio#player")
        assert "bigger" in frame.locator("blockquote").inner_text()
        frame.evaluate("() => { const a = document.getElementById('player'); a.playbackRate = 4;"
                       " return a.play(); }")  # fmt: skip
        frame.wait_for_function("() => document.getElementById('player').paused", timeout=15_000)
        end = float(frame.locator(".embed-page").get_attribute("data-end") or 0)
        assert (
            end - 0.5
            <= frame.evaluate("document.getElementById('player').currentTime")
            <= end + 0.5
        )
        # The rest of the site may not be framed by others (frame-ancestors 'self').
        whole = next(f for f in other.frames if f.url.endswith(f"/episodes/{site['episode']}")
                     or f.url.startswith("chrome-error:"))  # fmt: skip
        assert whole.evaluate("() => document.querySelector('.episode-page') === null")
    finally:
        context.close()


def test_an_editor_corrects_a_line_in_the_page(tab, site):
    from indexer import accounts

    db = store.open_db(site["db"])
    if store.get_user(db, "editor-ana") is None:
        accounts.add_user(db, "editor-ana", "a long enough password")
    episode = add_fake_episode(db, SPOKEN, title="To correct", media_id="to-correct",
                               url="https://ex.org/episodes/to-correct")  # fmt: skip
    db.close()
    page = tab.page
    page.goto(f"/episodes/{episode}")
    assert page.locator("button.edit-line").count() == 0  # anonymous: no edit mode
    page.locator("header a", has_text="Editors").click()
    page.fill("input[name=name]", "editor-ana")
    page.fill("input[name=password]", "a long enough password")
    page.locator("form.login button[type=submit]").click()
    page.goto(f"/episodes/{episode}")
    line = page.locator(".seg").nth(1)
    line.hover()
    line.locator("button.edit-line").click()
    line.locator("form.fix textarea").fill("Today we talk about the Yekaterinburg tides.")
    line.locator("form.fix button[type=submit]").click()
    page.wait_for_selector(".seg.corrected .badge.fixed")
    assert line.locator(".text").inner_text() == "Today we talk about the Yekaterinburg tides."
    # searchable at once, and marked after a reload
    search(page, "Yekaterinburg")
    assert "Yekaterinburg" in page.locator("li.hit .snippet mark").first.inner_text()
    page.goto(f"/episodes/{episode}")
    assert page.locator(".seg.corrected").count() == 1
    page.locator("form.logout button").click()
    page.goto(f"/episodes/{episode}")
    assert page.locator("button.edit-line").count() == 0


def test_a_long_transcript_loads_the_rest_by_itself(tab, site):
    db = store.open_db(site["db"])
    lines = [(i * 4.0, f"line number {i} of a long talk.") for i in range(1200)]
    episode = add_fake_episode(db, lines, title="Long talk", media_id="long-talk",
                               url="https://ex.org/episodes/long-talk")  # fmt: skip
    db.close()
    page = tab.page
    page.goto(f"/episodes/{episode}?t=3000")
    page.wait_for_function("() => document.querySelectorAll('.seg').length === 1200")
    assert page.locator("#more-lines").count() == 0
    current = page.locator(".seg.current")
    assert current.get_attribute("id") == "s750" and "line number 750" in current.inner_text()
    assert current.is_visible()  # still in view after the lines above it came in
