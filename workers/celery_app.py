"""The Celery application of the fleet: ``celery -A workers.celery_app worker -Q io,cpu,gpu``.

Reliability choices (tested in tests/pipeline):

* ``task_acks_late`` + ``task_reject_on_worker_lost``: a message is acknowledged only after
  its task ends, so a worker killed mid-stage (OOM, ``kill -9``, lost node) gives the stage
  back to the queue; stages are idempotent (workers/pipeline.run_stage), so a repeat writes
  nothing twice.
* ``worker_prefetch_multiplier = 1``: a worker holds no more messages than it is running, so
  a long title never queues behind another one on a busy worker (``coldstart worker`` raises
  it for io-only workers, whose tasks are short).
* Redis ``visibility_timeout`` above the longest task (``task_max_s`` caps every hard time
  limit): an unacknowledged message comes back only when its worker is surely gone.
* Recovery does not wait for it: running stage and chunk tasks heartbeat, and beat's stage
  sweep re-sends a task whose heartbeat is older than ``stale_stage_s`` (workers/heartbeat.py).
* Transient failures (S3, database, network) retry with exponential backoff and full
  jitter (workers/tasks.py); bad input fails at once with its reason.
"""

from __future__ import annotations

import os
import sys
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

from celery import Celery, signals
from kombu import Exchange, Queue

from workers.settings import Settings, get_settings

QUEUES = ("io", "cpu", "gpu")
CONTROL_QUEUE = "io"  # planning, joins, finish, publish, ingest, sweep: short tasks


def _is_worker_command(argv: list[str]) -> bool:
    return Path(argv[0]).name in ("celery", "coldstart") and "worker" in argv[1:]


# Prefork children count metrics into files the main process sums; prometheus_client reads
# this variable when first imported, so it is set before anything imports it.
if _is_worker_command(sys.argv) and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="coldstart-metrics-")


def broker_kind(url: str) -> str:
    scheme = url.split("://", 1)[0].split("+", 1)[0]
    if scheme in ("redis", "rediss", "sentinel"):
        return "redis"
    if scheme in ("amqp", "amqps", "pyamqp"):
        return "amqp"
    return scheme or "memory"


def visibility_timeout(settings: Settings) -> int:
    """Longer than any task (hard limits are capped at task_max_s) plus the longest retry
    delay (a retried message waits, unacknowledged, on its worker until due)."""
    return int(settings.task_max_s * 1.25 + settings.retry_backoff_max_s)


def result_backend(settings: Settings) -> str:
    """Chords need a result backend that supports them: Redis, or the database (``rpc://``
    cannot). Default: the broker's Redis, else the metadata database."""
    if settings.result_backend:
        return settings.result_backend
    if broker_kind(settings.broker_url) == "redis":
        return settings.broker_url
    if not settings.broker_url:
        return "cache+memory://"
    from storage.db import normalise_url

    return "db+" + normalise_url(settings.effective_database_url)


def celery_config(settings: Settings) -> dict[str, Any]:
    conf: dict[str, Any] = {
        "broker_url": settings.broker_url or "memory://",
        "result_backend": result_backend(settings),
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "timezone": "UTC",
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_acks_on_failure_or_timeout": True,
        "worker_prefetch_multiplier": 1,
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        "broker_connection_retry_on_startup": True,
        "task_track_started": True,
        "task_send_sent_event": True,
        "worker_send_task_events": True,  # Flower
        "result_expires": 3 * 24 * 3600,
        "result_extended": True,
        "task_time_limit": settings.task_max_s,
        "worker_hijack_root_logger": False,
        "task_default_queue": CONTROL_QUEUE,
        "task_queues": [Queue(q, Exchange(q, type="direct"), routing_key=q) for q in QUEUES],
        "task_create_missing_queues": True,
        # A chord's errback also on its header tasks: Celery's coming default, set so that
        # no pending-deprecation warning is logged for each chord we build.
        "task_allow_error_cb_on_chord_header": True,
        "beat_schedule": {
            "sweep-incoming": {"task": "coldstart.sweep", "schedule": settings.sweep_interval_s},
            "publish-events": {"task": "coldstart.publish_events", "schedule": 60.0},
        },
    }
    kind = broker_kind(conf["broker_url"])
    if kind == "redis":
        vt = visibility_timeout(settings)
        conf["broker_transport_options"] = {
            "visibility_timeout": vt,
            # Look for messages of dead workers about every vt/10 (kombu's default is every
            # 100 s whatever vt is): a lost stage comes back at most ~1.1 vt after delivery.
            "unacked_restore_interval": max(1, min(60, vt // 10)),
            "unacked_restore_throttle": 1,
        }
        conf["result_backend_transport_options"] = {"retry_policy": {"timeout": 5.0}}
    if conf["result_backend"].startswith("redis"):
        conf["redis_backend_health_check_interval"] = 30
    return conf


def make_app(settings: Settings) -> Celery:
    app = Celery("coldstart", include=["workers.tasks", "workers.backfill_tasks"])
    app.conf.update(celery_config(settings))
    return app


@lru_cache(maxsize=8)
def _app_for(broker: str, backend: str) -> Celery:
    app = Celery("coldstart-client")
    app.conf.update(broker_url=broker, result_backend=backend)
    return app


def app_for(settings: Settings) -> Celery:
    """A client app for sending tasks by name (web, CLI, tests) with these settings."""
    if settings.broker_url == app.conf.broker_url:
        return app
    client = _app_for(settings.broker_url, result_backend(settings))
    client.conf.update(celery_config(settings))
    return client


app = make_app(get_settings())


# --- process lifecycle ------------------------------------------------------------------------


@signals.setup_logging.connect
def _setup_logging(**_kwargs: Any) -> None:
    from workers.logs import configure_logging

    s = get_settings()
    configure_logging(s.log_format, s.log_level)


@signals.worker_process_init.connect
def _child_init(**_kwargs: Any) -> None:
    # Connections pooled before the fork are shared with the parent: drop them.
    from storage.db import dispose_engines

    dispose_engines()


@signals.worker_process_shutdown.connect
def _child_exit(pid: int | None = None, **_kwargs: Any) -> None:
    from workers.metrics import child_exited

    child_exited(pid or os.getpid())


@signals.beat_init.connect
def _beat_init(sender: Any = None, **_kwargs: Any) -> None:
    from workers.heartbeat import run_sweeper

    run_sweeper(get_settings(), resend)


def resend(message: dict[str, Any]) -> None:
    """Send a lost task's message again, as it was (same id, canvas continuation)."""
    from celery import signature

    signature(message, app=app).apply_async()


@signals.worker_ready.connect
def _worker_ready(sender: Any = None, **_kwargs: Any) -> None:
    s = get_settings()
    if s.metrics_port:
        from workers.metrics import serve_worker_metrics

        serve_worker_metrics(s.metrics_port, app, QUEUES)
