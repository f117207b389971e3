"""Embedding spaces and their vectors.

A space is ``name@version`` with a dimension, a metric and the model that made it. Vectors
are stored per (title, space, scope, ref, version) as little-endian float32 bytes, so two
versions of one space never mix: readers always name the version they want, usually the
active one (:func:`active_space`). A new version is built beside the active one
(``building``) and flipped by :func:`activate_space` in one transaction.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from storage.models import Embedding, EmbeddingSpace, SpaceStatus, utcnow


@dataclass(frozen=True)
class VectorRow:
    scope: str  # title | scene | shot | segment
    ref_idx: int  # -1 for the title
    vector: np.ndarray


def to_bytes(vector: np.ndarray) -> bytes:
    return np.ascontiguousarray(vector, dtype="<f4").tobytes()


def from_bytes(data: bytes, dim: int) -> np.ndarray:
    return np.frombuffer(data, dtype="<f4", count=dim)


# --- spaces ---------------------------------------------------------------------------------


def register_space(
    session: Session,
    *,
    name: str,
    version: str,
    dim: int,
    model: str,
    metric: str = "cosine",
    params: dict[str, Any] | None = None,
    status: str = SpaceStatus.BUILDING,
) -> EmbeddingSpace:
    """The space ``name@version``, created if new. Its dimension is fixed once created."""
    space = get_space(session, name, version)
    if space is not None:
        if space.dim != dim:
            raise ValueError(f"space {name}@{version} has dim {space.dim}, not {dim}")
        return space
    space = EmbeddingSpace(
        name=name,
        version=version,
        dim=dim,
        metric=metric,
        model=model,
        status=status,
        params=params or {},
        activated_at=utcnow() if status == SpaceStatus.ACTIVE else None,
    )
    session.add(space)
    session.flush()
    return space


def get_space(session: Session, name: str, version: str) -> EmbeddingSpace | None:
    return session.scalar(
        select(EmbeddingSpace).where(EmbeddingSpace.name == name, EmbeddingSpace.version == version)
    )


def active_space(session: Session, name: str) -> EmbeddingSpace | None:
    return session.scalar(
        select(EmbeddingSpace).where(
            EmbeddingSpace.name == name, EmbeddingSpace.status == SpaceStatus.ACTIVE
        )
    )


def list_spaces(session: Session) -> Sequence[EmbeddingSpace]:
    return session.scalars(
        select(EmbeddingSpace).order_by(EmbeddingSpace.name, EmbeddingSpace.created_at)
    ).all()


def activate_space(session: Session, name: str, version: str) -> EmbeddingSpace:
    """Make ``name@version`` the active version and retire the one it replaces, in the
    caller's transaction: readers see the old version or the new one, never neither."""
    space = get_space(session, name, version)
    if space is None:
        raise LookupError(f"no space {name}@{version}")
    now = utcnow()
    session.execute(
        update(EmbeddingSpace)
        .where(
            EmbeddingSpace.name == name,
            EmbeddingSpace.status == SpaceStatus.ACTIVE,
            EmbeddingSpace.id != space.id,
        )
        .values(status=SpaceStatus.RETIRED, retired_at=now)
    )
    space.status = SpaceStatus.ACTIVE
    space.activated_at = now
    session.flush()
    return space


# --- vectors --------------------------------------------------------------------------------


def save_vectors(
    session: Session, title_id: int, space: EmbeddingSpace, rows: Sequence[VectorRow]
) -> int:
    """Replace a title's vectors in ``space`` (this version only). Vectors are stored
    L2-normalised; a zero vector is refused rather than stored as noise."""
    normalised = [(row, _unit(row.vector, space)) for row in rows]  # refuse before deleting
    session.execute(
        delete(Embedding).where(
            Embedding.title_id == title_id,
            Embedding.space == space.name,
            Embedding.model_version == space.version,
        )
    )
    session.add_all(
        Embedding(
            title_id=title_id,
            space=space.name,
            scope=row.scope,
            ref_idx=row.ref_idx,
            model_version=space.version,
            dim=space.dim,
            vector=to_bytes(unit),
        )
        for row, unit in normalised
    )
    session.flush()
    return len(rows)


def _unit(vector: np.ndarray, space: EmbeddingSpace) -> np.ndarray:
    v = np.asarray(vector, dtype=np.float32).reshape(-1)
    if v.shape[0] != space.dim:
        raise ValueError(f"{space.name}@{space.version}: vector of dim {v.shape[0]}")
    norm = float(np.linalg.norm(v))
    if not np.isfinite(norm) or norm == 0.0:
        raise ValueError(f"{space.name}@{space.version}: zero or non-finite vector")
    return v / norm


def embeddings_of(session: Session, title_id: int) -> Sequence[Embedding]:
    return session.scalars(
        select(Embedding)
        .where(Embedding.title_id == title_id)
        .order_by(Embedding.space, Embedding.model_version, Embedding.scope, Embedding.ref_idx)
    ).all()


def iter_title_vectors(
    session: Session, space: EmbeddingSpace, *, batch: int = 5000
) -> Iterator[tuple[int, np.ndarray]]:
    """Every title-scope vector of one space version, streamed in one query (server-side
    cursor on PostgreSQL), for loading an index."""
    q = (
        select(Embedding.title_id, Embedding.vector)
        .where(
            Embedding.space == space.name,
            Embedding.model_version == space.version,
            Embedding.scope == "title",
        )
        .order_by(Embedding.title_id)
        .execution_options(yield_per=batch, stream_results=True)
    )
    for title_id, data in session.execute(q):
        yield title_id, from_bytes(data, space.dim)
