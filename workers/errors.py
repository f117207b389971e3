"""Turning exceptions into stored, one-line failure reasons (never a stack trace)."""

from __future__ import annotations

from dataclasses import dataclass

from analyzers.errors import AnalysisError, BadMediaError
from storage.objects import InvalidObjectKey, ObjectNotFound
from taxonomy import TaxonomyError


class TransientError(Exception):
    """A failure worth retrying: object store or database unavailable, worker lost..."""


@dataclass(frozen=True)
class Failure:
    code: str
    message: str
    permanent: bool


# S3 error codes that mean "try again later", not "this request is wrong".
_S3_TRANSIENT_CODES = {
    "ServiceUnavailable",
    "SlowDown",
    "InternalError",
    "RequestTimeout",
    "XMinioServerNotInitialized",
}


def is_transient(err: BaseException) -> bool:
    """True for failures of the infrastructure (object store, database, network), which a
    retry can cure; False for bad input and bugs. Looks through the ``__cause__`` chain."""
    seen: set[int] = set()
    e: BaseException | None = err
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if _is_transient_one(e):
            return True
        e = e.__cause__ or e.__context__
    return False


def _is_transient_one(err: BaseException) -> bool:
    if isinstance(err, TransientError | ConnectionError | TimeoutError):
        return True
    # Imported lazily: errors.py stays importable without the optional clients.
    from minio.error import S3Error, ServerError
    from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
    from urllib3.exceptions import HTTPError as Urllib3Error

    if isinstance(err, Urllib3Error | ServerError):
        return True
    if isinstance(err, S3Error):
        return err.code in _S3_TRANSIENT_CODES
    return isinstance(err, OperationalError | DisconnectionError | InterfaceError)


def describe(err: BaseException, stage: str | None = None) -> Failure:
    where = f"{stage}: " if stage else ""
    if type(err).__name__ in ("SoftTimeLimitExceeded", "TimeLimitExceeded"):  # celery's
        return Failure("time_limit", f"{where}time limit exceeded: {err}", permanent=True)
    if isinstance(err, BadMediaError | InvalidObjectKey):
        return Failure(err.code, f"{where}{one_line(err)}", permanent=True)
    if isinstance(err, TaxonomyError):
        return Failure("taxonomy_invalid", f"{where}{one_line(err)}", permanent=True)
    if isinstance(err, AnalysisError):
        return Failure(err.code, f"{where}{one_line(err)}", permanent=True)
    if isinstance(err, ObjectNotFound):
        return Failure("source_missing", f"{where}object not found: {err.args[0]}", permanent=True)
    if is_transient(err):
        return Failure("transient", f"{where}{type(err).__name__}: {one_line(err)}", False)
    return Failure(
        "internal", f"{where}internal error: {type(err).__name__}: {one_line(err)}", True
    )


def one_line(err: BaseException, limit: int = 500) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"
