"""The review queue (the admin home page): riskiest titles needing review first."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from web.admin.common import Viewer, db, render
from web.services import queue_view

router = APIRouter()
PAGE_SIZE = 50


@router.get("/")
def review_queue(
    request: Request,
    principal: Viewer,
    status: Annotated[str, Query(max_length=32)] = "",
    label: Annotated[str, Query(max_length=128)] = "",
    rating: Annotated[str, Query(max_length=32)] = "",
    review: Annotated[str, Query(pattern="^(|yes|no)$")] = "",
    q: Annotated[str, Query(max_length=200)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    filters = queue_view.filters(status=status, label=label, rating=rating, review=review, q=q)
    with db(request) as session:
        rows, total, choices = queue_view.page(session, filters, page=page, size=PAGE_SIZE)
        pages = max(1, -(-total // PAGE_SIZE))
        given = {"status": status, "label": label, "rating": rating, "review": review, "q": q}
        args = {k: v for k, v in given.items() if v}
        return render(
            request,
            "queue.html",
            {
                "rows": rows,
                "total": total,
                "page": page,
                "pages": pages,
                "choices": choices,
                "f": {"status": status, "label": label, "rating": rating, "review": review, "q": q},
                "prev_url": f"?{urlencode({**args, 'page': page - 1})}" if page > 1 else None,
                "next_url": f"?{urlencode({**args, 'page': page + 1})}" if page < pages else None,
            },
        )
