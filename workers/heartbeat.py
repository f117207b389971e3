"""Heartbeats of running stage and chunk tasks, and the sweep that re-sends lost ones.

A task *owns* its piece of work (a stage, or one chunk of it) while it runs: the run's
stage entry holds ``owners[key] = {token, host, pid, at, resend}``, and a background thread
refreshes ``at`` every ``heartbeat_s`` (also while the task sits in a long ffmpeg or model
call). ``resend`` is the task's own message (its signature, with the rest of the canvas it
carries), so whoever finds the owner dead can send exactly that message again.

An owner is dead when its heartbeat is older than ``stale_stage_s``, or at once when it ran
on this machine and its process is gone. The sweep (:func:`sweep_stages`, run by beat every
``stage_sweep_s``) re-sends dead owners' messages: recovery no longer waits for the Redis
visibility timeout. A broker redelivery (RabbitMQ requeues a dead consumer's messages at
once) meets the same test when it claims the work. Each loss counts as an attempt; after
``retry_max`` the run fails with its reason ("worker lost 3 times during shots").

Stages are idempotent (same content, stage and version: one result), so a duplicate
delivery is harmless; while an owner lives, a duplicate waits and then stands down.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from storage import repository as repo
from storage.db import session_scope
from storage.models import RunStatus, StageStatus
from workers.settings import Settings

log = logging.getLogger(__name__)

HOST = socket.gethostname()
STAGE_KEY = "stage"


def chunk_key(encoded: list[int]) -> str:
    return "chunk:{}-{}".format(*encoded[:2])


def _now() -> datetime:
    return repo.now()


def _age_s(iso: str | None, now: datetime) -> float | None:
    if not iso:
        return None
    try:
        then = datetime.fromisoformat(iso)
    except ValueError:
        return None
    if then.tzinfo is None and now.tzinfo is not None:
        then = then.replace(tzinfo=now.tzinfo)
    return (now - then).total_seconds()


def _process_gone(pid: int) -> bool:
    """True when ``pid`` no longer runs on this machine (a zombie counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return False


def owner_dead(owner: dict[str, Any], now: datetime, stale_s: float) -> bool:
    age = _age_s(owner.get("at"), now)
    if age is None or age > stale_s:
        return True
    return owner.get("host") == HOST and _process_gone(int(owner.get("pid") or 0))


# --- what is in flight (progress display) -----------------------------------------------------


def in_flight(stages: dict[str, Any]) -> list[str]:
    """Stages running now, in pipeline order (the run's stage entries keep it)."""
    return [n for n, e in stages.items() if e.get("status") == StageStatus.RUNNING]


def current_stage_label(stages: dict[str, Any]) -> str | None:
    """``run.current_stage``: every stage in flight, not the last one started."""
    names = in_flight(stages)
    return ", ".join(names)[:64] if names else None


def heartbeat_age_s(entry: dict[str, Any], now: datetime | None = None) -> float | None:
    return _age_s(entry.get("heartbeat_at"), now or _now())


def describe_stage(name: str, entry: dict[str, Any], now: datetime | None = None) -> str:
    """One line per stage in flight: "shots 40% (heartbeat 3s ago)", or after a loss
    "shots: worker lost at 07:54:47, re-queued"."""
    now = now or _now()
    if entry.get("requeued_at") and not entry.get("owners"):
        lost_at = datetime.fromisoformat(entry["requeued_at"]).strftime("%H:%M:%S")
        return f"{name}: worker lost at {lost_at}, re-queued"
    parts = [name]
    if entry.get("progress") is not None:
        parts.append(f"{entry['progress'] * 100:.0f}%")
    if entry.get("chunks"):
        parts.append(f"chunk {entry.get('chunks_done', 0)}/{entry['chunks']}")
    age = heartbeat_age_s(entry, now)
    if age is not None:
        parts.append(f"(heartbeat {max(age, 0):.0f}s ago)")
    if entry.get("lost"):
        parts.append(f"[worker lost {entry['lost']}x]")
    return " ".join(parts)


def describe_in_flight(stages: dict[str, Any], now: datetime | None = None) -> list[str]:
    now = now or _now()
    return [describe_stage(n, stages[n], now) for n in in_flight(stages)]


# --- owning a piece of work ----------------------------------------------------------------------


class StandDown(Exception):
    """Another live task owns this work, or finished it while we waited: do nothing."""


class WorkerLost(Exception):
    """The work was lost too often: the run has been failed with this reason."""


def _lost_reason(stage: str, lost: int) -> str:
    return f"worker lost {lost} times during {stage}"


def _mark_lost(entry: dict[str, Any], owner: dict[str, Any], now: datetime) -> int:
    """Count one loss of ``owner`` (once: the caller removes or replaces the owner)."""
    entry["lost"] = int(entry.get("lost", 0)) + 1
    entry["requeued_at"] = now.isoformat()
    entry["lost_owner"] = {k: owner.get(k) for k in ("host", "pid", "at")}
    return entry["lost"]


def _fail_lost(session: Any, run: Any, stage: str, entry: dict[str, Any]) -> str:
    reason = _lost_reason(stage, entry["lost"])
    entry.update(status=StageStatus.FAILED, error=reason, error_code="worker_lost", owners={})
    entry["finished_at"] = _now().isoformat()
    repo.update_stage(session, run, stage, **entry)
    repo.finish_run(session, run, RunStatus.FAILED, error=reason, error_code="worker_lost")
    return reason


def _write(session: Any, run: Any, stage: str, entry: dict[str, Any]) -> None:
    repo.update_stage(session, run, stage, **entry)
    run.current_stage = current_stage_label(run.stages or {})


# Tokens this process holds right now. An owner entry naming this host and process with a
# token not held here is a leftover of an earlier attempt of this process (its release failed,
# e.g. during a database outage): a retry takes it over instead of waiting for it.
_HELD: set[str] = set()


def _leftover_of_this_process(owner: dict[str, Any]) -> bool:
    return (
        owner.get("host") == HOST
        and owner.get("pid") == os.getpid()
        and owner.get("token") not in _HELD
    )


def _superseded(owner: dict[str, Any], task_id: str | None, retries: int) -> bool:
    """Whether ``owner`` is an earlier attempt of this very task (same Celery task id, fewer
    retries). An attempt hands over to its retry only by ending, so such an entry is a
    leftover whose release failed, even when the retry runs in another pool process; a
    redelivered duplicate carries the same retry count and must still wait for its twin."""
    return (
        task_id is not None
        and owner.get("task") == task_id
        and (int(owner.get("retries") or 0) < retries)
    )


@dataclass
class Ownership:
    settings: Settings
    run_id: int
    stage: str
    key: str
    resend: dict[str, Any] | None = None
    task_id: str | None = None  # the Celery task, and which of its attempts this is
    retries: int = 0
    token: str = field(default_factory=lambda: uuid.uuid4().hex)
    failure: str = ""

    def _claim_once(self) -> str:
        """'claimed', 'busy' (a live owner), 'finished' (the run ended), or 'lost' (attempts
        spent: the run is failed)."""
        now = _now()
        with session_scope(self.settings.effective_database_url) as session:
            run = repo.get_run(session, self.run_id, lock=True)
            if run is None or run.status in RunStatus.FINISHED:
                return "finished"
            entry = dict((run.stages or {}).get(self.stage, {}))
            owners = dict(entry.get("owners") or {})
            current = owners.get(self.key)
            if (
                current
                and current.get("token") != self.token
                and not _leftover_of_this_process(current)
                and not _superseded(current, self.task_id, self.retries)
            ):
                if not owner_dead(current, now, self.settings.stale_stage_s):
                    return "busy"
                lost = _mark_lost(entry, current, now)
                log.warning("%s %s: %s", self.stage, self.key, _lost_reason(self.stage, lost))
                if lost >= self.settings.retry_max:
                    self.failure = _fail_lost(session, run, self.stage, entry)
                    return "lost"  # committed on leaving the session, then raised
            owners[self.key] = {
                "token": self.token,
                "host": HOST,
                "pid": os.getpid(),
                "at": now.isoformat(),
                "resend": self.resend,
                "task": self.task_id,
                "retries": self.retries,
            }
            entry["owners"] = owners
            entry["heartbeat_at"] = now.isoformat()
            if entry.get("status") in (None, StageStatus.PENDING):
                entry["status"] = StageStatus.RUNNING
                entry.setdefault("started_at", now.isoformat())
            _write(session, run, self.stage, entry)
            _HELD.add(self.token)
            return "claimed"

    def claim(self, poll_s: float = 2.0) -> None:
        """Own the work; while a live owner holds it, wait. Raises StandDown when that owner
        finishes (it sends the rest of the canvas), WorkerLost when attempts are spent."""
        waited = False
        while True:
            state = self._claim_once()
            if state == "claimed":
                return
            if state == "lost":
                raise WorkerLost(self.failure)
            if state == "finished" or (waited and not self._owned_by_other()):
                raise StandDown(state)
            waited = True
            time.sleep(poll_s)

    def _owned_by_other(self) -> bool:
        with session_scope(self.settings.effective_database_url) as session:
            run = repo.get_run(session, self.run_id)
            entry = (run.stages or {}).get(self.stage, {}) if run else {}
            current = (entry.get("owners") or {}).get(self.key)
            return bool(current and current.get("token") != self.token)

    def beat(self) -> bool:
        """Refresh the heartbeat; False when this task no longer owns the work."""
        now = _now().isoformat()
        with session_scope(self.settings.effective_database_url) as session:
            run = repo.get_run(session, self.run_id, lock=True)
            if run is None:
                return False
            entry = dict((run.stages or {}).get(self.stage, {}))
            owners = dict(entry.get("owners") or {})
            mine = owners.get(self.key)
            if not mine or mine.get("token") != self.token:
                return False
            owners[self.key] = {**mine, "at": now}
            repo.update_stage(session, run, self.stage, owners=owners, heartbeat_at=now)
            return True

    def release(self) -> None:
        with session_scope(self.settings.effective_database_url) as session:
            run = repo.get_run(session, self.run_id, lock=True)
            if run is None:
                return
            entry = dict((run.stages or {}).get(self.stage, {}))
            owners = dict(entry.get("owners") or {})
            if (owners.get(self.key) or {}).get("token") == self.token:
                del owners[self.key]
                entry["owners"] = owners
                if not owners:
                    entry.pop("requeued_at", None)
                _write(session, run, self.stage, entry)


@contextlib.contextmanager
def owning(
    settings: Settings,
    run_id: int,
    stage: str,
    key: str,
    resend: dict[str, Any] | None,
    *,
    task_id: str | None = None,
    retries: int = 0,
) -> Iterator[Ownership]:
    """Claim the work, heartbeat from a background thread while the body runs, release."""
    own = Ownership(
        settings, run_id, stage, key, _jsonable(resend), task_id=task_id, retries=retries
    )
    own.claim()
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(settings.heartbeat_s):
            try:
                if not own.beat():
                    return
            except Exception as err:  # the database may be briefly down: keep trying
                log.warning("heartbeat of %s %s failed: %s", stage, key, err)

    thread = threading.Thread(target=loop, name=f"heartbeat-{stage}-{key}", daemon=True)
    thread.start()
    try:
        yield own
    finally:
        stop.set()
        thread.join(timeout=5)
        _HELD.discard(own.token)
        with contextlib.suppress(Exception):
            own.release()


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str)) if value is not None else None


# --- the sweep ------------------------------------------------------------------------------------


@dataclass
class StageSweep:
    requeued: list[tuple[int, str, str]] = field(default_factory=list)  # run, stage, key
    failed: list[tuple[int, str]] = field(default_factory=list)  # run, reason
    next_stale_in_s: float | None = None  # when the freshest live owner would go stale


def sweep_stages(settings: Settings, send: Callable[[dict[str, Any]], None]) -> StageSweep:
    """Find dead owners of running work; send their messages again (``send``) or, after
    ``retry_max`` losses, fail the run with the reason."""
    report = StageSweep()
    now = _now()
    stale = settings.stale_stage_s
    to_send: list[dict[str, Any]] = []
    with session_scope(settings.effective_database_url) as session:
        run_ids = [r.id for r in repo.list_runs(session, status=RunStatus.RUNNING, limit=10_000)]
    for run_id in run_ids:
        with session_scope(settings.effective_database_url) as session:
            run = repo.get_run(session, run_id, lock=True)
            if run is None or run.status != RunStatus.RUNNING:
                continue
            for stage, original in list((run.stages or {}).items()):
                owners = dict(original.get("owners") or {})
                entry, changed, failed = dict(original), False, False
                for key, owner in list(owners.items()):
                    if not owner_dead(owner, now, stale):
                        left = stale - (_age_s(owner.get("at"), now) or 0.0)
                        if report.next_stale_in_s is None or left < report.next_stale_in_s:
                            report.next_stale_in_s = left
                        continue
                    del owners[key]
                    changed = True
                    lost = _mark_lost(entry, owner, now)
                    log.warning("run %s: %s %s: worker lost (%d)", run_id, stage, key, lost)
                    if lost >= settings.retry_max:
                        report.failed.append((run_id, _fail_lost(session, run, stage, entry)))
                        failed = True
                        break
                    if owner.get("resend"):
                        to_send.append(owner["resend"])
                        report.requeued.append((run_id, stage, key))
                if failed:
                    break
                if changed:
                    entry["owners"] = owners
                    _write(session, run, stage, entry)
    for message in to_send:
        send(message)
    return report


def run_sweeper(settings: Settings, send: Callable[[dict[str, Any]], None]) -> threading.Thread:
    """Beat's stage sweep: every ``stage_sweep_s``, and also as soon as the freshest known
    heartbeat would go stale, so a loss is noticed about ``stale_stage_s`` after it."""

    def loop() -> None:
        while True:
            wait = settings.stage_sweep_s
            try:
                report = sweep_stages(settings, send)
                if report.requeued or report.failed:
                    log.warning("stage sweep: %s", report)
                if report.next_stale_in_s is not None:
                    wait = min(wait, max(1.0, report.next_stale_in_s + 0.5))
            except Exception as err:
                log.warning("stage sweep failed: %s", err)
            time.sleep(wait)

    thread = threading.Thread(target=loop, name="stage-sweep", daemon=True)
    thread.start()
    return thread
