"""The pipeline's pieces without services: graph, limits, reliability config, transient
errors, chunking, webhook parsing and auth, and the embedded (no broker) paths."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from minio.error import S3Error
from sqlalchemy.exc import OperationalError
from urllib3.exceptions import MaxRetryError, NewConnectionError

from analyzers.errors import BadMediaError
from storage import repository as repo
from storage.db import session_scope
from storage.objects import put_file
from tests.pipeline.conftest import PLUGINS, TOKEN, minio_event
from web.app import create_app
from workers.canvas import build_graph, time_limits
from workers.celery_app import celery_config, result_backend, visibility_timeout
from workers.errors import TransientError, describe, is_transient
from workers.settings import Settings
from workers.stages.base import Stage, time_chunks


def _stage(name: str, *after: str, required: bool = False) -> Stage:
    return Stage(name=name, run=lambda ctx: {}, after=after, required=required)


FULL = [
    _stage("probe", required=True),
    _stage("shots", "probe"),
    _stage("keyframes", "shots"),
    _stage("audio", "probe"),
    _stage("speech", "audio"),
    _stage("vision", "keyframes", "speech"),
    _stage("signals", "vision", "speech"),
    _stage("fusion", "signals"),
    _stage("persist", "fusion"),
    _stage("publish", "persist"),
]


def test_graph_of_the_full_pipeline() -> None:
    g = build_graph(FULL)
    assert g.gate == ["probe"]
    assert g.levels == [
        [["shots", "keyframes"], ["audio", "speech"]],
        [["vision"]],
        [["signals", "fusion", "persist", "publish"]],
    ]


def test_graph_of_todays_registry_ignores_absent_stages() -> None:
    g = build_graph([FULL[0], _stage("shots", "probe"), _stage("speech", "audio", "probe")])
    assert g.gate == ["probe"] and g.levels == [[["shots"], ["speech"]]]
    assert build_graph([FULL[0]]).levels == []


def test_graph_rejects_cycles() -> None:
    with pytest.raises(ValueError, match="cycle"):
        build_graph([_stage("a", "b"), _stage("b", "a")])


def test_time_limits_scale_with_duration_and_stay_under_visibility() -> None:
    s = Settings()
    short = time_limits(s, FULL[1], 60)
    long = time_limits(s, FULL[1], 3600)
    assert short[0] < long[0] and all(soft < hard for soft, hard in (short, long))
    huge = time_limits(s, FULL[1], 10 * 24 * 3600)
    assert huge[1] == s.task_max_s
    assert visibility_timeout(s) > huge[1] + s.retry_backoff_max_s
    base = s.task_time_base_s
    assert time_limits(s, None, None) == (int(base), int(base * 1.25 + 30))


def test_reliability_settings() -> None:
    s = Settings(broker_url="redis://h:6379/0")
    conf = celery_config(s)
    assert conf["task_acks_late"] and conf["task_reject_on_worker_lost"]
    assert conf["worker_prefetch_multiplier"] == 1
    assert conf["broker_transport_options"]["visibility_timeout"] == visibility_timeout(s)
    assert conf["result_backend"] == "redis://h:6379/0"
    amqp = Settings(broker_url="amqp://g:g@h//", database_url="postgresql://u@h/db")
    assert result_backend(amqp) == "db+postgresql+psycopg://u@h/db"  # chords need one
    assert "broker_transport_options" not in celery_config(amqp)


def test_transient_failures_are_told_from_bad_input() -> None:
    def s3(code: str) -> S3Error:
        return S3Error(None, code, "m", "r", "req", "host")  # type: ignore[arg-type]

    conn = NewConnectionError(None, "refused")  # type: ignore[arg-type]
    transient = [
        MaxRetryError(None, "/x", conn),  # type: ignore[arg-type]
        OperationalError("SELECT 1", {}, Exception("server closed the connection")),
        s3("SlowDown"),
        TransientError("x"),
        ConnectionRefusedError(),
    ]
    for err in transient:
        assert is_transient(err), err
        assert not describe(err).permanent
    wrapped = RuntimeError("stage failed")
    wrapped.__cause__ = transient[0]
    assert is_transient(wrapped)
    for err in (BadMediaError("empty file"), ValueError("bug"), s3("NoSuchKey")):
        assert not is_transient(err), err
        assert describe(err).permanent


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    from workers.tasks import backoff_s

    s = Settings(retry_backoff_s=1, retry_backoff_max_s=30)
    for n in range(8):
        ceiling = min(30, 2**n)
        values = [backoff_s(s, n) for _ in range(50)]
        assert all(ceiling / 2 <= v <= ceiling for v in values)
        assert len(set(values)) > 1


@pytest.mark.parametrize("duration,chunk", [(2.0, 1.0), (7200.0, 600.0), (3.33, 1.0), (0.5, 10)])
def test_time_chunks_tile_exactly(duration: float, chunk: float) -> None:
    ranges = time_chunks(duration, chunk)
    assert ranges[0].start == 0 and ranges[-1].stop >= duration * 1000
    assert all(a.stop == b.start for a, b in itertools.pairwise(ranges))


# --- webhook -------------------------------------------------------------------------------------


def _embedded(tmp_path: Path, **kw: object) -> Settings:
    return Settings(
        data_dir=tmp_path / "var",
        webhook_token=TOKEN,
        incoming_prefix="uploads/",
        stage_plugins=PLUGINS,
        enabled_stages="probe,framecount",
        **kw,  # type: ignore[arg-type]
    )


def test_webhook_needs_the_bearer_token(tmp_path: Path) -> None:
    body = minio_event("incoming", "uploads/a.mp4")
    with TestClient(create_app(_embedded(tmp_path))) as client:
        assert client.post("/ingest/s3-events", json=body).status_code == 401
        bad = {"Authorization": "Bearer nope"}
        assert client.post("/ingest/s3-events", json=body, headers=bad).status_code == 401
        assert client.head("/ingest/s3-events").status_code == 200
    with TestClient(create_app(Settings(data_dir=tmp_path / "v2"))) as client:  # no token set
        auth = {"Authorization": f"Bearer {TOKEN}"}
        assert client.post("/ingest/s3-events", json=body, headers=auth).status_code == 503


def test_webhook_in_embedded_mode_enriches_in_process(tmp_path: Path, clips: list[Path]) -> None:
    """No broker: the webhook ingests and runs the pipeline in the web process, and the
    chunked test stage's in-process result equals the fleet's (50 frames in 2 chunks)."""
    from storage import migrate
    from workers.services import incoming_store
    from workers.stages.plugins import configure_stages

    settings = _embedded(tmp_path)
    migrate.upgrade(settings.effective_database_url)
    configure_stages(settings)
    key = "uploads/with space/é.mp4"
    put_file(incoming_store(settings), key, clips[5])
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with TestClient(create_app(settings)) as client:
        res = client.post("/ingest/s3-events", json=minio_event("incoming", key), headers=auth)
        assert res.status_code == 202 and res.json()["queued"] == 1, res.text
        deadline = time.monotonic() + 60
        run = None
        while time.monotonic() < deadline:
            with session_scope(settings.effective_database_url) as s:
                runs = repo.list_runs(s)
                run = runs[0].stages if runs and runs[0].status == "succeeded" else None
            if run:
                break
            time.sleep(0.2)
        assert run is not None
        assert run["framecount"]["summary"]["frames"] == 50
        assert run["framecount"]["summary"]["per_chunk"] == [25, 25]
        again = client.post("/ingest/s3-events", json=minio_event("incoming", key), headers=auth)
        assert again.json()["known"] == 1


def test_coldstart_serve_runs_the_web_service(tmp_path: Path) -> None:
    import os
    import subprocess
    import urllib.request

    from tests.conftest import ROOT, VENV_BIN, free_port

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("COLDSTART_")}
    env.update(COLDSTART_DATA_DIR=str(tmp_path / "var"), COLDSTART_WEBHOOK_TOKEN=TOKEN)
    proc = subprocess.Popen(
        [str(VENV_BIN / "coldstart"), "serve", "--port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                url = f"http://127.0.0.1:{port}/healthz"
                assert urllib.request.urlopen(url, timeout=2).status == 200
                break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None
                time.sleep(0.2)
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read()
        assert b"python_info" in metrics
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_shots_chunks_read_the_probes_media_info_instead_of_probing_again(tiny_video) -> None:
    """One ffprobe parser: the decoder's VideoInfo built from the stored MediaInfo (what
    chunk tasks get) equals a fresh probe of the file; stored info from before the start
    time was recorded makes readers probe for themselves."""
    from analyzers.frames import video_info, video_info_of
    from analyzers.probe import MediaInfo, probe

    stored = MediaInfo.from_dict(probe(tiny_video).to_dict())
    assert video_info_of(stored) == video_info(tiny_video)
    legacy = {k: v for k, v in stored.to_dict().items() if k != "start_time"}
    assert video_info_of(MediaInfo.from_dict(legacy)) is None
