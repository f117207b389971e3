"""``coldstart backfill --taxonomy``: after a taxonomy edit, re-analyse exactly the titles
whose tags were made with another taxonomy. Each gets a new attempt; its cache keys reuse
every stored stage that does not read the taxonomy (probe, shots, speech), so only the
tagging stages and what reads them run again. Locked titles are left alone."""

from __future__ import annotations

from dataclasses import dataclass, field

from storage import repository as repo
from storage import review
from storage.db import session_scope
from workers.dispatch import dispatch_run
from workers.settings import Settings
from workers.stages.base import load_taxonomy, taxonomy_label


@dataclass
class Retag:
    taxonomy: str
    runs: dict[int, int] = field(default_factory=dict)  # title id -> new run id
    locked: list[int] = field(default_factory=list)
    statuses: dict[int, str] = field(default_factory=dict)  # run id -> final status (local)


def retag(settings: Settings) -> Retag:
    """New runs for every title tagged with another taxonomy; in embedded mode they run
    here one after another, in the fleet they are queued."""
    tax = load_taxonomy(settings)  # a broken file stops here, naming the error
    with session_scope(settings.effective_database_url) as session:
        todo, locked = review.titles_to_retag(session, tax.fingerprint)
        result = Retag(taxonomy_label(tax), locked=locked)
        for title_id in todo:
            title = repo.get_title(session, title_id)
            assert title is not None
            attempt = max((r.attempt for r in title.runs), default=0) + 1
            result.runs[title_id] = repo.create_run(
                session, title, params={"reason": "taxonomy"}, attempt=attempt
            ).id
    for run_id in result.runs.values():
        thread = dispatch_run(settings, run_id)
        if thread is not None:
            thread.join()
            with session_scope(settings.effective_database_url) as session:
                run = repo.get_run(session, run_id)
                result.statuses[run_id] = run.status if run else "missing"
    return result
