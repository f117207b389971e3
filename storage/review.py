"""Model proposals and editor decisions, kept apart.

A run replaces a title's proposals and rating suggestions as a whole
(:func:`save_proposals`, :func:`save_rating_suggestions`). Editors write decisions
(:func:`record_decision`, :func:`record_final_rating`), each in one transaction with its
audit entry and an outbox event. What a title finally carries is the decisions over the
proposals (:func:`final_tags`, :func:`final_ratings`); where a newer run disagrees with a
decision, the decision stands and the disagreement is reported beside it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from storage.models import (
    RatingDecision,
    RatingSuggestion,
    TagDecision,
    TagProposal,
    Title,
    TitleProfile,
    TitleStatus,
    utcnow,
)
from storage.queue import refresh_review_risk
from storage.repository import audit, emit_event

TAG_ACTIONS = ("approve", "reject", "edit", "add")
# A rejected label whose model score rose this much since the decision is shown again.
SCORE_SHIFT = 0.2


@dataclass(frozen=True)
class Actor:
    """Who made a change: a user (id and email) or ``system:<component>``."""

    name: str
    user_id: int | None = None


@dataclass
class FinalTag:
    facet: str
    label: str
    score: float | None
    source: str  # model | editor
    review_state: str  # pending | approved | rejected
    severity: str | None = None
    evidence: list[Any] = field(default_factory=list)
    taxonomy_version: str | None = None
    model_score: float | None = None  # the current proposal's score, if any
    decided_by: str | None = None
    decided_at: str | None = None
    note: str | None = None
    disagreement: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class FinalRating:
    system: str
    rating: str | None
    min_age: int | None
    is_final: bool
    needs_review: bool
    confidence: float | None = None
    suggested: dict[str, Any] | None = None
    decision: dict[str, Any] | None = None
    disagreement: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --- proposals (written by runs) -----------------------------------------------------------


def save_proposals(
    session: Session,
    title_id: int,
    proposals: Sequence[dict[str, Any]],
    *,
    run_id: int | None,
    model_version: str | None,
    taxonomy_version: str | None,
    taxonomy_fingerprint: str | None,
) -> int:
    """Replace a title's tag proposals. Each dict: facet, label, score, evidence, severity.
    Decisions are another table: nothing here can touch them."""
    session.execute(delete(TagProposal).where(TagProposal.title_id == title_id))
    session.add_all(
        TagProposal(
            title_id=title_id,
            run_id=run_id,
            facet=p["facet"],
            label=p["label"],
            score=float(p["score"]),
            severity=p.get("severity"),
            evidence=list(p.get("evidence", [])),
            model_version=model_version,
            taxonomy_version=taxonomy_version,
            taxonomy_fingerprint=taxonomy_fingerprint,
        )
        for p in proposals
    )
    session.flush()
    return len(proposals)


def save_rating_suggestions(
    session: Session,
    title_id: int,
    suggestions: Sequence[dict[str, Any]],
    *,
    run_id: int | None,
    taxonomy_version: str | None,
    taxonomy_fingerprint: str | None,
) -> int:
    """Replace a title's suggested ratings. Each dict: system, rating, min_age, confidence,
    needs_review, drivers, reasons."""
    session.execute(delete(RatingSuggestion).where(RatingSuggestion.title_id == title_id))
    session.add_all(
        RatingSuggestion(
            title_id=title_id,
            run_id=run_id,
            system=s["system"],
            rating=s["rating"],
            min_age=s.get("min_age"),
            confidence=s.get("confidence"),
            needs_review=bool(s.get("needs_review", True)),
            drivers=list(s.get("drivers", [])),
            reasons=list(s.get("reasons", [])),
            taxonomy_version=taxonomy_version,
            taxonomy_fingerprint=taxonomy_fingerprint,
        )
        for s in suggestions
    )
    session.flush()
    refresh_review_risk(session, [title_id])
    return len(suggestions)


def save_profile(
    session: Session,
    title_id: int,
    *,
    run_id: int | None,
    arc: dict[str, Any],
    artwork: list[Any],
    descriptors: dict[str, Any],
    absent: dict[str, Any],
    signals: dict[str, Any],
    taxonomy_version: str | None,
    taxonomy_fingerprint: str | None,
) -> TitleProfile:
    """Replace a title's profile (mood arc, artwork, descriptor assessments, absences)."""
    session.execute(delete(TitleProfile).where(TitleProfile.title_id == title_id))
    profile = TitleProfile(
        title_id=title_id,
        run_id=run_id,
        arc=arc,
        artwork=artwork,
        descriptors=descriptors,
        absent=absent,
        signals=signals,
        taxonomy_version=taxonomy_version,
        taxonomy_fingerprint=taxonomy_fingerprint,
    )
    session.add(profile)
    session.flush()
    return profile


def profile_of(session: Session, title_id: int) -> TitleProfile | None:
    return session.scalar(select(TitleProfile).where(TitleProfile.title_id == title_id))


def titles_to_retag(session: Session, fingerprint: str) -> tuple[list[int], list[int]]:
    """Titles whose tags were made with another taxonomy (or never made), and the locked
    ones among them, which a re-analysis must not touch: (to retag, locked)."""
    rows = session.execute(
        select(Title.id, Title.locked_by, TitleProfile.taxonomy_fingerprint)
        .outerjoin(TitleProfile, TitleProfile.title_id == Title.id)
        .where(Title.status == TitleStatus.ENRICHED)
        .order_by(Title.id)
    ).all()
    stale = [(tid, locked) for tid, locked, fp in rows if fp != fingerprint]
    return [t for t, locked in stale if not locked], [t for t, locked in stale if locked]


def proposals_of(session: Session, title_id: int) -> Sequence[TagProposal]:
    return session.scalars(
        select(TagProposal)
        .where(TagProposal.title_id == title_id)
        .order_by(TagProposal.facet, TagProposal.score.desc(), TagProposal.label)
    ).all()


def suggestions_of(session: Session, title_id: int) -> Sequence[RatingSuggestion]:
    return session.scalars(
        select(RatingSuggestion)
        .where(RatingSuggestion.title_id == title_id)
        .order_by(RatingSuggestion.system)
    ).all()


# --- decisions (written by editors) ----------------------------------------------------------


def tag_decisions_of(session: Session, title_id: int) -> Sequence[TagDecision]:
    return session.scalars(
        select(TagDecision)
        .where(TagDecision.title_id == title_id)
        .order_by(TagDecision.facet, TagDecision.label)
    ).all()


def rating_decisions_of(session: Session, title_id: int) -> Sequence[RatingDecision]:
    return session.scalars(
        select(RatingDecision)
        .where(RatingDecision.title_id == title_id)
        .order_by(RatingDecision.system)
    ).all()


def _decision_dict(d: TagDecision | RatingDecision | None) -> dict[str, Any] | None:
    if d is None:
        return None
    out = {c.name: getattr(d, c.name) for c in d.__table__.columns if c.name != "id"}
    out["decided_at"] = d.decided_at.isoformat() if d.decided_at else None
    return out


def record_decision(
    session: Session,
    title_id: int,
    *,
    facet: str,
    label: str,
    action: str,
    actor: Actor,
    new_label: str | None = None,
    severity: str | None = None,
    note: str | None = None,
) -> TagDecision:
    """An editor's decision on one label: the decision, its audit entry (before and after)
    and a ``title.reviewed`` event, all in the caller's transaction."""
    if action not in TAG_ACTIONS:
        raise ValueError(f"unknown tag action {action!r}; expected one of {TAG_ACTIONS}")
    if action == "edit" and not (new_label or severity):
        raise ValueError("an edit names a new label or a severity")
    proposal = session.scalar(
        select(TagProposal).where(
            TagProposal.title_id == title_id, TagProposal.facet == facet, TagProposal.label == label
        )
    )
    if action != "add" and proposal is None and _decision(session, title_id, facet, label) is None:
        raise LookupError(f"title {title_id} has no {facet} tag {label!r} to {action}")
    if action in ("approve", "edit") and not severity and proposal is not None:
        # The approval pins the severity the editor saw: a later run proposing another one
        # is a disagreement shown beside the decision, not a change applied under it.
        severity = proposal.severity
    decision = _decision(session, title_id, facet, label)
    before = _decision_dict(decision)
    if decision is None:
        decision = TagDecision(title_id=title_id, facet=facet, label=label)
        session.add(decision)
    decision.action = action
    decision.new_label = new_label
    decision.severity = severity
    decision.note = note
    decision.proposal_score = proposal.score if proposal is not None else None
    decision.decided_by = actor.user_id
    decision.decided_by_name = actor.name
    decision.decided_at = utcnow()
    session.flush()
    after = _decision_dict(decision)
    audit(
        session,
        actor=actor.name,
        actor_id=actor.user_id,
        action=f"tag.{action}",
        entity_type="tag_decision",
        entity_id=decision.id,
        title_id=title_id,
        before=_jsonable(before),
        after=_jsonable(after),
    )
    emit_event(
        session,
        "title.reviewed",
        {"title_id": title_id, "facet": facet, "label": label, "action": action},
        title_id=title_id,
    )
    return decision


def record_final_rating(
    session: Session,
    title_id: int,
    *,
    system: str,
    rating: str,
    reason: str,
    actor: Actor,
    min_age: int | None = None,
) -> RatingDecision:
    """An editor's final rating for one system, audited, with a ``title.rated`` event."""
    if not reason.strip():
        raise ValueError("a final rating needs a reason")
    decision = session.scalar(
        select(RatingDecision).where(
            RatingDecision.title_id == title_id, RatingDecision.system == system
        )
    )
    suggestion = session.scalar(
        select(RatingSuggestion).where(
            RatingSuggestion.title_id == title_id, RatingSuggestion.system == system
        )
    )
    before = _decision_dict(decision)
    if decision is None:
        decision = RatingDecision(title_id=title_id, system=system)
        session.add(decision)
    decision.rating = rating
    decision.min_age = min_age
    decision.reason = reason.strip()
    decision.suggested_rating = suggestion.rating if suggestion is not None else None
    decision.decided_by = actor.user_id
    decision.decided_by_name = actor.name
    decision.decided_at = utcnow()
    session.flush()
    refresh_review_risk(session, [title_id])
    audit(
        session,
        actor=actor.name,
        actor_id=actor.user_id,
        action="rating.final",
        entity_type="rating_decision",
        entity_id=decision.id,
        title_id=title_id,
        before=_jsonable(before),
        after=_jsonable(_decision_dict(decision)),
    )
    emit_event(
        session,
        "title.rated",
        {"title_id": title_id, "system": system, "rating": rating},
        title_id=title_id,
    )
    return decision


def set_lock(session: Session, title: Title, *, locked: bool, actor: Actor) -> None:
    """Lock or unlock a title against re-analysis, audited."""
    before = {"locked_by": title.locked_by}
    title.locked_by = actor.name if locked else None
    title.locked_at = utcnow() if locked else None
    audit(
        session,
        actor=actor.name,
        actor_id=actor.user_id,
        action="title.lock" if locked else "title.unlock",
        entity_type="title",
        entity_id=title.id,
        title_id=title.id,
        before=before,
        after={"locked_by": title.locked_by},
    )


def _decision(session: Session, title_id: int, facet: str, label: str) -> TagDecision | None:
    return session.scalar(
        select(TagDecision).where(
            TagDecision.title_id == title_id, TagDecision.facet == facet, TagDecision.label == label
        )
    )


def _jsonable(d: dict[str, Any] | None) -> dict[str, Any] | None:
    if d is None:
        return None
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in d.items()}


# --- the final view --------------------------------------------------------------------------


def final_tags(
    session: Session, title_id: int, *, include_rejected: bool = False
) -> list[FinalTag]:
    """Decisions over proposals: an approved, edited or added label is the editor's; a
    rejected one is dropped (or kept with ``review_state='rejected'``); the rest are the
    model's, pending review."""
    return final_tags_of(session, [title_id], include_rejected=include_rejected)[title_id]


def final_tags_of(
    session: Session,
    title_ids: Sequence[int],
    *,
    include_rejected: bool = False,
    with_evidence: bool = True,
) -> dict[int, list[FinalTag]]:
    """:func:`final_tags` of many titles in two queries (the recommender index loads a
    catalogue this way); ``with_evidence=False`` leaves the evidence unread and empty."""
    # plain rows, not ORM objects: a catalogue load reads hundreds of thousands
    cols = [TagProposal.title_id, TagProposal.facet, TagProposal.label, TagProposal.score]
    cols += [TagProposal.severity, TagProposal.taxonomy_version]
    cols += [TagProposal.evidence] if with_evidence else []
    wanted = set(title_ids)
    proposals: dict[int, dict[tuple[str, str], Any]] = defaultdict(dict)
    for p in session.execute(select(*cols).where(of_titles(TagProposal.title_id, title_ids))):
        if p.title_id in wanted:
            proposals[p.title_id][(p.facet, p.label)] = p
    decisions: dict[int, dict[tuple[str, str], TagDecision]] = defaultdict(dict)
    q = select(TagDecision).where(of_titles(TagDecision.title_id, title_ids))
    for d in session.scalars(q):
        if d.title_id in wanted:
            decisions[d.title_id][(d.facet, d.label)] = d
    result: dict[int, list[FinalTag]] = {}
    for tid in title_ids:
        ps, ds = proposals.get(tid, {}), decisions.get(tid, {})
        out: list[FinalTag] = []
        for key in sorted(set(ps) | set(ds)):
            tag = _merge(key, ps.get(key), ds.get(key), evidence=with_evidence)
            if tag.review_state == "rejected" and not include_rejected:
                continue
            out.append(tag)
        out.sort(key=lambda t: (t.facet, -(t.score or 0.0), t.label))
        result[tid] = out
    return result


def of_titles(column: Any, title_ids: Sequence[int]) -> Any:
    """``column IN ids``, or for many ids their id range (a catalogue page is a range of
    ids; rows outside ``ids`` are dropped by the caller): no thousands of bound values."""
    if len(title_ids) <= 64:
        return column.in_(title_ids)
    return column.between(min(title_ids), max(title_ids))


def _merge(
    key: tuple[str, str], p: Any | None, d: TagDecision | None, *, evidence: bool = True
) -> FinalTag:
    facet, label = key
    tag = FinalTag(
        facet=facet,
        label=label,
        score=p.score if p else None,
        source="model",
        review_state="pending",
        severity=p.severity if p else None,
        evidence=list(p.evidence or []) if p and evidence else [],
        taxonomy_version=p.taxonomy_version if p else None,
        model_score=p.score if p else None,
    )
    if d is None:
        return tag
    tag.decided_by = d.decided_by_name
    tag.decided_at = d.decided_at.isoformat() if d.decided_at else None
    tag.note = d.note
    if d.action == "reject":
        tag.review_state = "rejected"
        was = d.proposal_score
        if p is not None and was is not None and p.score >= was + SCORE_SHIFT:
            tag.disagreement = f"model is now more confident in {label} ({p.score:.2f})"
        return tag
    tag.review_state = "approved"
    if d.action in ("edit", "add"):
        tag.source = "editor"
        tag.label = d.new_label or label
    if d.severity:
        tag.severity = d.severity
    if p is None and d.action != "add":
        tag.disagreement = f"model no longer proposes {label}"
    elif p is not None and d.severity and p.severity and p.severity != d.severity:
        tag.disagreement = f"model now suggests {label}: {p.severity}"
    return tag


def final_ratings(session: Session, title_id: int) -> list[FinalRating]:
    """Per rating system: the editor's final rating when there is one (it always wins),
    else the model's suggestion with its ``needs_review``."""
    return final_ratings_of(session, [title_id])[title_id]


def final_ratings_of(session: Session, title_ids: Sequence[int]) -> dict[int, list[FinalRating]]:
    """:func:`final_ratings` of many titles in two queries."""
    wanted = set(title_ids)
    t = RatingSuggestion
    cols = [t.title_id, t.system, t.rating, t.min_age, t.confidence, t.needs_review]
    cols += [t.drivers, t.reasons, t.taxonomy_version]
    suggestions: dict[int, dict[str, Any]] = defaultdict(dict)
    for s in session.execute(select(*cols).where(of_titles(t.title_id, title_ids))):
        if s.title_id in wanted:
            suggestions[s.title_id][s.system] = s
    decisions: dict[int, dict[str, RatingDecision]] = defaultdict(dict)
    q = select(RatingDecision).where(of_titles(RatingDecision.title_id, title_ids))
    for d in session.scalars(q):
        if d.title_id in wanted:
            decisions[d.title_id][d.system] = d
    return {
        tid: _final_ratings(suggestions.get(tid, {}), decisions.get(tid, {})) for tid in title_ids
    }


def _final_ratings(
    suggestions: dict[str, Any], decisions: dict[str, RatingDecision]
) -> list[FinalRating]:
    out: list[FinalRating] = []
    for system in sorted(set(suggestions) | set(decisions)):
        s, d = suggestions.get(system), decisions.get(system)
        suggested = (
            {
                "rating": s.rating,
                "min_age": s.min_age,
                "confidence": s.confidence,
                "needs_review": s.needs_review,
                "drivers": s.drivers,
                "reasons": s.reasons,
                "taxonomy_version": s.taxonomy_version,
            }
            if s
            else None
        )
        if d is not None:
            disagreement = None
            if s is not None and s.rating != d.rating and s.rating != d.suggested_rating:
                why = "; ".join(str(r) for r in (s.reasons or [])[:1])
                why = why.removeprefix(f"{s.rating}: ")  # reasons start with their rating
                disagreement = f"model now suggests {s.rating}" + (f": {why}" if why else "")
            out.append(
                FinalRating(
                    system=system,
                    rating=d.rating,
                    min_age=d.min_age,
                    is_final=True,
                    needs_review=False,
                    confidence=1.0,
                    suggested=suggested,
                    decision=_jsonable(_decision_dict(d)),
                    disagreement=disagreement,
                )
            )
        else:
            assert s is not None
            out.append(
                FinalRating(
                    system=system,
                    rating=s.rating,
                    min_age=s.min_age,
                    is_final=False,
                    needs_review=s.needs_review,
                    confidence=s.confidence,
                    suggested=suggested,
                )
            )
    return out
