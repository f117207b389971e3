"""Fixtures for the fleet tests: a real broker (Redis or RabbitMQ), real ``celery worker``
subprocesses, PostgreSQL, and the moto S3 server (from tests/conftest.py).

``fleet`` builds the settings of one isolated fleet (own database, own buckets, own Redis
DB number, flushed) and starts/kills workers with the same ``COLDSTART_*`` environment.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import pytest
import redis
from kombu import Connection

from storage import migrate
from storage import repository as repo
from storage.db import dispose_engines, session_scope
from storage.models import RunStatus
from storage.objects import S3ObjectStore, put_file
from tests.conftest import ROOT, S3_KEY, S3_SECRET, VENV_BIN, MotoServer, ffmpeg
from workers.settings import Settings

REDIS_URL = os.environ.get("COLDSTART_TEST_REDIS", "redis://127.0.0.1:6379/5")
AMQP_URL = os.environ.get("COLDSTART_TEST_AMQP", "amqp://guest:guest@127.0.0.1:5672//")
TOKEN = "test-webhook-token"
PLUGINS = "tests.pipeline.stages:SLOW,tests.pipeline.stages:FRAMECOUNT"


# --- media ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def clips(media_dir: Path) -> list[Path]:
    """Six distinct 2 s 320x240 clips with a tone (distinct content = distinct titles)."""
    out = []
    for i in range(6):
        path = media_dir / f"clip{i}.mp4"
        if not path.exists():
            ffmpeg(
                "-f", "lavfi", "-i", f"testsrc2=s=320x240:r=25:d=2,hue=h={i * 50}",
                "-f", "lavfi", "-i", f"sine=frequency={300 + 100 * i}:duration=2",
                "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                "-c:a", "aac", "-shortest", str(path),
            )  # fmt: skip
        out.append(path)
    return out


@pytest.fixture(scope="session")
def bad_files(media_dir: Path, clips: list[Path]) -> list[Path]:
    """Twenty distinct unusable files: empty, random bytes, text, truncated MP4s."""
    d = media_dir / "bad20"
    d.mkdir(exist_ok=True)
    files = [d / "empty.mp4"]
    files[0].write_bytes(b"")
    for i in range(8):
        p = d / f"random{i}.mp4"
        p.write_bytes(os.urandom(2048 + 97 * i))
        files.append(p)
    for i in range(5):
        p = d / f"text{i}.mp4"
        p.write_text(f"not a video #{i}\n" * (i + 3))
        files.append(p)
    data = clips[0].read_bytes()
    for i in range(6):
        p = d / f"truncated{i}.mp4"
        p.write_bytes(data[: len(data) * (i + 1) // 10])
        files.append(p)
    assert len(files) == 20
    return files


# --- a fleet ------------------------------------------------------------------------------------


class Worker:
    def __init__(self, proc: subprocess.Popen[bytes], log: Path) -> None:
        self.proc = proc
        self.log = log

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill9(self) -> None:
        """SIGKILL the worker and its pool children: a node lost without warning."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.alive():
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)


class Fleet:
    def __init__(self, settings: Settings, env: dict[str, str], tmp: Path) -> None:
        self.settings = settings
        self.env = env
        self.tmp = tmp
        self.workers: list[Worker] = []
        self.incoming = self._store(settings.incoming_bucket)

    def _store(self, bucket: str) -> S3ObjectStore:
        s = self.settings
        return S3ObjectStore.connect(
            s.s3_endpoint, s.s3_access_key, s.s3_secret_key.get_secret_value(), bucket
        )

    @property
    def db(self) -> str:
        return self.settings.effective_database_url

    def start_worker(
        self,
        queues: str = "io,cpu,gpu",
        concurrency: int = 2,
        via_cli: bool = False,
        env: dict[str, str] | None = None,
    ) -> Worker:
        name = f"w{len(self.workers)}-{uuid.uuid4().hex[:6]}"
        if via_cli:  # as a user runs it: `coldstart worker`
            cmd = [str(VENV_BIN / "coldstart"), "worker", "-Q", queues, "-c", str(concurrency),
                   "-n", f"{name}@%h"]  # fmt: skip
        else:
            cmd = [
                str(VENV_BIN / "celery"), "-A", "workers.celery_app", "worker",
                "-Q", queues, "-c", str(concurrency), "-P", "prefork", "-n", f"{name}@%h",
                "--without-gossip", "--without-mingle", "-l", "INFO",
            ]  # fmt: skip
        return self._spawn(name, cmd, env, ready="ready")

    def start_beat(self) -> Worker:
        cmd = [str(VENV_BIN / "coldstart"), "beat"]
        return self._spawn(f"beat-{uuid.uuid4().hex[:6]}", cmd, None, ready="beat: Starting")

    def _spawn(self, name: str, cmd: list[str], env: dict[str, str] | None, ready: str) -> Worker:
        log = self.tmp / f"{name}.log"
        proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env={**self.env, **(env or {})},
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: kill -9 takes the children too
        )
        worker = Worker(proc, log)
        self.workers.append(worker)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if ready in log.read_text(errors="replace"):
                return worker
            if proc.poll() is not None:
                break
            time.sleep(0.2)
        raise RuntimeError(f"worker did not start:\n{log.read_text(errors='replace')[-3000:]}")

    def upload(self, path: Path, key: str | None = None) -> str:
        key = key or f"{self.settings.incoming_prefix}{path.name}"
        put_file(self.incoming, key, path, "video/mp4")
        return key

    def wait_runs(
        self, count: int, timeout: float = 120, what: str = "finished"
    ) -> list[dict[str, Any]]:
        """Wait until ``count`` runs exist and all have finished; returns them."""
        deadline = time.monotonic() + timeout
        rows: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            with session_scope(self.db) as session:
                runs = repo.list_runs(session, limit=1000)
                rows = [
                    {
                        "id": r.id,
                        "title_id": r.title_id,
                        "status": r.status,
                        "error": r.error,
                        "error_code": r.error_code,
                        "stages": r.stages,
                        "progress": r.progress,
                    }
                    for r in runs
                ]
            if len(rows) >= count and all(r["status"] in RunStatus.FINISHED for r in rows):
                return rows
            time.sleep(0.3)
        logs = "\n".join(w.log.read_text(errors="replace")[-4000:] for w in self.workers)
        raise AssertionError(f"runs not {what} in {timeout}s: {rows}\n--- worker logs ---\n{logs}")

    def wait_stage_running(self, stage: str, min_progress: float = 0.1, timeout: float = 60) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with session_scope(self.db) as session:
                for r in repo.list_runs(session, limit=10):
                    entry = (r.stages or {}).get(stage, {})
                    if entry.get("status") == "running" and (entry.get("progress") or 0) >= (
                        min_progress
                    ):
                        return r.id
            time.sleep(0.1)
        raise AssertionError(f"stage {stage} never ran")

    def close(self) -> None:
        for w in self.workers:
            w.stop()


def minio_event(bucket: str, key: str, size: int = 1, event: str = "s3:ObjectCreated:Put") -> dict:
    """The body MinIO's webhook target posts for one object (keys are URL-encoded)."""
    return {
        "EventName": event,
        "Key": f"{bucket}/{key}",
        "Records": [
            {
                "eventVersion": "2.0",
                "eventSource": "minio:s3",
                "awsRegion": "",
                "eventTime": "2025-01-01T00:00:00.000Z",
                "eventName": event,
                "userIdentity": {"principalId": "minioadmin"},
                "requestParameters": {"principalId": "minioadmin", "sourceIPAddress": "::1"},
                "responseElements": {"x-amz-request-id": uuid.uuid4().hex},
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "Config",
                    "bucket": {
                        "name": bucket,
                        "ownerIdentity": {"principalId": "minioadmin"},
                        "arn": f"arn:aws:s3:::{bucket}",
                    },
                    "object": {
                        "key": quote_plus(key, safe=""),
                        "size": size,
                        "eTag": uuid.uuid4().hex,
                        "contentType": "video/mp4",
                        "sequencer": "17C2D2F5D8F0A1B2",
                    },
                },
                "source": {"host": "::1", "port": "", "userAgent": "MinIO (linux; amd64)"},
            }
        ],
    }


def merge_events(*events: dict) -> dict:
    return {"Records": [r for e in events for r in e["Records"]]}


def _flush_broker(url: str) -> None:
    if url.startswith("redis"):
        redis.Redis.from_url(url).flushdb()
        return
    with Connection(url) as conn:
        channel = conn.channel()
        for q in ("io", "cpu", "gpu"):
            try:
                channel.queue_purge(q)
            except Exception:
                channel = conn.channel()


@pytest.fixture
def fleet_factory(
    pg_url: str, s3_server: MotoServer, tmp_path: Path
) -> Iterator[Callable[..., Fleet]]:
    migrate.upgrade(pg_url)
    fleets: list[Fleet] = []

    def make(broker: str = REDIS_URL, s3_endpoint: str | None = None, **overrides: Any) -> Fleet:
        if broker == REDIS_URL and "COLDSTART_TEST_REDIS" not in os.environ:
            # A Redis database of its own (8-15), so that test sessions running side by
            # side do not flush or consume each other's messages.
            broker = f"{REDIS_URL.rsplit('/', 1)[0]}/{random.randint(8, 15)}"
        _flush_broker(broker)
        suffix = uuid.uuid4().hex[:8]
        fields: dict[str, Any] = {
            "data_dir": tmp_path / "var",
            "work_dir": tmp_path / "work",
            "database_url": pg_url,
            "object_store": "s3",
            "s3_endpoint": s3_endpoint or s3_server.endpoint,
            "s3_access_key": S3_KEY,
            "s3_secret_key": S3_SECRET,
            "incoming_bucket": f"in-{suffix}",
            "incoming_prefix": "uploads/",
            "derived_bucket": f"dv-{suffix}",
            "broker_url": broker,
            "webhook_token": TOKEN,
            "stage_plugins": PLUGINS,
            "enabled_stages": "probe,framecount",
            "metrics_port": 0,
            "retry_backoff_s": 0.5,
            "retry_backoff_max_s": 3,
            "task_time_base_s": 60,
            "log_format": "console",
            **overrides,
        }
        env = {k: v for k, v in os.environ.items() if not k.startswith("COLDSTART_")}
        env.update({f"COLDSTART_{k.upper()}": str(v) for k, v in fields.items()})
        env["PYTHONPATH"] = str(ROOT)
        env.setdefault("COLDSTART_TEST_SLOW_S", "3")
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        settings = Settings(**fields)
        fleet = Fleet(settings, env, tmp_path)
        fleet._store(settings.derived_bucket)  # create the bucket
        fleets.append(fleet)
        return fleet

    yield make
    for f in fleets:
        f.close()
        _flush_broker(f.settings.broker_url)
    dispose_engines()


@pytest.fixture(autouse=True)
def _restore_stage_registry() -> Iterator[None]:
    """Tests that configure stages in this process must not leak into other tests."""
    from workers.stages import STAGES

    saved = list(STAGES)
    yield
    STAGES[:] = saved
