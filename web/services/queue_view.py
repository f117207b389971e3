"""The review queue page: filters from the query string, one page of rows, filter choices."""

from __future__ import annotations

import threading
import time

from sqlalchemy.orm import Session

from storage import queue
from storage.queue import QueueFilters, QueueRow

# The filter choices (statuses, ratings and labels in use) are three DISTINCT scans over
# whole tables, the same for every editor: kept briefly per database instead of per request.
# A label first used in the last CHOICES_TTL_S seconds shows up in the menu that much later.
CHOICES_TTL_S = 30.0
_choices: dict[str, tuple[float, dict[str, list[str]]]] = {}
_choices_lock = threading.Lock()


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
    return rows, total, filter_choices(session)


def filter_choices(session: Session) -> dict[str, list[str]]:
    key = session.get_bind().url.render_as_string(hide_password=True)
    now = time.monotonic()
    with _choices_lock:
        cached = _choices.get(key)
    if cached is not None and now - cached[0] < CHOICES_TTL_S:
        return cached[1]
    fresh = queue.distinct_values(session)
    with _choices_lock:
        _choices[key] = (now, fresh)
    return fresh
