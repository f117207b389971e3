"""What the whole web service answers when a dependency is down.

A database, object store or broker that refuses or times out (``workers.errors.is_transient``)
is a 503 with ``Retry-After``, JSON outside ``/admin``, and one log line rather than a
traceback per request: during a failover every request fails alike, and a client (a
recommender, the admin view's HTMX) should retry, not report a bug. Anything else goes on to
the generic 500, which logs its traceback.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from workers.errors import TransientError, is_transient, one_line

log = logging.getLogger(__name__)

RETRY_AFTER_S = 30  # a failover or a restart of the store takes tens of seconds
UNAVAILABLE = "a service this request needs (database or object store) is unreachable; retry"


async def dependency_down(request: Request, exc: Exception) -> Response:
    if not is_transient(exc):
        raise exc  # a bug, not an outage: the 500 handler logs it
    log.warning("%s %s: 503, %s: %s", request.method, request.url.path, type(exc).__name__,
                one_line(exc, 200))  # fmt: skip
    headers = {"Retry-After": str(RETRY_AFTER_S)}
    code = status.HTTP_503_SERVICE_UNAVAILABLE
    if request.url.path.startswith("/admin"):
        return PlainTextResponse(UNAVAILABLE, status_code=code, headers=headers)
    return JSONResponse({"detail": UNAVAILABLE}, status_code=code, headers=headers)


def install(app: FastAPI) -> None:
    # Handlers are found by exception class; these are the families is_transient() knows.
    from minio.error import MinioException
    from redis.exceptions import RedisError
    from sqlalchemy.exc import SQLAlchemyError
    from urllib3.exceptions import HTTPError as Urllib3Error

    families = (TransientError, SQLAlchemyError, Urllib3Error, MinioException, RedisError, OSError)
    for family in families:
        app.add_exception_handler(family, dependency_down)
