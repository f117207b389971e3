"""The ``fused`` title vector: the present spaces combined with documented weights.

``fused = unit(concat(sqrt(w_k) * v_k))`` over the parts ``k`` in ``PARTS``, each ``v_k`` the
part's L2-normalised title vector, or zeros where the part is absent. The cosine of two fused
vectors is then ``sum_k w_k cos_k`` over the parts both titles have, divided by
``sqrt(W_a W_b)`` (the weights each title has): a title with no transcript or no vision model
still gets a vector comparable with every other, and a missing part lowers similarity rather
than distorting it. Which parts were present is recorded with the vector.

Weights (``WEIGHTS``) rank what says most about a title's content: what is said (``text``)
and how it looks and sounds (``style``, ``visual``), then what tagging concluded
(``profile``, coarse by design). The ``visual`` part enters through a fixed random projection
to ``VISUAL_DIM`` (seeded Gaussian, Johnson-Lindenstrauss: cosines kept within ~0.1), so the
fused dimension does not depend on the vision model's.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

import numpy as np

from analyzers.embeddings.base import SpaceOutput, SpaceSpec, VectorOut, digest, unit

NAME = "fused"
_VERSION = "1"
PARTS = ("text", "visual", "style", "profile")
WEIGHTS: dict[str, float] = {"text": 0.35, "visual": 0.2, "style": 0.3, "profile": 0.15}
VISUAL_DIM = 128
SEED = 20240612


def _block_dim(name: str, part: SpaceSpec) -> int:
    return VISUAL_DIM if name == "visual" else part.dim


def spec(parts: Mapping[str, SpaceSpec], weights: Mapping[str, float] | None = None) -> SpaceSpec:
    """``parts``: the spec of every part (also absent ones: a fleet without a vision model
    still names its visual version, so the fused version changes when one is installed)."""
    w = dict(weights or WEIGHTS)
    versions = {n: parts[n].label for n in PARTS}
    dims = {n: _block_dim(n, parts[n]) for n in PARTS}
    version = f"{_VERSION}-{digest(_VERSION, versions, w, dims, VISUAL_DIM, SEED)}"
    params = {
        "weights": w,
        "parts": versions,
        "dims": dims,
        "visual_projection": [VISUAL_DIM, SEED],
    }
    return SpaceSpec(NAME, version, sum(dims.values()), "weighted concatenation", params)


@lru_cache(maxsize=4)
def _projection(dim_in: int) -> np.ndarray:
    rng = np.random.default_rng(SEED)
    return (rng.standard_normal((dim_in, VISUAL_DIM)) / np.sqrt(VISUAL_DIM)).astype(np.float32)


def fuse(space: SpaceSpec, titles: Mapping[str, np.ndarray | None]) -> SpaceOutput:
    """The fused title vector from each part's title vector (None: absent)."""
    weights = space.params["weights"]
    dims = space.params["dims"]
    blocks, present, absent = [], [], []
    for name in PARTS:
        vec = titles.get(name)
        v = None if vec is None else unit(vec)
        if v is not None and name == "visual":
            v = unit(v @ _projection(v.shape[0]))
        if v is None or weights.get(name, 0.0) <= 0.0:
            blocks.append(np.zeros(dims[name], dtype=np.float32))
            absent.append(name)
            continue
        blocks.append(np.sqrt(weights[name]) * v)
        present.append(name)
    fused = unit(np.concatenate(blocks)) if present else None
    info = {"present": present, "absent": absent, "weights": {n: weights[n] for n in present}}
    if fused is None:
        return SpaceOutput(space, [], absent="no part present", info=info)
    return SpaceOutput(space, [VectorOut("title", -1, fused)], info=info)
