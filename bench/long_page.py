"""A 4-hour transcript page: bytes on the wire, HTML size, buttons and load time in Chromium.

    .venv/bin/python bench/long_page.py [--lines 3600] [--other /path/to/old/checkout]

Stores an episode of --lines lines (4 s apart, 16 words each, about a 4-hour talk) with the
product's storage code, serves it with waitress (the Windows server; `indexer serve` runs
gunicorn, which compresses the same) in a subprocess per code tree, and loads
/episodes/ID in Debian's Chromium (headless, Playwright) five times after one warm-up:
transfer size of the HTML (as Chromium's resource timing reports it), decoded HTML size, the
number of <button> elements, and the time until DOMContentLoaded and load (median).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import load, machine

ROOT = Path(__file__).resolve().parents[1]
SERVER = """
import sys, waitress
sys.path.insert(0, {root!r})
import web
server = waitress.create_server(web.create_app({{"DATABASE": {db!r}}}), host="127.0.0.1", port=0)
print(server.effective_port, flush=True)
server.run()
"""


def build(path: Path, lines: int) -> int:
    sys.path.insert(0, str(ROOT))
    from indexer import store
    from tests.conftest import add_fake_episode

    db = store.open_db(path)
    words = "and then the council said that the harbour plan would need another vote soon"
    episode = add_fake_episode(db, [(i * 4.0, f"{words} {i}.") for i in range(lines)],
                               title="Four hours", media_id="long")  # fmt: skip
    db.close()
    return episode


def measure(root: Path, db: Path, episode: int) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    server = subprocess.Popen([sys.executable, "-c", SERVER.format(root=str(root), db=str(db))],
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        port = int(server.stdout.readline())  # type: ignore[union-attr]
        url = f"http://127.0.0.1:{port}/episodes/{episode}"
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium",
                                        args=["--no-sandbox", "--disable-gpu"])  # fmt: skip
            runs = []
            for _ in range(6):
                page = browser.new_page()
                page.goto(url, wait_until="load")
                runs.append(
                    page.evaluate("""() => {
                    const n = performance.getEntriesByType('navigation')[0];
                    return {wire: n.transferSize, html: n.decodedBodySize,
                            dcl: n.domContentLoadedEventEnd, load: n.loadEventEnd, ttfb: n.responseStart, body: n.responseEnd, interactive: n.domInteractive,
                            buttons: document.querySelectorAll('button').length};
                }""")
                )
                page.close()
            browser.close()
        runs = runs[1:]
        return {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    finally:
        server.terminate()
        server.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=3600)
    parser.add_argument("--other", type=Path, help="another checkout to compare with")
    args = parser.parse_args()
    print(f"{machine()}; {load()}")
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "long.db"
        started = time.perf_counter()
        episode = build(db, args.lines)
        print(f"stored {args.lines} lines in {time.perf_counter() - started:.1f} s")
        trees = [("this", ROOT)] + ([("other", args.other)] if args.other else [])
        print(
            "| tree | on the wire | HTML | buttons | first byte | last byte | parsed | DOMContentLoaded | load |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        for name, root in trees:
            m = measure(root, db, episode)
            print(
                f"| {name} ({root}) | {m['wire'] / 1000:,.0f} KB | {m['html'] / 1000:,.0f} KB | "
                f"{m['buttons']:,.0f} | {m['ttfb']:,.0f} ms | {m['body']:,.0f} ms | {m['interactive']:,.0f} ms | {m['dcl']:,.0f} ms | "
                f"{m['load']:,.0f} ms |"
            )


if __name__ == "__main__":
    main()
