"""Prometheus metrics of the web service: latency and status of every request by route
template (bounded labels: ``/api/v1/titles/{title_id}/similar``, never the raw path), and
the recommender index of each process (titles, readiness, change-feed position and age).

``coldstart serve --workers N`` runs uvicorn processes that count into files under
``PROMETHEUS_MULTIPROC_DIR`` (set by the command before they start); ``/metrics`` then
serves the sum over the processes, the index gauges labelled by pid (a worker that starts
drops the gauges of workers that are gone: uvicorn replaces a dead one with a new pid).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from workers.metrics import exposition_registry

REQUEST_SECONDS = Histogram(
    "coldstart_api_request_duration_seconds",
    "Wall time of one HTTP request, by route template, method and status class.",
    ["route", "method", "status"],
    buckets=(0.0025, 0.005, 0.01, 0.015, 0.02, 0.03, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
INDEX_TITLES = Gauge(
    "coldstart_api_index_titles", "Titles in this process's recommender index.",
    multiprocess_mode="liveall",
)  # fmt: skip
INDEX_READY = Gauge(
    "coldstart_api_index_ready", "1 once this process's recommender index is loaded.",
    multiprocess_mode="liveall",
)  # fmt: skip
INDEX_LAST_EVENT = Gauge(
    "coldstart_api_index_last_event_id", "Last change event applied to the index.",
    multiprocess_mode="liveall",
)  # fmt: skip
INDEX_POLLED_AT = Gauge(
    "coldstart_api_index_polled_timestamp_seconds",
    "When the change feed last answered (Unix time): alert when it falls behind.",
    multiprocess_mode="liveall",
)


def record_index(titles: int, last_event: int) -> None:
    """After a load or a successful change-feed poll."""
    INDEX_READY.set(1)
    INDEX_TITLES.set(titles)
    INDEX_LAST_EVENT.set(last_event)
    INDEX_POLLED_AT.set(time.time())


class RequestMetrics:
    """Pure ASGI middleware (no per-request task or body copy): one histogram sample per
    HTTP request, labelled after routing with the matched route's path template."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]  # an exception that escapes every handler

        async def send_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            REQUEST_SECONDS.labels(_route(scope), scope["method"], f"{status[0] // 100}xx").observe(
                time.perf_counter() - started
            )


def _route(scope: Scope) -> str:
    route: Any = scope.get("route")
    return str(getattr(route, "path", None) or "unmatched")


def forget_dead_workers() -> None:
    """Remove the index gauges of processes that no longer exist (multiprocess mode)."""
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not path:
        return
    from prometheus_client import multiprocess

    for file in Path(path).glob("gauge_liveall_*.db"):
        pid = int(file.stem.rsplit("_", 1)[1])
        try:
            os.kill(pid, 0)  # no signal: only whether the process exists
        except ProcessLookupError:
            multiprocess.mark_process_dead(pid, path)
        except PermissionError:  # exists, under another user
            pass


def exposition() -> tuple[bytes, str]:
    """The text of ``/metrics``: every process's samples when they share a directory."""
    return generate_latest(exposition_registry()), CONTENT_TYPE_LATEST
