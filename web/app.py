"""The web service: ``create_app()`` builds it; ``coldstart serve`` runs it under uvicorn.

Routes live in :mod:`web.routes` (one module per audience); the work behind them lives in
``workers``/``storage`` so the CLI and the fleet share it.
"""

from __future__ import annotations

from fastapi import FastAPI

from web import admin
from web.api.v1 import routes as api_v1
from web.routes import ingest, ops
from workers.settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    app = FastAPI(title="coldstart", version="0.1.0")
    app.state.settings = settings or get_settings()
    app.include_router(ops.router)
    app.include_router(ingest.router)
    app.include_router(api_v1.router)
    admin.install(app)
    return app
