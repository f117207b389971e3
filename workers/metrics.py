"""Prometheus metrics of the pipeline.

Celery's prefork children each count into files under ``PROMETHEUS_MULTIPROC_DIR`` (set
before ``prometheus_client`` is imported, see celery_app); the worker's main process
serves their sum, plus the live depth of each queue, on ``settings.metrics_port``.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    start_http_server,
    values,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

_BUCKETS = (0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200)

STAGE_SECONDS = Histogram(
    "coldstart_stage_duration_seconds",
    "Wall time of one stage (or chunk) task.",
    ["stage", "status"],
    buckets=_BUCKETS,
)
STAGE_FAILURES = Counter(
    "coldstart_stage_failures_total", "Stage failures by reason code.", ["stage", "code"]
)
TASK_RETRIES = Counter(
    "coldstart_task_retries_total", "Transient failures retried with backoff.", ["task"]
)
RUNS_FINISHED = Counter("coldstart_runs_finished_total", "Runs by final status.", ["status"])
EVENTS_PUBLISHED = Counter("coldstart_events_published_total", "Outbox events sent.", ["topic"])
EVENTS_RELAYED = Counter(
    "coldstart_events_relayed_total", "Outbox events relayed (coldstart relay).", ["sink"]
)
RELAY_FAILURES = Counter(
    "coldstart_relay_failures_total", "Failed relay passes, retried with back-off.", ["sink"]
)
RELAY_POSITION = Gauge(
    "coldstart_relay_position", "Last outbox event id each destination took.", ["sink"]
)
RELAY_SUCCEEDED_AT = Gauge(
    "coldstart_relay_last_success_timestamp_seconds",
    "When each destination's last relay pass worked (Unix time): alert when it falls behind.",
    ["sink"],
)
ANNOUNCEMENTS = Counter(
    "coldstart_announcements_total",
    "Objects announced (webhook, sweep, CLI) by outcome.",
    ["trigger", "outcome"],
)


class QueueDepthCollector(Collector):
    """Messages waiting in each queue, read from the broker at scrape time."""

    def __init__(self, app: Any, queues: Iterable[str]) -> None:
        self.app = app
        self.queues = list(queues)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        gauge = GaugeMetricFamily(
            "coldstart_queue_depth", "Messages waiting in a Celery queue.", labels=["queue"]
        )
        for name, depth in queue_depths(self.app, self.queues).items():
            gauge.add_metric([name], depth)
        yield gauge


def queue_depths(app: Any, queues: Iterable[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    try:
        with app.connection_for_read() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            for name in queues:
                # A channel per queue: AMQP closes the channel when a passive declare fails.
                channel = conn.channel()
                try:
                    out[name] = int(channel.queue_declare(name, passive=True).message_count)
                except Exception:  # not declared yet: nothing waiting
                    out[name] = 0
                finally:
                    with contextlib.suppress(Exception):
                        channel.close()
    except Exception as err:
        log.debug("queue depth unavailable: %s", err)
    return out


def serve_worker_metrics(port: int, app: Any, queues: Iterable[str]) -> bool:
    """Start the worker's /metrics endpoint, with the live queue depths."""
    return serve_metrics(port, QueueDepthCollector(app, queues))


def exposition_registry() -> CollectorRegistry:
    """What a /metrics endpoint serves: the sum over every process's files when this
    process counts into them, else this process's own registry. Whether it does was fixed
    when prometheus_client was first imported (PROMETHEUS_MULTIPROC_DIR set or not then),
    not by the variable now."""
    if getattr(values.ValueClass, "_multiprocess", False):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    from prometheus_client import REGISTRY

    return REGISTRY


def serve_metrics(port: int, *extra: Collector) -> bool:
    """Start a process's /metrics endpoint; False when the port is taken (log and go on:
    metrics must never stop a worker or the relay)."""
    registry = exposition_registry()
    for collector in extra:
        registry.register(collector)
    try:
        start_http_server(port, registry=registry)
    except OSError as err:
        log.warning("metrics port %s unavailable: %s", port, err)
        return False
    return True


def child_exited(pid: int) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)
