"""Celery tasks: one title's analysis as a canvas built from the stage registry.

``enqueue_run`` sends ``plan_run`` (io queue). The planner claims the run (duplicates of it
become no-ops), then sends the gate (probe) followed by ``expand_run``; with the title's
duration known, ``expand_run`` sends the rest, sized to it::

    probe -> expand -> ( shots -> keyframes  ||  audio -> speech ) -> join -> vision
          -> signals -> fusion -> finish (persist run status + outbox event) -> publish

Each stage task runs :func:`workers.pipeline.run_stage` on the stage's queue (io|cpu|gpu):
the same code as the in-process pipeline, idempotent per (content, stage, version). Chunked
stages become ``group(chunks) -> merge``. Stage tasks record failures instead of raising,
so a bad title never breaks the canvas: ``finish`` reads the outcome from the database.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Iterator
from dataclasses import asdict
from typing import Any

from celery import Task, chain, group
from celery.canvas import Signature
from celery.exceptions import Ignore, Retry
from celery.utils.log import get_task_logger

from storage import repository as repo
from storage.db import session_scope
from storage.models import RunStatus, StageStatus
from workers import chunks, heartbeat, pipeline
from workers.canvas import build_graph, time_limits
from workers.celery_app import app
from workers.errors import TransientError, describe, is_transient
from workers.logs import bound
from workers.media_cache import local_media
from workers.metrics import RUNS_FINISHED, STAGE_FAILURES, STAGE_SECONDS, TASK_RETRIES
from workers.queueing import enqueue_ingest, enqueue_run
from workers.settings import Settings, get_settings
from workers.stages import STAGES, Stage, stage_named
from workers.stages.plugins import configure_stages

log = get_task_logger(__name__)

__all__ = ["app", "enqueue_ingest", "enqueue_run"]

configure_stages(get_settings())


def backoff_s(settings: Settings, retries: int) -> float:
    """Exponential backoff with jitter: half fixed, half random, so a fleet that lost S3
    at the same moment does not come back in lockstep."""
    ceiling = min(settings.retry_backoff_max_s, settings.retry_backoff_s * 2**retries)
    return ceiling / 2 + random.uniform(0, ceiling / 2)


class PipelineTask(Task):
    """Retries transient failures (S3, database, network) with backoff; lets others fail."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except Retry:
            raise
        except Exception as err:
            settings = get_settings()
            if is_transient(err) and self.request.retries < settings.retry_max:
                TASK_RETRIES.labels(self.name).inc()
                delay = backoff_s(settings, self.request.retries)
                log.warning("%s: transient failure, retry in %.1fs: %s", self.name, delay, err)
                # Celery caps retries at the task's max_retries (3 by default): ours is the setting.
                raise self.retry(exc=err, countdown=delay, max_retries=settings.retry_max) from err
            raise


def _task(name: str, **options: Any) -> Any:
    return app.task(name=f"coldstart.{name}", bind=True, base=PipelineTask, **options)


# --- planning ---------------------------------------------------------------------------------


@_task("plan_run")
def plan_run(self: Task, run_id: int) -> str:
    settings = get_settings()
    with bound(run_id=run_id, task_id=self.request.id):
        with session_scope(settings.effective_database_url) as session:
            run = repo.get_run(session, run_id, lock=True)
            if run is None:
                log.warning("run %s not found", run_id)
                return "missing"
            if run.status in RunStatus.FINISHED:
                return run.status
            if not repo.claim_run(session, run_id, self.request.id):
                return "duplicate"  # another planner owns this run
            duration = run.title.duration_s
        pipeline.start(settings, run_id)
        graph = build_graph(STAGES)
        gate = [stage_signature(settings, run_id, stage_named(n), duration) for n in graph.gate]
        chain(*gate, expand_run.si(run_id)).on_error(run_failed.s(run_id)).apply_async()
        return "planned"


@_task("expand_run")
def expand_run(self: Task, run_id: int) -> str:
    settings = get_settings()
    with bound(run_id=run_id):
        with session_scope(settings.effective_database_url) as session:
            run = repo.get_run(session, run_id)
            if run is None or run.status in RunStatus.FINISHED:
                return "finished"
            blocked = _gate_failed(run.stages or {})
            duration = run.title.duration_s
        tail = [finish_run.si(run_id), publish_events.si()]
        if blocked:  # bad input: nothing to fan out
            chain(*tail).apply_async()
            return "gate_failed"
        parts: list[Signature] = []
        for level in build_graph(STAGES).levels:
            branches = [
                chain(*(_node(settings, run_id, stage_named(n), duration) for n in branch))
                for branch in level
            ]
            if len(branches) == 1:
                parts.append(branches[0])
            else:
                parts += [group(branches), join.si(run_id)]
        chain(*parts, *tail).on_error(run_failed.s(run_id)).apply_async()
        return "expanded"


def _gate_failed(stages: dict[str, Any]) -> bool:
    ok = (StageStatus.SUCCEEDED, StageStatus.SKIPPED)
    return any(stages.get(n, {}).get("status") not in ok for n in build_graph(STAGES).gate)


def _node(settings: Settings, run_id: int, stage: Stage, duration: float | None) -> Signature:
    """A stage's part of the canvas: one task, or its chunks in parallel then the merge."""
    if stage.chunked:
        ranges = chunks.plan(settings, run_id, stage)
        if len(ranges) > 1:
            total = sum(len(r) for r in ranges) or 1
            encoded = [chunks.encode_range(r) for r in ranges]
            header = group(
                chunk_task.si(run_id, stage.name, chunks.encode_range(r), len(ranges)).set(
                    queue=stage.queue,
                    **_limits(settings, stage, duration, len(r) / total),
                )
                for r in ranges
            )
            merge = stage_signature(settings, run_id, stage, duration, merge_chunks=encoded)
            return chain(header, merge)
    return stage_signature(settings, run_id, stage, duration)


def _limits(
    settings: Settings, stage: Stage, duration: float | None, share: float = 1.0
) -> dict[str, int]:
    soft, hard = time_limits(settings, stage, duration, share)
    return {"soft_time_limit": soft, "time_limit": hard}


def stage_signature(
    settings: Settings,
    run_id: int,
    stage: Stage,
    duration: float | None,
    merge_chunks: list[list[int]] | None = None,
) -> Signature:
    return stage_task.si(run_id, stage.name, merge_chunks).set(
        queue=stage.queue, **_limits(settings, stage, duration)
    )


# --- stage work ---------------------------------------------------------------------------------


def _run_context(settings: Settings, run_id: int) -> tuple[str | None, str, str, int]:
    """(why the run must not go on or None, source URI, sha256, title id)."""
    with session_scope(settings.effective_database_url) as session:
        run = repo.get_run(session, run_id)
        if run is None:
            return "missing", "", "", 0
        title = run.title
        stop = None
        if run.status in RunStatus.FINISHED:
            stop = "finished"
        elif _required_failed(run.stages or {}):
            stop = "required_failed"
        return stop, title.source_uri, title.content_sha256, title.id


def _required_failed(stages: dict[str, Any]) -> bool:
    required = {s.name for s in STAGES if s.required}
    return any(stages.get(n, {}).get("status") == StageStatus.FAILED for n in required)


@_task("stage")
def stage_task(
    self: Task, run_id: int, stage_name: str, merge_chunks: list[list[int]] | None = None
) -> dict[str, Any]:
    settings = get_settings()
    stage = stage_named(stage_name)
    stop, source_uri, sha, title_id = _run_context(settings, run_id)
    with bound(run_id=run_id, title_id=title_id, stage=stage_name, task_id=self.request.id):
        if stop is not None:
            return {"stage": stage_name, "status": "not_run", "reason": stop}
        if merge_chunks is not None:
            stage = chunks.merging_stage(stage, [chunks.decode_range(v) for v in merge_chunks])
        t0 = time.monotonic()
        try:
            with _owning(self, settings, run_id, stage, heartbeat.STAGE_KEY):
                media = local_media(settings, source_uri, sha)
                outcome = pipeline.run_stage(settings, run_id, stage, media)
        except (Retry, Ignore):
            raise
        except Exception as err:
            if is_transient(err) and self.request.retries < settings.retry_max:
                raise _retry(self, settings, run_id, stage_name, err) from err
            failure = _record_failure(settings, run_id, stage_name, err)
            STAGE_FAILURES.labels(stage_name, failure.code).inc()
            return {"stage": stage_name, "status": StageStatus.FAILED, "error": failure.message}
        if (
            outcome.status == StageStatus.FAILED
            and not outcome.permanent
            and self.request.retries < settings.retry_max
        ):
            raise _retry(self, settings, run_id, stage_name, TransientError(outcome.error))
        STAGE_SECONDS.labels(stage_name, outcome.status).observe(time.monotonic() - t0)
        if outcome.status == StageStatus.FAILED:
            STAGE_FAILURES.labels(stage_name, outcome.error_code or "unknown").inc()
        log.info("stage %s: %s%s", stage_name, outcome.status, " (cached)" * outcome.cached)
        return asdict(outcome)


@_task("chunk")
def chunk_task(self: Task, run_id: int, stage_name: str, encoded: list[int], total: int) -> str:
    settings = get_settings()
    stage = stage_named(stage_name)
    stop, source_uri, sha, title_id = _run_context(settings, run_id)
    with bound(run_id=run_id, title_id=title_id, stage=stage_name, chunk=encoded):
        if stop is not None:
            return "not_run"
        t0 = time.monotonic()
        try:
            with _owning(self, settings, run_id, stage, heartbeat.chunk_key(encoded)):
                media = local_media(settings, source_uri, sha)
                done = chunks.run_chunk(
                    settings, run_id, stage, chunks.decode_range(encoded), total, media
                )
        except (Retry, Ignore):
            raise
        except Exception as err:
            if is_transient(err) and self.request.retries < settings.retry_max:
                raise _retry(self, settings, run_id, stage_name, err) from err
            # Not fatal here: the merge computes a missing chunk itself, and fails the
            # stage with the reason if it fails again.
            log.warning("chunk %s of %s failed: %s", encoded, stage_name, describe(err).message)
            return "failed"
        STAGE_SECONDS.labels(f"{stage_name}:chunk", "succeeded").observe(time.monotonic() - t0)
        return done


@contextlib.contextmanager
def _owning(self: Task, settings: Settings, run_id: int, stage: Stage, key: str) -> Iterator[None]:
    """Own the work with a heartbeat (workers/heartbeat.py), storing this task's message so
    that the sweep can send it again if this worker dies. A duplicate delivery whose twin is
    alive stands down (Ignore: no result, no continuation; the twin sends the rest)."""
    resend = dict(self.signature_from_request(queue=stage.queue))
    try:
        with heartbeat.owning(
            settings,
            run_id,
            stage.name,
            key,
            resend,
            task_id=self.request.id,
            retries=self.request.retries or 0,
        ):
            yield
    except heartbeat.StandDown as err:
        log.info("%s %s: another delivery owns it (%s); standing down", stage.name, key, err)
        raise Ignore() from err
    except heartbeat.WorkerLost as err:
        log.error("run %s: %s", run_id, err)
        raise Ignore() from err


def _retry(self: Task, settings: Settings, run_id: int, stage: str, err: BaseException) -> Retry:
    delay = backoff_s(settings, self.request.retries)
    TASK_RETRIES.labels(self.name).inc()
    message = str(err) if isinstance(err, TransientError) else describe(err, stage).message
    log.warning(
        "%s: transient failure, retry %d in %.1fs: %s",
        stage,
        self.request.retries + 1,
        delay,
        message,
    )
    try:  # let watchers see why it waits; the database may be what is down
        with session_scope(settings.effective_database_url) as session:
            run = repo.get_run(session, run_id, lock=True)
            if run is not None:
                repo.update_stage(
                    session,
                    run,
                    stage,
                    status=StageStatus.RUNNING,
                    retries=self.request.retries + 1,
                    last_error=message,
                )
    except Exception:
        pass
    return self.retry(exc=err, countdown=delay, max_retries=settings.retry_max)


def _record_failure(settings: Settings, run_id: int, stage: str, err: BaseException) -> Any:
    failure = describe(err, stage)
    log.warning("stage %s failed: %s", stage, failure.message)
    with session_scope(settings.effective_database_url) as session:
        run = repo.get_run(session, run_id, lock=True)
        if run is not None:
            repo.update_stage(
                session,
                run,
                stage,
                status=StageStatus.FAILED,
                error=failure.message,
                error_code=failure.code,
                finished_at=repo.now().isoformat(),
            )
    return failure


# --- joins, end of run, events ------------------------------------------------------------------


@_task("join")
def join(self: Task, run_id: int) -> int:
    """Barrier between levels of the graph (the chord body of a level's group)."""
    return run_id


@_task("finish_run")
def finish_run(self: Task, run_id: int) -> str:
    """Persist the run's end state and its ``title.enriched`` event (one transaction)."""
    settings = get_settings()
    with bound(run_id=run_id):
        with session_scope(settings.effective_database_url) as session:
            run = repo.get_run(session, run_id)
            if run is None:
                return "missing"
            entries = dict(run.stages or {})
        outcomes = [
            pipeline.StageOutcome(
                s.name, e["status"], error=e.get("error"), error_code=e.get("error_code")
            )
            for s in STAGES
            if (e := entries.get(s.name))
            and e.get("status") in (StageStatus.SUCCEEDED, StageStatus.SKIPPED, StageStatus.FAILED)
        ]
        status = pipeline.finish(settings, run_id, outcomes)
        RUNS_FINISHED.labels(status).inc()
        log.info("run %s finished: %s", run_id, status)
        return status


@app.task(name="coldstart.run_failed", ignore_result=True)
def run_failed(request: Any, exc: BaseException, traceback: Any, run_id: int) -> None:
    """Errback of a run's canvas: a task died for good (e.g. hard time limit). Not bound:
    Celery calls an errback taking ``request`` first in the failing worker, directly."""
    settings = get_settings()
    with bound(run_id=run_id):
        log.error("run %s: task %s failed: %s", run_id, getattr(request, "task", "?"), exc)
        pipeline.fail_run(settings, run_id, exc)
        RUNS_FINISHED.labels(RunStatus.FAILED).inc()


@_task("publish_events")
def publish_events(self: Task) -> int:
    from workers.events import publish_pending

    return publish_pending(get_settings(), self.app)


# --- triggers -----------------------------------------------------------------------------------


@_task("ingest")
def ingest(self: Task, uri: str) -> dict[str, Any]:
    """Register an announced object (one title per content, one run) and queue its run."""
    from workers.triggers import ingest_and_dispatch

    with bound(uri=uri, task_id=self.request.id):
        return ingest_and_dispatch(get_settings(), uri)


@_task("sweep")
def sweep(self: Task) -> dict[str, Any]:
    """Beat: announce objects the webhook missed; fail runs that went silent."""
    from workers.triggers import sweep_incoming

    return asdict(sweep_incoming(get_settings()))
