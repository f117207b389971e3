"""Reads for the admin view: the review queue ordered by risk, and the slices of a title the
title page loads (scenes with their keyframe, transcript sections, speech intervals, audit).

A title *needs review* while a rating system has a suggestion and no editor's final rating.
Risk orders the queue: needing review first, then the strictest suggested rating (highest
minimum age), then the least confident suggestion (absent or uncertain signals lower it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, case, delete, func, or_, select
from sqlalchemy.orm import Session

from storage.models import (
    AnalysisRun,
    AuditEntry,
    Keyframe,
    RatingDecision,
    RatingSuggestion,
    Scene,
    Shot,
    StageResult,
    TagDecision,
    TagProposal,
    Title,
    TranscriptSegment,
)


@dataclass(frozen=True)
class QueueFilters:
    status: str | None = None
    label: str | None = None
    rating: str | None = None
    needs_review: bool | None = None
    q: str | None = None


@dataclass
class QueueRow:
    title: Title
    needs_review: bool
    max_age: int | None
    min_confidence: float | None
    run_status: str | None
    run_progress: float | None
    run_stage: str | None
    run_id: int | None
    suggested: dict[str, str] = field(default_factory=dict)
    final: dict[str, str] = field(default_factory=dict)


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _risk_parts() -> tuple[Any, Any, Any]:
    sugg = (
        select(
            RatingSuggestion.title_id.label("title_id"),
            func.max(RatingSuggestion.min_age).label("max_age"),
            func.min(RatingSuggestion.confidence).label("min_conf"),
            func.count().label("n"),
        )
        .group_by(RatingSuggestion.title_id)
        .subquery()
    )
    dec = (
        select(RatingDecision.title_id.label("title_id"), func.count().label("n"))
        .group_by(RatingDecision.title_id)
        .subquery()
    )
    needs = case((func.coalesce(sugg.c.n, 0) > func.coalesce(dec.c.n, 0), 1), else_=0)
    return sugg, dec, needs


def review_queue(
    session: Session, filters: QueueFilters, *, limit: int = 50, offset: int = 0
) -> tuple[list[QueueRow], int]:
    """One page of the queue and the number of titles matching the filters."""
    sugg, dec, needs = _risk_parts()
    latest = (
        select(AnalysisRun.title_id, func.max(AnalysisRun.id).label("run_id"))
        .group_by(AnalysisRun.title_id)
        .subquery()
    )
    base = (
        select(Title.id)
        .outerjoin(sugg, sugg.c.title_id == Title.id)
        .outerjoin(dec, dec.c.title_id == Title.id)
    )
    conditions = _conditions(filters, needs)
    if conditions:
        base = base.where(and_(*conditions))
    total = int(session.scalar(select(func.count()).select_from(base.subquery())) or 0)
    query = (
        select(
            Title,
            needs.label("needs"),
            sugg.c.max_age,
            sugg.c.min_conf,
            AnalysisRun.status,
            AnalysisRun.progress,
            AnalysisRun.current_stage,
            AnalysisRun.id,
        )
        .outerjoin(sugg, sugg.c.title_id == Title.id)
        .outerjoin(dec, dec.c.title_id == Title.id)
        .outerjoin(latest, latest.c.title_id == Title.id)
        .outerjoin(AnalysisRun, AnalysisRun.id == latest.c.run_id)
        .order_by(
            needs.desc(),
            func.coalesce(sugg.c.max_age, -1).desc(),
            func.coalesce(sugg.c.min_conf, 2.0).asc(),
            Title.id.desc(),
        )
        .limit(limit)
        .offset(offset)
    )
    if conditions:
        query = query.where(and_(*conditions))
    rows = [
        QueueRow(
            title=t,
            needs_review=bool(n),
            max_age=age,
            min_confidence=conf,
            run_status=rs,
            run_progress=rp,
            run_stage=stage,
            run_id=rid,
        )
        for t, n, age, conf, rs, rp, stage, rid in session.execute(query).all()
    ]
    _attach_ratings(session, rows)
    return rows, total


def _conditions(filters: QueueFilters, needs: Any) -> list[Any]:
    out: list[Any] = []
    if filters.status:
        out.append(Title.status == filters.status)
    if filters.q:
        pattern = _like(filters.q.strip())
        out.append(
            or_(
                Title.name.ilike(pattern, escape="\\"),
                Title.external_id.ilike(pattern, escape="\\"),
            )
        )
    if filters.rating:
        out.append(
            or_(
                Title.id.in_(
                    select(RatingSuggestion.title_id).where(
                        RatingSuggestion.rating == filters.rating
                    )
                ),
                Title.id.in_(
                    select(RatingDecision.title_id).where(RatingDecision.rating == filters.rating)
                ),
            )
        )
    if filters.label:
        out.append(
            or_(
                Title.id.in_(
                    select(TagProposal.title_id).where(TagProposal.label == filters.label)
                ),
                Title.id.in_(
                    select(TagDecision.title_id).where(
                        or_(
                            TagDecision.label == filters.label,
                            TagDecision.new_label == filters.label,
                        )
                    )
                ),
            )
        )
    if filters.needs_review is not None:
        out.append(needs == (1 if filters.needs_review else 0))
    return out


def _attach_ratings(session: Session, rows: list[QueueRow]) -> None:
    by_id = {r.title.id: r for r in rows}
    if not by_id:
        return
    for tid, system, rating in session.execute(
        select(RatingSuggestion.title_id, RatingSuggestion.system, RatingSuggestion.rating).where(
            RatingSuggestion.title_id.in_(by_id)
        )
    ):
        by_id[tid].suggested[system] = rating
    for tid, system, rating in session.execute(
        select(RatingDecision.title_id, RatingDecision.system, RatingDecision.rating).where(
            RatingDecision.title_id.in_(by_id)
        )
    ):
        by_id[tid].final[system] = rating


def next_for_review(session: Session, after_title_id: int) -> int | None:
    """The riskiest other title still needing review: the review loop's "next title"."""
    sugg, dec, needs = _risk_parts()
    return session.scalar(
        select(Title.id)
        .outerjoin(sugg, sugg.c.title_id == Title.id)
        .outerjoin(dec, dec.c.title_id == Title.id)
        .where(needs == 1, Title.id != after_title_id)
        .order_by(
            func.coalesce(sugg.c.max_age, -1).desc(),
            func.coalesce(sugg.c.min_conf, 2.0).asc(),
            Title.id.desc(),
        )
        .limit(1)
    )


def distinct_values(session: Session) -> dict[str, list[str]]:
    """Filter choices: statuses, ratings and labels in use."""
    ratings = set(session.scalars(select(RatingSuggestion.rating).distinct()))
    ratings |= set(session.scalars(select(RatingDecision.rating).distinct()))
    return {
        "status": sorted(set(session.scalars(select(Title.status).distinct()))),
        "rating": sorted(ratings),
        "label": sorted(set(session.scalars(select(TagProposal.label).distinct()))),
    }


# --- the title page ------------------------------------------------------------------------------


def scenes_with_keyframes(session: Session, title_id: int) -> list[tuple[Scene, int | None]]:
    """Each scene with the shot index of its first shot that has a keyframe (ints only: a
    film has thousands of keyframes, and the page needs one per scene)."""
    scenes = session.scalars(
        select(Scene).where(Scene.title_id == title_id).order_by(Scene.idx)
    ).all()
    with_frames = set(
        session.scalars(select(Keyframe.shot_idx).where(Keyframe.title_id == title_id))
    )
    out: list[tuple[Scene, int | None]] = []
    for scene in scenes:
        shot = next(
            (i for i in range(scene.first_shot, scene.last_shot + 1) if i in with_frames), None
        )
        out.append((scene, shot))
    return out


def shot_count(session: Session, title_id: int) -> int:
    return int(
        session.scalar(select(func.count()).select_from(Shot).where(Shot.title_id == title_id)) or 0
    )


def keyframe_of(session: Session, title_id: int, shot_idx: int) -> Keyframe | None:
    return session.scalar(
        select(Keyframe).where(Keyframe.title_id == title_id, Keyframe.shot_idx == shot_idx)
    )


def speech_intervals(session: Session, title_id: int) -> list[tuple[float, float]]:
    rows = session.execute(
        select(TranscriptSegment.start_s, TranscriptSegment.end_s)
        .where(TranscriptSegment.title_id == title_id)
        .order_by(TranscriptSegment.idx)
    ).all()
    return [(float(a), float(b)) for a, b in rows]


def transcript_section(
    session: Session, title_id: int, start_idx: int, count: int
) -> Sequence[TranscriptSegment]:
    return session.scalars(
        select(TranscriptSegment)
        .where(
            TranscriptSegment.title_id == title_id,
            TranscriptSegment.idx >= start_idx,
            TranscriptSegment.idx < start_idx + count,
        )
        .order_by(TranscriptSegment.idx)
    ).all()


def audit_of(session: Session, title_id: int, limit: int = 200) -> Sequence[AuditEntry]:
    return session.scalars(
        select(AuditEntry)
        .where(AuditEntry.title_id == title_id)
        .order_by(AuditEntry.id.desc())
        .limit(limit)
    ).all()


def forget_stage_results(session: Session, title_id: int, stages: Sequence[str]) -> int:
    """Drop the stored results of ``stages``, so the next run of the title computes them."""
    result = session.execute(
        delete(StageResult).where(StageResult.title_id == title_id, StageResult.stage.in_(stages))
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
