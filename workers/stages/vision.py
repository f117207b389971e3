"""Vision stage: zero-shot scores of every taxonomy label per shot, and the keyframe
embeddings, from a CLIP/SigLIP model (``COLDSTART_VISION_MODEL``: hub name or local path).
It reads the keyframes the shots stage stored; it never decodes the title. Routed to the
``gpu`` queue (fp16 on CUDA). With no model installed the signal is stored as absent with
its reason, and tagging stays conservative (no children's rating)."""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from analyzers.signals.vision import VisionFrame, VisionOptions, analyze_keyframes
from storage.objects import put_bytes
from taxonomy import Taxonomy
from workers.settings import Settings
from workers.stages.base import Stage, StageContext, load_taxonomy
from workers.stages.inputs import keyframe_images, read_inputs, signal_key, store_signal

VERSION = "1"


def vision_options(settings: Settings) -> VisionOptions:
    return VisionOptions(
        model=settings.vision_model or None,
        backend=settings.vision_backend or None,
        batch_size=settings.vision_batch_size,
        device=None if settings.device == "auto" else settings.device,
        text_cache_dir=str(settings.data_dir / "cache" / "label-embeddings"),
    )


def prompts_of(tax: Taxonomy) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Label -> prompt ensemble, and facet -> labels (scores are relative within a facet)."""
    prompts: dict[str, list[str]] = {}
    facets: dict[str, list[str]] = {}
    for facet in ("mood", "tone", "maturity"):
        for label in tax.labels(facet):
            if label.vision_prompts:
                prompts[label.id] = list(label.vision_prompts)
                facets.setdefault(facet, []).append(label.id)
    return prompts, facets


def run(ctx: StageContext) -> dict[str, Any]:
    tax = load_taxonomy(ctx.settings)
    inputs = read_inputs(ctx)
    frames = [
        VisionFrame(k.shot, k.start_s, k.end_s, k.jpeg, k.key) for k in keyframe_images(ctx, inputs)
    ]
    prompts, facets = prompts_of(tax)
    out = analyze_keyframes(frames, prompts, facets, vision_options(ctx.settings))
    for warning in out.warnings:
        ctx.warn(warning)
    keys = {"vision": store_signal(ctx, out.result)}
    if out.embeddings is not None:
        buf = io.BytesIO()
        np.savez(
            buf,
            shots=np.asarray(out.embeddings.shot_indices, dtype=np.int32),
            vectors=np.asarray(out.embeddings.vectors, dtype=np.float32),
        )
        emb_key = signal_key(ctx, "keyframe-embeddings").replace(".json", ".npz")
        put_bytes(ctx.derived, emb_key, buf.getvalue(), "application/octet-stream")
        keys["keyframe_embeddings"] = emb_key
    result = out.result
    summary = {
        "keys": {"vision": keys["vision"]},
        "embeddings_key": keys.get("keyframe_embeddings"),
        "model": result.extras.get("model"),
        "absent": result.absent.reason if result.absent else None,
        "shots": len(result.windows),
    }
    ctx.persist(lambda _session: None, summary)
    return summary


STAGE = Stage(
    name="vision",
    run=run,
    queue="gpu",
    weight=0.1,
    version=lambda settings: f"{VERSION}:{vision_options(settings).version()}",
    after=("shots",),
    uses_taxonomy=True,
)
