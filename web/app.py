"""The web service: ``create_app()`` builds it; ``coldstart serve`` runs it under uvicorn.

Routes live in :mod:`web.routes` (one module per audience); the work behind them lives in
``workers``/``storage`` so the CLI and the fleet share it.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from web import admin, errors, heap
from web.api.v1 import routes as api_v1
from web.routes import ingest, ops
from workers.settings import Settings, get_settings


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    # What exists when the server starts (modules, routes, templates) lives as long as it:
    # frozen out of the cyclic collector, a full collection walks only the requests' own
    # objects (it walked ~180k startup objects, up to 150 ms, the title page's p95).
    heap.settle()
    try:
        yield
    finally:
        gc.unfreeze()  # collectable again once this app is gone (tests start many)


def create_app(settings: Settings | None = None) -> FastAPI:
    app = FastAPI(title="coldstart", version="0.1.0", lifespan=_lifespan)
    app.state.settings = settings or get_settings()
    app.include_router(ops.router)
    app.include_router(ingest.router)
    app.include_router(api_v1.router)
    admin.install(app)
    errors.install(app)
    return app
