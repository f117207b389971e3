"""The guardrail as properties of the index, over generated catalogues: nothing above the
ceiling, nothing unrated or doubtful under a ceiling, exactly k results when k titles are
eligible, on the exact path and on the faiss HNSW path (tiny graphs, narrow filters)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recommend.index import Ceiling, Filter, TitleFacts, rating_fact
from tests.api.catalogue import TAX, catalogues, fill, new_catalog

CEILINGS = st.one_of(
    st.none(),
    st.integers(0, 18).map(Ceiling.for_age),
    st.sampled_from([(s.id, r.id) for s in TAX.rating_systems for r in s.ratings]).map(
        lambda sr: Ceiling.for_rating(TAX, *sr)
    ),
)
FILTERS = st.builds(
    Filter,
    ceiling=CEILINGS,
    max_duration_s=st.one_of(st.none(), st.floats(60, 9000)),
    released_after=st.one_of(st.none(), st.floats(0, 100)),
    exclude=st.frozensets(st.integers(1, 60), max_size=5),
)
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def brute_force(items, flt: Filter, query: np.ndarray, k: int) -> list[int]:
    scored = [
        (float(v @ query / np.linalg.norm(v) / np.linalg.norm(query)), f.title_id)
        for f, v in items
        if v is not None and flt.admits(f)
    ]
    return [i for _, i in sorted(scored, key=lambda s: -s[0])[:k]]


@FAST
@given(items=catalogues(), flt=FILTERS, k=st.integers(1, 25), seed=st.integers(0, 1000))
def test_exact_search_is_filtered_inside_and_returns_k(items, flt, k, seed) -> None:
    cat = fill(new_catalog(), items)
    query = np.random.default_rng(seed).normal(size=8).astype(np.float32)
    got = cat.search("fused", query, k, flt)
    facts = {f.title_id: f for f, _ in items}
    assert all(flt.admits(facts[i]) for i, _ in got)
    expected = brute_force(items, flt, query, k)
    assert len(got) == len(expected)  # k whenever k are eligible, never fewer
    scores = [s for _, s in got]
    assert scores == sorted(scores, reverse=True)
    # the same top-k as brute force (compared by score: ties may swap ids)
    vecs = {f.title_id: v for f, v in items}
    want = [
        float(vecs[i] @ query / np.linalg.norm(vecs[i]) / np.linalg.norm(query)) for i in expected
    ]
    assert np.allclose(scores, want, atol=1e-5)


@FAST
@given(items=catalogues(max_size=80), flt=FILTERS, k=st.integers(1, 30), seed=st.integers(0, 99))
def test_hnsw_search_keeps_the_guardrail_and_k(items, flt, k, seed) -> None:
    """A graph from 10 vectors up, so most examples take the faiss path with a selector;
    narrow filters and short walks fall back to exact scoring of the allowed subset."""
    cat = fill(new_catalog(hnsw_min_size=10, narrow=0.0, ef_search=16), items)
    query = np.random.default_rng(seed).normal(size=8).astype(np.float32)
    got = cat.search("fused", query, k, flt)
    facts = {f.title_id: f for f, _ in items}
    assert all(flt.admits(facts[i]) for i, _ in got)
    assert len(got) == len(brute_force(items, flt, query, k))
    assert len({i for i, _ in got}) == len(got)


@FAST
@given(items=catalogues(), k=st.integers(1, 20))
def test_label_scoring_keeps_the_guardrail(items, k) -> None:
    cat = fill(new_catalog(), items)
    flt = Filter(ceiling=Ceiling.for_rating(TAX, "us-tv", "TV-PG"))
    got = cat.score_rows(k, flt, label_weights={"eerie": 1.0, "dark": 0.5})
    assert all(flt.admits(cat.facts[i]) for i, _ in got)
    assert len(got) == min(k, sum(flt.admits(f) for f, _ in items))


def _title(tid: int, *ratings) -> TitleFacts:
    return TitleFacts(
        title_id=tid, ratings=tuple(rating_fact(TAX, *r[:2], trusted=r[2]) for r in ratings)
    )


@pytest.mark.parametrize(
    "ceiling",
    [Ceiling.for_rating(TAX, "us-tv", "TV-PG"), Ceiling.for_age(10)],
    ids=["TV-PG", "age-10"],
)
def test_tv_ma_unrated_and_doubtful_never_pass_a_ceiling(ceiling) -> None:
    cat = new_catalog(hnsw_min_size=3)
    titles = {
        1: _title(1, ("us-tv", "TV-MA", True)),
        2: _title(2),  # unrated
        3: _title(3, ("us-tv", "TV-Y7", False)),  # needs review
        4: _title(4, ("us-tv", "TV-PG", True)),
        5: _title(5, ("mpaa", "PG", True)),  # 8 in another system: passes at 10
        6: _title(6, ("mpaa", "PG-13", True)),  # 13 in another system: blocked
        7: _title(7, ("bbfc", "U", True), ("us-tv", "TV-MA", False)),  # doubtful stricter
    }
    rng = np.random.default_rng(0)
    for _tid, facts in titles.items():
        cat.upsert(facts, {"fused": rng.normal(size=4)})
    got = {i for i, _ in cat.search("fused", np.ones(4), 10, Filter(ceiling=ceiling))}
    assert got == {4, 5}
    assert {i for i, _ in cat.score_rows(10, Filter(ceiling=ceiling))} == {4, 5}
    # without a ceiling, every title is eligible
    assert len(cat.search("fused", np.ones(4), 10, Filter())) == 7


def test_ceiling_within_its_own_system_uses_the_order() -> None:
    """TV-G and TV-Y7 share a minimum age (7); a TV-Y7 ceiling still refuses TV-G."""
    cat = new_catalog()
    cat.upsert(_title(1, ("us-tv", "TV-G", True)), {"fused": np.ones(3)})
    cat.upsert(_title(2, ("us-tv", "TV-Y7", True)), {"fused": np.ones(3)})
    flt = Filter(ceiling=Ceiling.for_rating(TAX, "us-tv", "TV-Y7"))
    assert [i for i, _ in cat.search("fused", np.ones(3), 5, flt)] == [2]
    assert {
        i for i, _ in cat.search("fused", np.ones(3), 5, Filter(ceiling=Ceiling.for_age(7)))
    } == {1, 2}


def test_incremental_updates_replace_vectors_and_facts() -> None:
    cat = new_catalog(hnsw_min_size=4)
    for tid in range(1, 9):
        cat.upsert(_title(tid, ("mpaa", "G", True)), {"fused": np.eye(8)[tid - 1]})
    assert cat.spaces["fused"].hnsw is not None
    q = np.eye(8)[0]
    assert cat.search("fused", q, 1, Filter())[0][0] == 1
    flt = Filter(ceiling=Ceiling.for_age(10))
    assert cat.search("fused", q, 1, flt)[0][0] == 1  # this filter's masks are now cached
    # title 8 moves onto title 1's direction; title 1 is re-rated above the ceiling
    cat.upsert(_title(8, ("mpaa", "G", True)), {"fused": q})
    cat.upsert(_title(1, ("mpaa", "R", True)))
    got = cat.search("fused", q, 8, flt)
    assert got[0][0] == 8 and 1 not in {i for i, _ in got}
    assert len(got) == 7  # the stale slot of title 8 is gone, not duplicated
    cat.remove(8)
    assert 8 not in {i for i, _ in cat.search("fused", q, 8, flt)}


def test_selective_filter_keeps_graph_recall() -> None:
    """With 10% of titles allowed, the filtered walk widens its beam (efSearch / share):
    at a fixed efSearch it would see ~13 allowed titles around the query for k=20."""
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(40, 32)).astype(np.float32)
    n = 4000
    vecs = centres[rng.integers(0, 40, n)] + 0.5 * rng.normal(size=(n, 32)).astype(np.float32)
    kids = rng.random(n) < 0.1
    cat = new_catalog(hnsw_min_size=1, narrow=0.0, ef_search=64)
    exact = new_catalog()
    for tid in range(1, n + 1):
        facts = _title(tid, ("mpaa", "G" if kids[tid - 1] else "R", True))
        cat.upsert(facts, {"fused": vecs[tid - 1]})
        exact.upsert(facts, {"fused": vecs[tid - 1]})
    assert cat.spaces["fused"].hnsw is not None
    flt = Filter(ceiling=Ceiling.for_age(7))
    recall = []
    for q in rng.integers(0, n, 30):
        got = {i for i, _ in cat.search("fused", vecs[q], 20, flt)}
        want = {i for i, _ in exact.search("fused", vecs[q], 20, flt)}
        recall.append(len(got & want) / len(want))
    assert np.mean(recall) >= 0.95


@pytest.mark.parametrize("how", ["block-runs", "gather", "split"])
def test_bulk_loaded_exact_scan_matches_brute_force(how, monkeypatch) -> None:
    """A bulk load lays slots out by ceiling age and the exact scan reads only the blocks
    that hold allowed slots (or gathers them, or splits long runs across threads): the same
    top-k and cosines as brute force, across block boundaries, with titles added after the
    load at the end."""
    import recommend.index as index_module

    if how == "gather":
        monkeypatch.setattr(index_module, "GATHER_COST", 10**6)
    monkeypatch.setenv("COLDSTART_SCAN_THREADS", "3" if how == "split" else "1")
    monkeypatch.setattr(index_module, "SCAN_SPLIT", 500)
    rng = np.random.default_rng(2)
    systems = [("mpaa", r) for r in ("G", "PG", "PG-13", "R")] + [("us-tv", "TV-MA")]
    n = 3 * index_module.BLOCK + 77
    facts = [_title(t, (*systems[t % 5], t % 7 != 0)) for t in range(1, n + 1)]
    vecs = rng.normal(size=(n, 8)).astype(np.float32)
    cat = new_catalog(hnsw_min_size=10**9)
    cat.bulk_load(facts, "fused", vecs)
    late = _title(n + 1, ("mpaa", "G", True))
    cat.upsert(late, {"fused": rng.normal(size=8)})
    items = [*zip(facts, vecs, strict=True), (late, cat.vector("fused", n + 1))]
    for ceiling in (None, Ceiling.for_age(8), Ceiling.for_rating(TAX, "mpaa", "G")):
        flt = Filter(ceiling=ceiling, exclude=frozenset({5}))
        query = rng.normal(size=8).astype(np.float32)
        got = [i for i, _ in cat.search("fused", query, 15, flt)]
        assert got == brute_force(items, flt, query, 15)
        scored = dict(cat.score_rows(n, flt, space="fused", query=query))
        for f, v in items[::97]:
            if flt.admits(f):
                cos = float(v @ query / np.linalg.norm(v) / np.linalg.norm(query))
                assert scored[f.title_id] == pytest.approx(cos, abs=1e-5)


def test_tier_graphs_answer_ceilings_with_titles_added_and_rerated_after_the_build(
    monkeypatch,
) -> None:
    """The HNSW keeps graphs over ceiling-age prefixes of its slots (tiers). A ceiling walks
    the smallest tier holding its titles; titles re-rated or added after the build lie beyond
    every tier and are scored from their codes and merged: nothing above the ceiling, k
    results, the same top-k as exact search, and the late titles found."""
    import recommend.index as index_module

    monkeypatch.setattr(index_module, "TIER_MIN", 200)
    rng = np.random.default_rng(5)
    centres = rng.normal(size=(30, 16)).astype(np.float32)
    n = 3000
    vecs = centres[rng.integers(0, 30, n)] + 0.4 * rng.normal(size=(n, 16)).astype(np.float32)
    pick = rng.choice(["G", "PG", "PG-13", "R"], n, p=[0.1, 0.2, 0.3, 0.4])
    facts = [_title(t, ("mpaa", str(pick[t - 1]), True)) for t in range(1, n + 1)]
    cat = new_catalog(hnsw_min_size=1, narrow=0.0, ef_search=64)
    exact = new_catalog()
    cat.bulk_load(facts, "fused", vecs)
    exact.bulk_load(facts, "fused", vecs)
    space = cat.spaces["fused"]
    sizes = [size for size, _ in space.tiers]
    ages = np.sort(space.slot_key[:n])
    # tiers end where a ceiling age ends, each at most 1/1.6 of the next
    assert sizes and all(ages[s - 1] < ages[s] for s in sizes)
    assert all(b >= 1.6 * a for a, b in zip(sizes, [*sizes[1:], n], strict=False))
    assert space.memory_bytes() > 0
    # after the build: an R title re-rated G, a new G title, a G title made R
    rerated, new, stricter = int(np.flatnonzero(pick == "R")[0]) + 1, n + 1, 0
    stricter = int(np.flatnonzero(pick == "G")[0]) + 1
    for c in (cat, exact):
        c.upsert(_title(rerated, ("mpaa", "G", True)))
        c.upsert(_title(new, ("mpaa", "G", True)), {"fused": vecs[rerated - 1] + 0.01})
        c.upsert(_title(stricter, ("mpaa", "R", True)))
    walked = []
    real_graph = space._graph
    monkeypatch.setattr(
        space, "_graph", lambda *a, **kw: walked.append(kw["graph"]) or real_graph(*a, **kw)
    )
    flt = Filter(ceiling=Ceiling.for_rating(TAX, "mpaa", "G"))
    got = [i for i, _ in cat.search("fused", vecs[rerated - 1], 20, flt)]
    assert walked[-1] is not space.hnsw  # a tier, not the whole graph
    assert set(got[:2]) == {rerated, new} and stricter not in got
    recall = []
    for ceiling in (Ceiling.for_age(0), Ceiling.for_rating(TAX, "mpaa", "PG"), None):
        flt = Filter(ceiling=ceiling, exclude=frozenset({7}))
        for q in rng.integers(0, n, 20):
            got = cat.search("fused", vecs[q], 20, flt)
            want = {i for i, _ in exact.search("fused", vecs[q], 20, flt)}
            assert len(got) == len(want) == 20
            assert all(flt.admits(cat.facts[i]) for i, _ in got)
            recall.append(len({i for i, _ in got} & want) / 20)
    assert np.mean(recall) >= 0.95
    # more titles outside every tier than it merges: the whole graph, filtered, still k
    monkeypatch.setattr(index_module, "OUTSIDE_MAX", 0)
    flt = Filter(ceiling=Ceiling.for_age(0))
    got = cat.search("fused", vecs[rerated - 1], 20, flt)
    assert walked[-1] is space.hnsw
    assert len(got) == 20 and all(flt.admits(cat.facts[i]) for i, _ in got)
