"""Conservative rating suggestions: per-descriptor assessments -> a rating per system.

Pure: reads the taxonomy model only. Conservative by construction:

- the rating is the strictest over the system's rules that the descriptors reach;
- a doubtful descriptor (assessed with less confidence than the calibration's
  ``review_below``) counts at the next stricter severity, and asks for review;
- an uncertain descriptor (a detector score in its uncertain band: "possible") counts at the
  severity it reports, and asks for review;
- while any descriptor that could raise the rating is absent (its signal is missing) or
  uncertain, a children's rating is never suggested: the suggestion is the system's lowest
  non-children rating ("at least PG: violence not assessed (no vision model installed)");
- a descriptor the assessment does not mention is absent, never clean.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from taxonomy.model import SEVERITY_LEVELS, Rating, RatingSystem, Taxonomy, severity_rank

Span = tuple[float, float]  # (start_s, end_s) on the title's timeline

ASSESSED, UNCERTAIN, ABSENT = "assessed", "uncertain", "absent"


@dataclass(frozen=True)
class DescriptorAssessment:
    """What fusion found for one maturity descriptor.

    ``severity`` is a taxonomy level or None when unknown; ``reason`` says why a descriptor
    is absent or uncertain ("no vision model installed"); ``evidence`` the time spans."""

    severity: str | None
    confidence: float = 1.0
    absent: bool = False
    uncertain: bool = False
    reason: str = ""
    evidence: tuple[Span, ...] = ()

    def __post_init__(self) -> None:
        if self.severity is not None and self.severity not in SEVERITY_LEVELS:
            raise ValueError(f"unknown severity {self.severity!r}")
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"confidence {self.confidence} outside [0, 1]")

    @classmethod
    def missing(cls, reason: str) -> DescriptorAssessment:
        """A descriptor whose signal is absent: unknown, never clean."""
        return cls(severity=None, confidence=0.0, absent=True, reason=reason)

    @property
    def status(self) -> str:
        if self.absent or (self.severity is None and not self.uncertain):
            return ABSENT
        return UNCERTAIN if self.uncertain else ASSESSED


@dataclass(frozen=True)
class Driver:
    """A descriptor that raises a suggestion above the system's lowest rating."""

    descriptor: str
    status: str  # assessed | uncertain | absent
    severity: str | None  # as assessed
    counted: str | None  # the severity the rules were applied to (stricter under doubt)
    rating: str  # the minimum rating this descriptor alone imposes
    evidence: tuple[Span, ...] = ()
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "descriptor": self.descriptor,
            "status": self.status,
            "severity": self.severity,
            "counted": self.counted,
            "rating": self.rating,
            "evidence": [list(span) for span in self.evidence],
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Driver:
        return cls(
            descriptor=data["descriptor"],
            status=data["status"],
            severity=data.get("severity"),
            counted=data.get("counted"),
            rating=data["rating"],
            evidence=tuple((float(a), float(b)) for a, b in data.get("evidence", ())),
            reason=data.get("reason", ""),
        )


@dataclass(frozen=True)
class RatingSuggestion:
    system: str
    rating: str
    min_age: int
    confidence: float
    drivers: tuple[Driver, ...] = ()
    needs_review: bool = False
    reasons: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {
            "system": self.system,
            "rating": self.rating,
            "min_age": self.min_age,
            "confidence": self.confidence,
            "drivers": [d.to_dict() for d in self.drivers],
            "needs_review": self.needs_review,
            "reasons": list(self.reasons),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RatingSuggestion:
        return cls(
            system=data["system"],
            rating=data["rating"],
            min_age=int(data["min_age"]),
            confidence=float(data["confidence"]),
            drivers=tuple(Driver.from_dict(d) for d in data.get("drivers", ())),
            needs_review=bool(data.get("needs_review", False)),
            reasons=tuple(data.get("reasons", ())),
        )


def _clock(seconds: float) -> str:
    whole = int(seconds)
    h, rest = divmod(whole, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


def _where(evidence: tuple[Span, ...], limit: int = 3) -> str:
    if not evidence:
        return ""
    shown = ", ".join(f"{_clock(a)}–{_clock(b)}" for a, b in evidence[:limit])
    more = f" and {len(evidence) - limit} more" if len(evidence) > limit else ""
    return f" at {shown}{more}"


def _stricter(level: str) -> str:
    return SEVERITY_LEVELS[min(severity_rank(level) + 1, len(SEVERITY_LEVELS) - 1)]


def _counted(assessment: DescriptorAssessment, review_below: float) -> str | None:
    """The severity the rules apply to: unknown for absent, one stricter under doubt."""
    if assessment.status == ABSENT or assessment.severity is None:
        return None
    if assessment.status == ASSESSED and assessment.confidence < review_below:
        return _stricter(assessment.severity)
    return assessment.severity


@dataclass(frozen=True)
class _Verdict:
    """One descriptor under one system."""

    descriptor: str
    assessment: DescriptorAssessment
    counted: str | None
    imposed: Rating
    blocker: str | None  # why it rules out a children's rating
    doubt: str | None  # why it was counted stricter


def _verdict(
    taxonomy: Taxonomy, system: RatingSystem, descriptor_id: str, a: DescriptorAssessment
) -> _Verdict:
    name = taxonomy.descriptor(descriptor_id).name.lower()
    counted = _counted(a, taxonomy.calibration.review_below)
    imposed = system.min_rating(descriptor_id, counted) if counted else system.lowest
    why = f" ({a.reason})" if a.reason else ""
    blocker = None
    if system.can_raise(descriptor_id) and a.status == ABSENT:
        blocker = f"{name} not assessed{why}"
    elif system.can_raise(descriptor_id) and a.status == UNCERTAIN:
        severity = f" up to {a.severity}" if a.severity not in (None, "none") else ""
        blocker = f"{name} possible{severity}{why}"
    doubt = None
    if counted is not None and counted != a.severity:
        doubt = (
            f"{name} assessed {a.severity} with confidence {a.confidence:.2f}, counted as {counted}"
        )
    return _Verdict(descriptor_id, a, counted, imposed, blocker, doubt)


def suggest_rating(
    taxonomy: Taxonomy,
    system: RatingSystem | str,
    assessments: Mapping[str, DescriptorAssessment],
) -> RatingSuggestion:
    """The conservative suggestion for one rating system."""
    if isinstance(system, str):
        system = taxonomy.rating_system(system)
    unknown = set(assessments) - {d.id for d in taxonomy.descriptors}
    if unknown:
        raise ValueError(f"unknown descriptors: {', '.join(sorted(unknown))}")
    missing = DescriptorAssessment.missing("not in the assessment")
    verdicts = [
        _verdict(taxonomy, system, d.id, assessments.get(d.id, missing))
        for d in taxonomy.descriptors
    ]
    rating = max((v.imposed for v in verdicts), key=lambda r: r.order, default=system.lowest)
    blocked = [v for v in verdicts if v.blocker]
    doubts = [v.doubt for v in verdicts if v.doubt]

    drivers = {
        v.descriptor: _driver(v, v.imposed, "") for v in verdicts if v.imposed != system.lowest
    }
    reasons = [
        f"{d.rating}: {taxonomy.descriptor(d.descriptor).name.lower()} {d.counted}"
        f"{_where(d.evidence)}"
        for d in _strictest_first(system, drivers.values())
    ]
    if blocked and rating.children:
        # Something that could raise the rating is unknown: no children's rating.
        rating = system.lowest_non_children()
        for v in blocked:
            reasons.append(f"at least {rating.id}: {v.blocker}")
            if v.descriptor not in drivers or drivers[v.descriptor].rating != rating.id:
                drivers[v.descriptor] = _driver(v, rating, v.blocker or "")
    else:
        # Already above children's ratings, but these could still raise it.
        reasons.extend(
            f"{'may be too lenient' if v.assessment.status == ABSENT else 'to review'}: {v.blocker}"
            for v in blocked
        )
    reasons.extend(f"stricter under doubt: {doubt}" for doubt in doubts)

    review_below = taxonomy.calibration.review_below
    known = [v.assessment for v in verdicts if v.assessment.status != ABSENT]
    # Uncertain descriptors count half: the band itself says the detector could not decide.
    confidence = min(
        (a.confidence / 2 if a.status == UNCERTAIN else a.confidence for a in known),
        default=0.0,
    )
    if confidence < review_below and not (blocked or doubts):
        reasons.append(f"low confidence ({confidence:.2f})")
    if not reasons:
        reasons.append(f"{rating.id}: no descriptor raises the rating")
    return RatingSuggestion(
        system=system.id,
        rating=rating.id,
        min_age=rating.min_age,
        confidence=round(confidence, 4),
        drivers=tuple(_strictest_first(system, drivers.values())),
        needs_review=bool(blocked or doubts) or confidence < review_below,
        reasons=tuple(reasons),
    )


def _driver(v: _Verdict, rating: Rating, reason: str) -> Driver:
    a = v.assessment
    return Driver(v.descriptor, a.status, a.severity, v.counted, rating.id, a.evidence, reason)


def _strictest_first(system: RatingSystem, drivers: Iterable[Driver]) -> list[Driver]:
    return sorted(drivers, key=lambda d: -system.rating(d.rating).order)


def suggest_ratings(
    taxonomy: Taxonomy, assessments: Mapping[str, DescriptorAssessment]
) -> dict[str, RatingSuggestion]:
    """A suggestion for every rating system in the taxonomy, by system id."""
    return {s.id: suggest_rating(taxonomy, s, assessments) for s in taxonomy.rating_systems}
