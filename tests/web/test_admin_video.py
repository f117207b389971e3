"""The title page's player source, ``/admin/titles/{id}/video``: byte ranges from a local
store, a presigned redirect on S3 (moto), a login for either, and an S3 endpoint that never
answers, with the default client settings, turned into a prompt 503 rather than a request
held for minio's 5-minute waits (which ran the admin view out of threads)."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from storage import migrate, users
from storage import repository as repo
from storage.db import dispose_engines, session_scope
from storage.objects import put_file
from tests.conftest import S3_KEY, S3_SECRET, MotoServer
from tests.netfaults import black_hole
from tests.web.test_admin_auth import PASSWORD, _login
from web.app import create_app
from web.auth import hash_password
from workers.errors import is_transient
from workers.services import incoming_store, object_uri, s3_store
from workers.settings import Settings

VIDEO = bytes(range(256)) * 64  # 16 KiB standing in for a source file


def _client(settings: Settings, source_uri: str) -> tuple[TestClient, int]:
    migrate.upgrade(settings.effective_database_url)
    with session_scope(settings.effective_database_url) as s:
        users.create_user(s, email="v@example.com", name="V", role="viewer",
                          password_hash=hash_password(PASSWORD))  # fmt: skip
        title, _ = repo.get_or_create_title(
            s, sha256="d" * 64, size_bytes=len(VIDEO), name="a.mp4",
            source_uri=source_uri, source_key="a.mp4",
        )  # fmt: skip
        title_id = title.id
    return TestClient(create_app(settings)), title_id


def _stored(settings: Settings, tmp_path: Path) -> str:
    src = tmp_path / "a.mp4"
    src.write_bytes(VIDEO)
    put_file(incoming_store(settings), "up/a.mp4", src, content_type="video/mp4")
    return object_uri(settings, settings.incoming_bucket, "up/a.mp4")


def test_local_source_answers_byte_ranges_and_needs_a_login(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "var")
    client, title_id = _client(settings, _stored(settings, tmp_path))
    try:
        anonymous = client.get(f"/admin/titles/{title_id}/video", follow_redirects=False)
        assert anonymous.status_code in (302, 303, 401)
        assert _login(client, "v@example.com").status_code == 303
        whole = client.get(f"/admin/titles/{title_id}/video")
        assert whole.status_code == 200 and whole.content == VIDEO
        assert whole.headers["content-type"] == "video/mp4"
        part = client.get(f"/admin/titles/{title_id}/video", headers={"Range": "bytes=100-299"})
        assert part.status_code == 206 and part.content == VIDEO[100:300]
        assert client.get("/admin/titles/999999/video").status_code == 404
    finally:
        dispose_engines()


def test_missing_local_source_is_404(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "var")
    uri = object_uri(settings, settings.incoming_bucket, "up/gone.mp4")
    client, title_id = _client(settings, uri)
    try:
        assert _login(client, "v@example.com").status_code == 303
        r = client.get(f"/admin/titles/{title_id}/video")
        assert r.status_code == 404 and "not in the store" in r.text
    finally:
        dispose_engines()


def test_s3_source_redirects_to_a_presigned_url_that_serves_it(
    tmp_path: Path, s3_server: MotoServer
) -> None:
    settings = Settings(
        data_dir=tmp_path / "var", object_store="s3", s3_endpoint=s3_server.endpoint,
        s3_access_key=S3_KEY, s3_secret_key=S3_SECRET,
        incoming_bucket=f"in-{uuid.uuid4().hex[:12]}",
    )  # fmt: skip
    client, title_id = _client(settings, _stored(settings, tmp_path))
    try:
        assert _login(client, "v@example.com").status_code == 303
        r = client.get(f"/admin/titles/{title_id}/video", follow_redirects=False)
        assert r.status_code == 307
        url = r.headers["location"]
        assert url.startswith(f"http://{s3_server.endpoint}/") and "X-Amz-Signature" in url
        assert httpx.get(url).content == VIDEO  # the browser fetches from S3 directly
    finally:
        dispose_engines()


def test_unreachable_s3_with_default_settings_is_a_prompt_503(tmp_path: Path) -> None:
    """Default timeouts (connect 5 s, 2 client retries): the region lookup that presigning
    needs fails as transient within seconds, and the player gets 503 with Retry-After."""
    with black_hole() as endpoint:
        settings = Settings(data_dir=tmp_path / "var", object_store="s3", s3_endpoint=endpoint)
        client, title_id = _client(settings, f"s3://incoming/{'up/a.mp4'}")
        try:
            assert _login(client, "v@example.com").status_code == 303
            r = client.get(f"/admin/titles/{title_id}/video", follow_redirects=False)
            assert r.status_code == 503, r.text
            assert "unreachable" in r.text and r.headers["retry-after"] == "30"
        finally:
            dispose_engines()


def test_a_bucket_name_s3_refuses_is_404_without_a_call(tmp_path: Path) -> None:
    """'in' is too short for S3: refused before any request (the endpoint would hang)."""
    with black_hole() as endpoint:
        settings = Settings(data_dir=tmp_path / "var", object_store="s3",
                            s3_endpoint=endpoint)  # fmt: skip
        client, title_id = _client(settings, "s3://in/up/a.mp4")
        try:
            assert _login(client, "v@example.com").status_code == 303
            r = client.get(f"/admin/titles/{title_id}/video", follow_redirects=False)
            assert r.status_code == 404 and "not in an object store" in r.text
        finally:
            dispose_engines()


def test_workers_see_an_unreachable_s3_as_transient_with_default_settings(
    tmp_path: Path,
) -> None:
    """A stage reading from a dead S3 gets a retryable error, not a hang into its time limit
    (which the fleet records as a permanent failure)."""
    with black_hole() as endpoint:
        settings = Settings(data_dir=tmp_path / "var", object_store="s3", s3_endpoint=endpoint)
        with pytest.raises(Exception) as caught:
            s3_store(settings, "incoming")
        assert is_transient(caught.value), repr(caught.value)
