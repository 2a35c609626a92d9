"""Job queue throughput: episodes an hour with 1, 2 and 3 `indexer worker` processes, and the
queue's overhead per job against indexing the same episodes in-process.

    .venv/bin/python bench/queue_throughput.py --episodes 6 --workers 1,2,3

Makes N spoken episodes (espeak-ng, about 30 s each, MP3), serves them with an RSS feed from a
local HTTP server, then:

- in-process: `pipeline.index_targets` on the feed in this process (model loaded first), the
  way `indexer add FEED` runs without a queue;
- queued: a real redis-server on a free port, one `indexer store-worker` and W `indexer
  worker` processes (started and ready before the clock starts, as in a deployment), then
  `indexer add FEED --queue` until every job is done (polled through jobqueue.list_jobs).

Every run uses a fresh database and cpu_threads = 1 per process (so W workers use W cores),
and the same episodes. The overhead per job is (queued with 1 worker - in-process) / N.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, code_version, load, machine, table
from deeplink import serve

from indexer import jobqueue, pipeline, store, transcribe
from indexer.config import Settings
from tests.conftest import Recording, rss_feed
from tests.services import start_redis, stop, wait_until
from tests.speech import encode, speak_lines, write_wav

INDEXER = str(ROOT / ".venv" / "bin" / "indexer")
SENTENCES = [
    "The council met on Tuesday to discuss the new harbour budget.",
    "Residents asked why the ferry timetable changed without notice.",
    "A local bakery has started delivering bread by bicycle.",
    "The museum will open a new gallery of maritime paintings in June.",
    "Teachers say the school roof has leaked for three winters.",
    "Farmers expect a late harvest after the cold and wet spring.",
    "The library now lends tools as well as books and films.",
    "Volunteers planted four hundred trees along the river path.",
]


def make_episodes(root: Path, n: int) -> list[Recording]:
    recs = []
    voices = ["en-us", "en-gb", "en-gb+f3"]
    for i in range(n):
        lines = [(voices[(i + j) % 3], SENTENCES[(i + j) % len(SENTENCES)]) for j in range(8)]
        samples, placed = speak_lines(lines, gap=1.0, lead=1.0)
        wav = write_wav(root / f"ep{i}.wav", samples)
        path = encode(wav, root / f"ep{i}.mp3", "libmp3lame")
        wav.unlink()
        recs.append(Recording(f"ep{i}", f"Episode {i}", "Bench episode.", path, placed))
    return recs


def in_process(feed: str, base: Path, cache: Path) -> float:
    settings = Settings(db=str(base / "inproc.db"), cache_dir=str(cache), cpu_threads=1,
                        media_dir=str(base / "media-inproc"))  # fmt: skip
    transcribe.load_model(settings)
    pipeline.chunk_vectors([], settings)  # nothing: the embedder loads on first real use
    db = store.open_db(settings.db)
    began = time.monotonic()
    results = list(pipeline.index_targets(db, [feed], settings))
    seconds = time.monotonic() - began
    assert all(r.status == "indexed" for r in results), [r.error for r in results]
    return seconds


def queued(feed: str, base: Path, cache: Path, workers: int, n: int) -> float:
    run_dir = base / f"queued-{workers}"
    run_dir.mkdir()
    redis_proc, url = start_redis(run_dir)
    env = {**os.environ, "INDEXER_DB": str(run_dir / "q.db"), "INDEXER_CACHE_DIR": str(cache),
           "INDEXER_CONFIG": "", "INDEXER_QUEUE": url, "INDEXER_CPU_THREADS": "1"}  # fmt: skip
    procs = [redis_proc]
    try:
        logs = []
        for i, args in enumerate([["store-worker"]] + [["worker"]] * workers):
            log = run_dir / f"{i}.log"
            logs.append(log)
            procs.append(subprocess.Popen([INDEXER, *args], stderr=log.open("wb"),
                                          env={**env, "INDEXER_MEDIA_DIR": str(run_dir / f"m{i}")}))  # fmt: skip
        wait_until(lambda: all("jobs from" in p.read_text() or "storing into" in p.read_text()
                             for p in logs), 120, "workers to be ready")  # fmt: skip
        began = time.monotonic()
        subprocess.run([INDEXER, "add", feed], env=env, check=True, capture_output=True)
        wait_until(lambda: (lambda jobs: len(jobs) == n and all(j["state"] == "done" for j in jobs))(
            jobqueue.list_jobs(url)), 1800, "every job")  # fmt: skip
        return time.monotonic() - began
    finally:
        for p in reversed(procs):
            p.send_signal(signal.SIGTERM)
        for p in procs:
            stop(p)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--episodes", type=int, default=6)
    parser.add_argument("--workers", default="1,2,3")
    args = parser.parse_args()
    logging.getLogger("indexer").setLevel(logging.ERROR)  # the feed's urn: guids are fine
    if shutil.which("redis-server") is None:
        raise SystemExit("redis-server is not installed: ./quickstart.sh installs it")
    base = Path(tempfile.mkdtemp(prefix="queue-bench-"))
    cache = base / "cache"
    transcribe.ensure_default_model(cache)
    www = base / "www"
    www.mkdir()
    recs = make_episodes(www, args.episodes)
    audio = sum(r.lines[-1].end + 1.0 for r in recs)
    served = serve(www)

    class _Server:
        def url(self, name: str) -> str:
            return f"{served}/{name}"

    (www / "feed.xml").write_text(rss_feed(_Server(), recs, "Bench"))  # type: ignore[arg-type]
    feed = _Server().url("feed.xml")
    n = args.episodes
    rows = []
    base_s = in_process(feed, base, cache)
    rows.append(["in-process (`indexer add`, no queue)", 1, f"{base_s:.1f}",
                 f"{n / base_s * 3600:.0f}", f"{audio / base_s:.1f}x", "-"])  # fmt: skip
    one = None
    for w in [int(x) for x in args.workers.split(",")]:
        s = queued(feed, base, cache, w, n)
        one = s if w == 1 else one
        rows.append([f"queued, {w} worker{'s' if w > 1 else ''}", w, f"{s:.1f}",
                     f"{n / s * 3600:.0f}", f"{audio / s:.1f}x",
                     f"{(one or s) / s:.2f}x" if one else "-"])  # fmt: skip
    print(f"{n} episodes, {audio:.0f} s of speech in all; {machine()}; {load()}")
    print(code_version())
    print(table(["run", "transcribing processes", "wall s", "episodes/hour", "x real time",
                 "vs 1 worker"], rows))  # fmt: skip
    if one is not None:
        print(
            f"\nqueue overhead per job: {(one - base_s) / n:+.2f} s "
            f"({(one - base_s) / base_s * 100:+.1f}% of in-process)"
        )
    shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
