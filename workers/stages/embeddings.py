"""Embeddings stage: the title's content vectors in every space (``analyzers/embeddings``)
and the fused vector, from what the earlier stages stored (shots, transcript, the audio
signal, the vision stage's keyframe embeddings, the tagging profile). Nothing is decoded.

Each space is ``name@version`` in the registry. A space's vectors carry the fingerprint of the
upstream results it read (``info.inputs``): when the stage reruns (its cache key covers every
upstream key and every space version), a space whose version and inputs did not change is
neither recomputed nor rewritten, so a new text model recomputes ``text`` and ``fused`` only.

A new version of a space whose older version is active is registered ``building``: the stage
fills it for the titles it analyses, ``coldstart backfill --space NAME`` for the rest, and
the backfill flips it. The first version of a space is active at once.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from analyzers.embeddings import SpaceOutput, SpaceSpec, digest, fused, profile, style, text, visual
from analyzers.encoders import EncoderUnavailable
from analyzers.signals import style as style_signal
from analyzers.signals.base import SignalResult
from analyzers.signals.transcript import TranscriptOptions
from storage import repository as repo
from storage import review, vectors
from storage.db import session_scope
from storage.models import SpaceStatus
from storage.objects import ObjectStore, read_bytes
from workers.settings import Settings
from workers.stages.base import Stage, StageContext, load_taxonomy
from workers.stages.inputs import load_signals, read_inputs
from workers.stages.vision import vision_options

VERSION = "1"
SPACES = ("visual", "text", "profile", "style", "fused")
# Upstream stages each space reads: their keys are its inputs' fingerprint.
READS: dict[str, tuple[str, ...]] = {
    "visual": ("vision",),
    "text": ("speech",),
    "profile": ("tags",),
    "style": ("shots", "signals"),
}


@lru_cache(maxsize=1)
def text_encoder() -> text.TextEncoder | str:
    """The loaded MiniLM, or why it cannot be loaded (the ``text`` space is then absent)."""
    from analyzers.encoders.text import SentenceEncoder

    try:
        return SentenceEncoder()
    except EncoderUnavailable as err:
        return str(err)


def _text_model() -> tuple[str, int]:
    from analyzers.encoders.text import _bundled_id

    try:
        return _bundled_id(), 384  # all-MiniLM-L6-v2
    except Exception:  # not installed: the space is absent, its version says so
        return "absent", 384


def space_specs(settings: Settings) -> dict[str, SpaceSpec]:
    """The current version of every space under these settings (no model is loaded)."""
    model, dim = _text_model()
    specs = {
        "visual": visual.spec(vision_options(settings).version()),
        "text": text.spec(model, dim, TranscriptOptions()),
        "profile": profile.spec(load_taxonomy(settings)),
        "style": style.spec(),
    }
    specs["fused"] = fused.spec(specs)
    return specs


def stage_version(settings: Settings) -> str:
    return f"{VERSION}:" + digest({n: s.label for n, s in space_specs(settings).items()})


@dataclass
class TitleRef:
    """What :func:`read_inputs` and :func:`load_signals` read of a stage context, for code
    that embeds a title outside a run (the backfill)."""

    db_url: str
    title_id: int
    derived: ObjectStore
    info: Any = None


@dataclass
class Sources:
    shots: list[dict[str, Any]]
    segments: list[dict[str, Any]]
    audio: SignalResult | None
    keyframes: tuple[list[int], np.ndarray] | None
    visual_absent: str | None
    arc: dict[str, Any] | None
    descriptors: dict[str, Any] | None
    upstream: dict[str, str] = field(default_factory=dict)  # stage -> stored cache key

    def fingerprint(self, name: str, spec: SpaceSpec) -> str:
        return digest(spec.label, {s: self.upstream.get(s, "none") for s in READS[name]})


def load_sources(ref: TitleRef | StageContext, vision_model: str) -> Sources:
    """What the spaces read of a title; ``vision_model``: the vision version the ``visual``
    space expects (stored keyframe embeddings of another model are not used)."""
    inputs = read_inputs(ref)  # type: ignore[arg-type]
    signals = load_signals(ref, "signals")  # type: ignore[arg-type]
    with session_scope(ref.db_url) as session:
        upstream = {
            s: repo.current_stage_key(session, ref.title_id, s) or "none"
            for s in ("shots", "speech", "signals", "vision", "tags")
        }
        vision = repo.current_stage_result(session, ref.title_id, "vision")
        summary = dict(vision.summary or {}) if vision is not None else {}
        prof = review.profile_of(session, ref.title_id)
        arc = dict(prof.arc or {}) if prof is not None else None
        descriptors = dict(prof.descriptors or {}) if prof is not None else None
    keyframes, absent = None, summary.get("absent") or "the vision stage has not run"
    made_by = vision.model_version.split(":", 1)[-1] if vision is not None else None
    if summary.get("embeddings_key") and made_by != vision_model:
        absent = f"keyframe embeddings are from {made_by}: the vision stage must run again"
    elif summary.get("embeddings_key"):
        data = np.load(io.BytesIO(read_bytes(ref.derived, summary["embeddings_key"])))
        keyframes, absent = ([int(i) for i in data["shots"]], data["vectors"]), None
    return Sources(
        shots=inputs.shots,
        segments=inputs.segments,
        audio=signals.get("audio"),
        keyframes=keyframes,
        visual_absent=absent,
        arc=arc,
        descriptors=descriptors,
        upstream=upstream,
    )


def compute(specs: dict[str, SpaceSpec], src: Sources, name: str) -> SpaceOutput:
    """One space (not ``fused``) of a title."""
    spec = specs[name]
    if name == "visual":
        if src.keyframes is None:
            return SpaceOutput.absent_because(spec, src.visual_absent or "no vision model")
        shots, vecs = src.keyframes
        spec = visual.spec(spec.model, int(vecs.shape[1]))
        spans = {s["idx"]: (s["start_s"], s["end_s"]) for s in src.shots}
        return visual.embed(spec, shots, vecs, spans)
    if name == "text":
        enc = text_encoder()
        if isinstance(enc, str):
            return text.embed(spec, src.segments, None, absent_reason=enc)
        return text.embed(spec, src.segments, enc)
    if name == "profile":
        return profile.embed(spec, src.arc, src.descriptors)
    if name == "style":
        return style.embed(spec, style_signal.analyze(src.shots), src.audio)
    raise KeyError(name)


def register(session: Session, spec: SpaceSpec, status: str | None = None) -> Any:
    """The registry row of ``spec``: active when it is the first version of its name,
    otherwise ``building`` until a backfill flips it (``status`` forces one)."""
    existing = vectors.get_space(session, spec.name, spec.version)
    if existing is not None:
        return existing
    if status is None:
        first = vectors.active_space(session, spec.name) is None
        status = SpaceStatus.ACTIVE if first else SpaceStatus.BUILDING
    return vectors.register_space(
        session,
        name=spec.name,
        version=spec.version,
        dim=spec.dim,
        model=spec.model,
        params=spec.params,
        status=status,
    )


def save(session: Session, title_id: int, out: SpaceOutput, inputs: str) -> None:
    space = register(session, out.spec)
    if out.absent is not None:
        vectors.mark_absent(session, title_id, space, out.absent)
        return
    rows = [
        vectors.VectorRow(r.scope, r.ref_idx, r.vector, {**out.info, "inputs": inputs})
        if r.scope == "title"
        else vectors.VectorRow(r.scope, r.ref_idx, r.vector)
        for r in out.rows
    ]
    vectors.save_vectors(session, title_id, space, rows)


def stored(db_url: str, title_id: int, spec: SpaceSpec) -> tuple[np.ndarray, dict] | None:
    with session_scope(db_url) as session:
        space = vectors.get_space(session, spec.name, spec.version)
        return None if space is None else vectors.title_vector(session, title_id, space)


def embed_title(
    db_url: str, specs: dict[str, SpaceSpec], src: Sources, title_id: int, wanted: tuple[str, ...]
) -> tuple[list[tuple[SpaceOutput, str]], dict[str, dict[str, Any]]]:
    """The outputs to write for ``wanted`` spaces (reusing stored vectors whose version and
    inputs did not change) and a per-space report."""
    writes: list[tuple[SpaceOutput, str]] = []
    report: dict[str, dict[str, Any]] = {}
    titles: dict[str, np.ndarray | None] = {}
    parts = [n for n in SPACES if n != "fused"]
    need = set(wanted) | (set(parts) if "fused" in wanted else set())
    for name in parts:
        if name not in need:
            continue
        inputs = src.fingerprint(name, specs[name])
        spec = specs[name]
        if name == "visual" and src.keyframes is not None:
            spec = visual.spec(spec.model, int(src.keyframes[1].shape[1]))
        found = stored(db_url, title_id, spec)
        if found is not None and found[1].get("inputs") == inputs and not found[1].get("absent"):
            titles[name] = found[0]
            report[name] = {"version": spec.version, "dim": spec.dim, "reused": True}
            continue
        out = compute(specs, src, name)
        titles[name] = out.title
        report[name] = {"version": out.spec.version, "dim": out.spec.dim, "absent": out.absent}
        if name in wanted and (out.absent is None or out.spec.dim > 0):
            writes.append((out, inputs))  # an absence is recorded too (visual: once dim known)
    if "fused" in wanted:
        out = fused.fuse(specs["fused"], titles)
        # The parts' fingerprints cover their versions and upstream keys.
        part_inputs = {n: src.fingerprint(n, specs[n]) for n in parts}
        inputs = digest(specs["fused"].label, part_inputs, sorted(out.info["present"]))
        found = stored(db_url, title_id, specs["fused"])
        reused = found is not None and found[1].get("inputs") == inputs
        report["fused"] = {
            "version": out.spec.version,
            "dim": out.spec.dim,
            **out.info,
            "reused": reused,
        }
        if out.absent is None and not reused:
            writes.append((out, inputs))
    return writes, report


def run(ctx: StageContext) -> dict[str, Any]:
    specs = space_specs(ctx.settings)
    src = load_sources(ctx, specs["visual"].model)
    writes, report = embed_title(ctx.db_url, specs, src, ctx.title_id, SPACES)
    for name, entry in report.items():
        if entry.get("absent"):
            ctx.warn(f"{name} embedding absent: {entry['absent']}")

    def write(session: Session) -> None:
        for out, inputs in writes:
            save(session, ctx.title_id, out, inputs)

    summary = {"spaces": report, "written": [out.spec.name for out, _ in writes]}
    ctx.persist(write, summary)
    return summary


STAGE = Stage(
    name="embeddings",
    run=run,
    queue="cpu",
    weight=0.05,
    version=stage_version,
    after=("shots", "speech", "signals", "vision", "tags"),
    uses_taxonomy=True,
)
