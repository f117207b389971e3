"""The editor's writes. Each runs in one transaction with its audit entry (storage.review
writes the audit and the outbox event beside the change)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

import taxonomy
from storage import queue, review
from storage import repository as repo
from storage.db import session_scope
from storage.models import Title
from storage.review import Actor
from web.auth import Principal
from workers.attempts import AttemptRefused, new_attempt
from workers.dispatch import dispatch_run
from workers.settings import Settings
from workers.stages import STAGES


class ActionRefused(Exception):
    """The write cannot be done as asked (unknown label, locked title...): shown to the user."""


@dataclass(frozen=True)
class TagChange:
    facet: str
    label: str
    action: str
    new_label: str | None = None
    severity: str | None = None
    note: str | None = None


def actor_of(principal: Principal) -> Actor:
    return Actor(name=principal.email, user_id=principal.user_id)


def _title(session: Session, title_id: int) -> Title:
    title = repo.get_title(session, title_id)
    if title is None:
        raise LookupError(f"no title {title_id}")
    return title


def decide_tag(session: Session, title_id: int, change: TagChange, principal: Principal) -> None:
    _title(session, title_id)
    tax = taxonomy.load()
    if change.facet not in ("mood", "tone", "maturity"):
        raise ActionRefused(f"unknown facet {change.facet!r}")
    if change.action == "add" or (change.action == "edit" and change.new_label):
        wanted = change.new_label or change.label
        known = {label.id for label in tax.labels(change.facet)}
        if wanted not in known:
            raise ActionRefused(f"{change.facet} has no label {wanted!r} in the taxonomy")
    try:
        review.record_decision(
            session,
            title_id,
            facet=change.facet,
            label=change.label,
            action=change.action,
            actor=actor_of(principal),
            new_label=change.new_label or None,
            severity=change.severity or None,
            note=change.note or None,
        )
    except (ValueError, LookupError) as err:
        raise ActionRefused(str(err)) from err


def set_final_rating(
    session: Session, title_id: int, system: str, rating: str, reason: str, principal: Principal
) -> None:
    _title(session, title_id)
    try:
        found = taxonomy.load().rating_system(system)
        min_age = found.rating(rating).min_age
    except KeyError as err:
        raise ActionRefused(str(err).strip("'\"")) from err
    try:
        review.record_final_rating(
            session,
            title_id,
            system=found.id,
            rating=rating,
            reason=reason,
            actor=actor_of(principal),
            min_age=min_age,
        )
    except ValueError as err:
        raise ActionRefused(str(err)) from err


def set_lock(session: Session, title_id: int, locked: bool, principal: Principal) -> None:
    review.set_lock(session, _title(session, title_id), locked=locked, actor=actor_of(principal))


def rating_choices() -> dict[str, list[str]]:
    return {s.id: [r.id for r in s.ratings] for s in taxonomy.load().rating_systems}


def label_choices() -> dict[str, list[str]]:
    tax = taxonomy.load()
    return {f: [label.id for label in tax.labels(f)] for f in ("mood", "tone", "maturity")}


def stage_names() -> list[str]:
    return [s.name for s in STAGES]


def _downstream(names: set[str]) -> set[str]:
    """The named stages and every stage reading their output, transitively."""
    out = set(names)
    changed = True
    while changed:
        changed = False
        for stage in STAGES:
            if stage.name not in out and out.intersection(stage.after):
                out.add(stage.name)
                changed = True
    return out


def rerun_stages(settings: Settings, title_id: int, stages: list[str], principal: Principal) -> int:
    """A new attempt of the title's latest run that recomputes ``stages`` (and what reads
    them): their stored results are forgotten, the rest is reused. Refused on a locked title."""
    known = set(stage_names())
    wanted = {s for s in stages if s}
    if not wanted or not wanted <= known:
        raise ActionRefused(f"choose stages among {', '.join(sorted(known))}")
    with session_scope(settings.effective_database_url) as session:
        title = _title(session, title_id)
        if title.locked_by:
            raise ActionRefused(f"title is locked by {title.locked_by}")
        run = repo.latest_run(session, title_id)
        if run is None:
            raise ActionRefused("the title has no run to repeat")
        run_id = run.id
    try:
        new_run = new_attempt(settings, run_id)
    except AttemptRefused as err:
        raise ActionRefused(str(err)) from err
    forgotten = sorted(_downstream(wanted))
    with session_scope(settings.effective_database_url) as session:
        queue.forget_stage_results(session, title_id, forgotten)
        repo.audit(
            session,
            actor=principal.email,
            actor_id=principal.user_id,
            action="title.rerun",
            entity_type="analysis_run",
            entity_id=new_run,
            title_id=title_id,
            before={"run_id": run_id},
            after={"run_id": new_run, "stages": forgotten},
        )
    dispatch_run(settings, new_run)
    return new_run


def retry_run(settings: Settings, run_id: int, principal: Principal) -> int:
    try:
        new_run = new_attempt(settings, run_id)
    except AttemptRefused as err:
        raise ActionRefused(str(err)) from err
    with session_scope(settings.effective_database_url) as session:
        run = repo.get_run(session, new_run)
        repo.audit(
            session,
            actor=principal.email,
            actor_id=principal.user_id,
            action="run.retry",
            entity_type="analysis_run",
            entity_id=new_run,
            title_id=run.title_id if run else None,
            before={"run_id": run_id},
            after={"run_id": new_run},
        )
    dispatch_run(settings, new_run)
    return new_run
