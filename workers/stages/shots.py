"""Shots stage: shots, transitions, scenes, keyframes and per-shot style of a title.

Long titles fan out into time chunks (``shot_chunk_s``); each chunk decodes its range plus a
small overlap and reports only its own frames, so the merge equals a whole-title run. Keyframe
JPEGs, thumbnails and the filmstrip go to the derived store under the title's content-hash
prefix first; the rows are then written in one transaction.

Settings: ``shot_detector`` (auto | fast | transnetv2; auto = TransNetV2 on CUDA, the fast
adaptive detector on CPU) and ``shot_chunk_s``; both default when the settings lack them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from typing import Any

from sqlalchemy.orm import Session

from analyzers.frames import video_info, video_info_of
from analyzers.shots import RangeResult, ShotAnalysis, ShotOptions, detect_range, finalize
from analyzers.shots.analyze import resolve_detector
from storage import repository as repo
from storage.objects import put_bytes
from workers.settings import Settings
from workers.stages.base import Stage, StageContext, chunked_run, time_chunks

JPEG = "image/jpeg"


def shot_options(settings: Settings) -> ShotOptions:
    return ShotOptions(
        detector=settings.shot_detector,
        device=None if settings.device == "auto" else settings.device,
    )


def shots_version(settings: Settings) -> str:
    """Names the detector that runs on this worker (``auto`` is TransNetV2 where CUDA is,
    the adaptive detector elsewhere) and a digest of every option that shapes the output."""
    options = shot_options(settings)
    params = {k: v for k, v in asdict(options).items() if k != "device"}
    digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:12]
    return f"2:{resolve_detector(options)}:{digest}"


def _chunk_s(settings: Settings) -> float:
    return settings.shot_chunk_s


def plan(ctx: StageContext) -> list[range]:
    duration = ctx.info.duration_s if ctx.info else video_info(ctx.media_path).duration_s
    return time_chunks(duration, _chunk_s(ctx.settings))


def run_chunk(ctx: StageContext, r: range) -> dict[str, Any]:
    last = r.stop >= plan(ctx)[-1].stop
    part = detect_range(
        ctx.media_path,
        shot_options(ctx.settings),
        start_s=r.start / 1000 or None,
        end_s=None if last else r.stop / 1000,  # the last chunk keeps every trailing frame
        progress=ctx.progress,
        info=video_info_of(ctx.info) if ctx.info else None,  # the probe's: no second ffprobe
    )
    return part.to_json()


def store(ctx: StageContext, result: ShotAnalysis) -> dict[str, Any]:
    prefix = f"{ctx.derived_prefix}/shots"
    keyframes = []
    for k in result.keyframes:
        key, thumb = (
            f"{prefix}/keyframe-{k.shot_index:05d}.jpg",
            f"{prefix}/thumb-{k.shot_index:05d}.jpg",
        )
        if k.jpeg:
            put_bytes(ctx.derived, key, k.jpeg, JPEG)
            put_bytes(ctx.derived, thumb, k.thumb_jpeg, JPEG)
        keyframes.append(
            dict(
                shot_idx=k.shot_index,
                frame=k.frame,
                time_s=k.time_s,
                object_key=key if k.jpeg else "",
                thumb_key=thumb if k.jpeg else "",
                width=k.width,
                height=k.height,
                sharpness=k.sharpness,
            )
        )
    strip_key = f"{prefix}/filmstrip.jpg"
    if result.filmstrip_jpeg:
        put_bytes(ctx.derived, strip_key, result.filmstrip_jpeg, JPEG)
    for w in result.warnings:
        ctx.warn(w)
    shots = [
        dict(
            idx=s.index,
            start_frame=s.start_frame,
            end_frame=s.end_frame,
            start_s=s.start_s,
            end_s=s.end_s,
            scene_idx=s.scene_index,
            features={"start_kind": s.start_kind, **(asdict(s.style) if s.style else {})},
        )
        for s in result.shots
    ]
    transitions = [
        dict(
            kind=t.kind,
            start_frame=t.start_frame,
            end_frame=t.end_frame,
            start_s=t.start_s,
            end_s=t.end_s,
        )
        for t in result.transitions
    ]
    scenes = [
        dict(
            idx=s.index,
            first_shot=s.first_shot,
            last_shot=s.last_shot,
            start_s=s.start_s,
            end_s=s.end_s,
            summary={"start_frame": s.start_frame, "end_frame": s.end_frame},
        )
        for s in result.scenes
    ]

    def write(session: Session) -> None:
        repo.save_shot_analysis(
            session,
            ctx.title_id,
            shots=shots,
            transitions=transitions,
            scenes=scenes,
            keyframes=keyframes,
        )
        if result.filmstrip_jpeg:
            repo.put_artifact(
                session, ctx.title_id, "filmstrip", strip_key, JPEG, len(result.filmstrip_jpeg)
            )

    summary = {
        "shots": len(shots),
        "scenes": len(scenes),
        "transitions": len(transitions),
        "keyframes": sum(1 for k in keyframes if k["object_key"]),
        "detector": result.detector,
        "fps": result.fps,
        "frames": result.frame_count,
    }
    ctx.persist(write, summary)
    return summary


def merge(ctx: StageContext, results: list[Any]) -> dict[str, Any]:
    parts = [RangeResult.from_json(r) for r in results]
    return store(ctx, finalize(ctx.media_path, parts, shot_options(ctx.settings)))


STAGE = Stage(
    name="shots",
    run=chunked_run(plan, run_chunk, merge),
    queue="cpu",  # "gpu" workers run TransNetV2 when shot_detector is auto or transnetv2
    weight=0.4,
    version=shots_version,
    after=("probe",),
    plan_chunks=plan,
    run_chunk=run_chunk,
    merge=merge,
)
