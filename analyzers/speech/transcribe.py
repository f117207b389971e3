"""Speech stage entry points: plan -> transcribe chunks (in parallel) -> stitch.

``transcribe_media`` runs all three in one process. The Celery pipeline calls the same
three steps separately: :func:`plan` once, :func:`transcribe_chunk` per chunk as parallel
tasks (each decodes only its own span of audio), then :func:`finish`.
"""

from __future__ import annotations

import itertools
import os
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import numpy as np

from analyzers.audio import (
    DecodeReport,
    check_decode,
    expected_duration,
    frame_levels,
    load_audio,
    select_audio_stream,
)
from analyzers.errors import AnalysisError, StageNotApplicable
from analyzers.probe import MediaInfo, probe
from analyzers.speech.base import (
    SAMPLE_RATE,
    DecodeOptions,
    ProgressFn,
    Segment,
    SpeechBackend,
    Transcript,
    Untranscribed,
    Word,
)
from analyzers.speech.chunks import (
    Chunk,
    Cut,
    LevelsBetween,
    chunk_between,
    cut_near,
    nominal_cuts_ms,
    plan_chunks,
    stitch,
)
from analyzers.speech.guards import GuardOptions, GuardReport, apply_guards
from analyzers.speech.language import (
    MIN_DETECT_S,
    MIN_PROBABILITY,
    NEVER_DETECTED,
    ModelRouter,
    detect_runs,
    sample,
)
from analyzers.speech.vad import FRAME_S, TimeMap, VadOptions, active_regions, collect

BackendName = Literal["faster-whisper", "openai-whisper"]


@dataclass(frozen=True)
class SpeechOptions:
    backend: BackendName = "faster-whisper"
    model: str = "tiny.en"  # installed name, local path, or hub name
    # Identifies each region's language and transcribes those ``model`` cannot (tiny.en
    # knows only English). None: no language identification (then ``language`` is needed).
    multilingual_model: str | None = "base"
    # Transcribe only these languages (empty: every language a model knows); speech in
    # others is recorded with its detected language, untranscribed.
    languages: tuple[str, ...] = ()
    # Languages language identification never names (its likeliest other guess wins).
    never_detected: tuple[str, ...] = NEVER_DETECTED
    models_dir: str | None = None
    device: str = "auto"
    compute_type: str | None = None  # default: int8 on CPU, float16 on CUDA
    cpu_threads: int = 0
    language: str | None = None  # None: detect (per region with a multilingual model)
    per_region_language: bool = True
    audio_track: int | None = None  # ffprobe stream index
    audio_language: str | None = None  # pick the track tagged with this language
    beam_size: int = 5
    condition_on_previous_text: bool = False
    chunk_s: float = 600.0
    # At a forced cut (no silence near it) both chunks decode this much past the cut: enough
    # to hold a whole spoken sentence, which Whisper tends to drop when the audio ends in it.
    overlap_s: float = 8.0
    # Film dialogue swings from whispers to shouts; Whisper normalises each 30 s window to
    # its loudest sound, so quiet lines next to loud ones vanish. ffmpeg's dynamic audio
    # normaliser evens the level out (0.5 s frames, ~7.5 s smoothing, at most +30 dB).
    audio_filter: str | None = "dynaudnorm=f=500:g=15:m=30"
    vad: VadOptions = field(default_factory=VadOptions)
    guards: GuardOptions = field(default_factory=GuardOptions)

    def decode_options(self, language: str | None) -> DecodeOptions:
        return DecodeOptions(
            language=language,
            beam_size=self.beam_size,
            condition_on_previous_text=self.condition_on_previous_text,
            compression_ratio_threshold=self.guards.compression_ratio_threshold,
            log_prob_threshold=self.guards.log_prob_threshold,
            no_speech_threshold=self.guards.no_speech_threshold,
        )

    def version(self) -> str:
        """What changes the output: for cache keys."""
        return (
            f"{self.backend}:{self.model}:ml={self.multilingual_model or ''}:"
            f"{self.compute_type or 'auto'}:b{self.beam_size}:"
            f"lang={self.language or 'auto'}:only={','.join(self.languages)}:"
            f"never={','.join(self.never_detected)}:"
            f"vad={self.vad.mode}:chunk={self.chunk_s:g}:"
            f"overlap={self.overlap_s:g}:"
            f"af={self.audio_filter or ''}"
        )


_BACKENDS: dict[tuple, SpeechBackend] = {}
_BACKENDS_LOCK = threading.Lock()


def load_backend(options: SpeechOptions) -> SpeechBackend:
    """A backend for ``options``, loaded once per process (workers reuse it across tasks)."""
    from analyzers.speech.models import resolve_model

    models_dir = Path(options.models_dir) if options.models_dir else None
    key = (
        options.backend,
        options.model,
        models_dir,
        options.device,
        options.compute_type,
        options.cpu_threads,
    )
    with _BACKENDS_LOCK:
        if key not in _BACKENDS:
            model = resolve_model(options.model, models_dir)
            if options.backend == "openai-whisper":
                from analyzers.speech.openai_whisper_backend import OpenAIWhisperBackend

                _BACKENDS[key] = OpenAIWhisperBackend(
                    model, device=options.device, cpu_threads=options.cpu_threads
                )
            else:
                from analyzers.speech.faster_whisper_backend import FasterWhisperBackend

                _BACKENDS[key] = FasterWhisperBackend(
                    model,
                    device=options.device,
                    compute_type=options.compute_type,
                    cpu_threads=options.cpu_threads,
                )
        return _BACKENDS[key]


def load_multilingual(options: SpeechOptions) -> SpeechBackend | None:
    """The multilingual model of ``options`` (same backend and device), or None."""
    if not options.multilingual_model:
        return None
    return load_backend(replace(options, model=options.multilingual_model))


def model_router(
    options: SpeechOptions,
    backend: SpeechBackend | None = None,
    multilingual: SpeechBackend | None = None,
) -> ModelRouter:
    """Who transcribes which language; the multilingual model loads only when needed."""
    return ModelRouter(
        backend or load_backend(options),
        lambda: multilingual or load_multilingual(options),
        frozenset(options.languages),
    )


@dataclass
class SpeechPlan:
    """What :func:`plan` found: the track, its length, and the chunks to transcribe."""

    stream_index: int
    duration_s: float
    chunks: list[Chunk]


@dataclass(frozen=True)
class ChunkSpans:
    """The chunks as the probe alone sees them: nominal spans (ms) whose borders
    :func:`resolve_chunk` moves to silences. What the fleet plans its parallel tasks from."""

    stream_index: int
    duration_s: float
    spans: list[tuple[int, int]]


def chunk_spans(info: MediaInfo, options: SpeechOptions) -> ChunkSpans:
    """Choose the track and split its expected length into nominal chunk spans.

    Raises StageNotApplicable when the title has no audio track.
    """
    stream = select_audio_stream(info, track=options.audio_track, language=options.audio_language)
    total = expected_duration(info, stream)
    bounds = [0, *nominal_cuts_ms(total, options.chunk_s), max(1, round(total * 1000))]
    return ChunkSpans(stream.index, total, list(itertools.pairwise(bounds)))


def _levels_between(path: str | os.PathLike[str], stream_index: int) -> LevelsBetween:
    """Levels of a span by a short decode of just that span."""
    return lambda lo, hi: frame_levels(
        path, stream_index, frame_s=FRAME_S, start=lo, duration=hi - lo
    )


def resolve_chunk(
    path: str | os.PathLike[str], spans: ChunkSpans, index: int, options: SpeechOptions
) -> Chunk:
    """Chunk ``index`` with its borders moved to silences; its neighbours find the same
    borders on their own, so parallel tasks need nothing from each other."""
    levels = _levels_between(path, spans.stream_index)

    def cut(ms: int) -> Cut:
        return cut_near(ms, spans.duration_s, options.chunk_s, levels, vad=options.vad)

    a_ms, b_ms = spans.spans[index]
    a = cut(a_ms) if index else None
    b = None if index == len(spans.spans) - 1 else cut(b_ms)
    return chunk_between(index, a, b, spans.duration_s, options.overlap_s)


def plan(
    path: str | os.PathLike[str], options: SpeechOptions, info: MediaInfo | None = None
) -> SpeechPlan:
    """Choose the track and cut it into chunks at silences (each cut from a short decode
    around its nominal place). Raises StageNotApplicable (no audio)."""
    spans = chunk_spans(info or probe(path), options)
    chunks = plan_chunks(
        spans.duration_s,
        _levels_between(path, spans.stream_index),
        target_s=options.chunk_s,
        overlap_s=options.overlap_s,
        vad=options.vad,
    )
    return SpeechPlan(spans.stream_index, spans.duration_s, chunks)


def transcribe_audio(
    audio: np.ndarray,
    options: SpeechOptions,
    backend: SpeechBackend | None = None,
    *,
    multilingual: SpeechBackend | None = None,
    offset: float = 0.0,
    guard_report: GuardReport | None = None,
    untranscribed: list[Untranscribed] | None = None,
) -> list[Segment]:
    """VAD, language runs, decode, guards, for one in-memory piece of audio.

    Returned times are ``offset`` + time in ``audio``. Speech no model may transcribe is
    appended to ``untranscribed`` (same times).
    """
    router = model_router(options, backend, multilingual)
    detector = None if options.language else router.detector
    if options.language is None and detector is None:
        raise AnalysisError(
            f"speech model {options.model!r} is English-only and no multilingual model is "
            "set to identify the spoken language: set COLDSTART_SPEECH_MULTILINGUAL_MODEL "
            "(e.g. base) or COLDSTART_SPEECH_LANGUAGE",
            code="model_unavailable",
        )
    regions = active_regions(audio, options.vad)
    decoded: list[tuple[Segment, SpeechBackend]] = []
    skipped: list[Untranscribed] = []
    for run in detect_runs(
        detector,
        audio,
        regions,
        language=options.language,
        per_region=options.per_region_language,
        exclude=frozenset(options.never_detected),
    ):
        model = router.for_language(run.language or options.language)
        if model is None:
            lang = run.language or options.language or "und"
            skipped += [Untranscribed(a, b, lang, run.probability) for a, b in run.regions]
            continue
        joined, timemap = collect(audio, run.regions)
        for seg in model.transcribe(joined, options.decode_options(run.language)):
            decoded.append((_map_segment(seg, timemap, run.language), model))
    segments: list[Segment] = []
    for seg, model in decoded:
        if detector is None or not options.per_region_language:
            segments.append(seg)
            continue
        kept, lost = check_segment(router, audio, seg, model, options)
        segments += kept
        skipped += lost
    if untranscribed is not None:
        untranscribed += [u.shifted(offset) for u in skipped]
    segments = [s.shifted(offset) if offset else s for s in segments]
    segments.sort(key=lambda s: s.start)
    return apply_guards(segments, options.guards, guard_report)


def _map_segment(seg: Segment, timemap: TimeMap, language: str | None) -> Segment:
    words = tuple(
        Word(
            timemap.to_source(w.start),
            timemap.to_source(w.end, is_end=True),
            w.text,
            w.probability,
        )
        for w in seg.words
    )
    return Segment(
        start=timemap.to_source(seg.start),
        end=timemap.to_source(seg.end, is_end=True),
        text=seg.text,
        language=language or seg.language,
        avg_logprob=seg.avg_logprob,
        no_speech_prob=seg.no_speech_prob,
        compression_ratio=seg.compression_ratio,
        words=words,
    )


# tiny.en scores English above this (FLEURS and film dialogue here: -0.26 to -0.52) and
# other languages well below it (-0.68 to -2.45); only below it is the language re-checked.
UNSURE_LOGPROB = -0.5


def check_segment(
    router: ModelRouter,
    audio: np.ndarray,
    seg: Segment,
    model: SpeechBackend,
    options: SpeechOptions,
) -> tuple[list[Segment], list[Untranscribed]]:
    """Check one segment's language on its own audio; re-decode it if it differs.

    Regions closer than the VAD's merge gap are decoded together in one language, so a
    quick switch (an English line answered in French) is only caught per segment. What an
    English-only model decoded with confidence is English and is not checked again.
    """
    detector = router.detector
    if detector is None or seg.end - seg.start < MIN_DETECT_S:
        return [seg], []
    if not model.is_multilingual and seg.avg_logprob >= UNSURE_LOGPROB:
        return [seg], []
    start, end = max(0.0, seg.start - 0.2), seg.end + 0.2
    language, probability = detector.detect_language(
        sample(audio, start, end), frozenset(options.never_detected)
    )
    if language == seg.language or probability < MIN_PROBABILITY:
        return [seg], []
    target = router.for_language(language)
    if target is None:
        return [], [Untranscribed(seg.start, seg.end, language, probability)]
    piece = audio[int(start * SAMPLE_RATE) : int(end * SAMPLE_RATE)]
    redone = target.transcribe(piece, options.decode_options(language))
    out = [replace(s, language=language).shifted(start) for s in redone]
    return out or [seg], []


@dataclass
class ChunkResult:
    """One chunk's transcript (title times) and what went wrong on the way; JSON-able, as
    the fleet stores it between the chunk task and the merge."""

    chunk: Chunk
    segments: list[Segment]
    warnings: list[str] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)  # guard reason -> segments
    untranscribed: list[Untranscribed] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "chunk": self.chunk.to_dict(),
            "segments": [s.to_dict() for s in self.segments],
            "warnings": self.warnings,
            "dropped": self.dropped,
            "untranscribed": [u.to_dict() for u in self.untranscribed],
        }

    @classmethod
    def from_dict(cls, data: dict) -> ChunkResult:
        return cls(
            Chunk.from_dict(data["chunk"]),
            [Segment.from_dict(s) for s in data["segments"]],
            list(data.get("warnings", [])),
            dict(data.get("dropped", {})),
            [Untranscribed(**u) for u in data.get("untranscribed", [])],
        )


# Silence after the end keeps the normaliser from over-boosting the last words; it is cut
# off again after decoding, so times and lengths are unchanged.
PAD_S = 2.0
TAIL_S = 0.5


def transcribe_chunk(
    path: str | os.PathLike[str],
    stream_index: int,
    chunk: Chunk,
    options: SpeechOptions,
    backend: SpeechBackend | None = None,
    multilingual: SpeechBackend | None = None,
) -> ChunkResult:
    """Decode one chunk's span of audio and transcribe it; times are title times.

    Raises BadMediaError when the span decodes short amid decoder errors (truncated file).
    """
    filters = f"apad=pad_dur={PAD_S:g},{options.audio_filter}" if options.audio_filter else None
    report = DecodeReport()
    audio = load_audio(
        path,
        stream_index,
        start=chunk.start,
        duration=chunk.duration,
        filters=filters,
        report=report,
    )
    decoded = replace(
        report, samples=max(0, report.samples - (round(PAD_S * SAMPLE_RATE) if filters else 0))
    )
    check_decode(decoded, chunk.duration)
    audio = audio[: decoded.samples]  # the span itself is bounded by the decode (-t)
    warnings: list[str] = []
    if audio.size == 0:
        if chunk.index == 0:
            warnings.append(f"audio stream {stream_index} is empty (0 s); nothing to transcribe")
        return ChunkResult(chunk, [], warnings)
    if report.errors:
        warnings.append(
            f"decoder reported errors on audio stream {stream_index}: {report.errors[-1]}"
        )
    # Whisper garbles a last word that ends flush with the audio; a little silence after
    # it costs nothing (no word can be heard there) and keeps it whole.
    audio = np.concatenate([audio, np.zeros(round(TAIL_S * SAMPLE_RATE), np.float32)])
    guard_report = GuardReport()
    untranscribed: list[Untranscribed] = []
    segments = transcribe_audio(
        audio,
        options,
        backend,
        multilingual=multilingual,
        offset=chunk.start,
        guard_report=guard_report,
        untranscribed=untranscribed,
    )
    # Only what the chunk owns: an overlap's speech is its neighbour's to report.
    owned = [u for u in untranscribed if chunk.owns((u.start + u.end) / 2)]
    return ChunkResult(chunk, segments, warnings, guard_report.reasons(), owned)


def finish(
    speech_plan: SpeechPlan, results: list[ChunkResult], options: SpeechOptions
) -> Transcript:
    """Stitch chunk results into the title's transcript."""
    segments = stitch([(r.chunk, r.segments) for r in results])
    untranscribed = sorted((u for r in results for u in r.untranscribed), key=lambda u: u.start)
    languages = [s.language for s in segments if s.language]
    main = max(set(languages), key=languages.count) if languages else options.language
    if main is None and untranscribed:
        # Nothing transcribed: the title's language is the one most of its speech is in.
        heard: dict[str, float] = {}
        for u in untranscribed:
            heard[u.language] = heard.get(u.language, 0.0) + u.end - u.start
        main = max(heard, key=heard.__getitem__)
    warnings: list[str] = []
    dropped: dict[str, int] = {}
    for r in sorted(results, key=lambda r: r.chunk.index):
        warnings += [w for w in r.warnings if w not in warnings]
        for why, n in r.dropped.items():
            dropped[why] = dropped.get(why, 0) + n
    if dropped:
        reasons = ", ".join(f"{k}: {v}" for k, v in sorted(dropped.items()))
        warnings.append(
            f"hallucination guards dropped {sum(dropped.values())} segment(s) ({reasons})"
        )
    warnings += untranscribed_warnings(untranscribed)
    return Transcript(
        segments=segments,
        language=main,
        duration_s=speech_plan.duration_s,
        backend=options.backend,
        model=options.model,
        audio_stream_index=speech_plan.stream_index,
        warnings=warnings,
        untranscribed=untranscribed,
    )


def untranscribed_warnings(untranscribed: list[Untranscribed]) -> list[str]:
    """One line per language no model transcribed, with its best detection probability."""
    by_language: dict[str, list[Untranscribed]] = {}
    for u in untranscribed:
        by_language.setdefault(u.language, []).append(u)
    return [
        f"speech in {lang!r} (detected, p={max(u.probability for u in us):.2f}; "
        f"{sum(u.end - u.start for u in us):.1f} s) not transcribed: "
        "no installed speech model may transcribe it"
        for lang, us in sorted(by_language.items())
    ]


def transcribe_media(
    path: str | os.PathLike[str],
    options: SpeechOptions | None = None,
    progress: ProgressFn | None = None,
    *,
    info: MediaInfo | None = None,
    backend: SpeechBackend | None = None,
    multilingual: SpeechBackend | None = None,
) -> Transcript:
    """Transcribe the chosen audio track of ``path`` (all steps in this process)."""
    options = options or SpeechOptions()
    speech_plan = plan(path, options, info)
    if progress:
        progress(0.05)
    results: list[ChunkResult] = []
    total = sum(c.duration for c in speech_plan.chunks) or 1.0
    done = 0.0
    for chunk in speech_plan.chunks:
        results.append(
            transcribe_chunk(path, speech_plan.stream_index, chunk, options, backend, multilingual)
        )
        done += chunk.duration
        if progress:
            progress(0.05 + 0.95 * done / total)
    return finish(speech_plan, results, options)


__all__ = [
    "SAMPLE_RATE",
    "ChunkResult",
    "ChunkSpans",
    "SpeechOptions",
    "SpeechPlan",
    "StageNotApplicable",
    "chunk_spans",
    "finish",
    "load_backend",
    "plan",
    "resolve_chunk",
    "transcribe_audio",
    "transcribe_chunk",
    "transcribe_media",
]
