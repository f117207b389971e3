"""Change events out of the outbox: to a Redis stream, and to optional signed webhooks.

At least once: the relay's position (the last outbox id sent) is stored in Redis only
*after* the events were added to the stream, so a crash in between sends them again.
Every message carries the outbox ``event_id``; consumers de-duplicate on it. The kombu
publisher (:mod:`workers.events`) keeps its own ``published_at`` marks; this relay does not
touch them, so both can run.

Webhooks get the event as JSON with ``X-Coldstart-Event-Id`` and ``X-Coldstart-Signature:
sha256=<hex HMAC of the body with the shared secret>``; a 5xx or a network error is retried
with exponential backoff, a 4xx is not (the receiver refused this event).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from storage import catalog
from storage.db import session_scope

STREAM = "coldstart:changes"


@dataclass(frozen=True)
class Webhook:
    url: str
    secret: str
    retries: int = 5
    backoff_s: float = 0.5  # doubled after each failed try


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def deliver(hook: Webhook, event: dict[str, Any], *, client: httpx.Client | None = None) -> int:
    """POST one event; the number of tries it took. Raises after the last failed try."""
    body = json.dumps(event, sort_keys=True).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Coldstart-Event-Id": str(event["id"]),
        "X-Coldstart-Signature": sign(hook.secret, body),
    }
    http = client or httpx.Client(timeout=10.0)
    delay = hook.backoff_s
    try:
        for attempt in range(1, hook.retries + 2):
            try:
                r = http.post(hook.url, content=body, headers=headers)
                if r.status_code < 500:
                    r.raise_for_status()  # a 4xx is final
                    return attempt
                error: Exception = httpx.HTTPStatusError(
                    f"{r.status_code} from {hook.url}", request=r.request, response=r
                )
            except httpx.TransportError as err:
                error = err
            if attempt > hook.retries:
                raise error
            time.sleep(delay)
            delay *= 2
    finally:
        if client is None:
            http.close()
    raise AssertionError("unreachable")


def relay_once(
    database_url: str,
    redis: Any,
    *,
    stream: str = STREAM,
    webhooks: Sequence[Webhook] = (),
    limit: int = 500,
    maxlen: int = 100_000,
) -> int:
    """Send the outbox events after the stored position; the number sent."""
    position_key = f"{stream}:position"
    after = int(redis.get(position_key) or 0)
    with session_scope(database_url) as session:
        events = [catalog.event_document(e) for e in catalog.events_after(session, after, limit)]
    for event in events:
        redis.xadd(
            stream,
            {
                "event_id": str(event["id"]),
                "topic": event["topic"],
                "title_id": "" if event["title_id"] is None else str(event["title_id"]),
                "event": json.dumps(event),
            },
            maxlen=maxlen,
            approximate=True,
        )
        for hook in webhooks:
            deliver(hook, event)
        redis.set(position_key, event["id"])  # only now: a crash before resends it
    return len(events)


def run_forever(database_url: str, redis: Any, *, poll_s: float = 0.2, **kwargs: Any) -> None:
    while True:
        if not relay_once(database_url, redis, **kwargs):
            time.sleep(poll_s)
