"""Celery tasks of the embedding backfill (see :mod:`workers.backfill`): one batch of titles
per task on the ``cpu`` queue. Acknowledged late, like every task of the app: a batch whose
worker dies is delivered again and skips the titles already embedded."""

from __future__ import annotations

from celery import Task

from workers.backfill import embed_batch
from workers.celery_app import app
from workers.settings import get_settings


@app.task(name="coldstart.backfill_batch", bind=True)
def backfill_batch(
    self: Task, name: str, version: str, title_ids: list[int], pause_s: float = 0.0
) -> int:
    return embed_batch(get_settings(), name, version, title_ids, pause_s)
