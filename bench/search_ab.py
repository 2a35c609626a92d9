"""Search latency, this checkout against another, interleaved: same database, same queries.

    .venv/bin/python bench/search_ab.py --db bench/out/scale.db --other /path/to/old/checkout \
        [--queries bench/out/search_scale-1000000.json] [--rounds 5]

Machine noise here moves a whole run by 20% or more, so two runs of bench/search_scale.py
minutes apart can't show a change of a few ms. This starts one worker process per code
tree (each imports `indexer` from its own tree), warms every query once in both, then sends
each query to both workers in turn, `--rounds` times, alternating who goes first. The
queries are those bench/search_scale.py picked and wrote to its JSON output. Prints p50 and
p95 per query class for both trees (over all timed runs, as bench/search_scale.py does).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def worker(root: Path, db_path: str) -> None:
    """Answer JSON query lines on stdin with the elapsed milliseconds of search.search."""
    sys.path.insert(0, str(root))
    from indexer import search, store

    db = store.open_db(db_path, readonly=True)
    print(json.dumps({"root": str(Path(search.__file__).resolve().parents[1])}), flush=True)
    for line in sys.stdin:
        q = json.loads(line)
        began = time.perf_counter()
        search.search(db, q["text"], advanced=q.get("advanced", False), limit=20)
        print(json.dumps({"ms": (time.perf_counter() - began) * 1000}), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", required=True)
    ap.add_argument("--other", type=Path, required=True, help="the other checkout's root")
    ap.add_argument("--queries", type=Path, default=ROOT / "bench/out/search_scale-1000000.json")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(args.worker, args.db)
    queries = json.loads(args.queries.read_text())["queries"]
    trees = {"this": ROOT, "other": args.other.resolve()}
    procs = {
        name: subprocess.Popen(
            [sys.executable, __file__, "--db", args.db, "--other", ".", "--worker", str(root)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for name, root in trees.items()
    }
    for name, proc in procs.items():
        assert proc.stdout is not None
        print(f"{name}: indexer from {json.loads(proc.stdout.readline())['root']}")

    def ask(name: str, q: dict) -> float:
        proc = procs[name]
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(json.dumps(q) + "\n")
        proc.stdin.flush()
        return float(json.loads(proc.stdout.readline())["ms"])

    times: dict[str, dict[str, list[float]]] = {n: {} for n in trees}
    per_query: dict[str, dict[str, list[float]]] = {n: {} for n in trees}
    try:
        for q in queries:  # warm both
            for name in trees:
                ask(name, q)
        for r in range(args.rounds):
            for i, q in enumerate(queries):
                order = list(trees) if (r + i) % 2 == 0 else list(trees)[::-1]
                for name in order:
                    ms = ask(name, q)
                    times[name].setdefault(q["cls"], []).append(ms)
                    per_query[name].setdefault(q["text"], []).append(ms)
    finally:
        for proc in procs.values():
            assert proc.stdin is not None
            proc.stdin.close()
            proc.wait(timeout=30)
    print(f"\n{len(queries)} queries x {args.rounds} interleaved rounds\n")
    print("| class | this p50 / p95 ms | other p50 / p95 ms |\n| --- | --- | --- |")
    for cls in times["this"]:
        cells = []
        for name in trees:
            ms = sorted(times[name][cls])
            p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
            cells.append(f"{statistics.median(ms):.1f} / {p95:.1f}")
        print(f"| {cls} | {cells[0]} | {cells[1]} |")
    delta = {t: statistics.median(per_query["this"][t]) - statistics.median(per_query["other"][t])
             for t in per_query["this"]}  # fmt: skip
    print("\nlargest changes (median ms, this - other):")
    for t in sorted(delta, key=lambda t: -abs(delta[t]))[:8]:
        print(f"  {delta[t]:+7.1f}  {t!r}")


if __name__ == "__main__":
    main()
