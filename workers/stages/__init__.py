"""The per-title stages, in pipeline order. See :mod:`workers.stages.base` to add one."""

from workers.stages import embeddings, probe, shots, signals, speech, tags, vision
from workers.stages.base import Stage, StageContext

STAGES: list[Stage] = [
    probe.STAGE,
    shots.STAGE,
    speech.STAGE,
    signals.STAGE,
    vision.STAGE,
    tags.STAGE,
    embeddings.STAGE,
]


def stage_named(name: str) -> Stage:
    for stage in STAGES:
        if stage.name == name:
            return stage
    raise KeyError(f"unknown stage: {name}")


__all__ = ["STAGES", "Stage", "StageContext", "stage_named"]
