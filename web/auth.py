"""Admin-view authentication: argon2 passwords, signed session cookies, CSRF, roles and a
sign-in rate limit.

The session is a signed (itsdangerous) cookie holding the user id, the CSRF token and a
fingerprint of the password hash, so changing a password ends every other session. Cookies are
HttpOnly and SameSite=Lax, and Secure when the request came over HTTPS.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
import tempfile
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import HTTPException, Request, Response, status
from itsdangerous import BadSignature, URLSafeTimedSerializer

from storage import users
from storage.db import session_scope
from workers.settings import Settings

COOKIE = "coldstart_session"
SESSION_MAX_AGE_S = 12 * 3600
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ROLE_RANK = {"viewer": 1, "editor": 2, "admin": 3}
HOME = "/admin/"

_hasher = PasswordHasher()


# --- passwords -------------------------------------------------------------------------------


def hash_password(password: str) -> str:
    if len(password) < 8:
        raise ValueError("a password has at least 8 characters")
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        # Spend the same time as a real check, so unknown accounts are not told apart.
        _burn(password)
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _burn(password: str) -> None:
    with contextlib.suppress(VerificationError, InvalidHashError):
        _hasher.verify(_DUMMY_HASH, password)


_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


def password_fingerprint(password_hash: str | None) -> str:
    return hashlib.sha256((password_hash or "").encode()).hexdigest()[:16]


# --- the signed session cookie ----------------------------------------------------------------


def session_secret(settings: Settings) -> str:
    """``COLDSTART_SESSION_SECRET``, else a random key kept (0600) under the data directory so
    sessions survive a restart of one server."""
    env = os.environ.get("COLDSTART_SESSION_SECRET", "")
    if env:
        return env
    path = Path(settings.data_dir) / "session.key"
    if not path.exists():
        _create_key_file(path)
    return path.read_text().strip()


def _create_key_file(path: Path) -> None:
    """Write a new key beside ``path``, then link it into place: the link succeeds only if
    no key is there yet, and a key file is never seen half written. Worker processes of one
    server (``coldstart serve --workers``) starting at once all end up with the same key;
    creating it in place let one read it empty, or fail on the other's file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".session.key.")  # mode 0600
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
        with contextlib.suppress(FileExistsError):  # another process's key won
            os.link(tmp, path)
    finally:
        os.unlink(tmp)


def _serializer(request: Request) -> URLSafeTimedSerializer:
    state = request.app.state
    if getattr(state, "session_serializer", None) is None:
        state.session_serializer = URLSafeTimedSerializer(
            session_secret(state.settings), salt="coldstart.admin.session"
        )
    return state.session_serializer


def read_session(request: Request) -> dict[str, Any]:
    raw = request.cookies.get(COOKIE)
    if not raw:
        return {}
    try:
        data = _serializer(request).loads(raw, max_age=SESSION_MAX_AGE_S)
    except BadSignature:
        return {}
    return data if isinstance(data, dict) else {}


def write_session(request: Request, response: Response, data: dict[str, Any]) -> None:
    response.set_cookie(
        COOKIE,
        _serializer(request).dumps(data),
        max_age=SESSION_MAX_AGE_S,
        path="/admin",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


def clear_session(request: Request, response: Response) -> None:
    response.delete_cookie(
        COOKIE, path="/admin", httponly=True, samesite="lax", secure=request.url.scheme == "https"
    )


def csrf_token(request: Request) -> str:
    """The session's CSRF token (an anonymous session gets one for the sign-in form)."""
    token = read_session(request).get("csrf")
    if not token:
        token = request.state.__dict__.setdefault("new_csrf", secrets.token_urlsafe(32))
    return str(token)


def persist_anonymous_csrf(request: Request, response: Response) -> None:
    """Store a CSRF token minted for a page shown before sign-in."""
    new = request.state.__dict__.get("new_csrf")
    if new and not read_session(request).get("csrf"):
        write_session(request, response, {"csrf": new})


def _same(sent: str, expected: str) -> bool:
    # Bytes: compare_digest refuses non-ASCII str, and a header or a form may carry any.
    return hmac.compare_digest(sent.encode("utf-8", "surrogatepass"), expected.encode())


async def check_csrf(request: Request) -> None:
    """Every unsafe request carries the session's token: HTMX in a header, forms in a field."""
    if request.method in SAFE_METHODS:
        return
    expected = read_session(request).get("csrf")
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            sent = (await request.form()).get(CSRF_FIELD)
    if not expected or not isinstance(sent, str) or not _same(sent, expected):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "missing or wrong CSRF token")


# --- principals and roles ----------------------------------------------------------------------


@dataclass(frozen=True)
class Principal:
    user_id: int
    email: str
    name: str
    role: str
    csrf: str

    def can(self, role: str) -> bool:
        return ROLE_RANK.get(self.role, 0) >= ROLE_RANK[role]


class LoginRequired(Exception):
    """No valid session: pages redirect to the sign-in form, writes answer 401."""


def current_principal(request: Request) -> Principal | None:
    data = read_session(request)
    uid = data.get("uid")
    if not isinstance(uid, int):
        return None
    with session_scope(request.app.state.settings.effective_database_url) as session:
        user = users.get_user(session, uid)
        if user is None or not user.is_active or user.role not in ROLE_RANK:
            return None
        if not hmac.compare_digest(
            str(data.get("pw", "")), password_fingerprint(user.password_hash)
        ):
            return None  # the password changed since this session began
        return Principal(user.id, user.email, user.name, user.role, str(data.get("csrf", "")))


def require_role(role: str) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency: the signed-in user, holding ``role`` or higher; unsafe methods must
    also carry the CSRF token."""
    if role not in ROLE_RANK:
        raise ValueError(f"unknown role {role!r}")

    async def dependency(request: Request) -> Principal:
        principal = current_principal(request)
        if principal is None:
            raise LoginRequired()
        if not principal.can(role):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"this needs the {role} role")
        await check_csrf(request)
        request.state.principal = principal
        return principal

    dependency.required_role = role  # type: ignore[attr-defined]
    return dependency


def safe_next(value: str | None) -> str:
    """Only a path inside the admin view: no scheme, no host, no protocol-relative URL."""
    if not value or any(ord(ch) < 32 for ch in value) or "\\" in value:
        return HOME
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not value.startswith("/admin") or value.startswith("//"):
        return HOME
    return value


# --- sign-in rate limit ------------------------------------------------------------------------


class RateLimiter:
    """Failed sign-ins per key in a sliding window (one process; a fleet of web servers
    would share it through Redis)."""

    def __init__(self, limit: int, window_s: float) -> None:
        self.limit = limit
        self.window_s = window_s
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.window_s:
            hits.popleft()
        return hits

    def blocked(self, key: str) -> float:
        """Seconds until ``key`` may try again (0: it may now)."""
        now = time.monotonic()
        with self._lock:
            hits = self._recent(key, now)
            if len(hits) < self.limit:
                return 0.0
            return max(0.0, hits[0] + self.window_s - now)

    def hit(self, key: str) -> None:
        with self._lock:
            self._recent(key, time.monotonic()).append(time.monotonic())

    def reset(self, key: str) -> None:
        with self._lock:
            self._hits.pop(key, None)


@dataclass
class SignInLimits:
    per_account: RateLimiter
    per_address: RateLimiter


def default_limits() -> SignInLimits:
    return SignInLimits(per_account=RateLimiter(5, 900.0), per_address=RateLimiter(20, 900.0))
