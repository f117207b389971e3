"""The API through a PostgreSQL outage, with default settings: PostgreSQL sits behind a
loopback proxy that refuses every connection for a while (a failover, as a client sees it).

While it is down, the routes served from the in-memory index (similar, recommendations,
search) keep answering for tokens seen before it, the guardrail included; routes that need
the database answer 503 with Retry-After in JSON, never a 500 or a hang; a token never seen
cannot be checked, so it gets the 503 too. Once PostgreSQL is back, everything answers again
and the change feed catches up with what was committed meanwhile."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from storage import catalog, migrate
from storage import vectors as vector_store
from storage.db import dispose_engines, session_scope
from tests.api.seed import TITLES, add_title, seed
from tests.api.test_api import ALLOWED_UNDER_TV_PG, TV_PG, auth, names
from tests.netfaults import FlakyProxy
from web.api.v1.services import Recommender, wait_for
from web.app import create_app
from workers.settings import Settings

pytestmark = pytest.mark.postgres


@pytest.fixture
def outage_client(pg_url, mood_matcher):  # type: ignore[no-untyped-def]
    migrate.upgrade(pg_url)
    seeded = seed(pg_url)
    with session_scope(pg_url) as session:
        token, _ = catalog.create_token(session, "reader", ["read"])
        never_used, _ = catalog.create_token(session, "other", ["read"])
    proxy = FlakyProxy(make_url(pg_url).port or 5432)
    via_proxy = make_url(pg_url).set(port=proxy.port).render_as_string(hide_password=False)
    settings = Settings(database_url=via_proxy)
    app = create_app(settings)
    app.state.recommender = Recommender(settings, matcher=mood_matcher)  # default polling
    try:
        with TestClient(app) as client:
            yield client, proxy, seeded, {"read": token, "unseen": never_used}, pg_url
    finally:
        app.state.recommender.close()
        proxy.stop()
        dispose_engines()


def test_memory_routes_answer_through_a_database_outage(outage_client) -> None:  # type: ignore[no-untyped-def]
    client, proxy, seeded, tokens, direct_url = outage_client
    h = auth(tokens["read"])
    similar = f"/api/v1/titles/{seeded['haunted-a']}/similar"
    under_tv_pg = {"k": 10, "max_rating": "TV-PG", "system": "us-tv"}
    before = names(client.get(similar, params=under_tv_pg, headers=h))
    assert set(before) == ALLOWED_UNDER_TV_PG - {"haunted-a"}
    assert client.get(f"/api/v1/titles/{seeded['sunny']}", headers=h).status_code == 200

    proxy.stop()  # PostgreSQL refuses every connection from here on
    time.sleep(1.5)  # past the 1 s token grant cache: a grant must now come from the database
    try:
        during = names(client.get(similar, params=under_tv_pg, headers=h))
        assert during == before  # from memory, guardrail intact
        found = client.post(
            "/api/v1/search", json={"query": "something spooky", "k": 5, "ceiling": TV_PG},
            headers=h,
        )  # fmt: skip
        assert set(names(found)) <= ALLOWED_UNDER_TV_PG and names(found)
        recs = client.post(
            "/api/v1/recommendations",
            json={"liked_title_ids": [seeded["haunted-a"]], "k": 5, "ceiling": {"max_age": 10}},
            headers=h,
        )
        assert set(names(recs)) == ALLOWED_UNDER_TV_PG - {"haunted-a"}

        title = client.get(f"/api/v1/titles/{seeded['sunny']}", headers=h)
        assert title.status_code == 503, title.text
        assert title.headers["retry-after"] and "unreachable" in title.json()["detail"]
        page = client.get("/api/v1/titles", headers=h)
        assert page.status_code == 503 and "detail" in page.json()
        unseen = client.get(similar, params={"k": 3}, headers=auth(tokens["unseen"]))
        assert unseen.status_code == 503  # cannot be checked: neither let in nor refused

        # committed elsewhere while this process cannot reach the database
        with session_scope(direct_url) as session:
            space = vector_store.active_space(session, "fused")
            new_id = add_title(session, "haunted-new", *TITLES["haunted-a"], space, 99)
    finally:
        proxy.start()

    assert wait_for(
        lambda: client.get(f"/api/v1/titles/{seeded['sunny']}", headers=h).status_code == 200,
        timeout=15.0,
    )
    assert client.get(similar, params={"k": 3}, headers=auth(tokens["unseen"])).status_code == 200

    def caught_up() -> bool:
        r = client.get(similar, params=under_tv_pg, headers=h)
        return new_id in [hit["id"] for hit in r.json()["results"]]

    assert wait_for(caught_up, timeout=15.0)
