"""Fan-out of long titles: a chunked stage's ranges run as parallel tasks, then one merge.

Each chunk's result is stored as JSON in the derived store under the stage's cache key, so
a redelivered chunk task finds its work done, and the merge (run through
:func:`workers.pipeline.run_stage`, hence one transaction and one StageResult) reads every
chunk in range order; a chunk whose result is missing is computed by the merge itself. The
in-process path (:func:`workers.stages.base.chunked_run`) feeds ``merge`` the same
JSON-decoded values, so both give identical results.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
from pathlib import Path
from typing import Any

from storage import repository as repo
from storage.db import session_scope
from storage.objects import ObjectNotFound, put_bytes, read_bytes
from workers import pipeline
from workers.heartbeat import current_stage_label
from workers.settings import Settings
from workers.stages.base import Stage, StageContext

log = logging.getLogger(__name__)


def encode_range(r: range) -> list[int]:
    return [r.start, r.stop, r.step]


def decode_range(v: list[int]) -> range:
    return range(*v)


def chunk_key(ctx: StageContext, r: range) -> str:
    return (
        f"{ctx.derived_prefix}/chunks/{ctx.stage}/{ctx.cache_key[:16]}/"
        f"{r.start}-{r.stop}-{r.step}.json"
    )


def plan(settings: Settings, run_id: int, stage: Stage) -> list[range]:
    """The stage's chunks for this run, planned from the probe's media info (no media is
    local at planning time: ``plan_chunks`` must use ``ctx.info``)."""
    assert stage.plan_chunks is not None
    ctx, done = pipeline.context_for(settings, run_id, stage, Path("/nonexistent"))
    if done:
        return []
    try:
        return list(stage.plan_chunks(ctx))
    except Exception as err:  # e.g. no audio track: the stage's own task records why
        log.info("%s: not fanned out (%s)", stage.name, err)
        return []


def run_chunk(
    settings: Settings, run_id: int, stage: Stage, r: range, total: int, media_path: Path
) -> str:
    """Compute and store one chunk unless stored already. Returns what happened."""
    assert stage.run_chunk is not None
    ctx, done = pipeline.context_for(settings, run_id, stage, media_path)
    if done:
        return "cached"
    key = chunk_key(ctx, r)
    if ctx.derived.stat(key) is not None:
        return "stored"
    result = stage.run_chunk(ctx, r)
    put_bytes(ctx.derived, key, json.dumps(result).encode(), "application/json")
    _count_chunk(settings, run_id, stage.name, total)
    return "computed"


def _count_chunk(settings: Settings, run_id: int, stage: str, total: int) -> None:
    with session_scope(settings.effective_database_url) as session:
        run = repo.get_run(session, run_id, lock=True)
        if run is None:
            return
        entry = (run.stages or {}).get(stage, {})
        done = min(int(entry.get("chunks_done", 0)) + 1, total)
        repo.update_stage(
            session,
            run,
            stage,
            status=entry.get("status") or "running",
            chunks_done=done,
            chunks=total,
            progress=round(done / (total + 1), 4),
        )
        run.current_stage = current_stage_label(run.stages or {})


def merging_stage(stage: Stage, ranges: list[range]) -> Stage:
    """``stage`` whose ``run`` merges the stored chunk results (computing missing ones)."""
    assert stage.run_chunk is not None and stage.merge is not None
    run_chunk, merge = stage.run_chunk, stage.merge

    def run(ctx: StageContext) -> dict[str, Any]:
        results: list[Any] = []
        for i, r in enumerate(ranges):
            key = chunk_key(ctx, r)
            try:
                results.append(json.loads(read_bytes(ctx.derived, key)))
            except ObjectNotFound:
                results.append(json.loads(json.dumps(run_chunk(ctx, r))))
            ctx.progress(i / (len(ranges) + 1))
        summary = merge(ctx, results)
        for r in ranges:  # the stage's result is stored: chunk results are scratch
            with contextlib.suppress(Exception):
                ctx.derived.delete(chunk_key(ctx, r))
        return summary

    return dataclasses.replace(stage, run=run)
