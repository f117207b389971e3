"""The title page's "re-run selected stages" refuses what it cannot do, creating nothing: a
locked title, an unknown or empty stage list, a run still in progress. (The accepted path,
a new attempt that recomputes the chosen stages, is in test_admin_browser.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from storage import migrate, review, users
from storage import repository as repo
from storage.db import dispose_engines, session_scope
from storage.models import AnalysisRun, AuditEntry, RunStatus
from tests.web.test_admin_auth import PASSWORD, _csrf, _login
from web.app import create_app
from web.auth import hash_password
from workers.settings import Settings


@pytest.fixture
def editor_client(tmp_path: Path):  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp_path / "var")
    migrate.upgrade(settings.effective_database_url)
    with session_scope(settings.effective_database_url) as s:
        users.create_user(s, email="ed@example.com", name="Ed", role="editor",
                          password_hash=hash_password(PASSWORD))  # fmt: skip
        title, _ = repo.get_or_create_title(
            s, sha256="c" * 64, size_bytes=1, name="t.mp4", source_uri="t.mp4", source_key="t"
        )
        run = repo.create_run(s, title)
        repo.finish_run(s, run, RunStatus.SUCCEEDED)
        ids = title.id, run.id
    client = TestClient(create_app(settings))
    assert _login(client, "ed@example.com").status_code == 303
    yield client, settings, ids
    dispose_engines()


def _rerun(client: TestClient, title_id: int, stages: list[str]) -> int:
    token = _csrf(client.get(f"/admin/titles/{title_id}").text)
    r = client.post(
        f"/admin/titles/{title_id}/rerun",
        data={"csrf_token": token, "stages": stages},
        follow_redirects=False,
    )
    return r.status_code


def _nothing_created(settings: Settings) -> None:
    with session_scope(settings.effective_database_url) as s:
        assert s.query(AnalysisRun).count() == 1
        assert s.query(AuditEntry).filter_by(action="title.rerun").count() == 0


def test_unknown_or_no_stages_are_refused(editor_client) -> None:  # type: ignore[no-untyped-def]
    client, settings, (title_id, _) = editor_client
    assert _rerun(client, title_id, ["nope"]) == 409
    assert _rerun(client, title_id, ["tags", "../shots"]) == 409
    assert _rerun(client, title_id, []) == 409
    _nothing_created(settings)


def test_a_locked_title_is_not_rerun(editor_client) -> None:  # type: ignore[no-untyped-def]
    client, settings, (title_id, _) = editor_client
    with session_scope(settings.effective_database_url) as s:
        review.set_lock(s, repo.get_title(s, title_id), locked=True, actor=review.Actor("x@y"))
    assert _rerun(client, title_id, ["tags"]) == 409
    _nothing_created(settings)


def test_a_run_in_progress_is_not_doubled(editor_client) -> None:  # type: ignore[no-untyped-def]
    client, settings, (title_id, run_id) = editor_client
    with session_scope(settings.effective_database_url) as s:
        repo.get_run(s, run_id).status = RunStatus.RUNNING
    assert _rerun(client, title_id, ["tags"]) == 409
    _nothing_created(settings)
