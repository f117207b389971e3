"""The catalogue index: per-title facts as column arrays, and one vector index per space.

Filters (rating ceiling, duration, recency, exclusions) become a boolean mask over titles
*before* the top-k: the exact path scores only allowed rows; the HNSW path (faiss, beyond
``hnsw_min_size`` vectors) hands the mask to faiss as an ``IDSelectorBitmap``, and falls
back to exact scoring of the allowed subset when the filter is narrow or when the graph
walk found fewer than k allowed titles. So k eligible titles always give k results.

Updates are incremental: a title's facts are rewritten in place; a changed vector takes a
new slot (HNSW graphs cannot replace a point) and the old slot is marked dead.

A filtered graph walk costs about an unfiltered walk with ``efSearch / share``, so a ceiling
that admits 10% of titles made the walk cost what the exact scan of those 10% did. The HNSW
is therefore built over slots in ceiling-age order and a copy of its links is kept at a few
prefixes ("tiers", each ~1/``TIER_GROWTH`` of the next): every tier is a complete graph of
the titles up to some ceiling age, sharing the one store of fp16 codes. A ceiling search
walks the smallest tier that holds all but a few of its allowed titles, almost unfiltered;
the few outside it (titles added or re-rated since the build) are scored exactly and merged.

Exact scoring is memory-bound (100k x 512 float32 is 205 MB per query), so it reads only
what a filter can admit: the matrix is cut in blocks of ``BLOCK`` slots and only blocks that
hold an allowed slot are multiplied. A bulk load lays slots out by the titles' ceiling age,
so a ceiling admits a few long runs of blocks (TV-PG: ~40% of the matrix, not all of it);
titles added later go to the end. Allowed rows that are few and scattered are gathered
instead (a gathered row costs ~``GATHER_COST`` times a row read in place).
"""

from __future__ import annotations

import functools
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

UNRATED = 255  # the age of a title with no trustworthy rating: above every ceiling
BLOCK = 2048  # slots per block of the exact scan
GATHER_COST = 4  # a gathered row against one read in a block run (bench-api, 100k x 512)
TIER_GROWTH = 1.6  # each tier graph at most 1/1.6 of the next: extra links <= 1.7x one graph
TIER_MIN = 4096  # no tier graph smaller than this (the exact scan covers such filters)
OUTSIDE_MAX = 2048  # allowed slots beyond a tier scored exactly (fp16 rows gathered, ~0.5 ms)
MASK_CACHE = 32  # filters whose masks are kept (per catalogue version)
SCAN_SPLIT = 16_384  # rows per piece when an exact scan is split across threads


@dataclass(frozen=True)
class RatingFact:
    system: str
    rating: str
    order: int  # position in its system, 0 = most permissive
    min_age: int
    trusted: bool  # a final rating, or a suggestion that needs no review


def rating_fact(
    taxonomy: Any, system: str, rating: str | None, *, trusted: bool, min_age: int | None = None
) -> RatingFact | None:
    """A rating placed in its system's order; None for a system or rating the taxonomy does
    not know (such a rating cannot be compared, so it never makes a title eligible)."""
    try:
        sys_ = taxonomy.rating_system(system)
        r = sys_.rating(rating or "")
    except KeyError:
        return None
    # the stricter of the stored age (an editor may set one) and the taxonomy's
    age = max(r.min_age, min_age or 0)
    return RatingFact(sys_.id, r.id, r.order, age, trusted)


@dataclass(slots=True)  # one per title: slots keep a million of them small
class TitleFacts:
    title_id: int
    name: str = ""
    ratings: tuple[RatingFact, ...] = ()
    duration_s: float | None = None
    released_at: float = 0.0  # epoch seconds
    labels: Mapping[str, float] = field(default_factory=dict)  # mood/tone label -> score
    style: tuple[str, ...] = ()  # "dark look", "slow pace"
    artwork: Sequence[Mapping[str, Any]] = ()

    @property
    def min_age(self) -> int | None:
        """The youngest viewer age the title suits, conservatively: None unless at least one
        rating is trusted; otherwise the highest minimum age of *every* rating it carries
        (a doubtful stricter suggestion still counts against it)."""
        if not any(r.trusted for r in self.ratings):
            return None
        return max(r.min_age for r in self.ratings)


@dataclass(frozen=True)
class Ceiling:
    """A hard maturity ceiling: a viewer age, optionally with a rating in one system (then
    titles rated in that system must also sit at or below it in that system's order)."""

    max_age: int
    system: str | None = None
    rating: str | None = None
    max_order: int | None = None

    @classmethod
    def for_age(cls, age: int) -> Ceiling:
        return cls(max_age=int(age))

    @classmethod
    def for_rating(cls, taxonomy: Any, system: str, rating: str) -> Ceiling:
        """Raises KeyError for an unknown system or rating."""
        sys_ = taxonomy.rating_system(system)
        r = sys_.rating(rating)
        return cls(max_age=r.min_age, system=sys_.id, rating=r.id, max_order=r.order)

    def admits(self, facts: TitleFacts) -> bool:
        """The scalar rule the masks implement (tests compare the two)."""
        age = facts.min_age
        if age is None or age > self.max_age:
            return False
        if self.system is not None and self.max_order is not None:
            return all(r.order <= self.max_order for r in facts.ratings if r.system == self.system)
        return True

    def describe(self) -> dict[str, Any]:
        return {
            "max_age": self.max_age,
            "system": self.system,
            "rating": self.rating,
        }


@dataclass(frozen=True)
class Filter:
    ceiling: Ceiling | None = None
    max_duration_s: float | None = None
    released_after: float | None = None  # epoch seconds
    exclude: frozenset[int] = frozenset()

    def admits(self, facts: TitleFacts) -> bool:
        if self.ceiling is not None and not self.ceiling.admits(facts):
            return False
        if self.max_duration_s is not None and not (
            facts.duration_s is not None and facts.duration_s <= self.max_duration_s
        ):
            return False
        if self.released_after is not None and facts.released_at < self.released_after:
            return False
        return facts.title_id not in self.exclude


def _grow(arr: np.ndarray, n: int, fill: Any, axis: int = 0) -> np.ndarray:
    """``arr`` with room for ``n`` along ``axis`` (capacity doubling), new cells ``fill``."""
    have = arr.shape[axis]
    if n <= have:
        return arr
    shape = list(arr.shape)
    shape[axis] = max(n, 2 * have, 64)
    out = np.full(shape, fill, dtype=arr.dtype)
    out[(slice(None),) * axis + (slice(0, have),)] = arr
    return out


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    """Positions of the k highest finite scores, best first."""
    k = min(k, scores.shape[0])
    if k <= 0:
        return np.empty(0, dtype=np.int64)
    part = np.argpartition(-scores, k - 1)[:k] if k < scores.shape[0] else np.arange(k)
    return part[np.argsort(-scores[part], kind="stable")]


class SpaceIndex:
    """Vectors of one space in slots; exact (NumPy) until ``hnsw_min_size`` live vectors,
    then a faiss HNSW graph over fp16 codes (half the memory of float32, same ranking: 1M x
    512 is 1.0 GB of codes plus the graph, where float32 alone would be 2.05 GB)."""

    def __init__(
        self,
        dim: int,
        *,
        hnsw_min_size: int = 50_000,
        narrow: float = 2.5,
        hnsw_m: int = 32,
        ef_construction: int = 80,
        ef_search: int = 128,
        ef_max: int = 2048,
    ) -> None:
        self.dim = dim
        self.ef_max = ef_max
        self.hnsw_min_size = hnsw_min_size
        self.narrow = narrow
        self.hnsw_m, self.ef_construction, self.ef_search = hnsw_m, ef_construction, ef_search
        self.n = 0  # slots used
        self.vecs: np.ndarray | None = np.zeros((0, dim), dtype=np.float32)
        self.slot_row = np.zeros(0, dtype=np.int32)
        self.slot_live = np.zeros(0, dtype=bool)
        self.slot_key = np.zeros(0, dtype=np.uint8)  # the layout key (ceiling age) per slot
        self.row_slot = np.zeros(0, dtype=np.int32)
        self.hnsw: Any = None
        self.tiers: list[tuple[int, Any]] = []  # (prefix slots, graph over them), ascending

    @property
    def live(self) -> int:
        return int(self.slot_live[: self.n].sum())

    def add(self, row: int, vector: np.ndarray) -> None:
        self.add_many(np.array([row], dtype=np.int32), np.asarray(vector)[None, :])

    def add_many(
        self, rows: np.ndarray, vectors: np.ndarray, key: np.ndarray | None = None
    ) -> None:
        """Add vectors for ``rows``; with ``key``, their slots are laid out in key order."""
        rows = np.asarray(rows, dtype=np.int32)
        order = None if key is None else np.argsort(key, kind="stable")
        if order is not None:
            rows = rows[order]
        start, end = self.n, self.n + len(rows)
        self.row_slot = _grow(self.row_slot, int(rows.max(initial=-1)) + 1, -1)
        old = self.row_slot[rows]
        self.slot_live[old[old >= 0]] = False
        self.slot_row = _grow(self.slot_row, end, -1)
        self.slot_live = _grow(self.slot_live, end, False)
        self.slot_key = _grow(self.slot_key, end, UNRATED)
        self.slot_row[start:end] = rows
        self.slot_live[start:end] = True
        if key is not None:
            self.slot_key[start:end] = np.clip(np.asarray(key)[order], 0, UNRATED)
        self.row_slot[rows] = np.arange(start, end, dtype=np.int32)
        src = np.asarray(vectors).reshape(-1, self.dim)
        if self.hnsw is not None:
            v = np.array(src if order is None else src[order], dtype=np.float32)
            self.hnsw.add(_unit_rows(v))
        else:  # written and normalised in place: no second copy of a large batch
            assert self.vecs is not None
            # headroom past a bulk load: the first titles added later do not copy it all
            self.vecs = _grow(self.vecs, end + (end - start) // 16, 0.0)
            dst = self.vecs[start:end]
            if order is None:
                dst[:] = src
            else:  # in chunks: no reordered copy of the whole batch
                for a in range(0, len(order), 65536):
                    dst[a : a + 65536] = src[order[a : a + 65536]]
            _unit_rows(dst)
        self.n = end
        if self.hnsw is None and self.live >= self.hnsw_min_size:
            self._build_hnsw()

    def remove(self, row: int) -> None:
        if row < self.row_slot.shape[0] and self.row_slot[row] >= 0:
            self.slot_live[self.row_slot[row]] = False
            self.row_slot[row] = -1

    def _build_hnsw(self) -> None:
        """The graph over every slot, in one add (faiss shuffles the insertion order; adding
        in ceiling-age chunks cost recall@20 0.965 -> 0.911 at 1M); then the tiers: a second
        graph over the largest tier's slots, added tier by tier, with a copy of its links
        kept at each tier's end, every copy walking the one store of codes."""
        faiss = load_faiss()
        assert self.vecs is not None
        index = self._new_graph()
        index.add(self.vecs[: self.n])  # fp16 needs no training
        tiers, sizes = [], self.tier_sizes()
        if sizes:
            build, done = self._new_graph(), 0
            for size in sizes:
                build.add(self.vecs[done:size])
                done = size
                tier = faiss.IndexHNSW(index.storage, self.hnsw_m)
                tier.hnsw = build.hnsw  # a copy: later adds rewire the build graph only
                tier.ntotal, tier.is_trained = size, True
                tiers.append((size, tier))
            del build  # its own codes and links
        self.hnsw, self.vecs, self.tiers = index, None, tiers

    def _new_graph(self) -> Any:
        faiss = load_faiss()
        index = faiss.IndexHNSWSQ(
            self.dim, faiss.ScalarQuantizer.QT_fp16, self.hnsw_m, faiss.METRIC_INNER_PRODUCT
        )
        index.hnsw.efConstruction = self.ef_construction
        return index

    def tier_sizes(self) -> list[int]:
        """Prefixes worth a graph of their own: ends of runs of equal layout keys within the
        bulk-loaded (key-sorted) slots, each at most 1/``TIER_GROWTH`` of the next larger."""
        keys = self.slot_key[: self.n]
        if len(keys) == 0:
            return []
        unsorted = np.flatnonzero(keys[1:] < keys[:-1])
        sorted_to = int(unsorted[0]) + 1 if len(unsorted) else len(keys)
        ends = np.flatnonzero(keys[1:sorted_to] != keys[: sorted_to - 1]) + 1
        out: list[int] = []
        cap = self.n / TIER_GROWTH
        for end in ends[::-1].tolist():
            if TIER_MIN <= end <= cap:
                out.append(end)
                cap = end / TIER_GROWTH
        return out[::-1]

    def vector(self, row: int) -> np.ndarray | None:
        if row >= self.row_slot.shape[0] or self.row_slot[row] < 0:
            return None
        slot = int(self.row_slot[row])
        if self.hnsw is not None:
            return self.hnsw.storage.reconstruct(slot)
        assert self.vecs is not None
        return self.vecs[slot].copy()

    def has(self, rows_mask: np.ndarray) -> np.ndarray:
        """Restrict a row mask to rows that have a vector here."""
        out = np.zeros_like(rows_mask)
        m = min(rows_mask.shape[0], self.row_slot.shape[0])
        out[:m] = rows_mask[:m] & (self.row_slot[:m] >= 0)
        return out

    def allowed_slots(self, row_mask: np.ndarray) -> np.ndarray:
        """The live slots whose rows ``row_mask`` admits (a gather over every slot: ~2 ms at
        1M, so :class:`Catalog` keeps it per filter)."""
        rows = self.slot_row[: self.n]
        ok = self.slot_live[: self.n].copy()
        inside = rows < row_mask.shape[0]
        ok &= inside
        ok[inside] &= row_mask[rows[inside]]
        return ok

    def cosines(self, query: np.ndarray, rows: np.ndarray, allowed: np.ndarray, k: int):
        """Cosine to ``query`` for each of ``rows`` (0 without a vector), ``allowed`` the slot
        mask (:meth:`allowed_slots`). Beyond the HNSW size only the graph's 10 x k best
        allowed rows are scored; the rest count 0."""
        q = np.asarray(query, dtype=np.float32).reshape(-1)
        q = q / (float(np.linalg.norm(q)) or 1.0)
        out = np.zeros(len(rows), dtype=np.float32)
        if self.hnsw is not None:
            found, cos = self.search(q, 10 * k, allowed)
            out[np.searchsorted(rows, found)] = cos
            return out
        inside = rows < self.row_slot.shape[0]
        slots = np.full(len(rows), -1, dtype=np.int64)
        slots[inside] = self.row_slot[rows[inside]]
        have = slots >= 0
        if have.any():
            out[have] = self._scores(q, allowed)[0][slots[have]]
        return out

    def memory_bytes(self) -> int:
        """Bytes held for this space: the vectors (float32, or the graph's fp16 codes and
        its links) and the slot arrays."""
        arrays = self.slot_row.nbytes + self.slot_live.nbytes + self.row_slot.nbytes
        arrays += self.slot_key.nbytes
        if self.hnsw is not None:
            faiss = load_faiss()
            links = 0
            for graph in [self.hnsw.hnsw, *(tier.hnsw for _, tier in self.tiers)]:
                links += graph.neighbors.size() * 4 + graph.levels.size() * 4
                links += graph.offsets.size() * 8 + graph.assign_probas.size() * 8
            codes = faiss.downcast_index(self.hnsw.storage).codes.size()
            return arrays + int(links + codes)
        assert self.vecs is not None
        return arrays + self.vecs.nbytes

    def search(
        self, query: np.ndarray, k: int, allowed: np.ndarray, *, exact: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """(rows, scores) of the k best vectors among the ``allowed`` slots, best first."""
        q = np.asarray(query, dtype=np.float32).reshape(-1)
        q = q / (float(np.linalg.norm(q)) or 1.0)
        count = int(np.count_nonzero(allowed))
        if count == 0 or k <= 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        if self.hnsw is None or exact or count <= max(k, self.scan_below()):
            slots, scores = self._exact(q, k, allowed)
        else:
            slots, scores = self._walk(q, k, allowed, count)
        return self.slot_row[slots].astype(np.int64), scores

    def _walk(
        self, q: np.ndarray, k: int, allowed: np.ndarray, count: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Walk the smallest graph (tier or whole) that holds all but ``OUTSIDE_MAX`` of the
        allowed slots; score the allowed slots beyond it from their codes; merge."""
        size, graph = self.n, self.hnsw
        for tier_size, tier in self.tiers:
            if count - np.count_nonzero(allowed[:tier_size]) <= OUTSIDE_MAX:
                size, graph = tier_size, tier
                break
        inside = int(np.count_nonzero(allowed[:size]))
        slots, scores = np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        if inside:
            whole = inside == size
            slots, scores = self._graph(q, k, allowed, inside / size, graph=graph, whole=whole)
        if len(slots) < min(k, inside):  # the walk missed some: never return fewer
            return self._exact(q, k, allowed)
        if inside < count:
            extra = size + np.flatnonzero(allowed[size:])
            slots = np.concatenate([slots, extra])
            scores = np.concatenate([scores, self._codes()[extra].astype(np.float32) @ q])
            top = _top(scores, k)
            slots, scores = slots[top], scores[top]
        return slots, scores

    def _codes(self) -> np.ndarray:
        """The graph's fp16 codes as a (slots, dim) view, no copy (valid until an add)."""
        faiss = load_faiss()
        codes = faiss.downcast_index(self.hnsw.storage).codes
        return faiss.rev_swig_ptr(codes.data(), codes.size()).view(np.float16).reshape(-1, self.dim)

    def scan_below(self) -> float:
        """Allowed titles under which scanning their codes beats the graph walk. The scan
        costs about ``count``, the filtered walk about ``efSearch * n / count`` (see
        :meth:`_graph`): they cross near ``sqrt(efSearch * n)``, times ``narrow``. 2.5 fits
        100k titles (~10%); at 1M bench-api measured the crossing near 0.5% (the scan also
        pays for every slot it skips), so there the switch is conservative: filters passing
        0.5-2.8% are scanned in 6-13 ms where a 5 ms walk would do."""
        return self.narrow * float(np.sqrt(self.ef_search * self.n))

    def _exact(self, q: np.ndarray, k: int, allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.hnsw is not None:  # a flat scan of the graph's codes, allowed slots only
            faiss = load_faiss()
            sel, _bitmap = _selector(allowed)
            k = min(k, int(np.count_nonzero(allowed)))
            storage = faiss.downcast_index(self.hnsw.storage)
            dist, ids = storage.search(q[None, :], k, params=faiss.SearchParameters(sel=sel))
            keep = ids[0] >= 0
            return ids[0][keep], dist[0][keep]
        scores, lo, hi = self._scores(q, allowed)
        top = lo + _top(scores[lo:hi], min(k, int(np.count_nonzero(allowed))))
        return top, scores[top]

    def _scores(self, q: np.ndarray, allowed: np.ndarray) -> tuple[np.ndarray, int, int]:
        """``q`` . the vector of every allowed slot (float32, exact), -inf elsewhere, and the
        span of slots ``lo:hi`` outside which every score is -inf. Reads only the blocks that
        hold an allowed slot (or gathers a few); a long read is split across the scan
        threads, as one core's memory bandwidth bounds it (bench-api: 100k x 512 at a TV-PG
        ceiling, 9 ms on one thread)."""
        assert self.vecs is not None
        n = self.n
        scores = np.full(n, -np.inf, dtype=np.float32)
        blocks = -(-n // BLOCK)
        padded = np.zeros(blocks * BLOCK, dtype=bool)
        padded[:n] = allowed
        hot = padded.reshape(blocks, BLOCK).any(axis=1)
        count = int(np.count_nonzero(allowed))
        if count == 0:
            return scores, 0, 0
        if GATHER_COST * count < int(hot.sum()) * BLOCK:  # few and scattered
            idx = np.flatnonzero(allowed)
            scores[idx] = self.vecs[idx] @ q
            return scores, int(idx[0]), int(idx[-1]) + 1
        edges = np.flatnonzero(np.diff(hot.astype(np.int8), prepend=0, append=0))
        pairs = zip(edges[::2], edges[1::2], strict=True)
        runs = [(a * BLOCK, min(n, b * BLOCK)) for a, b in pairs]
        vecs = self.vecs

        def read(span: tuple[int, int]) -> None:
            scores[span[0] : span[1]] = vecs[span[0] : span[1]] @ q  # BLAS frees the GIL

        threads, rows = scan_threads(), sum(b - a for a, b in runs)
        if threads < 2 or rows < 2 * SCAN_SPLIT:
            for span in runs:
                read(span)
        else:
            step = max(SCAN_SPLIT, -(-rows // threads))
            pieces = [(a, min(b, a + step)) for lo, b in runs for a in range(lo, b, step)]
            list(_scan_pool(threads).map(read, pieces))
        lo, hi = runs[0][0], runs[-1][1]
        scores[lo:hi][~allowed[lo:hi]] = -np.inf
        return scores, lo, hi

    def _graph(
        self,
        q: np.ndarray,
        k: int,
        allowed: np.ndarray,
        share: float = 1.0,
        *,
        graph: Any = None,
        whole: bool = False,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The walk of ``graph`` (default: the whole graph), filtered inside faiss unless
        ``whole`` says every slot of it is allowed. The walk stops once ``efSearch`` visited
        titles, allowed or not, beat the next candidate: with a share ``s`` allowed, about
        ``s * efSearch`` of them can be results, so efSearch grows as ``1 / s`` (to
        ``ef_max``) to keep recall where a filter is selective (bench-api)."""
        faiss = load_faiss()
        ef = int(min(max(self.ef_search, k) / max(share, 1e-6), self.ef_max))
        params = faiss.SearchParametersHNSW(efSearch=max(self.ef_search, k, ef))
        held = None  # the selector and its bitmap must outlive the search
        if not whole:
            held = _selector(allowed)
            params.sel = held[0]
        graph = self.hnsw if graph is None else graph
        dist, ids = graph.search(q[None, :], k, params=params)
        del held
        keep = ids[0] >= 0
        return ids[0][keep], dist[0][keep]


def load_faiss() -> Any:
    """faiss, its OpenMP threads told to sleep rather than spin while they wait: a graph
    build on 2 busy cores took 3.8 s with spinning threads, 0.96 s with passive ones (the
    setting is read once, when faiss's own libgomp loads; an explicit one is kept)."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import faiss

    return faiss


def scan_threads() -> int:
    """Threads that split one long exact scan: ``COLDSTART_SCAN_THREADS``, default the cores
    up to 4; 1 = no split. Each runs one-thread BLAS, so no spinning BLAS threads compete
    with the other API workers when the machine is busy."""
    return int(os.environ.get("COLDSTART_SCAN_THREADS") or min(4, os.cpu_count() or 1))


@functools.cache
def _scan_pool(threads: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(threads, thread_name_prefix="scan")


def _unit_rows(v: np.ndarray) -> np.ndarray:
    """L2-normalise the rows of ``v`` in place (zero rows stay zero)."""
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    v /= np.where(norms == 0, 1.0, norms)
    return v


def _selector(allowed: np.ndarray) -> tuple[Any, np.ndarray]:
    """A faiss selector over the allowed slots, and the bitmap it points into."""
    faiss = load_faiss()
    bitmap = np.packbits(allowed, bitorder="little")
    return faiss.IDSelectorBitmap(len(allowed), faiss.swig_ptr(bitmap)), bitmap


class Catalog:
    """Every title's facts as arrays (one row per title) plus a :class:`SpaceIndex` per
    embedding space. Thread-safe: searches and updates take one lock."""

    def __init__(
        self,
        systems: Sequence[str],
        labels: Sequence[str],
        *,
        hnsw_min_size: int = 50_000,
        narrow: float = 2.5,
        ef_search: int = 128,
        hnsw_m: int = 32,
        ef_construction: int = 80,
    ) -> None:
        self.systems = tuple(systems)
        self.labels = tuple(labels)
        self.label_col = {label: i for i, label in enumerate(self.labels)}
        self.space_opts = {
            "hnsw_min_size": hnsw_min_size,
            "narrow": narrow,
            "ef_search": ef_search,
            "hnsw_m": hnsw_m,
            "ef_construction": ef_construction,
        }
        self.lock = threading.RLock()
        self.n = 0
        self.ids = np.zeros(0, dtype=np.int64)
        self.row_of: dict[int, int] = {}
        self.alive = np.zeros(0, dtype=bool)
        self.age = np.zeros(0, dtype=np.uint8)
        self.orders = {s: np.zeros(0, dtype=np.int8) for s in self.systems}
        self.duration = np.zeros(0, dtype=np.float64)
        self.released = np.zeros(0, dtype=np.float64)
        # (labels, rows): a label's scores are one contiguous row, so a search gathers the
        # admitted titles' scores of a few labels in 0.15 ms (100k titles, 37k admitted),
        # where a (rows, labels) matrix took 2.6 ms to gather the same cells
        self.label_scores = np.zeros((len(self.labels), 0), dtype=np.float32)
        self.facts: dict[int, TitleFacts] = {}
        self.spaces: dict[str, SpaceIndex] = {}
        self.space_versions: dict[str, str] = {}
        # Masks per filter (exclusions aside), valid while ``version`` stands: building a
        # slot mask gathers over every slot (~2 ms at 1M), and a few ceilings recur.
        self.version = 0
        self._masks: OrderedDict[tuple[Any, ...], tuple[int, np.ndarray]] = OrderedDict()

    # --- updates ------------------------------------------------------------------------

    def _row(self, title_id: int) -> int:
        row = self.row_of.get(title_id)
        if row is not None:
            return row
        row, self.n = self.n, self.n + 1
        self.ids = _grow(self.ids, self.n, -1)
        self.alive = _grow(self.alive, self.n, False)
        self.age = _grow(self.age, self.n, UNRATED)
        for s in self.systems:
            self.orders[s] = _grow(self.orders[s], self.n, -1)
        self.duration = _grow(self.duration, self.n, np.nan)
        self.released = _grow(self.released, self.n, 0.0)
        self.label_scores = _grow(self.label_scores, self.n, 0.0, axis=1)
        self.ids[row] = title_id
        self.row_of[title_id] = row
        return row

    def upsert(self, facts: TitleFacts, vectors: Mapping[str, np.ndarray] | None = None) -> None:
        with self.lock:
            self.version += 1
            row = self._row(facts.title_id)
            self.facts[facts.title_id] = facts
            age = facts.min_age
            self.age[row] = UNRATED if age is None else min(int(age), UNRATED - 1)
            for s in self.systems:
                self.orders[s][row] = -1
            for r in facts.ratings:  # the strictest rating per system counts
                if r.system in self.orders:
                    self.orders[r.system][row] = max(int(self.orders[r.system][row]), r.order)
            dur = facts.duration_s
            self.duration[row] = np.nan if dur is None else dur
            self.released[row] = facts.released_at
            self.label_scores[:, row] = 0.0
            for label, score in facts.labels.items():
                col = self.label_col.get(label)
                if col is not None:
                    self.label_scores[col, row] = score
            for space, vec in (vectors or {}).items():
                self.space(space, len(vec)).add(row, vec)
            self.alive[row] = True

    def bulk_load(
        self, facts: Sequence[TitleFacts], space: str, vectors: np.ndarray | None = None
    ) -> None:
        """Many titles at once (start-up, benchmarks): one vector add per space."""
        with self.lock:
            for f in facts:
                self.upsert(f)
            if vectors is not None:
                self.set_matrix(space, [f.title_id for f in facts], vectors)

    def set_vectors(self, space: str, items: Iterable[tuple[int, np.ndarray]]) -> None:
        with self.lock:
            self.version += 1
            for title_id, vec in items:
                self.space(space, len(vec)).add(self._row(title_id), vec)

    def set_matrix(self, space: str, title_ids: Sequence[int], matrix: np.ndarray) -> None:
        """Many titles' vectors in one add (start-up): one normalisation, one graph build."""
        with self.lock:
            self.version += 1
            rows = np.array([self._row(int(t)) for t in title_ids], dtype=np.int32)
            # slots in ceiling-age order: a ceiling then admits a few runs of the matrix
            self.space(space, matrix.shape[1]).add_many(rows, matrix, key=self.age[rows])

    def remove(self, title_id: int) -> None:
        with self.lock:
            row = self.row_of.get(title_id)
            if row is None:
                return
            self.version += 1
            self.alive[row] = False
            self.facts.pop(title_id, None)
            for index in self.spaces.values():
                index.remove(row)

    def space(self, name: str, dim: int) -> SpaceIndex:
        index = self.spaces.get(name)
        if index is None:
            index = self.spaces[name] = SpaceIndex(dim, **self.space_opts)
        elif index.dim != dim:
            raise ValueError(f"space {name} has dim {index.dim}, not {dim}")
        return index

    # --- reads --------------------------------------------------------------------------

    def __len__(self) -> int:
        return int(self.alive[: self.n].sum())

    def _cached(
        self, kind: tuple[str, ...], flt: Filter, build: Callable[[], np.ndarray]
    ) -> np.ndarray:
        """``build()`` once per mask kind, filter (exclusions aside) and catalogue version;
        callers copy before changing it. A recency filter is not kept: its cut-off moves
        with the clock, so every request would evict a recurring ceiling's masks."""
        if flt.released_after is not None:
            return build()
        key = (*kind, flt.ceiling, flt.max_duration_s)
        with self.lock:
            hit = self._masks.get(key)
            if hit is None or hit[0] != self.version:
                hit = self._masks[key] = (self.version, build())
            self._masks.move_to_end(key)
            while len(self._masks) > MASK_CACHE:
                self._masks.popitem(last=False)
            return hit[1]

    def _excluded_rows(self, flt: Filter) -> np.ndarray:
        rows = [self.row_of[t] for t in flt.exclude if t in self.row_of]
        return np.array(rows, dtype=np.int64)

    def mask(self, flt: Filter) -> np.ndarray:
        """The rows ``flt`` admits (a new array)."""
        m = self._cached(("rows",), flt, lambda: self._rows_mask(flt)).copy()
        m[self._excluded_rows(flt)] = False
        return m

    def slots(self, name: str, flt: Filter) -> np.ndarray:
        """The slots of space ``name`` whose titles ``flt`` admits (a new array)."""
        index = self.spaces[name]
        base = Filter(flt.ceiling, flt.max_duration_s, flt.released_after)
        m = self._cached(("slots", name), flt, lambda: index.allowed_slots(self.mask(base)))
        m = m.copy()
        rows = self._excluded_rows(flt)
        slots = index.row_slot[rows[rows < index.row_slot.shape[0]]]
        m[slots[slots >= 0]] = False
        return m

    def _rows_mask(self, flt: Filter) -> np.ndarray:
        n = self.n
        m = self.alive[:n].copy()
        c = flt.ceiling
        if c is not None:
            m &= self.age[:n] <= c.max_age
            if c.system in self.orders and c.max_order is not None:
                o = self.orders[c.system][:n]
                m &= (o < 0) | (o <= c.max_order)
        if flt.max_duration_s is not None:
            with np.errstate(invalid="ignore"):
                m &= self.duration[:n] <= flt.max_duration_s  # unknown (nan) fails
        if flt.released_after is not None:
            m &= self.released[:n] >= flt.released_after
        return m

    def eligible(self, flt: Filter, space: str | None = None) -> int:
        with self.lock:
            m = self.mask(flt)
            if space is not None:
                index = self.spaces.get(space)
                m = index.has(m) if index is not None else np.zeros_like(m)
            return int(m.sum())

    def vector(self, space: str, title_id: int) -> np.ndarray | None:
        with self.lock:
            index, row = self.spaces.get(space), self.row_of.get(title_id)
            if index is None or row is None or not self.alive[row]:
                return None
            return index.vector(row)

    def search(
        self, space: str, query: np.ndarray, k: int, flt: Filter, *, exact: bool = False
    ) -> list[tuple[int, float]]:
        """The k titles nearest ``query`` in ``space`` among those ``flt`` admits."""
        with self.lock:
            index = self.spaces.get(space)
            if index is None:
                return []
            rows, scores = index.search(query, k, self.slots(space, flt), exact=exact)
            return [(int(self.ids[r]), float(s)) for r, s in zip(rows, scores, strict=True)]

    def score_rows(
        self,
        k: int,
        flt: Filter,
        *,
        label_weights: Mapping[str, float] | None = None,
        space: str | None = None,
        query: np.ndarray | None = None,
        space_weight: float = 1.0,
    ) -> list[tuple[int, float]]:
        """Exact top-k over every admitted title of a blended score: label scores weighted
        by ``label_weights`` plus ``space_weight`` x cosine to ``query`` in ``space`` (0 for
        titles without a vector there)."""
        with self.lock:
            m = self.mask(flt)
            idx = np.flatnonzero(m)
            if len(idx) == 0 or k <= 0:
                return []
            scores = np.zeros(len(idx), dtype=np.float32)
            pairs = [(self.label_col[lab], w) for lab, w in (label_weights or {}).items()
                     if lab in self.label_col]  # fmt: skip
            if pairs:  # only the weighted labels' columns are read
                cols, weights = zip(*pairs, strict=True)
                picked = np.take(self.label_scores[list(cols)], idx, axis=1)
                scores += np.array(weights, dtype=np.float32) @ picked
            index = self.spaces.get(space) if space else None
            if index is not None and space is not None and query is not None:
                scores += space_weight * index.cosines(query, idx, self.slots(space, flt), k)
            top = _top(scores, k)
            return [(int(self.ids[idx[t]]), float(scores[t])) for t in top]

    def memory_per_title(self, space: str) -> float:
        with self.lock:
            index = self.spaces[space]
            return index.memory_bytes() / max(1, index.live)
