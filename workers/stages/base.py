"""The stage interface. A stage is a function of a :class:`StageContext` that computes its
result and persists it with :meth:`StageContext.persist` (one transaction, idempotent).

The in-process pipeline (:mod:`workers.pipeline`) and the Celery tasks call the same stage
functions; a stage declares the queue it needs (``io``, ``cpu`` or ``gpu``) so the fleet can
route it. To add a stage: write ``workers/stages/<name>.py`` exposing ``STAGE = Stage(...)``
and list it in :data:`workers.stages.STAGES`.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sqlalchemy.orm import Session

import taxonomy
from analyzers.probe import MediaInfo
from storage import repository as repo
from storage.db import session_scope
from storage.objects import ObjectStore
from workers.settings import Settings

Queue = Literal["io", "cpu", "gpu"]


@dataclass
class StageContext:
    settings: Settings
    stage: str
    title_id: int
    run_id: int
    content_sha256: str
    media_path: Path
    derived: ObjectStore
    cache_key: str
    model_version: str
    info: MediaInfo | None = None
    warnings: list[str] = field(default_factory=list)
    on_progress: Callable[[float], None] | None = None

    @property
    def db_url(self) -> str:
        return self.settings.effective_database_url

    @property
    def derived_prefix(self) -> str:
        """Where this title's derived objects live; content-addressed, so re-uploads share it."""
        sha = self.content_sha256
        return f"titles/{sha[:2]}/{sha}"

    def progress(self, fraction: float) -> None:
        if self.on_progress is not None:
            self.on_progress(min(max(fraction, 0.0), 1.0))

    def warn(self, message: str) -> None:
        self.warnings.append(message)

    def persist(self, write: Callable[[Session], None], summary: dict[str, Any]) -> None:
        """Write the stage's rows and mark it done for this cache key, in one transaction."""
        with session_scope(self.db_url) as session:
            write(session)
            repo.record_stage_result(
                session,
                title_id=self.title_id,
                run_id=self.run_id,
                stage=self.stage,
                cache_key=self.cache_key,
                model_version=self.model_version,
                summary={**summary, "warnings": self.warnings},
            )


@dataclass(frozen=True)
class Stage:
    name: str
    run: Callable[[StageContext], dict[str, Any]]
    queue: Queue = "cpu"
    # A required stage's failure fails the run (e.g. probe); others make it "partial".
    required: bool = False
    # Share of the run's total work, for overall progress and ETA.
    weight: float = 1.0
    # Model name/version and parameters that change the output: part of the cache key.
    version: Callable[[Settings], str] = lambda _settings: "1"
    # Stages whose stored output this one reads: their cache keys are part of this one's,
    # so an upstream change (a model, a parameter) recomputes exactly what depends on it.
    after: tuple[str, ...] = ()
    # Reads the taxonomy: its fingerprint is part of the cache key, and runs record it.
    uses_taxonomy: bool = False
    # Processing seconds per media second this stage may need, relative to the fleet's
    # ``task_time_factor``: scales its soft and hard time limits with the title's duration.
    time_factor: float = 1.0
    # Optional fan-out of long titles (workers/chunks.py). ``plan_chunks`` returns ranges in
    # the stage's own unit (milliseconds, frames...), non-overlapping and covering the whole
    # title; ``run_chunk`` analyses one range and returns a JSON-able result; ``merge`` gets
    # the results in range order, persists with ``ctx.persist`` and returns the summary.
    # ``run`` must stay the whole-title path: see :func:`chunked_run`.
    plan_chunks: Callable[[StageContext], list[range]] | None = None
    run_chunk: Callable[[StageContext, range], Any] | None = None
    merge: Callable[[StageContext, list[Any]], dict[str, Any]] | None = None

    @property
    def chunked(self) -> bool:
        return (
            self.plan_chunks is not None and self.run_chunk is not None and self.merge is not None
        )


def chunked_run(
    plan_chunks: Callable[[StageContext], list[range]],
    run_chunk: Callable[[StageContext, range], Any],
    merge: Callable[[StageContext, list[Any]], dict[str, Any]],
) -> Callable[[StageContext], dict[str, Any]]:
    """The whole-title ``run`` of a chunked stage: every chunk in turn, then the merge.
    In-process runs use it; the fleet runs the same chunks as parallel tasks."""

    def run(ctx: StageContext) -> dict[str, Any]:
        ranges = plan_chunks(ctx)
        results = []
        for i, r in enumerate(ranges):
            # Through JSON, as in the fleet where chunk results are stored between tasks.
            results.append(json.loads(json.dumps(run_chunk(ctx, r))))
            ctx.progress((i + 1) / (len(ranges) + 1))
        return merge(ctx, results)

    return run


def time_chunks(duration_s: float, chunk_s: float) -> list[range]:
    """Millisecond ranges of about ``chunk_s`` covering ``[0, duration)`` exactly, no overlap
    (a detector that needs context reads past its range but reports only inside it)."""
    total = max(1, math.ceil(duration_s * 1000))
    n = max(1, math.ceil(total / max(1, round(chunk_s * 1000))))
    bounds = [round(k * total / n) for k in range(n + 1)]
    return [range(bounds[k], bounds[k + 1]) for k in range(n)]


def cache_key(content_sha256: str, stage: str, version: str, inputs: dict | None = None) -> str:
    """Idempotency key: (content hash, stage, model version and parameters, and what the
    stage reads: its upstream stages' keys and the taxonomy fingerprint). A stage that reads
    nothing keeps the three-part key, so its stored results stay valid."""
    parts: list = [content_sha256, stage, version]
    if inputs:
        parts.append(inputs)
    raw = json.dumps(parts, separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(raw.encode()).hexdigest()


def load_taxonomy(settings: Settings) -> taxonomy.Taxonomy:
    """The taxonomy these settings name (``COLDSTART_TAXONOMY``) or the packaged one;
    raises ``TaxonomyError`` naming the file, the path in it and the error."""
    return taxonomy.load(settings.taxonomy)


def taxonomy_label(tax: taxonomy.Taxonomy) -> str:
    """What a run records as its ``taxonomy_version``: version and fingerprint prefix."""
    return f"{tax.version}@{tax.fingerprint[:16]}"


@dataclass(frozen=True)
class StageKey:
    key: str
    version: str
    taxonomy: str | None  # taxonomy_label() when the stage reads the taxonomy


def stage_key(
    session: Session, settings: Settings, stage: Stage, title_id: int, sha: str
) -> StageKey:
    """A stage's cache key for a title, from its own version, the keys of the upstream
    results actually stored (``none`` where an upstream stage has none, e.g. skipped) and
    the taxonomy fingerprint. Upstream keys are transitive: each covers its own inputs."""
    version = stage.version(settings)
    inputs: dict = {}
    if stage.after:
        inputs["after"] = {
            name: repo.current_stage_key(session, title_id, name) or "none" for name in stage.after
        }
    label = None
    if stage.uses_taxonomy:
        tax = load_taxonomy(settings)
        inputs["taxonomy"] = tax.fingerprint
        label = taxonomy_label(tax)
    return StageKey(cache_key(sha, stage.name, version, inputs), version, label)


class Throttle:
    """Lets a call through at most every ``interval`` seconds: progress writes are not free."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._last = 0.0

    def ready(self, force: bool = False) -> bool:
        t = time.monotonic()
        if force or t - self._last >= self.interval:
            self._last = t
            return True
        return False
