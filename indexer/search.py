"""Safe query building, ranking of full and partial matches, and precise hit times."""

from __future__ import annotations

import bisect
import dataclasses
import math
import re
import sqlite3
import threading
import unicodedata
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any

import sqlite_utils

from . import analyze, embed, links, store
from .links import link_at
from .models import Hit, Word

MAX_TERMS = 32
MAX_LIMIT = 500
# Candidates ranked for partial matches; bm25 picks them, word analysis orders them.
PARTIAL_POOL = 100
# Open the link a little before the first word: word timestamps can run late.
LEAD_SECONDS = 0.5

_TOKEN = re.compile(r"[^\W_]+")
_JOINERS = frozenset("'’.-")


class QueryError(ValueError):
    """The query can't be run (empty, bad advanced syntax, bad filter)."""


@dataclass(frozen=True)
class Query:
    """A user query as phrases of index terms (see analyze.py); a word is a 1-term phrase."""

    phrases: tuple[tuple[str, ...], ...]
    language: str | None = None  # the language the words were analysed in

    @property
    def strict(self) -> str:
        """FTS5 expression requiring every phrase."""
        return _strict(self.phrases)

    @property
    def words(self) -> Query:
        """The same query with every phrase split into single words."""
        return Query(tuple(dict.fromkeys((t,) for p in self.phrases for t in p)), self.language)

    @property
    def loose(self) -> str:
        """FTS5 expression matching any word of the query."""
        words = dict.fromkeys(t for p in self.phrases for t in p)
        return " OR ".join(_fts_phrase((w,)) for w in words)


def _fts_phrase(phrase: tuple[str, ...]) -> str:
    """A phrase as FTS5 syntax; one Han or kana character looks for the bigrams it starts."""
    if len(phrase) == 1 and analyze.is_lone_unit(phrase[0]):
        return f'"{phrase[0]}"*'
    return '"' + " ".join(phrase) + '"'


def tokens(text: str) -> list[str]:
    """Split text the way SQLite's unicode61 tokenizer does, lowercased."""
    if text.isalnum():  # most words: skip the regex
        return [text.lower()]
    return [t.lower() for t in _TOKEN.findall(text)]


def _words(text: str) -> list[str]:
    """Split on anything but letters, digits, marks (Devanagari and Thai vowel signs are
    part of words) and the joiners of a word's pieces."""
    out, word = [], []
    for ch in text:
        if unicodedata.category(ch)[0] in "LNM" or ch in _JOINERS:
            word.append(ch)
        elif word:
            out.append("".join(word))
            word = []
    if word:
        out.append("".join(word))
    return out


def _strict(phrases: tuple[tuple[str, ...], ...]) -> str:
    return " AND ".join(_fts_phrase(p) for p in phrases)


def parse_query(text: str, language: str | None = None) -> Query:
    """Turn any user input into phrases that are always valid FTS5 (quotes, operators, emoji...).

    Words are analysed as the index was, in `language` (stems, folding, CJK bigrams).
    """
    phrases: list[tuple[str, ...]] = []
    parts = text.split('"')
    for i, part in enumerate(parts):
        # Odd parts sit between a pair of quotes; a last unpaired quote quotes nothing.
        quoted = i % 2 == 1 and i < len(parts) - 1
        if quoted:
            # A quoted phrase must meet the index's terms in a row, extra ones included.
            units = analyze.query_terms(part, [language], extra=True)
            terms = [t for unit in units for t in unit[0]]
            if terms:
                phrases.append(tuple(terms))
        else:
            # Apostrophes, hyphens and dots join a word's pieces into a phrase ("don't",
            # "e-mail", "U.S."); any other punctuation separates words.
            for word in (w for typed in _words(part) for w in analyze.query_words(typed)):
                terms = [t for unit in analyze.query_terms(word, [language]) for t in unit[0]]
                if terms:
                    phrases.append(tuple(terms))
    unique = list(dict.fromkeys(phrases))[:MAX_TERMS]
    if not unique:
        raise QueryError("the query has no words to search for")
    return Query(tuple(unique), language)


@lru_cache(maxsize=65536)
def _stems(word: str, language: str | None) -> tuple[str, ...]:
    """A transcript word's terms as the index holds them (most words are one term)."""
    return tuple(t for t, _ in analyze.analyze_words([word], language))


# Words this long may match a transcript word one edit away ("sailor" / "sailer"), or two
# from FUZZY_TWO letters on ("writer" / "rider"), when placing a partial hit.
FUZZY_MIN = 5
FUZZY_TWO = 6


@lru_cache(maxsize=65536)
def _deletions(stem: str, depth: int) -> frozenset[str]:
    """The stem with up to `depth` letters left out (the deletion neighbourhood)."""
    found, frontier = {stem}, {stem}
    for _ in range(depth):
        frontier = {w[:i] + w[i + 1 :] for w in frontier for i in range(len(w))}
        found |= frontier
    return frozenset(found)


def _similar(wanted: str, stem: str) -> bool:
    """True when a transcript stem is close enough to a query stem to be a mishearing of it."""
    depth = 2 if len(wanted) >= FUZZY_TWO else 1
    if len(wanted) < FUZZY_MIN or abs(len(wanted) - len(stem)) > depth or len(stem) < 3:
        return False
    return not _deletions(wanted, depth).isdisjoint(_deletions(stem, 1))


def match_span(words: Sequence[Word], query: Query, *, fuzzy: bool = False,
               language: str | None = None) -> tuple[int, int, int] | None:  # fmt: skip
    """The tightest run of words holding the most query phrases: (first, last, how many).

    The words are analysed in their episode's `language`, as a whole (a CJK bigram may
    span two words). With `fuzzy`, a one-word phrase also matches a word a letter or two
    off (`_similar`).
    """
    analysed = analyze.analyze_words([w.text for w in words], language)
    stems = [t for t, _ in analysed]
    owner = [i for _, i in analysed]  # the word each term starts in
    occurrences: list[tuple[int, int, int]] = []  # (first word, last word, phrase index)
    present = set(stems) if fuzzy else set()
    for k, phrase in enumerate(query.phrases):
        target = list(phrase)
        n = len(target)
        if n == 1 and analyze.is_lone_unit(target[0]):
            occurrences += [(owner[j], owner[j], k) for j, stem in enumerate(stems)
                            if stem.startswith(target[0])]  # fmt: skip
            continue
        for j in [j for j, stem in enumerate(stems) if stem == target[0]]:
            if stems[j : j + n] == target:
                occurrences.append((owner[j], owner[j + n - 1], k))
        if fuzzy and n == 1 and len(target[0]) >= FUZZY_MIN and target[0] not in present:
            near = {stem for stem in present if _similar(target[0], stem)}
            if near:
                occurrences += [(owner[j], owner[j], k) for j, stem in enumerate(stems)
                                if stem in near]  # fmt: skip
    if not occurrences:
        return None
    found, first, last, _ = _tightest(occurrences)
    return first, last, found


def _tightest(occurrences: list[tuple[int, int, int]]) -> tuple[int, int, int, bool]:
    """The tightest window of (first, last, phrase) occurrences holding the most phrases.

    Returns (phrases found, first, last, unordered); between equally tight windows, one
    saying the phrases in the query's order wins.
    """
    occurrences.sort()
    best: tuple[int, int, bool, int, int] | None = None  # (-found, span, unordered, first, last)
    counts: dict[int, int] = {}
    left = 0
    for right, (_, _r_last, r_k) in enumerate(occurrences):
        counts[r_k] = counts.get(r_k, 0) + 1
        # Shrink from the left while the left occurrence is redundant.
        while counts[occurrences[left][2]] > 1:
            counts[occurrences[left][2]] -= 1
            left += 1
        window = occurrences[left : right + 1]
        first = occurrences[left][0]
        last = max(o[1] for o in window)
        unordered = any(a[2] > b[2] for a, b in zip(window, window[1:], strict=False))
        candidate = (-len(counts), last - first, unordered, first, last)
        if best is None or candidate < best:
            best = candidate
    assert best is not None
    return -best[0], best[3], best[4], best[2]


def _tighter_run(words: Sequence[Word], query: Query, span: tuple[int, int, int],
                 language: str | None) -> tuple[int, int, int]:  # fmt: skip
    """Where a scattered full match was really said: a run of all but one word, if any.

    "thunderstorms will clear by" whose "by" is ten words away, while "thunderstorm will
    clear" is said word for word: the run is the moment the reader heard.
    """
    n = len(query.phrases)
    width = span[1] - span[0] + 1
    if n < 3 or width <= 2 * n + 2:
        return span
    best = span
    for k in range(n):
        rest = Query(query.phrases[:k] + query.phrases[k + 1 :], query.language)
        run = match_span(words, rest, language=language)
        size = sum(len(p) for p in rest.phrases)
        tight = run is not None and run[2] == n - 1 and run[1] - run[0] + 1 <= size + 1
        if run and tight and (best is span or run[1] - run[0] < best[1] - best[0]):
            best = (run[0], run[1], span[2])
    return best


def best_span(words: Sequence[Word], query: Query, *, fuzzy: bool = False,
              language: str | None = None) -> tuple[int, int, int, int] | None:  # fmt: skip
    """The span to link to: (first, last, matched, out of); phrases first, then single words.

    A misheard word breaks a quoted phrase; its other words still say where it was spoken.
    With `fuzzy` (partial hits), words one or two letters off count too, when that finds
    more of the query: "brave sailor" is found where the transcript says "brain sailer".
    """
    span = match_span(words, query, language=language)
    if span and span[2] == len(query.phrases):
        return (*_tighter_run(words, query, span, language), len(query.phrases))
    best = (*span, len(query.phrases)) if span else None
    loose = query.words
    by_word = match_span(words, loose, language=language) if loose != query else span
    if by_word and (best is None or by_word[2] / len(loose.phrases) > best[2] / best[3]):
        best = (*by_word, len(loose.phrases))
    if fuzzy and (best is None or best[2] < best[3]):
        near = match_span(words, loose, fuzzy=True, language=language)
        if near and (best is None or near[2] / len(loose.phrases) > best[2] / best[3]):
            # Placed by the near matches; only the exact words count as matched.
            best = (near[0], near[1], by_word[2] if by_word else 0, len(loose.phrases))
    return best


def proximity(search_text: str, query: Query) -> tuple[bool, float, int]:
    """How closely a chunk says the query's words: (exact run, tightness, words found).

    Tightness is the share of the tightest window holding the most query words that those
    words fill (1.0 when adjacent), with a bonus of 0.25 when they come in the query's
    order: the sloppy-phrase idea of Lucene, on the chunk's index terms alone (no timings
    decoded).
    """
    targets = list(dict.fromkeys(t for p in query.phrases for t in p))
    stems = search_text.split(" ")
    wanted = {t: k for k, t in enumerate(targets)}
    hits = [(i, i, wanted[s]) for i, s in enumerate(stems) if s in wanted]
    if not hits:
        return False, 0.0, 0
    n = len(targets)
    exact = n > 1 and any(stems[i : i + n] == targets for i, _, k in hits if k == 0)
    found, first, last, unordered = _tightest(hits)
    tightness = found / (last - first + 1) + (0.0 if unordered or found < 2 else 0.25)
    return exact, tightness, found


SNIPPET_WORDS = 32


def make_snippet(words: Sequence[Word], span: tuple[int, ...] | None, query: Query | None,
                 prefixes: tuple[str, ...] = (), language: str | None = None) -> str:  # fmt: skip
    """About SNIPPET_WORDS words around the match, matched words between the mark characters."""
    first = max(0, span[0] - 8) if span else 0
    last = min(len(words), first + SNIPPET_WORDS)
    first = max(0, min(first, last - SNIPPET_WORDS))
    wanted = {t for p in query.phrases for t in p} if query else set()
    out = []
    for w in words[first:last]:
        hit = (
            not wanted.isdisjoint(_stems(w.text, language))
            or bool(prefixes)
            and any(t.startswith(prefixes) for t in tokens(w.text))
        )
        out.append(_mark(w.text, wanted) if hit else w.text)
    return ("…" if first > 0 else "") + analyze.join_words(out) + ("…" if last < len(words) else "")


def _wordlike(ch: str) -> bool:
    return unicodedata.category(ch)[0] in "LNM"  # marks too: चुनावों, สถานี end in one


def _mark(text: str, wanted: set[str] | frozenset[str] = frozenset()) -> str:
    """Mark a word, leaving punctuation around it outside the marks; in a run of Chinese,
    Japanese or Thai (one "word" of a publisher's transcript) only the matched part."""
    folded = analyze.unspaced_form(text) if wanted else None
    if folded is not None:
        covered = [False] * len(text)
        for term in wanted:
            at = folded.find(term)
            while term and at >= 0:
                covered[at : at + len(term)] = [True] * len(term)
                at = folded.find(term, at + 1)
        if any(covered):
            out, inside = [], False
            for ch, on in zip(text, covered, strict=True):
                if on != inside:
                    out.append(store.MARK_START if on else store.MARK_END)
                    inside = on
                out.append(ch)
            return "".join(out) + (store.MARK_END if inside else "")
    a = next((i for i, ch in enumerate(text) if _wordlike(ch)), None)
    if a is None:
        return text
    b = len(text) - next(i for i, ch in enumerate(reversed(text)) if _wordlike(ch))
    return f"{text[:a]}{store.MARK_START}{text[a:b]}{store.MARK_END}{text[b:]}"


def _idf(db: sqlite_utils.Database, query: Query, filters: dict[str, Any]
         ) -> dict[str, tuple[float, int]]:  # fmt: skip
    """Each query word's weight (BM25's IDF: rare words weigh more than "the") and count."""
    total = max(store.chunk_total(db), 1)
    weights = {}
    for (token,) in query.phrases:
        n = store.count_chunks(db, f'"{token}"', **filters)
        weights[token] = (math.log((total - n + 0.5) / (n + 0.5) + 1.0), n)
    return weights


def _coverage(text: str, weights: dict[str, tuple[float, int]]) -> float:
    """The share of the query's weight whose words occur in a chunk's text."""
    present = set(text.split(" "))
    found = sum(w for token, (w, _) in weights.items() if token in present)
    return found / (sum(w for w, _ in weights.values()) or 1.0)


@dataclass
class Results:
    """A page of hits and how many chunks hold every query word."""

    hits: list[Hit] = field(default_factory=list)
    total: int = 0
    partial: bool = False

    @property
    def capped(self) -> bool:
        """True when more chunks match than were counted (total is then a lower bound)."""
        return self.total > store.COUNT_CAP


def _check_date(value: str | None, name: str) -> str | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value.strip()).isoformat()
    except ValueError:
        raise QueryError(f"bad {name} date {value!r}: use YYYY-MM-DD") from None


def _chapter(chapters: list[tuple[float, str]], seconds: float) -> str | None:
    """The title of the chapter playing at `seconds`, if any."""
    i = bisect.bisect_right(chapters, seconds + 0.01, key=lambda c: c[0])
    return chapters[i - 1][1] if i else None


def hits_for(db: sqlite_utils.Database, rows: list[dict[str, Any]], query: Query) -> list[Hit]:
    """Full-match hits for chunk rows of store's hit queries (alerts build theirs so)."""
    return _hits(db, rows, query, False)


def _hits(db: sqlite_utils.Database, rows: list[dict[str, Any]], query: Query | None,
          partial: bool, prefixes: tuple[str, ...] = ()) -> list[Hit]:  # fmt: skip
    chapters = store.chapters_of(db, (r["episode_id"] for r in rows))
    return [_hit(r, query, partial, chapters.get(r["episode_id"], []), prefixes) for r in rows]


# About how long a spoken word takes, for placing words the transcript does not have.
WORD_SECONDS = 0.3


def _unheard_lead(span_words: Sequence[Word], query: Query, language: str | None) -> float:
    """Extra lead for a partial hit whose first query words are not in the transcript.

    "councillor okonkwo you promised", written "Council rock on quo, you promised": the
    match starts at "you", but the reader heard the phrase begin two words before.
    """
    present = {stem for w in span_words for stem in _stems(w.text, language)}
    targets = [t for p in query.phrases for t in p]
    missing = 0
    for target in targets:
        if target in present:
            break
        missing += 1
    return min(missing, 5) * WORD_SECONDS if missing < len(targets) else 0.0


def _hit(row: dict[str, Any], query: Query | None, partial: bool,
         chapters: list[tuple[float, str]], prefixes: tuple[str, ...]) -> Hit:  # fmt: skip
    start, end, matched, terms = float(row["start"]), float(row["end"]), 0, 0
    quote = row["text"]
    segments = store.chunk_segments(row)
    speaker = segments[0].speaker if segments else None
    language = row.get("language")
    words = [w for seg in segments for w in seg.words]
    span = best_span(words, query, fuzzy=partial, language=language) if query else None
    snippet = make_snippet(words, span, query, prefixes, language)
    if query is not None:
        terms = len(query.phrases)
        if span:
            first, last = words[span[0]], words[span[1]]
            lead = LEAD_SECONDS + (_unheard_lead(words[span[0] : span[1] + 1], query, language)
                                   if partial else 0.0)  # fmt: skip
            start = max(0.0, first.start - lead)
            end, matched, terms = last.end, span[2], span[3]
            quoted = [s for s in segments if s.end >= first.start and s.start <= last.end]
            quote = analyze.join_words([seg.text for seg in quoted])
            speaker = quoted[0].speaker if quoted else None
    page = row.get("webpage_url") or row.get("media_url") or ""
    return Hit(
        episode_id=row["episode_id"],
        title=row["title"],
        start=start,
        end=end,
        text=row["text"],
        quote=quote,
        chapter=_chapter(chapters, start),
        speaker=speaker,
        language=language,
        snippet=snippet,
        url=link_at(page, start),
        chunk_id=row["chunk_id"],
        score=row["rank"],
        partial=partial,
        matched=matched,
        terms=terms,
        channel=row.get("channel"),
        published=row.get("published"),
        duration=row.get("duration"),
        webpage_url=row.get("webpage_url"),
        thumbnail=row.get("thumbnail"),
        source_id=row.get("source_id"),
    )


# A one-phrase query matching at most this many chunks is ranked here, not by FTS5.
FEW_MATCHES = 64
BM25_K1, BM25_B = 1.2, 0.75  # FTS5's bm25() constants


def _rank_few(db: sqlite_utils.Database, query: Query, filters: dict[str, Any]
              ) -> list[dict[str, Any]] | None:  # fmt: skip
    """Every match of a one-phrase query, ranked by bm25 as FTS5 would, when there are few.

    FTS5's bm25() first counts the phrase's matches over the whole index by scanning it:
    for a phrase of common words ("i we re true") that costs as much again as finding the
    matches. With few matches the count is already known, so the same formula runs here.
    """
    if len(query.phrases) != 1:
        return None
    ids = store.few_matches(db, query.strict, FEW_MATCHES, **filters)
    if ids is None:
        return None
    rows = store.hit_rows(db, ids)
    n_rows, avgdl = store.index_averages(db)
    hits = len(rows)
    idf = math.log((n_rows - hits + 0.5) / (hits + 0.5)) if n_rows else 0.0
    idf = idf if idf > 0 else 1e-6
    target = list(query.phrases[0])
    n = len(target)
    for row in rows:
        stems = (row["search_text"] or "").split(" ")
        # FTS5 found the phrase here, so it is there at least once.
        freq = max(1, sum(stems[j : j + n] == target for j, s in enumerate(stems)
                          if s == target[0]))  # fmt: skip
        norm = 1 - BM25_B + BM25_B * row["tokens"] / (avgdl or 1.0)
        row["rank"] = -idf * freq * (BM25_K1 + 1) / (freq + BM25_K1 * norm)
    rows.sort(key=lambda r: (r["rank"], -r["chunk_id"]))
    return rows


# Multi-word queries: the best this many by bm25 (and up to PHRASE_POOL chunks saying the
# words as one phrase, which bm25 may rank anywhere) are re-ranked by proximity; deeper
# pages re-rank as many as they reach, up to MAX_PROXIMITY_POOL, so pages agree.
PROXIMITY_POOL = 30
MAX_PROXIMITY_POOL = 200
PHRASE_POOL = 20


def _rank_by_proximity(db: sqlite_utils.Database, query: Query, filters: dict[str, Any],
                       pool: int = PROXIMITY_POOL, wanted: int = 20
                       ) -> tuple[list[dict[str, Any]], int]:  # fmt: skip
    """The first `pool` hits of a query, bm25 combined with how close its words are.

    An exact run of all the words ranks above the same words scattered; among the rest,
    bm25 (scaled to the best of the pool) plus tightness orders them. `wanted` is how many
    the caller shows (offset + limit).
    """
    rows, total, window = store.search_window(db, query.strict, limit=pool, **filters)
    if not rows:
        return rows, total
    scored = [(proximity(r["search_text"] or "", query), r) for r in rows]
    if total > len(rows) and sum(p[0] for p, _ in scored) < wanted:
        # The exact phrase may lie past the pool: ask FTS5 for it directly, within the
        # window that bm25 ranked.
        above = None if window is None else window[0] - 1
        phrase = '"' + " ".join(t for p in query.phrases for t in p) + '"'
        seen = {r["chunk_id"] for r in rows}
        more = [i for i in store.some_match_ids(db, phrase, PHRASE_POOL, above=above,
                                                **filters) if i not in seen]  # fmt: skip
        worst = max(r["rank"] for r in rows)
        scored += [(proximity(r["search_text"] or "", query), {**r, "rank": worst})
                   for r in store.hit_rows(db, more)]  # fmt: skip
    best = -min(r["rank"] for _, r in scored) or 1.0
    scored.sort(key=lambda x: (not x[0][0], -(-x[1]["rank"] / best + x[0][1])))
    return [r for _, r in scored], total


def _boundary_hits(db: sqlite_utils.Database, query: Query, filters: dict[str, Any],
                   counts: dict[str, int]) -> list[Hit]:  # fmt: skip
    """Hits where the query's words run as one phrase across the end of a chunk.

    For each place the phrase could be cut, FTS5 finds the chunks holding the side with
    the rarest word (`counts`: chunks per word), so that list is short: the chunks
    starting with the tail (`^"..."`), or those holding the head; the text of the chunk
    beside each says whether the phrase goes on there. A phrase of words said everywhere
    is not looked for across chunks: each probe would read their whole posting lists.
    """
    targets = [t for p in query.phrases for t in p]
    if len(targets) < 2 or len(targets) > 12:
        return []

    def rarest(words: list[str]) -> int:
        return min(counts.get(w, store.COUNT_CAP + 1) for w in words)

    if rarest(targets) > store.COUNT_CAP or rarest(targets) == 0:
        return []
    wanted = targets
    pairs: dict[int, tuple[int, int]] = {}  # earlier chunk -> (later chunk, cut)
    for cut in range(1, len(targets)):
        head, tail = targets[:cut], targets[cut:]
        if rarest(tail) <= rarest(head):
            match, side = '^"' + " ".join(tail) + '"', "later"
        else:
            match, side = '"' + " ".join(head) + '"', "earlier"
        for a, a_text, b, b_text in store.adjacent_chunks(db, match, PHRASE_POOL,
                                                          matched=side, **filters):  # fmt: skip
            # The texts are the chunks' index terms: one term each.
            ends = a_text.rsplit(" ", cut)[-cut:]
            starts = b_text.split(" ", len(tail))[: len(tail)]
            if a not in pairs and ends == wanted[:cut] and starts[: len(tail)] == wanted[cut:]:
                pairs[a] = (b, cut)
    if not pairs:
        return []
    rows = {r["chunk_id"]: {**r, "rank": 0.0}
            for r in store.hit_rows(db, [i for a, (b, _) in pairs.items() for i in (a, b)])}  # fmt: skip
    chapters = store.chapters_of(db, (rows[a]["episode_id"] for a in pairs if a in rows))
    found = []
    for a, (b, cut) in pairs.items():
        if a in rows and b in rows:
            found.append(_boundary_hit(rows[a], rows[b], cut, query, len(targets),
                                       chapters.get(rows[a]["episode_id"], [])))  # fmt: skip
    return found


def _boundary_hit(prev: dict[str, Any], row: dict[str, Any], cut: int, query: Query,
                  n_tokens: int, chapters: list[tuple[float, str]]) -> Hit:  # fmt: skip
    segments_prev, segments_next = store.chunk_segments(prev), store.chunk_segments(row)
    words_prev = [w for seg in segments_prev for w in seg.words]
    words_next = [w for seg in segments_next for w in seg.words]
    # The first matched word: walk back over the words holding the head's stems.
    need, first = cut, len(words_prev)
    while need > 0 and first > 0:
        first -= 1
        need -= len(_stems(words_prev[first].text, prev.get("language")))
    start_word = words_prev[first]
    start = max(0.0, start_word.start - LEAD_SECONDS)
    page = prev.get("webpage_url") or prev.get("media_url") or ""
    return dataclasses.replace(
        _hit(prev, None, False, chapters, ()),
        start=start,
        end=words_next[min(len(words_next) - 1, n_tokens - cut - 1)].end,
        snippet=make_snippet(
            words_prev + words_next, (first, len(words_prev)), query, language=prev.get("language")
        ),
        quote=" ".join(
            [*(s.text for s in segments_prev if s.end >= start_word.start), segments_next[0].text]
        ),  # fmt: skip
        url=link_at(page, start),
        chapter=_chapter(chapters, start),
        matched=len(query.phrases),
        terms=len(query.phrases),
    )


def search(
    db: sqlite_utils.Database,
    text: str,
    *,
    advanced: bool = False,
    source: str | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
    language: str | None = None,
    limit: int = 20,
    offset: int = 0,
    partial: bool = True,
) -> Results:
    """Ranked hits for a query; partial matches follow when too few chunks hold every word
    (unless `partial` is False).

    `language` keeps only episodes in that language and analyses the query in it; without
    it, the query is analysed in the index's language that finds the most.
    """
    if limit < 1 or offset < 0:
        raise QueryError("limit must be at least 1 and offset at least 0")
    limit = min(limit, MAX_LIMIT)
    filters: dict[str, Any] = dict(
        source=source,
        date_from=_check_date(date_from, "from"),
        date_to=_check_date(date_to, "to"),
        language=analyze.language_code(language),
    )
    if advanced:
        if not text.strip():
            raise QueryError("the query is empty")
        lang = filters["language"] or _guess_language(db, text, filters)
        expression = advanced_expression(text, lang)
        try:
            rows, total = store.search_page(db, expression, limit=limit, offset=offset, **filters)
        except sqlite3.OperationalError as exc:
            raise QueryError(f"invalid search syntax: {exc}") from None
        try:
            plain = re.sub(r"\b(AND|OR|NOT|NEAR)\b|\w+:", " ", text)
            query: Query | None = parse_query(plain, lang)
        except QueryError:
            query = None
        prefixes = tuple(t.lower() for t in re.findall(r"([^\W_]+)\*", text))
        return Results(_hits(db, rows, query, False, prefixes), total)

    query, filters = _analysed_query(db, text, filters)
    query = _vocab_spelling(db, query, filters)
    several = len(query.phrases) > 1 or any(len(p) > 1 for p in query.phrases)
    few = _rank_few(db, query, filters)
    if few is None and several and offset + limit <= MAX_PROXIMITY_POOL:
        pool = max(PROXIMITY_POOL, offset + limit)
        rows, total = _rank_by_proximity(db, query, filters, pool, offset + limit)
        rows = rows[offset : offset + limit]
    elif few is None:
        rows, total = store.search_page(db, query.strict, limit=limit, offset=offset, **filters)
    else:
        rows, total = few[offset : offset + limit], len(few)
    hits = _hits(db, rows, query, False)
    if len(hits) >= limit or not several:
        return Results(hits, total)
    weights = _idf(db, query.words, filters)
    across = _boundary_hits(db, query, filters, {t: n for t, (_, n) in weights.items()})
    if across:
        start = max(0, offset - total)
        hits += across[start : start + limit - len(hits)]
        total += len(across)
        if len(hits) >= limit:
            return Results(hits, total)
    if not partial:
        return Results(hits, total)
    # Readers type what they heard and transcripts have errors: fill up with the chunks
    # holding the most telling of the words.
    exact_ids = (
        {r["chunk_id"] for r in few}
        if few is not None
        else store.match_ids(db, query.strict, limit=max(total, 1), **filters)
    )
    # Words in more passages than the ranking window tell nothing apart: they only add weight.
    telling = [t for t, (_, n) in weights.items() if 0 < n <= store.COUNT_CAP]
    if not telling and hits:
        # Chunks holding some of "i we re" add nothing to the exact hits, and ranking
        # hundreds of thousands of them is the slowest thing a query can do.
        return Results(hits, total)
    telling = telling or list(weights)
    loose = Query(tuple((t,) for t in telling)).loose
    # Candidates are ordered by the text alone; only the page's winners are decoded.
    # Among chunks holding as much of the query, those saying it closest together win.
    ranked = [
        ((-_coverage(r["search_text"] or "", weights) * (0.6 + 0.4 * min(proximity(r["search_text"] or "", query)[1], 1.0)),
          r["rank"]), r)
        for r in store.search_chunks(db, loose, limit=PARTIAL_POOL, **filters)
        if r["chunk_id"] not in exact_ids
    ]  # fmt: skip
    ranked.sort(key=lambda x: x[0])
    start = max(0, offset - total - len(across))
    loose_hits = _hits(db, [r for _, r in ranked[start : start + limit - len(hits)]], query, True)
    return Results(hits + loose_hits, total, partial=bool(loose_hits))


def _analysed_query(
    db: sqlite_utils.Database, text: str, filters: dict[str, Any]
) -> tuple[Query, dict[str, Any]]:
    """The query analysed in the language given, or else in the index language whose
    analysis finds the most; and the filters, kept to the languages that read the query
    so (an English "operation" does not find Spanish "operaciones" by its Spanish stem).

    Only languages whose analysis differs are compared (a Chinese query reads the same in
    every language), so most queries cost no extra lookup.
    """
    if filters["language"]:
        return parse_query(text, filters["language"]), filters
    languages = store.languages(db)
    if len(languages) <= 1:
        return parse_query(text, languages[0] if languages else None), filters
    scripts = analyze.scripts_in(text)
    fitting = [lang for lang in languages if analyze.stems_script(lang, scripts)]
    parsed = {lang: parse_query(text, lang) for lang in languages}
    readers: dict[tuple[tuple[str, ...], ...], tuple[str | None, ...]] = {}
    for lang in languages:  # the languages that read the query alike, commonest first
        readers[parsed[lang].phrases] = (*readers.get(parsed[lang].phrases, ()), lang)
    if len(readers) == 1:
        return parsed[languages[0]], filters
    candidates = list(dict.fromkeys(parsed[lang].phrases for lang in (fitting or languages)[:6]))

    def within(phrases: tuple[tuple[str, ...], ...]) -> dict[str, Any]:
        group = readers[phrases]
        return {**filters, "language": group if None in group else (*group, None)}

    best = candidates[0]
    if len(candidates) > 1:
        found = {p: store.count_chunks(db, _strict(p), cap=GUESS_CAP, **within(p))
                 for p in candidates}  # fmt: skip
        best = max(candidates, key=lambda p: found[p])  # ties: the commonest language
    return parsed[readers[best][0]], within(best)


def _vocab_spelling(db: sqlite_utils.Database, query: Query, filters: dict[str, Any]) -> Query:
    """A typed word found nowhere, a letter or two off a name in a show's vocabulary
    (`indexer vocab add`), is searched as that name: "Ekaterinburg" finds "Yekaterinburg"."""
    names = store.all_vocab(db)
    if not names:
        return query
    targets = {t[0] for name in names for t in [_stems(name, query.language)] if len(t) == 1}
    phrases = []
    for phrase in query.phrases:
        word = phrase[0] if len(phrase) == 1 else ""
        if (
            len(word) >= FUZZY_MIN
            and word not in targets
            and not store.count_chunks(db, _fts_phrase(phrase), cap=1, **filters)
        ):
            near = sorted(t for t in targets if _similar(word, t))
            phrase = (near[0],) if near else phrase
        phrases.append(phrase)
    return dataclasses.replace(query, phrases=tuple(dict.fromkeys(phrases)))


def _guess_language(db: sqlite_utils.Database, text: str, filters: dict[str, Any]) -> str | None:
    """The language `_analysed_query` picks, or None when the text has no words."""
    try:
        return _analysed_query(db, text, filters)[0].language
    except QueryError:
        return None


GUESS_CAP = 200
_ADVANCED = re.compile(r'"[^"]*"|[^\s"():*^+]+|\S')
_OPERATORS = {"AND", "OR", "NOT", "NEAR"}


def advanced_expression(text: str, language: str | None) -> str:
    """An FTS5 expression typed by hand, with its words analysed as the index's terms.

    Operators, parentheses, `^`, `*` and column filters stay as typed; `clim*` looks for
    terms starting with the analysed prefix.
    """
    out = []
    parts = _ADVANCED.findall(text)
    for i, part in enumerate(parts):
        follows = parts[i + 1] if i + 1 < len(parts) else ""
        quoted = len(part) > 1 and part[0] == '"'
        if part in _OPERATORS or not (part[0].isalnum() or quoted) or follows == ":":
            out.append(part)
            continue
        words = part.strip('"')
        units = analyze.query_terms(words, [language], extra=quoted)
        terms = [t for unit in units for t in unit[0]]
        if follows == "*" and len(terms) == 1 and not part.startswith('"'):
            out.append(terms[0])
        else:
            out.append('"' + " ".join(terms) + '"' if terms else '""')
    return " ".join(out).replace(" *", "*").replace("^ ", "^").replace(" :", ":")


def quote_at(db: sqlite_utils.Database, url: str, start: float, end: float | None = None
             ) -> dict[str, Any] | None:  # fmt: skip
    """What is said at `start` (or from `start` to `end`) in the indexed episode at url (a page,
    a media URL or a YouTube id), or None when it is not indexed."""
    episode = store.find_episode(db, url.strip())
    video = links.youtube_id(url)
    if episode is None and video:
        episode = store.find_episode(db, video)
    if episode is None:
        return None
    if end is None:
        seg = store.segment_at(db, episode["id"], start)
        said = [seg] if seg else []
    else:
        said = [s for s in store.get_segments(db, episode["id"]) if s.end > start and s.start < end]
    if not said:
        return None
    return {"episode_id": episode["id"], "title": episode["title"],
            "text": analyze.join_words([s.text for s in said]), "start": said[0].start,
            "end": said[-1].end, "speaker": next((s.speaker for s in said if s.speaker), None)}  # fmt: skip


# --- meaning search -----------------------------------------------------------------------

MODES = ("keyword", "semantic", "hybrid")
DEFAULT_MODE = "hybrid"
# Below this cosine a meaning-only hit is noise to a reader who typed words (the lowest
# right first hit in bench/meaning.py dev was 0.236); "semantic" mode still lists them.
HYBRID_FLOOR = 0.2
RRF_K = 60  # reciprocal rank fusion's constant (Cormack et al. 2009)
_BLOCK = 65_536  # vectors scored at a time (bounded temporary memory)


EXACT_UP_TO = 100_000  # vectors scored exactly; above, sign bits pick the candidates first
CANDIDATES = 0.02  # the share of vectors the sign bits keep for exact re-ranking in memory
# A server keeps the int8 vectors in memory up to this size; above it only their sign bits
# (96 bytes a vector for mpnet) and reads the few candidates' vectors from the database, so
# a million 768-dimension vectors cost 100 MB of memory, not 870 MB.
IN_MEMORY_BYTES = 256 * 2**20
FETCHED = 2_000  # candidates read from the database (at least 20 per hit wanted)


@dataclass
class _Vectors:
    version: int
    ids: Any  # np.ndarray of chunk ids
    episodes: Any  # np.ndarray of their episode ids
    matrix: Any  # np.ndarray int8, one row per chunk; None when only the sign bits are kept
    # the vectors' sign bits as 64-bit words, one row per word (12 rows for 768 dims): a
    # contiguous row per word scans 6x faster than all of a vector's bytes together
    signs: Any
    dim: int = 0


def sign_words(matrix: Any, out: Any = None, at: int = 0) -> Any:
    """The sign bits of int8 vectors (one per row) as (words, vectors) uint64, for
    `nearest`'s Hamming scan; written into `out` from column `at` when given."""
    import numpy as np

    n, dim = matrix.shape
    words = (dim + 63) // 64
    if out is None:
        out = np.empty((words, n), dtype=np.uint64)
    for i in range(0, n, _BLOCK):  # a block at a time: no 1M x 768 temporary
        bits = np.zeros((min(_BLOCK, n - i), words * 64), dtype=bool)
        bits[:, :dim] = matrix[i : i + _BLOCK] > 0
        out[:, at + i : at + i + len(bits)] = np.packbits(bits, axis=1).view(np.uint64).T
    return out


def vectors_index(ids: Any, episodes: Any, matrix: Any, version: int = 0) -> _Vectors:
    """An in-memory index of chunk vectors (int8 rows) with their ids and episodes."""
    return _Vectors(version, ids, episodes, matrix, sign_words(matrix), matrix.shape[1])


_EMBEDDING = ThreadPoolExecutor(max_workers=2, thread_name_prefix="query-embedding")
_vector_cache: dict[str, _Vectors] = {}
_vector_lock = threading.Lock()


def _vector_index(db: sqlite_utils.Database) -> _Vectors:
    """The database's vectors in memory (or their sign bits only, above IN_MEMORY_BYTES),
    reloaded when vectors were added, replaced or removed."""
    import numpy as np

    path = db.execute("pragma database_list").fetchone()[2] or f"memory:{id(db)}"
    version = store.vectors_version(db)
    with _vector_lock:
        cached = _vector_cache.get(path)
        if cached is None or cached.version != version:
            _vector_cache.pop(path, None)  # the old copy goes before the new one is made
            room = store.vector_total(db)
            ids = np.empty(room, dtype=np.int64)
            episodes = np.empty(room, dtype=np.int64)
            mat, signs, dim, n = None, np.empty((0, 0), np.uint64), 0, 0
            for page in store.vector_pages(db):
                if n == 0:
                    dim = len(page[0][2])
                    if room * dim <= IN_MEMORY_BYTES:
                        mat = np.empty((room, dim), dtype=np.int8)
                    signs = np.empty(((dim + 63) // 64, room), dtype=np.uint64)
                if n + len(page) > room:  # rows added since the count: grow
                    room = n + len(page)
                    ids, episodes = np.resize(ids, room), np.resize(episodes, room)
                    mat = None if mat is None else np.resize(mat, (room, dim))
                    grown = np.empty((signs.shape[0], room), dtype=np.uint64)
                    grown[:, :n] = signs[:, :n]
                    signs = grown
                ids[n : n + len(page)] = [r[0] for r in page]
                episodes[n : n + len(page)] = [r[1] for r in page]
                block = embed.matrix([r[2] for r in page], dim)
                if mat is not None:
                    mat[n : n + len(page)] = block
                sign_words(block, signs, n)
                n += len(page)
            cached = _vector_cache[path] = _Vectors(
                version, ids[:n], episodes[:n], None if mat is None else mat[:n],
                np.ascontiguousarray(signs[:, :n]), dim)  # fmt: skip
    return cached


def semantic_ranking(db: sqlite_utils.Database, text: str, filters: dict[str, Any], n: int,
                     model: str = embed.DEFAULT, vector: Future[Any] | None = None
                     ) -> tuple[list[tuple[int, float]], Any]:  # fmt: skip
    """The n chunks closest in meaning to the text, best first, as (chunk id, cosine); and the
    query's vector (`vector`: the text's embedding, already under way). Filters apply before
    ranking."""
    import numpy as np

    index = _vector_index(db)
    if not len(index.ids):
        have, total = store.vector_counts(db)
        raise QueryError(f"meaning search needs the chunks' vectors ({have:,} of {total:,} "
                         "made): run 'indexer embed'")  # fmt: skip
    query = vector.result()[0] if vector is not None else embed.load(model).embed([text])[0]
    rows = np.arange(len(index.ids))
    narrowed = any(filters.get(k) for k in ("source", "date_from", "date_to", "language"))
    if narrowed and store.episode_count(db, **filters) < store.episode_count(db):
        # (an all-English index keeps every row) a lookup table by episode id: one gather,
        # where np.isin sorts a million ids
        allowed = np.array(store.episode_ids_matching(db, **filters), dtype=np.int64)
        ok = np.zeros(int(max(index.episodes.max(), allowed.max(initial=0))) + 1, bool)
        ok[allowed] = True
        rows = rows[ok[index.episodes]]
    return nearest(index, query, rows, n, lambda ids: store.vectors_of(db, ids)), query


def nearest(index: _Vectors, query: Any, rows: Any, n: int,
            fetch: Callable[[list[int]], dict[int, bytes]] | None = None
            ) -> list[tuple[int, float]]:  # fmt: skip
    """The n of `rows` (positions in the index) closest to the unit vector `query`, best first,
    as (chunk id, cosine). An index without its matrix reads the candidates' vectors with
    `fetch` (chunk ids -> stored vectors)."""
    import numpy as np

    in_memory = index.matrix is not None
    keep = max(int(len(rows) * CANDIDATES), n * 20) if in_memory else max(FETCHED, n * 20)
    if keep < len(rows) and (len(rows) > EXACT_UP_TO or not in_memory):
        # Hamming distance of the sign bits keeps the likeliest few; only those are scored
        # exactly.
        columns = index.signs if len(rows) == len(index.ids) else index.signs[:, rows]
        mine = sign_words(np.where(query > 0, 1, 0).astype(np.int8)[None, :])[:, 0]
        far = np.bitwise_count(columns[0] ^ mine[0]).astype(np.uint16)
        for word in range(1, len(columns)):
            far += np.bitwise_count(columns[word] ^ mine[word])
        # the `keep` nearest by a histogram of the distances (4x faster than argpartition),
        # in storage order: gathered from memory (or read from the database) in one sweep
        counts = np.cumsum(np.bincount(far, minlength=len(columns) * 64 + 1))
        cut = int(np.searchsorted(counts, keep))  # distance of the keep-th nearest
        ties = np.flatnonzero(far == cut)[: keep - (int(counts[cut - 1]) if cut else 0)]
        rows = rows[np.union1d(np.flatnonzero(far < cut), ties)]
    scores = np.empty(len(rows), dtype=np.float32)
    if in_memory:
        every = len(rows) == len(index.ids)  # then blocks are slices, not copies
        for i in range(0, len(rows), _BLOCK):
            block = index.matrix[i : i + _BLOCK] if every else index.matrix[rows[i : i + _BLOCK]]
            scores[i : i + _BLOCK] = block.astype(np.float32) @ query / 127
    else:
        if fetch is None:
            raise ValueError("this index keeps sign bits only: give fetch")
        wanted = [int(i) for i in index.ids[rows]]
        got = fetch(wanted)
        gone = bytes(index.dim)  # a chunk deleted since the index was loaded scores 0
        stored = embed.matrix([got.get(i, gone) for i in wanted], index.dim)
        scores[:] = stored.astype(np.float32) @ query / 127
    n = min(n, len(scores))
    if n == 0:
        return []
    top = np.argpartition(-scores, n - 1)[:n] if n < len(scores) else np.arange(len(scores))
    top = top[np.argsort(-scores[top])]
    return [(int(index.ids[rows[i]]), float(scores[i])) for i in top]


def _place_by_meaning(hit: Hit, row: dict[str, Any], blob: bytes | None, query_vector: Any,
                      model: str) -> Hit:  # fmt: skip
    """A meaning-only hit (of chunk `row`, whose lines' sign bits are `blob`) opens at the
    line of its chunk closest to the query."""
    import numpy as np

    segments = store.chunk_segments(row)
    signs = embed.line_signs(blob, len(segments), len(query_vector))
    if len(segments) > 1 and signs is not None:
        # stored at index time: the line whose sign bits differ least from the query's
        differ = np.unpackbits(signs ^ np.packbits(query_vector > 0), axis=1).sum(axis=1)
        best = segments[int(differ.argmin())]
    elif len(segments) > 1:  # vectors made before the lines' were stored
        vectors = embed.load(model).embed([s.text for s in segments])
        best = segments[int((vectors @ query_vector).argmax())]
    elif segments:
        best = segments[0]
    else:
        return dataclasses.replace(hit, semantic=True)
    start = max(0.0, best.start - LEAD_SECONDS)
    page = hit.webpage_url or row.get("media_url") or ""
    return dataclasses.replace(hit, start=start, end=best.end, quote=best.text,
                               snippet=best.text, speaker=best.speaker,
                               url=link_at(page, start), semantic=True)  # fmt: skip


def find(db: sqlite_utils.Database, text: str, *, mode: str = DEFAULT_MODE,
         advanced: bool = False, source: str | None = None, date_from: str | None = None,
         date_to: str | None = None, language: str | None = None, limit: int = 20,
         offset: int = 0, model: str = embed.DEFAULT) -> Results:  # fmt: skip
    """The search readers get (CLI, API, page): hybrid by default. Advanced syntax is
    matched by keyword; hybrid falls back to keyword where meaning can't help (no vectors
    yet, embeddings off, or another model's vectors)."""
    if mode not in MODES:
        raise QueryError(f"unknown search mode {mode!r}: use keyword, semantic or hybrid")
    filters = dict(source=source, date_from=date_from, date_to=date_to, language=language,
                   limit=limit, offset=offset)  # fmt: skip
    if advanced or mode == "keyword" or (mode == "hybrid" and not meaning_ready(db, model)):
        return search(db, text, advanced=advanced, **filters)  # type: ignore[arg-type]
    return meaning_search(db, text, mode=mode, model=model, **filters)  # type: ignore[arg-type]


def meaning_ready(db: sqlite_utils.Database, model: str = embed.DEFAULT) -> bool:
    """Whether the database has vectors that `model` can be compared with."""
    if model == "off":
        return False
    stored = store.vector_model(db)
    return stored is not None and stored == embed.model_id(model)


def fuse(keyword: Sequence[int], ranked: Sequence[tuple[int, float]], *,
         floor: float | None = None) -> list[tuple[int, float]]:  # fmt: skip
    """Reciprocal rank fusion of the keyword search's full matches (chunk ids, best first)
    and the meaning ranking ((chunk id, cosine), best first): each chunk once, best first, with
    its fused score. Meaning-only chunks under `floor` are left out. Meaning decides where
    meaning-only chunks go, never the order of what the words found: keyword chunks keep
    their keyword order in the places they won."""
    fused: dict[int, float] = {}
    for rank, chunk_id in enumerate(keyword):
        fused[chunk_id] = fused.get(chunk_id, 0.0) + 1.0 / (RRF_K + rank + 1)
    by_words = set(fused)
    for rank, (chunk_id, cosine) in enumerate(ranked):
        if floor is not None and cosine < floor and chunk_id not in by_words:
            continue
        fused[chunk_id] = fused.get(chunk_id, 0.0) + 1.0 / (RRF_K + rank + 1)
    order = sorted(fused, key=lambda c: -fused[c])
    places = iter(dict.fromkeys(keyword))
    return [(next(places) if c in by_words else c, fused[c]) for c in order]


def meaning_search(db: sqlite_utils.Database, text: str, *, mode: str, source: str | None = None,
                   date_from: str | None = None, date_to: str | None = None,
                   language: str | None = None, limit: int = 20, offset: int = 0,
                   model: str = embed.DEFAULT) -> Results:  # fmt: skip
    """`mode` "semantic": the chunks closest in meaning; "hybrid": those fused with the
    keyword search's full matches by reciprocal rank, then the partial keyword matches."""
    if mode not in ("semantic", "hybrid"):
        raise QueryError(f"unknown search mode {mode!r}: use keyword, semantic or hybrid")
    if not text.strip():
        raise QueryError("the query has no words to search for")
    filters: dict[str, Any] = dict(source=source, date_from=_check_date(date_from, "from"),
                                   date_to=_check_date(date_to, "to"),
                                   language=analyze.language_code(language))  # fmt: skip
    want = offset + limit
    keyword: list[Hit] = []
    words: list[Hit] = []
    trusted = embed.languages(model)
    keyword_filters: dict[str, Any] = dict(source=source, date_from=date_from, date_to=date_to,
                                           language=language)  # fmt: skip
    vector = None
    if mode == "hybrid":
        # The query's embedding (onnxruntime, which releases the GIL) runs beside the keyword
        # search: hybrid costs about the longer of the two, not their sum.
        vector = _EMBEDDING.submit(embed.load(model).embed, [text])
        # Only the full matches are fused, and keyword hits keep their keyword order, so
        # no more than a page of them can be shown.
        words = search(db, text, partial=False, limit=min(want, MAX_LIMIT), **keyword_filters).hits
        if not words and trusted is not None and set(store.languages(db)) - trusted:
            # which language the query is in: told by the episodes of its partial matches
            words = search(db, text, limit=min(want, MAX_LIMIT), **keyword_filters).hits
        keyword = [h for h in words if not h.partial]
    if trusted is not None:
        if filters["language"] not in (None, *trusted) or (
            words and not any(analyze.language_code(h.language) in trusted for h in words)
        ):
            # The query is in a language the model doesn't know: its nearest chunks would be
            # noise.
            if mode == "semantic":
                raise QueryError("the bundled meaning model knows English only: search by "
                                 "keyword, or set embedding_model to a multilingual model")  # fmt: skip
            return search(db, text, limit=limit, offset=offset, **keyword_filters)
        filters["language"] = filters["language"] or next(iter(trusted))
    ranked, query = semantic_ranking(db, text, filters, max(want * 2, 50), model, vector)
    floor = HYBRID_FLOOR if mode == "hybrid" else None
    fused = fuse([h.chunk_id for h in keyword], ranked, floor=floor)
    # Partial keyword matches come after everything fused (fused in, they drowned the meaning
    # hits), so that hybrid never finds less than keyword search did.
    partial: dict[int, Hit] = {}
    if mode == "hybrid" and len(fused) < want:
        seen = {c for c, _ in fused}
        # (the full matches come first again: ask for only as many more as the page lacks)
        more = [h for h in words if h.partial] or search(
            db, text, limit=min(len(keyword) + want - len(fused), MAX_LIMIT), **keyword_filters).hits
        partial = {h.chunk_id: h for h in more if h.partial and h.chunk_id not in seen}
        fused += [(c, 0.0) for c in partial]
    order = [c for c, _ in fused[offset:want]]
    slot_scores = [score for _, score in fused[offset:want]]
    by_keyword = {**partial, **{h.chunk_id: h for h in keyword}}
    missing = [c for c in order if c not in by_keyword]
    rows = {r["chunk_id"]: r for r in store.hit_rows(db, missing)}
    signs = store.line_signs(db, missing)
    for row in rows.values():
        row["rank"] = 0.0
    made = {h.chunk_id: h for h in _hits(db, [rows[c] for c in missing if c in rows], None, False)}
    hits = []
    for chunk_id, score in zip(order, slot_scores, strict=True):
        if chunk_id in by_keyword:
            hits.append(dataclasses.replace(by_keyword[chunk_id], score=score))
        elif chunk_id in made:
            placed = _place_by_meaning(made[chunk_id], rows[chunk_id], signs.get(chunk_id),
                                       query, model)  # fmt: skip
            hits.append(dataclasses.replace(placed, score=score))
    return Results(hits, len(fused))
