"""Meaning search at scale, end to end: the default (hybrid) and semantic search in-process on
a database of N chunks with vectors, the memory of a real server process holding them, and the
database's growth per chunk.

    .venv/bin/python bench/search_scale.py --chunks 1000000 --build-only   # the chunks, once
    .venv/bin/python bench/meaning_scale.py --db bench/out/scale.db

Vectors: the bundled model would need about a day to embed a million chunks on 2 cores, so
500 chunks picked at random are embedded for real and every chunk without a vector gets one of
them plus noise (cosine about 0.85 to it), with random lines' sign bits, stored by
`store.save_vectors` under the bundled model's id: real embeddings' geometry, so the queries'
cosines (and how many hits pass the hybrid floor) are as with real shows. The queries are real and every timed run
embeds its query with the real model: single words and word pairs picked from the index (the
keyword half of hybrid does real work) and the paraphrase queries of bench/meaning/*.json.
Timing is `search.find(db, q, mode=..., limit=20)` as the page and API call it, after one
untimed query has loaded the vectors.

Memory: `indexer serve` (gunicorn, one worker, as a plain install runs it) is started on the
file and asked one hybrid query through /api/search; the worker's VmRSS and VmHWM are read
from /proc, and the cold first query's time is reported.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
from common import ROOT

from indexer import embed, search, store

OUT = ROOT / "bench" / "out"
PAGE = 20_000


def fill_vectors(db_path: Path, seed: int) -> tuple[int, float]:
    """Synthetic vectors for every chunk that has none; returns (made, seconds)."""
    db = store.open_db(db_path)
    rng = np.random.default_rng(seed)
    if store.vector_model(db) not in (None, embed.DEFAULT_ID):
        sys.exit(f"{db_path} holds vectors of another model")
    began, made, after = time.perf_counter(), 0, 0
    if store.vector_counts(db)[0] == store.vector_counts(db)[1]:
        return 0, 0.0
    texts = [r[0] for r in db.execute("select text from chunks order by random() limit 500")]
    centres = embed.load().embed(texts)
    dim = centres.shape[1]
    noise = 0.62 / np.sqrt(dim)
    while True:
        rows = list(db.query(
            "select c.id, c.start, c.text, c.timings, c.lines, v.chunk_id as has from chunks c "
            "left join chunk_vectors v on v.chunk_id = c.id where c.id > ? order by c.id limit ?",
            [after, PAGE]))  # fmt: skip
        if not rows:
            break
        after = rows[-1]["id"]
        todo = [r for r in rows if r["has"] is None]
        if not todo:
            continue
        vec = centres[rng.integers(0, len(centres), len(todo))]
        vec = vec + rng.normal(scale=noise, size=vec.shape).astype(np.float32)
        vec /= np.linalg.norm(vec, axis=1, keepdims=True)
        blobs = embed.quantize(vec)
        signs = []
        for r in todo:
            n = len(store.chunk_segments(r))
            signs.append(np.packbits(rng.normal(size=(n, dim)) > 0, axis=1).tobytes())
        store.save_vectors(db, [(r["id"], b, s) for r, b, s in zip(todo, blobs, signs, strict=True)],
                           embed.DEFAULT_ID)  # fmt: skip
        made += len(todo)
        print(f"\r  vectors: {made:,} made", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    db.close()
    return made, time.perf_counter() - began


def sizes(db_path: Path) -> dict[str, float]:
    db = store.open_db(db_path, readonly=True)
    chunks = db.execute("select count(*) from chunks").fetchone()[0]
    vectors = db.execute("select sum(pgsize) from dbstat where name = 'chunk_vectors'").fetchone()[0]
    dim = len(db.execute("select vector from chunk_vectors limit 1").fetchone()[0])
    lines = db.execute("select avg(length(lines)) * 8.0 / ? from chunk_vectors", [dim]).fetchone()[0]
    db.close()
    return {"chunks": chunks, "vector_bytes": vectors or 0, "bytes_per_chunk": (vectors or 0) / max(chunks, 1),
            "lines_per_chunk": lines or 0.0, "file_bytes": db_path.stat().st_size}  # fmt: skip


def pick_queries(db_path: Path, n: int, seed: int) -> dict[str, list[str]]:
    """Words in 0.02%..2% of chunks, pairs of them said in one chunk, and paraphrases."""
    db = store.open_db(db_path, readonly=True)
    total = db.execute("select count(*) from chunks").fetchone()[0]
    db.execute("create virtual table temp.v using fts5vocab(main, 'chunks_fts', 'row')")
    words = [r[0] for r in db.execute(
        "select term from temp.v where doc between ? and ? and length(term) > 3 "
        "and term glob '[a-z]*' order by term", [max(2, total // 5000), total // 50])]  # fmt: skip
    rnd = random.Random(seed)
    ones = rnd.sample(words, min(n, len(words)))
    pairs = []
    for row in db.execute("select text from chunks where id in (select id from chunks "
                          "order by random() limit ?)", [n * 4]):  # fmt: skip
        said = [w for w in search.tokens(row[0]) if len(w) > 4]
        if len(said) >= 2:
            pairs.append(" ".join(rnd.sample(said, 2)))
        if len(pairs) == n:
            break
    db.close()
    meaning = []
    for name in ("dev", "heldout"):
        data = json.loads((ROOT / "bench" / "meaning" / f"{name}.json").read_text())
        meaning += [q["q"] for q in data["queries"] if q["kind"] != "keyword"]
    return {"one word": ones, "two words": pairs, "paraphrase": rnd.sample(meaning, n)}


def timed(db_path: Path, queries: dict[str, list[str]], repeat: int) -> dict[str, dict[str, float]]:
    db = store.open_db(db_path, readonly=True)
    began = time.perf_counter()
    search.find(db, "warm up", mode="semantic", limit=20)
    load = time.perf_counter() - began
    out: dict[str, dict[str, float]] = {"load": {"seconds": load}}
    for mode in ("hybrid", "semantic"):
        for kind, qs in queries.items():
            times = []
            for q in qs:
                for _ in range(repeat):
                    t = time.perf_counter()
                    search.find(db, q, mode=mode, limit=20)
                    times.append((time.perf_counter() - t) * 1000)
            times.sort()
            out[f"{mode}, {kind}"] = {"p50": statistics.median(times),
                                      "p95": times[min(len(times) - 1, int(0.95 * len(times)))],
                                      "max": times[-1], "n": len(times)}  # fmt: skip
    db.close()
    return out


def _status(pid: int) -> dict[str, int]:
    got = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            got[key] = int(value.split()[0]) * 1024
    return got


def server_memory(db_path: Path, port: int) -> dict[str, float]:
    """Start `indexer serve` on the file, ask one hybrid query, read the worker's memory."""
    exe = Path(sys.executable).with_name("indexer")
    proc = subprocess.Popen([str(exe), "--db", str(db_path), "serve", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}/api/search?q=rent+went+up+for+families&mode=hybrid"
        for _ in range(600):
            try:
                began = time.perf_counter()
                with urllib.request.urlopen(url, timeout=600) as r:
                    json.load(r)
                first = time.perf_counter() - began
                break
            except OSError:
                time.sleep(0.5)
        else:
            raise SystemExit("the server did not answer")
        children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True,
                                  text=True).stdout.split()  # fmt: skip
        worker = int(children[0]) if children else proc.pid
        mem = _status(worker)
        began = time.perf_counter()
        with urllib.request.urlopen(url.replace("rent+went", "housing+costs"), timeout=60) as r:
            json.load(r)
        warm = time.perf_counter() - began
        return {"rss": mem["VmRSS"], "peak": mem["VmHWM"], "first_query_s": first,
                "second_query_s": warm, "master_rss": _status(proc.pid)["VmRSS"]}  # fmt: skip
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=OUT / "scale.db")
    parser.add_argument("--queries", type=int, default=30, help="queries per kind")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--no-server", action="store_true")
    args = parser.parse_args()
    if not args.db.exists():
        sys.exit(f"no {args.db}: build it with bench/search_scale.py --build-only first")
    made, spent = fill_vectors(args.db, args.seed)
    if made:
        print(f"synthetic vectors stored: {made:,} in {spent:.0f} s")
    size = sizes(args.db)
    print(f"chunks {size['chunks']:,}; chunk_vectors {size['vector_bytes'] / 2**20:,.0f} MiB = "
          f"{size['bytes_per_chunk']:.0f} B a chunk ({size['lines_per_chunk']:.1f} lines a chunk); "
          f"file {size['file_bytes'] / 2**30:.2f} GiB")  # fmt: skip
    result = timed(args.db, pick_queries(args.db, args.queries, args.seed), args.repeat)
    print(f"vectors loaded in-process: {result['load']['seconds']:.1f} s")
    print("| mode, queries | p50 ms | p95 ms | max ms | runs |\n|---|---|---|---|---|")
    for name, row in result.items():
        if name != "load":
            print(f"| {name} | {row['p50']:.0f} | {row['p95']:.0f} | {row['max']:.0f} | {row['n']} |")
    if not args.no_server:
        mem = server_memory(args.db, args.port)
        print(f"indexer serve worker: VmRSS {mem['rss'] / 2**20:,.0f} MiB, peak "
              f"{mem['peak'] / 2**20:,.0f} MiB (gunicorn master {mem['master_rss'] / 2**20:.0f} MiB); "
              f"cold first query {mem['first_query_s']:.1f} s, next {mem['second_query_s'] * 1000:.0f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
