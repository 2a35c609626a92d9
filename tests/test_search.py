"""Query parsing, safe FTS5, precise hit times, partial matches and filters (no model needed)."""

from __future__ import annotations

import pytest

from indexer import search, store
from indexer.search import QueryError, parse_query
from tests.conftest import add_fake_episode, make_segment

BAD_QUERIES = [
    "don't stop",
    '"unbalanced quote',
    'one "two',
    "AND",
    "OR NOT AND",
    "budget AND",
    "*",
    "budg*",
    "NEAR(",
    "NEAR(budget council, 3)",
    "col:budget",
    "text:budget",
    "chunks_fts:budget",
    "^budget",
    "(budget",
    "budget)",
    "{text}: budget",
    "+ - ~ !",
    "🙂 budget 🚲",
    "🙂🙂",
    "budget\x00council",
    "'; drop table chunks; --",
    "a" * 10_000,
    "budget " * 2_000,
    '""""',
    "ça coûte 5€",
    "北京 budget",
]


@pytest.fixture
def sample_db(db):
    add_fake_episode(
        db,
        [
            (0.0, "Welcome to the show about the city."),
            (4.0, "Today the council approved the new budget for bicycle lanes."),
            (10.0, "Critics say the plan removes parking from the old market."),
            (60.0, "Later the mayor said the budget was too small for the harbour."),
        ],
        title="City budget",
        media_id="ep1",
    )
    add_fake_episode(
        db,
        [(0.0, "A storm is moving up the coast tonight."), (5.0, "Heavy rain until Friday.")],
        title="Storm",
        media_id="ep2",
        url="https://example.com/storm.mp3",
        source="https://other.example/feed",
        published="2023-01-15",
    )
    return db


@pytest.mark.parametrize("query", BAD_QUERIES)
def test_no_query_causes_an_fts_error(sample_db, query):
    try:
        results = search.search(sample_db, query)
    except QueryError as exc:
        assert "no words" in str(exc)
        return
    assert isinstance(results.hits, list)


def test_parse_query_splits_words_and_phrases():
    q = parse_query('budget "bicycle lanes" don\'t')
    assert q.phrases == (("budget",), ("bicycle", "lanes"), ("don", "t"))
    assert q.strict == '"budget" AND "bicycle lanes" AND "don t"'
    assert q.loose == '"budget" OR "bicycle" OR "lanes" OR "don" OR "t"'


def test_parse_query_ignores_operators_as_syntax():
    q = parse_query("NEAR(budget col:council) AND *")
    assert q.strict == '"near" AND "budget" AND "col" AND "council" AND "and"'


def test_parse_query_caps_the_number_of_terms():
    q = parse_query(" ".join(f"word{i}" for i in range(500)))
    assert len(q.phrases) == search.MAX_TERMS


def test_empty_queries_raise_a_clear_error(sample_db):
    for query in ["", "   ", "🙂", '""', "!!!"]:
        with pytest.raises(QueryError, match="no words"):
            search.search(sample_db, query)


def test_hit_starts_at_the_phrase_not_the_chunk(sample_db):
    hits = search.search(sample_db, '"bicycle lanes"').hits
    assert [h.title for h in hits] == ["City budget"]
    # "Today the council approved the new budget for bicycle lanes." starts at 4.0,
    # words every 0.4 s: "bicycle" is word 8 -> 7.2 s.
    assert hits[0].start == pytest.approx(7.2 - search.LEAD_SECONDS)
    assert not hits[0].partial
    assert hits[0].url == "https://www.youtube.com/watch?v=abcdefghijk&t=6s"


def test_stray_common_word_does_not_pull_the_time_back(sample_db):
    # "the" occurs at 0.0 s, long before "the harbour" at the end of the chunk
    hits = search.search(sample_db, "the harbour").hits
    # "Later the mayor said the budget was too small for the harbour." at 60 s:
    # "the" (word 10) at 64.0 s, "harbour" at 64.4 s
    assert hits[0].start == pytest.approx(64.0 - search.LEAD_SECONDS)


def test_tightest_span_is_chosen(db):
    add_fake_episode(db, [(0.0, "budget talk " + "filler " * 20 + "council budget vote")])
    hit = search.search(db, "council budget").hits[0]
    # "council" is word 22 -> 8.8 s; the "budget" at 0.0 s must not be used.
    assert hit.start == pytest.approx(8.8 - search.LEAD_SECONDS)
    assert hit.end == pytest.approx(9.2 + 0.32)


def test_stemmed_words_match_for_timing(sample_db):
    hit = search.search(sample_db, "approving budgets").hits[0]
    # "approved" is word 4 (4.0 + 3 * 0.4 = 5.2 s)
    assert hit.start == pytest.approx(5.2 - search.LEAD_SECONDS)


def test_partial_matches_come_when_no_chunk_has_every_word(sample_db):
    results = search.search(sample_db, "council approved the zeppelin budget")
    assert results.total == 0
    assert results.hits and all(h.partial for h in results.hits)
    best = results.hits[0]
    assert best.title == "City budget"
    assert best.matched == 4 and best.terms == 5
    # "council" is word 2 of the line at 4.0 s
    assert best.start == pytest.approx(4.8 - search.LEAD_SECONDS)


def test_partial_ranking_prefers_more_words(db):
    add_fake_episode(db, [(0.0, "the river flooded the valley")], title="one word", media_id="a")
    add_fake_episode(db, [(0.0, "the river and the old mill")], title="two words", media_id="b")
    hits = search.search(db, "river mill bridge").hits
    assert [h.title for h in hits] == ["two words", "one word"]
    assert [h.matched for h in hits] == [2, 1]


def test_full_matches_rank_before_partial(sample_db):
    hits = search.search(sample_db, "budget harbour", limit=10).hits
    assert not hits[0].partial and "harbour" in hits[0].text
    assert all(h.partial for h in hits[1:])


def test_no_partial_fill_from_words_said_everywhere(db, monkeypatch):
    from indexer import store

    add_fake_episode(db, [(0.0, "so we were there")], title="exact", media_id="x")
    for i in range(4):
        add_fake_episode(db, [(0.0, f"we were {i}")], title=f"other {i}", media_id=str(i))
    assert len(search.search(db, '"so we were"').hits) == 5  # exact hit, then partial ones
    monkeypatch.setattr(store, "COUNT_CAP", 3)  # now "we" and "were" are everywhere
    results = search.search(db, '"so we were"')
    assert [h.title for h in results.hits] == ["exact"] and not results.partial
    # With no exact hit at all, the common words still give something to look at.
    fallback = search.search(db, '"we were here"')
    assert fallback.total == 0 and fallback.hits and all(h.partial for h in fallback.hits)


def test_single_word_has_no_partial_results(sample_db):
    assert search.search(sample_db, "zeppelin").hits == []


def test_snippet_marks_matches(sample_db):
    hit = search.search(sample_db, "storm").hits[0]
    assert "\ue000storm\ue001" in hit.snippet.lower()


def test_filters_by_source_and_dates(sample_db):
    assert {h.title for h in search.search(sample_db, "the", limit=50).hits} == {
        "City budget",
        "Storm",
    }
    only = search.search(sample_db, "the", source="https://other.example/feed").hits
    assert {h.title for h in only} == {"Storm"}
    recent = search.search(sample_db, "the", date_from="2024-01-01").hits
    assert {h.title for h in recent} == {"City budget"}
    old = search.search(sample_db, "the", date_to="2023-12-31").hits
    assert {h.title for h in old} == {"Storm"}
    with pytest.raises(QueryError, match="YYYY-MM-DD"):
        search.search(sample_db, "the", date_from="last week")


def test_limit_and_offset_page_through_results(db):
    for i in range(7):
        add_fake_episode(db, [(0.0, f"river number {i} flows")], title=f"ep{i}", media_id=str(i))
    first = search.search(db, "river", limit=3).hits
    second = search.search(db, "river", limit=3, offset=3).hits
    third = search.search(db, "river", limit=3, offset=6).hits
    ids = [h.chunk_id for h in first + second + third]
    assert len(ids) == 7 and len(set(ids)) == 7
    assert search.search(db, "river").total == 7
    with pytest.raises(QueryError):
        search.search(db, "river", limit=0)


def test_advanced_mode_allows_fts_syntax_and_reports_errors(sample_db):
    hits = search.search(sample_db, "budg* NOT harbour", advanced=True).hits
    assert hits and all("harbour" not in h.text for h in hits)
    with pytest.raises(QueryError, match="invalid search syntax"):
        search.search(sample_db, 'NEAR("unclosed', advanced=True)


def test_match_span_with_phrase_and_repeats():
    seg = make_segment("the cat sat on the mat and the cat ran", 0.0)
    found = search.match_span(seg.words, parse_query('"the cat" ran'))
    assert found is not None
    first, last, count = found
    assert (first, last, count) == (7, 9, 2)


def test_very_common_queries_rank_only_the_newest_matches_and_cap_the_count(db, monkeypatch):
    from indexer import store

    for i in range(12):
        extra = " budget budget budget" if i == 0 else ""  # the best match is the oldest
        add_fake_episode(db, [(0.0, f"the river{extra} {i}")], title=f"ep{i}", media_id=str(i))
    assert search.search(db, "budget river").hits[0].title == "ep0"
    monkeypatch.setattr(store, "RANK_WINDOW", 5)
    monkeypatch.setattr(store, "COUNT_CAP", 5)
    monkeypatch.setattr(search, "FEW_MATCHES", 3)  # rank in SQL, where the window applies
    results = search.search(db, "river", limit=20)
    # Only the 5 newest matches are ranked; counting stops one past the window.
    assert sorted(h.title for h in results.hits) == sorted(f"ep{i}" for i in range(7, 12))
    assert results.total == 6 and results.capped
    assert search.search(db, "river budget").total == 1
    # A rare word is not affected by the window.
    assert search.search(db, "budget").hits[0].title == "ep0"


def test_a_misheard_word_in_a_quoted_phrase_still_links_to_the_phrase(db):
    add_fake_episode(db, [(0.0, "intro " * 30 + "the humble bunker repaired the old quarry")])
    hit = search.search(db, '"the humble banker repaired"').hits[0]
    assert hit.partial
    # "the" at word 30 (12.0 s) starts the tightest span of the phrase's words
    assert hit.start == pytest.approx(12.0 - search.LEAD_SECONDS)
    assert (hit.matched, hit.terms) == (3, 4)


def test_a_partial_hit_is_placed_by_words_one_or_two_letters_off(db):
    # The model heard "brain sailer" for "brave sailor"; another line has the same
    # common words ("while the ... watched") earlier in the chunk.
    add_fake_episode(db, [(0.0, "while the vivid driver watched the rain"),
                          (10.0, "while the brain sailer watched the sea")])  # fmt: skip
    hit = search.search(db, '"while the brave sailor watched"').hits[0]
    assert hit.partial and (hit.matched, hit.terms) == (3, 5)
    assert hit.start == pytest.approx(10.0 - search.LEAD_SECONDS)
    # "writer" heard as "rider": two letters off, in a longer word.
    add_fake_episode(db, [(0.0, "while the famous farmer watched it"),
                          (10.0, "while the famous rider watched it")],
                     title="rider", media_id="two")  # fmt: skip
    hits = search.search(db, '"while the famous writer watched"').hits
    rider = next(h for h in hits if h.title == "rider")
    assert rider.partial and rider.start == pytest.approx(10.0 - search.LEAD_SECONDS)


def test_between_equal_near_spans_the_one_in_query_order_wins(db):
    # "winter" is two letters from "writer" too, but it comes before "the gentle".
    add_fake_episode(db, [(0.0, "the rapid nurse watched during the long winter"),
                          (3.2, "the gentle rider revealed the old hospital")])  # fmt: skip
    hit = search.search(db, '"the gentle writer rebuilt"').hits[0]
    assert hit.partial and hit.start == pytest.approx(3.2 - search.LEAD_SECONDS)


def test_near_words_never_change_exact_hits(db):
    add_fake_episode(db, [(0.0, "the brain sailer rested"), (10.0, "the brave sailor watched")])
    hit = search.search(db, '"brave sailor"').hits[0]
    assert not hit.partial and hit.start == pytest.approx(10.4 - search.LEAD_SECONDS)


@pytest.mark.parametrize(
    ("wanted", "heard", "close"),
    [("sailor", "sailer", True), ("rusti", "rustic", True), ("writer", "rider", True),
     ("cashier", "kashir", True), ("brave", "brain", False), ("the", "she", False),
     ("mayor", "major", True), ("mayor", "harbour", False), ("water", "winter", False)],
)  # fmt: skip
def test_which_words_are_near(wanted, heard, close):
    assert search._similar(wanted, heard) is close


@pytest.mark.parametrize("query", ["harbour", '"the harbour"', "oyster", '"the old mill"'])
def test_few_matches_rank_exactly_as_fts5_bm25(db, monkeypatch, query):
    texts = ["the harbour", "the harbour and the harbour again, the harbour",
             "a long talk about the weather and then the harbour, briefly, among many words",
             "oyster beds near the old mill", "the old mill and the old mill pond",
             "the harbour master and the oyster farmer at the old mill",
             "nothing to see here"]  # fmt: skip
    for i, text in enumerate(texts):
        add_fake_episode(db, [(0.0, text)], title=f"ep{i}", media_id=str(i))
    ours = search.search(db, query).hits
    monkeypatch.setattr(search, "FEW_MATCHES", 0)  # FTS5's own bm25() in SQL
    theirs = search.search(db, query).hits
    assert [h.chunk_id for h in ours] == [h.chunk_id for h in theirs]
    assert [h.score for h in ours] == pytest.approx([h.score for h in theirs])
    assert len(ours) > 1


def test_stemming_is_safe_from_many_threads():
    # The web server searches from several threads at once; snowball stemmers keep state.
    import random
    import string
    from concurrent.futures import ThreadPoolExecutor

    rng = random.Random(7)
    words = ["".join(rng.choices(string.ascii_lowercase, k=rng.randint(3, 14))) + suffix
             for suffix in ("ing", "ations", "ed", "ness", "ly", "s") for _ in range(700)]  # fmt: skip
    from indexer import analyze

    def stem(word: str) -> str:
        return analyze._stem(word, "english")

    expected = [stem(w) for w in words]
    for _ in range(3):
        with ThreadPoolExecutor(8) as pool:
            assert list(pool.map(stem, words, chunksize=1)) == expected


# --- proximity ranking and phrases across chunk boundaries (issue 9) ------------------


def _episodes(db, **texts: str) -> None:
    """One single-line episode per keyword: its title and what is said in it."""
    for title, text in texts.items():
        add_fake_episode(db, [(0.0, text)], title=title, media_id=title)


def _ranked_titles(db, text):
    return [h.title for h in search.search(db, text, limit=10).hits]


def test_an_exact_run_of_the_words_ranks_above_the_same_words_scattered(db):
    # Short and dense with the words: bm25 alone prefers it.
    add_fake_episode(db, [(0.0, "that's odd, it is late because it is it is")],
                     title="Scattered", media_id="a")  # fmt: skip
    add_fake_episode(db, [(0.0, "the council met on a long and rainy evening in the town hall "
                                "and she said that's because it is cheaper to build now "
                                "than to wait for another winter of delays and repairs")],
                     title="Exact", media_id="b")  # fmt: skip
    query = search.parse_query("that's because it is", "en")
    by_bm25, _ = store.search_page(db, query.strict, limit=10)
    assert [r["title"] for r in by_bm25] == ["Scattered", "Exact"]  # what bm25 alone does
    hits = search.search(db, "that's because it is", limit=10).hits
    assert [h.title for h in hits] == ["Exact", "Scattered"]
    assert hits[0].start == pytest.approx(16 * 0.4 - search.LEAD_SECONDS)


def test_adjacent_words_in_order_rank_above_the_same_words_apart(db):
    filler = " ".join(["and"] * 14)
    _episodes(db, Apart=f"harbour {filler} pilot {filler} strike",
              Reversed=f"strike pilot harbour {filler} {filler}",
              Together=f"{filler} harbour pilot strike {filler}")  # fmt: skip
    assert _ranked_titles(db, "harbour pilot strike") == ["Together", "Reversed", "Apart"]


def test_a_partial_match_with_adjacent_words_ranks_above_one_with_words_apart(db):
    filler = " ".join(["so"] * 20)
    _episodes(db, Apart=f"brave {filler} captain {filler} returned home",
              Together=f"{filler} the brave captain returned {filler} {filler}")  # fmt: skip
    hits = search.search(db, "brave captain returned yesterday", limit=10).hits
    assert [h.title for h in hits] == ["Together", "Apart"]
    assert all(h.partial for h in hits)


def test_proximity_scores():
    from indexer import analyze

    def terms(text: str) -> str:  # a chunk's search_text
        return " ".join(t for t, _ in analyze.analyze_words(text.split(), "en"))

    q = search.parse_query("harbour pilot strike", "en")
    assert search.proximity(terms("a harbour pilot strike b"), q) == (True, 1.25, 3)
    exact, tight, found = search.proximity(terms("strike x pilot harbour"), q)
    assert not exact and found == 3 and tight == pytest.approx(3 / 4)
    assert search.proximity(terms("nothing here"), q) == (False, 0.0, 0)
    # Stemmed, as the index matches: "strikes" is "strike".
    assert search.proximity(terms("harbour pilots strikes"), q)[0]


def test_a_phrase_across_a_chunk_boundary_is_found_as_a_phrase(db):
    # With 10 s chunks, the two lines are two chunks; the phrase runs from one into the next.
    head = "we walked along the shore until the old red"
    add_fake_episode(db, [(0.0, head),
                          (12.0, "lighthouse keeper waved at us from the door")],
                     window=10.0)  # fmt: skip
    assert store.stats(db)["chunks"] == 2
    # FTS5 is asked for the chunk starting with the tail, or for the one holding a longer head.
    for text in ("old red lighthouse keeper", '"red lighthouse"', "the old red lighthouse",
                 "shore until the old red lighthouse"):  # fmt: skip
        results = search.search(db, text)
        assert results.hits, text
        hit = results.hits[0]
        assert not hit.partial and hit.matched == hit.terms, text
        first = text.strip('"').split()[0]
        index = head.split().index(first, 4)
        assert hit.start == pytest.approx(index * 0.4 - search.LEAD_SECONDS), text
        assert "lighthouse" in hit.quote and "red" in hit.quote
        assert store.MARK_START + "lighthouse" in hit.snippet
    # Words from both chunks that are not said as one phrase stay partial matches.
    assert all(h.partial for h in search.search(db, "shore lighthouse").hits)


def test_a_scattered_full_match_is_placed_where_all_but_one_word_are_said_together(db):
    filler = " ".join(["and", "so", "on"] * 5)
    # "by" is said early; "thunderstorm will clear" (the reader's moment) much later.
    add_fake_episode(db, [(0.0, f"by a similar process {filler} thunderstorm will clear soon")])
    hit = search.search(db, "thunderstorms will clear by").hits[0]
    assert not hit.partial and hit.matched == 4
    assert hit.start == pytest.approx(19 * 0.4 - search.LEAD_SECONDS)


def test_pages_of_a_re_ranked_query_agree_with_one_long_page(db):
    for i in range(30):
        gap = " ".join(["so"] * (i % 7))
        add_fake_episode(db, [(0.0, f"the harbour {gap} pilot strike {'and ' * (i % 5)}end")],
                         title=f"ep{i}", media_id=f"m{i}")  # fmt: skip
    whole = [h.chunk_id for h in search.search(db, "harbour pilot strike", limit=100).hits]
    paged = [h.chunk_id for k in range(0, 35, 7)
             for h in search.search(db, "harbour pilot strike", limit=7, offset=k).hits]  # fmt: skip
    assert len(whole) == 30 and paged == whole


def test_a_partial_hit_opens_earlier_by_the_query_words_the_transcript_misheard(db):
    # "councilwoman okonkwo" was written "council rock on quo": the match starts at "you".
    add_fake_episode(db, [(10.0, "council rock on quo you promised cheaper buses")])
    hit = search.search(db, "councilwoman okonkwo you promised").hits[0]
    assert hit.partial and hit.matched == 2
    you = 10.0 + 4 * 0.4
    assert hit.start == pytest.approx(you - search.LEAD_SECONDS - 2 * search.WORD_SECONDS)
    # A full match opens at its first word as before.
    assert search.search(db, "you promised").hits[0].start == pytest.approx(
        you - search.LEAD_SECONDS
    )
