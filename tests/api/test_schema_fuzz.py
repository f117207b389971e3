"""schemathesis against the live OpenAPI schema: the real app served by uvicorn on loopback
over a seeded PostgreSQL catalogue, every operation fuzzed with valid credentials (an API
token with the read and export scopes; the webhook's bearer token for ``/ingest``; a
signed-in editor session with its CSRF token for ``/admin``).

Checks: no 5xx anywhere; on the JSON routes (API, webhook, ops) every response also conforms
to the schema: a documented status code, content type, headers and body. The admin view's
HTML pages are checked for server errors only (their statuses are pinned by tests/web).
Hypothesis runs derandomized, so the same cases run every time and a failure reproduces.

The operations are driven one by one from the schema loaded over HTTP rather than through
``schemathesis.pytest.from_fixture``: its lazy loader reads ``request.node._nodeid``, which
pytest 9.2 no longer has.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from storage import catalog, migrate, users
from storage.db import session_scope
from tests.api.seed import seed
from tests.conftest import serve_app
from web.api.v1.services import Recommender
from web.app import create_app
from web.auth import hash_password
from workers.settings import Settings

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

WEBHOOK_TOKEN = "fuzz-hook-secret"
MAX_EXAMPLES = 25  # per operation and mode: minutes in all on 2 cores
API_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@dataclass
class LiveApi:
    url: str
    api_token: str  # read and export scopes
    editor: tuple[str, str]  # email, password of an admin view account

    def headers_for(self, operation) -> dict[str, str]:  # type: ignore[no-untyped-def]
        token = WEBHOOK_TOKEN if operation.path.startswith("/ingest") else self.api_token
        return {"Authorization": f"Bearer {token}"}

    def signed_in(self) -> tuple[requests.Session, str]:
        """A browser-like session of the editor, and its CSRF token."""
        browser = requests.Session()
        email, password = self.editor
        form = browser.get(f"{self.url}/admin/login", timeout=30).text
        r = browser.post(
            f"{self.url}/admin/login",
            data={"email": email, "password": password, "csrf_token": csrf_of(form)},
            allow_redirects=False,
            timeout=30,
        )
        assert r.status_code == 303, r.text
        return browser, csrf_of(browser.get(f"{self.url}/admin/", timeout=30).text)


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "page has no CSRF field"
    return match.group(1)


@pytest.fixture
def live_api(tmp_path, pg_url, mood_matcher) -> Iterator[LiveApi]:
    """The app served over a seeded catalogue, with an API token and an editor account."""
    settings = Settings(
        data_dir=tmp_path / "var",
        database_url=pg_url,
        webhook_token=WEBHOOK_TOKEN,
        # Fuzzed keys outside this prefix are ignored; none starts a run of a missing object.
        incoming_prefix="uploads/",
    )
    migrate.upgrade(pg_url)
    seed(pg_url)
    editor = ("fuzz-editor@example.com", "fuzz-editor-password")
    with session_scope(pg_url) as session:
        # A high limit: this test is about schemas, the rate limit has its own test.
        token, _ = catalog.create_token(
            session, "fuzz", ["read", "export"], rate_limit_per_min=1_000_000
        )
        users.create_user(
            session,
            email=editor[0],
            name="fuzz",
            role="editor",
            password_hash=hash_password(editor[1]),
        )
    app = create_app(settings)
    app.state.recommender = Recommender(settings, matcher=mood_matcher, poll_s=0.2)
    with serve_app(app) as url:
        yield LiveApi(url, token, editor)
    app.state.recommender.close()


def fuzz_operation(operation, mode: GenerationMode, checks, **call) -> str:  # type: ignore[no-untyped-def]
    """Run one operation's generated cases; the failure report, or "" when all pass."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,  # the same cases every run: a failure reproduces
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case) -> None:  # type: ignore[no-untyped-def]
        case.call_and_validate(checks=checks, timeout=30, **call)

    try:
        run()
    except Unsatisfiable:  # nothing to make invalid (no parameters): negative mode only
        assert mode is GenerationMode.NEGATIVE, operation.label
    except (FailureGroup, Exception) as err:  # the checks' report, or a crash of the client
        return f"{mode.value} {operation.label}: {err}"
    return ""


MODES = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]


@pytest.mark.parametrize("mode", MODES, ids=[m.value for m in MODES])
def test_every_operation_conforms_to_the_live_schema(live_api, mode) -> None:  # type: ignore[no-untyped-def]
    """Every operation of the schema served by the running app, with valid data (positive)
    and invalid data (negative).

    The JSON API, the ingestion webhook and the ops routes: never a 5xx, always a documented
    status with the documented content type and body. The admin view's pages and forms (HTML
    for a browser, signed in as an editor with the session's CSRF token): never a 5xx.
    """
    schema = schemathesis.openapi.from_url(f"{live_api.url}/openapi.json", wait_for_schema=10.0)
    operations = [result.ok() for result in schema.get_all_operations()]
    labels = {op.label for op in operations}
    assert {
        "POST /ingest/s3-events",
        "POST /api/v1/recommendations",
        "POST /api/v1/search",
    } <= labels
    assert len(labels) >= 25, labels
    failures = []
    for op in operations:
        call = {"base_url": live_api.url}
        if op.path.startswith("/admin"):
            browser, csrf = live_api.signed_in()  # afresh: a fuzzed logout ends the last one
            call.update(session=browser, headers={"X-CSRF-Token": csrf})
            failures.append(fuzz_operation(op, mode, [not_a_server_error], **call))
        else:
            call.update(headers=live_api.headers_for(op))
            failures.append(fuzz_operation(op, mode, API_CHECKS, **call))
    report = "\n\n".join(f for f in failures if f)
    assert not report, report


def test_non_ascii_credentials_are_refused_not_crashed(live_api) -> None:  # type: ignore[no-untyped-def]
    """A header may carry any latin-1 byte; hmac.compare_digest refuses non-ASCII str."""
    odd = {"Authorization": "Bearer caf\xe9".encode("latin-1")}
    url = live_api.url
    assert requests.get(f"{url}/api/v1/titles", headers=odd, timeout=30).status_code == 401
    r = requests.post(f"{url}/ingest/s3-events", json={"Records": []}, headers=odd, timeout=30)
    assert r.status_code == 401
    browser, _csrf = live_api.signed_in()
    r = browser.post(
        f"{url}/admin/titles/1/lock",
        data={"locked": "1"},
        headers={"X-CSRF-Token": "caf\xe9".encode("latin-1")},
        timeout=30,
    )
    assert r.status_code == 403
