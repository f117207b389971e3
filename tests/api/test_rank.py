"""Recommendations on a fixture catalogue with known tags: the expected titles first, reasons
naming the shared labels and style, the artwork of the profile's leading mood, MMR."""

from __future__ import annotations

import numpy as np

from recommend.index import Ceiling, Filter, TitleFacts, rating_fact
from recommend.rank import recommend
from tests.api.catalogue import LABELS, MOODS, TAX, new_catalog

G = rating_fact(TAX, "mpaa", "G", trusted=True)
TVMA = rating_fact(TAX, "us-tv", "TV-MA", trusted=True)

# id: (labels, style, rating)
FIXTURE = {
    1: ({"eerie": 0.9, "suspenseful": 0.8, "dark": 0.7}, ("dark look", "slow pace"), G),
    2: ({"eerie": 0.8, "suspenseful": 0.9, "mysterious": 0.6}, ("dark look", "slow pace"), G),
    3: ({"eerie": 0.85, "suspenseful": 0.7, "dark": 0.6}, ("dark look",), G),  # expected 1st/2nd
    4: ({"eerie": 0.7, "mysterious": 0.8, "suspenseful": 0.6}, ("slow pace",), G),  # expected
    5: ({"eerie": 0.95, "suspenseful": 0.9, "dark": 0.9}, ("dark look",), TVMA),  # above ceiling
    6: ({"joyful": 0.9, "playful": 0.8, "lighthearted": 0.9}, ("bright look", "fast pace"), G),
    7: ({"romantic": 0.9, "warm": 0.8, "intimate": 0.7}, ("bright look",), G),
    8: ({"high-energy": 0.9, "triumphant": 0.8, "epic": 0.8}, ("fast pace",), G),
}


def _vector(labels: dict[str, float], rng: np.random.Generator) -> np.ndarray:
    v = np.array([labels.get(lab, 0.0) for lab in LABELS], dtype=np.float32)
    return v + rng.normal(scale=0.05, size=v.shape).astype(np.float32)


def _catalog():
    rng = np.random.default_rng(7)
    cat = new_catalog()
    for tid, (labels, style, rating) in FIXTURE.items():
        artwork = [
            {"facet": "mood", "label": lab, "keyframe": f"k/{tid}/{lab}.jpg", "time_s": 1.0}
            for lab in labels
        ]
        facts = TitleFacts(tid, f"t{tid}", (rating,), 600.0, 0.0, labels, style, artwork)
        cat.upsert(facts, {"fused": _vector(labels, rng)})
    return cat


def test_profile_ranks_the_expected_titles_first_with_reasons() -> None:
    cat = _catalog()
    got = recommend(cat, space="fused", liked=[1, 2], k=4, moods=MOODS)
    ids = [r.title_id for r in got]
    assert set(ids[:3]) == {3, 4, 5}  # the eerie, suspenseful titles
    assert 1 not in ids and 2 not in ids  # liked titles are not recommended back
    first = got[0]
    assert "eerie" in first.shared and "suspenseful" in first.shared
    assert first.reason.startswith("shares: ") and "eerie" in first.reason
    assert "dark look" in first.reason
    assert first.artwork is not None and first.artwork["label"] == "eerie"  # leading mood


def test_ceiling_and_dislikes_shape_the_ranking() -> None:
    cat = _catalog()
    flt = Filter(ceiling=Ceiling.for_rating(TAX, "us-tv", "TV-PG"))
    got = recommend(cat, space="fused", liked=[1], disliked=[6], k=5, flt=flt, moods=MOODS)
    ids = [r.title_id for r in got]
    assert 5 not in ids and 6 not in ids
    assert len(ids) == 5  # 8 titles - liked - disliked - TV-MA = 5 eligible
    assert set(ids[:3]) == {2, 3, 4}  # the eerie ones still lead


def test_mmr_diversity_trades_a_near_duplicate_for_variety() -> None:
    cat = new_catalog()
    base = np.eye(4, dtype=np.float32)
    plain = lambda tid: TitleFacts(tid, ratings=(G,))  # noqa: E731
    cat.upsert(plain(1), {"fused": base[0]})
    cat.upsert(plain(2), {"fused": base[0] + 0.05 * base[1]})  # nearest
    cat.upsert(plain(3), {"fused": base[0] + 0.06 * base[1]})  # near-duplicate of 2
    cat.upsert(plain(4), {"fused": base[0] + 0.5 * base[2]})  # further, different

    def top2(d):
        return [r.title_id for r in recommend(cat, space="fused", liked=[1], k=2, diversity=d)]

    assert top2(0.0) == [2, 3]
    assert top2(0.7) == [2, 4]


def test_titles_without_vectors_rank_on_labels() -> None:
    cat = new_catalog()
    for tid, (labels, style, rating) in FIXTURE.items():
        cat.upsert(TitleFacts(tid, ratings=(rating,), labels=labels, style=style))
    got = recommend(cat, space="fused", liked=[1], k=3)
    assert {r.title_id for r in got} == {3, 5, 2}  # eerie + dark/suspenseful overlap most
    assert all("eerie" in r.shared for r in got)
