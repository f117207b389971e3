"""Repository functions: every read and write of the metadata database goes through here.

Callers pass a :class:`~sqlalchemy.orm.Session`; a caller's ``session_scope`` is the
transaction, so a stage's whole result commits or nothing does.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.models import (
    AnalysisRun,
    AuditEntry,
    Keyframe,
    OutboxEvent,
    RunStatus,
    Scene,
    Shot,
    StageResult,
    StageStatus,
    Title,
    TitleArtifact,
    TitleSource,
    TitleStatus,
    TranscriptSegment,
    Transition,
)


def now() -> datetime:
    return datetime.now(UTC)


# --- titles -----------------------------------------------------------------------------------


def get_title(session: Session, title_id: int) -> Title | None:
    return session.get(Title, title_id)


def find_title(session: Session, ref: str) -> Title | None:
    """A title by numeric id, external id, or (a prefix of at least 8 chars of) its sha256."""
    if ref.isdigit():
        title = session.get(Title, int(ref))
        if title is not None:
            return title
    title = session.scalar(select(Title).where(Title.external_id == ref))
    if title is None and len(ref) >= 8:
        title = session.scalar(select(Title).where(Title.content_sha256.startswith(ref.lower())))
    return title


def title_by_hash(session: Session, sha256: str) -> Title | None:
    return session.scalar(select(Title).where(Title.content_sha256 == sha256))


def list_titles(
    session: Session, *, status: str | None = None, limit: int = 100, offset: int = 0
) -> Sequence[Title]:
    q = select(Title).order_by(Title.id.desc()).limit(limit).offset(offset)
    if status:
        q = q.where(Title.status == status)
    return session.scalars(q).all()


def get_or_create_title(
    session: Session,
    *,
    sha256: str,
    size_bytes: int,
    name: str,
    source_uri: str,
    source_key: str,
    external_id: str | None = None,
) -> tuple[Title, bool]:
    """The title for this content, created if new. Concurrent creators end with one row."""
    existing = title_by_hash(session, sha256)
    if existing is not None:
        add_source(session, existing, source_uri)
        return existing, False
    title = Title(
        content_sha256=sha256,
        size_bytes=size_bytes,
        name=name,
        source_uri=source_uri,
        source_key=source_key,
        external_id=external_id,
        status=TitleStatus.PENDING,
    )
    try:
        with session.begin_nested():
            session.add(title)
            session.flush()
    except IntegrityError:
        # Another worker created the same content (or external id) first: use theirs.
        existing = title_by_hash(session, sha256)
        if existing is None:
            raise
        add_source(session, existing, source_uri)
        return existing, False
    add_source(session, title, source_uri)
    return title, True


def add_source(session: Session, title: Title, uri: str, etag: str | None = None) -> None:
    if session.scalar(select(TitleSource.id).where(TitleSource.uri == uri)) is not None:
        return
    try:
        with session.begin_nested():
            session.add(TitleSource(title_id=title.id, uri=uri, etag=etag))
            session.flush()
    except IntegrityError:
        pass  # announced concurrently; one row is enough


def title_id_for_source(session: Session, uri: str) -> int | None:
    return session.scalar(select(TitleSource.title_id).where(TitleSource.uri == uri))


# --- runs -------------------------------------------------------------------------------------


def create_run(
    session: Session, title: Title, *, params: dict[str, Any] | None = None, attempt: int = 1
) -> AnalysisRun:
    run = AnalysisRun(
        title_id=title.id, status=RunStatus.QUEUED, params=params or {}, attempt=attempt
    )
    session.add(run)
    session.flush()
    return run


def get_run(session: Session, run_id: int, *, lock: bool = False) -> AnalysisRun | None:
    """``lock``: SELECT ... FOR UPDATE, so parallel stage tasks of one run (different
    workers) merge their edits of ``stages``/``cost`` instead of overwriting each other."""
    if lock:
        return session.get(AnalysisRun, run_id, with_for_update=True, populate_existing=True)
    return session.get(AnalysisRun, run_id)


def claim_run(session: Session, run_id: int, task_id: str) -> bool:
    """Atomically make ``task_id`` the run's planner; False if another task already is."""
    result = session.execute(
        update(AnalysisRun)
        .where(
            AnalysisRun.id == run_id,
            or_(AnalysisRun.task_id.is_(None), AnalysisRun.task_id == task_id),
        )
        .values(task_id=task_id)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def stale_runs(session: Session, *, status: str, older_than: datetime) -> Sequence[AnalysisRun]:
    return session.scalars(
        select(AnalysisRun).where(AnalysisRun.status == status, AnalysisRun.updated_at < older_than)
    ).all()


def unpublished_events(session: Session, limit: int = 100) -> Sequence[OutboxEvent]:
    """Events not yet published, locked so that two publishers never send the same one."""
    q = (
        select(OutboxEvent)
        .where(OutboxEvent.published_at.is_(None))
        .order_by(OutboxEvent.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        q = q.with_for_update(skip_locked=True)
    return session.scalars(q).all()


def latest_run(session: Session, title_id: int) -> AnalysisRun | None:
    return session.scalar(
        select(AnalysisRun)
        .where(AnalysisRun.title_id == title_id)
        .order_by(AnalysisRun.id.desc())
        .limit(1)
    )


def list_runs(
    session: Session, *, status: str | None = None, limit: int = 100
) -> Sequence[AnalysisRun]:
    q = select(AnalysisRun).order_by(AnalysisRun.id.desc()).limit(limit)
    if status:
        q = q.where(AnalysisRun.status == status)
    return session.scalars(q).all()


def update_stage(session: Session, run: AnalysisRun, stage: str, **fields: Any) -> None:
    """Merge ``fields`` into the run's record for ``stage`` (JSON column: reassign to persist)."""
    stages = dict(run.stages or {})
    entry = dict(stages.get(stage, {"status": StageStatus.PENDING}))
    entry.update({k: v for k, v in fields.items()})
    stages[stage] = entry
    run.stages = stages
    run.updated_at = now()


def start_run(session: Session, run: AnalysisRun, stage_names: Sequence[str]) -> None:
    run.status = RunStatus.RUNNING
    run.started_at = run.started_at or now()
    run.error = None
    run.error_code = None
    stages = dict(run.stages or {})
    for name in stage_names:
        stages.setdefault(name, {"status": StageStatus.PENDING})
    run.stages = stages
    title = session.get(Title, run.title_id)
    if title is not None:
        title.status = TitleStatus.PROCESSING


def finish_run(
    session: Session,
    run: AnalysisRun,
    status: str,
    *,
    error: str | None = None,
    error_code: str | None = None,
) -> None:
    run.status = status
    run.finished_at = now()
    run.current_stage = None
    run.eta_s = None
    if status != RunStatus.FAILED:
        run.progress = 1.0
    run.error = error
    run.error_code = error_code
    title = session.get(Title, run.title_id)
    if title is not None:
        title.status = TitleStatus.FAILED if status == RunStatus.FAILED else TitleStatus.ENRICHED


# --- stage results (idempotency) ----------------------------------------------------------------


def find_stage_result(
    session: Session, title_id: int, stage: str, cache_key: str
) -> StageResult | None:
    return session.scalar(
        select(StageResult).where(
            StageResult.title_id == title_id,
            StageResult.stage == stage,
            StageResult.cache_key == cache_key,
        )
    )


def current_stage_result(session: Session, title_id: int, stage: str) -> StageResult | None:
    """A stage's stored result for a title (one per stage: a newer key supersedes older
    ones), or None when the stage has stored nothing."""
    return session.scalar(
        select(StageResult)
        .where(StageResult.title_id == title_id, StageResult.stage == stage)
        .order_by(StageResult.id.desc())
        .limit(1)
    )


def current_stage_key(session: Session, title_id: int, stage: str) -> str | None:
    result = current_stage_result(session, title_id, stage)
    return result.cache_key if result is not None else None


def record_stage_result(
    session: Session,
    *,
    title_id: int,
    run_id: int | None,
    stage: str,
    cache_key: str,
    model_version: str | None,
    summary: dict[str, Any],
) -> StageResult:
    """Mark ``stage`` done for this key; older results of the same stage are superseded."""
    session.execute(
        delete(StageResult).where(
            StageResult.title_id == title_id,
            StageResult.stage == stage,
            StageResult.cache_key != cache_key,
        )
    )
    result = find_stage_result(session, title_id, stage, cache_key)
    if result is None:
        result = StageResult(
            title_id=title_id,
            run_id=run_id,
            stage=stage,
            cache_key=cache_key,
            model_version=model_version,
            summary=summary,
        )
        session.add(result)
    else:
        result.summary = summary
        result.run_id = run_id
    session.flush()
    return result


# --- media info ---------------------------------------------------------------------------------


def save_media_info(session: Session, title: Title, info: dict[str, Any]) -> None:
    title.media_info = info
    title.duration_s = info.get("duration_s")


# --- artifacts ----------------------------------------------------------------------------------


def put_artifact(
    session: Session,
    title_id: int,
    kind: str,
    object_key: str,
    content_type: str,
    size_bytes: int | None = None,
) -> TitleArtifact:
    art = session.scalar(
        select(TitleArtifact).where(TitleArtifact.title_id == title_id, TitleArtifact.kind == kind)
    )
    if art is None:
        art = TitleArtifact(title_id=title_id, kind=kind)
        session.add(art)
    art.object_key = object_key
    art.content_type = content_type
    art.size_bytes = size_bytes
    art.created_at = now()
    session.flush()
    return art


def list_artifacts(session: Session, title_id: int) -> Sequence[TitleArtifact]:
    return session.scalars(
        select(TitleArtifact).where(TitleArtifact.title_id == title_id).order_by(TitleArtifact.kind)
    ).all()


# --- shots, scenes, keyframes, transcript (replaced whole, per stage) ---


def replace_rows(session: Session, model: type, title_id: int, rows: Sequence[Any]) -> None:
    """Replace every row of ``model`` for a title with ``rows`` (same transaction)."""
    session.execute(delete(model).where(model.title_id == title_id))  # type: ignore[attr-defined]
    session.add_all(rows)
    session.flush()


def shots_of(session: Session, title_id: int) -> Sequence[Shot]:
    return session.scalars(select(Shot).where(Shot.title_id == title_id).order_by(Shot.idx)).all()


def scenes_of(session: Session, title_id: int) -> Sequence[Scene]:
    return session.scalars(
        select(Scene).where(Scene.title_id == title_id).order_by(Scene.idx)
    ).all()


def transitions_of(session: Session, title_id: int) -> Sequence[Transition]:
    return session.scalars(
        select(Transition).where(Transition.title_id == title_id).order_by(Transition.start_frame)
    ).all()


def keyframes_of(session: Session, title_id: int) -> Sequence[Keyframe]:
    return session.scalars(
        select(Keyframe).where(Keyframe.title_id == title_id).order_by(Keyframe.shot_idx)
    ).all()


def transcript_of(session: Session, title_id: int) -> Sequence[TranscriptSegment]:
    return session.scalars(
        select(TranscriptSegment)
        .where(TranscriptSegment.title_id == title_id)
        .order_by(TranscriptSegment.idx)
    ).all()


def count_rows(session: Session, model: type, title_id: int) -> int:
    where = model.title_id == title_id  # type: ignore[attr-defined]
    return int(session.scalar(select(func.count()).select_from(model).where(where)) or 0)


# --- audit and events -----------------------------------------------------------------------------


def audit(
    session: Session,
    *,
    actor: str,
    action: str,
    entity_type: str,
    entity_id: int | None,
    title_id: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    actor_id: int | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        actor=actor,
        actor_id=actor_id,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        title_id=title_id,
        before=before,
        after=after,
    )
    session.add(entry)
    session.flush()
    return entry


def emit_event(
    session: Session, topic: str, payload: dict[str, Any], title_id: int | None = None
) -> OutboxEvent:
    """A change event in the caller's transaction. An event about a title is a change of
    the title: its ``updated_at`` moves too, so ``GET /api/v1/titles?updated_since=`` and
    ``coldstart export --since`` see editors' decisions, not only re-analyses."""
    event = OutboxEvent(topic=topic, payload=payload, title_id=title_id)
    session.add(event)
    if title_id is not None:
        touch_title(session, title_id)
    session.flush()
    return event


def touch_title(session: Session, title_id: int) -> None:
    """Mark a title changed (its place in the keyset order moves to now)."""
    title = session.get(Title, title_id)
    if title is not None:
        title.updated_at = now()
        session.flush()


# --- speech (issue 4) ---------------------------------------------------------------------------


def save_transcript(
    session: Session,
    title_id: int,
    segments: Sequence[dict[str, Any]],
    audio_track: int | None,
) -> int:
    """Replace a title's transcript with ``segments`` (dicts of Segment.to_dict()).

    Runs inside the caller's transaction, so segments and artifacts land together or not at all.
    """
    rows = [
        TranscriptSegment(
            title_id=title_id,
            idx=i,
            start_s=float(seg["start"]),
            end_s=float(seg["end"]),
            text=seg["text"],
            language=seg.get("language"),
            avg_logprob=seg.get("avg_logprob"),
            no_speech_prob=seg.get("no_speech_prob"),
            words=list(seg.get("words", [])),
            audio_track=audio_track,
        )
        for i, seg in enumerate(segments)
    ]
    replace_rows(session, TranscriptSegment, title_id, rows)
    return len(rows)


# --- shots, transitions, scenes, keyframes (issue 3) -----------------------------------------


def save_shot_analysis(
    session: Session,
    title_id: int,
    *,
    shots: Sequence[dict[str, Any]],
    transitions: Sequence[dict[str, Any]],
    scenes: Sequence[dict[str, Any]],
    keyframes: Sequence[dict[str, Any]],
) -> None:
    """Replace a title's shots, transitions, scenes and keyframes (caller's transaction).

    Each dict carries the columns of its model except ``id`` and ``title_id``.
    """
    replace_rows(session, Shot, title_id, [Shot(title_id=title_id, **s) for s in shots])
    replace_rows(
        session, Transition, title_id, [Transition(title_id=title_id, **t) for t in transitions]
    )
    replace_rows(session, Scene, title_id, [Scene(title_id=title_id, **s) for s in scenes])
    replace_rows(session, Keyframe, title_id, [Keyframe(title_id=title_id, **k) for k in keyframes])
