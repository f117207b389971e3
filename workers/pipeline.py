"""Runs a title's stages and records run and stage status, progress and timings.

The same :func:`run_stage` is called in-process here (embedded mode) and by the Celery tasks
in the fleet, so a stage behaves the same way wherever it runs.
"""

from __future__ import annotations

import logging
import resource
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.exc import IntegrityError

from analyzers.errors import StageNotApplicable
from analyzers.probe import MediaInfo
from storage import repository as repo
from storage.db import session_scope
from storage.models import RunStatus, StageStatus
from storage.objects import materialize
from workers.errors import describe
from workers.heartbeat import current_stage_label
from workers.services import derived_store, store_for_uri
from workers.settings import Settings
from workers.stages import STAGES, Stage, StageContext
from workers.stages.base import Throttle, load_taxonomy, stage_key

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StageOutcome:
    stage: str
    status: str  # StageStatus value
    error: str | None = None
    error_code: str | None = None
    permanent: bool = True
    cached: bool = False


def _cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _cuda_in_use() -> bool:
    """GPU seconds are billed when this process has initialised CUDA (a model on the GPU)."""
    torch = sys.modules.get("torch")
    try:
        return bool(torch is not None and torch.cuda.is_initialized())
    except Exception:
        return False


def _stored_summary(db: str, title_id: int, stage: str, key: str) -> dict | None:
    with session_scope(db) as session:
        result = repo.find_stage_result(session, title_id, stage, key)
        return dict(result.summary or {}) if result is not None else None


def _overall(stages: Sequence[Stage], done: dict[str, float]) -> float:
    total = sum(s.weight for s in stages) or 1.0
    return sum(s.weight * done.get(s.name, 0.0) for s in stages) / total


def run_stage(
    settings: Settings,
    run_id: int,
    stage: Stage,
    media_path: Path,
    *,
    stages: Sequence[Stage] = STAGES,
) -> StageOutcome:
    """Run one stage for a run, unless its result for this content and version exists."""
    db = settings.effective_database_url
    with session_scope(db) as session:
        run = repo.get_run(session, run_id, lock=True)
        if run is None:
            raise LookupError(f"run {run_id} not found")
        title = run.title
        sha = title.content_sha256
        info = MediaInfo.from_dict(title.media_info) if title.media_info else None
        title_id = title.id
        sk = stage_key(session, settings, stage, title_id, sha)
        version, key = sk.version, sk.key
        if sk.taxonomy is not None:
            run.taxonomy_version = sk.taxonomy
        if repo.find_stage_result(session, title_id, stage.name, key) is not None:
            repo.update_stage(
                session, run, stage.name, status=StageStatus.SUCCEEDED, cached=True, progress=1.0
            )
            run.current_stage = current_stage_label(run.stages or {})
            run.model_versions = {**(run.model_versions or {}), stage.name: version}
            return StageOutcome(stage.name, StageStatus.SUCCEEDED, cached=True)
        repo.update_stage(
            session,
            run,
            stage.name,
            status=StageStatus.RUNNING,
            started_at=repo.now().isoformat(),
            progress=0.0,
            error=None,
        )
        run.current_stage = current_stage_label(run.stages or {})
        run.model_versions = {**(run.model_versions or {}), stage.name: version}
        done = {
            n: 1.0
            for n, e in (run.stages or {}).items()
            if e.get("status") in (StageStatus.SUCCEEDED, StageStatus.SKIPPED, StageStatus.FAILED)
        }
    run_started = time.monotonic()
    throttle = Throttle(1.0)

    def on_progress(fraction: float) -> None:
        if not throttle.ready(force=fraction >= 1.0):
            return
        overall = _overall(stages, {**done, stage.name: fraction})
        elapsed = time.monotonic() - run_started
        with session_scope(db) as s:
            r = repo.get_run(s, run_id, lock=True)
            if r is None:
                return
            repo.update_stage(s, r, stage.name, progress=round(fraction, 4))
            r.progress = max(r.progress or 0.0, overall)
            r.eta_s = (elapsed / fraction - elapsed) if fraction > 0.01 else None

    ctx = StageContext(
        settings=settings,
        stage=stage.name,
        title_id=title_id,
        run_id=run_id,
        content_sha256=sha,
        media_path=media_path,
        derived=derived_store(settings),
        cache_key=key,
        model_version=version,
        info=info,
        on_progress=on_progress,
    )
    t0, cpu0 = time.monotonic(), _cpu_seconds()
    status, failure = StageStatus.SUCCEEDED, None
    summary: dict = {}
    try:
        summary = stage.run(ctx) or {}
    except IntegrityError as err:
        # A redelivered or duplicated task of the same stage committed first: its result
        # stands (same content, same version), and this one wrote nothing.
        stored = _stored_summary(db, title_id, stage.name, key)
        if stored is None:
            failure, status = describe(err), StageStatus.FAILED
        else:
            summary = {k: v for k, v in stored.items() if k != "warnings"}
    except StageNotApplicable as err:
        status, failure = StageStatus.SKIPPED, describe(err)
    except Exception as err:
        failure = describe(err)
        status = StageStatus.FAILED
        log.warning(
            "stage %s failed for run %s: %s",
            stage.name,
            run_id,
            failure.message,
            exc_info=failure.code == "internal",
        )
    duration, cpu = time.monotonic() - t0, _cpu_seconds() - cpu0
    with session_scope(db) as session:
        run = repo.get_run(session, run_id, lock=True)
        assert run is not None
        fields = {
            "status": status,
            "finished_at": repo.now().isoformat(),
            "duration_s": round(duration, 3),
            "progress": 1.0 if status != StageStatus.FAILED else None,
            "warnings": ctx.warnings,
            "summary": summary,
        }
        if failure is not None:
            fields["error"] = failure.message
            fields["error_code"] = failure.code
        repo.update_stage(session, run, stage.name, **fields)
        run.current_stage = current_stage_label(run.stages or {})
        cost = dict(run.cost or {})
        gpu = duration if _cuda_in_use() else 0.0
        cost[stage.name] = {"wall_s": round(duration, 3), "cpu_s": round(cpu, 3), "gpu_s": gpu}
        run.cost = cost
        run.progress = max(run.progress or 0.0, _overall(stages, {**done, stage.name: 1.0}))
    return StageOutcome(
        stage.name,
        status,
        error=failure.message if failure else None,
        error_code=failure.code if failure else None,
        permanent=failure.permanent if failure else True,
    )


def start(settings: Settings, run_id: int) -> None:
    with session_scope(settings.effective_database_url) as session:
        run = repo.get_run(session, run_id)
        if run is None:
            raise LookupError(f"run {run_id} not found")
        repo.start_run(session, run, [s.name for s in STAGES])


def finish(settings: Settings, run_id: int, outcomes: Sequence[StageOutcome]) -> str:
    """Decide the run's final status from its stage outcomes and store it."""
    required = {s.name for s in STAGES if s.required}
    failed = [o for o in outcomes if o.status == StageStatus.FAILED]
    fatal = next((o for o in failed if o.stage in required), None)
    if fatal is not None:
        status, error, code = RunStatus.FAILED, fatal.error, fatal.error_code
    elif failed:
        status = RunStatus.PARTIAL
        error = "; ".join(o.error or o.stage for o in failed)
        code = failed[0].error_code
    else:
        status, error, code = RunStatus.SUCCEEDED, None, None
    with session_scope(settings.effective_database_url) as session:
        run = repo.get_run(session, run_id, lock=True)
        assert run is not None
        if run.status in RunStatus.FINISHED:  # a repeated finish: one end state, one event
            return run.status
        repo.finish_run(session, run, status, error=error, error_code=code)
        if status != RunStatus.FAILED:
            repo.emit_event(
                session,
                "title.enriched",
                {"title_id": run.title_id, "run_id": run.id, "status": status},
                title_id=run.title_id,
            )
    return status


def fail_run(settings: Settings, run_id: int, error: BaseException) -> str:
    failure = describe(error)
    with session_scope(settings.effective_database_url) as session:
        run = repo.get_run(session, run_id, lock=True)
        if run is None:
            raise LookupError(f"run {run_id} not found")
        if run.status in RunStatus.FINISHED:
            return run.status
        repo.finish_run(
            session, run, RunStatus.FAILED, error=failure.message, error_code=failure.code
        )
    return RunStatus.FAILED


def preflight(settings: Settings, stages: Sequence[Stage] = STAGES) -> None:
    """Refuse to start a run whose inputs are broken before any stage runs: a taxonomy file
    with an error fails the run with the file, the path in it and the error."""
    if any(s.uses_taxonomy for s in stages):
        load_taxonomy(settings)


def run_pipeline(settings: Settings, run_id: int) -> str:
    """Run every stage of a run in this process, in order. Returns the final run status."""
    try:
        preflight(settings)
    except Exception as err:
        return fail_run(settings, run_id, err)
    start(settings, run_id)
    with session_scope(settings.effective_database_url) as session:
        run = repo.get_run(session, run_id)
        assert run is not None
        source_uri = run.title.source_uri
    try:
        store, key = store_for_uri(settings, source_uri)
        with materialize(store, key, settings.effective_work_dir) as media_path:
            outcomes: list[StageOutcome] = []
            for stage in STAGES:
                outcome = run_stage(settings, run_id, stage, media_path)
                outcomes.append(outcome)
                if outcome.status == StageStatus.FAILED and stage.required:
                    break
    except Exception as err:  # source unreadable: nothing to analyse
        return fail_run(settings, run_id, err)
    return finish(settings, run_id, outcomes)


def context_for(
    settings: Settings, run_id: int, stage: Stage, media_path: Path
) -> tuple[StageContext, bool]:
    """A stage's context outside :func:`run_stage` (chunk tasks, chunk planning), and
    whether its result for this content and version is already stored."""
    with session_scope(settings.effective_database_url) as session:
        run = repo.get_run(session, run_id)
        if run is None:
            raise LookupError(f"run {run_id} not found")
        title = run.title
        sk = stage_key(session, settings, stage, title.id, title.content_sha256)
        version, key = sk.version, sk.key
        done = repo.find_stage_result(session, title.id, stage.name, key) is not None
        ctx = StageContext(
            settings=settings,
            stage=stage.name,
            title_id=title.id,
            run_id=run_id,
            content_sha256=title.content_sha256,
            media_path=media_path,
            derived=derived_store(settings),
            cache_key=key,
            model_version=version,
            info=MediaInfo.from_dict(title.media_info) if title.media_info else None,
        )
    return ctx, done
