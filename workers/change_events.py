"""Change events out of the outbox: to a Redis stream, and to optional signed webhooks.

At least once: each destination's position (the last outbox id it took) is stored in Redis
only *after* the event was sent, so a crash in between sends it again. The stream and every
webhook keep their own position, so a receiver that is down holds back only itself; a new
webhook starts where the stream is. ``coldstart relay`` runs it (:func:`run`).
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
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from storage import catalog
from storage.db import session_scope
from workers.errors import one_line
from workers.metrics import EVENTS_RELAYED, RELAY_FAILURES, RELAY_POSITION, RELAY_SUCCEEDED_AT

log = logging.getLogger(__name__)

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


@dataclass(frozen=True)
class Sink:
    """One destination of the relay, with its own position in Redis: a receiver that is
    down holds back only its own deliveries, never the stream or another webhook."""

    kind: str  # "stream" or "webhook": the metrics' label
    name: str
    position_key: str
    send: Callable[[dict[str, Any]], None]


def stream_sink(redis: Any, stream: str = STREAM, maxlen: int = 100_000) -> Sink:
    def send(event: dict[str, Any]) -> None:
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

    return Sink("stream", f"stream {stream}", f"{stream}:position", send)


def webhook_sink(hook: Webhook, stream: str = STREAM) -> Sink:
    def send(event: dict[str, Any]) -> None:
        deliver(hook, event)

    digest = hashlib.sha256(hook.url.encode()).hexdigest()[:16]
    name = f"webhook {_safe_url(hook.url)}"
    return Sink("webhook", name, f"{stream}:webhook:{digest}:position", send)


def relay_sink(database_url: str, redis: Any, sink: Sink, limit: int = 500) -> int:
    """Send ``sink`` the outbox events after its stored position; the number sent. The
    position is stored after each send, so a crash in between sends that event again."""
    after = int(redis.get(sink.position_key) or 0)
    with session_scope(database_url) as session:
        events = [catalog.event_document(e) for e in catalog.events_after(session, after, limit)]
    for event in events:
        sink.send(event)
        redis.set(sink.position_key, event["id"])
        EVENTS_RELAYED.labels(sink.kind).inc()
        RELAY_POSITION.labels(sink.name).set(event["id"])
    RELAY_SUCCEEDED_AT.labels(sink.name).set(time.time())
    return len(events)


def start_at_stream(redis: Any, sink: Sink, stream: str = STREAM) -> None:
    """A webhook seen for the first time starts where the stream is (its history is in
    ``GET /api/v1/changes`` and the export), not at the first event ever."""
    redis.set(sink.position_key, int(redis.get(f"{stream}:position") or 0), nx=True)


def relay_once(
    database_url: str,
    redis: Any,
    *,
    stream: str = STREAM,
    webhooks: Sequence[Webhook] = (),
    limit: int = 500,
    maxlen: int = 100_000,
) -> int:
    """One pass: the stream, then each webhook from its own position; the number of events
    added to the stream. A webhook's failure propagates after the stream was served."""
    sinks = [stream_sink(redis, stream, maxlen)] + [webhook_sink(h, stream) for h in webhooks]
    results = relay_pass(database_url, redis, sinks, stream=stream, limit=limit)
    for _, outcome in results:
        if isinstance(outcome, Exception):
            raise outcome
    sent = results[0][1]
    assert isinstance(sent, int)
    return sent


def relay_pass(
    database_url: str, redis: Any, sinks: Sequence[Sink], *, stream: str = STREAM, limit: int = 500
) -> list[tuple[Sink, int | Exception]]:
    """One pass over ``sinks`` (the stream first): each one's count, or its error; one
    failing does not stop the others."""
    for sink in sinks[1:]:
        start_at_stream(redis, sink, stream)
    results: list[tuple[Sink, int | Exception]] = []
    for sink in sinks:
        try:
            results.append((sink, relay_sink(database_url, redis, sink, limit)))
        except Exception as err:
            results.append((sink, err))
    return results


def run(
    database_url: str,
    redis: Any,
    sinks: Sequence[Sink],
    *,
    stream: str = STREAM,
    stop: threading.Event | None = None,
    poll_s: float = 0.2,
    backoff_max_s: float = 60.0,
    heartbeat: Path | None = None,
) -> None:
    """Relay to ``sinks`` (the stream first) until ``stop`` is set: one thread per sink,
    each polling the outbox and, after a failure (the receiver, Redis or the database
    down), backing off up to ``backoff_max_s`` with one log line per outage. The stream's
    thread touches ``heartbeat`` after every pass that worked (a container health check)."""
    stop = stop or threading.Event()
    for sink in sinks[1:]:
        start_at_stream(redis, sink, stream)
    threads = [
        threading.Thread(
            target=_follow,
            args=(
                database_url,
                redis,
                sink,
                stop,
                poll_s,
                backoff_max_s,
                heartbeat if i == 0 else None,
            ),
            name=f"relay {sink.name}",
            daemon=True,
        )
        for i, sink in enumerate(sinks)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def _follow(
    database_url: str,
    redis: Any,
    sink: Sink,
    stop: threading.Event,
    poll_s: float,
    backoff_max_s: float,
    heartbeat: Path | None,
) -> None:
    delay, failing = poll_s, False
    while not stop.is_set():
        try:
            sent = relay_sink(database_url, redis, sink)
        except Exception as err:
            RELAY_FAILURES.labels(sink.kind).inc()
            if not failing:
                log.warning(
                    "%s: relay failing, backing off: %s",
                    sink.name,
                    f"{type(err).__name__}: {one_line(err, 300)}",
                )
            failing, delay = True, min(backoff_max_s, max(delay * 2, 1.0))
            stop.wait(delay)
            continue
        if failing:
            log.warning("%s: relay resumed", sink.name)
        failing, delay = False, poll_s
        if heartbeat is not None:
            heartbeat.touch()
        if not sent:
            stop.wait(poll_s)


def webhooks_from(urls: str, secret: str, retries: int = 5) -> list[Webhook]:
    """``COLDSTART_EVENTS_WEBHOOKS`` (comma-separated) with the shared secret."""
    hooks = [u.strip() for u in urls.split(",") if u.strip()]
    for url in hooks:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"webhook URL must be http(s): {_safe_url(url)!r}")
    if hooks and not secret:
        raise ValueError("COLDSTART_EVENTS_WEBHOOK_SECRET is required to sign webhooks")
    return [Webhook(url, secret, retries=retries) for url in hooks]


def _safe_url(url: str) -> str:
    """The URL without credentials or query (they may hold tokens), for logs."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"
