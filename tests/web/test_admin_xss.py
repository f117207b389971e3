"""Payloads in a title name, an external id, a transcript line and a tag label render inert
in a real browser (Debian chromium, headless): no dialog opens, and the text shows as text.
Then an editor approves the tag through the page, and the decision and its audit entry land."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage import migrate, review, users
from storage import repository as repo
from storage.db import session_scope
from storage.models import AuditEntry, TagDecision
from tests.web.browser import chromium_page, live_server, sign_in
from web.auth import hash_password
from workers.settings import Settings

pytestmark = pytest.mark.skipif(not shutil.which("chromium"), reason="needs /usr/bin/chromium")
PAYLOAD = '<img src=x onerror="alert(1)"><script>alert(2)</script>'


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Settings, int]]:
    settings = Settings(data_dir=tmp_path / "var")
    db = settings.effective_database_url
    migrate.upgrade(db)
    with session_scope(db) as s:
        users.create_user(s, email="ed@example.com", name="Ed", role="editor",
                          password_hash=hash_password("correct horse"))  # fmt: skip
        title, _ = repo.get_or_create_title(
            s, sha256="a" * 64, size_bytes=1, name=f"Film {PAYLOAD}",
            source_uri="local://incoming/film.mp4", source_key="film.mp4",
            external_id=f"ext-{PAYLOAD}",
        )  # fmt: skip
        repo.save_transcript(
            s, title.id, [{"start": 1.0, "end": 2.0, "text": f"hello {PAYLOAD}"}], None
        )
        review.save_proposals(
            s, title.id,
            [{"facet": "mood", "label": f"calm{PAYLOAD}", "score": 0.8,
              "evidence": [{"start_s": 1.0, "end_s": 2.0, "signal": "audio", "score": 0.8,
                            "quote": PAYLOAD}]}],
            run_id=None, model_version="t", taxonomy_version="t", taxonomy_fingerprint="t",
        )  # fmt: skip
        title_id = title.id
    with live_server(settings) as base:
        yield base, settings, title_id


def test_payloads_render_inert_and_an_approval_is_audited(
    server: tuple[str, Settings, int], tmp_path: Path
) -> None:
    base, settings, title_id = server
    dialogs: list[str] = []
    with chromium_page(dialogs) as page:
        sign_in(page, base, "ed@example.com", "correct horse")
        assert PAYLOAD in page.inner_text("table.queue")
        page.goto(f"{base}/admin/titles/{title_id}")
        assert page.inner_text("#title-name") == f"Film {PAYLOAD}"
        assert page.inner_text("#external-id") == f"ext-{PAYLOAD}"
        page.wait_for_selector("li.line")  # the lazily loaded transcript section
        assert PAYLOAD in page.inner_text("#transcript")
        tag = page.locator("article.tag").first
        assert PAYLOAD in tag.inner_text()
        tag.locator("button.approve").click()
        page.wait_for_selector("article.tag.state-approved")
        page.screenshot(path=str(tmp_path / "admin-xss.png"), full_page=True)
    assert dialogs == []
    with session_scope(settings.effective_database_url) as s:
        decision = s.query(TagDecision).one()
        assert (decision.label, decision.action) == (f"calm{PAYLOAD}", "approve")
        assert decision.decided_by_name == "ed@example.com"
        entry = s.query(AuditEntry).filter_by(action="tag.approve").one()
        assert entry.actor == "ed@example.com" and entry.title_id == title_id
