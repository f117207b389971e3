"""Backfill a new version of an embedding space without downtime.

``start`` registers the current version of a space (as the code and models here define it)
as ``building``; the active version keeps serving. Batches of titles are embedded, one title
per transaction, each skipped when it already has a vector (or an absence marker) in that
version, so a batch can be rerun after a crash and no title is embedded twice or skipped.
After each batch, :func:`try_flip` takes the space's row lock and, when no title lacks a
vector, activates the version and retires the old one in one transaction.

In the fleet the batches are Celery tasks (``workers/backfill_tasks.py``, ``cpu`` queue, acks
late: a batch whose worker was killed is delivered again and resumes where it stopped).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from storage import vectors
from storage.db import session_scope
from storage.models import SpaceStatus
from workers.services import derived_store
from workers.settings import Settings
from workers.stages import embeddings as emb


class VersionMismatch(RuntimeError):
    """This process would build another version than the one asked for (other code or
    models): it must not write into that version."""


@dataclass(frozen=True)
class Backfill:
    name: str
    version: str
    status: str
    lacking: int


def _spec(settings: Settings, name: str, version: str | None = None) -> emb.SpaceSpec:
    specs = emb.space_specs(settings)
    if name not in specs:
        raise KeyError(f"unknown space {name!r}; spaces: {', '.join(specs)}")
    spec = specs[name]
    if version is not None and spec.version != version:
        raise VersionMismatch(f"{name}: asked for {version}, this worker builds {spec.version}")
    return spec


def _space(session, spec: emb.SpaceSpec):  # type: ignore[no-untyped-def]
    space = vectors.get_space(session, spec.name, spec.version)
    if space is None:
        space = emb.register(session, spec, SpaceStatus.BUILDING)
    return space


def start(settings: Settings, name: str) -> Backfill:
    """Register this version of ``name`` (``building`` unless it already exists)."""
    spec = _spec(settings, name)
    if name == "visual":
        # Its vectors are the vision stage's (gpu): a new vision model means re-running that
        # stage (`coldstart retry`), after which the embeddings stage fills the new version.
        raise ValueError("visual is rebuilt by re-running the vision stage, not by a backfill")
    with session_scope(settings.effective_database_url) as session:
        space = _space(session, spec)
        return Backfill(name, spec.version, space.status, vectors.count_lacking(session, space))


def lacking(settings: Settings, name: str, version: str, batch: int) -> list[list[int]]:
    """The titles still lacking a vector in ``name@version``, in batches."""
    spec = _spec(settings, name, version)
    out: list[list[int]] = []
    after = 0
    with session_scope(settings.effective_database_url) as session:
        space = _space(session, spec)
        if space is None:
            raise LookupError(f"{name}@{version} is not registered")
        while ids := vectors.titles_lacking(session, space, after_id=after, limit=batch):
            out.append(ids)
            after = ids[-1]
    return out


def embed_batch(
    settings: Settings, name: str, version: str, title_ids: list[int], pause_s: float = 0.0
) -> int:
    """Embed the titles of one batch that still lack a vector; returns how many were
    embedded now. ``pause_s`` between titles throttles the load on a serving database."""
    spec = _spec(settings, name, version)
    specs = emb.space_specs(settings)
    db = settings.effective_database_url
    derived = derived_store(settings)
    done = 0
    for title_id in title_ids:
        with session_scope(db) as session:
            space = vectors.get_space(session, spec.name, spec.version)
            if space is not None and vectors.is_done(session, title_id, space):
                continue
        src = emb.load_sources(emb.TitleRef(db, title_id, derived), specs["visual"].model)
        writes, _ = emb.embed_title(db, specs, src, title_id, (name,))
        with session_scope(db) as session:
            for out, inputs in writes:
                space = emb.register(session, out.spec, SpaceStatus.BUILDING)
                if not vectors.is_done(session, title_id, space):
                    emb.save(session, title_id, out, inputs)
        done += 1
        if pause_s:
            time.sleep(pause_s)
    try_flip(settings, name, version)
    return done


def try_flip(settings: Settings, name: str, version: str) -> bool:
    """Activate ``name@version`` if every title has a vector (or an absence) in it."""
    with session_scope(settings.effective_database_url) as session:
        space = vectors.get_space(session, name, version)
        if space is None:
            return False
        space = vectors.lock_space(session, space)
        if space.status == SpaceStatus.ACTIVE:
            return True
        if space.status != SpaceStatus.BUILDING or vectors.count_lacking(session, space):
            return False
        vectors.activate_space(session, name, version)
        return True


def run_local(settings: Settings, name: str, batch: int = 100, pause_s: float = 0.0) -> Backfill:
    """The whole backfill in this process (no broker): every batch, then the flip."""
    info = start(settings, name)
    for ids in lacking(settings, name, info.version, batch):
        embed_batch(settings, name, info.version, ids, pause_s)
    try_flip(settings, name, info.version)
    return start(settings, name)


def enqueue(settings: Settings, name: str, batch: int = 100, pause_s: float = 0.0) -> int:
    """Send one Celery task per batch of lacking titles; returns how many were sent."""
    from workers.celery_app import app_for

    info = start(settings, name)
    batches = lacking(settings, name, info.version, batch)
    client = app_for(settings)
    for ids in batches:
        client.send_task(
            "coldstart.backfill_batch", args=[name, info.version, ids, pause_s], queue="cpu"
        )
    return len(batches)
