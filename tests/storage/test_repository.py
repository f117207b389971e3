"""Repository functions on SQLite and PostgreSQL over real connections."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from storage import repository as repo
from storage.db import engine_for, session_scope
from storage.models import RunStatus, Shot, StageResult, Title, TitleStatus


def _title(session, sha: str = "a" * 64, uri: str = "s3://in/a.mp4") -> tuple[Title, bool]:  # type: ignore[no-untyped-def]
    return repo.get_or_create_title(
        session, sha256=sha, size_bytes=10, name="a.mp4", source_uri=uri, source_key="a.mp4"
    )


def test_same_content_is_one_title_with_every_source(db_url: str) -> None:
    with session_scope(db_url) as s:
        first, created = _title(s)
        assert created
    with session_scope(db_url) as s:
        again, created = _title(s, uri="s3://in/copy-of-a.mp4")
        assert not created and again.id == first.id
        repo.add_source(s, again, "s3://in/copy-of-a.mp4")  # announced twice: still one row
    with session_scope(db_url) as s:
        title = repo.get_title(s, first.id)
        assert title is not None
        assert sorted(src.uri for src in title.sources) == [
            "s3://in/a.mp4",
            "s3://in/copy-of-a.mp4",
        ]
        assert repo.title_id_for_source(s, "s3://in/copy-of-a.mp4") == first.id
        assert repo.find_title(s, "a" * 12).id == first.id  # sha prefix lookup


def test_run_lifecycle_and_stage_records(db_url: str) -> None:
    with session_scope(db_url) as s:
        title, _ = _title(s)
        run = repo.create_run(s, title)
        repo.start_run(s, run, ["probe", "shots"])
        repo.update_stage(s, run, "probe", status="succeeded", duration_s=0.1)
        run_id = run.id
    with session_scope(db_url) as s:
        run = repo.get_run(s, run_id)
        assert run.stages["probe"]["status"] == "succeeded"
        assert run.stages["shots"]["status"] == "pending"
        assert run.title.status == TitleStatus.PROCESSING
        repo.finish_run(s, run, RunStatus.FAILED, error="probe: empty file", error_code="empty")
    with session_scope(db_url) as s:
        run = repo.get_run(s, run_id)
        assert (run.status, run.error, run.title.status) == (
            "failed",
            "probe: empty file",
            "failed",
        )
        assert [r.id for r in repo.list_runs(s, status="failed")] == [run_id]


def test_stage_result_replaces_older_versions_and_rows_atomically(db_url: str) -> None:
    with session_scope(db_url) as s:
        title, _ = _title(s)
        tid = title.id
        repo.replace_rows(
            s,
            Shot,
            tid,
            [Shot(title_id=tid, idx=0, start_frame=0, end_frame=10, start_s=0, end_s=0.4)],
        )
        repo.record_stage_result(
            s,
            title_id=tid,
            run_id=None,
            stage="shots",
            cache_key="k1",
            model_version="v1",
            summary={},
        )
    # A failing write leaves the earlier result untouched (one transaction).
    with pytest.raises(RuntimeError), session_scope(db_url) as s:
        repo.replace_rows(s, Shot, tid, [])
        repo.record_stage_result(
            s,
            title_id=tid,
            run_id=None,
            stage="shots",
            cache_key="k2",
            model_version="v2",
            summary={},
        )
        raise RuntimeError("crash mid-stage")
    with session_scope(db_url) as s:
        assert repo.count_rows(s, Shot, tid) == 1
        assert repo.find_stage_result(s, tid, "shots", "k1") is not None
    with session_scope(db_url) as s:
        repo.record_stage_result(
            s,
            title_id=tid,
            run_id=None,
            stage="shots",
            cache_key="k2",
            model_version="v2",
            summary={},
        )
    with session_scope(db_url) as s:
        keys = [r.cache_key for r in s.query(StageResult).filter_by(title_id=tid)]
        assert keys == ["k2"]


def test_foreign_keys_are_enforced(db_url: str) -> None:
    with pytest.raises(IntegrityError), session_scope(db_url) as s:
        s.add(Shot(title_id=999999, idx=0, start_frame=0, end_frame=1, start_s=0, end_s=1))
        s.flush()


def test_sqlite_runs_in_wal_mode(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from storage import migrate

    url = f"sqlite:///{tmp_path / 'x.db'}"
    migrate.upgrade(url)
    with engine_for(url).connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_audit_and_outbox(db_url: str) -> None:
    with session_scope(db_url) as s:
        title, _ = _title(s)
        entry = repo.audit(
            s,
            actor="editor@example.com",
            action="tag.approve",
            entity_type="tag",
            entity_id=1,
            title_id=title.id,
            before={"state": "pending"},
            after={"state": "approved"},
        )
        event = repo.emit_event(s, "title.enriched", {"title_id": title.id}, title_id=title.id)
        assert entry.id and event.id and event.published_at is None
