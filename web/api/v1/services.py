"""What /api/v1 does, behind the routes: the in-process catalogue index (loaded from the
database at first use, then followed through the outbox change feed), ceilings, similar
titles, recommendations, search, pages and export.

Each API process holds its own index and follows the same committed change feed, so every
process converges on the same state within one poll interval (``COLDSTART_API_POLL_S``,
0.25 s by default: bench-api measures a new title in ``similar`` and ``search`` results of
both uvicorn workers well within 1 s of its commit).

Index settings from the environment: ``COLDSTART_HNSW_MIN_SIZE`` (vectors of a space before
it moves to the HNSW graph), ``COLDSTART_HNSW_M``, ``COLDSTART_HNSW_EF_CONSTRUCTION``,
``COLDSTART_HNSW_EF_SEARCH``. Once the index is loaded, BLAS (NumPy, MiniLM) and OpenMP
(faiss) run ``COLDSTART_API_THREADS`` threads (1): uvicorn runs a process per core, and a
second thread per query only spins against the other processes (bench-api: a 20k x 512
product took 14 ms at the median with 2 BLAS threads on a busy 2-core machine, 1.4-4.7 ms
with one). One long exact scan is instead split across ``COLDSTART_SCAN_THREADS`` threads
(the cores, up to 4), each with one-thread BLAS: one core's memory bandwidth bounds the scan,
and threads that finish sleep rather than spin. The HNSW graph keeps tier graphs per ceiling
age (``recommend.index``), built at load; titles added later are merged exactly, so a long-
running process with many new titles walks larger tiers until a restart re-lays them out.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import HTTPException, status

import taxonomy
from recommend import rank
from recommend.index import Catalog, Ceiling, Filter, TitleFacts, rating_fact
from recommend.query import MoodMatcher, parse
from storage import catalog as cat_store
from storage import repository as repo
from storage import vectors
from storage.db import session_scope
from storage.documents import title_document, title_summary
from storage.models import SpaceStatus
from web import heap
from web.api.v1.schemas import CeilingIn, RatingOut, TitleHit
from web.deps import env_number
from web.metrics import record_index
from workers.backoff import Backoff
from workers.errors import is_transient
from workers.settings import Settings

log = logging.getLogger(__name__)

SPACE_PREFERENCE = ("fused", "profile", "text", "visual", "style")
# Outbox ids come from a sequence at insert time, so a transaction may commit after one with
# a higher id: the feed re-reads ids it skipped for this long (and at most this many).
GAP_WAIT_S, GAP_MAX = 120.0, 10_000
FOLLOW_BACKOFF_MAX_S = 2.0  # polls while the database is down; catch-up within this
TEXT_SPACE = "text"


def style_words(shots: int, mean_luma: float | None, duration_s: float | None) -> tuple[str, ...]:
    """Plain words for a title's look and pace from its shots' stored features."""
    words: list[str] = []
    if mean_luma is not None:
        words += ["dark look"] if mean_luma < 0.3 else ["bright look"] if mean_luma > 0.6 else []
    if shots and duration_s:
        cuts_per_min = shots / (duration_s / 60.0)
        words += ["slow pace"] if cuts_per_min < 8 else ["fast pace"] if cuts_per_min > 25 else []
    return tuple(words)


def facts_for(row: cat_store.IndexRow, tax: Any) -> TitleFacts:
    ratings = [
        rating_fact(
            tax, r.system, r.rating, trusted=r.is_final or not r.needs_review, min_age=r.min_age
        )
        for r in row.ratings
    ]
    labels = {
        t.label: (t.score if t.score is not None else 1.0)
        for t in row.tags
        if t.facet in ("mood", "tone")
    }
    created = row.created_at
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return TitleFacts(
        title_id=row.title_id,
        name=row.name,
        ratings=tuple(r for r in ratings if r is not None),
        duration_s=row.duration_s,
        released_at=created.timestamp(),
        labels=labels,
        style=style_words(row.shots, row.mean_luma, row.duration_s),
        artwork=row.artwork,
    )


class Recommender:
    """One per API process (``app.state.recommender``)."""

    def __init__(
        self,
        settings: Settings,
        catalog: Catalog | None = None,
        *,
        follow: bool = True,
        poll_s: float | None = None,
        matcher: MoodMatcher | None = None,
    ) -> None:
        self.settings = settings
        self.tax = taxonomy.load()
        self.catalog = catalog
        self.follow = follow
        self.poll_s = poll_s if poll_s is not None else env_number("COLDSTART_API_POLL_S", 0.25)
        self.last_event = 0
        self._gaps: dict[int, float] = {}  # skipped event id -> when first missed
        self._matcher = matcher
        self._encoder: Any = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    @property
    def url(self) -> str:
        return self.settings.effective_database_url

    # --- loading and following ------------------------------------------------------------

    def new_catalog(self) -> Catalog:
        labels = [lab.id for f in ("mood", "tone") for lab in self.tax.labels(f)]
        return Catalog(
            [s.id for s in self.tax.rating_systems],
            labels,
            hnsw_min_size=int(env_number("COLDSTART_HNSW_MIN_SIZE", 50_000)),
            hnsw_m=int(env_number("COLDSTART_HNSW_M", 32)),
            ef_construction=int(env_number("COLDSTART_HNSW_EF_CONSTRUCTION", 80)),
            ef_search=int(env_number("COLDSTART_HNSW_EF_SEARCH", 128)),
        )

    @property
    def is_ready(self) -> bool:
        """The index is loaded (requests no longer wait for it)."""
        return self.catalog is not None

    def ready(self) -> Catalog:
        with self._lock:
            if self.catalog is None:
                self.catalog = self.load()  # the HNSW build may use every core
                heap.settle()  # the index lives as long as the process
                from threadpoolctl import threadpool_limits

                threadpool_limits(int(env_number("COLDSTART_API_THREADS", 1)))
                record_index(len(self.catalog), self.last_event)
            if self.follow and self._thread is None:
                self._thread = threading.Thread(target=self._follow, daemon=True)
                self._thread.start()
            return self.catalog

    def load(self) -> Catalog:
        cat = self.new_catalog()
        with heap.collector_paused(), session_scope(self.url) as session:
            self.last_event = cat_store.last_event_id(session)
            for row in cat_store.iter_index_rows(session):
                cat.upsert(facts_for(row, self.tax))
            for space in vectors.list_spaces(session):
                if space.status == SpaceStatus.ACTIVE:
                    ids, matrix = vectors.load_title_matrix(session, space)
                    cat.set_matrix(space.name, ids.tolist(), matrix)
                    cat.space_versions[space.name] = space.version
        return cat

    def refresh(self, title_id: int) -> None:
        """Re-read one title (facts and active vectors) into the index."""
        cat = self.catalog
        if cat is None:
            return
        with session_scope(self.url) as session:
            row = next(cat_store.iter_index_rows(session, title_ids=[title_id]), None)
            if row is None:
                cat.remove(title_id)
                return
            found = {}
            for space in vectors.list_spaces(session):
                if space.status == SpaceStatus.ACTIVE:
                    got = vectors.title_vector(session, title_id, space)
                    if got is not None:
                        found[space.name] = got[0]
            cat.upsert(facts_for(row, self.tax), found)

    def apply_events(self) -> int:
        """Apply committed change events after the last one seen, and those skipped ids
        that have committed since; the number applied."""
        with session_scope(self.url) as session:
            events = list(cat_store.events_after(session, self.last_event, limit=500))
            if self._gaps:
                events += cat_store.events_with_ids(session, list(self._gaps))
            todo = [(e.id, e.topic, e.title_id) for e in events]
        self._track_gaps([i for i, _, _ in todo])
        reload = any(topic.startswith("space.") for _, topic, _ in todo)
        if reload:
            self.catalog = self.load()
            heap.settle()  # frees the old index's cycles, freezes the new one
        else:
            for title_id in dict.fromkeys(t for _, _, t in todo if t is not None):
                self.refresh(title_id)
        if todo:
            self.last_event = max(self.last_event, max(i for i, _, _ in todo))
        return len(todo)

    def _track_gaps(self, seen: list[int]) -> None:
        now = time.monotonic()
        for event_id in seen:
            self._gaps.pop(event_id, None)
        newer = [i for i in seen if i > self.last_event]
        if newer:
            missing = set(range(self.last_event + 1, max(newer))) - set(newer)
            for event_id in sorted(missing)[:GAP_MAX]:
                self._gaps[event_id] = now
        self._gaps = {
            i: at for i, at in sorted(self._gaps.items())[-GAP_MAX:] if now - at < GAP_WAIT_S
        }

    def _follow(self) -> None:
        # A failed poll is retried; while the database is down, with a back-off and one log
        # line per outage rather than a traceback four times a second.
        backoff = Backoff(self.poll_s, FOLLOW_BACKOFF_MAX_S)
        while not self._stop.wait(backoff.delay_s):
            try:
                self.apply_events()
            except Exception as err:
                if not is_transient(err):
                    log.exception("change feed poll failed")
                elif backoff.failed():
                    log.warning("change feed paused, database unreachable: %s", err)
                continue
            lasted = backoff.succeeded()
            if lasted is not None:
                log.warning("change feed resumed after %.1f s", lasted)
            if self.catalog is not None:
                record_index(len(self.catalog), self.last_event)

    def close(self) -> None:
        self._stop.set()

    def wait_closed(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s; True once :meth:`close` was called."""
        return self._stop.wait(timeout)

    # --- ceilings and filters ---------------------------------------------------------------

    def ceiling(self, body: CeilingIn | None) -> Ceiling | None:
        if body is None or (body.rating is None and body.max_age is None):
            return None
        out: Ceiling | None = None
        if body.rating is not None:
            if body.system is None:
                raise HTTPException(422, "a rating ceiling names its system")
            try:
                out = Ceiling.for_rating(self.tax, body.system, body.rating)
            except KeyError as err:
                raise HTTPException(422, f"unknown ceiling: {err.args[0]}") from err
        if body.max_age is not None:
            age = body.max_age if out is None else min(body.max_age, out.max_age)
            out = Ceiling(age, out.system, out.rating, out.max_order) if out else Ceiling(age)
        return out

    def space(self, cat: Catalog, wanted: str | None) -> str:
        if wanted is not None:
            if wanted not in cat.spaces:
                raise HTTPException(404, f"no active space {wanted!r}")
            return wanted
        for name in (*SPACE_PREFERENCE, *sorted(cat.spaces)):
            if name in cat.spaces:
                return name
        raise HTTPException(404, "no embedding space is loaded")

    def hit(self, cat: Catalog, title_id: int, score: float, **extra: Any) -> TitleHit:
        f = cat.facts[title_id]
        ratings = [
            RatingOut(system=r.system, rating=r.rating, min_age=r.min_age, trusted=r.trusted)
            for r in f.ratings
        ]
        return TitleHit(
            id=title_id, name=f.name, score=score, duration_s=f.duration_s, ratings=ratings, **extra
        )

    # --- endpoints ------------------------------------------------------------------------

    def similar(
        self, title_id: int, k: int, space: str | None, ceiling: Ceiling | None
    ) -> tuple[str, list[TitleHit]]:
        cat = self.ready()
        name = self.space(cat, space)
        vec = cat.vector(name, title_id)
        if vec is None:
            raise HTTPException(404, f"title {title_id} has no vector in {name}")
        flt = Filter(ceiling=ceiling, exclude=frozenset({title_id}))
        return name, [self.hit(cat, i, s) for i, s in cat.search(name, vec, k, flt)]

    def recommend(self, body: Any) -> tuple[str, Ceiling | None, list[TitleHit]]:
        cat = self.ready()
        name = self.space(cat, body.space)
        ceiling = self.ceiling(body.ceiling)
        after = None
        if body.only_new_days is not None:
            after = (datetime.now(UTC) - timedelta(days=body.only_new_days)).timestamp()
        flt = Filter(ceiling, body.max_duration_s, after, frozenset(body.exclude))
        moods = [lab.id for lab in self.tax.labels("mood")]
        recs = rank.recommend(
            cat,
            space=name,
            liked=body.liked_title_ids,
            disliked=body.disliked_title_ids,
            k=body.k,
            flt=flt,
            diversity=body.diversity,
            moods=moods,
        )
        hits = [
            self.hit(cat, r.title_id, r.score, reason=r.reason, shared=r.shared, artwork=r.artwork)
            for r in recs
        ]
        return name, ceiling, hits

    def matcher(self) -> MoodMatcher | None:
        with self._lock:
            if self._matcher is None:
                try:
                    from analyzers.encoders.text import SentenceEncoder

                    # A query's few tokens encode in about half the time in onnxruntime,
                    # and two threads take a third off that (a fifth more CPU).
                    engine = os.environ.get("COLDSTART_QUERY_ENCODER", "onnxruntime")
                    threads = env_number("COLDSTART_QUERY_THREADS", min(2, os.cpu_count() or 1))
                    self._encoder = SentenceEncoder(engine=engine, threads=int(threads))
                    self._matcher = MoodMatcher(self.tax, self._encoder.encode)
                except Exception as err:  # EncoderUnavailable: search on filters alone
                    log.warning("MiniLM unavailable for search: %s", err)
                    return None
            return self._matcher

    def search(self, query: str, k: int, ceiling: Ceiling | None) -> tuple[Any, list[TitleHit]]:
        cat = self.ready()
        matcher = self.matcher()
        got = parse(query, self.tax, matcher, ceiling=ceiling)
        flt = Filter(ceiling=got.ceiling, max_duration_s=got.max_duration_s)
        weights = {m.label: m.score for m in got.moods}
        qvec = None
        text = cat.spaces.get(TEXT_SPACE)
        if got.free_text and matcher is not None and text is not None:
            vec = matcher.vectors([got.free_text])[0]
            qvec = vec if len(vec) == text.dim else None
        scored = cat.score_rows(k, flt, label_weights=weights, space=TEXT_SPACE, query=qvec)
        return got, [self.hit(cat, i, s) for i, s in scored]

    def title(self, title_id: int, ceiling: Ceiling | None) -> dict[str, Any]:
        if ceiling is not None:
            facts = self.ready().facts.get(title_id)
            if facts is None or not ceiling.admits(facts):
                raise HTTPException(404, f"title {title_id} not found under this ceiling")
        with session_scope(self.url) as session:
            title = repo.get_title(session, title_id)
            if title is None:
                raise HTTPException(404, f"no title {title_id}")
            return title_document(session, title)

    def page(
        self, updated_since: datetime | None, cursor: str | None, limit: int
    ) -> tuple[list[dict[str, Any]], str | None]:
        after = decode_cursor(cursor) if cursor else None
        with session_scope(self.url) as session:
            rows = cat_store.titles_page(
                session, updated_since=updated_since, after=after, limit=limit
            )
            docs = [title_summary(t) for t in rows]
            last = (rows[-1].updated_at, rows[-1].id) if len(rows) == limit else None
        return docs, encode_cursor(*last) if last else None

    def changes(self, after: int, limit: int) -> list[dict[str, Any]]:
        with session_scope(self.url) as session:
            return [
                cat_store.event_document(e) for e in cat_store.events_after(session, after, limit)
            ]

    def export(self, since: datetime | None, space: str | None) -> Iterator[dict[str, Any]]:
        with session_scope(self.url) as session:
            yield from cat_store.export_records(session, since=since, space=space)


def encode_cursor(at: datetime, title_id: int) -> str:
    import base64

    return base64.urlsafe_b64encode(f"{at.isoformat()}|{title_id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    import base64
    import binascii

    try:
        at, _, tid = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        return datetime.fromisoformat(at), int(tid)
    except (ValueError, binascii.Error, UnicodeDecodeError) as err:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "malformed cursor") from err


def wait_for(predicate: Any, timeout: float = 5.0, every: float = 0.02) -> bool:
    """Poll ``predicate`` until true or ``timeout`` (tests, benchmarks)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(every)
    return bool(predicate())
