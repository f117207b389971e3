"""Ingestion triggers: the S3 webhook, the periodic sweep and the CLI announce objects here.

However many times (and however concurrently) an object is announced, it becomes one title
and one run: announcements of known objects stop here, and the rest meet in
:func:`workers.ingest.ingest_object`, whose writes are race-safe (unique content hash and
source URI, run creation under a row lock).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from analyzers.errors import AnalysisError
from storage import repository as repo
from storage.db import session_scope
from storage.models import RunStatus
from storage.objects import InvalidObjectKey, validate_key
from workers.errors import TransientError, describe
from workers.logs import get_logger
from workers.metrics import ANNOUNCEMENTS
from workers.services import incoming_store, object_uri
from workers.settings import Settings

log = get_logger(__name__)

QUEUED_GRACE_S = 600  # a queued run unplanned this long lost its message: send it again


@dataclass(frozen=True)
class Announcement:
    key: str
    outcome: str  # queued | known | ignored
    reason: str | None = None
    uri: str | None = None


def ingest_uri(settings: Settings, bucket: str, key: str) -> str:
    """The URI to ingest from (key URL-quoted, as ``parse_object_uri`` expects)."""
    if settings.object_store == "s3":
        return f"s3://{bucket}/{quote(key, safe='/')}"
    return object_uri(settings, bucket, key)


def known_uri(settings: Settings, bucket: str, key: str) -> str:
    """The URI stored in title_sources for this object (see ``ingest_object``)."""
    if settings.object_store == "s3":
        return f"s3://{bucket}/{key}"
    return object_uri(settings, bucket, key)


def announce(settings: Settings, bucket: str, key: str, *, trigger: str) -> Announcement:
    """An object exists: queue its ingestion unless it is known or not ours."""
    result = _announce(settings, bucket, key)
    ANNOUNCEMENTS.labels(trigger, result.outcome).inc()
    log.info("announced", trigger=trigger, key=key, outcome=result.outcome, reason=result.reason)
    return result


def _announce(settings: Settings, bucket: str, key: str) -> Announcement:
    if bucket != settings.incoming_bucket:
        return Announcement(key, "ignored", f"bucket {bucket!r} is not the incoming bucket")
    if not key.startswith(settings.incoming_prefix):
        return Announcement(key, "ignored", f"outside the prefix {settings.incoming_prefix!r}")
    if key.endswith("/"):
        return Announcement(key, "ignored", "a folder marker, not an object")
    try:
        validate_key(key)
    except InvalidObjectKey as err:
        return Announcement(key, "ignored", str(err))
    with session_scope(settings.effective_database_url) as session:
        if repo.title_id_for_source(session, known_uri(settings, bucket, key)) is not None:
            return Announcement(key, "known")
    uri = ingest_uri(settings, bucket, key)
    if settings.embedded:
        threading.Thread(
            target=ingest_and_dispatch, args=(settings, uri), name="ingest", daemon=True
        ).start()
    else:
        from workers.queueing import enqueue_ingest

        enqueue_ingest(settings, uri)
    return Announcement(key, "queued", uri=uri)


def ingest_and_dispatch(settings: Settings, uri: str) -> dict[str, Any]:
    """Register the object and start its run if nobody has (the ``ingest`` task's body)."""
    from workers.dispatch import dispatch_run
    from workers.ingest import ingest_object

    try:
        result = ingest_object(settings, uri)
    except (AnalysisError, InvalidObjectKey) as err:
        failure = describe(err)
        log.warning("ingest refused", uri=uri, reason=failure.message)
        return {"uri": uri, "error": failure.message, "code": failure.code}
    if settings.embedded:
        start = result.created_run
    else:
        # Also when this is a redelivered message whose first delivery created the run but
        # died before queueing it; a duplicate plan is harmless (the first planner wins).
        with session_scope(settings.effective_database_url) as session:
            run = repo.get_run(session, result.run_id)
            start = run is not None and run.status == RunStatus.QUEUED and run.task_id is None
    if start:
        dispatch_run(settings, result.run_id)
    return {
        "uri": uri,
        "title_id": result.title_id,
        "run_id": result.run_id,
        "created_title": result.created_title,
        "dispatched": start,
    }


@dataclass
class SweepReport:
    listed: int = 0
    queued: int = 0
    known: int = 0
    ignored: int = 0
    requeued_runs: list[int] = field(default_factory=list)
    stalled_runs: list[int] = field(default_factory=list)


def stale_after_s(settings: Settings) -> int:
    from workers.celery_app import visibility_timeout

    return settings.stale_run_s or 2 * visibility_timeout(settings)


def sweep_incoming(settings: Settings) -> SweepReport:
    """List the incoming bucket and announce what is not known (lost webhook events); queue
    again runs whose message was lost; fail runs silent for too long (re-runnable)."""
    report = SweepReport()
    store = incoming_store(settings)
    for obj in store.list(settings.incoming_prefix):
        report.listed += 1
        outcome = announce(settings, settings.incoming_bucket, obj.key, trigger="sweep").outcome
        setattr(report, outcome, getattr(report, outcome) + 1)
    if settings.embedded:
        return report
    from workers import pipeline
    from workers.queueing import enqueue_run

    now = repo.now()
    with session_scope(settings.effective_database_url) as session:
        queued = repo.stale_runs(
            session, status=RunStatus.QUEUED, older_than=now - timedelta(seconds=QUEUED_GRACE_S)
        )
        report.requeued_runs = [r.id for r in queued]
        stale = stale_after_s(settings)
        running = repo.stale_runs(
            session, status=RunStatus.RUNNING, older_than=now - timedelta(seconds=stale)
        )
        report.stalled_runs = [r.id for r in running]
    for run_id in report.requeued_runs:
        enqueue_run(settings, run_id)
    for run_id in report.stalled_runs:
        err = TransientError(f"stalled: no progress for {stale} s (`coldstart retry {run_id}`)")
        pipeline.fail_run(settings, run_id, err)
    return report
