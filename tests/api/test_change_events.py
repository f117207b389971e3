"""Change events through a real Redis stream (at least once, event ids for de-duplication)
and webhooks retried after a 500 from a receiver on loopback, signature checked."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import ClassVar

import pytest
import redis as redis_lib

from storage import repository as repo
from storage.db import session_scope
from workers.change_events import Webhook, relay_once


@pytest.fixture
def redis_client():
    client = redis_lib.Redis(host="127.0.0.1", port=6379, decode_responses=True)
    try:
        client.ping()
    except redis_lib.ConnectionError as err:
        pytest.fail(f"Redis not reachable on 127.0.0.1:6379: {err}")
    stream = f"test:changes:{uuid.uuid4().hex[:8]}"
    yield client, stream
    client.delete(stream, *client.scan_iter(f"{stream}:*"))


def _stream_ids(client, stream) -> list[int]:
    return [int(fields["event_id"]) for _, fields in client.xrange(stream)]


def test_events_reach_the_stream_at_least_once(api_settings, seeded, redis_client) -> None:
    client, stream = redis_client
    url = api_settings.effective_database_url
    sent = relay_once(url, client, stream=stream)
    ids = _stream_ids(client, stream)
    assert sent == len(ids) > 0 and ids == sorted(set(ids))
    assert relay_once(url, client, stream=stream) == 0  # nothing new: nothing sent
    # a relay that crashed before saving its position sends the last event again
    client.set(f"{stream}:position", ids[-2])
    assert relay_once(url, client, stream=stream) == 1
    again = _stream_ids(client, stream)
    assert again[-1] == again[-2] == ids[-1]  # the duplicate carries the same id
    last = client.xrange(stream)[-1][1]
    assert json.loads(last["event"])["id"] == ids[-1]
    with session_scope(url) as session:
        repo.emit_event(session, "title.enriched", {"x": 1}, title_id=seeded["sunny"])
    assert relay_once(url, client, stream=stream) == 1
    assert _stream_ids(client, stream)[-1] > ids[-1]


class _Receiver(BaseHTTPRequestHandler):
    calls: ClassVar[list[tuple[int, dict, bytes]]] = []
    fail_first = 1

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        code = 500 if len(self.calls) < self.fail_first else 200
        self.calls.append((code, dict(self.headers), body))
        self.send_response(code)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def test_webhook_retried_after_a_500_and_signed(api_settings, seeded, redis_client) -> None:
    client, stream = redis_client
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    _Receiver.calls = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        hook = Webhook(f"http://127.0.0.1:{server.server_port}/hook", "s3cret", backoff_s=0.01)
        with session_scope(api_settings.effective_database_url) as session:
            last = repo.emit_event(session, "title.rated", {"r": 1}, title_id=seeded["sunny"]).id
        client.set(f"{stream}:position", last - 1)
        assert (
            relay_once(api_settings.effective_database_url, client, stream=stream, webhooks=[hook])
            == 1
        )
    finally:
        server.shutdown()
    codes = [c for c, _, _ in _Receiver.calls]
    assert codes == [500, 200]  # retried after the 500
    _, headers, body = _Receiver.calls[-1]
    assert headers["X-Coldstart-Event-Id"] == str(last)
    want = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert headers["X-Coldstart-Signature"] == want
    assert _Receiver.calls[0][2] == body  # the retry is the same event
