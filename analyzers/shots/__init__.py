"""Shots, transitions, scenes, keyframes and per-shot style of a video (pure analysis)."""

from analyzers.shots.analyze import RangeResult, analyze_shots, detect_range, finalize
from analyzers.shots.chunks import analyze_chunk, merge_chunks, plan_chunks
from analyzers.shots.types import (
    Keyframe,
    Scene,
    Shot,
    ShotAnalysis,
    ShotOptions,
    StyleFeatures,
    Transition,
)

__all__ = [
    "Keyframe",
    "RangeResult",
    "Scene",
    "Shot",
    "ShotAnalysis",
    "ShotOptions",
    "StyleFeatures",
    "Transition",
    "analyze_chunk",
    "analyze_shots",
    "detect_range",
    "finalize",
    "merge_chunks",
    "plan_chunks",
]
