"""/api/v1 routes: thin handlers over :class:`web.api.v1.services.Recommender`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from web.api.auth import ExportToken, ReadToken
from web.api.v1.schemas import (
    CeilingIn,
    ChangesOut,
    HitsOut,
    RecommendIn,
    SearchIn,
    SearchOut,
    TitlePage,
)
from web.api.v1.services import Recommender
from web.openapi import MAX_ID, errors

router = APIRouter(prefix="/api/v1", tags=["recommender"])

AUTH_RESPONSES = errors(401, 403, 422, 429)
LOOKUP_RESPONSES = errors(401, 403, 404, 422, 429)
BODY_RESPONSES = errors(400, 401, 403, 404, 422, 429)  # 400: a body that is not JSON


def service(request: Request) -> Recommender:
    return recommender_of(request.app)


def recommender_of(app: Any) -> Recommender:
    """The app's recommender, made on first use (its index loads on ``ready()``)."""
    state = app.state
    if getattr(state, "recommender", None) is None:
        state.recommender = Recommender(state.settings)
    return state.recommender


def _ceiling(svc: Recommender, system: str | None, max_rating: str | None, max_age: int | None):
    return svc.ceiling(CeilingIn(system=system, rating=max_rating, max_age=max_age))


System = Annotated[str | None, Query(max_length=32)]
MaxRating = Annotated[str | None, Query(max_length=32)]
MaxAge = Annotated[int | None, Query(ge=0, le=99)]
TitlePath = Annotated[int, Path(ge=1, le=MAX_ID)]


@router.get("/titles/{title_id}", dependencies=[ReadToken], responses=LOOKUP_RESPONSES)
async def get_title(
    request: Request,
    title_id: TitlePath,
    system: System = None,
    max_rating: MaxRating = None,
    max_age: MaxAge = None,
) -> dict[str, Any]:
    """Enriched metadata: final tags with provenance, ratings, mood arc, artwork, spaces.
    With a ceiling, a title above it answers 404."""
    svc = service(request)
    ceiling = _ceiling(svc, system, max_rating, max_age)
    return await run_in_threadpool(svc.title, title_id, ceiling)


@router.get("/titles", dependencies=[ReadToken], responses=errors(400, 401, 403, 422, 429))
async def list_titles(
    request: Request,
    updated_since: datetime | None = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> TitlePage:
    """Keyset pages ordered by (updated_at, id): stable while titles change."""
    docs, nxt = await run_in_threadpool(service(request).page, updated_since, cursor, limit)
    return TitlePage(titles=docs, next_cursor=nxt)


@router.get("/titles/{title_id}/similar", dependencies=[ReadToken], responses=LOOKUP_RESPONSES)
async def similar(
    request: Request,
    title_id: TitlePath,
    k: Annotated[int, Query(ge=1, le=100)] = 10,
    space: Annotated[str | None, Query(max_length=64)] = None,
    max_rating: MaxRating = None,
    system: System = None,
    max_age: MaxAge = None,
) -> HitsOut:
    svc = service(request)
    ceiling = _ceiling(svc, system, max_rating, max_age)
    name, hits = await run_in_threadpool(svc.similar, title_id, k, space, ceiling)
    return HitsOut(space=name, ceiling=ceiling.describe() if ceiling else None, results=hits)


@router.post("/recommendations", dependencies=[ReadToken], responses=BODY_RESPONSES)
async def recommendations(request: Request, body: RecommendIn) -> HitsOut:
    """Titles ranked by content similarity to the liked (minus the disliked) titles, each
    with a reason and the artwork of the profile's leading mood."""
    name, ceiling, hits = await run_in_threadpool(service(request).recommend, body)
    return HitsOut(space=name, ceiling=ceiling.describe() if ceiling else None, results=hits)


@router.post("/search", dependencies=[ReadToken], responses=BODY_RESPONSES)
async def search(request: Request, body: SearchIn) -> SearchOut:
    """Natural-language search; viewer and time phrases are hard filters. The response
    says how the query was read."""
    svc = service(request)
    ceiling = svc.ceiling(body.ceiling)
    got, hits = await run_in_threadpool(svc.search, body.query, body.k, ceiling)
    return SearchOut(
        space="text" if got.free_text else None,
        ceiling=got.ceiling.describe() if got.ceiling else None,
        results=hits,
        interpretation=got.to_dict(),
    )


@router.get(
    "/export",
    dependencies=[ExportToken],
    responses={**LOOKUP_RESPONSES, 200: {"content": {"application/x-ndjson": {}}}},
    response_class=StreamingResponse,
)
async def export(
    request: Request,
    since: datetime | None = None,
    with_vectors: Annotated[str | None, Query(max_length=64)] = None,
) -> StreamingResponse:
    """Every title (updated since ``since``) as NDJSON, streamed: flat memory."""
    svc = service(request)
    records = svc.export(since, with_vectors)
    try:
        first = next(records, None)  # surface an unknown space as 404 before streaming
    except LookupError as err:
        raise HTTPException(404, str(err)) from err

    def lines() -> Iterator[bytes]:
        if first is not None:
            yield (json.dumps(first) + "\n").encode()
            for record in records:
                yield (json.dumps(record) + "\n").encode()

    return StreamingResponse(lines(), media_type="application/x-ndjson")


@router.get("/changes", dependencies=[ReadToken], responses=AUTH_RESPONSES)
async def changes(
    request: Request,
    after: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> ChangesOut:
    """Change events with an id above ``after`` (poll with the last id you saw)."""
    events = await run_in_threadpool(service(request).changes, after, limit)
    return ChangesOut(events=events, last_id=events[-1]["id"] if events else after)
