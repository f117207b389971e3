"""SQLAlchemy 2.0 models: the metadata database of enriched titles.

The schema is created only by Alembic migrations (``storage/migrations``); a test checks
that the migrations and these models agree exactly.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Named constraints so migrations are stable across SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JsonType = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class TitleStatus:
    PENDING = "pending"
    PROCESSING = "processing"
    ENRICHED = "enriched"
    FAILED = "failed"


class RunStatus:
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    PARTIAL = "partial"  # finished, but one or more optional stages failed
    FAILED = "failed"

    FINISHED = (SUCCEEDED, PARTIAL, FAILED)


class StageStatus:
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    SKIPPED = "skipped"  # not applicable (e.g. no audio), with a reason
    FAILED = "failed"


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32), default="editor")  # viewer|editor|admin|service
    api_token_hash: Mapped[str | None] = mapped_column(String(128), nullable=True)
    # argon2id hash for the admin view's sign-in; null: the account cannot sign in.
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    password_changed_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Title(Base):
    __tablename__ = "titles"
    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(255), unique=True, nullable=True)
    name: Mapped[str] = mapped_column(String(500))
    source_uri: Mapped[str] = mapped_column(String(1200))  # first place we saw it
    source_key: Mapped[str] = mapped_column(String(1100))  # key in the source store
    content_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(32), default=TitleStatus.PENDING, index=True)
    duration_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    media_info: Mapped[dict[str, Any] | None] = mapped_column(JsonType, nullable=True)
    # An editor's lock: no re-analysis of this title is started while it is set.
    locked_by: Mapped[str | None] = mapped_column(String(320), nullable=True)
    locked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
    # The review queue's risk, derived from the rating suggestions and final ratings and kept
    # current by storage.queue.refresh_review_risk, so the queue pages through one index
    # instead of aggregating every title's suggestions per request: a suggested system not
    # finally rated; the strictest suggested minimum age (-1: none); the least confident
    # suggestion (2.0: none).
    review_needed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    review_max_age: Mapped[int] = mapped_column(Integer, default=-1, server_default="-1")
    review_min_confidence: Mapped[float] = mapped_column(Float, default=2.0, server_default="2.0")

    runs: Mapped[list[AnalysisRun]] = relationship(
        back_populates="title", order_by="AnalysisRun.id", cascade="all, delete-orphan"
    )
    sources: Mapped[list[TitleSource]] = relationship(
        back_populates="title", cascade="all, delete-orphan"
    )


# The review queue's order: needing review, strictest, least confident, newest.
Index(
    "ix_titles_review_risk",
    Title.review_needed.desc(),
    Title.review_max_age.desc(),
    Title.review_min_confidence,
    Title.id.desc(),
)


class TitleSource(Base):
    """Every object URI that announced this content; duplicates map to one title."""

    __tablename__ = "title_sources"
    id: Mapped[int] = mapped_column(primary_key=True)
    title_id: Mapped[int] = mapped_column(ForeignKey("titles.id", ondelete="CASCADE"), index=True)
    uri: Mapped[str] = mapped_column(String(1200), unique=True)
    etag: Mapped[str | None] = mapped_column(String(128), nullable=True)
    first_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    title: Mapped[Title] = relationship(back_populates="sources")


class AnalysisRun(Base):
    __tablename__ = "analysis_runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    title_id: Mapped[int] = mapped_column(ForeignKey("titles.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(32), default=RunStatus.QUEUED, index=True)
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    # {stage: {status, started_at, finished_at, duration_s, progress, error, warnings, ...}}
    stages: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    current_stage: Mapped[str | None] = mapped_column(String(64), nullable=True)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    eta_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    error_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    model_versions: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    taxonomy_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    params: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    cost: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)  # cpu/gpu s per stage
    task_id: Mapped[str | None] = mapped_column(String(155), nullable=True)
    worker: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    title: Mapped[Title] = relationship(back_populates="runs")


class StageResult(Base):
    """One stage's stored output, keyed for idempotency by content, stage, model and params."""

    __tablename__ = "stage_results"
    __table_args__ = (UniqueConstraint("title_id", "stage", "cache_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    title_id: Mapped[int] = mapped_column(ForeignKey("titles.id", ondelete="CASCADE"), index=True)
    run_id: Mapped[int | None] = mapped_column(
        ForeignKey("analysis_runs.id", ondelete="SET NULL"), nullable=True
    )
    stage: Mapped[str] = mapped_column(String(64))
    cache_key: Mapped[str] = mapped_column(String(64))  # sha256 of (hash, stage, model, params)
    model_version: Mapped[str | None] = mapped_column(String(200), nullable=True)
    summary: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Shot(Base):
    __tablename__ = "shots"
    __table_args__ = (UniqueConstraint("title_id", "idx"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    title_id: Mapped[int] = mapped_column(ForeignKey("titles.id", ondelete="CASCADE"), index=True)
    idx: Mapped[int] = mapped_column(Integer)
    start_frame: Mapped[int] = mapped_column(Integer)
    end_frame: Mapped[int] = mapped_column(Integer)  # exclusive
    start_s: Mapped[float] = mapped_column(Float)
    end_s: Mapped[float] = mapped_column(Float)
    scene_idx: Mapped[int | None] = mapped_column(Integer, nullable=True)
    features: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)  # style features


class Transition(Base):
    __tablename__ = "transitions"
    id: Mapped[int] = mapped_column(primary_key=True)
    title_id: Mapped[int] = mapped_column(ForeignKey("titles.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))  # cut|fade_in|fade_out|dissolve|...
    start_frame: Mapped[int] = mapped_column(Integer)
    end_frame: Mapped[int] = mapped_column(Integer)
    start_s: Mapped[float] = mapped_column(Float)
    end_s: Mapped[float] = mapped_column(Float)
    confidence: Mapped[float | None] = mapped_column(Float, nullable=True)


class Scene(Base):
    __tablename__ = "scenes"
    __table_args__ = (UniqueConstraint("title_id", "idx"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    title_id: Mapped[int] = mapped_column(ForeignKey("titles.id", ondelete="CASCADE"), index=True)
    idx: Mapped[int] = mapped_column(Integer)
    first_shot: Mapped[int] = mapped_column(Integer)
    last_shot: Mapped[int] = mapped_column(Integer)
    start_s: Mapped[float] = mapped_column(Float)
    end_s: Mapped[float] = mapped_column(Float)
    summary: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)


class Keyframe(Base):
    __tablename__ = "keyframes"
    __table_args__ = (UniqueConstraint("title_id", "shot_idx"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    title_id: Mapped[int] = mapped_column(ForeignKey("titles.id", ondelete="CASCADE"), index=True)
    shot_idx: Mapped[int] = mapped_column(Integer)
    frame: Mapped[int] = mapped_column(Integer)
    time_s: Mapped[float] = mapped_column(Float)
    object_key: Mapped[str] = mapped_column(String(1100))
    thumb_key: Mapped[str] = mapped_column(String(1100))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    sharpness: Mapped[float | None] = mapped_column(Float, nullable=True)


class TranscriptSegment(Base):
    __tablename__ = "transcript_segments"
    __table_args__ = (UniqueConstraint("title_id", "idx"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    title_id: Mapped[int] = mapped_column(ForeignKey("titles.id", ondelete="CASCADE"), index=True)
    idx: Mapped[int] = mapped_column(Integer)
    start_s: Mapped[float] = mapped_column(Float)
    end_s: Mapped[float] = mapped_column(Float)
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(16), nullable=True)
    avg_logprob: Mapped[float | None] = mapped_column(Float, nullable=True)
    no_speech_prob: Mapped[float | None] = mapped_column(Float, nullable=True)
    words: Mapped[list[Any]] = mapped_column(JsonType, default=list)
    audio_track: Mapped[int | None] = mapped_column(Integer, nullable=True)


class TitleArtifact(Base):
    """Derived files in the object store: subtitles, filmstrip, extracted audio..."""

    __tablename__ = "title_artifacts"
    __table_args__ = (UniqueConstraint("title_id", "kind"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    title_id: Mapped[int] = mapped_column(ForeignKey("titles.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(64))  # vtt|srt|filmstrip|transcript_txt|...
    object_key: Mapped[str] = mapped_column(String(1100))
    content_type: Mapped[str] = mapped_column(String(128))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class TagProposal(Base):
    """What one analysis run proposed for a title: replaced as a whole by the next run.

    Editors never write here; their decisions live in :class:`TagDecision`, so a
    re-analysis can never erase them."""

    __tablename__ = "tag_proposals"
    __table_args__ = (
        UniqueConstraint("title_id", "facet", "label"),
        Index("ix_tag_proposals_facet_label", "facet", "label"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    title_id: Mapped[int] = mapped_column(ForeignKey("titles.id", ondelete="CASCADE"), index=True)
    run_id: Mapped[int | None] = mapped_column(
        ForeignKey("analysis_runs.id", ondelete="SET NULL"), nullable=True
    )
    facet: Mapped[str] = mapped_column(String(64))  # mood|tone|maturity
    label: Mapped[str] = mapped_column(String(128))
    score: Mapped[float] = mapped_column(Float)
    # maturity descriptors carry a severity level (none|mild|moderate|strong|severe)
    severity: Mapped[str | None] = mapped_column(String(16), nullable=True)
    evidence: Mapped[list[Any]] = mapped_column(JsonType, default=list)  # scenes, times, quotes
    model_version: Mapped[str | None] = mapped_column(String(200), nullable=True)
    taxonomy_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    taxonomy_fingerprint: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class TagDecision(Base):
    """An editor's decision on a (facet, label) of a title: approve, reject, edit or add.
    The latest decision per label stands; the audit log keeps every earlier one."""

    __tablename__ = "tag_decisions"
    __table_args__ = (UniqueConstraint("title_id", "facet", "label"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    title_id: Mapped[int] = mapped_column(ForeignKey("titles.id", ondelete="CASCADE"), index=True)
    facet: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(16))  # approve|reject|edit|add
    # edit: the label and/or severity the editor put in place of the model's
    new_label: Mapped[str | None] = mapped_column(String(128), nullable=True)
    severity: Mapped[str | None] = mapped_column(String(16), nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The proposal's score when the editor decided: later runs are compared against it.
    proposal_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    decided_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    decided_by_name: Mapped[str] = mapped_column(String(320))
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class TitleProfile(Base):
    """What the tagging stage found beyond proposals, replaced by each run: the mood arc
    (per-scene scores of every mood and tone label), artwork and preview candidates, the
    descriptor assessments and the signals that were absent, with their reasons."""

    __tablename__ = "title_profiles"
    id: Mapped[int] = mapped_column(primary_key=True)
    title_id: Mapped[int] = mapped_column(
        ForeignKey("titles.id", ondelete="CASCADE"), unique=True, index=True
    )
    run_id: Mapped[int | None] = mapped_column(
        ForeignKey("analysis_runs.id", ondelete="SET NULL"), nullable=True
    )
    arc: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    artwork: Mapped[list[Any]] = mapped_column(JsonType, default=list)
    descriptors: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    absent: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    signals: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)  # name -> version
    taxonomy_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    taxonomy_fingerprint: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class RatingSuggestion(Base):
    """The model's suggested rating for one rating system, replaced by each run."""

    __tablename__ = "rating_suggestions"
    __table_args__ = (UniqueConstraint("title_id", "system"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    title_id: Mapped[int] = mapped_column(ForeignKey("titles.id", ondelete="CASCADE"), index=True)
    run_id: Mapped[int | None] = mapped_column(
        ForeignKey("analysis_runs.id", ondelete="SET NULL"), nullable=True
    )
    system: Mapped[str] = mapped_column(String(32))  # mpaa|tv|bbfc
    rating: Mapped[str] = mapped_column(String(32))
    min_age: Mapped[int | None] = mapped_column(Integer, nullable=True)
    confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    needs_review: Mapped[bool] = mapped_column(Boolean, default=True)
    drivers: Mapped[list[Any]] = mapped_column(JsonType, default=list)  # descriptors + evidence
    reasons: Mapped[list[Any]] = mapped_column(JsonType, default=list)  # sentences for people
    taxonomy_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    taxonomy_fingerprint: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class RatingDecision(Base):
    """An editor's final rating for one system. It always wins over the suggestion, and no
    re-analysis changes it."""

    __tablename__ = "rating_decisions"
    __table_args__ = (UniqueConstraint("title_id", "system"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    title_id: Mapped[int] = mapped_column(ForeignKey("titles.id", ondelete="CASCADE"), index=True)
    system: Mapped[str] = mapped_column(String(32))
    rating: Mapped[str] = mapped_column(String(32))
    min_age: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    # The suggestion standing when the editor decided: a stricter later one is shown.
    suggested_rating: Mapped[str | None] = mapped_column(String(32), nullable=True)
    decided_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    decided_by_name: Mapped[str] = mapped_column(String(320))
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SpaceStatus:
    BUILDING = "building"
    ACTIVE = "active"
    RETIRED = "retired"


class EmbeddingSpace(Base):
    """A named, versioned vector space (``name@version``). One version of a name is active;
    a new one is built beside it and flipped atomically (see ``activate_space``)."""

    __tablename__ = "embedding_spaces"
    __table_args__ = (UniqueConstraint("name", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))  # visual|text|profile|style|fused
    version: Mapped[str] = mapped_column(String(200))
    dim: Mapped[int] = mapped_column(Integer)
    metric: Mapped[str] = mapped_column(String(16), default="cosine")
    model: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default=SpaceStatus.BUILDING, index=True)
    # standardisation statistics, fusion weights...: versioned with the space
    params: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    activated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Embedding(Base):
    """A vector in a named space. Stored as little-endian float32 bytes (portable)."""

    __tablename__ = "embeddings"
    __table_args__ = (UniqueConstraint("title_id", "space", "scope", "ref_idx", "model_version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    title_id: Mapped[int] = mapped_column(ForeignKey("titles.id", ondelete="CASCADE"), index=True)
    space: Mapped[str] = mapped_column(String(64), index=True)  # e.g. text-minilm, visual-clip
    scope: Mapped[str] = mapped_column(String(16), default="title")  # title|scene|shot
    ref_idx: Mapped[int] = mapped_column(Integer, default=-1)  # scene/shot index, -1 for title
    model_version: Mapped[str] = mapped_column(String(200))
    dim: Mapped[int] = mapped_column(Integer)
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    # What made it: the parts of a fused vector, the fingerprint of a space's inputs.
    info: Mapped[dict[str, Any] | None] = mapped_column(JsonType, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AuditEntry(Base):
    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    actor: Mapped[str] = mapped_column(String(320))  # user email, or "system:<component>"
    action: Mapped[str] = mapped_column(String(64))
    entity_type: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    title_id: Mapped[int | None] = mapped_column(
        ForeignKey("titles.id", ondelete="CASCADE"), nullable=True, index=True
    )
    before: Mapped[dict[str, Any] | None] = mapped_column(JsonType, nullable=True)
    after: Mapped[dict[str, Any] | None] = mapped_column(JsonType, nullable=True)


class OutboxEvent(Base):
    """Events to publish (e.g. ``title.enriched``), written in the same transaction as data."""

    __tablename__ = "outbox_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    topic: Mapped[str] = mapped_column(String(128), index=True)
    title_id: Mapped[int | None] = mapped_column(
        ForeignKey("titles.id", ondelete="CASCADE"), nullable=True
    )
    payload: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class ApiToken(Base):
    """A recommender API token: only its SHA-256 is stored (the token is random, so a fast
    hash is enough), with its scopes (read, export) and a per-minute rate limit."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(16))  # shown in listings, never enough to use
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[Any]] = mapped_column(JsonType, default=list)
    rate_limit_per_min: Mapped[int] = mapped_column(Integer, default=600)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
