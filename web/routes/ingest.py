"""Ingestion triggers over HTTP: MinIO/S3 bucket notifications, and a direct call.

MinIO's webhook target posts the S3 event-notification JSON: ``Records[].eventName``
(``s3:ObjectCreated:Put``...), ``Records[].s3.bucket.name`` and ``Records[].s3.object.key``
(URL-encoded, ``+`` for spaces). Each created object is announced; announcing is cheap
(the worker hashes and registers it) and idempotent (one title and one run per content).
"""

from __future__ import annotations

from urllib.parse import unquote_plus

from fastapi import APIRouter, Depends, HTTPException, Response, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from storage.objects import InvalidObjectKey
from web.deps import SettingsDep, require_webhook_token
from web.openapi import errors
from workers.services import parse_object_uri
from workers.triggers import announce

router = APIRouter(prefix="/ingest", tags=["ingest"])

# 400: a body that is not JSON; 401: a wrong token; 503: no webhook_token configured.
HOOK_RESPONSES = errors(400, 401, 422, 503)


# --- the S3 event-notification body (only the fields read; MinIO sends many more) -------


class S3Bucket(BaseModel):
    name: str = Field(max_length=255)


class S3Object(BaseModel):
    key: str = Field(max_length=4096, description="URL-encoded, '+' for spaces")


class S3Entity(BaseModel):
    bucket: S3Bucket
    object: S3Object


class S3Record(BaseModel):
    eventName: str = Field(max_length=200, examples=["s3:ObjectCreated:Put"])
    s3: S3Entity


class S3Event(BaseModel):
    """A malformed event (``{"Records": [1]}``, a record without its bucket or key) is
    refused whole with 422 and the reason: MinIO never sends one, so it is a caller's bug."""

    Records: list[S3Record] = Field(max_length=1000)


class AnnouncementOut(BaseModel):
    key: str
    outcome: str
    reason: str | None = None


class WebhookOut(BaseModel):
    queued: int
    known: int
    ignored: int
    objects: list[AnnouncementOut]


@router.head("/s3-events", response_class=Response, responses={200: {"description": "ready"}})
def webhook_probe() -> Response:
    """MinIO checks that its webhook target answers before sending events."""
    return Response(status_code=status.HTTP_200_OK)


@router.post(
    "/s3-events",
    response_model=WebhookOut,
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[Depends(require_webhook_token)],
    responses=HOOK_RESPONSES,
)
async def s3_events(settings: SettingsDep, event: S3Event) -> WebhookOut:
    results: list[AnnouncementOut] = []
    for record in event.Records:
        name = record.eventName
        bucket, key = record.s3.bucket.name, unquote_plus(record.s3.object.key)
        if not name.startswith("s3:ObjectCreated:"):
            results.append(AnnouncementOut(key=key, outcome="ignored", reason=f"event {name}"))
            continue
        a = await run_in_threadpool(announce, settings, bucket, key, trigger="webhook")
        results.append(AnnouncementOut(key=a.key, outcome=a.outcome, reason=a.reason))
    count = {o: sum(r.outcome == o for r in results) for o in ("queued", "known", "ignored")}
    return WebhookOut(**count, objects=results)


class IngestIn(BaseModel):
    uri: str = Field(max_length=4096, examples=["s3://incoming/uploads/film.mp4"])


@router.post(
    "",
    response_model=AnnouncementOut,
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[Depends(require_webhook_token)],
    responses=HOOK_RESPONSES,
)
async def ingest_uri(settings: SettingsDep, body: IngestIn) -> AnnouncementOut:
    """A service announces an object it uploaded (same path as the webhook)."""
    try:
        _scheme, bucket, key = parse_object_uri(body.uri)
    except InvalidObjectKey as err:
        raise HTTPException(422, str(err)) from err
    a = await run_in_threadpool(announce, settings, bucket, key, trigger="api")
    return AnnouncementOut(key=a.key, outcome=a.outcome, reason=a.reason)
