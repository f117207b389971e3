"""The review queue: ordered by the risk kept on each title (needing review, strictest
suggested rating, least confident), filtered, searched and paged; the kept risk always equals
what the suggestions and final ratings say. SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import func, select

from storage import queue, review
from storage import repository as repo
from storage.db import session_scope
from storage.models import RatingDecision, RatingSuggestion, Title
from storage.queue import QueueFilters

EDITOR = review.Actor("ed@example.com")


def _title(url: str, n: int, name: str | None = None) -> int:
    with session_scope(url) as s:
        title, _ = repo.get_or_create_title(
            s, sha256=f"{n:064x}", size_bytes=1, name=name or f"Title {n}",
            source_uri=f"t{n}.mp4", source_key=f"t{n}",
        )  # fmt: skip
        return title.id


def _suggest(url: str, title_id: int, ratings: list[tuple[str, str, int, float | None]]) -> None:
    with session_scope(url) as s:
        review.save_rating_suggestions(
            s, title_id,
            [{"system": sy, "rating": r, "min_age": age, "confidence": conf}
             for sy, r, age, conf in ratings],
            run_id=None, taxonomy_version="v1", taxonomy_fingerprint="f",
        )  # fmt: skip


def _ids(url: str, filters: QueueFilters = QueueFilters(), **page: int) -> list[int]:
    with session_scope(url) as s:
        rows, _ = queue.review_queue(s, filters, **page)
        return [r.title.id for r in rows]


def _aggregated_risk(url: str) -> dict[int, tuple[bool, int, float]]:
    """The risk as the queue used to compute it on every request, from the rating tables."""
    with session_scope(url) as s:
        sugg = {
            t: (n, age, conf)
            for t, n, age, conf in s.execute(
                select(
                    RatingSuggestion.title_id,
                    func.count(),
                    func.max(RatingSuggestion.min_age),
                    func.min(RatingSuggestion.confidence),
                ).group_by(RatingSuggestion.title_id)
            )
        }
        dec = dict(
            s.execute(
                select(RatingDecision.title_id, func.count()).group_by(RatingDecision.title_id)
            ).all()
        )
        out = {}
        for tid in s.scalars(select(Title.id)):
            n, age, conf = sugg.get(tid, (0, None, None))
            out[tid] = (
                n > dec.get(tid, 0),
                -1 if age is None else age,
                2.0 if conf is None else conf,
            )
        return out


def _kept_risk(url: str) -> dict[int, tuple[bool, int, float]]:
    with session_scope(url) as s:
        return {
            t: (bool(need), age, conf)
            for t, need, age, conf in s.execute(
                select(
                    Title.id, Title.review_needed, Title.review_max_age, Title.review_min_confidence
                )
            )
        }


def test_queue_orders_by_risk_and_follows_every_rating_write(db_url: str) -> None:
    calm = _title(db_url, 1)  # PG, sure
    strict = _title(db_url, 2)  # R, unsure
    strict_sure = _title(db_url, 3)  # R, sure
    unrated = _title(db_url, 4)  # nothing suggested yet
    _suggest(db_url, calm, [("mpaa", "PG", 8, 0.9), ("bbfc", "PG", 8, 0.95)])
    _suggest(db_url, strict, [("mpaa", "R", 17, 0.4), ("bbfc", "15", 15, None)])
    _suggest(db_url, strict_sure, [("mpaa", "R", 17, 0.9)])
    assert _ids(db_url) == [strict, strict_sure, calm, unrated]
    assert _kept_risk(db_url) == _aggregated_risk(db_url)

    # Final ratings for every suggested system: reviewed, so behind every title still to do.
    with session_scope(db_url) as s:
        for system in ("mpaa", "bbfc"):
            review.record_final_rating(
                s, strict, system=system, rating="R", reason="checked", actor=EDITOR
            )
    assert _ids(db_url) == [strict_sure, calm, strict, unrated]
    with session_scope(db_url) as s:
        assert queue.next_for_review(s, strict_sure) == calm
        assert queue.next_for_review(s, calm) == strict_sure

    # A re-analysis adds a system the editor has not rated: back in review.
    again = [("mpaa", "R", 17, 0.4), ("bbfc", "15", 15, 0.5), ("tv", "TV-MA", 17, 0.3)]
    _suggest(db_url, strict, again)
    assert _ids(db_url)[0] == strict
    assert _kept_risk(db_url) == _aggregated_risk(db_url)

    with session_scope(db_url) as s:
        rows, total = queue.review_queue(s, QueueFilters(), limit=2)
        assert total == 4 and [r.title.id for r in rows] == [strict, strict_sure]
        first = rows[0]
        assert first.needs_review and first.max_age == 17 and first.min_confidence == 0.3
        assert first.suggested == {"mpaa": "R", "bbfc": "15", "tv": "TV-MA"}
        assert first.final == {"mpaa": "R", "bbfc": "R"}
        last, _ = queue.review_queue(s, QueueFilters(), limit=2, offset=2)
        assert [r.title.id for r in last] == [calm, unrated]
        assert last[1].max_age is None and last[1].min_confidence is None


def test_filters_search_and_pages(db_url: str) -> None:
    ids = [_title(db_url, n, name=f"Film {n:02d}") for n in range(12)]
    odd = _title(db_url, 99, name="100% Spooky_night")
    for i, tid in enumerate(ids):
        strict = i % 3 == 0
        _suggest(db_url, tid, [("mpaa", "R" if strict else "PG", 17 if strict else 8, i / 20)])
    with session_scope(db_url) as s:
        run = repo.create_run(s, repo.get_title(s, ids[1]))
        run_id = run.id
        review.record_final_rating(
            s, ids[3], system="mpaa", rating="PG-13", reason="x", actor=EDITOR
        )
        review.save_proposals(
            s, ids[4], [{"facet": "mood", "label": "eerie", "score": 0.8, "evidence": []}],
            run_id=None, model_version="m", taxonomy_version="v", taxonomy_fingerprint="f",
        )  # fmt: skip

    def page(filters: QueueFilters, **kw: int) -> tuple[list[int], int]:
        with session_scope(db_url) as s:
            rows, total = queue.review_queue(s, filters, **kw)
            return [r.title.id for r in rows], total

    got, total = page(QueueFilters(rating="R"))  # suggested R (ids[3]'s final is PG-13)
    assert total == 4 and set(got) == {ids[0], ids[3], ids[6], ids[9]}
    assert page(QueueFilters(rating="PG-13")) == ([ids[3]], 1)
    assert page(QueueFilters(rating="R", needs_review=True))[1] == 3
    assert page(QueueFilters(needs_review=False)) == ([ids[3], odd], 2)
    assert page(QueueFilters(label="eerie")) == ([ids[4]], 1)
    assert page(QueueFilters(q="film 1")) == ([ids[10], ids[11]], 2)  # PG; less confident first
    assert page(QueueFilters(q="100%")) == ([odd], 1)  # LIKE wildcards are literal
    assert page(QueueFilters(q="y_n")) == ([odd], 1)
    assert page(QueueFilters(q="m_0")) == ([], 0)
    assert page(QueueFilters(q="0%_")) == ([], 0)
    assert page(QueueFilters(status="pending"))[1] == 13
    assert page(QueueFilters(status="enriched")) == ([], 0)

    everything, total = page(QueueFilters(), limit=100)
    assert total == 13 and everything[-1] == odd  # nothing suggested: last
    paged = [tid for n in range(5) for tid in page(QueueFilters(), limit=3, offset=3 * n)[0]]
    assert paged == everything
    assert page(QueueFilters(), limit=3, offset=30) == ([], 13)
    first, total = page(QueueFilters(rating="R"), limit=3)
    assert total == 4 and page(QueueFilters(rating="R"), limit=3, offset=3)[1] == 4
    assert first + page(QueueFilters(rating="R"), limit=3, offset=3)[0] == got
    assert page(QueueFilters(rating="R"), limit=3, offset=30) == ([], 4)
    with session_scope(db_url) as s:
        rows, _ = queue.review_queue(s, QueueFilters(q="Film 01"))
        assert rows[0].run_id == run_id and rows[0].run_status == run.status

    with session_scope(db_url) as s:
        assert queue.distinct_values(s) == {
            "status": ["pending"], "rating": ["PG", "PG-13", "R"], "label": ["eerie"],
        }  # fmt: skip


def test_refresh_without_ids_recomputes_every_title(db_url: str) -> None:
    a, b = _title(db_url, 1), _title(db_url, 2)
    _suggest(db_url, a, [("mpaa", "R", 17, 0.2)])
    with session_scope(db_url) as s:
        # A bulk load writes suggestions straight into the table, then refreshes once.
        s.add(
            RatingSuggestion(title_id=b, system="mpaa", rating="NC-17", min_age=18, confidence=0.6)
        )
        s.flush()
        assert _ids_in(s) == [a, b]
        queue.refresh_review_risk(s)
        assert _ids_in(s) == [b, a]
    assert _kept_risk(db_url) == _aggregated_risk(db_url)


def _ids_in(s) -> list[int]:  # type: ignore[no-untyped-def]
    rows, _ = queue.review_queue(s, QueueFilters())
    return [r.title.id for r in rows]
