"""Request dependencies shared by the routes: settings, and bearer-token authentication."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request, status

from workers.settings import Settings


def get_app_settings(request: Request) -> Settings:
    return request.app.state.settings


SettingsDep = Annotated[Settings, Depends(get_app_settings)]


def require_webhook_token(
    settings: SettingsDep, authorization: Annotated[str | None, Header()] = None
) -> None:
    """MinIO sends ``Authorization: Bearer <auth_token>`` to its webhook target. With no
    token configured the webhook is closed: an open endpoint would ingest anything."""
    expected = settings.webhook_token.get_secret_value()
    if not expected:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "webhook_token is not set")
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip(), expected):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing or wrong bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )
