"""New attempts of a run: what ``coldstart retry`` and the admin view's retry button call."""

from __future__ import annotations

from storage import repository as repo
from storage.db import session_scope
from storage.models import RunStatus
from workers.settings import Settings


class AttemptRefused(Exception):
    """The run cannot be re-run (unknown, or still in progress without ``force``)."""


def new_attempt(settings: Settings, run_id: int, *, force: bool = False) -> int:
    """Create the next attempt of ``run_id``'s title (same parameters); returns its run id.
    Stages whose results are stored for the same content and version are reused when it
    runs, so only what failed is computed again. The caller dispatches it."""
    with session_scope(settings.effective_database_url) as session:
        run = repo.get_run(session, run_id)
        if run is None:
            raise AttemptRefused(f"no run {run_id}")
        if run.status not in RunStatus.FINISHED and not force:
            raise AttemptRefused(f"run {run_id} is {run.status}; use --force to start another")
        attempts = max(r.attempt for r in run.title.runs)
        return repo.create_run(session, run.title, params=run.params, attempt=attempts + 1).id
