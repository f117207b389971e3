"""Label embeddings computed once: a prompt ensemble or a set of text cues per label, keyed
by the model and the texts, kept in memory and (optionally) on disk as ``.npy`` files."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np


def fingerprint(model_id: str, texts: Mapping[str, Sequence[str]]) -> str:
    """Stable key of (model, label texts): a change in either gives a new key."""
    doc = json.dumps([model_id, {k: list(v) for k, v in sorted(texts.items())}])
    return hashlib.sha256(doc.encode()).hexdigest()[:32]


def normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norm = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(norm, 1e-12)


def ensemble(
    texts: Mapping[str, Sequence[str]], encode: Callable[[list[str]], np.ndarray]
) -> np.ndarray:
    """One row per label (in ``texts`` order): the renormalised mean of its texts' normalised
    embeddings, as in CLIP's prompt ensembling. All texts go through ``encode`` in one call."""
    flat = [t for label_texts in texts.values() for t in label_texts]
    if any(not v for v in texts.values()):
        raise ValueError("every label needs at least one text")
    vecs = normalise(encode(flat))
    rows, i = [], 0
    for label_texts in texts.values():
        rows.append(vecs[i : i + len(label_texts)].mean(axis=0))
        i += len(label_texts)
    return normalise(np.stack(rows))


class EmbeddingCache:
    """Memory (and disk, when ``directory`` is set) cache of label-embedding matrices."""

    def __init__(self, directory: str | Path | None = None) -> None:
        self.directory = Path(directory) if directory else None
        self._memory: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    def get_or_compute(self, key: str, compute: Callable[[], np.ndarray]) -> np.ndarray:
        with self._lock:
            if key in self._memory:
                return self._memory[key]
            path = self.directory / f"{key}.npy" if self.directory else None
            if path is not None and path.exists():
                value = np.load(path)
            else:
                value = np.asarray(compute(), dtype=np.float32)
                if path is not None:
                    _save_atomically(path, value)
            self._memory[key] = value
            return value


def _save_atomically(path: Path, value: np.ndarray) -> None:
    """Write beside ``path`` under a name of this call's own, then rename: a reader never
    sees half a file, and worker processes writing the same key at once (a fixed temporary
    name let one rename away the file the other was about to rename) each succeed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".npy")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.save(fh, value)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
