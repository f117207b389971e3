"""Admin view auth: every write route (enumerated from the app's OpenAPI paths, so a new
route cannot escape) refuses anonymous and viewer requests, forms need the CSRF token,
sign-in is rate-limited, and the login never redirects off-site."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from storage import migrate, users
from storage.db import dispose_engines, session_scope
from storage.models import AuditEntry
from web.app import create_app
from web.auth import hash_password
from workers.settings import Settings

PASSWORD = "correct horse battery"
WRITE = {"post", "put", "patch", "delete"}


@pytest.fixture
def app_settings(tmp_path: Path) -> Iterator[Settings]:
    settings = Settings(data_dir=tmp_path / "var")
    migrate.upgrade(settings.effective_database_url)
    with session_scope(settings.effective_database_url) as s:
        for role in ("viewer", "editor"):
            users.create_user(
                s, email=f"{role}@example.com", name=role, role=role,
                password_hash=hash_password(PASSWORD),
            )  # fmt: skip
    yield settings
    dispose_engines()


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "page has no CSRF field"
    return match.group(1)


def _login(client: TestClient, email: str, password: str = PASSWORD, next_: str = "/admin/"):
    token = _csrf(client.get("/admin/login").text)
    return client.post(
        "/admin/login",
        data={"email": email, "password": password, "csrf_token": token, "next": next_},
        follow_redirects=False,
    )


def _admin_writes(client: TestClient) -> list[tuple[str, str]]:
    paths = client.get("/openapi.json").json()["paths"]
    out = [
        (method.upper(), path.replace("{title_id}", "1").replace("{run_id}", "1"))
        for path, ops in paths.items()
        if path.startswith("/admin")
        for method in ops
        if method in WRITE
    ]
    return [w for w in out if w[1] != "/admin/login"]


def test_every_write_route_refuses_anonymous_and_viewer(app_settings: Settings) -> None:
    client = TestClient(create_app(app_settings))
    writes = _admin_writes(client)
    assert len(writes) >= 6, writes  # tags, rating, lock, rerun, retry, logout at least
    for method, path in writes:
        r = client.request(method, path, data={"csrf_token": "x"}, follow_redirects=False)
        assert r.status_code == 401, (method, path, r.status_code)
    assert _login(client, "viewer@example.com").status_code == 303
    token = _csrf(client.get("/admin/").text)
    for method, path in writes:
        if path == "/admin/logout":
            continue  # a viewer may sign out
        r = client.request(method, path, data={"csrf_token": token}, follow_redirects=False)
        assert r.status_code == 403, (method, path, r.status_code)
    with session_scope(app_settings.effective_database_url) as s:
        assert s.query(AuditEntry).count() == 0


def test_every_page_needs_a_session(app_settings: Settings) -> None:
    client = TestClient(create_app(app_settings))
    paths = client.get("/openapi.json").json()["paths"]
    for path, ops in paths.items():
        if not path.startswith("/admin") or "get" not in ops or path == "/admin/login":
            continue
        url = path.replace("{title_id}", "1").replace("{run_id}", "1").replace("{shot}", "0")
        r = client.get(url, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/admin/login"), url


def test_a_form_without_its_csrf_token_is_refused(app_settings: Settings) -> None:
    client = TestClient(create_app(app_settings))
    assert _login(client, "editor@example.com").status_code == 303
    r = client.post("/admin/titles/1/lock", data={"locked": "1"}, follow_redirects=False)
    assert r.status_code == 403
    r = client.post("/admin/titles/1/lock", data={"locked": "1", "csrf_token": "forged"})
    assert r.status_code == 403
    # The sign-in form itself needs it too.
    fresh = TestClient(create_app(app_settings))
    r = fresh.post("/admin/login", data={"email": "editor@example.com", "password": PASSWORD})
    assert r.status_code == 403


def test_cookie_flags_and_no_open_redirect(app_settings: Settings) -> None:
    client = TestClient(create_app(app_settings))
    for evil in ("https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:x"):
        client.cookies.clear()
        r = _login(client, "editor@example.com", next_=evil)
        assert r.status_code == 303 and r.headers["location"] == "/admin/", evil
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
    secure = TestClient(create_app(app_settings), base_url="https://testserver")
    assert "secure" in _login(secure, "editor@example.com").headers["set-cookie"].lower()
    assert (
        _login(client, "editor@example.com", next_="/admin/runs/1").headers["location"]
        == "/admin/runs/1"
    )


def test_sign_in_is_rate_limited_per_account(app_settings: Settings) -> None:
    client = TestClient(create_app(app_settings))
    codes = [_login(client, "editor@example.com", "wrong password").status_code for _ in range(6)]
    assert codes[:5] == [401] * 5 and codes[5] == 429
    # Even the right password waits now; another account from the same address does not.
    assert _login(client, "editor@example.com").status_code == 429
    assert _login(client, "viewer@example.com").status_code == 303


def test_errors_show_no_stack_trace(app_settings: Settings) -> None:
    client = TestClient(create_app(app_settings), raise_server_exceptions=False)
    assert _login(client, "editor@example.com").status_code == 303
    r = client.get("/admin/titles/99999")
    assert r.status_code == 404 and "Traceback" not in r.text
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "DENY" and r.headers["cache-control"] == "no-store"
