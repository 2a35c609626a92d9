"""Meaning search (issue 13, first part): vectors made by `indexer embed`, semantic and hybrid
search with the real bundled model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from indexer import embed, search, store
from indexer.cli import cli
from tests.conftest import add_fake_episode

SHOWS = {
    "rent": [(0.0, "Good morning and welcome back to the city podcast."),
             (6.0, "My rent went from fourteen hundred to nineteen hundred in two years."),
             (12.0, "Three families on our floor were evicted because they could not keep up.")],
    "match": [(0.0, "Welcome to the sports hour."),
              (6.0, "The goalkeeper let in two soft goals in the last ten minutes."),
              (12.0, "The coach took him off before the penalty shootout.")],
    "flu": [(0.0, "This is the health desk."),
            (6.0, "Every intensive care bed was taken during the flu wave."),
            (12.0, "The hospital had to send patients to the next county.")],
}  # fmt: skip


@pytest.fixture
def site(tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / "meaning.db"
    db = store.open_db(path)
    ids = {name: add_fake_episode(db, lines, title=name, media_id=name, window=45.0)
           for name, lines in SHOWS.items()}  # fmt: skip
    db.close()
    return {"path": str(path), "ids": ids, "env": {"INDEXER_DB": str(path)}}


def run(site: dict[str, Any], *args: str) -> Any:
    result = CliRunner().invoke(cli, [*args], env=site["env"])
    assert result.exit_code == 0, result.output
    return result


def test_meaning_search_needs_vectors_and_says_how(site):
    result = CliRunner().invoke(cli, ["search", "--mode", "semantic", "rent"], env=site["env"])
    assert result.exit_code == 1 and "run 'indexer embed'" in result.output
    assert "Traceback" not in result.output


def test_a_paraphrase_finds_its_passage_and_lands_on_its_line(site):
    made = json.loads(run(site, "embed", "--json").output)
    assert made["made"] == 3 and made["model"] == embed.DEFAULT_ID == "all-mpnet-base-v2-onnx-int8"
    hits = json.loads(run(site, "search", "--mode", "semantic", "housing affordability",
                          "--json").output)  # fmt: skip
    assert hits[0]["episode_id"] == site["ids"]["rent"] and hits[0]["semantic"]
    # on a line about rent, not at the chunk's start (the greeting at 0:00)
    assert hits[0]["start"] >= 5.0
    assert hits[0]["quote"] in (SHOWS["rent"][1][1], SHOWS["rent"][2][1])
    for query, show in [("a football match lost at the end", "match"),
                        ("overcrowded hospital wards", "flu")]:  # fmt: skip
        top = json.loads(run(site, "search", "--mode", "semantic", query, "--json").output)[0]
        assert top["episode_id"] == site["ids"][show], query


def test_hybrid_keeps_keyword_hits_first_and_resumes_embedding(site):
    run(site, "embed")
    hits = json.loads(run(site, "search", "--mode", "hybrid", "goalkeeper", "--json").output)
    assert hits[0]["episode_id"] == site["ids"]["match"] and not hits[0]["semantic"]
    assert "goalkeeper" in hits[0]["snippet"]
    db = store.open_db(site["path"])
    add_fake_episode(db, [(0.0, "The landlord raised the rent again this spring.")],
                     title="more rent", media_id="more")  # fmt: skip
    db.close()
    again = json.loads(run(site, "embed", "--json").output)
    assert again["made"] == 1 and again["chunks"] == 4  # only the new chunk
    db = store.open_db(site["path"], readonly=True)
    found = search.meaning_search(db, "housing costs", mode="semantic", limit=2).hits
    assert {h.title for h in found} == {"rent", "more rent"}
    # filters apply before ranking
    only = search.meaning_search(db, "housing costs", mode="semantic", date_from="2030-01-01")
    assert only.hits == []


def test_indexing_stores_vectors_with_the_chunks(media_server, env):
    from tests.test_languages import vtt

    lines = [line for _, line in SHOWS["rent"]]
    (media_server.root / "rent.vtt").write_text(vtt(lines))
    (media_server.root / "rent.xml").write_text(
        '<?xml version="1.0"?><rss version="2.0" xmlns:podcast="https://podcastindex.org/'
        'namespace/1.0"><channel><title>City</title><item><title>Rents</title><guid>r1</guid>'
        f'<enclosure url="{media_server.url("rent.mp3")}" type="audio/mpeg"/>'
        f'<podcast:transcript url="{media_server.url("rent.vtt")}" type="text/vtt" '
        'language="en"/></item></channel></rss>'
    )
    result = CliRunner().invoke(cli, ["add", media_server.url("rent.xml")], env=env)
    assert result.exit_code == 0, result.output
    db = store.open_db(env["INDEXER_DB"])
    have, total = store.vector_counts(db)
    assert have == total > 0  # searchable by meaning as soon as it is searchable at all
    hit = search.meaning_search(db, "housing affordability", mode="semantic").hits[0]
    assert hit.title == "Rents" and hit.semantic
    # rechunk and corrections remake the vectors they drop
    assert CliRunner().invoke(cli, ["rechunk", "--chunk-seconds", "5"], env=env).exit_code == 0
    have, total = store.vector_counts(db)
    assert have == total and total > 1
    from indexer import corrections

    corrections.correct_line(db, hit.episode_id, 6.5, "My rent doubled in two years.", "ana")
    assert store.vector_counts(db)[0] == store.vector_counts(db)[1]


def test_sign_bit_candidates_keep_the_nearest(monkeypatch):
    """Above EXACT_UP_TO vectors the sign bits pick candidates; the nearest must survive."""
    import numpy as np

    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((5000, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    stored = np.clip(np.rint(vectors * 127), -127, 127).astype(np.int8)
    index = search.vectors_index(np.arange(100, 5100), np.zeros(5000, dtype=np.int64), stored)
    rows = np.arange(5000)
    exact = search.nearest(index, vectors[42], rows, 5)
    monkeypatch.setattr(search, "EXACT_UP_TO", 1000)
    fast = search.nearest(index, vectors[42], rows, 5)
    assert fast[0][0] == exact[0][0] == 142 and fast[0][1] > 0.99
    # random vectors are the worst case for sign bits (real embeddings cluster): most of
    # the exact top 5 still survive, in the same order of score
    assert len({c for c, _ in fast} & {c for c, _ in exact}) >= 3
    assert [s for _, s in fast] == sorted((s for _, s in fast), reverse=True)


def test_the_servers_vector_copy_follows_replaced_vectors(site):
    run(site, "embed")
    db = store.open_db(site["path"], readonly=True)
    before = search._vector_index(db)
    writer = store.open_db(site["path"])
    rent = store.chunks_without_vectors(writer, 10)  # none left
    assert rent == []
    chunk_id = int(before.ids[0])
    store.save_vectors(
        writer, [(chunk_id, bytes(len(before.matrix[0])), None)], embed.DEFAULT_ID
    )
    after = search._vector_index(db)  # same count, same ids: the generation tells
    assert after is not before and not after.matrix[0].any()


def test_default_search_is_hybrid_once_vectors_exist_and_keyword_before(site):
    before = json.loads(run(site, "search", "housing affordability", "--json").output)
    assert not any(h["semantic"] for h in before)  # no vectors yet: by keyword, no error
    run(site, "embed")
    after = json.loads(run(site, "search", "housing affordability", "--json").output)
    assert after[0]["episode_id"] == site["ids"]["rent"] and after[0]["semantic"]
    exact = json.loads(run(site, "search", "goalkeeper", "--json").output)
    assert exact[0]["episode_id"] == site["ids"]["match"] and not exact[0]["semantic"]
    words = json.loads(run(site, "search", "--mode", "keyword", "housing affordability",
                           "--json").output)  # fmt: skip
    assert not any(h["semantic"] for h in words)


def test_the_api_and_page_search_by_meaning_by_default(site):
    from web import create_app

    run(site, "embed")
    client = create_app({"DATABASE": site["path"], "TESTING": True}).test_client()
    hits = client.get("/api/search?q=housing+affordability").get_json()["hits"]
    assert hits[0]["episode_id"] == site["ids"]["rent"] and hits[0]["semantic"]
    page = client.get("/?q=housing+affordability").get_data(as_text=True)
    assert "by meaning" in page and 'value="hybrid" selected' in page
    keyword = client.get("/api/search?q=housing+affordability&mode=keyword").get_json()["hits"]
    assert not any(h["semantic"] for h in keyword)


def test_lines_are_placed_by_their_stored_sign_bits(site, monkeypatch):
    run(site, "embed")
    db = store.open_db(site["path"], readonly=True)
    sizes = [n for (n,) in db.execute("select length(lines) from chunk_vectors")]
    assert sizes == [3 * 96] * 3  # three lines a chunk, 768 sign bits each
    model = embed.load()
    sizes_embedded: list[int] = []
    real = model.embed_with_spans

    def counting(texts, spans):
        sizes_embedded.append(len(texts))
        return real(texts, spans)

    monkeypatch.setattr(model, "embed_with_spans", counting)
    hit = search.find(db, "families losing their homes", limit=1).hits[0]
    assert sizes_embedded == [1]  # the query alone: no line is embedded at search time
    assert hit.semantic and hit.episode_id == site["ids"]["rent"]
    assert hit.quote == SHOWS["rent"][2][1] and hit.start >= 11.0


def test_the_english_model_is_not_asked_about_other_languages(site):
    db = store.open_db(site["path"])
    german = add_fake_episode(db, [(0.0, "Die Mieten in Berlin steigen jedes Jahr weiter.")],
                              title="Mieten", media_id="de1", language="de")  # fmt: skip
    db.close()
    run(site, "embed")
    hits = json.loads(run(site, "search", "Mieten Berlin", "--json").output)
    assert [h["episode_id"] for h in hits] == [german] and not hits[0]["semantic"]
    result = CliRunner().invoke(cli, ["search", "--mode", "semantic", "--language", "de",
                                      "Wohnungsnot"], env=site["env"])  # fmt: skip
    assert result.exit_code == 1 and "English only" in result.output
    # by meaning, an English query finds only the English episodes
    found = json.loads(run(site, "search", "--mode", "semantic", "rising housing costs",
                           "--json").output)  # fmt: skip
    assert german not in {h["episode_id"] for h in found}


def test_fusion_ranks_what_both_find_first_and_keeps_the_keyword_order():
    keyword = [11, 12, 13]  # full keyword matches, best first
    ranked = [(13, 0.62), (20, 0.55), (12, 0.40), (21, 0.05)]
    fused = search.fuse(keyword, ranked, floor=0.2)
    order = [c for c, _ in fused]
    # 13 and 12 are found by words and by meaning, so the keyword hits win the first three
    # places; those are filled in keyword order, however meaning ordered them
    assert order == [11, 12, 13, 20]  # 21 is under the floor and not found by words: out
    scores = [s for _, s in fused]
    assert scores == sorted(scores, reverse=True)
    both = 1 / (search.RRF_K + 3) + 1 / (search.RRF_K + 1)  # 13: keyword rank 3, meaning rank 1
    assert fused[0][1] == pytest.approx(both)
    # without a floor (semantic mode's ranking) every meaning hit is kept
    assert [c for c, _ in search.fuse([], ranked)] == [13, 20, 12, 21]
    assert search.fuse([], []) == []


def test_vectors_are_stored_as_int8_and_read_back_close():
    import numpy as np

    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(5, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    blobs = embed.quantize(vectors)
    assert all(len(b) == 384 for b in blobs)
    back = embed.matrix(blobs, 384).astype(np.float32) / 127
    cosine = (back * vectors).sum(1) / np.linalg.norm(back, axis=1)
    assert cosine.min() > 0.998  # about 0.999
    assert embed.matrix([], 384).shape == (0, 384)
    # lines' sign bits: 48 bytes a line, refused when they don't fit the chunk's lines
    signs = np.packbits(vectors[:3] > 0, axis=1).tobytes()
    assert embed.line_signs(signs, 3, 384).shape == (3, 48)
    assert embed.line_signs(signs, 4, 384) is None and embed.line_signs(None, 3, 384) is None


def test_hybrid_still_lists_what_keyword_search_finds_in_part(site, monkeypatch):
    run(site, "embed")
    # no meaning hit passes this floor, as for a query whose meaning is nowhere near
    monkeypatch.setattr(search, "HYBRID_FLOOR", 0.99)
    db = store.open_db(site["path"], readonly=True)
    query = "goalkeeper zeppelin"  # one word said, one never: a partial keyword match only
    words = search.find(db, query, mode="keyword").hits
    assert words and words[0].partial
    hybrid = search.find(db, query, mode="hybrid").hits
    assert [(h.chunk_id, h.partial, h.semantic) for h in hybrid] == [(words[0].chunk_id, True, False)]
    assert "\ue000goalkeeper\ue001" in hybrid[0].snippet  # marked


def test_a_model_folder_is_used_by_embed_search_and_rechunk(site, tmp_path):
    import shutil

    model, tokenizer = embed._minilm_files()
    folder = tmp_path / "my-encoder"
    folder.mkdir()
    shutil.copy(model, folder / "model.onnx")
    shutil.copy(tokenizer, folder / "tokenizer.json")
    env = {**site["env"], "INDEXER_EMBEDDING_MODEL": str(folder)}
    made = CliRunner().invoke(cli, ["embed", "--json"], env=env)
    assert made.exit_code == 0, made.output
    assert json.loads(made.output)["model"] == "my-encoder"
    # the bundled model can't be compared with these vectors: it says so and how to fix it
    other = CliRunner().invoke(cli, ["embed"], env=site["env"])
    assert other.exit_code == 1 and "embed --again" in other.output
    hits = json.loads(CliRunner().invoke(cli, ["search", "--mode", "semantic", "housing "
                                               "affordability", "--json"], env=env).output)  # fmt: skip
    assert hits[0]["episode_id"] == site["ids"]["rent"]
    rechunked = CliRunner().invoke(cli, ["rechunk", "--chunk-seconds", "5"], env=env)
    assert rechunked.exit_code == 0, rechunked.output
    db = store.open_db(site["path"], readonly=True)
    have, total = store.vector_counts(db)
    assert have == total > 3 and store.vector_model(db) == "my-encoder"
    off = CliRunner().invoke(cli, ["embed"], env={**site["env"], "INDEXER_EMBEDDING_MODEL": "off"})
    assert off.exit_code == 1 and "meaning search is off" in off.output


def test_a_large_index_keeps_sign_bits_and_reads_candidates_from_the_database(site, monkeypatch):
    run(site, "embed")
    db = store.open_db(site["path"], readonly=True)
    exact = search.meaning_search(db, "housing affordability", mode="semantic", limit=3).hits
    monkeypatch.setattr(search, "IN_MEMORY_BYTES", 0)  # as a million vectors would be
    monkeypatch.setattr(search, "FETCHED", 1)
    search._vector_cache.clear()
    index = search._vector_index(db)
    assert index.matrix is None and index.signs.shape == (12, 3)  # 768 sign bits a vector
    signs_only = search.meaning_search(db, "housing affordability", mode="semantic", limit=3).hits
    assert [(h.chunk_id, h.score) for h in signs_only] == [(h.chunk_id, h.score) for h in exact]
    search._vector_cache.clear()


def test_deleting_an_episode_tells_the_server_its_vectors_are_stale(site):
    run(site, "embed")
    db = store.open_db(site["path"], readonly=True)
    before = search._vector_index(db)
    writer = store.open_db(site["path"])
    with writer.conn:  # chunks deleted by SQL alone: their vectors go by trigger
        writer.execute("delete from chunks where episode_id = ?", [site["ids"]["flu"]])
    after = search._vector_index(db)
    assert after.version > before.version and len(after.ids) == len(before.ids) - 1
