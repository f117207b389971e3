"""Speech stage: transcribe the chosen audio track, store segments, VTT and SRT.

Settings (``COLDSTART_SPEECH_*``) pick backend, models, device, language and track. By
default the multilingual model identifies each region's language; English goes to the fast
English model and other languages to the multilingual one. The
subtitles go to the derived store first; the segments and the artifact rows are then
written in one transaction, so a failure never leaves a half-stored transcript. No audio
track makes the stage "skipped" with the reason (StageNotApplicable), not a failure.

Long titles fan out: the probe's length is split into nominal spans (``speech_chunk_s``),
each chunk task moves its own borders to nearby silences (its neighbours find the same
ones) and transcribes its span, and the merge stitches the chunks in order.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from analyzers.probe import probe
from analyzers.speech.transcribe import (
    ChunkResult,
    ChunkSpans,
    SpeechOptions,
    SpeechPlan,
    chunk_spans,
    finish,
    resolve_chunk,
    transcribe_chunk,
)
from analyzers.speech.vad import VadOptions
from storage import repository as repo
from storage.objects import put_bytes
from workers.settings import Settings
from workers.stages.base import Stage, StageContext, chunked_run


def _codes(text: str | None) -> tuple[str, ...]:
    return tuple(code.strip() for code in (text or "").split(",") if code.strip())


def speech_options(settings: Settings) -> SpeechOptions:
    device = settings.device
    return SpeechOptions(
        backend=settings.speech_backend,
        model=settings.speech_model,
        multilingual_model=settings.speech_multilingual_model or None,
        languages=_codes(settings.speech_languages),
        never_detected=_codes(settings.speech_never_detected),
        models_dir=str(settings.effective_speech_models_dir),
        device=device,
        compute_type=settings.speech_compute_type,
        cpu_threads=settings.speech_cpu_threads,
        language=settings.speech_language or None,
        audio_track=settings.speech_audio_track,
        audio_language=settings.speech_audio_language or None,
        beam_size=settings.speech_beam_size,
        chunk_s=settings.speech_chunk_s,
        vad=VadOptions(mode=settings.speech_vad),
    )


def _spans(ctx: StageContext) -> ChunkSpans:
    return chunk_spans(ctx.info or probe(ctx.media_path), speech_options(ctx.settings))


def plan(ctx: StageContext) -> list[range]:
    """Nominal chunk spans (ms) from the probe alone: no media is needed to plan."""
    return [range(a, b) for a, b in _spans(ctx).spans]


def run_chunk(ctx: StageContext, r: range) -> dict[str, Any]:
    spans = _spans(ctx)
    index = spans.spans.index((r.start, r.stop))
    options = speech_options(ctx.settings)
    chunk = resolve_chunk(ctx.media_path, spans, index, options)
    return transcribe_chunk(ctx.media_path, spans.stream_index, chunk, options).to_dict()


def merge(ctx: StageContext, results: list[dict[str, Any]]) -> dict[str, Any]:
    spans = _spans(ctx)
    options = speech_options(ctx.settings)
    parts = [ChunkResult.from_dict(r) for r in results]
    speech_plan = SpeechPlan(spans.stream_index, spans.duration_s, [p.chunk for p in parts])
    transcript = finish(speech_plan, parts, options)
    for warning in transcript.warnings:
        ctx.warn(warning)

    from analyzers.speech.subtitles import to_srt, to_vtt

    artifacts = []
    for kind, data, content_type in (
        ("vtt", to_vtt(transcript.segments), "text/vtt; charset=utf-8"),
        ("srt", to_srt(transcript.segments), "application/x-subrip; charset=utf-8"),
    ):
        key = f"{ctx.derived_prefix}/speech/transcript.{kind}"
        info = put_bytes(ctx.derived, key, data, content_type)
        artifacts.append((kind, key, content_type, info.size))
    segments = [s.to_dict() for s in transcript.segments]

    def write(session: Session) -> None:
        repo.save_transcript(session, ctx.title_id, segments, transcript.audio_stream_index)
        for kind, key, content_type, size in artifacts:
            repo.put_artifact(session, ctx.title_id, kind, key, content_type, size)

    summary = {
        "segments": len(segments),
        "words": len(transcript.words),
        "language": transcript.language,
        "audio_track": transcript.audio_stream_index,
        "duration_s": round(transcript.duration_s, 3),
        "backend": transcript.backend,
        "model": transcript.model,
        # Languages transcribed, and speech left untranscribed (language and probability).
        "languages": sorted({s.language for s in transcript.segments if s.language}),
        "untranscribed": [u.to_dict() for u in transcript.untranscribed],
    }
    ctx.persist(write, summary)
    return summary


STAGE = Stage(
    name="speech",
    run=chunked_run(plan, run_chunk, merge),
    queue="cpu",  # the fleet may route it to "gpu" where CUDA workers run it in float16
    weight=0.3,
    # 3: language identified per region by the multilingual model; English-only models
    # transcribe English only.
    version=lambda settings: "3:" + speech_options(settings).version(),
    after=("probe",),
    plan_chunks=plan,
    run_chunk=run_chunk,
    merge=merge,
)
