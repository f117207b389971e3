"""The recommender index's bulk read (``catalog.iter_index_rows``) gives every title what the
per-title functions give: final ratings and tags (decisions over proposals), artwork and
shot statistics, on SQLite and PostgreSQL, across page boundaries."""

from __future__ import annotations

from storage import catalog, migrate, review
from storage.db import session_scope
from storage.models import Shot
from tests.api.seed import ADMIN, seed


def test_bulk_rows_match_the_per_title_reads(db_url: str) -> None:
    migrate.upgrade(db_url)
    ids = seed(db_url)
    sunny, romance = ids["sunny"], ids["romance"]
    with session_scope(db_url) as s:
        review.record_decision(s, sunny, facet="mood", label="joyful", action="reject", actor=ADMIN)
        review.record_decision(s, sunny, facet="mood", label="calm", action="add", actor=ADMIN)
        s.add_all(
            Shot(
                title_id=romance, idx=i, start_frame=i, end_frame=i + 1, start_s=i, end_s=i + 1,
                features={"luma_mean": 0.1 + 0.1 * i},
            )
            for i in range(3)
        )  # fmt: skip
        review.save_profile(
            s, romance, run_id=None, arc={}, artwork=[{"label": "romantic", "keyframe": 3}],
            descriptors={}, absent={}, signals={}, taxonomy_version="1", taxonomy_fingerprint=None,
        )  # fmt: skip
    with session_scope(db_url) as s:
        rows = {r.title_id: r for r in catalog.iter_index_rows(s, batch=3)}  # 3 pages
        assert sorted(rows) == sorted(ids.values())
        for tid, row in rows.items():
            assert row.ratings == review.final_ratings(s, tid)
            per_title = review.final_tags(s, tid)
            assert [(t.facet, t.label, t.score, t.review_state) for t in row.tags] == [
                (t.facet, t.label, t.score, t.review_state) for t in per_title
            ]
            assert all(t.evidence == [] for t in row.tags)
        assert {t.label for t in rows[sunny].tags} == {"calm", "playful"}  # rejected, added
        assert rows[romance].shots == 3 and abs(rows[romance].mean_luma - 0.2) < 1e-9
        assert rows[romance].artwork == [{"label": "romantic", "keyframe": 3}]
        assert rows[sunny].shots == 0 and rows[sunny].mean_luma is None
        one = list(catalog.iter_index_rows(s, title_ids=[romance, 10_000]))
        assert [r.title_id for r in one] == [romance]
