"""The web service: ``create_app()`` builds it; ``coldstart serve`` runs it under uvicorn.

Routes live in :mod:`web.routes` (one module per audience); the work behind them lives in
``workers``/``storage`` so the CLI and the fleet share it.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from web import admin, errors, heap
from web.api.v1 import routes as api_v1
from web.metrics import RequestMetrics, forget_dead_workers
from web.routes import ingest, ops
from workers.settings import Settings, get_settings

log = logging.getLogger(__name__)

PRELOAD_BACKOFF_MAX_S = 30.0


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    # What exists when the server starts (modules, routes, templates) lives as long as it:
    # frozen out of the cyclic collector, a full collection walks only the requests' own
    # objects (it walked ~180k startup objects, up to 150 ms, the title page's p95).
    heap.settle()
    if app.state.settings.api_preload:
        _start_preload(app)
    try:
        yield
    finally:
        recommender = getattr(app.state, "recommender", None)
        if recommender is not None:
            recommender.close()  # its change-feed thread
        gc.unfreeze()  # collectable again once this app is gone (tests start many)


def _start_preload(app: FastAPI) -> None:
    """Load the recommender index while the server already answers (health checks, the
    admin view), not in the first API request: /readyz says when it is in (ops.readyz)."""
    recommender = api_v1.recommender_of(app)

    def load() -> None:
        started, delay = time.monotonic(), 1.0
        while True:
            try:
                recommender.ready()
                break
            except Exception as err:  # the database may be down: try again, backing off
                log.warning("recommender index not loaded (%s: %s); next try in %.0f s",
                            type(err).__name__, err, delay)  # fmt: skip
                if recommender.wait_closed(delay):
                    return
                delay = min(PRELOAD_BACKOFF_MAX_S, delay * 2)
        log.info("recommender index loaded in %.1f s", time.monotonic() - started)

    threading.Thread(target=load, name="index-preload", daemon=True).start()


def served_app() -> FastAPI:
    """One ``coldstart serve`` worker process (a uvicorn factory): the settings, logging and
    stage selection from the environment, as the command that started it read them."""
    from workers.logs import configure_logging
    from workers.stages.plugins import configure_stages

    settings = get_settings()
    configure_logging(settings.log_format, settings.log_level)
    configure_stages(settings)
    forget_dead_workers()
    return create_app(settings)


def create_app(settings: Settings | None = None) -> FastAPI:
    app = FastAPI(title="coldstart", version="0.1.0", lifespan=_lifespan)
    app.state.settings = settings or get_settings()
    app.include_router(ops.router)
    app.include_router(ingest.router)
    app.include_router(api_v1.router)
    admin.install(app)
    errors.install(app)
    app.add_middleware(RequestMetrics)  # outermost: times what the client waits for
    return app
