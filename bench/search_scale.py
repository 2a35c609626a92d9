"""Search at scale: build a synthetic index of N chunks with the product's own storage code,
then measure its size and query latency, in-process and through /api/search.

1. Build (``--build``, the default; ``--resume`` goes on from an interrupted build): episodes
   from bench/search_corpus.py (seeded, realistic spoken-English statistics) are chunked by
   ``indexer.chunk.chunk_segments`` (45 s) and stored by ``indexer.store.save_episode``,
   one transaction per episode exactly as ``indexer add`` does. Generating the text and
   storing it are timed apart; the storing rate is the product's.
2. Size: the file after ``PRAGMA wal_checkpoint(TRUNCATE)``, per table (dbstat), against the
   raw transcript text (UTF-8 of every word joined by spaces). The product never runs FTS5
   'optimize'; ``--optimize`` runs it (and VACUUM) on a copy, reports that size too and
   times the queries again on the copy.
3. Queries, picked deterministically from the index's own vocabulary (fts5vocab document
   frequencies), ``--queries`` per typical class and ``--hard-queries`` per hard class:

   typical  one word       a content word in 0.02%..2% of chunks (log-uniform)
            two words      two content words spoken in the same chunk
            phrase         2-3 consecutive words of a chunk, quoted
            prefix         ``infla*`` (advanced mode): 4-5 letters of a typical word
   hard     common word    the most frequent words ("the", "i", "and", ...)
            3-letter pfx   ``the*`` (advanced): the 3-letter prefixes with most postings
            common words   2-4 of the 30 most frequent words, unquoted
            one rare word  a typical word + a word in 1-3 chunks (partial-match path)
            no full match  2-3 typical words never spoken in one chunk (partial only)

   In-process: ``indexer.search.search(db, q, limit=20)`` on a read-only connection, each
   query once untimed, then ``--repeat`` timed runs; p50/p95/p99 per class. Relevance:
   every exact hit of a typical query must hold all its words (asserted; exit status 1 if
   not) and the top 20 are compared with an exact bm25 ranking of every match.
   HTTP (``--http``): ``waitress.create_server(web.create_app(...), threads=8)`` in a
   subprocess (own GIL), ``--clients`` threads with keep-alive ``http.client`` connections
   for ``--http-seconds`` on the typical mix, then on the hard mix.
   Baseline: ``LIKE '%word%'`` on chunks.text, first 20 and count(*), ``--like-baseline``
   queries per class.

Results are printed and written to bench/out/ (git-ignored) as search_scale-<N>.json and
search_scale-<N>.md.

Run:  .venv/bin/python bench/search_scale.py --chunks 100000
      .venv/bin/python bench/search_scale.py --no-build --db bench/out/scale.db
      .venv/bin/python bench/search_scale.py --no-build --profile 'the and'   # cProfile one query
"""

from __future__ import annotations

import argparse
import bisect
import cProfile
import http.client
import io
import json
import math
import os
import pstats
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.parse
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import snowballstemmer
from common import load, machine, table
from search_corpus import CHUNK_SECONDS, Corpus

from indexer import search, store
from indexer.chunk import chunk_segments
from indexer.models import Transcript

OUT = Path(__file__).resolve().parent / "out"
TYPICAL = ("one word", "two words", "phrase", "prefix")
HARD = ("common word", "3-letter prefix", "common words", "one rare word", "no full match")
TARGETS_MS = {"typical": 20.0, "hard": 100.0, "http typical": 50.0}
_stem = snowballstemmer.stemmer("porter").stemWord


@dataclass
class Q:
    """One benchmark query."""

    cls: str
    text: str
    advanced: bool = False
    matches: int = 0  # chunks holding every term (uncounted cap), from FTS5


@dataclass
class Timed:
    """Latency samples (ms) and what the search returned, per class."""

    samples: list[float] = field(default_factory=list)
    totals: list[int] = field(default_factory=list)
    partial: int = 0
    queries: int = 0


def log(*parts: object) -> None:
    print(*parts, flush=True)


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    s = sorted(values)
    return s[max(0, min(len(s) - 1, math.ceil(p / 100 * len(s)) - 1))]


def ms(x: float) -> str:
    return f"{x:.1f}" if x < 100 else f"{x:.0f}"


def mb(n: float) -> str:
    return f"{n / 1e6:,.1f} MB"


# --- build --------------------------------------------------------------------------------


def remove_db(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", ".build.json"):
        p = Path(str(path) + suffix)
        if p.exists():
            p.unlink()


def build(path: Path, target: int, seed: int, resume: bool) -> dict[str, Any]:
    """Store episodes until the index holds `target` chunks; timing generation and storing."""
    if not resume:
        remove_db(path)
    meta_path = Path(str(path) + ".build.json")
    previous = json.loads(meta_path.read_text()) if resume and meta_path.exists() else {}
    db = store.open_db(path)
    corpus = Corpus(seed)
    k = db.table("episodes").count
    done = db.table("chunks").count
    stats: dict[str, Any] = {"seed": seed, "target_chunks": target, "gen_s": 0.0, "store_s": 0.0, "wall_s": 0.0,
             "words": 0, "raw_bytes": 0, "audio_s": 0.0, "episodes": 0, "chunks": 0,
             "resumed_at_chunk": done if resume else None, "rates": []}  # fmt: skip
    for key in ("gen_s", "store_s", "wall_s", "words", "raw_bytes", "audio_s"):
        stats[key] += previous.get(key, 0)
    stats["rates"] = previous.get("rates", [])
    sources: dict[str, int] = {}
    began = last_print = time.perf_counter()
    last_done, last_store = done, stats["store_s"]
    log(f"building {path}: {done:,} chunks present, target {target:,}")
    while done < target:
        t0 = time.perf_counter()
        item, transcript, show = corpus.episode(k)
        t1 = time.perf_counter()
        chunks = chunk_segments(transcript.segments, CHUNK_SECONDS)
        if done + len(chunks) > target:  # the last episode ends early to hit N exactly
            chunks = chunks[: target - done]
            segments = transcript.segments[: chunks[-1].last_segment + 1]
            transcript = Transcript(segments, "en", segments[-1].end, transcript.model)
        if show.feed not in sources:
            sources[show.feed] = store.source_id_for(db, show.feed, show.name)
        store.save_episode(db, item, transcript, chunks, source_id=sources[show.feed],
                           chunk_seconds=CHUNK_SECONDS)  # fmt: skip
        t2 = time.perf_counter()
        words = [w.text for seg in transcript.segments for w in seg.words]
        stats["words"] += len(words)
        stats["raw_bytes"] += len(" ".join(words).encode())
        stats["audio_s"] += transcript.duration
        stats["gen_s"] += t1 - t0
        stats["store_s"] += t2 - t1
        done += len(chunks)
        k += 1
        now = time.perf_counter()
        if now - last_print > 30 or done >= target:
            rate = (done - last_done) / max(stats["store_s"] - last_store, 1e-9)
            stats["rates"].append([done, round(rate)])
            wall = stats["wall_s"] + now - began
            eta = (target - done) * wall / max(done - (stats["resumed_at_chunk"] or 0), 1)
            size = sum(os.path.getsize(str(path) + s) for s in ("", "-wal")
                       if os.path.exists(str(path) + s))  # fmt: skip
            log(f"  {done:>9,}/{target:,} chunks  {k:,} episodes  store {rate:,.0f} chunks/s  "
                f"gen {stats['gen_s']:.0f}s store {stats['store_s']:.0f}s  "
                f"{mb(size)}  eta {eta / 60:.0f} min  ({load()})")  # fmt: skip
            last_print, last_done, last_store = now, done, stats["store_s"]
    stats["wall_s"] += time.perf_counter() - began
    stats["episodes"], stats["chunks"] = k, done
    db.close()
    meta_path.write_text(json.dumps(stats, indent=1))
    return stats


# --- size ---------------------------------------------------------------------------------


def sizes(path: Path) -> dict[str, Any]:
    """File size after a WAL checkpoint, bytes per table, raw transcript bytes."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    out: dict[str, Any] = {"file": path.stat().st_size}
    tables: dict[str, int] = {}
    for name, size in conn.execute("select name, sum(pgsize) from dbstat group by name"):
        group = name
        if name.startswith("sqlite_autoindex_chunks_fts"):
            group = "chunks_fts_idx"
        tables[group] = tables.get(group, 0) + size
    out["tables"] = dict(sorted(tables.items(), key=lambda kv: -kv[1]))
    text_bytes, chunks, episodes = conn.execute(
        "select sum(length(cast(text as blob))), count(*), count(distinct episode_id) from chunks"
    ).fetchone()
    # Every word joined by single spaces, per episode: chunk texts plus one space between chunks.
    out["raw_bytes"] = text_bytes + chunks - episodes
    out["timings_bytes"] = conn.execute("select sum(length(timings)) from chunks").fetchone()[0]
    out["chunks"], out["episodes"] = chunks, episodes
    conn.close()
    return out


def optimized_copy(path: Path) -> tuple[Path, dict[str, Any]]:
    """Copy the database, run FTS5 'optimize' and VACUUM on the copy; their times and sizes."""
    copy = path.with_name(path.stem + "-optimized.db")
    shutil.copyfile(path, copy)
    conn = sqlite3.connect(copy)
    t0 = time.perf_counter()
    conn.execute("insert into chunks_fts(chunks_fts) values('optimize')")
    conn.commit()
    t1 = time.perf_counter()
    page = conn.execute("pragma page_size").fetchone()[0]
    used = (conn.execute("pragma page_count").fetchone()[0]
            - conn.execute("pragma freelist_count").fetchone()[0]) * page  # fmt: skip
    conn.execute("vacuum")
    t2 = time.perf_counter()
    fts = conn.execute("select sum(pgsize) from dbstat where name like 'chunks_fts%' "
                       "or name like 'sqlite_autoindex_chunks_fts%'").fetchone()[0]  # fmt: skip
    conn.close()
    return copy, {"optimize_s": t1 - t0, "in_use_after_optimize": used, "vacuum_s": t2 - t1,
                  "file_after_vacuum": copy.stat().st_size, "fts_bytes": fts}  # fmt: skip


# --- queries ------------------------------------------------------------------------------


class Vocab:
    """Document frequency of every indexed term, and a spoken surface form per stem."""

    def __init__(self, db: Any, corpus: Corpus) -> None:
        db.execute("create virtual table if not exists temp.vocab "
                   "using fts5vocab(main, chunks_fts, row)")  # fmt: skip
        self.df: dict[str, int] = dict(db.execute("select term, doc from temp.vocab"))
        self.n = db.execute("select count(*) from chunks").fetchone()[0]
        self.max_id = db.execute("select max(id) from chunks").fetchone()[0]
        self.surface: dict[str, str] = {}  # stem -> most frequent corpus word with that stem
        self.content: set[str] = set()  # stems of content words
        for i, word in enumerate(corpus.words):
            if not word.isalnum():
                continue
            stem = _stem(word)
            if stem in self.df and stem not in self.surface:
                self.surface[stem] = word
                if i >= corpus.n_function:
                    self.content.add(stem)
        self.terms = sorted(self.df)

    def word_df(self, word: str) -> int:
        return self.df.get(_stem(word.lower()), 0)

    def prefix_df(self, prefix: str) -> int:
        """Sum of the document frequencies of the terms under prefix (an upper bound)."""
        i = bisect.bisect_left(self.terms, prefix)
        total = 0
        while i < len(self.terms) and self.terms[i].startswith(prefix):
            total += self.df[self.terms[i]]
            i += 1
        return total


def pick_queries(db: Any, corpus: Corpus, vocab: Vocab, n: int, n_hard: int,
                 seed: int) -> list[Q]:  # fmt: skip
    """Deterministic queries per class from the index's own vocabulary."""
    rng = random.Random(seed * 7919 + 1)
    lo, hi = max(20, round(vocab.n * 0.0002)), round(vocab.n * 0.02)
    common_cap = vocab.n * 0.05
    typical = sorted((vocab.df[s], vocab.surface[s]) for s in vocab.content
                     if lo <= vocab.df[s] <= hi)  # fmt: skip
    typical_dfs = [d for d, _ in typical]
    out: list[Q] = []

    def log_uniform(count: int) -> list[str]:
        picked: list[str] = []
        used: set[int] = set()
        while len(picked) < count and len(used) < len(typical):
            i = bisect.bisect_left(typical_dfs, math.exp(rng.uniform(math.log(lo), math.log(hi))))
            i = min(i, len(typical) - 1)
            while i in used:
                i = (i + 1) % len(typical)
            used.add(i)
            picked.append(typical[i][1])
        return picked

    for w in log_uniform(n):
        out.append(Q("one word", w))

    def chunk_words() -> list[str]:
        while True:
            row = db.execute("select text from chunks where id >= ? order by id limit 1",
                             [rng.randint(1, vocab.max_id)]).fetchone()  # fmt: skip
            if row:
                return row[0].split(" ")

    def is_typical_content(token: str) -> bool:
        stem = _stem(token)
        return stem in vocab.content and lo <= vocab.df.get(stem, 0) <= common_cap

    seen: set[str] = set()
    while sum(q.cls == "two words" for q in out) < n:
        toks = list(dict.fromkeys(t for w in chunk_words() for t in search.tokens(w)
                                  if is_typical_content(t)))  # fmt: skip
        if len(toks) >= 2:
            text = " ".join(rng.sample(toks, 2))
            if text not in seen:
                seen.add(text)
                out.append(Q("two words", text))
    while sum(q.cls == "phrase" for q in out) < n:
        words = chunk_words()
        size = rng.choice((2, 3))
        i = rng.randrange(0, max(1, len(words) - size))
        span = words[i : i + size]
        if len(span) < size or any(w[-1] in ",.?!" for w in span[:-1]):
            continue  # stay inside a clause
        toks = [t for w in span for t in search.tokens(w)]
        if any(is_typical_content(t) for t in toks):
            text = '"' + " ".join(toks) + '"'
            if text not in seen:
                seen.add(text)
                out.append(Q("phrase", text))
    for w in log_uniform(n * 4):
        if sum(q.cls == "prefix" for q in out) >= n:
            break
        stem = _stem(w)
        size = rng.choice((4, 5))
        prefix = w[:size]
        if len(w) <= size or not stem.startswith(prefix) or prefix + "*" in seen:
            continue
        if lo <= vocab.prefix_df(prefix) <= common_cap:
            seen.add(prefix + "*")
            out.append(Q("prefix", prefix + "*", advanced=True))

    by_df = sorted(vocab.surface, key=lambda s: -vocab.df[s])
    top = [vocab.surface[s] for s in by_df[:30]]
    for w in top[:n_hard]:
        out.append(Q("common word", w))
    prefixes: dict[str, int] = {}
    for term, d in vocab.df.items():
        if len(term) >= 3 and term[:3].isalpha():
            prefixes[term[:3]] = prefixes.get(term[:3], 0) + d
    for p in sorted(prefixes, key=lambda p: -prefixes[p])[:n_hard]:
        out.append(Q("3-letter prefix", p + "*", advanced=True))
    while sum(q.cls == "common words" for q in out) < n_hard:
        text = " ".join(rng.sample(top, rng.choice((2, 3, 4))))
        if text not in seen:
            seen.add(text)
            out.append(Q("common words", text))
    # The rarest words that occur at all (a bigger corpus has fewer words in only 1-3 chunks).
    occurring = sorted((vocab.df[s], vocab.surface[s]) for s in vocab.content if vocab.df[s] >= 1)
    rare = sorted(
        w for df, w in occurring if df <= max(3, occurring[min(50, len(occurring) - 1)][0])
    )
    while sum(q.cls == "one rare word" for q in out) < n_hard:
        text = f"{log_uniform(1)[0]} {rng.choice(rare)}"
        if text not in seen:
            seen.add(text)
            out.append(Q("one rare word", text))
    while sum(q.cls == "no full match" for q in out) < n_hard:
        words = log_uniform(rng.choice((2, 3)))
        text = " ".join(words)
        strict = search.parse_query(text, "en").strict
        if text not in seen and count_all(db, strict) == 0:
            seen.add(text)
            out.append(Q("no full match", text))
    for q in out:
        q.matches = count_all(db, match_expr(q))
    return out


def match_expr(q: Q) -> str:
    """The FTS5 expression the product runs for q's exact matches."""
    return (
        search.advanced_expression(q.text, "en")
        if q.advanced
        else search.parse_query(q.text, "en").strict
    )


def count_all(db: Any, match: str) -> int:
    return int(db.execute("select count(*) from chunks_fts where chunks_fts match ?",
                          [match]).fetchone()[0])  # fmt: skip


# --- in-process ---------------------------------------------------------------------------


def run_search(db: Any, q: Q) -> search.Results:
    return search.search(db, q.text, advanced=q.advanced, limit=20)


def check_relevance(q: Q, results: search.Results, warnings: list[str]) -> list[str]:
    """Problems with a typical query's hits: exact hits that lack a query word.

    FTS5's porter tokenizer stems a prefix before matching it (``ches*`` runs as ``che*``);
    hits that only match the stemmed prefix go to `warnings`, not to the problems.
    """
    problems: list[str] = []
    exact = [h for h in results.hits if not h.partial]
    if q.matches and not exact:
        problems.append(f"{q.text!r}: {q.matches} chunks match but no exact hit came back")
    if results.hits and results.hits[0].partial and exact:
        problems.append(f"{q.text!r}: a partial hit ranks above an exact one")
    for h in exact:
        if q.advanced:
            prefix = q.text.rstrip("*").lower()
            toks = search.tokens(h.text)
            if any(t.startswith(prefix) or _stem(t).startswith(prefix) for t in toks):
                continue
            note = f"{q.text!r}: hit {h.chunk_id} has no word starting {prefix!r}"
            stemmed = _stem(prefix)
            if any(_stem(t).startswith(stemmed) for t in toks):
                warnings.append(f"{note} (the prefix ran as {stemmed + '*'!r})")
            else:
                problems.append(note)
        elif h.matched != h.terms:
            problems.append(f"{q.text!r}: hit {h.chunk_id} holds {h.matched}/{h.terms} terms")
    return problems


def time_in_process(db: Any, queries: list[Q], repeat: int
                    ) -> tuple[dict[str, Timed], list[str], list[str]]:  # fmt: skip
    """Warm each query once, then time it `repeat` times; relevance problems and warnings."""
    timed: dict[str, Timed] = {}
    problems: list[str] = []
    warnings: list[str] = []
    for q in queries:
        t = timed.setdefault(q.cls, Timed())
        results = run_search(db, q)
        if q.cls in TYPICAL:
            problems += check_relevance(q, results, warnings)
        t.queries += 1
        t.totals.append(results.total)
        t.partial += results.partial
        for _ in range(repeat):
            t0 = time.perf_counter()
            run_search(db, q)
            t.samples.append((time.perf_counter() - t0) * 1000)
    return timed, problems, warnings


def breakdown(db: Any, queries: list[Q]) -> dict[str, dict[str, float]]:
    """Mean ms per query spent in each product function, per class (one warm run each)."""
    spent: dict[str, float] = {}
    patched: list[tuple[Any, str, Any]] = []

    def wrap(module: Any, name: str) -> None:
        original = getattr(module, name, None)
        if original is None:  # the product changed shape: measure what is there
            return

        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                spent[name] = spent.get(name, 0.0) + time.perf_counter() - t0

        patched.append((module, name, original))
        setattr(module, name, timed)

    for module, name in ((store, "search_page"), (store, "count_chunks"),
                         (store, "match_ids"), (search, "_hit"), (search, "best_span"),
                         (search, "match_span")):  # fmt: skip
        wrap(module, name)
    out: dict[str, dict[str, float]] = {}
    try:
        for cls in dict.fromkeys(q.cls for q in queries):
            batch = [q for q in queries if q.cls == cls]
            spent.clear()
            t0 = time.perf_counter()
            for q in batch:
                run_search(db, q)
            total = time.perf_counter() - t0
            out[cls] = {k: v * 1000 / len(batch) for k, v in spent.items()}
            out[cls]["total"] = total * 1000 / len(batch)
    finally:
        for module, name, original in patched:
            setattr(module, name, original)
    return out


def exact_ranking(db: Any, queries: list[Q]) -> dict[str, dict[str, float]]:
    """Per class: overlap@20 of the product's exact hits with bm25 over every match, and the
    time that full ranking takes (what the product's rank window avoids)."""
    out: dict[str, dict[str, float]] = {}
    for cls in dict.fromkeys(q.cls for q in queries):
        overlaps, times = [], []
        for q in (q for q in queries if q.cls == cls):
            expr = match_expr(q)
            sql = "select rowid from chunks_fts where chunks_fts match ? order by rank limit 20"
            db.execute(sql, [expr]).fetchall()
            t0 = time.perf_counter()
            best = [r[0] for r in db.execute(sql, [expr])]
            times.append((time.perf_counter() - t0) * 1000)
            got = [h.chunk_id for h in run_search(db, q).hits if not h.partial]
            if best:
                overlaps.append(len(set(got) & set(best)) / len(best))
        out[cls] = {"overlap_at_20": sum(overlaps) / len(overlaps) if overlaps else float("nan"),
                    "full_rank_p50_ms": pct(times, 50), "full_rank_max_ms": max(times)}  # fmt: skip
    return out


def profile(db: Any, text: str, advanced: bool) -> str:
    """cProfile of one warm search, sorted by cumulative time."""
    q = Q("profile", text, advanced)
    run_search(db, q)
    prof = cProfile.Profile()
    prof.enable()
    t0 = time.perf_counter()
    results = run_search(db, q)
    wall = (time.perf_counter() - t0) * 1000
    prof.disable()
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(25)
    return (
        f"{text!r}: {wall:.1f} ms under cProfile, {len(results.hits)} hits, total "
        f"{results.total}, partial={results.partial}\n{buf.getvalue()}"
    )


# --- HTTP ---------------------------------------------------------------------------------


def http_bench(path: Path, queries: list[Q], clients: int, threads: int, seconds: float,
               seed: int, workers: int = 1) -> dict[str, Any]:  # fmt: skip
    """Latency of /api/search under `clients` keep-alive clients, waitress in a subprocess."""
    root = Path(__file__).resolve().parent.parent
    # The product's own command: `indexer serve` (waitress, pre-forked workers).
    proc = subprocess.Popen(
        [sys.executable, "-m", "indexer", "--db", str(path), "serve", "--port", "0",
         "--threads", str(threads), "--workers", str(workers)],
        cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "INDEXER_CONFIG": ""},
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        port = int(re.search(r"127\.0\.0\.1:(\d+)/", proc.stderr.readline()).group(1))
        # Keep reading the server's log: a full pipe would block its logging threads.
        log_lines: list[str] = []
        threading.Thread(target=lambda: log_lines.extend(proc.stderr), daemon=True).start()
        urls = []
        for q in queries:
            params = {"q": q.text, "limit": "20"}
            if q.advanced:
                params["mode"] = "advanced"
            urls.append((q.cls, "/api/search?" + urllib.parse.urlencode(params)))
        results: list[tuple[str, float, int]] = []
        lock = threading.Lock()

        def client(i: int, until: float, record: bool) -> None:
            mine = urls[:]
            random.Random(seed * 100 + i).shuffle(mine)
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            local: list[tuple[str, float, int]] = []
            j = 0
            while time.perf_counter() < until and (record or j < len(mine)):
                cls, url = mine[j % len(mine)]
                t0 = time.perf_counter()
                conn.request("GET", url)
                resp = conn.getresponse()
                resp.read()
                local.append((cls, (time.perf_counter() - t0) * 1000, resp.status))
                j += 1
            conn.close()
            if record:
                with lock:
                    results.extend(local)

        def run(duration: float, record: bool) -> float:
            until = time.perf_counter() + duration
            workers = [threading.Thread(target=client, args=(i, until, record))
                       for i in range(clients)]  # fmt: skip
            t0 = time.perf_counter()
            for w in workers:
                w.start()
            for w in workers:
                w.join()
            return time.perf_counter() - t0

        run(min(seconds, 20.0), record=False)  # warm: every server thread opens its connection
        elapsed = run(seconds, record=True)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    lat = [r[1] for r in results]
    per_class = {}
    for cls in dict.fromkeys(q.cls for q in queries):
        mine = [r[1] for r in results if r[0] == cls]
        if mine:
            per_class[cls] = {"n": len(mine), "p50": pct(mine, 50), "p95": pct(mine, 95),
                              "p99": pct(mine, 99)}  # fmt: skip
    return {"requests": len(results), "errors": sum(r[2] != 200 for r in results),
            "server_log_errors": sum("ERROR" in line for line in log_lines),
            "queue_warnings": sum("queue depth" in line for line in log_lines),
            "seconds": elapsed, "rps": len(results) / elapsed, "p50": pct(lat, 50),
            "p95": pct(lat, 95), "p99": pct(lat, 99), "per_class": per_class}  # fmt: skip


# --- LIKE baseline ------------------------------------------------------------------------


def like_patterns(q: Q) -> list[str]:
    if q.advanced:
        return ["%" + q.text.rstrip("*") + "%"]
    return ["%" + " ".join(p) + "%" for p in search.parse_query(q.text, "en").phrases]


def like_baseline(db: Any, queries: list[Q], per_class: int) -> list[dict[str, Any]]:
    """LIKE '%...%' on chunks.text: the first 20 rows (no order) and a count, timed once."""
    rows = []
    for cls in dict.fromkeys(q.cls for q in queries):
        for q in [q for q in queries if q.cls == cls][:per_class]:
            pats = like_patterns(q)
            where = " and ".join("text like ?" for _ in pats)
            t0 = time.perf_counter()
            first = db.execute(f"select id from chunks where {where} limit 20", pats).fetchall()
            t1 = time.perf_counter()
            count = db.execute(f"select count(*) from chunks where {where}", pats).fetchone()[0]
            t2 = time.perf_counter()
            t3 = time.perf_counter()
            run_search(db, q)
            t4 = time.perf_counter()
            rows.append({"cls": cls, "query": q.text, "first20_ms": (t1 - t0) * 1000,
                         "first20_rows": len(first), "count_ms": (t2 - t1) * 1000,
                         "count": count, "fts_matches": q.matches,
                         "product_ms": (t4 - t3) * 1000})  # fmt: skip
            log(f"  LIKE {cls:15} {q.text[:30]:30} first20 {rows[-1]['first20_ms']:8.0f} ms  "
                f"count {rows[-1]['count_ms']:8.0f} ms ({count:,})")  # fmt: skip
    return rows


# --- report -------------------------------------------------------------------------------


def latency_rows(timed: dict[str, Timed], queries: list[Q]) -> list[list[object]]:
    rows: list[list[object]] = []
    for cls, t in timed.items():
        matches = sorted(q.matches for q in queries if q.cls == cls)
        target = TARGETS_MS["typical" if cls in TYPICAL else "hard"]
        p95 = pct(t.samples, 95)
        rows.append([cls, "typical" if cls in TYPICAL else "hard", t.queries,
                     f"{matches[len(matches) // 2]:,}", f"{t.partial}/{t.queries}",
                     ms(pct(t.samples, 50)), ms(p95), ms(pct(t.samples, 99)),
                     ms(max(t.samples)), f"{target:.0f}", "yes" if p95 < target else "**no**"])  # fmt: skip
    return rows


LATENCY_HEADER = ["class", "kind", "queries", "median matches", "partial path", "p50 ms",
                  "p95 ms", "p99 ms", "max ms", "target p95", "met"]  # fmt: skip


def report(r: dict[str, Any], queries: list[Q]) -> str:
    """The markdown section."""
    lines = [f"Machine: {r['machine']}; {r['load_before']} before the queries.", ""]
    b = r.get("build")
    if b:
        lines += [
            f"Build: {b['chunks']:,} chunks in {b['episodes']:,} episodes "
            f"({b['audio_s'] / 3600:,.0f} h of speech, {b['words']:,} words), seed {b['seed']}. "
            f"Storing through `chunk_segments` + `save_episode` (one transaction per "
            f"episode) took {b['store_s'] / 60:.1f} min = **{b['chunks'] / b['store_s']:,.0f} "
            f"chunks/s**; generating the text {b['gen_s'] / 60:.1f} min; wall "
            f"{b['wall_s'] / 60:.1f} min. Storing rate along the build (chunks done: "
            f"chunks/s): " + ", ".join(f"{d:,}: {c:,}" for d, c in b["rates"][:: max(1, len(b["rates"]) // 8)])
            + ".",
            "",
        ]  # fmt: skip
    s = r["size"]
    raw = s["raw_bytes"]
    lines += [
        f"Size: raw transcript text {mb(raw)}; database file {mb(s['file'])} = "
        f"**{s['file'] / raw:.2f}x** the text (target at most 1.8x).",
        "",
        table(["table", "bytes", "x raw text"],
              [[k, mb(v), f"{v / raw:.2f}"] for k, v in s["tables"].items() if v > 0.002 * raw]),
        "",
        f"(`chunks` holds the text once plus the word-timing blobs: {mb(s['timings_bytes'])} "
        f"of timings = {s['timings_bytes'] / raw:.2f}x.)",
        "",
    ]  # fmt: skip
    o = r.get("optimized")
    if o:
        lines += [
            f"After FTS5 `optimize` (on a copy; the product never runs it): "
            f"{o['optimize_s']:.0f} s, pages in use {mb(o['in_use_after_optimize'])}; after "
            f"VACUUM ({o['vacuum_s']:.0f} s) the file is {mb(o['file_after_vacuum'])} = "
            f"**{o['file_after_vacuum'] / raw:.2f}x** (FTS tables {mb(o['fts_bytes'])}).",
            "",
        ]
    lines += [
        f"In-process latency: `indexer.search.search(db, q, limit=20)` on a read-only "
        f"connection, each query warmed once then timed {r['repeat']} times.",
        "",
        table(LATENCY_HEADER, latency_rows(r["_timed"], queries)),
        "",
    ]
    if r.get("_timed_optimized"):
        lines += ["The same on the optimized copy:", "",
                  table(LATENCY_HEADER, latency_rows(r["_timed_optimized"], queries)), ""]  # fmt: skip
    lines += ["Where the time goes (mean ms per query, one warm run each; nested: `_hit` "
              "and the partial pool call `best_span`, which calls `match_span`; "
              "`search_page` (count, window and ranking in SQL) counts the strict and the "
              "partial-pool calls; `count_chunks` is the per-word IDF counts):", ""]  # fmt: skip
    names = ["search_page", "count_chunks", "match_ids", "_hit", "best_span", "match_span",
             "total"]  # fmt: skip
    lines += [table(["class", *names],
                    [[cls, *(ms(v.get(n, 0.0)) for n in names)]
                     for cls, v in r["breakdown"].items()]), ""]  # fmt: skip
    lines += ["Relevance: overlap of the product's exact hits with the top 20 of an exact bm25 "
              "ranking of every match, and what that full ranking costs:", ""]  # fmt: skip
    lines += [table(["class", "overlap@20", "full rank p50 ms", "full rank max ms"],
                    [[cls, f"{v['overlap_at_20']:.2f}", ms(v["full_rank_p50_ms"]),
                      ms(v["full_rank_max_ms"])] for cls, v in r["exact"].items()]), ""]  # fmt: skip
    lines += [f"Relevance check of typical queries (every exact hit holds every word): "
              f"{'passed' if not r['problems'] else 'FAILED: ' + '; '.join(r['problems'][:5])}.", ""]  # fmt: skip
    if r["warnings"]:
        bad = sorted({w.split(":")[0] for w in r["warnings"]})
        lines += [f"Warning: {len(r['warnings'])} hits of {len(bad)} prefix queries "
                  f"({', '.join(bad)}) hold no word with the typed prefix: FTS5's porter "
                  f"tokenizer stems the prefix first ({r['warnings'][0].split('(')[-1][:-1]}).",
                  ""]  # fmt: skip
    for name, h in r.get("http", {}).items():
        lines += [
            f"HTTP, {name}: `/api/search?q=...&limit=20` on `indexer serve` (waitress, "
            f"{r['server_threads']} threads per worker), {r['clients']} keep-alive clients for "
            f"{h['seconds']:.0f} s: {h['requests']:,} requests, {h['errors']} errors (server log: {h.get('server_log_errors', 0)}), "
            f"**{h['rps']:.1f} req/s**, p50 {ms(h['p50'])} / p95 **{ms(h['p95'])}** / "
            f"p99 {ms(h['p99'])} ms.",
            "",
            table(["class", "requests", "p50 ms", "p95 ms", "p99 ms"],
                  [[c, v["n"], ms(v["p50"]), ms(v["p95"]), ms(v["p99"])]
                   for c, v in h["per_class"].items()]),
            "",
        ]  # fmt: skip
    if r.get("like"):
        lines += ["Baseline, `LIKE '%...%'` on `chunks.text` (one timed run each; LIKE matches "
                  "substrings, so its counts differ from FTS5's):", ""]  # fmt: skip
        lines += [table(["class", "query", "LIKE first 20 ms", "LIKE count ms", "LIKE count",
                         "FTS matches", "product search ms"],
                        [[x["cls"], f"`{x['query']}`", ms(x["first20_ms"]), ms(x["count_ms"]),
                          f"{x['count']:,}", f"{x['fts_matches']:,}", ms(x["product_ms"])]
                         for x in r["like"]]), ""]  # fmt: skip
    lines += ["Queries per class (first 5):", ""]
    for cls in dict.fromkeys(q.cls for q in queries):
        sample = [f"`{q.text}` ({q.matches:,})" for q in queries if q.cls == cls][:5]
        lines.append(f"- {cls}: " + ", ".join(sample))
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", type=Path, default=OUT / "scale.db")
    parser.add_argument("--chunks", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--build",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="build the index first (--no-build reuses --db)",
    )
    parser.add_argument("--resume", action="store_true", help="continue an interrupted build")
    parser.add_argument("--build-only", action="store_true", help="build, report size, stop")
    parser.add_argument("--queries", type=int, default=50, help="queries per typical class")
    parser.add_argument("--hard-queries", type=int, default=10, help="queries per hard class")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each query")
    parser.add_argument("--http", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--server-threads", type=int, default=8, help="threads per worker")
    parser.add_argument("--server-workers", type=int, nargs="+", default=[1, 2],
                        help="`indexer serve --workers` values to compare")  # fmt: skip
    parser.add_argument("--http-seconds", type=float, default=30.0)
    parser.add_argument("--like-baseline", type=int, default=2, metavar="N",
                        help="LIKE queries per class (0: skip)")  # fmt: skip
    parser.add_argument(
        "--optimize",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also measure an FTS5-optimized, vacuumed copy",
    )
    parser.add_argument("--keep-optimized", action="store_true")
    parser.add_argument("--profile", metavar="QUERY", help="cProfile one query and exit")
    parser.add_argument("--advanced", action="store_true", help="--profile in advanced mode")
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    args.db.parent.mkdir(parents=True, exist_ok=True)

    if args.profile:
        print(profile(store.open_db(args.db, readonly=True), args.profile, args.advanced))
        return
    r: dict[str, Any] = {"machine": machine(), "db": str(args.db), "repeat": args.repeat,
                         "clients": args.clients, "server_threads": args.server_threads,
                         "argv": sys.argv[1:]}  # fmt: skip
    if args.build or args.resume:
        r["build"] = build(args.db, args.chunks, args.seed, args.resume)
    else:
        meta = Path(str(args.db) + ".build.json")
        r["build"] = json.loads(meta.read_text()) if meta.exists() else None
    log("measuring size ...")
    r["size"] = sizes(args.db)
    log(f"  file {mb(r['size']['file'])}, raw text {mb(r['size']['raw_bytes'])}, "
        f"ratio {r['size']['file'] / r['size']['raw_bytes']:.2f}x")  # fmt: skip
    if args.build_only:
        print(json.dumps(r["size"], indent=1))
        return
    corpus = Corpus(args.seed)
    db = store.open_db(args.db, readonly=True)
    log("reading the vocabulary and picking queries ...")
    t0 = time.perf_counter()
    vocab = Vocab(db, corpus)
    queries = pick_queries(db, corpus, vocab, args.queries, args.hard_queries, args.seed)
    log(f"  {len(queries)} queries in {time.perf_counter() - t0:.0f} s")
    r["queries"] = [asdict(q) for q in queries]
    r["load_before"] = load()
    log("timing in-process ...")
    timed, problems, warnings = time_in_process(db, queries, args.repeat)
    r["_timed"], r["problems"], r["warnings"] = timed, problems, warnings
    print(table(LATENCY_HEADER, latency_rows(timed, queries)), flush=True)
    r["breakdown"] = breakdown(db, queries)
    r["exact"] = exact_ranking(db, queries)
    if args.like_baseline:
        log("LIKE baseline ...")
        r["like"] = like_baseline(db, queries, args.like_baseline)
    db.close()
    if args.http:
        r["http"] = {}
        runs = [
            (name, classes, w)
            for w in args.server_workers
            for name, classes in (("typical", TYPICAL), ("hard", HARD))
        ]
        for name, classes, w in runs:
            label = f"{name} mix, {w} worker{'s' if w > 1 else ''}"
            log(f"HTTP, {label}, {args.clients} clients, {args.http_seconds:.0f} s ...")
            mix = [q for q in queries if q.cls in classes]
            r["http"][label] = h = http_bench(args.db, mix, args.clients, args.server_threads,
                                              args.http_seconds, args.seed, w)  # fmt: skip
            log(f"  {h['requests']} requests, {h['rps']:.1f}/s, p50 {ms(h['p50'])} "
                f"p95 {ms(h['p95'])} p99 {ms(h['p99'])} ms, {h['errors']} errors, "
                f"{h['server_log_errors']} errors in the server log")  # fmt: skip
    if args.optimize:
        log("FTS5 optimize + VACUUM on a copy ...")
        copy, r["optimized"] = optimized_copy(args.db)
        odb = store.open_db(copy, readonly=True)
        r["_timed_optimized"], _, _ = time_in_process(odb, queries, args.repeat)
        odb.close()
        print(table(LATENCY_HEADER, latency_rows(r["_timed_optimized"], queries)), flush=True)
        if not args.keep_optimized:
            remove_db(copy)
    r["load_after"] = load()
    md = report(r, queries)
    stem = f"search_scale-{r['size']['chunks']}"
    (OUT / f"{stem}.md").write_text(md)
    dump = {k: v for k, v in r.items() if not k.startswith("_")}
    dump["latency"] = {cls: {"p50": pct(t.samples, 50), "p95": pct(t.samples, 95),
                             "p99": pct(t.samples, 99), "samples": t.samples}
                       for cls, t in timed.items()}  # fmt: skip
    (OUT / f"{stem}.json").write_text(json.dumps(dump, indent=1, default=str))
    print("\n" + md)
    log(f"wrote {OUT / stem}.md and .json")
    if problems:
        print(f"RELEVANCE CHECK FAILED ({len(problems)}):", *problems[:20], sep="\n  ")
        sys.exit(1)


if __name__ == "__main__":
    main()
