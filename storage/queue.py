"""Reads for the admin view: the review queue ordered by risk, and the slices of a title the
title page loads (scenes with their keyframe, transcript sections, speech intervals, audit).

A title *needs review* while a rating system has a suggestion and no editor's final rating.
Risk orders the queue: needing review first, then the strictest suggested rating (highest
minimum age), then the least confident suggestion (absent or uncertain signals lower it).
It is kept on each title (:func:`refresh_review_risk`, called by every writer of
suggestions and final ratings) and indexed, so a page of the queue reads one page of titles.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sqlalchemy import delete, func, or_, select, true, update
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


RISK_ORDER = (
    Title.review_needed.desc(),
    Title.review_max_age.desc(),
    Title.review_min_confidence.asc(),
    Title.id.desc(),
)  # the columns of ix_titles_review_risk, in its order


def refresh_review_risk(session: Session, title_ids: Sequence[int] | None = None) -> None:
    """Recompute the titles' review risk (all titles when ``title_ids`` is None) from their
    rating suggestions and final ratings. Every writer of either calls it in its own
    transaction, so the queue's order is never behind the ratings it shows."""
    ids = None if title_ids is None else list(title_ids)
    by_title = RatingSuggestion.title_id == Title.id
    n_suggested = select(func.count()).where(by_title).scalar_subquery()
    n_final = select(func.count()).where(RatingDecision.title_id == Title.id).scalar_subquery()
    stmt = update(Title).values(
        review_needed=n_suggested > n_final,
        review_max_age=func.coalesce(
            select(func.max(RatingSuggestion.min_age)).where(by_title).scalar_subquery(), -1
        ),
        review_min_confidence=func.coalesce(
            select(func.min(RatingSuggestion.confidence)).where(by_title).scalar_subquery(), 2.0
        ),
        updated_at=Title.updated_at,  # derived data: not a change a feed consumer must see
    )
    if ids is not None:
        stmt = stmt.where(Title.id.in_(ids))
    session.execute(stmt, execution_options={"synchronize_session": False})
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Title) and (ids is None or obj.id in ids):
            session.expire(obj, ["review_needed", "review_max_age", "review_min_confidence"])


def review_queue(
    session: Session, filters: QueueFilters, *, limit: int = 50, offset: int = 0
) -> tuple[list[QueueRow], int]:
    """One page of the queue and the number of titles matching the filters. The order is
    the risk index's; runs and ratings are read for the page's titles only."""
    conditions = _conditions(filters)
    if conditions:
        # One pass over the titles finds the matches, their count and the page's ids (a
        # search reads every name once, not once to count and again to page).
        ranked = session.execute(
            select(Title.id, func.count().over())
            .where(*conditions)
            .order_by(*RISK_ORDER)
            .limit(limit)
            .offset(offset)
        ).all()
        # No row: nothing matches, or the page is past the last one (count them then).
        total = int(ranked[0][1]) if ranked else (_count(session, conditions) if offset else 0)
        ids = [tid for tid, _ in ranked]
        by_id = {t.id: t for t in session.scalars(select(Title).where(Title.id.in_(ids)))}
        titles = [by_id[tid] for tid in ids]
    else:
        total = _count(session, conditions)
        titles = list(
            session.scalars(select(Title).order_by(*RISK_ORDER).limit(limit).offset(offset))
        )
    rows = [
        QueueRow(
            title=t,
            needs_review=t.review_needed,
            max_age=t.review_max_age if t.review_max_age >= 0 else None,
            min_confidence=t.review_min_confidence if t.review_min_confidence < 2.0 else None,
            run_status=None,
            run_progress=None,
            run_stage=None,
            run_id=None,
        )
        for t in titles
    ]
    _attach_runs(session, rows)
    _attach_ratings(session, rows)
    return rows, total


def _count(session: Session, conditions: list[Any]) -> int:
    return int(session.scalar(select(func.count()).select_from(Title).where(*conditions)) or 0)


def _conditions(filters: QueueFilters) -> list[Any]:
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
        out.append(Title.review_needed == filters.needs_review)
    return out


def _attach_runs(session: Session, rows: list[QueueRow]) -> None:
    """Each row's latest run (status and live progress)."""
    by_id = {r.title.id: r for r in rows}
    if not by_id:
        return
    latest = (
        select(func.max(AnalysisRun.id))
        .where(AnalysisRun.title_id.in_(by_id))
        .group_by(AnalysisRun.title_id)
    )
    for tid, status, progress, stage, rid in session.execute(
        select(
            AnalysisRun.title_id,
            AnalysisRun.status,
            AnalysisRun.progress,
            AnalysisRun.current_stage,
            AnalysisRun.id,
        ).where(AnalysisRun.id.in_(latest))
    ):
        row = by_id[tid]
        row.run_status, row.run_progress, row.run_stage, row.run_id = status, progress, stage, rid


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
    return session.scalar(
        select(Title.id)
        .where(Title.review_needed == true(), Title.id != after_title_id)
        .order_by(*RISK_ORDER)
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


class SceneSpan(NamedTuple):
    """A scene as the title page draws it, with the shot whose keyframe stands for it."""

    idx: int
    start_s: float
    end_s: float
    keyframe_shot: int | None


def scenes_with_keyframes(session: Session, title_id: int) -> list[SceneSpan]:
    """Each scene with the shot index of its first shot that has a keyframe, in one query
    of plain rows (a film has hundreds of scenes and thousands of keyframes; the page needs
    one keyframe per scene, found through the (title_id, shot_idx) index)."""
    first_frame = (
        select(func.min(Keyframe.shot_idx))
        .where(
            Keyframe.title_id == Scene.title_id,
            Keyframe.shot_idx >= Scene.first_shot,
            Keyframe.shot_idx <= Scene.last_shot,
        )
        .scalar_subquery()
    )
    rows = session.execute(
        select(Scene.idx, Scene.start_s, Scene.end_s, first_frame)
        .where(Scene.title_id == title_id)
        .order_by(Scene.idx)
    )
    return [SceneSpan(i, float(a), float(b), k) for i, a, b, k in rows]


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
