"""Ingestion triggers over HTTP: MinIO/S3 bucket notifications, and a direct call.

MinIO's webhook target posts the S3 event-notification JSON: ``Records[].eventName``
(``s3:ObjectCreated:Put``...), ``Records[].s3.bucket.name`` and ``Records[].s3.object.key``
(URL-encoded, ``+`` for spaces). Each created object is announced; announcing is cheap
(the worker hashes and registers it) and idempotent (one title and one run per content).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_plus

from fastapi import APIRouter, Body, Depends, HTTPException, Response, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from storage.objects import InvalidObjectKey
from web.deps import SettingsDep, require_webhook_token
from workers.services import parse_object_uri
from workers.triggers import announce

router = APIRouter(prefix="/ingest", tags=["ingest"])


class AnnouncementOut(BaseModel):
    key: str
    outcome: str
    reason: str | None = None


class WebhookOut(BaseModel):
    queued: int
    known: int
    ignored: int
    objects: list[AnnouncementOut]


@router.head("/s3-events")
def webhook_probe() -> Response:
    """MinIO checks that its webhook target answers before sending events."""
    return Response(status_code=status.HTTP_200_OK)


@router.post(
    "/s3-events",
    response_model=WebhookOut,
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[Depends(require_webhook_token)],
)
async def s3_events(settings: SettingsDep, event: dict[str, Any] = Body(...)) -> WebhookOut:
    records = event.get("Records")
    if not isinstance(records, list):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, "no Records list")
    results: list[AnnouncementOut] = []
    if not all(isinstance(r, dict) for r in records):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, "each record is an object")
    for record in records:
        name = str(record.get("eventName", ""))
        s3 = _obj(record.get("s3"))
        bucket = str(_obj(s3.get("bucket")).get("name", ""))
        key = unquote_plus(str(_obj(s3.get("object")).get("key", "")))
        if not name.startswith("s3:ObjectCreated:"):
            results.append(AnnouncementOut(key=key, outcome="ignored", reason=f"event {name}"))
            continue
        a = await run_in_threadpool(announce, settings, bucket, key, trigger="webhook")
        results.append(AnnouncementOut(key=a.key, outcome=a.outcome, reason=a.reason))
    count = {o: sum(r.outcome == o for r in results) for o in ("queued", "known", "ignored")}
    return WebhookOut(**count, objects=results)


def _obj(value: Any) -> dict[str, Any]:
    """A malformed (non-object) part of a record reads as empty: the record is ignored."""
    return value if isinstance(value, dict) else {}


class IngestIn(BaseModel):
    uri: str  # s3://bucket/key in the incoming bucket


@router.post(
    "",
    response_model=AnnouncementOut,
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[Depends(require_webhook_token)],
)
async def ingest_uri(settings: SettingsDep, body: IngestIn) -> AnnouncementOut:
    """A service announces an object it uploaded (same path as the webhook)."""
    try:
        _scheme, bucket, key = parse_object_uri(body.uri)
    except InvalidObjectKey as err:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, str(err)) from err
    a = await run_in_threadpool(announce, settings, bucket, key, trigger="api")
    return AnnouncementOut(key=a.key, outcome=a.outcome, reason=a.reason)
