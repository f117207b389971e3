"""Where a run executes: in this process (embedded mode) or on the Celery fleet."""

from __future__ import annotations

import threading

from workers.pipeline import run_pipeline
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
    from workers.tasks import enqueue_run  # the fleet's Celery canvas

    enqueue_run(settings, run_id)
    return None
