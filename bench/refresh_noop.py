"""A refresh with nothing new: wall time and HTTP requests for N followed feeds.

    .venv/bin/python bench/refresh_noop.py --sources 20 --items 50

Serves N podcast feeds (each with M episodes that carry a Podcasting 2.0 VTT transcript, so
the first refresh indexes them without transcribing) from a local HTTP server, follows them,
refreshes once to index everything, then times `indexer refresh` runs with nothing new:
once against a server that answers conditional GETs with 304, and once against one that
ignores them (every feed is downloaded and parsed, every entry is checked against the index).
Each run is a fresh `indexer` process, as under cron, so the time includes Python start-up.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VTT = "WEBVTT\n\n00:00:01.000 --> 00:00:04.000\nEpisode {n} of show {s} talks about topic {n}.\n"


class Server:
    """A local HTTP server counting requests; `conditional` toggles 304 answers."""

    def __init__(self, root: Path) -> None:
        self.requests: list[str] = []
        self.conditional = True
        outer = self

        class Handler(SimpleHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                outer.requests.append(self.path)
                if not outer.conditional:
                    for header in ("If-Modified-Since", "If-None-Match"):
                        if header in self.headers:
                            del self.headers[header]
                super().do_GET()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(root)))
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"


def write_feeds(root: Path, base: str, sources: int, items: int) -> list[str]:
    urls = []
    for s in range(sources):
        entries = []
        for n in range(items):
            (root / f"s{s}-e{n}.vtt").write_text(VTT.format(n=n, s=s))
            entries.append(
                f"<item><title>Show {s} episode {n}</title><guid>s{s}-e{n}</guid>"
                f"<pubDate>Mon, 01 Jan 2024 {n % 24:02d}:00:00 GMT</pubDate>"
                f'<enclosure url="{base}/s{s}-e{n}.mp3" type="audio/mpeg" length="1"/>'
                f'<podcast:transcript url="{base}/s{s}-e{n}.vtt" type="text/vtt"/></item>'
            )
        (root / f"feed{s}.xml").write_text(
            '<?xml version="1.0"?><rss version="2.0" '
            'xmlns:podcast="https://podcastindex.org/namespace/1.0"><channel>'
            f"<title>Show {s}</title>{''.join(entries)}</channel></rss>"
        )
        urls.append(f"{base}/feed{s}.xml")
    return urls


def indexer(env: dict[str, str], *args: str) -> tuple[float, str]:
    began = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "indexer", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, check=False)  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"indexer {' '.join(args)} failed: {done.stderr or done.stdout}")
    return time.perf_counter() - began, done.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=20)
    parser.add_argument("--items", type=int, default=50, help="episodes per feed")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "www").mkdir()
        server = Server(root / "www")
        urls = write_feeds(root / "www", server.base, args.sources, args.items)
        env = {**os.environ, "INDEXER_DB": str(root / "bench.db"), "INDEXER_CONFIG": ""}
        for url in urls:
            indexer(env, "follow", url)
        seconds, line = indexer(env, "refresh")
        print(
            f"first refresh (indexes {args.sources * args.items} episodes): {seconds:.1f} s: {line}"
        )
        rows = []
        for conditional in (True, False):
            server.conditional = conditional
            times, counts = [], []
            for _ in range(args.runs):
                before = len(server.requests)
                seconds, line = indexer(env, "refresh")
                assert " 0 new, 0 failed" in line, line
                times.append(seconds)
                counts.append(len(server.requests) - before)
            rows.append((conditional, times, counts))
        startup, _ = indexer(env, "--version")
        print()
        print(f"{args.sources} followed feeds x {args.items} episodes, {args.runs} runs each; "
              f"`indexer --version` alone takes {startup:.2f} s\n")  # fmt: skip
        print("| server | wall time median (min-max) | HTTP requests per run | per source |")
        print("| --- | --- | --- | --- |")
        for conditional, times, counts in rows:
            label = "answers 304 (ETag/Last-Modified)" if conditional else "ignores conditional GET"
            print(f"| {label} | {statistics.median(times):.2f} s ({min(times):.2f}-{max(times):.2f}) "
                  f"| {statistics.median(counts):.0f} | {statistics.median(counts) / args.sources:.1f} |")  # fmt: skip


if __name__ == "__main__":
    main()
