"""What the tagging stages read of a title's stored analysis, as plain values for the pure
signal analyzers: shots with their style features, keyframes (object keys and times), the
transcript, and whether the title had speech at all."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from analyzers.signals.base import SignalResult
from storage import repository as repo
from storage.db import session_scope
from storage.objects import put_bytes, read_bytes
from workers.stages.base import StageContext


@dataclass
class TitleInputs:
    shots: list[dict[str, Any]]
    keyframes: list[dict[str, Any]]
    segments: list[dict[str, Any]]
    language: str | None
    # True: speech found; False: the title has no audio or the speech stage found none;
    # None: unknown (the speech stage has not stored a result).
    had_speech: bool | None


def read_inputs(ctx: StageContext) -> TitleInputs:
    with session_scope(ctx.db_url) as session:
        shots = [
            {"idx": s.idx, "start_s": s.start_s, "end_s": s.end_s, "features": s.features or {}}
            for s in repo.shots_of(session, ctx.title_id)
        ]
        keyframes = [
            {
                "shot": k.shot_idx,
                "time_s": k.time_s,
                "object_key": k.object_key,
                "sharpness": k.sharpness,
            }
            for k in repo.keyframes_of(session, ctx.title_id)
            if k.object_key
        ]
        segments = [
            {
                "start": t.start_s,
                "end": t.end_s,
                "text": t.text,
                "language": t.language,
                "words": t.words or [],
            }
            for t in repo.transcript_of(session, ctx.title_id)
        ]
        speech = repo.current_stage_result(session, ctx.title_id, "speech")
    languages = [s["language"] for s in segments if s["language"]]
    language = max(set(languages), key=languages.count) if languages else None
    if segments:
        had_speech: bool | None = True
    elif ctx.info is not None and not ctx.info.audio:
        had_speech = False  # no audio track: nothing can be said
    elif speech is not None:
        had_speech = False  # the speech stage ran and found none
    else:
        had_speech = None
    return TitleInputs(shots, keyframes, segments, language, had_speech)


@dataclass
class KeyframeImage:
    shot: int
    start_s: float  # the shot's span
    end_s: float
    time_s: float
    key: str
    jpeg: bytes


def keyframe_images(ctx: StageContext, inputs: TitleInputs) -> list[KeyframeImage]:
    """The stored keyframe JPEGs with their shots' spans (what the shots stage decoded:
    visual signals never decode the title again). A keyframe the store lost is a warning;
    the rest still count."""
    spans = {s["idx"]: (s["start_s"], s["end_s"]) for s in inputs.shots}
    out = []
    for k in inputs.keyframes:
        try:
            jpeg = read_bytes(ctx.derived, k["object_key"])
        except Exception as err:
            ctx.warn(f"keyframe {k['object_key']} unreadable: {err}")
            continue
        start, end = spans.get(k["shot"], (k["time_s"], k["time_s"]))
        out.append(KeyframeImage(k["shot"], start, end, k["time_s"], k["object_key"], jpeg))
    return out


def signal_key(ctx: StageContext, name: str) -> str:
    """Where a stage keeps a signal's JSON: under its cache key, so a reader holding a
    stage's current key never reads another version's output."""
    return f"{ctx.derived_prefix}/signals/{ctx.stage}-{ctx.cache_key[:16]}/{name}.json"


def store_signal(ctx: StageContext, result: SignalResult) -> str:
    key = signal_key(ctx, result.signal)
    put_bytes(ctx.derived, key, json.dumps(result.to_dict()).encode(), "application/json")
    return key


def load_signals(ctx: StageContext, stage: str) -> dict[str, SignalResult]:
    """The signals a stage stored for this title (read through its current result)."""
    with session_scope(ctx.db_url) as session:
        result = repo.current_stage_result(session, ctx.title_id, stage)
        keys = dict((result.summary or {}).get("keys", {})) if result is not None else {}
    return {
        name: SignalResult.from_dict(json.loads(read_bytes(ctx.derived, key)))
        for name, key in keys.items()
    }
