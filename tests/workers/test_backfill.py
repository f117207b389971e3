"""Backfill of an embedding space without downtime: a new version builds beside the active
one, flips atomically once every title has a vector, and resumes after a crash with no title
embedded twice and none skipped. The fleet test kills a real Celery worker with ``kill -9``
mid-backfill, on PostgreSQL and Redis."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from storage import migrate, vectors
from storage.db import session_scope
from storage.models import Embedding, SpaceStatus, Title
from tests.pipeline.conftest import fleet_factory  # noqa: F401  (fixture)
from workers import backfill
from workers.settings import Settings

OLD = "0-old"


def _catalogue(db: str, n: int) -> list[int]:
    """``n`` titles, each with a vector in the active old version of ``style``."""
    with session_scope(db) as s:
        titles = [
            Title(
                name=f"t{i}",
                source_uri=f"file:///t{i}.mp4",
                source_key=f"t{i}.mp4",
                content_sha256=uuid.uuid4().hex + uuid.uuid4().hex,
                size_bytes=1,
            )
            for i in range(n)
        ]
        s.add_all(titles)
        s.flush()
        old = vectors.register_space(
            s, name="style", version=OLD, dim=4, model="old", status=SpaceStatus.ACTIVE
        )
        for t in titles:
            vectors.save_vectors(s, t.id, old, [vectors.VectorRow("title", -1, np.ones(4))])
        return [t.id for t in titles]


def _title_rows(db: str, version: str) -> dict[int, list]:
    with session_scope(db) as s:
        rows = s.execute(
            select(Embedding.title_id, Embedding.created_at).where(
                Embedding.space == "style",
                Embedding.model_version == version,
                Embedding.scope == "title",
            )
        ).all()
    out: dict[int, list] = {}
    for tid, at in rows:
        out.setdefault(tid, []).append(at)
    return out


def _status(db: str, version: str) -> tuple[str, str]:
    with session_scope(db) as s:
        return vectors.get_space(s, "style", version).status, vectors.active_space(
            s, "style"
        ).version


@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
def test_backfill_resumes_in_process_and_flips_once_complete(db_url: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "var", database_url=db_url)
    ids = _catalogue(db_url, 7)
    info = backfill.start(settings, "style")
    assert info.status == SpaceStatus.BUILDING and info.lacking == 7
    backfill.embed_batch(settings, "style", info.version, ids[:3])  # then "crash"
    assert _status(db_url, info.version) == (SpaceStatus.BUILDING, OLD)  # old keeps serving
    before = _title_rows(db_url, info.version)
    done = backfill.run_local(settings, "style", batch=2)
    assert done.status == SpaceStatus.ACTIVE and done.lacking == 0
    rows = _title_rows(db_url, info.version)
    assert sorted(rows) == ids and all(len(v) == 1 for v in rows.values())
    assert all(rows[t] == before[t] for t in before)  # not embedded a second time
    with session_scope(db_url) as s:
        assert vectors.get_space(s, "style", OLD).status == SpaceStatus.RETIRED
        loaded = dict(vectors.iter_title_vectors(s, vectors.active_space(s, "style")))
    assert sorted(loaded) == ids and all(abs(np.linalg.norm(v) - 1) < 1e-5 for v in loaded.values())
    with session_scope(db_url) as s:
        got_ids, matrix = vectors.load_title_matrix(s, vectors.active_space(s, "style"), batch=3)
    assert got_ids.tolist() == ids
    assert np.array_equal(matrix, np.stack([loaded[t] for t in ids]))


def test_backfill_flips_atomically_and_resumes_after_kill9_of_a_celery_worker(
    fleet_factory,  # noqa: F811
) -> None:
    fleet = fleet_factory()
    db = fleet.db
    migrate.upgrade(db)
    ids = _catalogue(db, 60)
    worker = fleet.start_worker(queues="cpu", concurrency=1)
    sent = backfill.enqueue(fleet.settings, "style", batch=5, pause_s=0.1)
    assert sent == 12
    version = backfill.start(fleet.settings, "style").version
    deadline = time.monotonic() + 60
    while len(_title_rows(db, version)) < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    worker.kill9()
    before = _title_rows(db, version)
    assert 5 <= len(before) < 60, len(before)
    assert _status(db, version) == (SpaceStatus.BUILDING, OLD)  # the old one still serves

    # Resume as an operator does, by running the backfill again: it sends the batches of
    # the titles still lacking (the killed batch's own message may come back later too:
    # its done titles are skipped).
    assert backfill.enqueue(fleet.settings, "style", batch=5, pause_s=0.0) >= 1
    fleet.start_worker(queues="cpu", concurrency=1)
    deadline = time.monotonic() + 60
    while _status(db, version)[0] != SpaceStatus.ACTIVE and time.monotonic() < deadline:
        time.sleep(0.3)
    assert _status(db, version) == (SpaceStatus.ACTIVE, version)
    rows = _title_rows(db, version)
    assert sorted(rows) == ids  # none skipped
    assert all(len(v) == 1 for v in rows.values())  # none twice
    assert all(rows[t] == before[t] for t in before)  # none embedded again after the crash
    with session_scope(db) as s:
        assert vectors.get_space(s, "style", OLD).status == SpaceStatus.RETIRED
        active = s.scalar(
            select(func.count()).where(
                vectors.EmbeddingSpace.name == "style",
                vectors.EmbeddingSpace.status == SpaceStatus.ACTIVE,
            )
        )
    assert active == 1
