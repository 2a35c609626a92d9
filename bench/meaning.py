"""Meaning search: does the default search find a passage by what was meant?

    .venv/bin/python bench/meaning.py [--set dev] [--set heldout] [--misses] [--seed 5]

Each set (bench/meaning/NAME.json) holds 48 spoken passages in 12 topics of 4 and three kinds
of query, written by people who never saw the search code:
  paraphrase  shares no content word with its passage;
  near_topic  a paraphrase pointing at one aspect of a topic whose three other passages are
              on the same topic (distractors);
  keyword     words copied from the passage, found in no other.
The passages are shuffled into episodes of four, timed at 2.5 words a second and chunked
as the product chunks them (45 s), so chunks straddle passages as they do in real shows.
A query lands when the first hit's time (its line start, plus the lead) falls inside the
passage. Every mode is scored in the same run: keyword (the plain FTS5 path), semantic
(chunk cosine only), hybrid, and the product's default.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from common import ROOT

from indexer import embed, pipeline, search, store
from indexer.chunk import chunk_segments
from indexer.config import Settings
from indexer.models import MediaItem, Segment, Transcript
from tests.conftest import make_segment

SETS = ROOT / "bench" / "meaning"
RATE = 0.4  # seconds a word
KINDS = ("paraphrase", "near_topic", "keyword")


def _sentences(text: str) -> list[str]:
    parts = re.split(r"(?<=[.?!])\s+", text.strip())
    return [p for p in parts if p.strip()]


def build(db_path: Path, passages: list[dict[str, Any]], seed: int, model: str) -> dict[str, tuple]:
    """Store the passages as episodes of four; returns passage id -> (episode id, start, end)."""
    db = store.open_db(db_path)
    settings = Settings(db=str(db_path), embedding_model=model)
    order = passages[:]
    random.Random(seed).shuffle(order)
    spans: dict[str, tuple] = {}
    for n in range(0, len(order), 4):
        segments: list[Segment] = []
        t = 0.0
        placed = []
        for p in order[n : n + 4]:
            begin = t
            for sentence in _sentences(p["text"]):
                segments.append(make_segment(sentence, t, RATE))
                t = segments[-1].end + 0.3
            placed.append((p["id"], begin, t))
        item = MediaItem(source_url="https://example.com/feed.xml", extractor="generic",
                         media_id=f"ep{n // 4}", title=f"Episode {n // 4}",
                         webpage_url=f"https://example.com/ep{n // 4}", channel="Bench")  # fmt: skip
        chunks = chunk_segments(segments, settings.chunk_seconds)
        episode = store.save_episode(
            db, item, Transcript(tuple(segments), "en", t, "bench"), chunks,
            source_id=store.source_id_for(db, item.source_url, "Bench"),
            chunk_seconds=settings.chunk_seconds,
            vectors=pipeline.chunk_vectors(chunks, settings, segments),
        )  # fmt: skip
        for pid, begin, end in placed:
            spans[pid] = (episode, begin, end)
    db.close()
    return spans


def lands(hit: Any, span: tuple) -> bool:
    episode, begin, end = span
    at = hit.start + search.LEAD_SECONDS
    return hit.episode_id == episode and begin - 0.5 <= at <= end


def touches(hit: Any, span: tuple) -> bool:
    """The hit's chunk overlaps the passage (found, wherever it was placed)."""
    episode, begin, end = span
    return hit.episode_id == episode and hit.end > begin and hit.start < end


MODES = {
    "keyword": lambda db, q, m: search.search(db, q, limit=5).hits,
    "semantic": lambda db, q, m: search.meaning_search(db, q, mode="semantic", limit=5, model=m).hits,
    "hybrid": lambda db, q, m: search.meaning_search(db, q, mode="hybrid", limit=5, model=m).hits,
    "default": lambda db, q, m: search.find(db, q, limit=5, model=m).hits,
}


def score(name: str, data: dict[str, Any], seed: int, misses: bool, model: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        spans = build(Path(tmp) / "bench.db", data["passages"], seed, model)
        db = store.open_db(Path(tmp) / "bench.db")
        search.find(db, "warm up the model", limit=1, model=model)
        table: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
        times: dict[str, list[float]] = defaultdict(list)
        missed: dict[str, list[str]] = defaultdict(list)
        for q in data["queries"]:
            span = spans[q["passage"]]
            for mode, run in MODES.items():
                began = time.perf_counter()
                hits = run(db, q["q"], model)
                times[mode].append(time.perf_counter() - began)
                first = bool(hits) and lands(hits[0], span)
                row = table[mode][q["kind"]]
                row.append((first, any(lands(h, span) for h in hits[:5]),
                            bool(hits) and touches(hits[0], span)))  # fmt: skip
                if mode == "default" and not first:
                    got = "nothing"
                    if hits:
                        got = f"ep{hits[0].episode_id} {hits[0].start:.0f}s {hits[0].quote[:60]!r}"
                    missed[q["kind"]].append(f"{q['passage']}: {q['q']!r} -> {got}")
        db.close()
    print(f"\n## set {name}: {len(data['passages'])} passages, {len(data['queries'])} queries")
    print("| mode | " + " | ".join(f"{k} first (top 5; chunk first)" for k in KINDS)
          + " | p50 / p95 ms |")  # fmt: skip
    print("|---" * (len(KINDS) + 2) + "|")
    out: dict[str, Any] = {}
    for mode in MODES:
        cells = []
        for kind in KINDS:
            rows = table[mode][kind]
            f, t5, c = (sum(r[i] for r in rows) for i in range(3))
            cells.append(f"{f}/{len(rows)} ({t5}; {c})")
            out[f"{mode}.{kind}"] = f / max(len(rows), 1)
        ms = sorted(times[mode])
        p95 = ms[min(len(ms) - 1, int(0.95 * len(ms)))] * 1000
        cells.append(f"{statistics.median(ms) * 1000:.0f} / {p95:.0f}")
        print(f"| {mode} | " + " | ".join(cells) + " |")
    if misses:
        for kind in KINDS:
            for line in missed[kind]:
                print(f"  miss ({kind}) {line}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", dest="sets", action="append", help="dev, heldout (default: all)")
    parser.add_argument("--seed", type=int, default=5, help="how passages are shuffled")
    parser.add_argument("--misses", action="store_true", help="print the default mode's misses")
    parser.add_argument("--model", default=embed.DEFAULT,
                        help="embedding model: a name the product knows or a model folder")
    args = parser.parse_args()
    names = args.sets or sorted(p.stem for p in SETS.glob("*.json"))
    print(f"default mode: {search.DEFAULT_MODE}; model: {args.model}")
    for name in names:
        score(name, json.loads((SETS / f"{name}.json").read_text()), args.seed, args.misses,
              args.model)


if __name__ == "__main__":
    main()
