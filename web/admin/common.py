"""Shared pieces of the admin view: templates, the database transaction, role dependencies."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from storage.db import session_scope
from web.admin.timeline import timeline_shapes
from web.auth import Principal, csrf_token, persist_anonymous_csrf, require_role
from web.services.title_view import colour, hms

WEB_DIR = Path(__file__).resolve().parent.parent
templates = Jinja2Templates(directory=str(WEB_DIR / "templates"))
# Every template is HTML: escape everything, whatever the file name.
templates.env.autoescape = True

Viewer = Annotated[Principal, Depends(require_role("viewer"))]
Editor = Annotated[Principal, Depends(require_role("editor"))]
Admin = Annotated[Principal, Depends(require_role("admin"))]


templates.env.filters["hms"] = hms
templates.env.filters["colour"] = colour
templates.env.globals["timeline_shapes"] = timeline_shapes


@contextmanager
def db(request: Request) -> Iterator[Session]:
    """One transaction: committed when the block ends, rolled back on error."""
    with session_scope(request.app.state.settings.effective_database_url) as session:
        yield session


def render(
    request: Request, name: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    principal = getattr(request.state, "principal", None)
    response = templates.TemplateResponse(
        request,
        name,
        {"principal": principal, "csrf": csrf_token(request), **context},
        status_code=status_code,
    )
    persist_anonymous_csrf(request, response)
    return response
