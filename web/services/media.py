"""Media for the admin view: the source video (HTTP range requests from a local store, a
presigned URL on S3) and keyframe thumbnails from the derived store. Keys come from the
database, never from the request, and pass the store's key validation."""

from __future__ import annotations

import mimetypes
from datetime import timedelta

from fastapi import HTTPException, status
from fastapi.responses import FileResponse, RedirectResponse, Response

from storage.models import Keyframe, Title
from storage.objects import InvalidObjectKey, ObjectNotFound, S3ObjectStore, read_bytes
from workers.services import derived_store, store_for_uri
from workers.settings import Settings

PRESIGN_TTL = timedelta(hours=2)


def source_video(settings: Settings, title: Title) -> Response:
    try:
        store, key = store_for_uri(settings, title.source_uri, create_bucket=False)
    except (InvalidObjectKey, ValueError) as err:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, "the source is not in an object store"
        ) from err
    if isinstance(store, S3ObjectStore):
        return _presigned_redirect(store, key)
    try:
        path = store.local_path(key)
    except ObjectNotFound:
        path = None
    if path is None or not path.is_file():
        raise HTTPException(status.HTTP_404_NOT_FOUND, "the source video is not in the store")
    media_type = mimetypes.guess_type(path.name)[0] or "video/mp4"
    # FileResponse answers Range requests (206 Partial Content), so the player can seek.
    return FileResponse(path, media_type=media_type)


def _presigned_redirect(store: S3ObjectStore, key: str) -> Response:
    # Signing is local once the bucket's region is known; without COLDSTART_S3_REGION minio
    # asks S3 for it, so an unreachable store fails after the client's timeouts (a 503 with
    # Retry-After from web.errors, as for every dependency that is down).
    try:
        url = store.client.presigned_get_object(store.bucket, key, expires=PRESIGN_TTL)
    except ValueError as err:  # a bucket name S3 refuses
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, "the source is not in an object store"
        ) from err
    return RedirectResponse(url, status_code=status.HTTP_307_TEMPORARY_REDIRECT)


def keyframe_image(settings: Settings, keyframe: Keyframe, *, thumb: bool = True) -> Response:
    key = keyframe.thumb_key if thumb and keyframe.thumb_key else keyframe.object_key
    try:
        data = read_bytes(derived_store(settings, create_bucket=False), key)
    except (ObjectNotFound, InvalidObjectKey, FileNotFoundError) as err:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such keyframe image") from err
    return Response(
        data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=86400"}
    )
