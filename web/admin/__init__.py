"""The admin review view: server-rendered pages under ``/admin`` (Jinja2 + vendored HTMX).

:func:`install` adds the router, the static files, the security headers and the error pages
to an app; every route checks a role (see ``web.auth.require_role``)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from web.admin import login, queue, runs, titles
from web.admin.common import WEB_DIR, render
from web.auth import LoginRequired, default_limits

router = APIRouter(prefix="/admin", tags=["admin"])
router.include_router(login.router)
router.include_router(queue.router)
router.include_router(titles.router)
router.include_router(runs.router)

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "media-src 'self'{media}; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)


def _csp(settings: Any) -> str:
    media = ""
    if settings.object_store == "s3":  # the player follows a presigned URL to the store
        scheme = "https" if settings.s3_secure else "http"
        media = f" {scheme}://{settings.s3_endpoint}"
    return CSP.format(media=media)


class SecurityHeaders:
    """The admin pages' security headers, as plain ASGI: Starlette's ``BaseHTTPMiddleware``
    (``app.middleware("http")``) ran every API request through an extra task and stream."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/admin"):
            await self.app(scope, receive, send)
            return
        csp = _csp(scope["app"].state.settings)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Content-Security-Policy"] = csp
                headers["X-Content-Type-Options"] = "nosniff"
                headers["X-Frame-Options"] = "DENY"
                headers["Referrer-Policy"] = "same-origin"
                if "cache-control" not in headers:
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _login_required(request: Request, exc: Exception) -> Response:
    if request.method == "GET" and "hx-request" not in request.headers:
        target = quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
        return RedirectResponse(f"/admin/login?next={target}", status_code=303)
    return PlainTextResponse("sign in first", status_code=401)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if not request.url.path.startswith("/admin"):
        return await http_exception_handler(request, exc)  # the API keeps its JSON errors
    if "hx-request" in request.headers:
        return PlainTextResponse(str(exc.detail), status_code=exc.status_code, headers=exc.headers)
    response = render(
        request, "error.html", {"status": exc.status_code, "message": str(exc.detail)},
        status_code=exc.status_code,
    )  # fmt: skip
    response.headers.update(exc.headers or {})  # Retry-After, WWW-Authenticate
    return response


async def _server_error(request: Request, exc: Exception) -> Response:
    # No stack trace, no exception text: they can carry paths, SQL and secrets.
    return PlainTextResponse("internal error", status_code=500)


def install(app: FastAPI) -> None:
    app.state.sign_in_limits = default_limits()
    app.include_router(router)
    app.mount("/admin/static", StaticFiles(directory=str(WEB_DIR / "static")), name="static")
    app.add_middleware(SecurityHeaders)
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _server_error)
