"""Publishing the outbox: events written with the data (``title.enriched``...) are sent to
a topic exchange on the broker, then marked published.

At least once: an event is marked only after the broker took it, so a crash in between
sends it again; consumers deduplicate on ``id``. Consumers bind their own queue to the
exchange (routing key = topic, e.g. ``title.#``).
"""

from __future__ import annotations

from typing import Any

from kombu import Exchange

from storage import repository as repo
from storage.db import session_scope
from workers.metrics import EVENTS_PUBLISHED
from workers.settings import Settings


def events_exchange(settings: Settings) -> Exchange:
    return Exchange(settings.events_exchange, type="topic", durable=True)


def publish_pending(settings: Settings, app: Any, limit: int = 200) -> int:
    exchange = events_exchange(settings)
    sent = 0
    with session_scope(settings.effective_database_url) as session:
        events = repo.unpublished_events(session, limit)
        if not events:
            return 0
        with app.producer_or_acquire() as producer:
            for event in events:
                producer.publish(
                    {
                        "id": event.id,
                        "topic": event.topic,
                        "title_id": event.title_id,
                        "payload": event.payload,
                        "created_at": event.created_at.isoformat(),
                    },
                    exchange=exchange,
                    routing_key=event.topic,
                    declare=[exchange],
                    serializer="json",
                    delivery_mode=2,
                    retry=True,
                    retry_policy={"max_retries": 3, "interval_start": 0.5},
                )
                event.published_at = repo.now()
                EVENTS_PUBLISHED.labels(event.topic).inc()
                sent += 1
    return sent
