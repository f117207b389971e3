"""Ingestion: turn a local file or an object in a bucket into one title and one run.

However many times the same content is announced (same key again, or the same bytes under
another key), it maps to one title; a new run is created only when the title has none.
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from analyzers.errors import BadMediaError
from storage import repository as repo
from storage.db import session_scope
from storage.models import Title
from storage.objects import ObjectStore, put_file, safe_name, sha256_file
from storage.objects.base import CHUNK, HashingReader
from workers.services import (
    S3_SCHEME,
    incoming_store,
    object_uri,
    parse_object_uri,
    s3_store,
    store_for_uri,
)
from workers.settings import Settings


@dataclass(frozen=True)
class Ingested:
    title_id: int
    run_id: int
    created_title: bool
    created_run: bool


def _content_type(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def ingest_file(settings: Settings, path: Path, *, external_id: str | None = None) -> Ingested:
    """Copy a local file into the incoming store (if new content) and register it."""
    if not path.exists():
        raise BadMediaError(f"file not found: {path}", code="missing")
    if not path.is_file():
        raise BadMediaError(f"not a regular file: {path}", code="not_a_file")
    sha, size = sha256_file(path)
    origin = path.resolve().as_uri()
    with session_scope(settings.effective_database_url) as session:
        existing = repo.title_by_hash(session, sha)
        if existing is not None:
            repo.add_source(session, existing, origin)
            return _ensure_run(session, existing, created=False)
    key = f"uploads/{sha[:12]}-{safe_name(path.name)}"
    store = incoming_store(settings)
    put_file(store, key, path, _content_type(path.name))
    return register(
        settings,
        sha256=sha,
        size=size,
        name=external_id or path.name,
        source_uri=object_uri(settings, settings.incoming_bucket, key),
        source_key=key,
        origin=origin,
        external_id=external_id,
    )


def ingest_object(settings: Settings, uri: str, *, external_id: str | None = None) -> Ingested:
    """Register an object already in a bucket (``s3://bucket/key`` or ``local://bucket/key``)."""
    _scheme, bucket, key = parse_object_uri(uri)
    store: ObjectStore
    if uri.startswith(S3_SCHEME):
        store = s3_store(settings, bucket)
        canonical = f"{S3_SCHEME}{bucket}/{key}"
    else:
        store, key = store_for_uri(settings, uri)
        canonical = uri
    with session_scope(settings.effective_database_url) as session:
        title_id = repo.title_id_for_source(session, canonical)
        if title_id is not None:
            title = repo.get_title(session, title_id)
            assert title is not None
            return _ensure_run(session, title, created=False)
    if store.stat(key) is None:
        raise BadMediaError(f"object not found: {canonical}", code="missing")
    sha, size = _hash_object(store, key)
    return register(
        settings,
        sha256=sha,
        size=size,
        name=external_id or Path(key).name,
        source_uri=canonical,
        source_key=key,
        origin=canonical,
        external_id=external_id,
    )


def register(
    settings: Settings,
    *,
    sha256: str,
    size: int,
    name: str,
    source_uri: str,
    source_key: str,
    origin: str,
    external_id: str | None,
) -> Ingested:
    with session_scope(settings.effective_database_url) as session:
        title, created = repo.get_or_create_title(
            session,
            sha256=sha256,
            size_bytes=size,
            name=name,
            source_uri=source_uri,
            source_key=source_key,
            external_id=external_id,
        )
        repo.add_source(session, title, origin)
        return _ensure_run(session, title, created=created)


def _ensure_run(session: Session, title: Title, *, created: bool) -> Ingested:
    # Lock the title row: concurrent announcements of one object (webhook, sweep, CLI) then
    # queue behind each other here, and only the first creates the run.
    session.refresh(title, with_for_update=True)
    run = repo.latest_run(session, title.id)
    if run is not None:
        return Ingested(title.id, run.id, created_title=created, created_run=False)
    run = repo.create_run(session, title)
    return Ingested(title.id, run.id, created_title=created, created_run=True)


def _hash_object(store: ObjectStore, key: str) -> tuple[str, int]:
    with store.open(key) as stream:
        reader = HashingReader(stream)
        while reader.read(CHUNK):
            pass
    return reader.hexdigest(), reader.size
