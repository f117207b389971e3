"""Errors analyzers raise. Workers map them to stored, human-readable failure reasons."""

from __future__ import annotations


class AnalysisError(Exception):
    """Base class. ``code`` is a stable machine-readable reason; ``str(err)`` is for people."""

    code = "analysis_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class BadMediaError(AnalysisError):
    """The input itself is unusable (empty, not media, truncated...). Never retried."""

    code = "bad_media"


class StageNotApplicable(AnalysisError):
    """The stage has nothing to work on (e.g. no video stream); the run goes on without it."""

    code = "not_applicable"
