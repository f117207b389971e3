"""``NumpyBert``'s forward pass as an in-memory ONNX graph run by onnxruntime.

Why: a search request encodes 5-8 tokens at batch 1, where numpy's BLAS spends most of the
time re-packing the weights on every product; onnxruntime (MLAS) packs constant weights once,
when the session is made, and the same products take about half the time. The graph is
built op for op from the weights ``NumpyBert._arrange`` returns, so the vectors are the numpy
engine's to float precision (and the cache keys stay the same).

Importing this module needs ``onnx`` and ``onnxruntime``; ``NumpyBert`` falls back to numpy
when either is missing.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

OPSET = 17  # LayerNormalization is an opset-17 op


class _Graph:
    """Nodes and initializers of one graph, with fresh names."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self._n = 0

    def const(self, value: Any, name: str | None = None) -> str:
        arr = np.asarray(value)
        name = name or f"c{len(self.inits)}"
        self.inits.append(numpy_helper.from_array(arr, name))
        return name

    def op(self, kind: str, *inputs: str, **attrs: Any) -> str:
        self._n += 1
        out = f"{kind.lower()}{self._n}"
        self.nodes.append(helper.make_node(kind, list(inputs), [out], **attrs))
        return out


def build_model(w: dict[str, Any], heads: int, eps: float, dim: int) -> onnx.ModelProto:
    """The graph of ``NumpyBert._forward``: inputs ``ids`` and ``mask`` (batch, tokens) int64,
    output ``pooled`` (batch, dim) float32, mean-pooled and not normalised."""
    g = _Graph()
    dh = dim // heads

    def layer_norm(x: str, gamma_beta: tuple[np.ndarray, np.ndarray], tag: str) -> str:
        gamma, beta = g.const(gamma_beta[0], f"{tag}.g"), g.const(gamma_beta[1], f"{tag}.b")
        return g.op("LayerNormalization", x, gamma, beta, axis=-1, epsilon=eps)

    def linear(x: str, weight: np.ndarray, bias: np.ndarray, tag: str) -> str:
        return g.op(
            "Add", g.op("MatMul", x, g.const(weight, f"{tag}.w")), g.const(bias, f"{tag}.b")
        )

    # Embeddings: word rows + the first n positions + token type 0, as numpy adds them.
    bn = g.op("Shape", "ids")
    n = g.op("Gather", bn, g.const(np.array([1], np.int64)), axis=0)
    pos = g.op("Slice", g.const(w["pos"], "pos"), g.const(np.array([0], np.int64)), n)
    x = g.op("Add", g.op("Gather", g.const(w["word"], "word"), "ids", axis=0), pos)
    x = layer_norm(g.op("Add", x, g.const(w["type"], "type")), w["ln"], "emb.ln")
    # Tokens as rows of one (batch * tokens, dim) matrix, as numpy: the weight products are
    # then 2-D, which onnxruntime fuses with their bias into one Gemm.
    x = g.op("Reshape", x, g.const(np.array([-1, dim], np.int64)))
    # Padding keys get float32's lowest value, as transformers (and numpy here) add.
    keep = g.op("Greater", "mask", g.const(np.array(0, np.int64)))
    bias = g.op(
        "Where", keep, g.const(np.float32(0.0)), g.const(np.float32(np.finfo(np.float32).min))
    )
    bias = g.op("Unsqueeze", bias, g.const(np.array([1, 2], np.int64)))  # (b, 1, 1, n)
    scale = g.const(np.float32(1.0 / np.sqrt(dh)))
    split_shape = g.op("Concat", bn, g.const(np.array([3, heads, dh], np.int64)), axis=0)
    rows_shape = g.const(np.array([-1, dim], np.int64))
    picks = [g.const(np.array(j, np.int64)) for j in range(3)]
    sqrt2, half, one = (g.const(np.float32(v)) for v in (np.sqrt(2), 0.5, 1.0))
    for i, layer in enumerate(w["layers"]):
        t = f"l{i}"
        qkv = g.op("Reshape", linear(x, layer["qkv"], layer["qkv_b"], f"{t}.qkv"), split_shape)
        q, k, v = (g.op("Gather", qkv, p, axis=2) for p in picks)  # (b, n, heads, dh)
        q = g.op("Transpose", q, perm=[0, 2, 1, 3])
        k = g.op("Transpose", k, perm=[0, 2, 3, 1])
        v = g.op("Transpose", v, perm=[0, 2, 1, 3])
        scores = g.op("Add", g.op("MatMul", g.op("Mul", q, scale), k), bias)
        probs = g.op("Softmax", scores, axis=-1)
        ctx = g.op("Transpose", g.op("MatMul", probs, v), perm=[0, 2, 1, 3])
        ctx = g.op("Reshape", ctx, rows_shape)
        x = layer_norm(
            g.op("Add", x, linear(ctx, layer["o"], layer["o_b"], f"{t}.o")),
            layer["ln1"],
            f"{t}.ln1",
        )
        h = linear(x, layer["i"], layer["i_b"], f"{t}.i")
        # Exact (erf) GELU, BERT's "gelu", in the form onnxruntime fuses into one kernel.
        erf = g.op("Add", g.op("Erf", g.op("Div", h, sqrt2)), one)
        h = g.op("Mul", g.op("Mul", h, erf), half)
        x = layer_norm(
            g.op("Add", x, linear(h, layer["f"], layer["f_b"], f"{t}.f")), layer["ln2"], f"{t}.ln2"
        )
    m = g.op(
        "Unsqueeze", g.op("Cast", "mask", to=TensorProto.FLOAT), g.const(np.array([2], np.int64))
    )
    axis1 = g.const(np.array([1], np.int64))
    x = g.op("Reshape", x, g.op("Concat", bn, g.const(np.array([dim], np.int64)), axis=0))
    total = g.op("ReduceSum", g.op("Mul", x, m), axis1, keepdims=0)
    count = g.op("Max", g.op("ReduceSum", m, axis1, keepdims=0), g.const(np.float32(1e-9)))
    g.nodes.append(helper.make_node("Div", [total, count], ["pooled"]))

    dims: list[str | int] = ["batch", "tokens"]
    graph = helper.make_graph(
        g.nodes,
        "minilm",
        [
            helper.make_tensor_value_info("ids", TensorProto.INT64, dims),
            helper.make_tensor_value_info("mask", TensorProto.INT64, dims),
        ],
        [helper.make_tensor_value_info("pooled", TensorProto.FLOAT, ["batch", dim])],
        g.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8  # opset 17's IR; any onnxruntime >= 1.12 reads it
    return model


def int8(model: onnx.ModelProto) -> bytes:
    """``model`` with int8 weights per output channel (onnxruntime's dynamic quantisation:
    activations are quantised per call), as bytes."""
    import tempfile
    from pathlib import Path

    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        onnx.save(model, src)
        quantize_dynamic(src, dst, weight_type=QuantType.QInt8, per_channel=True)
        return dst.read_bytes()


def session(model: onnx.ModelProto | bytes, threads: int | None = 1) -> ort.InferenceSession:
    """A CPU session; ``threads`` intra-op threads (None: onnxruntime's default, one per core)."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads or 0
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Idle pool threads sleep: spinning doubled the CPU of a two-thread encode (the API's
    # query encoder) for 0.1 ms, time the other uvicorn worker or a scan could use.
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    data = model if isinstance(model, bytes) else model.SerializeToString()
    sess = ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])
    # The Python wrapper keeps the model's bytes (90 MB) only to re-create the session when
    # its providers change, which this one never does.
    sess._model_bytes = None
    return sess
