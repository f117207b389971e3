"""Operations: liveness/readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse
from sqlalchemy import text

from storage.db import engine_for
from web.deps import SettingsDep
from web.metrics import exposition
from web.openapi import ERRORS

router = APIRouter(tags=["ops"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"model": dict[str, str], **ERRORS[503]}})
def readyz(request: Request, settings: SettingsDep, response: Response) -> dict[str, str]:
    """503 while the database is unreachable, or while the recommender index is still
    loading (with ``api_preload``): a load balancer sends no API traffic before."""
    try:
        with engine_for(settings.effective_database_url).connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as err:
        response.status_code = 503
        return {"status": "unavailable", "database": type(err).__name__}
    recommender = getattr(request.app.state, "recommender", None)
    if settings.api_preload and not (recommender is not None and recommender.is_ready):
        response.status_code = 503
        return {"status": "loading", "index": "the recommender index is loading"}
    return {"status": "ok"}


@router.get("/metrics", response_class=PlainTextResponse)
def metrics() -> Response:
    body, media_type = exposition()
    return Response(body, media_type=media_type)
