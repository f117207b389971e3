"""The controlled vocabulary as frozen values: facets of labels, maturity descriptors with
severity levels, the strong-language lexicon, rating systems and the fusion calibration.

Built only by ``taxonomy.loader`` from a validated YAML file; nothing here imports the project.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

# Severity scale of every maturity descriptor, mildest first. "none" means assessed and clean.
SEVERITY_LEVELS: tuple[str, ...] = ("none", "mild", "moderate", "strong", "severe")
# Lexicon tiers are the levels a single word can carry on its own.
LEXICON_TIERS: tuple[str, ...] = ("mild", "strong", "severe")
# Facets whose labels are listed in the file; "maturity" holds the descriptors.
FACETS: tuple[str, ...] = ("mood", "tone", "maturity")
# Signals fusion can weigh (calibration keys): the analyzers under analyzers/signals.
SIGNALS: tuple[str, ...] = ("vision", "text", "audio", "style", "nudity", "language")
# Feature names a cue may name: the audio signal's per-window features ...
AUDIO_FEATURES: tuple[str, ...] = (
    "loudness",
    "loudness_range",
    "onset_rate",
    "tempo",
    "brightness",
    "flatness",
    "music_share",
    "speech_share",
    "silence_share",
    "energy",
)
# ... and the per-shot visual style features.
STYLE_FEATURES: tuple[str, ...] = (
    "cuts_per_minute",
    "lighting_key",
    "contrast",
    "saturation",
    "colourfulness",
    "motion",
)


def severity_rank(level: str) -> int:
    """Position of ``level`` on the severity scale (``none`` is 0)."""
    return SEVERITY_LEVELS.index(level)


@dataclass(frozen=True)
class Cue:
    """A feature a label responds to: ``sign`` +1 when more of it means more of the label."""

    feature: str
    sign: int
    weight: float


@dataclass(frozen=True)
class Label:
    """A mood or tone label, or a maturity descriptor (facet ``maturity``)."""

    facet: str
    id: str
    name: str
    description: str
    vision_prompts: tuple[str, ...]
    text_cues: tuple[str, ...]
    audio_cues: tuple[Cue, ...]
    style_cues: tuple[Cue, ...]
    threshold: float


@dataclass(frozen=True)
class FacetCalibration:
    """How fusion weighs the signals for one facet; ``top_k`` pools scenes (maturity only)."""

    weights: Mapping[str, float]
    top_k: int | None = None


@dataclass(frozen=True)
class Calibration:
    facets: Mapping[str, FacetCalibration]
    # descriptor -> (low, high): detector scores inside count as "possible" (uncertain).
    uncertain_bands: Mapping[str, tuple[float, float]]
    # A descriptor assessed with less confidence than this is doubtful: needs review.
    review_below: float

    def facet(self, facet: str) -> FacetCalibration:
        return self.facets[facet]

    def uncertain_band(self, descriptor: str) -> tuple[float, float] | None:
        return self.uncertain_bands.get(descriptor)


@dataclass(frozen=True)
class LexiconCategory:
    """Where a lexicon library's category goes: a descriptor, at ``tier`` unless the term
    itself is tiered."""

    descriptor: str
    tier: str


@dataclass(frozen=True)
class Lexicon:
    """Strong-language terms by severity tier, and lexicon categories -> descriptors."""

    descriptor: str  # the descriptor the tiers rate (strong language)
    tiers: Mapping[str, tuple[str, ...]]  # casefolded terms
    categories: Mapping[str, LexiconCategory]

    def tier(self, term: str) -> str | None:
        """The tier listing ``term`` (case-insensitive), or None."""
        needle = term.casefold()
        for tier in reversed(LEXICON_TIERS):  # the strictest listing wins
            if needle in self.tiers.get(tier, ()):
                return tier
        return None

    def classify(self, term: str, category: str | None = None) -> tuple[str, str] | None:
        """(descriptor, level) for a matched term: a tiered term is strong language at its
        tier; otherwise the library category decides; None when neither knows it."""
        tier = self.tier(term)
        if tier is not None:
            return self.descriptor, tier
        known = self.categories.get(category) if category else None
        return (known.descriptor, known.tier) if known else None

    def terms(self) -> tuple[str, ...]:
        return tuple(term for tier in LEXICON_TIERS for term in self.tiers.get(tier, ()))


@dataclass(frozen=True)
class Rating:
    id: str
    order: int  # 0 = most permissive
    min_age: int  # youngest viewer the rating is suitable for
    children: bool  # a children's rating: never suggested under doubt
    name: str = ""


@dataclass(frozen=True)
class RatingRule:
    """A descriptor at ``severity`` or worse needs at least ``rating``."""

    descriptor: str
    severity: str
    rating: str


@dataclass(frozen=True)
class RatingSystem:
    id: str
    name: str
    ratings: tuple[Rating, ...]  # in order, most permissive first
    rules: tuple[RatingRule, ...]

    def rating(self, rating_id: str) -> Rating:
        for rating in self.ratings:
            if rating.id == rating_id:
                return rating
        raise KeyError(f"{self.id}: no rating {rating_id!r}")

    @property
    def lowest(self) -> Rating:
        return self.ratings[0]

    def lowest_non_children(self) -> Rating:
        return next(r for r in self.ratings if not r.children)

    def min_rating(self, descriptor: str, severity: str) -> Rating:
        """The most permissive rating a descriptor at ``severity`` allows."""
        rank = severity_rank(severity)
        found = self.lowest
        for rule in self.rules:
            if rule.descriptor == descriptor and severity_rank(rule.severity) <= rank:
                candidate = self.rating(rule.rating)
                if candidate.order > found.order:
                    found = candidate
        return found

    def can_raise(self, descriptor: str) -> bool:
        """Whether some severity of ``descriptor`` lifts a title above the lowest rating."""
        return any(
            rule.descriptor == descriptor and self.rating(rule.rating).order > self.lowest.order
            for rule in self.rules
        )

    def ceiling_for_age(self, age: int) -> Rating | None:
        """The least strict rating suitable for a viewer of ``age``; None if none is."""
        allowed = [r for r in self.ratings if r.min_age <= age]
        return allowed[-1] if allowed else None


@dataclass(frozen=True)
class Taxonomy:
    version: str
    fingerprint: str  # sha256 of the canonical validated content
    source: str  # the file it was loaded from
    mood: tuple[Label, ...]
    tone: tuple[Label, ...]
    descriptors: tuple[Label, ...]
    lexicon: Lexicon
    rating_systems: tuple[RatingSystem, ...]
    calibration: Calibration

    def labels(self, facet: str) -> tuple[Label, ...]:
        if facet == "mood":
            return self.mood
        if facet == "tone":
            return self.tone
        if facet == "maturity":
            return self.descriptors
        raise KeyError(f"unknown facet {facet!r}; facets: {', '.join(FACETS)}")

    def label(self, facet: str, label_id: str) -> Label:
        for label in self.labels(facet):
            if label.id == label_id:
                return label
        raise KeyError(f"{facet}: no label {label_id!r}")

    def descriptor(self, descriptor_id: str) -> Label:
        return self.label("maturity", descriptor_id)

    def rating_system(self, name: str) -> RatingSystem:
        """A system by id or display name, case-insensitive (``mpaa``, ``BBFC``...)."""
        wanted = name.casefold()
        for system in self.rating_systems:
            if wanted in (system.id.casefold(), system.name.casefold()):
                return system
        raise KeyError(f"unknown rating system {name!r}")

    def ceiling_for_age(self, system: str, age: int) -> Rating | None:
        return self.rating_system(system).ceiling_for_age(age)

    def min_age(self, system: str, rating: str) -> int:
        return self.rating_system(system).rating(rating).min_age
