"""Sending work to the fleet by task name: light enough for the web and the CLI, which
need not import the stages (and their analyzers) to queue a title."""

from __future__ import annotations

from workers.celery_app import CONTROL_QUEUE, app_for
from workers.settings import Settings


def enqueue_run(settings: Settings, run_id: int) -> None:
    """Queue a run's analysis on the fleet. Safe to call more than once: one planner wins."""
    app_for(settings).send_task("coldstart.plan_run", args=[run_id], queue=CONTROL_QUEUE)


def enqueue_ingest(settings: Settings, uri: str) -> None:
    """Queue the registration of an announced object (hashing it is the worker's job)."""
    app_for(settings).send_task("coldstart.ingest", args=[uri], queue=CONTROL_QUEUE)
