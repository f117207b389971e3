"""A small enriched catalogue in a real database, written through the storage functions the
pipeline uses: titles, tag proposals, rating suggestions/decisions, an active space."""

from __future__ import annotations

import hashlib

import numpy as np

from storage import repository as repo
from storage import review, vectors
from storage.db import session_scope
from storage.models import SpaceStatus
from tests.api.catalogue import LABELS

# name: (labels, ratings [(system, rating, final, needs_review)], duration)
TITLES = {
    "haunted-a": ({"eerie": 0.9, "suspenseful": 0.8}, [("us-tv", "TV-PG", True, False)], 1500.0),
    "haunted-b": ({"eerie": 0.85, "suspenseful": 0.7}, [("mpaa", "PG", False, False)], 5400.0),
    "haunted-ma": ({"eerie": 0.95, "suspenseful": 0.9}, [("us-tv", "TV-MA", True, False)], 1500.0),
    "haunted-doubt": ({"eerie": 0.9, "mysterious": 0.7}, [("us-tv", "TV-Y7", False, True)], 900.0),
    "haunted-unrated": ({"eerie": 0.9, "suspenseful": 0.8}, [], 1200.0),
    "sunny": ({"joyful": 0.9, "playful": 0.8}, [("us-tv", "TV-Y", True, False)], 1300.0),
    "romance": ({"romantic": 0.9, "warm": 0.8}, [("bbfc", "12A", False, False)], 6000.0),
}
ADMIN = review.Actor("system:test")


def vector_of(labels: dict[str, float], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    v = np.array([labels.get(lab, 0.0) for lab in LABELS], dtype=np.float32)
    return v + rng.normal(scale=0.05, size=v.shape).astype(np.float32)


def add_title(session, name: str, labels, ratings, duration, space, seed: int) -> int:
    title, _ = repo.get_or_create_title(
        session,
        sha256=hashlib.sha256(name.encode()).hexdigest(),
        size_bytes=1,
        name=name,
        source_uri=f"s3://in/{name}.mp4",
        source_key=f"{name}.mp4",
    )
    title.duration_s = duration
    review.save_proposals(
        session,
        title.id,
        [{"facet": "mood", "label": k, "score": v} for k, v in labels.items()],
        run_id=None,
        model_version="test",
        taxonomy_version="1",
        taxonomy_fingerprint=None,
    )
    review.save_rating_suggestions(
        session,
        title.id,
        [{"system": s, "rating": r, "needs_review": nr} for s, r, _f, nr in ratings],
        run_id=None,
        taxonomy_version="1",
        taxonomy_fingerprint=None,
    )
    for system, rating, final, _nr in ratings:
        if final:
            review.record_final_rating(
                session, title.id, system=system, rating=rating, reason="test", actor=ADMIN
            )
    vectors.save_vectors(
        session, title.id, space, [vectors.VectorRow("title", -1, vector_of(labels, seed))]
    )
    repo.emit_event(session, "title.enriched", {"title_id": title.id}, title_id=title.id)
    return title.id


def seed(url: str) -> dict[str, int]:
    with session_scope(url) as session:
        space = vectors.register_space(
            session,
            name="fused",
            version="t1",
            dim=len(LABELS),
            model="test",
            status=SpaceStatus.ACTIVE,
        )
        return {
            name: add_title(session, name, *spec, space, i)
            for i, (name, spec) in enumerate(TITLES.items())
        }
