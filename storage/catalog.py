"""Reads for the recommender API: keyset pages of titles, the change feed, API tokens, and
what the catalogue index needs per title.

Pages are keyed by ``(updated_at, id)``, never by offset: a title updated while a client
pages moves behind the cursor and comes back on a later page with its new state, so no
title is skipped and none is seen twice in one state.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from storage.db import engine_for
from storage.models import ApiToken, OutboxEvent, Shot, Title, TitleProfile, utcnow

log = logging.getLogger(__name__)

TOKEN_PREFIX = "cs_"
SCOPES = ("read", "export")


# --- titles ---------------------------------------------------------------------------------


def titles_page(
    session: Session,
    *,
    updated_since: datetime | None = None,
    after: tuple[datetime, int] | None = None,
    limit: int = 100,
) -> Sequence[Title]:
    """Up to ``limit`` titles ordered by (updated_at, id), after the cursor ``after``."""
    q = select(Title)
    if updated_since is not None:
        q = q.where(Title.updated_at >= updated_since)
    if after is not None:
        at, title_id = after
        q = q.where(or_(Title.updated_at > at, and_(Title.updated_at == at, Title.id > title_id)))
    return session.scalars(q.order_by(Title.updated_at, Title.id).limit(limit)).all()


def iter_titles(
    session: Session, *, updated_since: datetime | None = None, batch: int = 500
) -> Iterator[Title]:
    """Every title (updated since a time), page by page: memory stays flat at any size."""
    after: tuple[datetime, int] | None = None
    while True:
        page = titles_page(session, updated_since=updated_since, after=after, limit=batch)
        if not page:
            return
        yield from page
        after = (page[-1].updated_at, page[-1].id)
        session.expunge_all()  # drop the page's objects before the next


@dataclass
class IndexRow:
    """What the recommender's index keeps of one title."""

    title_id: int
    name: str
    duration_s: float | None
    created_at: datetime
    ratings: list[Any]  # review.FinalRating
    tags: list[Any]  # review.FinalTag, without evidence
    artwork: list[Any]
    shots: int
    mean_luma: float | None  # over the shots that carry one


def iter_index_rows(
    session: Session, *, title_ids: Sequence[int] | None = None, batch: int = 2000
) -> Iterator[IndexRow]:
    """Every title (or ``title_ids``) with its final ratings and tags, artwork and shot
    statistics: a handful of queries per ``batch`` titles, never one per title, so a 100k
    catalogue loads in seconds. Only the columns the index reads are fetched."""
    from storage import review

    after = 0
    wanted = sorted(set(title_ids)) if title_ids is not None else None
    while True:
        q = select(Title.id, Title.name, Title.duration_s, Title.created_at)
        if wanted is not None:
            chunk, wanted = wanted[:batch], wanted[batch:]
            if not chunk:
                return
            q = q.where(Title.id.in_(chunk))
        else:
            q = q.where(Title.id > after)
        titles = session.execute(q.order_by(Title.id).limit(batch)).all()
        if not titles:
            if wanted is None:
                return
            continue  # none of this chunk exists; the next may
        ids = [t.id for t in titles]
        ratings = review.final_ratings_of(session, ids)
        tags = review.final_tags_of(session, ids, with_evidence=False)
        artwork = dict(
            session.execute(
                select(TitleProfile.title_id, TitleProfile.artwork).where(
                    review.of_titles(TitleProfile.title_id, ids)
                )
            ).all()
        )
        luma = Shot.features["luma_mean"].as_float()
        stats = {
            tid: (count, mean)
            for tid, count, mean in session.execute(
                select(Shot.title_id, func.count(Shot.id), func.avg(luma))
                .where(review.of_titles(Shot.title_id, ids))
                .group_by(Shot.title_id)
            )
        }
        for t in titles:
            count, mean = stats.get(t.id, (0, None))
            yield IndexRow(
                t.id, t.name, t.duration_s, t.created_at, ratings[t.id], tags[t.id],
                list(artwork.get(t.id) or []), int(count), None if mean is None else float(mean),
            )  # fmt: skip
        after = ids[-1]
        session.expunge_all()


def export_records(
    session: Session, *, since: datetime | None = None, space: str | None = None
) -> Iterator[dict[str, Any]]:
    """One flat record per title for offline training (final tags, ratings, artwork and
    optionally the title vector of the active ``space``), streamed page by page."""
    from storage import review, vectors

    active = vectors.active_space(session, space) if space else None
    if space and active is None:
        raise LookupError(f"no active space {space!r}")
    for title in iter_titles(session, updated_since=since):
        profile = review.profile_of(session, title.id)
        record: dict[str, Any] = {
            "id": title.id,
            "name": title.name,
            "status": title.status,
            "duration_s": title.duration_s,
            "updated_at": title.updated_at.isoformat(),
            "tags": [
                {"facet": t.facet, "label": t.label, "score": t.score, "source": t.source}
                for t in review.final_tags(session, title.id)
            ],
            "ratings": [
                {
                    "system": r.system,
                    "rating": r.rating,
                    "min_age": r.min_age,
                    "is_final": r.is_final,
                    "needs_review": r.needs_review,
                }
                for r in review.final_ratings(session, title.id)
            ],
            "artwork": list(profile.artwork) if profile else [],
        }
        if active is not None:
            got = vectors.title_vector(session, title.id, active)
            record["vector"] = got[0].tolist() if got is not None else None
            record["space"] = f"{active.name}@{active.version}"
        yield record


# --- the change feed ------------------------------------------------------------------------


def events_after(session: Session, after: int = 0, limit: int = 100) -> Sequence[OutboxEvent]:
    """Outbox events with an id above ``after``, oldest first (the polling change feed)."""
    return session.scalars(
        select(OutboxEvent).where(OutboxEvent.id > after).order_by(OutboxEvent.id).limit(limit)
    ).all()


def events_with_ids(session: Session, ids: Sequence[int]) -> Sequence[OutboxEvent]:
    """The committed events among ``ids`` (a follower re-reading ids it saw skipped)."""
    return session.scalars(
        select(OutboxEvent).where(OutboxEvent.id.in_(ids)).order_by(OutboxEvent.id)
    ).all()


def last_event_id(session: Session) -> int:
    return int(session.scalar(select(func.max(OutboxEvent.id))) or 0)


def event_document(event: OutboxEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "topic": event.topic,
        "title_id": event.title_id,
        "payload": event.payload,
        "created_at": event.created_at.isoformat(),
    }


# --- API tokens -----------------------------------------------------------------------------


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    session: Session, name: str, scopes: Sequence[str], *, rate_limit_per_min: int = 600
) -> tuple[str, ApiToken]:
    """A new token: the plaintext is returned once and never stored."""
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise ValueError(f"scopes must be among {SCOPES}, got {list(scopes)}")
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        name=name,
        prefix=plaintext[:10],
        token_hash=hash_token(plaintext),
        scopes=sorted(set(scopes)),
        rate_limit_per_min=rate_limit_per_min,
    )
    session.add(token)
    session.flush()
    return plaintext, token


def token_by_plaintext(session: Session, plaintext: str) -> ApiToken | None:
    return session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(plaintext)))


@dataclass(frozen=True)
class TokenGrant:
    """What a request needs of a live token."""

    name: str
    scopes: tuple[str, ...]
    rate_limit_per_min: int
    key: str  # the stored hash: the rate limiter's key


def token_grant(url: str, plaintext: str) -> TokenGrant | None:
    """The unrevoked token whose hash matches ``plaintext``, None for none. One Core query
    on a pooled connection: the API runs it on every request, where an ORM session cost
    ~1.4 ms and this ~0.6 ms (bench-api's machine)."""
    q = select(
        ApiToken.name,
        ApiToken.scopes,
        ApiToken.rate_limit_per_min,
        ApiToken.token_hash,
        ApiToken.last_used_at,
    ).where(ApiToken.token_hash == hash_token(plaintext), ApiToken.revoked_at.is_(None))
    engine = engine_for(url)
    with engine.connect() as conn:
        row = conn.execute(q).first()
    if row is None:
        return None
    if _stale(row.last_used_at):
        _mark_used(engine, row.token_hash)
    return TokenGrant(
        row.name, tuple(row.scopes or ()), int(row.rate_limit_per_min), row.token_hash
    )


TOKEN_USE_RESOLUTION = timedelta(minutes=1)  # last_used_at is written at most this often


def _stale(last_used: datetime | None) -> bool:
    if last_used is None:
        return True
    if last_used.tzinfo is None:  # SQLite hands back naive UTC
        last_used = last_used.replace(tzinfo=UTC)
    return utcnow() - last_used >= TOKEN_USE_RESOLUTION


def _mark_used(engine: Any, token_hash: str) -> None:
    """When a token was last used (``coldstart tokens list``), for rotations: is the old
    one still in use? Best effort: a failed write never refuses a request."""
    try:
        with engine.begin() as conn:
            conn.execute(
                update(ApiToken)
                .where(ApiToken.token_hash == token_hash)
                .values(last_used_at=utcnow())
            )
    except Exception as err:  # a read-only replica, a lock: the next use tries again
        log.debug("token last_used_at not written: %s", err)


def list_tokens(session: Session) -> Sequence[ApiToken]:
    return session.scalars(select(ApiToken).order_by(ApiToken.id)).all()


def revoke_token(session: Session, ref: str) -> ApiToken | None:
    """Revoke by id or by the shown prefix; None when nothing matches."""
    q = select(ApiToken).where(ApiToken.prefix == ref)
    if ref.isdigit():
        q = select(ApiToken).where(ApiToken.id == int(ref))
    token = session.scalar(q)
    if token is not None and token.revoked_at is None:
        token.revoked_at = utcnow()
        session.flush()
    return token
