"""``coldstart relay`` as an operator runs it, with default settings: change events from the
outbox to a real Redis stream and to signed webhooks on loopback. A webhook that is down
holds back only itself; when it comes back it gets every event it missed (at least once)."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import redis as redis_lib

from storage import migrate
from storage import repository as repo
from storage.db import dispose_engines, session_scope
from tests.api.seed import seed
from tests.api.test_metrics import samples
from tests.conftest import free_port
from web.api.v1.services import wait_for
from workers.settings import Settings

EXE = str(Path(sys.executable).parent / "coldstart")
SECRET = "relay-secret"


class Receiver:
    """A webhook receiver on a loopback port: the event ids it took, signatures checked."""

    def __init__(self, port: int | None = None) -> None:
        self.ids: list[int] = []
        self.bad_signatures = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                want = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
                if self.headers["X-Coldstart-Signature"] != want:
                    outer.bad_signatures += 1
                outer.ids.append(json.loads(body)["id"])
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port or 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[tuple[Settings, list[int]]]:
    settings = Settings(data_dir=tmp_path / "var")
    url = settings.effective_database_url
    migrate.upgrade(url)
    seed(url)
    with session_scope(url) as session:
        ids = [e.id for e in repo.unpublished_events(session, 1000)]
    yield settings, ids
    dispose_engines()


@pytest.fixture
def stream() -> Iterator[tuple[redis_lib.Redis, str]]:
    client = redis_lib.Redis(host="127.0.0.1", port=6379, decode_responses=True)
    name = f"test:relay:{uuid.uuid4().hex[:8]}"
    yield client, name
    client.delete(name, *client.scan_iter(f"{name}:*"))


def _env(settings: Settings, stream: str, webhooks: list[str]) -> dict[str, str]:
    env = {
        **os.environ,
        "COLDSTART_DATA_DIR": str(settings.data_dir),
        "COLDSTART_EVENTS_REDIS_URL": "redis://127.0.0.1:6379/0",
        "COLDSTART_EVENTS_STREAM": stream,
        "COLDSTART_EVENTS_WEBHOOKS": ",".join(webhooks),
        "COLDSTART_EVENTS_WEBHOOK_SECRET": SECRET,
    }
    env.pop("COLDSTART_BROKER_URL", None)
    return env


def _stream_ids(client: redis_lib.Redis, name: str) -> list[int]:
    return [int(fields["event_id"]) for _, fields in client.xrange(name)]


def test_a_dead_webhook_holds_back_only_itself_and_catches_up(outbox, stream) -> None:  # type: ignore[no-untyped-def]
    settings, seeded_ids = outbox
    client, name = stream
    healthy = Receiver()
    dead_port = free_port()  # nothing listens here yet: connection refused
    dead_url = f"http://127.0.0.1:{dead_port}/hook"
    metrics_port = free_port()
    env = {
        **_env(settings, name, [dead_url, healthy.url]),
        "COLDSTART_METRICS_PORT": str(metrics_port),
    }
    proc = subprocess.Popen(
        [EXE, "relay"], env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")))
    reader.start()
    revived = None
    try:
        assert wait_for(lambda: healthy.ids == seeded_ids, timeout=30.0), healthy.ids
        assert _stream_ids(client, name) == seeded_ids
        with session_scope(settings.effective_database_url) as session:
            new_id = repo.emit_event(session, "title.rated", {"r": 1}, title_id=None).id
        # the stream and the healthy webhook get it while the dead one keeps failing
        assert wait_for(lambda: new_id in healthy.ids, timeout=10.0), healthy.ids
        assert wait_for(lambda: _stream_ids(client, name)[-1] == new_id, timeout=10.0)
        dead_position = client.get(f"{name}:webhook:" + _digest(dead_url) + ":position")
        assert int(dead_position or 0) < seeded_ids[0]  # it took nothing

        # down past deliver's own retries (0.5 + 1 + 2 + 4 + 8 s): the relay backs off
        assert wait_for(lambda: any("relay failing" in line for line in lines), timeout=60.0)
        revived = Receiver(dead_port)  # the receiver comes back on its address
        everything = [*seeded_ids, new_id]
        assert wait_for(lambda: sorted(set(revived.ids)) == everything, timeout=150.0), revived.ids
        assert revived.bad_signatures == healthy.bad_signatures == 0
        metrics = samples(httpx.get(f"http://127.0.0.1:{metrics_port}/metrics").text)
        assert metrics[("coldstart_relay_position", (("sink", f"stream {name}"),))] == new_id
        assert metrics[("coldstart_relay_failures_total", (("sink", "webhook"),))] >= 1
        assert healthy.ids == everything  # nothing twice to the healthy one
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
        reader.join(10)
        healthy.close()
        if revived is not None:
            revived.close()
    out = "".join(lines)
    assert proc.returncode == 0, out
    assert (settings.effective_work_dir / "relay.alive").is_file()  # the health check's file
    assert out.count("relay failing") == out.count("relay resumed") == 1, out  # one outage
    assert "HTTP Request" not in out  # no line per delivery


def _digest(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()[:16]


def test_relay_once_and_its_refusals(outbox, stream) -> None:  # type: ignore[no-untyped-def]
    settings, seeded_ids = outbox
    client, name = stream
    receiver = Receiver()
    try:
        env = _env(settings, name, [receiver.url])
        done = subprocess.run([EXE, "relay", "--once"], env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert f"{len(seeded_ids)} events relayed" in done.stdout
        assert receiver.ids == seeded_ids == _stream_ids(client, name)
    finally:
        receiver.close()
    no_redis = {**env, "COLDSTART_EVENTS_REDIS_URL": ""}
    refused = subprocess.run([EXE, "relay", "--once"], env=no_redis, capture_output=True, text=True)
    assert refused.returncode == 2 and "COLDSTART_EVENTS_REDIS_URL" in refused.stderr
    unsigned = {**env, "COLDSTART_EVENTS_WEBHOOK_SECRET": ""}
    refused = subprocess.run([EXE, "relay", "--once"], env=unsigned, capture_output=True, text=True)
    assert refused.returncode == 2 and "SECRET" in refused.stderr
