"""Request dependencies shared by the routes: settings, and bearer-token authentication."""

from __future__ import annotations

import hmac
import os
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from workers.settings import Settings


def env_number(name: str, default: float) -> float:
    """A number from the environment; ``default`` when unset or empty."""
    return float(os.environ.get(name) or default)


async def get_app_settings(request: Request) -> Settings:
    # async: FastAPI runs a plain function dependency in its threadpool, a hop per request
    return request.app.state.settings


SettingsDep = Annotated[Settings, Depends(get_app_settings)]

# Declared as HTTP bearer security (not a header parameter), so the OpenAPI schema says how
# to authenticate; a missing or non-bearer header reads as None and is answered 401 here.
WEBHOOK_BEARER = HTTPBearer(auto_error=False, scheme_name="webhook", description="webhook_token")
API_BEARER = HTTPBearer(
    auto_error=False, scheme_name="api", description="a token from `coldstart tokens create`"
)


def bearer_token(credentials: HTTPAuthorizationCredentials | None) -> str:
    return credentials.credentials.strip() if credentials is not None else ""


def require_webhook_token(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(WEBHOOK_BEARER)],
) -> None:
    """MinIO sends ``Authorization: Bearer <auth_token>`` to its webhook target. With no
    token configured the webhook is closed: an open endpoint would ingest anything."""
    expected = settings.webhook_token.get_secret_value()
    if not expected:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "webhook_token is not set")
    token = bearer_token(credentials)
    # Bytes: compare_digest refuses non-ASCII str, and a header may carry any latin-1.
    if not token or not hmac.compare_digest(token.encode(), expected.encode()):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing or wrong bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )
