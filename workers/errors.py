"""Turning exceptions into stored, one-line failure reasons (never a stack trace)."""

from __future__ import annotations

from dataclasses import dataclass

from analyzers.errors import AnalysisError, BadMediaError
from storage.objects import InvalidObjectKey, ObjectNotFound


class TransientError(Exception):
    """A failure worth retrying: object store or database unavailable, worker lost..."""


@dataclass(frozen=True)
class Failure:
    code: str
    message: str
    permanent: bool


def describe(err: BaseException, stage: str | None = None) -> Failure:
    where = f"{stage}: " if stage else ""
    if isinstance(err, BadMediaError | InvalidObjectKey):
        return Failure(err.code, f"{where}{_one_line(err)}", permanent=True)
    if isinstance(err, AnalysisError):
        return Failure(err.code, f"{where}{_one_line(err)}", permanent=True)
    if isinstance(err, ObjectNotFound):
        return Failure("source_missing", f"{where}object not found: {err.args[0]}", permanent=True)
    if isinstance(err, TransientError | ConnectionError | TimeoutError):
        return Failure("transient", f"{where}{type(err).__name__}: {_one_line(err)}", False)
    return Failure(
        "internal", f"{where}internal error: {type(err).__name__}: {_one_line(err)}", True
    )


def _one_line(err: BaseException, limit: int = 500) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"
