"""Tags stage: fuses the stored signals with the taxonomy into mood, tone and maturity
proposals with evidence, suggested ratings per system, the mood arc and artwork candidates
(``analyzers/fusion``). It writes proposals, suggestions and the title profile in one
transaction; editor decisions live in other tables and are never touched."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from analyzers.fusion.ratings import suggest_ratings
from analyzers.fusion.tags import FusionOptions, SceneSpan, ShotFrame, fuse_tags
from storage import repository as repo
from storage import review
from storage.db import session_scope
from workers.stages.base import Stage, StageContext, load_taxonomy, taxonomy_label
from workers.stages.inputs import load_signals, read_inputs

VERSION = "1"


def _scenes(ctx: StageContext, shots: list[dict[str, Any]]) -> list[SceneSpan]:
    with session_scope(ctx.db_url) as session:
        scenes = [
            SceneSpan(s.idx, s.start_s, s.end_s) for s in repo.scenes_of(session, ctx.title_id)
        ]
    if scenes:
        return scenes
    # No video (or no scenes): the whole title is one span, so audio and speech still count.
    end = max([s["end_s"] for s in shots] + [ctx.info.duration_s if ctx.info else 0.0])
    return [SceneSpan(0, 0.0, end)]


def run(ctx: StageContext) -> dict[str, Any]:
    tax = load_taxonomy(ctx.settings)
    inputs = read_inputs(ctx)
    signals = {**load_signals(ctx, "signals"), **load_signals(ctx, "vision")}
    spans = {s["idx"]: s for s in inputs.shots}
    frames = [
        ShotFrame(
            shot=k["shot"],
            start_s=spans.get(k["shot"], {}).get("start_s", k["time_s"]),
            end_s=spans.get(k["shot"], {}).get("end_s", k["time_s"]),
            keyframe=k["object_key"],
            time_s=k["time_s"],
            sharpness=k["sharpness"],
            brightness=_brightness(spans.get(k["shot"], {})),
        )
        for k in inputs.keyframes
    ]
    fusion = fuse_tags(tax, _scenes(ctx, inputs.shots), frames, signals, FusionOptions())
    ratings = suggest_ratings(tax, fusion.descriptors)
    label = taxonomy_label(tax)
    for name, reason in fusion.absent.items():
        ctx.warn(f"{name} signal absent: {reason}")

    def write(session: Session) -> None:
        review.save_proposals(
            session,
            ctx.title_id,
            fusion.proposals,
            run_id=ctx.run_id,
            model_version=ctx.model_version,
            taxonomy_version=label,
            taxonomy_fingerprint=tax.fingerprint,
        )
        review.save_rating_suggestions(
            session,
            ctx.title_id,
            [r.to_dict() for r in ratings.values()],
            run_id=ctx.run_id,
            taxonomy_version=label,
            taxonomy_fingerprint=tax.fingerprint,
        )
        data = fusion.to_dict()
        review.save_profile(
            session,
            ctx.title_id,
            run_id=ctx.run_id,
            arc=data["arc"],
            artwork=data["artwork"],
            descriptors=data["descriptors"],
            absent=data["absent"],
            signals={n: r.version for n, r in signals.items()},
            taxonomy_version=label,
            taxonomy_fingerprint=tax.fingerprint,
        )

    summary = {
        "proposals": {
            facet: [p["label"] for p in fusion.proposals if p["facet"] == facet]
            for facet in ("mood", "tone", "maturity")
        },
        "ratings": {k: r.rating for k, r in ratings.items()},
        "needs_review": sorted(k for k, r in ratings.items() if r.needs_review),
        "absent": fusion.absent,
        "taxonomy": label,
    }
    ctx.persist(write, summary)
    return summary


def _brightness(shot: dict[str, Any]) -> float | None:
    value = (shot.get("features") or {}).get("luma_mean")  # 0-1, from the shots stage
    return float(value) if isinstance(value, int | float) else None


STAGE = Stage(
    name="tags",
    run=run,
    queue="cpu",
    weight=0.05,
    version=lambda _settings: f"{VERSION}:{FusionOptions().version()}",
    after=("signals", "vision"),
    uses_taxonomy=True,
)
