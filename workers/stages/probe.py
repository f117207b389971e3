"""Probe stage: ffprobe the title, validate it, store its media info."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from analyzers.probe import probe
from storage import repository as repo
from workers.stages.base import Stage, StageContext


def run(ctx: StageContext) -> dict[str, Any]:
    info = probe(ctx.media_path)
    ctx.info = info

    def write(session: Session) -> None:
        title = repo.get_title(session, ctx.title_id)
        assert title is not None
        repo.save_media_info(session, title, info.to_dict())

    summary = {
        "container": info.container,
        "duration_s": info.duration_s,
        "video_streams": len(info.video),
        "audio_streams": len(info.audio),
    }
    ctx.persist(write, summary)
    return summary


STAGE = Stage(name="probe", run=run, queue="io", required=True, weight=0.02, version=lambda _: "1")
