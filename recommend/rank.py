"""Ranking for a taste profile: content similarity to what was liked (minus what was not),
maximal marginal relevance for diversity, a reason built from shared evidence, and the
artwork candidate matching the profile's leading mood.

Candidates always come from a filtered index search, so every title ranked here already
passed the ceiling and the other filters; ranking only reorders them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from recommend.index import Catalog, Filter, TitleFacts

SHARED_MIN = 0.5  # a label counts as "shared" when both sides score at least this
LABEL_WEIGHT = 0.5  # weight of label affinity beside vector cosine in relevance
POOL = 4  # candidates per requested result, for MMR to choose among


@dataclass
class Recommendation:
    title_id: int
    score: float
    reason: str
    shared: list[str] = field(default_factory=list)
    style: list[str] = field(default_factory=list)
    artwork: Mapping[str, Any] | None = None


@dataclass
class Profile:
    vector: np.ndarray | None
    labels: dict[str, float]
    style: set[str]
    leading_mood: str | None


def build_profile(
    catalog: Catalog,
    space: str,
    liked: Sequence[int],
    disliked: Sequence[int] = (),
    moods: Sequence[str] = (),
) -> Profile:
    """Mean of the liked titles' vectors and labels, minus half the disliked ones'."""

    def mean_vec(ids: Sequence[int]) -> np.ndarray | None:
        vecs = [v for i in ids if (v := catalog.vector(space, i)) is not None]
        return np.mean(vecs, axis=0) if vecs else None

    def mean_labels(ids: Sequence[int]) -> dict[str, float]:
        facts = [catalog.facts[i] for i in ids if i in catalog.facts]
        out: dict[str, float] = {}
        for f in facts:
            for label, score in f.labels.items():
                out[label] = out.get(label, 0.0) + score / len(facts)
        return out

    like_v, dislike_v = mean_vec(liked), mean_vec(disliked)
    vector = like_v if dislike_v is None or like_v is None else like_v - 0.5 * dislike_v
    labels = mean_labels(liked)
    for label, score in mean_labels(disliked).items():
        labels[label] = labels.get(label, 0.0) - 0.5 * score
    style: set[str] = set()
    for i in liked:
        if i in catalog.facts:
            style.update(catalog.facts[i].style)
    mood_scores = {m: labels.get(m, 0.0) for m in moods if labels.get(m, 0.0) > 0}
    leading = max(mood_scores, key=mood_scores.__getitem__) if mood_scores else None
    return Profile(vector, labels, style, leading)


def reason_for(profile: Profile, facts: TitleFacts) -> tuple[str, list[str], list[str]]:
    """("shares: eerie, suspenseful; dark look; slow pace", shared labels, shared style)."""
    shared = sorted(
        (
            label
            for label, score in facts.labels.items()
            if score >= SHARED_MIN and profile.labels.get(label, 0.0) >= SHARED_MIN
        ),
        key=lambda label: -(facts.labels[label] + profile.labels[label]),
    )[:4]
    style = [s for s in facts.style if s in profile.style]
    parts = ([f"shares: {', '.join(shared)}"] if shared else []) + style
    return ("; ".join(parts) or "similar overall"), shared, style


def pick_artwork(facts: TitleFacts, mood: str | None) -> Mapping[str, Any] | None:
    """The artwork candidate for the profile's leading mood, else the title's first."""
    usable = [a for a in facts.artwork if a.get("keyframe") is not None] or list(facts.artwork)
    for a in usable:
        if mood is not None and a.get("label") == mood:
            return a
    return usable[0] if usable else None


def label_affinity(profile: Profile, facts: TitleFacts) -> float:
    keys = set(profile.labels) & set(facts.labels)
    return float(sum(profile.labels[k] * facts.labels[k] for k in keys)) / max(1, len(keys))


def mmr(
    relevance: Mapping[int, float], vectors: Mapping[int, np.ndarray], k: int, diversity: float
) -> list[int]:
    """Greedy maximal marginal relevance: each pick maximises
    (1 - diversity) x relevance - diversity x (max cosine to the titles already picked)."""
    remaining = sorted(relevance, key=lambda i: -relevance[i])
    picked: list[int] = []
    while remaining and len(picked) < k:
        if diversity <= 0 or not picked:
            best = remaining[0]
        else:

            def gain(i: int) -> float:
                v = vectors.get(i)
                sim = max(
                    (float(v @ vectors[j]) for j in picked if v is not None and j in vectors),
                    default=0.0,
                )
                return (1 - diversity) * relevance[i] - diversity * sim

            best = max(remaining, key=gain)
        picked.append(best)
        remaining.remove(best)
    return picked


def recommend(
    catalog: Catalog,
    *,
    space: str,
    liked: Sequence[int],
    disliked: Sequence[int] = (),
    k: int = 10,
    flt: Filter | None = None,
    diversity: float = 0.0,
    moods: Sequence[str] = (),
) -> list[Recommendation]:
    """Titles for a taste profile; liked and disliked titles are never recommended back."""
    base = flt or Filter()
    flt = replace(base, exclude=base.exclude | frozenset(liked) | frozenset(disliked))
    profile = build_profile(catalog, space, liked, disliked, moods)
    pool = k * POOL if diversity > 0 else k
    if profile.vector is not None:
        hits = catalog.search(space, profile.vector, pool, flt)
    else:  # no vectors for the liked titles: rank on their labels alone
        hits = catalog.score_rows(pool, flt, label_weights=profile.labels)
    rel = {i: s + LABEL_WEIGHT * label_affinity(profile, catalog.facts[i]) for i, s in hits}
    vectors = {i: v for i in rel if (v := catalog.vector(space, i)) is not None}
    out = []
    for title_id in mmr(rel, vectors, k, diversity):
        facts = catalog.facts[title_id]
        reason, shared, style = reason_for(profile, facts)
        art = pick_artwork(facts, profile.leading_mood)
        out.append(Recommendation(title_id, rel[title_id], reason, shared, style, art))
    return out
