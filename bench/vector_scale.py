"""Meaning search at scale: time and recall of `search.nearest` on N synthetic vectors.

    .venv/bin/python bench/vector_scale.py [--n 1000000] [--queries 30]

The vectors are clustered like sentence embeddings (2,000 topic centres, each vector a
centre plus noise, normalised, int8 as stored); queries are perturbed stored vectors.
Compares the product's path (sign-bit candidates, then exact int8 re-ranking, above
search.EXACT_UP_TO vectors) with exact brute force in the same run: p50/p95 time and
recall@10 against the exact top 10. Speed is the measurement; real embeddings are more
clustered than these, so recall here is a lower bound.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from common import load, machine

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from indexer import search  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=30)
    parser.add_argument("--candidates", type=float, default=search.CANDIDATES,
                        help="share of vectors the sign bits keep for exact re-ranking")
    args = parser.parse_args()
    search.CANDIDATES = args.candidates
    print(f"{machine()}; {load()}")
    rng = np.random.default_rng(7)
    centres = rng.standard_normal((2000, 384)).astype(np.float32)
    vectors = np.empty((args.n, 384), dtype=np.int8)
    for i in range(0, args.n, 100_000):
        block = centres[rng.integers(0, 2000, min(100_000, args.n - i))]
        block = block + 0.9 * rng.standard_normal(block.shape).astype(np.float32)
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        vectors[i : i + len(block)] = np.clip(np.rint(block * 127), -127, 127).astype(np.int8)
    index = search.vectors_index(np.arange(args.n), np.zeros(args.n, dtype=np.int64), vectors)
    rows = np.arange(args.n)
    fast, exact, recall = [], [], []
    for _ in range(args.queries):
        q = vectors[rng.integers(0, args.n)].astype(np.float32) / 127
        q = q + 0.3 * rng.standard_normal(384).astype(np.float32) / np.sqrt(384)
        q /= np.linalg.norm(q)
        t = time.perf_counter()
        got = [c for c, _ in search.nearest(index, q, rows, 10)]
        fast.append(time.perf_counter() - t)
        t = time.perf_counter()
        saved = search.EXACT_UP_TO
        search.EXACT_UP_TO = args.n + 1
        truth = [c for c, _ in search.nearest(index, q, rows, 10)]
        search.EXACT_UP_TO = saved
        exact.append(time.perf_counter() - t)
        recall.append(len(set(got) & set(truth)) / 10)

    def p(values: list[float], q: float) -> float:
        return sorted(values)[min(len(values) - 1, int(q * len(values)))] * 1000

    print(f"{args.n:,} vectors ({vectors.nbytes / 1e6:,.0f} MB int8 + "
          f"{index.signs.nbytes / 1e6:,.0f} MB sign bits), {args.queries} queries:")  # fmt: skip
    print(f"  product path: p50 {p(fast, 0.5):.0f} ms, p95 {p(fast, 0.95):.0f} ms, "
          f"recall@10 {statistics.mean(recall):.2f} (min {min(recall):.1f})")  # fmt: skip
    print(f"  exact:        p50 {p(exact, 0.5):.0f} ms, p95 {p(exact, 0.95):.0f} ms")


if __name__ == "__main__":
    main()
