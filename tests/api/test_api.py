"""/api/v1 over a real (SQLite) database seeded through the storage functions: the guardrail
on every endpoint, tokens and scopes, keyset pages under concurrent updates, the change feed
and the incremental index."""

from __future__ import annotations

import json
import threading
import time

import pytest

from storage import catalog, review
from storage import repository as repo
from storage.db import session_scope
from tests.api.seed import ADMIN, TITLES
from web.api.v1.services import wait_for

TV_PG = {"system": "us-tv", "rating": "TV-PG"}
ALLOWED_UNDER_TV_PG = {"haunted-a", "haunted-b", "sunny"}


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def names(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [r["name"] for r in response.json()["results"]]


@pytest.mark.parametrize("ceiling", [TV_PG, {"max_age": 10}], ids=["TV-PG", "age-10"])
def test_guardrail_on_every_endpoint(client, seeded, tokens, ceiling) -> None:
    h = auth(tokens["read"])
    rec = client.post(
        "/api/v1/recommendations",
        json={"liked_title_ids": [seeded["haunted-a"]], "k": 10, "ceiling": ceiling},
        headers=h,
    )
    got = set(names(rec))
    assert got == ALLOWED_UNDER_TV_PG - {"haunted-a"}  # every eligible one, nothing else
    search = client.post(
        "/api/v1/search", json={"query": "something spooky", "k": 10, "ceiling": ceiling}, headers=h
    )
    assert set(names(search)) == ALLOWED_UNDER_TV_PG
    params = {
        "k": 10,
        **({"max_rating": "TV-PG", "system": "us-tv"} if "rating" in ceiling else ceiling),
    }
    sim = client.get(f"/api/v1/titles/{seeded['haunted-a']}/similar", params=params, headers=h)
    assert set(names(sim)) == ALLOWED_UNDER_TV_PG - {"haunted-a"}
    doc = client.get(f"/api/v1/titles/{seeded['haunted-ma']}", params=params, headers=h)
    assert doc.status_code == 404
    assert client.get(f"/api/v1/titles/{seeded['haunted-ma']}", headers=h).status_code == 200


def test_age_phrase_in_the_query_is_a_hard_ceiling(client, tokens) -> None:
    r = client.post(
        "/api/v1/search",
        json={"query": "show me something spooky but okay for a 10-year-old", "k": 3},
        headers=auth(tokens["read"]),
    )
    body = r.json()
    assert body["interpretation"]["viewer_age"] == 10
    assert [m["label"] for m in body["interpretation"]["moods"]] == ["eerie"]
    assert names(r)[:2] and set(names(r)[:2]) == {"haunted-a", "haunted-b"}  # eerie first
    assert "haunted-ma" not in names(r)


def test_k_results_when_k_are_eligible(client, seeded, tokens) -> None:
    h = auth(tokens["read"])
    for k in (1, 2, 3):
        r = client.post(
            "/api/v1/search", json={"query": "anything", "k": k, "ceiling": TV_PG}, headers=h
        )
        assert len(names(r)) == k
    r = client.post("/api/v1/search", json={"query": "under 30 minutes", "k": 10}, headers=h)
    assert set(names(r)) == {"haunted-a", "haunted-ma", "haunted-doubt", "haunted-unrated", "sunny"}


def test_recommendation_reason_and_artwork(client, seeded, tokens) -> None:
    r = client.post(
        "/api/v1/recommendations",
        json={"liked_title_ids": [seeded["haunted-a"], seeded["haunted-b"]], "k": 2},
        headers=auth(tokens["read"]),
    )
    results = r.json()["results"]
    assert {x["name"] for x in results} <= {"haunted-ma", "haunted-unrated", "haunted-doubt"}
    assert "eerie" in results[0]["shared"] and results[0]["reason"].startswith("shares: ")


def test_token_scopes_revocation_and_rate_limit(client, api_settings, tokens) -> None:
    assert client.get("/api/v1/changes").status_code == 401
    assert client.get("/api/v1/changes", headers=auth("cs_nope")).status_code == 401
    assert client.get("/api/v1/export", headers=auth(tokens["read"])).status_code == 403
    exported = client.get("/api/v1/export", headers=auth(tokens["export"]))
    assert exported.status_code == 200
    lines = [json.loads(x) for x in exported.text.splitlines()]
    assert {x["name"] for x in lines} == set(TITLES)
    with session_scope(api_settings.effective_database_url) as session:
        token = catalog.token_by_plaintext(session, tokens["read"])
        catalog.revoke_token(session, token.prefix)
    # a live grant is kept for COLDSTART_TOKEN_CACHE_S (1 s by default): refused after that
    revoked_at = time.monotonic()

    def refused() -> bool:
        return client.get("/api/v1/changes", headers=auth(tokens["read"])).status_code == 401

    assert wait_for(refused, timeout=5.0, every=0.1)
    assert time.monotonic() - revoked_at < 2.5
    codes = [
        client.get("/api/v1/changes", headers=auth(tokens["slow"])).status_code for _ in range(3)
    ]
    assert codes == [200, 200, 429]
    limited = client.get("/api/v1/changes", headers=auth(tokens["slow"]))
    assert int(limited.headers["Retry-After"]) >= 1


def test_revocation_is_immediate_without_the_grant_cache(
    client, api_settings, tokens, monkeypatch
) -> None:
    monkeypatch.setenv("COLDSTART_TOKEN_CACHE_S", "0")
    assert client.get("/api/v1/export", headers=auth(tokens["export"])).status_code == 200
    with session_scope(api_settings.effective_database_url) as session:
        token = catalog.token_by_plaintext(session, tokens["export"])
        catalog.revoke_token(session, token.prefix)
    assert client.get("/api/v1/export", headers=auth(tokens["export"])).status_code == 401


def test_keyset_pages_stay_consistent_under_concurrent_updates(
    client, api_settings, seeded, tokens
) -> None:
    """Every title is seen at least once while another thread keeps updating titles; a title
    updated during the walk shows up again later, never lost."""
    url = api_settings.effective_database_url
    stop = threading.Event()

    def churn() -> None:
        ids = list(seeded.values())
        i = 0
        while not stop.is_set():
            with session_scope(url) as session:
                repo.touch_title(session, ids[i % len(ids)])
            i += 1

    worker = threading.Thread(target=churn)
    worker.start()
    seen: list[int] = []
    cursor = None
    try:
        for _ in range(100):
            params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            page = client.get("/api/v1/titles", params=params, headers=auth(tokens["read"])).json()
            seen += [t["id"] for t in page["titles"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
    finally:
        stop.set()
        worker.join()
    assert set(seen) == set(seeded.values())
    assert (
        client.get(
            "/api/v1/titles", params={"cursor": "%%%"}, headers=auth(tokens["read"])
        ).status_code
        == 400
    )


def test_a_used_token_records_when_to_the_minute(client, api_settings, seeded, tokens) -> None:
    """`coldstart tokens list` says whether an old token is still in use before a rotation
    revokes it; written at most once a minute per token, not per request."""

    def last_used() -> dict[str, object]:
        with session_scope(api_settings.effective_database_url) as session:
            return {t.name: t.last_used_at for t in catalog.list_tokens(session)}

    assert last_used()["reader"] is None
    h = auth(tokens["read"])
    assert client.get(f"/api/v1/titles/{seeded['sunny']}/similar", headers=h).status_code == 200
    first = last_used()
    assert first["reader"] is not None and first["exporter"] is None
    time.sleep(1.2)  # past the grant cache: the grant is read from the database again
    assert client.get(f"/api/v1/titles/{seeded['sunny']}/similar", headers=h).status_code == 200
    assert last_used()["reader"] == first["reader"]  # within the minute: not rewritten


def test_editor_decisions_reach_updated_since_and_the_export(
    client, api_settings, seeded, tokens
) -> None:
    """A recommender syncing with ?updated_since= sees an editor's final rating and tag
    decision (they change no column of the title row, but the title changed)."""
    h = auth(tokens["export"])
    since = client.get("/api/v1/titles", params={"limit": 100}, headers=h).json()["titles"]
    mark = max(t["updated_at"] for t in since)

    def changed() -> list[str]:
        page = client.get("/api/v1/titles", params={"updated_since": mark}, headers=h).json()
        return [t["name"] for t in page["titles"] if t["updated_at"] > mark]

    assert changed() == []
    time.sleep(0.01)
    with session_scope(api_settings.effective_database_url) as session:
        review.record_final_rating(
            session, seeded["romance"], system="bbfc", rating="15", reason="x", actor=ADMIN
        )
    time.sleep(0.01)
    with session_scope(api_settings.effective_database_url) as session:
        review.record_decision(
            session, seeded["sunny"], facet="mood", label="joyful", action="reject", actor=ADMIN
        )
    assert changed() == ["romance", "sunny"]
    exported = client.get("/api/v1/export", params={"since": mark}, headers=h)
    rows = [json.loads(line) for line in exported.text.splitlines() if line.strip()]
    assert {r["name"] for r in rows} >= {"romance", "sunny"}


def test_changes_feed_and_incremental_index(client, api_settings, seeded, tokens) -> None:
    h = auth(tokens["read"])
    feed = client.get("/api/v1/changes", params={"after": 0, "limit": 1000}, headers=h).json()
    assert feed["events"] and feed["last_id"] == feed["events"][-1]["id"]
    # the index is loaded; an editor now rates the doubtful title finally TV-Y7
    params = {"k": 10, "max_age": 10}
    before = names(
        client.get(f"/api/v1/titles/{seeded['haunted-a']}/similar", params=params, headers=h)
    )
    assert "haunted-doubt" not in before
    with session_scope(api_settings.effective_database_url) as session:
        review.record_final_rating(
            session,
            seeded["haunted-doubt"],
            system="us-tv",
            rating="TV-Y7",
            reason="checked",
            actor=ADMIN,
        )

    def visible() -> bool:
        r = client.get(f"/api/v1/titles/{seeded['haunted-a']}/similar", params=params, headers=h)
        return "haunted-doubt" in names(r)

    assert wait_for(visible, timeout=5.0)
    after = client.get("/api/v1/changes", params={"after": feed["last_id"]}, headers=h).json()
    assert [e["topic"] for e in after["events"]] == ["title.rated"]


def test_malformed_webhook_records_are_refused_not_crashed(client) -> None:
    h = auth("hook-secret")
    r = client.post("/ingest/s3-events", json={"Records": [1]}, headers=h)
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "Records", 0]  # says which record
    r = client.post(
        "/ingest/s3-events",
        json={"Records": [{"eventName": "s3:ObjectRemoved:Delete", "s3": 5}]},
        headers=h,
    )
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "Records", 0, "s3"]
    assert client.post("/ingest/s3-events", json={}, headers=h).status_code == 422
    removed = {
        "eventName": "s3:ObjectRemoved:Delete",
        "s3": {"bucket": {"name": "incoming"}, "object": {"key": "a.mp4"}},
    }
    r = client.post("/ingest/s3-events", json={"Records": [removed]}, headers=h)
    assert r.status_code == 202 and r.json()["ignored"] == 1
