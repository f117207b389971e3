"""Error bodies and documented error responses of the JSON routes.

The published OpenAPI schema lists every status a client can get, with its body, so a
client (and schemathesis, ``tests/api/test_schema_fuzz.py``) can rely on it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

# Integer primary keys are 32-bit in PostgreSQL: a larger id is refused as invalid (422)
# instead of reaching the database as an out-of-range parameter (a 500).
MAX_ID = 2**31 - 1


class ErrorOut(BaseModel):
    detail: str


class FieldError(BaseModel):
    model_config = ConfigDict(extra="allow")  # FastAPI adds input, ctx, url

    loc: list[str | int]
    msg: str
    type: str


class ValidationErrorOut(BaseModel):
    """FastAPI's request validation (a list of field errors), or one message from a
    handler that validates what a schema cannot say (an unknown rating, a bad key)."""

    detail: list[FieldError] | str


_INT = {"schema": {"type": "integer"}}
ERRORS: dict[int, dict[str, Any]] = {
    400: {"description": "malformed request: an undecodable body or a bad cursor"},
    401: {
        "description": "missing, unknown or revoked bearer token",
        "headers": {"WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}}},
    },
    403: {"description": "the token lacks the scope this route needs"},
    404: {"description": "no such title or space (or the title is above the ceiling)"},
    422: {"description": "invalid parameters or body", "model": ValidationErrorOut},
    429: {
        "description": "rate limit of the token exceeded",
        "headers": {"Retry-After": {"description": "seconds to wait", **_INT}},
    },
    503: {"description": "not available: a dependency is down or a setting is missing"},
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: the given error statuses with their bodies."""
    return {code: {"model": ErrorOut, **ERRORS[code]} for code in codes}
