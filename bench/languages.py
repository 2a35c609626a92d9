"""Search in many languages: do a reader's queries land on the line that was said?

    .venv/bin/python bench/languages.py [--set dev] [--set heldout] [--misses] [--json FILE]

Each set is a folder of bench/languages/<set>/<lang>.json files, written by hand (by people
who did not look at the analysis code and did not run the search on them): a news-style
publisher transcript of 30-36 cues and 18 queries a native reader would type, of six kinds
(word, phrase, inflected form, compound part, spelling variant, and negatives that must
not match). Every file of a set becomes one episode of one RSS feed, its transcript a
`podcast:transcript` VTT with the file's language, served on 127.0.0.1 and indexed with
the product's CLI (`python -m indexer add FEED`), so nothing is transcribed.

The baseline in the same run is SQLite FTS5 as most projects use it: one row per cue in a
table with `tokenize='porter unicode61 remove_diacritics 2'`, the query's tokens ANDed
(`"w1" "w2"`), the best bm25 row taken. It has the advantage of one row per cue (the
product's rows are 45 s chunks) and of never being asked to place a hit in its row.

A positive query lands when the top hit of `indexer.search.search` over the whole index
(every language, no filter, exactly as typed) is a full match in that episode and starts
inside one of its target cues (from cue start - 1.0 s to cue end). A negative lands when
no full match is in that episode. "lang" repeats each query with the episode's language
as the filter (`--language`), as a reader who picks it would. The whole set is always
reported, misses with `--misses`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

from common import code_version, load, machine, table
from deeplink import serve

from indexer import search, store

HERE = Path(__file__).resolve().parent / "languages"
KINDS = ["word", "phrase", "inflected", "compound", "variant", "negative"]


def stamp(seconds: float) -> str:
    whole = int(seconds)
    return (
        f"{whole // 3600:02d}:{whole // 60 % 60:02d}:{whole % 60:02d}.{int(seconds % 1 * 1000):03d}"
    )


def write_feed(shows: list[dict], www: Path, base: str) -> str:
    items = []
    for n, show in enumerate(shows):
        lang = show["language"]
        cues = "\n".join(
            f"{stamp(c['start'])} --> {stamp(c['end'])}\n{c['text']}\n" for c in show["cues"]
        )
        (www / f"{lang}.vtt").write_text("WEBVTT\n\n" + cues, encoding="utf-8")
        title = show["title"].replace("&", "&amp;").replace("<", "&lt;")
        items.append(
            f"<item><title>{title}</title><guid>bench-{lang}</guid>"
            f"<pubDate>Mon, {n + 1:02d} Sep 2025 09:00:00 GMT</pubDate>"
            f'<enclosure url="{base}/{lang}.mp3" type="audio/mpeg"/>'
            f'<podcast:transcript url="{base}/{lang}.vtt" type="text/vtt" language="{lang}"/>'
            "</item>"
        )
    (www / "feed.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
        'xmlns:podcast="https://podcastindex.org/namespace/1.0"><channel>'
        f"<title>Languages bench</title>{''.join(items)}</channel></rss>",
        encoding="utf-8",
    )
    return f"{base}/feed.xml"


def lands(db: object, query: dict, show: dict, episode: int, language: str | None,
          mode: str = "keyword") -> bool:  # fmt: skip
    """`mode` "keyword" is search.search; the others go through search.find, as readers'
    searches do (a meaning-only hit counts as a full match there: it is what they see)."""
    got = (
        search.search(db, query["q"], language=language)
        if mode == "keyword"  # type: ignore[arg-type]
        else search.find(db, query["q"], language=language, mode=mode)
    )  # type: ignore[arg-type]
    hits = [h for h in got.hits if not h.partial]
    if not query["cues"]:
        return not any(h.episode_id == episode for h in hits)
    if not hits or hits[0].episode_id != episode:
        return False
    return any(
        show["cues"][c]["start"] - 1.0 <= hits[0].start <= show["cues"][c]["end"]
        for c in query["cues"]
    )


def baseline(shows: list[dict]) -> sqlite3.Connection:
    db = sqlite3.connect(":memory:")
    db.execute("create virtual table cues using fts5(text, lang unindexed, n unindexed, "
               "tokenize='porter unicode61 remove_diacritics 2')")  # fmt: skip
    db.executemany("insert into cues values (?, ?, ?)",
                   [(c["text"], s["language"], n) for s in shows
                    for n, c in enumerate(s["cues"])])  # fmt: skip
    return db


def baseline_lands(db: sqlite3.Connection, query: dict, lang: str) -> bool:
    words = re.findall(r"\w+", query["q"])
    if not words:
        return not query["cues"]
    match = " ".join('"' + w.replace('"', "") + '"' for w in words)
    rows = db.execute("select lang, n from cues where cues match ? order by bm25(cues)",
                      [match]).fetchall()  # fmt: skip
    if not query["cues"]:
        return not any(row[0] == lang for row in rows)
    return bool(rows) and rows[0][0] == lang and rows[0][1] in query["cues"]


def run_set(name: str, misses: bool) -> dict:
    shows = [
        json.loads(p.read_text(encoding="utf-8")) for p in sorted((HERE / name).glob("*.json"))
    ]
    with tempfile.TemporaryDirectory() as tmp:
        www = Path(tmp) / "www"
        www.mkdir()
        feed = write_feed(shows, www, serve(www))
        db_path = Path(tmp) / "bench.db"
        env = {**os.environ, "INDEXER_DB": str(db_path)}
        subprocess.run([sys.executable, "-m", "indexer", "add", feed], env=env, check=True,
                       stdout=subprocess.DEVNULL)  # fmt: skip
        db = store.open_db(db_path, readonly=True)
        plain_fts = baseline(shows)
        episodes = {r[1]: r[0] for r in db.execute("select id, language from episodes")}
        counts: dict[str, Counter] = defaultdict(Counter)
        missed: list[str] = []
        for show in shows:
            lang = show["language"]
            for query in show["queries"]:
                kind = query["kind"]
                plain = lands(db, query, show, episodes[lang], None)
                filtered = lands(db, query, show, episodes[lang], lang)
                for key, ok in ((lang, plain), (kind, plain), ("all", plain)):
                    counts[key]["n"] += 1
                    counts[key]["hit"] += ok
                base = baseline_lands(plain_fts, query, lang)
                default = lands(db, query, show, episodes[lang], None, search.DEFAULT_MODE)
                for key in (lang, kind, "all"):
                    counts[key]["lang"] += filtered
                    counts[key]["base"] += base
                    counts[key]["default"] += default
                if default != plain and misses:
                    missed.append(f"{lang} {kind:9} {query['q']!r}: the default search "
                                  f"{'lands' if default else 'misses'}, keyword alone "
                                  f"{'lands' if plain else 'misses'}")  # fmt: skip
                if not plain and misses:
                    hits = search.search(db, query["q"]).hits[:1]
                    got = (f"ep {hits[0].episode_id} {hits[0].start:.1f}s"
                           f"{' partial' if hits[0].partial else ''}: {hits[0].text[:60]}"
                           if hits else "nothing")  # fmt: skip
                    target = [show["cues"][c]["text"][:60] for c in query["cues"]]
                    missed.append(f"{lang} {kind:9} {query['q']!r} -> {got} | want {target}")
    return {"counts": counts, "missed": missed, "languages": [s["language"] for s in shows]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", action="append", dest="sets", help="bench/languages/<set>")
    parser.add_argument("--misses", action="store_true", help="list every miss")
    parser.add_argument("--json", type=Path, help="write the counts here")
    args = parser.parse_args()
    print(f"{machine()}; {load()}; {code_version()}")
    out = {}
    for name in args.sets or ["dev"]:
        result = run_set(name, args.misses)
        counts = result["counts"]
        rows = []
        for key in [*result["languages"], *KINDS, "all"]:
            c = counts.get(key)
            if c:
                rows.append([key, f"{c['hit']}/{c['n']}", f"{100 * c['hit'] / c['n']:.0f}%",
                             f"{c['lang']}/{c['n']}",
                             f"{c['default']}/{c['n']}",
                             f"{c['base']}/{c['n']} ({100 * c['base'] / c['n']:.0f}%)"])  # fmt: skip
        print(f"\n### set {name}\n")
        print(table(["", "lands", "%", "with lang filter", f"default ({search.DEFAULT_MODE})",
                     "plain FTS5 porter"], rows))  # fmt: skip
        if result["missed"]:
            print("\nMisses:\n" + "\n".join(f"- {m}" for m in result["missed"]))
        out[name] = {k: dict(v) for k, v in counts.items()}
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
