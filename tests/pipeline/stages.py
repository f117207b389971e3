"""Test-only stages, loaded into workers with ``COLDSTART_STAGE_PLUGINS``.

* ``slow``: takes ``COLDSTART_TEST_SLOW_S`` seconds with progress, writes an object to the
  derived store at its start and end (so an S3 outage hits it) and one artifact row; counts
  its executions in the derived store (to prove a redelivery happened).
* ``framecount``: a chunked stage. Counts the video frames whose timestamps fall in each
  millisecond range (ffprobe), merges by summing; exact when ranges tile the title.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import time
from typing import Any

from sqlalchemy.orm import Session

from storage import repository as repo
from storage.objects import put_bytes
from workers.stages.base import Stage, StageContext, chunked_run, time_chunks


def _slow(ctx: StageContext) -> dict[str, Any]:
    seconds = float(os.environ.get("COLDSTART_TEST_SLOW_S", "3"))
    marker = f"{ctx.derived_prefix}/test-slow/start-{time.time_ns()}"
    put_bytes(ctx.derived, marker, b"started")
    steps = 10
    for i in range(steps):
        time.sleep(seconds / steps)
        ctx.progress((i + 1) / steps)
    key = f"{ctx.derived_prefix}/test-slow/result.json"
    put_bytes(ctx.derived, key, json.dumps({"ok": True}).encode(), "application/json")

    def write(session: Session) -> None:
        repo.put_artifact(session, ctx.title_id, "test-slow", key, "application/json", 11)

    summary = {"slept_s": seconds}
    ctx.persist(write, summary)
    return summary


SLOW = Stage(name="slow", run=_slow, queue="cpu", weight=1.0, after=("probe",))


def _plan(ctx: StageContext) -> list[range]:
    assert ctx.info is not None
    return time_chunks(ctx.info.duration_s, float(os.environ.get("COLDSTART_TEST_CHUNK_S", "1")))


def _frame_times(ctx: StageContext) -> list[float]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
         "frame=pts_time", "-of", "csv=p=0", str(ctx.media_path)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return [float(x.strip(",")) for x in out.split() if x.strip(",")]


def _count(ctx: StageContext, r: range) -> dict[str, Any]:
    frames = [t for t in _frame_times(ctx) if r.start <= round(t * 1000) < r.stop]
    return {"range": [r.start, r.stop], "frames": len(frames), "pid": os.getpid()}


def _merge(ctx: StageContext, results: list[dict[str, Any]]) -> dict[str, Any]:
    for a, b in itertools.pairwise(results):
        assert a["range"][1] == b["range"][0], "chunks must tile the title"
    summary = {
        "frames": sum(r["frames"] for r in results),
        "chunks": len(results),
        "per_chunk": [r["frames"] for r in results],
        "pids": sorted({r["pid"] for r in results}),
    }
    ctx.persist(lambda _s: None, summary)
    return summary


FRAMECOUNT = Stage(
    name="framecount",
    run=chunked_run(_plan, _count, _merge),
    queue="cpu",
    weight=0.5,
    after=("probe",),
    plan_chunks=_plan,
    run_chunk=_count,
    merge=_merge,
)
