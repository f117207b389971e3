"""API tokens: ``Authorization: Bearer cs_...`` checked against stored hashes, with scopes
(``read``, ``export``) and a per-token rate limit.

401: no token, or an unknown or revoked one. 403: a valid token without the scope.
429: over the token's per-minute limit (``Retry-After`` says when to retry). The limit is
a token bucket per API process, refilled continuously.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Security, status
from fastapi.security import HTTPAuthorizationCredentials

from storage import catalog
from web.deps import API_BEARER, SettingsDep, bearer_token

_BUCKETS: dict[str, tuple[float, float]] = {}  # token hash -> (tokens left, last refill)
_LOCK = threading.Lock()


def _take(key: str, per_min: int) -> float:
    """0 when a request may proceed, else the seconds until one may."""
    now = time.monotonic()
    rate = per_min / 60.0
    with _LOCK:
        left, last = _BUCKETS.get(key, (float(per_min), now))
        left = min(float(per_min), left + (now - last) * rate)
        if left < 1.0:
            _BUCKETS[key] = (left, now)
            return (1.0 - left) / rate if rate > 0 else 60.0
        _BUCKETS[key] = (left - 1.0, now)
        return 0.0


def _unauthorised(detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"}
    )


def require_scope(scope: str) -> Callable[..., str]:
    def check(
        settings: SettingsDep,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Security(API_BEARER)],
    ) -> str:
        token = bearer_token(credentials)
        if not token:
            raise _unauthorised("missing bearer token")
        grant = catalog.token_grant(settings.effective_database_url, token)
        if grant is None:
            raise _unauthorised("unknown or revoked token")
        name, limit = grant.name, grant.rate_limit_per_min
        if scope not in grant.scopes:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, f"token {name!r} lacks the {scope!r} scope"
            )
        wait = _take(grant.key, limit)
        if wait > 0:
            raise HTTPException(
                status.HTTP_429_TOO_MANY_REQUESTS,
                f"rate limit of {limit}/min exceeded",
                headers={"Retry-After": str(max(1, round(wait)))},
            )
        return name

    return check


ReadToken = Depends(require_scope("read"))
ExportToken = Depends(require_scope("export"))
