"""The title page's view model: everything the shell shows, built from a few narrow reads
(never the whole title document: a feature film has thousands of shots and segments)."""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from storage import queue, review
from storage import repository as repo
from storage.models import AnalysisRun, AuditEntry, Title
from storage.queue import SceneSpan
from storage.review import FinalRating, FinalTag

FACETS = ("maturity", "mood", "tone")
SECTION_SIZE = 100  # transcript segments per lazily loaded section
DENSITY_BINS = 200
SCENE_LABELS = 3  # the few most relevant labels shown on each scene
SCENE_LABEL_MIN = 0.3


@dataclass
class Band:
    start_s: float
    end_s: float
    label: str
    score: float
    colour: str


@dataclass
class Mark:
    t: float
    end_s: float
    label: str
    severity: str | None
    signal: str
    quote: str | None


@dataclass
class SceneCard:
    scene: SceneSpan
    keyframe_shot: int | None
    labels: list[tuple[str, float]]


@dataclass
class TitleView:
    title: Title
    duration_s: float
    runs: list[AnalysisRun]
    tags: dict[str, list[FinalTag]]
    ratings: list[FinalRating]
    disagreements: list[str]
    mood_bands: list[Band]
    tone_bands: list[Band]
    marks: list[Mark]
    density: list[tuple[float, float, float]]  # (start_s, width_s, share of speech)
    scenes: list[SceneCard]
    arc_labels: dict[str, list[tuple[str, float, float]]]  # facet -> (label, peak, mean)
    descriptors: dict[str, Any]
    absent: dict[str, Any]
    signal_versions: dict[str, Any]
    artwork: list[Any]
    sections: list[tuple[int, int]]  # (first segment index, count)
    shot_count: int
    audit: list[AuditEntry]
    next_title_id: int | None
    flagged: list[tuple[float, float]] = field(default_factory=list)


def hms(seconds: float | None) -> str:
    """A time as HH:MM:SS (a dash when unknown)."""
    if seconds is None:
        return "–"
    total = int(seconds)
    return f"{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"


@functools.lru_cache(maxsize=4096)
def colour(label: str) -> str:
    """A stable colour per label, so a mood keeps its colour across titles."""
    hue = int(hashlib.sha256(label.encode()).hexdigest()[:4], 16) % 360
    return f"hsl({hue}, 62%, 52%)"


def build(session: Session, title: Title) -> TitleView:
    tid = title.id
    tags = review.final_tags(session, tid, include_rejected=True)
    ratings = review.final_ratings(session, tid)
    profile = review.profile_of(session, tid)
    arc = (profile.arc if profile else None) or {}
    scenes = queue.scenes_with_keyframes(session, tid)
    speech = queue.speech_intervals(session, tid)
    duration = float(
        title.duration_s or max([s.end_s for s in scenes] + [b for _, b in speech] + [1.0])
    )
    grouped: dict[str, list[FinalTag]] = {f: [] for f in FACETS}
    for tag in tags:
        grouped.setdefault(tag.facet, []).append(tag)
    disagreements = [f"{t.facet} {t.label}: {t.disagreement}" for t in tags if t.disagreement] + [
        f"{r.system}: {r.disagreement}" for r in ratings if r.disagreement
    ]
    marks = _marks(tags)
    return TitleView(
        title=title,
        duration_s=duration,
        runs=list(title.runs),
        tags=grouped,
        ratings=ratings,
        disagreements=disagreements,
        mood_bands=_bands(arc, "mood"),
        tone_bands=_bands(arc, "tone"),
        marks=marks,
        density=_density(speech, duration),
        scenes=_scene_cards(scenes, arc),
        arc_labels={f: _arc_summary(arc, f) for f in ("mood", "tone")},
        descriptors=(profile.descriptors if profile else {}) or {},
        absent=(profile.absent if profile else {}) or {},
        signal_versions=(profile.signals if profile else {}) or {},
        artwork=(profile.artwork if profile else []) or [],
        sections=[
            (i, min(SECTION_SIZE, len(speech) - i)) for i in range(0, len(speech), SECTION_SIZE)
        ],
        shot_count=queue.shot_count(session, tid),
        audit=list(queue.audit_of(session, tid)),
        next_title_id=queue.next_for_review(session, tid),
        flagged=flagged_intervals(tags),
    )


def flagged_intervals(tags: list[FinalTag]) -> list[tuple[float, float]]:
    """Moments whose words were flagged (strong language and other word-level evidence)."""
    out: list[tuple[float, float]] = []
    for tag in tags:
        if tag.facet != "maturity" or tag.review_state == "rejected":
            continue
        for ev in tag.evidence:
            if isinstance(ev, dict) and ev.get("signal") == "language" and "start_s" in ev:
                out.append((float(ev["start_s"]), float(ev.get("end_s", ev["start_s"]))))
    return out


def _marks(tags: list[FinalTag]) -> list[Mark]:
    marks: list[Mark] = []
    for tag in tags:
        if tag.facet != "maturity" or tag.review_state == "rejected":
            continue
        for ev in tag.evidence:
            if not isinstance(ev, dict) or "start_s" not in ev:
                continue
            marks.append(
                Mark(
                    t=float(ev["start_s"]),
                    end_s=float(ev.get("end_s", ev["start_s"])),
                    label=tag.label,
                    severity=tag.severity,
                    signal=str(ev.get("signal", "")),
                    quote=ev.get("quote") or ev.get("word"),
                )
            )
    marks.sort(key=lambda m: m.t)
    return marks


def _bands(arc: dict[str, Any], facet: str) -> list[Band]:
    """One band per scene, coloured by the scene's strongest label of the facet."""
    scores: dict[str, list[float]] = arc.get(facet) or {}
    bands: list[Band] = []
    for i, scene in enumerate(arc.get("scenes") or []):
        best = max(
            ((label, vals[i]) for label, vals in scores.items() if i < len(vals)),
            key=lambda pair: pair[1],
            default=None,
        )
        if best is None:
            continue
        bands.append(
            Band(
                float(scene["start_s"]),
                float(scene["end_s"]),
                best[0],
                float(best[1]),
                colour(best[0]),
            )
        )
    return bands


def _arc_summary(arc: dict[str, Any], facet: str) -> list[tuple[str, float, float]]:
    out = []
    for label, vals in (arc.get(facet) or {}).items():
        nums = [float(v) for v in vals] or [0.0]
        out.append((label, max(nums), sum(nums) / len(nums)))
    out.sort(key=lambda row: -row[1])
    return out


def _scene_cards(scenes: list[SceneSpan], arc: dict[str, Any]) -> list[SceneCard]:
    by_index = {int(s["index"]): i for i, s in enumerate(arc.get("scenes") or []) if "index" in s}
    cards = []
    for scene in scenes:
        pos = by_index.get(scene.idx)
        scored: list[tuple[str, float]] = []
        if pos is not None:
            for facet in ("mood", "tone"):
                for label, vals in (arc.get(facet) or {}).items():
                    if pos < len(vals) and float(vals[pos]) >= SCENE_LABEL_MIN:
                        scored.append((label, float(vals[pos])))
        scored.sort(key=lambda pair: -pair[1])
        cards.append(SceneCard(scene, scene.keyframe_shot, scored[:SCENE_LABELS]))
    return cards


def _density(
    speech: list[tuple[float, float]], duration: float
) -> list[tuple[float, float, float]]:
    """Share of each of ``DENSITY_BINS`` time bins covered by speech."""
    width = duration / DENSITY_BINS
    covered = [0.0] * DENSITY_BINS
    for start, end in speech:
        first, last = int(start / width), min(int(end / width), DENSITY_BINS - 1)
        for b in range(max(first, 0), last + 1):
            lo, hi = b * width, (b + 1) * width
            covered[b] += max(0.0, min(end, hi) - max(start, lo))
    return [(b * width, width, min(1.0, c / width)) for b, c in enumerate(covered) if c > 0]


def transcript_section(session: Session, title_id: int, start: int) -> dict[str, Any]:
    """One lazily loaded section: segments with each word marked when flagged."""
    tags = review.final_tags(session, title_id)
    flagged = flagged_intervals(tags)
    lines = []
    for seg in queue.transcript_section(session, title_id, start, SECTION_SIZE):
        words = [w for w in (seg.words or []) if isinstance(w, dict)]
        if words:
            parts = [
                (str(w.get("word", w.get("text", ""))), _is_flagged(w, flagged)) for w in words
            ]
        else:
            parts = [(seg.text, False)]
        lines.append({"segment": seg, "parts": parts})
    return {"lines": lines}


def _is_flagged(word: dict[str, Any], flagged: list[tuple[float, float]]) -> bool:
    start = word.get("start")
    end = word.get("end", start)
    if start is None:
        return False
    return any(a - 0.05 <= float(start) and float(end) <= b + 0.05 for a, b in flagged)


def latest_run(session: Session, title_id: int) -> AnalysisRun | None:
    return repo.latest_run(session, title_id)
