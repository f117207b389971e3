"""The review queue page: filters from the query string, one page of rows, filter choices."""

from __future__ import annotations

from sqlalchemy.orm import Session

from storage import queue
from storage.queue import QueueFilters, QueueRow


def filters(*, status: str, label: str, rating: str, review: str, q: str) -> QueueFilters:
    return QueueFilters(
        status=status or None,
        label=label or None,
        rating=rating or None,
        needs_review={"yes": True, "no": False}.get(review),
        q=q.strip() or None,
    )


def page(
    session: Session, wanted: QueueFilters, *, page: int, size: int
) -> tuple[list[QueueRow], int, dict[str, list[str]]]:
    rows, total = queue.review_queue(session, wanted, limit=size, offset=(page - 1) * size)
    return rows, total, queue.distinct_values(session)
