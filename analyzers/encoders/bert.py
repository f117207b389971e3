"""A sentence-transformers BERT checkpoint (Transformer -> mean Pooling -> Normalize, as
all-MiniLM-L6-v2) run in numpy: the same forward pass as ``transformers``' ``BertModel``
in eval mode, the same tokenizer (``tokenizer.json`` through ``tokenizers``), the same
pooling.

Why not sentence-transformers: importing it (with torch, transformers' model machinery,
scikit-learn and scipy.stats) costs about 7 s and 400 MB of RSS before the first sentence,
more than a 22M-parameter encoder needs; a CPU signal worker then carries torch for nothing.
Here the load is the 90 MB of weights and a tokenizer, and the matrix products go to the
BLAS numpy links (its threads follow ``OPENBLAS_NUM_THREADS`` / ``OMP_NUM_THREADS``).

:func:`supported` says whether a directory is such a checkpoint; anything else (another
architecture, pooling or head) stays with sentence-transformers.

``engine="onnxruntime"`` runs the same pass as an ONNX graph (``bert_onnx``): about half the
time at batch 1, where BLAS re-packs the weights on every product; the API's query encoder
uses it. The default stays numpy (the tagging workers' peak RSS has no room for onnx).
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

# "onnxruntime-int8": the graph with int8 weights (per channel), an opt-in for the API's
# query encoder: a quarter of the weight bytes a batch-1 pass streams (2.6x faster here), at
# a cosine of ~0.99 to the float32 vectors, so its vectors are not the others'.
ENGINES = ("numpy", "onnxruntime", "onnxruntime-int8")


def _read(path: Path) -> Any:
    return json.loads(path.read_text())


def supported(path: Path) -> bool:
    """A BERT sentence-transformers directory with mean pooling and nothing after it but
    normalisation, whose weights are safetensors and whose tokenizer is ``tokenizer.json``."""
    try:
        modules = _read(path / "modules.json")
        kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
        config = _read(path / "config.json")
        pooling = _read(path / modules[1]["path"] / "config.json") if len(modules) > 1 else {}
    except (OSError, ValueError, KeyError, TypeError):
        return False
    modes = {k for k, v in pooling.items() if k.startswith("pooling_mode_") and v}
    return (
        kinds[:2] == ["Transformer", "Pooling"]
        and all(k == "Normalize" for k in kinds[2:])
        and modes == {"pooling_mode_mean_tokens"}
        and config.get("model_type") == "bert"
        and config.get("hidden_act") == "gelu"
        and config.get("position_embedding_type", "absolute") == "absolute"
        and (path / "model.safetensors").exists()
        and (path / "tokenizer.json").exists()
    )


def _layer_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    var = np.mean(centred * centred, axis=-1, keepdims=True)
    return centred / np.sqrt(var + eps) * gamma + beta


def _gelu(x: np.ndarray) -> np.ndarray:
    from scipy.special import erf  # exact (erf) GELU, as BERT's "gelu"

    return 0.5 * x * (1.0 + erf(x * np.float32(1 / np.sqrt(2))))


@functools.cache
def _blas_threads() -> Any:
    """One threadpoolctl controller per process: ``threadpool_limits`` re-scans the loaded
    libraries on every call (0.2 ms quiet, ~2 ms on a busy machine: a search request's
    query encode paid it each time)."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


class NumpyBert:
    """Mean-pooled, L2-normalised sentence vectors of a BERT checkpoint, in float32."""

    def __init__(self, path: Path, threads: int | None = 1, engine: str = "numpy") -> None:
        if engine not in ENGINES:
            raise ValueError(f"unknown BERT engine {engine!r}; one of {ENGINES}")
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        cfg = _read(path / "config.json")
        st_file = path / "sentence_bert_config.json"
        st = _read(st_file) if st_file.exists() else {}
        self.heads = int(cfg["num_attention_heads"])
        self.layers = int(cfg["num_hidden_layers"])
        self.eps = float(cfg.get("layer_norm_eps", 1e-12))
        self.dim = int(cfg["hidden_size"])
        # BLAS threads while encoding: one by default, as a worker process runs beside as many
        # others as there are cores (two threads each on a 2-core worker cost a third more CPU
        # for no gain in throughput); None leaves the BLAS default (one per core).
        self.threads = threads
        max_len = int(st.get("max_seq_length") or cfg.get("max_position_embeddings", 512))
        self.max_len = min(max_len, int(cfg.get("max_position_embeddings", 512)))
        self.normalize = any(m["type"].endswith("Normalize") for m in _read(path / "modules.json"))
        w = load_file(str(path / "model.safetensors"))
        prefix = "bert." if "bert.embeddings.word_embeddings.weight" in w else ""
        self.w = self._arrange(w, prefix)
        del w
        # The engine actually used: onnxruntime falls back to numpy when it cannot be imported.
        self.engine = "numpy"
        self.session: Any = None
        if engine.startswith("onnxruntime"):
            self._start_onnx(int8=engine.endswith("int8"))
        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        # The file pads to a fixed 128 and truncates there; sentence-transformers pads to the
        # longest in the batch and truncates at its max_seq_length.
        self.tokenizer.enable_truncation(max_length=self.max_len)
        pad_id = int(cfg.get("pad_token_id", 0) or 0)
        self.tokenizer.enable_padding(pad_id=pad_id, pad_token=self.tokenizer.id_to_token(pad_id))

    def _start_onnx(self, int8: bool = False) -> None:
        try:
            from analyzers.encoders import bert_onnx
        except ImportError as err:
            log.warning("onnxruntime engine unavailable (%s); MiniLM runs in numpy", err)
            return
        model = bert_onnx.build_model(self.w, self.heads, self.eps, self.dim)
        # The graph holds its own copy of every weight and the session will pack its own:
        # numpy's copy, the graph and its bytes go as soon as each is used, so that loading
        # peaks lower and the loaded encoder holds one copy.
        self.w = {}
        data = bert_onnx.int8(model) if int8 else model.SerializeToString()
        del model
        self.session = bert_onnx.session(data, self.threads)
        self.engine = "onnxruntime-int8" if int8 else "onnxruntime"

    def _arrange(self, w: dict[str, np.ndarray], prefix: str) -> dict[str, Any]:
        """Weights as the forward pass uses them: linear layers transposed to (in, out) and
        the query, key and value projections joined into one product."""

        def get(name: str) -> np.ndarray:
            # A copy: the loaded arrays are views of the whole file's bytes, which would
            # otherwise stay alive (40 MB more) beside the transposed copies.
            return np.array(w[prefix + name], dtype=np.float32, order="C", copy=True)

        e = "embeddings."
        out: dict[str, Any] = {
            "word": get(e + "word_embeddings.weight"),
            "pos": get(e + "position_embeddings.weight"),
            "type": get(e + "token_type_embeddings.weight")[0],
            "ln": (get(e + "LayerNorm.weight"), get(e + "LayerNorm.bias")),
            "layers": [],
        }
        qkv_names = ("query", "key", "value")
        for i in range(self.layers):
            p = f"encoder.layer.{i}."
            a = p + "attention."
            qkv = [get(f"{a}self.{n}.weight") for n in qkv_names]
            out["layers"].append(
                {
                    "qkv": np.ascontiguousarray(np.concatenate(qkv).T),
                    "qkv_b": np.concatenate([get(f"{a}self.{n}.bias") for n in qkv_names]),
                    "o": np.ascontiguousarray(get(a + "output.dense.weight").T),
                    "o_b": get(a + "output.dense.bias"),
                    "ln1": (get(a + "output.LayerNorm.weight"), get(a + "output.LayerNorm.bias")),
                    "i": np.ascontiguousarray(get(p + "intermediate.dense.weight").T),
                    "i_b": get(p + "intermediate.dense.bias"),
                    "f": np.ascontiguousarray(get(p + "output.dense.weight").T),
                    "f_b": get(p + "output.dense.bias"),
                    "ln2": (get(p + "output.LayerNorm.weight"), get(p + "output.LayerNorm.bias")),
                }
            )
        return out

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """(batch, tokens) ids and attention mask -> mean-pooled (batch, dim) vectors."""
        w, eps, d = self.w, self.eps, self.dim
        b, n = ids.shape
        heads, dh = self.heads, d // self.heads
        # Tokens as rows of one 2-D matrix: numpy sends a 2-D product to BLAS whole, while a
        # (batch, tokens, dim) @ (dim, out) product runs an order of magnitude slower.
        x = (w["word"][ids] + w["pos"][:n] + w["type"]).reshape(b * n, d)
        x = _layer_norm(x, *w["ln"], eps)
        # Padding keys get the dtype's lowest value, as transformers adds for a masked key.
        bias = np.where(mask[:, None, None, :] > 0, 0.0, np.finfo(np.float32).min)
        bias = bias.astype(np.float32)
        scale = np.float32(1.0 / np.sqrt(dh))
        for layer in w["layers"]:
            qkv = (x @ layer["qkv"] + layer["qkv_b"]).reshape(b, n, 3, heads, dh)
            q, k, v = (qkv[:, :, j].transpose(0, 2, 1, 3) for j in range(3))
            scores = (q * scale) @ k.transpose(0, 1, 3, 2) + bias
            scores -= scores.max(axis=-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=-1, keepdims=True)
            ctx = (scores @ v).transpose(0, 2, 1, 3).reshape(b * n, d)
            x = _layer_norm(x + (ctx @ layer["o"] + layer["o_b"]), *layer["ln1"], eps)
            h = _gelu(x @ layer["i"] + layer["i_b"])
            x = _layer_norm(x + (h @ layer["f"] + layer["f_b"]), *layer["ln2"], eps)
        m = mask.astype(np.float32)[:, :, None]
        pooled = (x.reshape(b, n, d) * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
        return pooled.astype(np.float32)

    def _forward_onnx(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return self.session.run(None, {"ids": ids, "mask": mask})[0]

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """(len(texts), dim) float32; batches of similar lengths, as sentence-transformers
        sorts them, so little is spent on padding."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        order = np.argsort([-len(t) for t in texts], kind="stable")
        forward = self._forward if self.session is None else self._forward_onnx
        with _blas_threads().limit(limits=self.threads, user_api="blas"):
            for i in range(0, len(order), max(1, batch_size)):
                rows = order[i : i + batch_size]
                enc = self.tokenizer.encode_batch([texts[j] for j in rows])
                ids = np.array([e.ids for e in enc], dtype=np.int64)
                mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
                out[rows] = forward(ids, mask)
        if self.normalize:
            out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out
