"""Signals stage: every signal tagging fuses except vision (its own stage, on the ``gpu``
queue): audio cues, visual style per shot, nudity on the keyframes, strong language and
transcript semantics. Each result (present, or absent with its reason) is stored as JSON in
the derived store under this stage's cache key; the summary names them.

Visual signals read what the shots stage stored (keyframes, per-shot features): the title's
video is never decoded a second time. Audio is decoded once more, as 16 kHz mono. Models
(NudeNet, MiniLM) are loaded once per process.
"""

from __future__ import annotations

import logging
from typing import Any

from analyzers.audio import SAMPLE_RATE, load_audio, select_audio_stream
from analyzers.errors import BadMediaError
from analyzers.signals import audio, language, style, transcript
from analyzers.signals.base import SignalResult
from taxonomy import Taxonomy
from workers.settings import Settings
from workers.stages.base import Stage, StageContext, load_taxonomy
from workers.stages.inputs import TitleInputs, keyframe_images, read_inputs, store_signal

log = logging.getLogger(__name__)
VERSION = "1"


def language_options(tax: Taxonomy) -> language.Options:
    lexicon = {term: tier for tier, terms in tax.lexicon.tiers.items() for term in terms}
    return language.Options.build(
        lexicon=lexicon,
        descriptors={name: c.descriptor for name, c in tax.lexicon.categories.items()},
        category_severity=tuple(
            sorted((name, c.tier) for name, c in tax.lexicon.categories.items())
        ),
    )


def label_texts(tax: Taxonomy) -> dict[str, list[str]]:
    """What the transcript signal matches: each label's description and text cues."""
    return {
        label.id: [label.description, *label.text_cues]
        for facet in ("mood", "tone", "maturity")
        for label in tax.labels(facet)
        if label.text_cues
    }


def transcript_options(settings: Settings) -> transcript.TranscriptOptions:
    # Label embeddings on disk, beside the vision stage's: a worker computes them once per
    # (model, taxonomy), not once per process.
    cache = settings.data_dir / "cache" / "label-embeddings"
    return transcript.TranscriptOptions(label_cache_dir=str(cache))


def signals_version(settings: Settings) -> str:
    options = [
        audio.Options().version(),
        style.Options().version(),
        transcript_options(settings).version(),
        _nudity_version(),
    ]
    return f"{VERSION}:" + ":".join(options)


def _nudity_version() -> str:
    try:
        from analyzers.signals import nudity
    except ImportError:
        return "nudity-absent"
    return nudity.Options().version()


def _audio_signal(ctx: StageContext, inputs: TitleInputs) -> SignalResult:
    version = audio.Options().version()
    if ctx.info is None or not ctx.info.audio:
        return SignalResult.absent_because("audio", version, "no audio")
    try:
        stream = select_audio_stream(ctx.info)
        samples = load_audio(ctx.media_path, stream.index)
    except BadMediaError as err:
        return SignalResult.absent_because("audio", version, f"audio not decodable: {err}")
    speech = None  # unknown unless the speech stage spoke
    if inputs.had_speech is not None:
        speech = [(s["start"], s["end"]) for s in inputs.segments]
    return audio.analyze(samples, SAMPLE_RATE, speech=speech)


def _nudity_signal(ctx: StageContext, inputs: TitleInputs) -> SignalResult:
    try:
        from analyzers.signals import nudity
    except ImportError as err:
        return SignalResult.absent_because("nudity", "absent", f"nudity detector missing ({err})")
    frames = [
        {
            "time_s": k.time_s,
            "start_s": k.start_s,
            "end_s": k.end_s,
            "image": k.jpeg,
            "ref": {"shot": k.shot, "keyframe": k.key},
        }
        for k in keyframe_images(ctx, inputs)
    ]
    return nudity.analyze(frames)


def run(ctx: StageContext) -> dict[str, Any]:
    tax = load_taxonomy(ctx.settings)
    inputs = read_inputs(ctx)
    results = [
        style.analyze(inputs.shots),
        _audio_signal(ctx, inputs),
        _nudity_signal(ctx, inputs),
        language.detect(
            inputs.segments,
            language_options(tax),
            language=inputs.language,
            had_speech=inputs.had_speech,
        ),
        transcript.analyze_transcript(
            inputs.segments,
            label_texts(tax),
            transcript_options(ctx.settings),
            language=inputs.language,
            had_speech=inputs.had_speech,
        ),
    ]
    keys = {}
    for i, result in enumerate(results):
        keys[result.signal] = store_signal(ctx, result)
        ctx.progress((i + 1) / len(results))
    summary = {
        "keys": keys,
        "signals": {
            r.signal: {"version": r.version, "absent": r.absent.reason if r.absent else None}
            for r in results
        },
    }
    ctx.persist(lambda _session: None, summary)
    return summary


STAGE = Stage(
    name="signals",
    run=run,
    queue="cpu",
    weight=0.1,
    version=signals_version,
    after=("shots", "speech"),
    uses_taxonomy=True,
)
