"""Sign-in and sign-out. Failed attempts are limited per account and per address."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import RedirectResponse, Response

from storage import users
from web.admin.common import Viewer, db, render
from web.auth import (
    check_csrf,
    clear_session,
    password_fingerprint,
    safe_next,
    verify_password,
    write_session,
)

router = APIRouter()


def _limits(request: Request):  # type: ignore[no-untyped-def]
    return request.app.state.sign_in_limits


@router.get("/login")
def login_form(request: Request, next: str = "") -> Response:
    return render(request, "login.html", {"next": safe_next(next), "error": None})


@router.post("/login")
async def login(
    request: Request,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=1024)],
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    await check_csrf(request)
    limits = _limits(request)
    account = email.strip().lower()
    address = request.client.host if request.client else "unknown"
    wait = max(limits.per_account.blocked(account), limits.per_address.blocked(address))
    if wait:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            "too many failed sign-ins; try again later",
            headers={"Retry-After": str(int(wait) + 1)},
        )
    with db(request) as session:
        user = users.user_by_email(session, account)
        ok = verify_password(user.password_hash if user else None, password)
        if not (ok and user is not None and user.is_active):
            limits.per_account.hit(account)
            limits.per_address.hit(address)
            return render(
                request,
                "login.html",
                {"next": safe_next(next), "error": "Wrong email or password."},
                status_code=status.HTTP_401_UNAUTHORIZED,
            )
        users.mark_login(session, user)
        uid, fingerprint = user.id, password_fingerprint(user.password_hash)
    limits.per_account.reset(account)
    response = RedirectResponse(safe_next(next), status_code=status.HTTP_303_SEE_OTHER)
    # A fresh CSRF token per session: one minted before sign-in is not reused.
    write_session(
        request, response, {"uid": uid, "pw": fingerprint, "csrf": secrets.token_urlsafe(32)}
    )
    return response


@router.post("/logout")
def logout(request: Request, principal: Viewer) -> Response:
    response = RedirectResponse("/admin/login", status_code=status.HTTP_303_SEE_OTHER)
    clear_session(request, response)
    return response
