"""The shapes every space returns."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np


def digest(*parts: Any) -> str:
    """A short stable hash of JSON-able parts (for versions and input fingerprints)."""
    raw = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(raw.encode()).hexdigest()[:12]


def unit(vector: Any) -> np.ndarray | None:
    """``vector`` as L2-normalised float32, or None when it is zero or not finite (a space
    never stores noise for "nothing")."""
    v = np.asarray(vector, dtype=np.float32).reshape(-1)
    norm = float(np.linalg.norm(v))
    if not np.isfinite(norm) or norm == 0.0:
        return None
    return (v / norm).astype(np.float32)


def weighted_mean(vectors: np.ndarray, weights: Sequence[float]) -> np.ndarray | None:
    """Renormalised weighted mean of rows (weights clipped to be positive)."""
    w = np.maximum(np.asarray(weights, dtype=np.float64), 1e-6)
    return unit((np.asarray(vectors, dtype=np.float64) * w[:, None]).sum(axis=0) / w.sum())


@dataclass(frozen=True)
class SpaceSpec:
    """What the registry records of a space version."""

    name: str
    version: str
    dim: int
    model: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.name}@{self.version}"


@dataclass(frozen=True)
class VectorOut:
    scope: str  # title | scene | shot | segment
    ref_idx: int  # -1 for the title
    vector: np.ndarray


@dataclass
class SpaceOutput:
    """One space's vectors for a title, or why it has none."""

    spec: SpaceSpec
    rows: list[VectorOut] = field(default_factory=list)
    absent: str | None = None
    info: dict[str, Any] = field(default_factory=dict)  # e.g. fused: parts present/absent

    @property
    def title(self) -> np.ndarray | None:
        return next((r.vector for r in self.rows if r.scope == "title"), None)

    @classmethod
    def absent_because(cls, spec: SpaceSpec, reason: str) -> SpaceOutput:
        return cls(spec=spec, absent=reason)
