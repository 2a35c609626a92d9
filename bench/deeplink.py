"""Deep-link precision: how far from the spoken phrase does a search hit land?

    .venv/bin/python bench/deeplink.py [--minutes 6] [--audio ../shared/audio]

Builds a long multi-voice episode with known offsets: espeak-ng lines in four voices, some
split mid-sentence into two clips so phrases that start inside a sentence have a known
start too, with the real human recordings of ../shared/audio (LJ Speech, JFK) mixed in.
It is served over a local HTTP server in an RSS feed, indexed through the product
(`indexer add FEED`: yt-dlp, the default model, SQLite), and every phrase is searched
with `indexer search --json`. Error = hit start - true phrase start (negative: early).
Targets (issue 5): 95% of links within 1.5 s before the phrase, none after it by > 0.5 s.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import wave
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.speech import RATE, espeak, write_wav  # noqa: E402

VOICES = ["en-us", "en-gb", "en-gb+f3", "en-us+m3"]
ADJECTIVES = [
    "angry",
    "busy",
    "careful",
    "distant",
    "early",
    "famous",
    "gentle",
    "hidden",
    "honest",
    "local",
    "lucky",
    "modern",
    "narrow",
    "noisy",
    "patient",
    "quiet",
    "rapid",
    "rural",
    "silent",
    "sudden",
    "tiny",
    "urban",
    "vivid",
    "wealthy",
    "young",
    "bright",
    "brave",
    "calm",
    "clever",
    "eager",
    "fierce",
    "golden",
    "humble",
    "polite",
    "proud",
    "rusty",
    "sharp",
    "shiny",
    "smooth",
]
NOUNS = [
    "baker",
    "farmer",
    "sailor",
    "teacher",
    "doctor",
    "painter",
    "miner",
    "pilot",
    "nurse",
    "tailor",
    "driver",
    "lawyer",
    "student",
    "banker",
    "singer",
    "dancer",
    "builder",
    "gardener",
    "butcher",
    "plumber",
    "surgeon",
    "captain",
    "judge",
    "poet",
    "chemist",
    "writer",
    "waiter",
    "cashier",
    "porter",
    "cyclist",
    "fisherman",
    "carpenter",
    "mechanic",
]
VERBS = [
    "visited",
    "repaired",
    "painted",
    "cleaned",
    "inspected",
    "photographed",
    "measured",
    "described",
    "defended",
    "criticised",
    "praised",
    "delayed",
    "opened",
    "closed",
    "protected",
    "rebuilt",
]
PLACES = [
    "harbour",
    "bridge",
    "market",
    "library",
    "station",
    "hospital",
    "museum",
    "stadium",
    "cathedral",
    "warehouse",
    "lighthouse",
    "orchard",
    "vineyard",
    "quarry",
    "airport",
    "brewery",
]
ENDINGS = (
    "before the storm arrived",
    "during the long winter",
    "after the council meeting",
    "despite the heavy rain",
    "without asking anyone",
    "for the third time this year",
)


def sentence(rng: random.Random, used: set[str]) -> tuple[str, str, str, str]:
    """A line in two parts, each starting with a phrase not used before in the episode."""
    while True:
        a, n, v = rng.choice(ADJECTIVES), rng.choice(NOUNS), rng.choice(VERBS)
        a2, n2 = rng.choice(ADJECTIVES), rng.choice(NOUNS)
        head, tail = f"{a} {n} {v}", f"{a2} {n2} watched"
        if head not in used and tail not in used and head != tail:
            used.update((head, tail))
            first = f"The {head} the old {rng.choice(PLACES)},"
            second = f"while the {tail} {rng.choice(ENDINGS)}."
            return first, head, second, tail


def _load_real(path: Path) -> np.ndarray:
    """A real recording as 22.05 kHz int16 mono (decoded and resampled with PyAV)."""
    import av

    with av.open(str(path)) as container:
        resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
        chunks = [
            out.to_ndarray().reshape(-1)
            for frame in container.decode(audio=0)
            for out in resampler.resample(frame)
        ]
    return np.concatenate(chunks).astype(np.int16)


def build(minutes: float, audio_dir: Path | None, seed: int) -> tuple[np.ndarray, list[dict]]:
    """The episode's samples and its phrases with true start times."""
    rng = random.Random(seed)
    parts: list[np.ndarray] = [np.zeros(RATE, dtype=np.int16)]
    phrases: list[dict] = []
    t = 1.0
    real = []
    if audio_dir and audio_dir.is_dir():
        texts = {}
        listing = audio_dir / "ljspeech_transcripts.txt"
        if listing.is_file():
            for line in listing.read_text().splitlines():
                key, _, text = line.partition("|")
                texts[key] = text
        texts["jfk"] = "And so, my fellow Americans, ask not what your country can do for you"
        for path in sorted(audio_dir.glob("*.wav")) + sorted(audio_dir.glob("*.flac")):
            if path.stem in texts:
                real.append((path.stem, texts[path.stem], _load_real(path)))
    n = 0
    used: set[str] = set()
    while t < minutes * 60:
        voice = VOICES[n % len(VOICES)]
        if real and n % 5 == 4:
            name, text, samples = real[(n // 5) % len(real)]
            phrases.append({"phrase": " ".join(text.split()[:4]).rstrip(","), "start": t,
                            "voice": f"human:{name}", "where": "line start"})  # fmt: skip
            parts.append(samples)
            t += len(samples) / RATE
        else:
            first_text, head, second_text, tail = sentence(rng, used)
            first, second = espeak(first_text, voice), espeak(second_text, voice)
            # "The" is said before the searched words; its length is unknown, so the phrase
            # searched from the line start is "The <head>".
            phrases.append({"phrase": f"The {head}", "start": t, "voice": voice,
                            "where": "line start"})  # fmt: skip
            parts += [first, np.zeros(int(0.12 * RATE), dtype=np.int16)]
            t += len(first) / RATE + 0.12
            phrases.append({"phrase": f"while the {tail}", "start": t, "voice": voice,
                            "where": "mid sentence"})  # fmt: skip
            parts.append(second)
            t += len(second) / RATE
        gap = rng.uniform(0.6, 1.6)
        parts.append(np.zeros(int(gap * RATE), dtype=np.int16))
        t += gap
        n += 1
    return np.concatenate(parts), phrases


def serve(root: Path) -> str:
    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    class QuietServer(ThreadingHTTPServer):
        def handle_error(self, request: object, client_address: object) -> None:
            pass  # yt-dlp closes the connection once it has sniffed the file's type

    httpd = QuietServer(("127.0.0.1", 0), partial(Quiet, directory=str(root)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{httpd.server_address[1]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=6.0)
    parser.add_argument("--audio", type=Path, default=ROOT.parent / "shared" / "audio")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", type=Path, help="keep the database and phrases in this folder")
    args = parser.parse_args()
    samples, phrases = build(args.minutes, args.audio, args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            tmp = str(args.keep)
        www = Path(tmp) / "www"
        www.mkdir()
        write_wav(www / "episode.wav", samples)
        with wave.open(str(www / "episode.wav")) as w:
            seconds = w.getnframes() / w.getframerate()
        base = serve(www)
        (www / "feed.xml").write_text(
            '<?xml version="1.0"?><rss version="2.0"><channel><title>Bench</title>'
            "<item><title>Long multi-voice episode</title><guid>bench-1</guid>"
            f'<enclosure url="{base}/episode.wav" type="audio/wav" length="1"/></item>'
            "</channel></rss>"
        )
        env = {**os.environ, "INDEXER_DB": str(Path(tmp) / "bench.db"), "INDEXER_CONFIG": "",
               "INDEXER_MEDIA_DIR": str(Path(tmp) / "media")}  # fmt: skip
        added = subprocess.run([sys.executable, "-m", "indexer", "add", f"{base}/feed.xml"],
                               env=env, cwd=ROOT, capture_output=True, text=True)  # fmt: skip
        print(added.stdout.strip() or added.stderr.strip())
        errors, rows = [], []
        for p in phrases:
            out = subprocess.run(
                [sys.executable, "-m", "indexer", "search", f'"{p["phrase"]}"', "--json",
                 "--limit", "20"],
                env=env, cwd=ROOT, capture_output=True, text=True,
            ).stdout  # fmt: skip
            hits = json.loads(out or "[]")
            # A phrase may be spoken more than once; the right hit is the one nearest its start.
            near = min(hits, key=lambda h: abs(h["start"] - p["start"]), default=None)
            error = None if near is None else near["start"] - p["start"]
            rows.append({**p, "error": error, "partial": near and near["partial"],
                         "hit": near})  # fmt: skip
            if error is not None:
                errors.append(error)
    found = [r for r in rows if r["error"] is not None]
    within = [r for r in found if -1.5 <= r["error"] <= 0.5]
    late = [r for r in found if r["error"] > 0.5]
    abs_err = [abs(e) for e in errors]
    print(f"\nepisode: {seconds / 60:.1f} min, {len(phrases)} phrases "
          f"({sum(r['voice'].startswith('human') for r in rows)} from real recordings)")  # fmt: skip
    print("\n| measure | value |\n| --- | --- |")
    print(
        f"| phrases found (a hit within 10 s) | {sum(abs(e) <= 10 for e in errors)}/{len(rows)} |"
    )
    print(f"| error median (hit - truth) | {statistics.median(errors):+.2f} s |")
    print(f"| abs error median / p95 / max | {statistics.median(abs_err):.2f} / "
          f"{sorted(abs_err)[int(0.95 * (len(abs_err) - 1))]:.2f} / {max(abs_err):.2f} s |")  # fmt: skip
    print(f"| within 1.5 s before .. 0.5 s after | {len(within)}/{len(found)} "
          f"({100 * len(within) / max(len(found), 1):.0f}%) |")  # fmt: skip
    print(f"| later than 0.5 s after | {len(late)} |")
    for kind in ("line start", "mid sentence"):
        sub = [r["error"] for r in found if r["where"] == kind]
        if sub:
            print(f"| {kind}: median error, n | {statistics.median(sub):+.2f} s, {len(sub)} |")
    human = [r["error"] for r in found if r["voice"].startswith("human")]
    if human:
        print(
            f"| real human speech: median error, n | {statistics.median(human):+.2f} s, {len(human)} |"
        )
    if args.keep:
        (args.keep / "phrases.json").write_text(json.dumps(rows, indent=1))
    print("\nworst:")
    for r in sorted(found, key=lambda r: -abs(r["error"]))[:5]:
        print(f"  {r['error']:+.2f} s  {r['voice']:10} {r['where']:12} {r['phrase']!r}")
    missing = [r for r in rows if r["error"] is None]
    for r in missing:
        print(f"  no hit: {r['voice']:10} {r['phrase']!r}")


if __name__ == "__main__":
    main()
