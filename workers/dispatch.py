"""Where a run executes: in this process (embedded mode) or on the Celery fleet."""

from __future__ import annotations

import threading

from workers.pipeline import run_pipeline
from workers.queueing import enqueue_run
from workers.settings import Settings


def dispatch_run(settings: Settings, run_id: int) -> threading.Thread | None:
    """Start a run. Embedded: a background thread of this process (returned, so the caller
    can watch progress while it works). Fleet: a Celery canvas; returns None."""
    if settings.embedded:
        thread = threading.Thread(
            target=run_pipeline, args=(settings, run_id), name=f"run-{run_id}", daemon=True
        )
        thread.start()
        return thread
    enqueue_run(settings, run_id)  # by task name: no import of the tasks (and their stages)
    return None
