"""Issue 14: a dead worker costs a minute, not hours.

Real ``celery worker`` processes and ``coldstart beat`` on Redis and RabbitMQ, with default
settings except ``stale_stage_s`` (the visibility timeout stays at its default, hours): the
worker's main process and its pool children are killed with SIGKILL while a shots or speech
*chunk task* runs; a new worker finishes the title within stale_stage_s + one sweep interval
+ the stage's own time, and its rows equal an in-process run of the same file.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from analyzers.shots.synthetic import Join, Segment, build
from storage import repository as repo
from storage.db import session_scope
from storage.models import StageResult, Title
from tests.analyzers.speech_media import sentences_with_gaps
from tests.conftest import ROOT, VENV_BIN
from tests.pipeline.conftest import AMQP_URL, REDIS_URL, Fleet
from tests.pipeline.test_fleet import count, minio_event, post_events

pytestmark = [pytest.mark.postgres, pytest.mark.s3, pytest.mark.slow]

STALE_S = 10.0  # shrunk for the test; everything else (visibility timeout...) is default
SENTENCES = [
    "The river flows past the old mill.",
    "Seven green bottles stand on the wall.",
    "My brother plays the guitar every morning.",
    "We planted tomatoes in the garden.",
]


@pytest.fixture(scope="module")
def cuts_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    clip = tmp_path_factory.mktemp("recovery") / "cuts.mp4"
    parts: list[Segment | Join] = []
    for source in ("testsrc2", "mandelbrot", "smptebars", "testsrc", "rgbtestsrc", "mandelbrot"):
        parts += [Segment(source, 150), Join()]
    build(clip, parts[:-1], size="320x180")
    return clip


@pytest.fixture(scope="module")
def talk_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("talk")
    return sentences_with_gaps(tmp / "talk.wav", SENTENCES, 1.5, tmp)


CASES = {
    "shots": {"enabled_stages": "probe,shots", "shot_chunk_s": 12.0},
    "speech": {"enabled_stages": "probe,speech", "speech_chunk_s": 4.0},
}


def rows(db: str, title_id: int, stage: str) -> list[tuple[Any, ...]]:
    """The stage's rows, in a form two databases can be compared by."""
    with session_scope(db) as s:
        if stage == "shots":
            shots = [
                (x.idx, x.start_frame, x.end_frame, round(x.start_s, 3), round(x.end_s, 3))
                for x in repo.shots_of(s, title_id)
            ]
            scenes = [(x.idx, x.first_shot, x.last_shot) for x in repo.scenes_of(s, title_id)]
            return [*shots, *scenes]
        return [
            (x.idx, round(x.start_s, 2), round(x.end_s, 2), x.text)
            for x in repo.transcript_of(s, title_id)
        ]


def in_process_rows(fleet: Fleet, clip: Path, stage: str, tmp: Path) -> list[tuple[Any, ...]]:
    """The same file through ``coldstart ingest`` in embedded mode (no broker, SQLite)."""
    env = {k: v for k, v in fleet.env.items() if not k.startswith("COLDSTART_")}
    env.update({f"COLDSTART_{k.upper()}": str(v) for k, v in CASES[stage].items()})
    env["COLDSTART_DATA_DIR"] = str(tmp / "embedded")
    res = subprocess.run(
        [str(VENV_BIN / "coldstart"), "ingest", str(clip)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    db = f"sqlite:///{tmp / 'embedded' / 'coldstart.db'}"
    with session_scope(db) as s:
        title_id = s.scalar(select(Title.id))
    assert title_id is not None
    return rows(db, title_id, stage)


def wait_chunk_owned(fleet: Fleet, stage: str, timeout: float = 120) -> int:
    """Wait until a chunk task of ``stage`` is running (it owns its chunk); the run id."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with session_scope(fleet.db) as s:
            for r in repo.list_runs(s, limit=5):
                owners = (r.stages or {}).get(stage, {}).get("owners") or {}
                if any(k.startswith("chunk:") for k in owners):
                    return r.id
        time.sleep(0.05)
    raise AssertionError(f"no chunk task of {stage} ran")


def stage_entry(fleet: Fleet, run_id: int, stage: str) -> dict[str, Any]:
    with session_scope(fleet.db) as s:
        run = repo.get_run(s, run_id)
        assert run is not None
        return dict((run.stages or {}).get(stage, {}))


def owner_of(fleet: Fleet, run_id: int, stage: str) -> dict[str, Any] | None:
    return (stage_entry(fleet, run_id, stage).get("owners") or {}).get("stage")


def watch(fleet: Fleet, run_id: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(VENV_BIN / "coldstart"), "watch", str(run_id)],
        cwd=ROOT, env=fleet.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


@pytest.mark.parametrize("broker", ["redis", "rabbitmq"])
@pytest.mark.parametrize("stage", ["shots", "speech"])
def test_kill9_mid_chunk_a_new_worker_finishes_the_title(
    fleet_factory, cuts_clip, talk_clip, tmp_path, broker, stage
) -> None:
    clip = cuts_clip if stage == "shots" else talk_clip
    fleet = fleet_factory(
        broker=REDIS_URL if broker == "redis" else AMQP_URL,
        stale_stage_s=STALE_S,
        # The fixture's short test delays, back to the defaults: only stale_stage_s shrinks.
        retry_backoff_s=2.0,
        retry_backoff_max_s=300,
        task_time_base_s=300,
        **CASES[stage],
    )
    from workers.celery_app import visibility_timeout

    assert visibility_timeout(fleet.settings) > 6 * 3600  # the default: hours
    expected = in_process_rows(fleet, clip, stage, tmp_path)
    first = fleet.start_worker(concurrency=1)
    fleet.start_beat()
    key = fleet.upload(clip, f"uploads/{clip.name}")
    post_events(fleet, minio_event(fleet.settings.incoming_bucket, key))
    run_id = wait_chunk_owned(fleet, stage)
    first.kill9()
    killed_at = time.monotonic()
    watcher = watch(fleet, run_id)
    fleet.start_worker(concurrency=1)
    [run] = fleet.wait_runs(1, timeout=STALE_S + 30 + 120)
    recovered_in = time.monotonic() - killed_at
    assert run["id"] == run_id and run["status"] == "succeeded", run
    entry = run["stages"][stage]
    assert entry["lost"] == 1 and entry["lost_owner"]["pid"], entry
    assert not entry.get("owners"), entry  # every owner released
    assert recovered_in < STALE_S + 30 + 120
    assert rows(fleet.db, run["title_id"], stage) == expected
    assert count(fleet.db, StageResult) == 2  # probe and the stage: nothing twice
    _, err = watcher.communicate(timeout=30)
    assert watcher.returncode == 0, err
    assert f"run {run_id}: succeeded (exit 0)" in err.replace("\n", " ")


def test_slow_but_alive_worker_is_not_requeued(fleet_factory, clips) -> None:
    """The stage lasts twice ``stale_stage_s``; its heartbeats flow, so beat's sweep leaves
    it alone: it runs once and is never counted lost."""
    fleet = fleet_factory(enabled_stages="probe,slow", stale_stage_s=STALE_S)
    fleet.env["COLDSTART_TEST_SLOW_S"] = str(2 * STALE_S + 2)
    fleet.start_worker(concurrency=2)
    fleet.start_beat()
    post_events(fleet, minio_event(fleet.settings.incoming_bucket, fleet.upload(clips[3])))
    [run] = fleet.wait_runs(1, timeout=90)
    assert run["status"] == "succeeded", run
    assert "lost" not in run["stages"]["slow"], run["stages"]["slow"]
    starts = list(fleet._store(fleet.settings.derived_bucket).list(""))
    assert sum("/test-slow/start-" in o.key for o in starts) == 1  # ran once
    beat_log = fleet.workers[1].log.read_text(errors="replace")
    assert "worker lost" not in beat_log
    # Our Celery configuration logs no (pending) deprecation warning, e.g. about chord errbacks.
    worker_log = fleet.workers[0].log.read_text(errors="replace").lower()
    assert "deprecation" not in worker_log and "deprecated" not in worker_log


def test_lost_too_often_fails_the_run_with_its_reason(fleet_factory, clips) -> None:
    """Each loss is an attempt: with ``retry_max`` 2, two kills mid-stage fail the run with
    "worker lost 2 times during slow", and ``watch`` ends with exit code 1."""
    fleet = fleet_factory(enabled_stages="probe,slow", stale_stage_s=STALE_S, retry_max=2)
    fleet.env["COLDSTART_TEST_SLOW_S"] = "60"
    fleet.start_beat()
    post_events(fleet, minio_event(fleet.settings.incoming_bucket, fleet.upload(clips[1])))
    run_id, token = 0, None
    for _ in range(2):
        worker = fleet.start_worker(concurrency=1)
        run_id = fleet.wait_stage_running("slow", min_progress=0.0)
        deadline = time.monotonic() + STALE_S + 60
        while (owner := owner_of(fleet, run_id, "slow")) is None or owner["token"] == token:
            assert time.monotonic() < deadline, "the lost stage was never sent again"
            time.sleep(0.1)
        token = owner["token"]
        worker.kill9()
    [run] = fleet.wait_runs(1, timeout=STALE_S + 30 + 30)
    assert run["status"] == "failed" and run["error"] == "worker lost 2 times during slow", run
    assert run["error_code"] == "worker_lost"
    watcher = watch(fleet, run_id)
    _, err = watcher.communicate(timeout=30)
    assert watcher.returncode == 1 and "(exit 1)" in err, err
    with session_scope(fleet.db) as s:
        assert s.scalar(select(func.count()).select_from(StageResult)) == 1  # probe only


def test_progress_names_every_stage_in_flight_and_a_requeue() -> None:
    from datetime import timedelta

    from workers.heartbeat import current_stage_label, describe_in_flight

    now = repo.now()
    stages = {
        "probe": {"status": "succeeded"},
        "shots": {
            "status": "running",
            "requeued_at": (now - timedelta(seconds=5)).isoformat(),
            "lost": 1,
        },
        "speech": {
            "status": "running",
            "progress": 0.44,
            "heartbeat_at": (now - timedelta(seconds=3)).isoformat(),
            "owners": {"stage": {"at": now.isoformat()}},
        },
    }
    assert current_stage_label(stages) == "shots, speech"
    lost_at = (now - timedelta(seconds=5)).strftime("%H:%M:%S")
    assert describe_in_flight(stages, now) == [
        f"shots: worker lost at {lost_at}, re-queued",
        "speech 44% (heartbeat 3s ago)",
    ]


def test_dead_owner_on_this_machine_is_known_at_once() -> None:
    """A redelivered message (RabbitMQ) need not wait for stale_stage_s when the owner ran
    here and its process is gone; a live process elsewhere waits for its heartbeat."""
    from datetime import timedelta

    from workers.heartbeat import HOST, owner_dead

    proc = subprocess.Popen(["true"])
    proc.wait()
    now = repo.now()
    fresh = now.isoformat()
    assert owner_dead({"host": HOST, "pid": proc.pid, "at": fresh}, now, 120)
    assert not owner_dead({"host": HOST, "pid": os.getpid(), "at": fresh}, now, 120)
    assert not owner_dead({"host": "elsewhere", "pid": proc.pid, "at": fresh}, now, 120)
    old = (now - timedelta(seconds=121)).isoformat()
    assert owner_dead({"host": "elsewhere", "pid": 1, "at": old}, now, 120)


def test_a_retry_takes_over_its_earlier_attempt_from_another_pool_process(settings) -> None:
    """A database outage made an attempt's release fail, so its owner entry stayed behind;
    Celery ran the retry in another pool process (alive, so not a dead owner). The retry
    (same task id, one more retry) takes over at once instead of waiting for the entry to go
    stale past the soft time limit; a duplicate delivery of the same attempt still waits."""
    from storage.migrate import upgrade
    from workers.heartbeat import HOST, Ownership

    url = settings.effective_database_url
    upgrade(url)
    with session_scope(url) as session:
        title, _ = repo.get_or_create_title(
            session,
            sha256="ab" * 32,
            size_bytes=1,
            name="t",
            source_uri="file:///t",
            source_key="t",
        )
        run = repo.create_run(session, title)
        repo.start_run(session, run, ["slow"])
        run_id = run.id
    earlier = Ownership(settings, run_id, "slow", "stage", task_id="task-1", retries=0)
    assert earlier._claim_once() == "claimed"
    # The earlier attempt's entry, as another live pool process of this worker left it.
    with session_scope(url) as session:
        run = repo.get_run(session, run_id, lock=True)
        owners = dict(run.stages["slow"]["owners"])
        owners["stage"] = {**owners["stage"], "host": HOST, "pid": os.getppid()}
        repo.update_stage(session, run, "slow", owners=owners)
    duplicate = Ownership(settings, run_id, "slow", "stage", task_id="task-1", retries=0)
    assert duplicate._claim_once() == "busy"
    other_task = Ownership(settings, run_id, "slow", "stage", task_id="task-2", retries=1)
    assert other_task._claim_once() == "busy"
    retry = Ownership(settings, run_id, "slow", "stage", task_id="task-1", retries=1)
    assert retry._claim_once() == "claimed"
    with session_scope(url) as session:
        owner = repo.get_run(session, run_id).stages["slow"]["owners"]["stage"]
    assert (owner["token"], owner["retries"], owner["pid"]) == (retry.token, 1, os.getpid())
