"""Take docs/screenshot-search.png: the search page with several episodes and hits.

Builds a small index in a temporary folder with the real default model, from the bundled
newsroom sample and a few episodes spoken by espeak-ng (tests/speech.py), serves it with
waitress on 127.0.0.1 and photographs it in the system Chromium with Playwright (never a
downloaded browser). Not part of the test suite.

    .venv/bin/python bench/screenshot.py [--query budget] [--out docs/screenshot-search.png]
"""

from __future__ import annotations

import argparse
import tempfile
import threading
from base64 import b64encode
from pathlib import Path

import waitress
from common import ROOT
from playwright.sync_api import sync_playwright

import web
from indexer import download, pipeline, store
from indexer.config import Settings
from tests.speech import encode, speak_lines, write_wav

CHROMIUM = "/usr/bin/chromium"
SAMPLE = ROOT / "indexer" / "samples" / "newsroom-sample.ogg"

# (file name, title, show, date, colour, show notes, spoken lines)
EPISODES = [
    (
        "harbour-budget",
        "Council approves the harbour budget",
        "City Desk",
        "2024-03-12",
        "#0b5cad",
        "City Desk on the council vote: dredging, the old pier, the oyster beds.",
        [
            ("en-us", "Good evening, this is City Desk with the news from the council chamber."),
            ("en-gb", "Tonight the council approved the harbour budget by seven votes to four."),
            ("en-us", "The money pays for dredging the channel and repairing the old pier."),
            ("en-gb+f3", "Opponents said the budget should go to schools and bicycle lanes."),
            ("en-us", "Fishermen worry that the dredging will harm the oyster beds."),
            ("en-gb", "The mayor promised a second budget vote on the library in April."),
        ],
    ),
    (
        "library",
        "Saving the public library",
        "City Desk",
        "2024-04-02",
        "#2f8f5b",
        "Readers and volunteers on the public library.",
        [
            ("en-gb", "Our public library opened in nineteen twelve."),
            ("en-us", "Volunteers repaired the leaking roof last winter."),
            ("en-gb+f3", "But the library budget was cut by a third this year."),
            ("en-us", "Children borrow more comic books than any other kind of book."),
            ("en-gb", "Readers are collecting signatures to restore the budget before summer."),
        ],
    ),
    (
        "storm",
        "Storm season",
        "Weather Hour",
        "2024-05-20",
        "#b3541e",
        "Weather and climate on the coast.",
        [
            ("en-us", "A powerful storm is moving up the coast tonight."),
            ("en-gb", "Forecasters expect heavy rain and strong winds until Friday."),
            ("en-us", "The city emergency budget pays for sandbags and extra crews."),
            ("en-gb+f3", "Please secure loose garden furniture before you go to bed."),
        ],
    ),
]


def thumbnail(text: str, colour: str) -> str:
    """A small SVG cover as a data: URL (the page loads nothing from other hosts)."""
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="160" height="90">'
        f'<rect width="160" height="90" fill="{colour}"/>'
        '<text x="80" y="58" font-family="sans-serif" font-size="34" font-weight="700" '
        f'fill="#fff" text-anchor="middle">{text}</text></svg>'
    )
    return "data:image/svg+xml;base64," + b64encode(svg.encode()).decode()


def build_index(root: Path) -> str:
    """Index the sample and the spoken episodes into root/screenshot.db; its path."""
    settings = Settings(db=str(root / "screenshot.db"), cache_dir=str(root / "cache"),
                        media_dir=str(root / "media"), language="en",
                        chunk_seconds=12)  # fmt: skip
    db = store.open_db(settings.db)
    items = []
    sample = download.local_item(str(SAMPLE))
    sample.channel, sample.published = "Newsroom Weekly", "2024-02-27"
    sample.source_url = "https://newsroom.example/feed.xml"
    sample.thumbnail = thumbnail("NW", "#6a3fb5")
    sample.webpage_url = sample.media_url = "https://newsroom.example/weekly/city-budget.ogg"
    items.append(sample)
    for name, title, show, published, colour, notes, lines in EPISODES:
        samples, _ = speak_lines(lines, gap=0.9, lead=1.0)
        wav = write_wav(root / f"{name}.wav", samples)
        path = encode(wav, root / f"{name}.ogg", "libopus")
        item = download.local_item(str(path))
        item.title, item.channel, item.published, item.description = title, show, published, notes
        slug = show.lower().replace(" ", "")
        item.source_url = f"https://{slug}.example/feed.xml"
        item.webpage_url = item.media_url = f"https://{slug}.example/episodes/{name}.ogg"
        item.thumbnail = thumbnail("".join(w[0] for w in show.split()), colour)
        items.append(item)
    for item in items:
        result = pipeline.index_item(db, item, settings)
        if result.status != "indexed":
            raise SystemExit(f"{item.title}: {result.error}")
        print(f"indexed {result.title} ({result.segments} segments, {result.chunks} chunks)")
    db.close()
    return settings.db


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--query", default="budget")
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshot-search.png"))
    parser.add_argument("--width", type=int, default=1100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        database = build_index(Path(tmp))
        server = waitress.create_server(web.create_app({"DATABASE": database}),
                                        host="127.0.0.1", port=0)  # fmt: skip
        threading.Thread(target=server.run, daemon=True).start()
        base = f"http://127.0.0.1:{server.effective_port}"
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(
                    executable_path=CHROMIUM,
                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                          "--disable-component-update", "--no-first-run"],
                )  # fmt: skip
                page = browser.new_page(viewport={"width": args.width, "height": 900},
                                        base_url=base)  # fmt: skip
                page.goto("/")
                page.fill("input[name=q]", args.query)
                page.press("input[name=q]", "Enter")
                page.wait_for_selector("li.hit")
                page.locator("input[name=q]").blur()
                Path(args.out).parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=args.out, full_page=True)
                print(f"{page.title()}\nwrote {args.out}")
                browser.close()
        finally:
            server.close()


if __name__ == "__main__":
    main()
