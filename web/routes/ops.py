"""Operations: liveness/readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from sqlalchemy import text

from storage.db import engine_for
from web.deps import SettingsDep
from web.openapi import ERRORS

router = APIRouter(tags=["ops"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"model": dict[str, str], **ERRORS[503]}})
def readyz(settings: SettingsDep, response: Response) -> dict[str, str]:
    try:
        with engine_for(settings.effective_database_url).connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as err:
        response.status_code = 503
        return {"status": "unavailable", "database": type(err).__name__}
    return {"status": "ok"}


@router.get("/metrics", response_class=PlainTextResponse)
def metrics() -> Response:
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
