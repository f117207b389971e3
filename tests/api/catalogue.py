"""Generated catalogues for the guardrail tests: facts with ratings drawn from the real
taxonomy (final, confident or doubtful suggestions, none), vectors and labels."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

import taxonomy
from recommend.index import Catalog, TitleFacts, rating_fact

TAX = taxonomy.load()
SYSTEMS = [s.id for s in TAX.rating_systems]
LABELS = [lab.id for f in ("mood", "tone") for lab in TAX.labels(f)]
MOODS = [lab.id for lab in TAX.labels("mood")]


def new_catalog(**opts: object) -> Catalog:
    return Catalog(SYSTEMS, LABELS, **opts)  # type: ignore[arg-type]


@st.composite
def ratings(draw: st.DrawFn) -> tuple:
    out = []
    for system in draw(st.lists(st.sampled_from(SYSTEMS), unique=True, max_size=3)):
        rating = draw(st.sampled_from([r.id for r in TAX.rating_system(system).ratings]))
        # trusted: a final rating or a suggestion without needs_review
        fact = rating_fact(TAX, system, rating, trusted=draw(st.booleans()))
        out.append(fact)
    return tuple(out)


@st.composite
def catalogues(draw: st.DrawFn, dim: int = 8, max_size: int = 60) -> list[tuple]:
    """[(facts, vector)] with distinct ids; some titles have no vector."""
    n = draw(st.integers(1, max_size))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        facts = TitleFacts(
            title_id=i + 1,
            ratings=draw(ratings()),
            duration_s=draw(st.one_of(st.none(), st.floats(60, 9000))),
            released_at=float(draw(st.integers(0, 100))),
            labels={lab: float(rng.random()) for lab in rng.choice(LABELS, 3, replace=False)},
        )
        vec = rng.normal(size=dim).astype(np.float32) if rng.random() > 0.1 else None
        out.append((facts, vec))
    return out


def fill(catalog: Catalog, items: list[tuple], space: str = "fused") -> Catalog:
    for facts, vec in items:
        catalog.upsert(facts, {space: vec} if vec is not None else None)
    return catalog
