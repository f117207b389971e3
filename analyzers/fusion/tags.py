"""Signals + taxonomy -> scored labels per scene and per title, with evidence.

The method (documented here and calibrated in the taxonomy's ``calibration`` section):

1. **Per signal, per scene, per label**, a score in [0, 1]:
   - ``vision``: the shots' zero-shot scores, overlap-weighted over the scene. Softmax
     scores are relative to the facet's size ``n``: ``p`` becomes ``p·n / (p·n + 1)``, so a
     label at chance scores 0.5 and a dominant one approaches 1 (sigmoid scores pass as is);
   - ``text``: the transcript windows' label scores (MiniLM similarity, scaled), overlap-
     weighted;
   - ``audio`` and ``style``: the label's cues over the windows' normalised features,
     ``Σ w·(f if sign > 0 else 1 − f) / Σ w``, overlap-weighted;
   - maturity only: ``nudity`` and ``language`` marks set a floor of severity in the scenes
     they fall in.
2. **Fusion**: the weighted mean of the signals present for the label, with the facet's
   weights. An absent signal is left out and its weight goes to the others: it never counts
   as a zero.
3. **Title**: mood and tone take the duration-weighted mean over scenes; maturity takes the
   mean of the top ``k`` scenes (``top_k``), so one violent scene counts, and the strongest
   mark anywhere.
4. **Proposals**: labels at or above their threshold (at most ``max_per_facet`` per mood or
   tone facet), each with evidence: the scenes that carry it, with signal, score, keyframe
   and, for text, the quoted words.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from analyzers.fusion.ratings import DescriptorAssessment
from analyzers.signals.base import Mark, SignalResult, Window
from taxonomy.model import SEVERITY_LEVELS, Cue, Label, Taxonomy, severity_rank

# Signal result names -> calibration keys.
CALIBRATION_KEY = {"transcript": "text"}
MOOD_TONE = ("mood", "tone")
# A descriptor's fused score -> severity: the lower edge of each level above the threshold.
SEVERITY_EDGES = (("mild", 0.0), ("moderate", 0.65), ("strong", 0.8), ("severe", 0.92))


@dataclass(frozen=True)
class SceneSpan:
    index: int
    start_s: float
    end_s: float

    @property
    def duration_s(self) -> float:
        return max(0.0, self.end_s - self.start_s)


@dataclass(frozen=True)
class ShotFrame:
    """A shot's keyframe, for evidence and artwork."""

    shot: int
    start_s: float
    end_s: float
    keyframe: str  # object key ("" when the shot has none)
    time_s: float
    sharpness: float | None = None
    brightness: float | None = None  # 0-1 mean luma, when known


@dataclass
class FusionOptions:
    max_per_facet: int = 5
    evidence_per_label: int = 5
    preview_min_s: float = 20.0
    preview_max_s: float = 40.0

    def version(self) -> str:
        parts = (self.max_per_facet, self.evidence_per_label, self.preview_min_s)
        return "1:" + ":".join(map(str, (*parts, self.preview_max_s)))


@dataclass
class TagFusion:
    proposals: list[dict[str, Any]]
    arc: dict[str, Any]  # {"scenes": [...], "mood": {label: [per scene]}, "tone": {...}}
    descriptors: dict[str, DescriptorAssessment]
    absent: dict[str, str]  # signal -> reason
    artwork: list[dict[str, Any]]
    uncertain: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "proposals": self.proposals,
            "arc": self.arc,
            "descriptors": {k: _assessment_dict(v) for k, v in self.descriptors.items()},
            "absent": self.absent,
            "artwork": self.artwork,
            "uncertain": self.uncertain,
        }


def _assessment_dict(a: DescriptorAssessment) -> dict[str, Any]:
    d = asdict(a)
    d["evidence"] = [list(span) for span in a.evidence]
    return d


def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))


def _over_scene(scene: SceneSpan, windows: Sequence[Window], value) -> float | None:  # type: ignore[no-untyped-def]
    """Overlap-weighted mean of ``value(window)`` over the windows touching the scene;
    None when no window with a value touches it."""
    total = weight = 0.0
    for w in windows:
        ov = _overlap(scene.start_s, scene.end_s, w.start_s, w.end_s)
        if scene.duration_s == 0.0 and w.start_s <= scene.start_s < w.end_s:
            ov = 1.0
        if ov <= 0.0:
            continue
        v = value(w)
        if v is None:
            continue
        total += ov * v
        weight += ov
    return total / weight if weight else None


def cue_score(cues: Sequence[Cue], features: Mapping[str, float]) -> float | None:
    """How well normalised features match a label's cues, in [0, 1]; None if no cue's
    feature is measured."""
    num = den = 0.0
    for cue in cues:
        f = features.get(cue.feature)
        if f is None:
            continue
        num += cue.weight * (f if cue.sign > 0 else 1.0 - f)
        den += cue.weight
    return num / den if den else None


def _vision_value(result: SignalResult, taxonomy: Taxonomy, label: Label):  # type: ignore[no-untyped-def]
    if result.extras.get("scoring", "softmax") != "softmax":
        return lambda w: w.scores.get(label.id)
    n = len(taxonomy.labels(label.facet))

    def value(w: Window) -> float | None:
        p = w.scores.get(label.id)
        return None if p is None else p * n / (p * n + 1.0)

    return value


def _signal_value(name: str, result: SignalResult, taxonomy: Taxonomy, label: Label):  # type: ignore[no-untyped-def]
    """``window -> score`` of one label for one signal, or None when the signal has no
    input for the label."""
    if name == "vision" and label.vision_prompts:
        return _vision_value(result, taxonomy, label)
    if name == "transcript" and label.text_cues:
        return lambda w: w.scores.get(label.id)
    if name == "audio" and label.audio_cues:
        return lambda w: cue_score(label.audio_cues, w.scores)
    if name == "style" and label.style_cues:
        return lambda w: cue_score(label.style_cues, w.scores)
    return None


def _severity_of(score: float, threshold: float) -> str:
    if score < threshold:
        return "none"
    level = "mild"
    for name, edge in SEVERITY_EDGES:
        if score >= max(edge, threshold):
            level = name
    return level


def _max_severity(levels: Sequence[str | None]) -> str:
    known = [lv for lv in levels if lv in SEVERITY_LEVELS]
    return max(known, key=severity_rank, default="none")


class _Scorer:
    def __init__(
        self,
        taxonomy: Taxonomy,
        scenes: Sequence[SceneSpan],
        signals: Mapping[str, SignalResult],
    ) -> None:
        self.taxonomy = taxonomy
        self.scenes = scenes
        self.present = {n: r for n, r in signals.items() if r.present}

    def scene_scores(self, label: Label) -> tuple[list[float | None], dict[str, list]]:
        """Fused score per scene (None where no signal speaks to it) and per-signal parts."""
        weights = self.taxonomy.calibration.facet(label.facet).weights
        parts: dict[str, list[float | None]] = {}
        for name, result in self.present.items():
            w = weights.get(CALIBRATION_KEY.get(name, name), 0.0)
            value = _signal_value(name, result, self.taxonomy, label)
            if w <= 0.0 or value is None:
                continue
            parts[name] = [_over_scene(s, result.windows, value) for s in self.scenes]
        fused: list[float | None] = []
        for i in range(len(self.scenes)):
            num = den = 0.0
            for name, values in parts.items():
                v = values[i]
                if v is None:
                    continue
                w = weights.get(CALIBRATION_KEY.get(name, name), 0.0)
                num, den = num + w * v, den + w
            fused.append(num / den if den else None)
        return fused, parts


def _keyframe_in(frames: Sequence[ShotFrame], scene: SceneSpan) -> ShotFrame | None:
    inside = [f for f in frames if f.keyframe and scene.start_s <= f.time_s < scene.end_s + 1e-6]
    return max(inside, key=lambda f: f.sharpness or 0.0, default=None)


def _quote(result: SignalResult | None, scene: SceneSpan) -> str | None:
    if result is None:
        return None
    texts = [
        str(w.ref.get("text", ""))
        for w in result.windows
        if _overlap(scene.start_s, scene.end_s, w.start_s, w.end_s) > 0 and w.ref.get("text")
    ]
    return " ".join(texts)[:300] or None


def fuse_tags(
    taxonomy: Taxonomy,
    scenes: Sequence[SceneSpan],
    frames: Sequence[ShotFrame],
    signals: Mapping[str, SignalResult],
    options: FusionOptions | None = None,
) -> TagFusion:
    """Scores, evidence, the mood arc, artwork candidates and descriptor assessments."""
    opt = options or FusionOptions()
    scorer = _Scorer(taxonomy, scenes, signals)
    absent = {n: r.absent.reason for n, r in signals.items() if r.absent is not None}
    total = sum(s.duration_s for s in scenes) or 1.0
    arc: dict[str, Any] = {
        "scenes": [{"index": s.index, "start_s": s.start_s, "end_s": s.end_s} for s in scenes]
    }
    proposals: list[dict[str, Any]] = []
    artwork: list[dict[str, Any]] = []
    for facet in MOOD_TONE:
        arc[facet] = {}
        scored: list[tuple[float, Label, list[float | None], dict[str, list]]] = []
        for label in taxonomy.labels(facet):
            per_scene, parts = scorer.scene_scores(label)
            arc[facet][label.id] = [None if v is None else round(v, 4) for v in per_scene]
            known = [(s, v) for s, v in zip(scenes, per_scene, strict=True) if v is not None]
            if not known:
                continue
            weight = sum(s.duration_s for s, _ in known) or float(len(known))
            score = sum((s.duration_s or 1.0) * v for s, v in known) / weight
            scored.append((score, label, per_scene, parts))
        scored.sort(key=lambda x: -x[0])
        for score, label, per_scene, parts in scored:
            if (
                score < label.threshold
                or len([p for p in proposals if p["facet"] == facet]) >= opt.max_per_facet
            ):
                continue
            evidence = _evidence(scenes, frames, signals, per_scene, parts, opt)
            proposals.append(
                {
                    "facet": facet,
                    "label": label.id,
                    "score": round(score, 4),
                    "severity": None,
                    "evidence": evidence,
                    "signals": sorted(parts),
                    "coverage": round(
                        sum(
                            s.duration_s
                            for s, v in zip(scenes, per_scene, strict=True)
                            if v is not None and v >= label.threshold
                        )
                        / total,
                        4,
                    ),
                }
            )
            artwork.append(_artwork(label, scenes, frames, per_scene, opt))
    descriptors, maturity = _maturity(taxonomy, scorer, scenes, frames, signals, absent, opt)
    proposals.extend(maturity)
    uncertain = sorted({u for r in signals.values() for u in r.uncertain})
    return TagFusion(proposals, arc, descriptors, absent, artwork, uncertain)


def _evidence(
    scenes: Sequence[SceneSpan],
    frames: Sequence[ShotFrame],
    signals: Mapping[str, SignalResult],
    per_scene: Sequence[float | None],
    parts: Mapping[str, Sequence[float | None]],
    opt: FusionOptions,
) -> list[dict[str, Any]]:
    """The scenes that carry a label most, strongest first, each with its leading signal."""
    ranked = sorted(
        (i for i, v in enumerate(per_scene) if v is not None), key=lambda i: -(per_scene[i] or 0)
    )
    out = []
    for i in ranked[: opt.evidence_per_label]:
        scene = scenes[i]
        lead = max(parts, key=lambda n: parts[n][i] if parts[n][i] is not None else -1.0)
        frame = _keyframe_in(frames, scene)
        item: dict[str, Any] = {
            "scene": scene.index,
            "start_s": round(scene.start_s, 3),
            "end_s": round(scene.end_s, 3),
            "score": round(float(per_scene[i] or 0.0), 4),
            "signal": CALIBRATION_KEY.get(lead, lead),
            "signals": {
                CALIBRATION_KEY.get(n, n): round(float(v[i]), 4)
                for n, v in parts.items()
                if v[i] is not None
            },
            "keyframe": frame.keyframe if frame else None,
        }
        quote = _quote(signals.get("transcript"), scene) if "transcript" in parts else None
        if quote:
            item["quote"] = quote
        out.append(item)
    return out


def _artwork(
    label: Label,
    scenes: Sequence[SceneSpan],
    frames: Sequence[ShotFrame],
    per_scene: Sequence[float | None],
    opt: FusionOptions,
) -> dict[str, Any]:
    """The best keyframe for a label (sharp, not black, in a scene carrying it) and the best
    20-40 s range: the run of adjacent scenes with the highest mean score."""
    best_frame, best_value = None, -1.0
    for scene, v in zip(scenes, per_scene, strict=True):
        if v is None:
            continue
        for f in frames:
            if not f.keyframe or not scene.start_s <= f.time_s < scene.end_s + 1e-6:
                continue
            if f.brightness is not None and f.brightness < 0.08:
                continue  # black or nearly: never artwork
            value = v * (0.5 + 0.5 * min(1.0, (f.sharpness or 0.0) / 100.0))
            if value > best_value:
                best_frame, best_value = f, value
    return {
        "facet": label.facet,
        "label": label.id,
        "keyframe": best_frame.keyframe if best_frame else None,
        "time_s": best_frame.time_s if best_frame else None,
        "preview": _preview(scenes, per_scene, opt),
    }


def _preview(
    scenes: Sequence[SceneSpan], per_scene: Sequence[float | None], opt: FusionOptions
) -> dict[str, float] | None:
    if not scenes:
        return None
    end_all = scenes[-1].end_s
    length = min(opt.preview_max_s, max(opt.preview_min_s, 0.0), end_all)
    best, best_score = None, -1.0
    for i, scene in enumerate(scenes):
        start = scene.start_s
        end = min(end_all, start + length)
        if end - start < min(opt.preview_min_s, end_all) - 1e-6:
            start, end = max(0.0, end_all - length), end_all
        num = den = 0.0
        for s, v in zip(scenes, per_scene, strict=True):
            ov = _overlap(start, end, s.start_s, s.end_s)
            if v is not None and ov > 0:
                num, den = num + ov * v, den + ov
        score = num / den if den else 0.0
        if score > best_score:
            best, best_score = (start, end), score
        del i
    assert best is not None
    return {"start_s": round(best[0], 3), "end_s": round(best[1], 3), "score": round(best_score, 4)}


def _marks_for(signals: Mapping[str, SignalResult], descriptor: str) -> list[tuple[str, Mark]]:
    return [
        (name, m)
        for name in ("nudity", "language", "audio")
        if name in signals and signals[name].present
        for m in signals[name].marks
        if m.label == descriptor
    ]


def _primary_signals(taxonomy: Taxonomy, label: Label) -> list[str]:
    """The signals that must be present to rule a descriptor out: the detector made for it
    (NudeNet for nudity, the lexicon for strong language) or, for anything else visible,
    the vision model, plus the lexicon where its categories feed the descriptor."""
    if label.id == "nudity":
        return ["nudity"]
    if label.id == taxonomy.lexicon.descriptor:
        return ["language"]
    lexical = {c.descriptor for c in taxonomy.lexicon.categories.values()}
    out = ["vision"] if label.vision_prompts else []
    if label.id in lexical:
        out.append("language")
    return out or ["transcript" if label.text_cues else "audio"]


def _maturity(
    taxonomy: Taxonomy,
    scorer: _Scorer,
    scenes: Sequence[SceneSpan],
    frames: Sequence[ShotFrame],
    signals: Mapping[str, SignalResult],
    absent: Mapping[str, str],
    opt: FusionOptions,
) -> tuple[dict[str, DescriptorAssessment], list[dict[str, Any]]]:
    top_k = taxonomy.calibration.facet("maturity").top_k or 3
    assessments: dict[str, DescriptorAssessment] = {}
    proposals: list[dict[str, Any]] = []
    uncertain_all = {u for r in signals.values() if r.present for u in r.uncertain}
    for label in taxonomy.descriptors:
        per_scene, parts = scorer.scene_scores(label)
        known = sorted((v for v in per_scene if v is not None), reverse=True)
        pooled = sum(known[:top_k]) / len(known[:top_k]) if known else None
        missing = [
            f"{CALIBRATION_KEY.get(n, n)}: {_short(absent.get(n, 'not run'))}"
            for n in _primary_signals(taxonomy, label)
            if n not in scorer.present
        ]
        # Without the signal that can see a descriptor, supporting cues (speech semantics,
        # loudness) cannot establish it either way: only direct detections (marks) count.
        fused_level = None
        if pooled is not None and not missing:
            fused_level = _severity_of(pooled, label.threshold)
        marks = _marks_for(signals, label.id)
        mark_level = _max_severity([m.severity for _, m in marks])
        levels = [lv for lv in (fused_level, mark_level if marks else None) if lv is not None]
        severity = _max_severity(levels) if levels else None
        is_uncertain = label.id in uncertain_all
        spans = tuple(sorted({(round(m.start_s, 2), round(m.end_s, 2)) for _, m in marks}))
        if fused_level not in (None, "none"):
            spans += tuple(
                (round(s.start_s, 2), round(s.end_s, 2))
                for s, v in zip(scenes, per_scene, strict=True)
                if v is not None and v >= label.threshold
            )
        detectors = [n for n in _primary_signals(taxonomy, label) if n in ("nudity", "language")]
        ran = bool(detectors) and all(n in scorer.present for n in detectors)
        confidence = _confidence(pooled, label.threshold, marks, detector_ran=ran)
        if missing and severity in (None, "none"):
            # Unknown, never clean: what could show it is not there.
            assessments[label.id] = DescriptorAssessment(
                severity=None,
                confidence=0.0,
                absent=True,
                reason="; ".join(missing),
            )
        else:
            assessments[label.id] = DescriptorAssessment(
                severity=severity or "none",
                confidence=confidence,
                uncertain=is_uncertain,
                reason="uncertain detector score" if is_uncertain else "",
                evidence=spans[:20],
            )
        if severity not in (None, "none"):
            evidence = _evidence(scenes, frames, signals, per_scene, parts, opt) if parts else []
            for name, m in marks[: opt.evidence_per_label * 4]:
                evidence.append(
                    {
                        "start_s": round(m.start_s, 3),
                        "end_s": round(m.end_s, 3),
                        "score": round(m.score, 4),
                        "signal": name,
                        "severity": m.severity,
                        **{
                            k: v
                            for k, v in m.detail.items()
                            if k in ("quote", "word", "term", "class", "keyframe")
                        },
                    }
                )
            evidence.sort(key=lambda e: e["start_s"])
            proposals.append(
                {
                    "facet": "maturity",
                    "label": label.id,
                    "score": round(
                        max(pooled or 0.0, max((m.score for _, m in marks), default=0.0)), 4
                    ),
                    "severity": severity,
                    "evidence": evidence,
                    "signals": sorted({*parts, *(n for n, _ in marks)}),
                }
            )
    return assessments, proposals


def _short(reason: str) -> str:
    """A reason without its how-to-fix hint, which ``coldstart models list`` gives."""
    return reason.split(" (set ", 1)[0]


# A dedicated detector (NudeNet, the lexicon) that ran over the whole title and found
# nothing: clean with this confidence.
DETECTOR_CLEAN_CONFIDENCE = 0.9


def _confidence(
    pooled: float | None,
    threshold: float,
    marks: Sequence[tuple[str, Mark]],
    *,
    detector_ran: bool,
) -> float:
    """How sure the assessment is: marks are direct detections; a detector that ran and
    found nothing is fairly sure; a fused score is surer the further it sits from its
    threshold."""
    if marks:
        return round(max(m.score for _, m in marks), 4)
    if detector_ran:
        fused = 0.5 + abs(pooled - threshold) if pooled is not None else 1.0
        return round(min(DETECTOR_CLEAN_CONFIDENCE, fused), 4)
    if pooled is None:
        return 0.0
    return round(min(1.0, 0.5 + abs(pooled - threshold)), 4)
