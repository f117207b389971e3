"""bench-api: the recommender API (issue 16) on synthetic catalogues.

Catalogue: clustered synthetic titles, not uniform noise. A title's ``fused`` vector (512-d)
is one of 256 gaussian centroids plus a spread inside a shared 48-d subspace and a little
isotropic noise (cosine to a same-cluster title ~0.7, intrinsic dimension ~48, like real
embeddings and unlike noise). Its ``text`` vector (384-d, MiniLM's size) is made the same
way. Each cluster has three mood/tone labels (the title's scores jitter around them) and a
maturity lean: ratings are drawn half from the cluster's lean and half from the catalogue's
mix (5% unrated, 5% needing review, the rest trusted: ages 0, 7, 8, 10, 13/14, 17 at 5, 5,
15, 15, 30, 30%), so a ceiling removes whole neighbourhoods, the hard case for a filtered
graph. Ceilings: ``us-tv TV-PG`` (about 40% pass) for latency, viewer age 7 (about 10%
pass) for the filtered recall.

1. ``http``: 1k, 10k, 100k titles in PostgreSQL, seeded with COPY (titles, tag proposals,
   rating suggestions, both spaces' vectors; the index reads them through the product's
   loader), served by uvicorn with 2 workers, exact search (``COLDSTART_HNSW_MIN_SIZE`` above
   the catalogue). Per size: p50/p95/p99 of ``similar``, ``recommendations`` and ``search``
   (k=20, the TV-PG ceiling; every search has new free text, so MiniLM encodes each one; its
   words recur, as real queries' do), one client, sequential. At 100k: throughput of 8
   concurrent clients (mixed endpoints), and freshness: a new title written through the
   repository functions (tags, rating, both vectors, ``title.enriched`` in one transaction);
   the time from its commit to its first appearance in ``similar`` (as a near-duplicate of a
   known title) and in ``search`` (its text vector is its query's encoding), polled on
   fresh connections so either worker may answer; also the time until 8 fresh polls in a
   row show it (both workers, in all likelihood).
2. ``index``: 1M titles on the index layer, in-process (seeding 1M rows through PostgreSQL
   and loading them into two uvicorn workers does not fit the benchmark's time on 2 cores):
   the same catalogue in one Catalog with an exact float32 space and an HNSW space (fp16
   codes); ``similar``/``recommendations``/``search`` through the same service code as the API
   (search at 1M has no ``text`` space: labels and the ceiling), exact and HNSW in the same
   run; recall@20 of HNSW against exact, unfiltered and with the 10% ceiling; index memory;
   build time; graph walk against the exact scan of the allowed codes at narrow filters
   (where the ``narrow`` switch pays).

Writes benchmarks/results/api.{md,json}; exits 1 when a goal is missed.
``--quick`` runs small sizes (development only: written under var/bench-api/quick).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.provenance import provenance, provenance_md  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
DIM, TEXT_DIM, CLUSTERS, SUBSPACE = 512, 384, 256, 48
K = 20
LAT_CEILING = {"system": "us-tv", "rating": "TV-PG"}
NARROW_AGE = 7  # viewer age whose ceiling about 10% of titles pass
AGE_CLASSES = [  # (min age, probability, [(system, rating)])
    (0, 0.05, [("us-tv", "TV-Y"), ("mpaa", "G")]),
    (7, 0.05, [("us-tv", "TV-Y7"), ("us-tv", "TV-G")]),
    (8, 0.15, [("mpaa", "PG"), ("bbfc", "PG")]),
    (10, 0.15, [("us-tv", "TV-PG")]),
    (13, 0.30, [("mpaa", "PG-13"), ("us-tv", "TV-14")]),
    (17, 0.30, [("mpaa", "R"), ("us-tv", "TV-MA")]),
]
UNRATED, DOUBTFUL = 0.05, 0.05
# HNSW settings used at 1M (the product's defaults unless changed here and said so)
HNSW = {"hnsw_m": 32, "ef_construction": 80, "ef_search": 128}
EF_SWEEP = (64, 256)  # efSearch values measured beside the default (recall and latency)
ADJ = [
    "stormy",
    "quiet",
    "golden",
    "frozen",
    "ancient",
    "hidden",
    "broken",
    "distant",
    "silver",
    "restless",
    "secret",
    "crowded",
    "lonely",
    "burning",
    "narrow",
    "wooden",
    "electric",
    "forgotten",
    "painted",
    "northern",
]
NOUN = [
    "lighthouse",
    "harbour",
    "orchard",
    "railway",
    "library",
    "glacier",
    "vineyard",
    "monastery",
    "factory",
    "circus",
    "observatory",
    "canal",
    "bakery",
    "island",
    "embassy",
    "garage",
    "theatre",
    "mine",
    "ferry",
    "bridge",
]
MOOD_WORDS = [
    "eerie",
    "spooky",
    "joyful",
    "sad",
    "romantic",
    "tense",
    "calm",
    "funny",
    "dark",
    "hopeful",
    "cosy",
    "epic",
    "playful",
    "gritty",
    "dreamy",
]
VIEWER = ["okay for a 10-year-old", "for the kids", "family movie night", "for teens", ""]


# --- the synthetic catalogue ------------------------------------------------------------------


@dataclass
class Block:
    """Titles ``start .. start+n-1`` (synthetic index; the database id is index + 1)."""

    start: int
    cluster: np.ndarray
    fused: np.ndarray
    text: np.ndarray | None
    labels: np.ndarray  # n x 3 label indices
    scores: np.ndarray  # n x 3
    age_class: np.ndarray  # -2 unrated, -1 doubtful, else index into AGE_CLASSES
    rating_pick: np.ndarray
    duration: np.ndarray
    age_days: np.ndarray


class Synth:
    def __init__(self, labels: list[str], seed: int = 7) -> None:
        rng = np.random.default_rng(seed)
        self.labels = labels
        self.centroids = rng.standard_normal((CLUSTERS, DIM), dtype=np.float32)
        self.basis = rng.standard_normal((SUBSPACE, DIM), dtype=np.float32) / np.sqrt(SUBSPACE)
        self.t_centroids = rng.standard_normal((CLUSTERS, TEXT_DIM), dtype=np.float32)
        self.t_basis = rng.standard_normal((SUBSPACE, TEXT_DIM), dtype=np.float32) / np.sqrt(
            SUBSPACE
        )
        self.cluster_labels = np.stack(
            [rng.choice(len(labels), 3, replace=False) for _ in range(CLUSTERS)]
        )
        probs = np.array([p for _, p, _ in AGE_CLASSES])
        probs /= probs.sum()
        self.class_probs = probs
        lean = rng.choice(len(AGE_CLASSES), CLUSTERS, p=probs)
        self.cluster_probs = 0.5 * probs[None, :] + 0.5 * np.eye(len(AGE_CLASSES))[lean]

    def block(self, start: int, n: int, *, text: bool = True) -> Block:
        rng = np.random.default_rng(1_000_003 * (start + 1) + n)
        cluster = rng.integers(0, CLUSTERS, n)
        fused = np.empty((n, DIM), dtype=np.float32)
        tvec = np.empty((n, TEXT_DIM), dtype=np.float32) if text else None
        step = 50_000
        for a in range(0, n, step):
            b = min(n, a + step)
            c = cluster[a:b]
            z = rng.standard_normal((b - a, SUBSPACE), dtype=np.float32)
            v = self.centroids[c] + 0.6 * (z @ self.basis)
            v += 0.15 * rng.standard_normal((b - a, DIM), dtype=np.float32)
            fused[a:b] = v / np.linalg.norm(v, axis=1, keepdims=True)
            if tvec is not None:
                z = rng.standard_normal((b - a, SUBSPACE), dtype=np.float32)
                t = self.t_centroids[c] + 0.6 * (z @ self.t_basis)
                t += 0.15 * rng.standard_normal((b - a, TEXT_DIM), dtype=np.float32)
                tvec[a:b] = t / np.linalg.norm(t, axis=1, keepdims=True)
        scores = np.clip(0.75 + 0.15 * rng.standard_normal((n, 3)), 0.05, 1.0)
        u = rng.random(n)
        cum = self.cluster_probs[cluster].cumsum(axis=1)
        age_class = (rng.random(n)[:, None] > cum).sum(axis=1)
        age_class = np.where(u < UNRATED, -2, np.where(u < UNRATED + DOUBTFUL, -1, age_class))
        return Block(
            start=start,
            cluster=cluster,
            fused=fused,
            text=tvec,
            labels=self.cluster_labels[cluster],
            scores=scores.astype(np.float32),
            age_class=age_class,
            rating_pick=rng.integers(0, 2, n),
            duration=rng.uniform(600, 9000, n),
            age_days=rng.uniform(0, 365, n),
        )

    @staticmethod
    def rating(b: Block, i: int) -> tuple[str, str, bool] | None:
        """(system, rating, needs_review) of the block's i-th title, None when unrated."""
        cls = int(b.age_class[i])
        if cls == -2:
            return None
        if cls == -1:  # a doubtful suggestion, any rating
            choices = [sr for _, _, srs in AGE_CLASSES for sr in srs]
            system, rating = choices[int(b.rating_pick[i] * 7 + i) % len(choices)]
            return system, rating, True
        options = AGE_CLASSES[cls][2]
        system, rating = options[int(b.rating_pick[i]) % len(options)]
        return system, rating, False


# --- PostgreSQL -------------------------------------------------------------------------------


def create_db() -> tuple[str, str]:
    import psycopg

    from storage import migrate

    name = f"coldstart_bench_api_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    migrate.upgrade(url)
    return name, url


def drop_db(name: str) -> None:
    import psycopg

    from storage.db import dispose_engines

    dispose_engines()
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def register(url: str) -> str:
    """The two active spaces and an API token without a practical rate limit."""
    from storage import catalog, vectors
    from storage.db import session_scope
    from storage.models import SpaceStatus

    with session_scope(url) as s:
        for space, dim in (("fused", DIM), ("text", TEXT_DIM)):
            vectors.register_space(
                s, name=space, version="bench", dim=dim, model="synthetic",
                status=SpaceStatus.ACTIVE,
            )  # fmt: skip
        token, _ = catalog.create_token(s, "bench", ["read"], rate_limit_per_min=10**8)
    return token


def seed(db: str, synth: Synth, start: int, n: int, facets: dict[str, str]) -> np.ndarray:
    """Titles start+1 .. start+n with tags, a rating suggestion and both vectors, by COPY;
    returns their clusters."""
    import psycopg

    tax = _taxonomy()
    b = synth.block(start, n)
    now = datetime.now(UTC)
    raw = f"postgresql://postgres@127.0.0.1:5432/{db}"
    with psycopg.connect(raw) as conn, conn.cursor() as cur:
        with cur.copy(
            "COPY titles (id, name, source_uri, source_key, content_sha256, size_bytes, status,"
            " duration_s, created_at, updated_at) FROM STDIN"
        ) as cp:
            for i in range(n):
                tid = start + i + 1
                at = now - timedelta(days=float(b.age_days[i]))
                row = (tid, f"Title {tid}", f"s3://in/t{tid}.mp4", f"t{tid}.mp4", f"{tid:064x}")
                cp.write_row((*row, 1, "enriched", float(b.duration[i]), at, at))
        with cur.copy(
            "COPY tag_proposals (title_id, facet, label, score, evidence, model_version,"
            " created_at) FROM STDIN"
        ) as cp:
            for i in range(n):
                for j in range(3):
                    label = synth.labels[int(b.labels[i, j])]
                    cp.write_row((start + i + 1, facets[label], label, float(b.scores[i, j]),
                                  "[]", "synthetic", now))  # fmt: skip
        with cur.copy(
            "COPY rating_suggestions (title_id, system, rating, min_age, confidence,"
            " needs_review, drivers, reasons, created_at) FROM STDIN"
        ) as cp:
            for i in range(n):
                got = Synth.rating(b, i)
                if got is not None:
                    system, rating, doubtful = got
                    age = tax.rating_system(system).rating(rating).min_age
                    cp.write_row((start + i + 1, system, rating, age, 0.5 if doubtful else 0.9,
                                  doubtful, "[]", "[]", now))  # fmt: skip
        with cur.copy(
            "COPY embeddings (title_id, space, scope, ref_idx, model_version, dim, vector,"
            " created_at) FROM STDIN"
        ) as cp:
            for space, mat in (("fused", b.fused), ("text", b.text)):
                assert mat is not None
                for i in range(n):
                    cp.write_row((start + i + 1, space, "title", -1, "bench", mat.shape[1],
                                  mat[i].tobytes(), now))  # fmt: skip
        cur.execute("SELECT setval('titles_id_seq', (SELECT max(id) FROM titles))")
    # A bulk load leaves PostgreSQL hundreds of MB of dirty pages to write back and new rows
    # for autovacuum to visit, work that would otherwise run on these two cores during the
    # timed requests: vacuum and flush now, so the API is measured against a settled database.
    with psycopg.connect(raw, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
        conn.execute("CHECKPOINT")
    return b.cluster


_TAX = None


def _taxonomy():  # type: ignore[no-untyped-def]
    global _TAX
    if _TAX is None:
        import taxonomy

        _TAX = taxonomy.load()
    return _TAX


def _labels_and_facets() -> tuple[list[str], dict[str, str]]:
    tax = _taxonomy()
    facets = {lab.id: f for f in ("mood", "tone") for lab in tax.labels(f)}
    return list(facets), facets


# --- the HTTP side ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``uvicorn --factory web.app:create_app --workers 2`` on loopback."""

    def __init__(
        self, url: str, n_titles: int, *, exact: bool = True, env: dict | None = None
    ) -> None:
        self.port = free_port()
        extra, env = env, dict(os.environ)
        env.pop("COLDSTART_HNSW_MIN_SIZE", None)
        env.pop("COLDSTART_QUERY_ENCODER", None)
        env.update(
            COLDSTART_DATABASE_URL=url,
            COLDSTART_DATA_DIR=str(ROOT / "var" / "bench-api"),
            HF_HUB_OFFLINE="1",
            PYTHONPATH=str(ROOT),
        )
        if exact:  # the goals' exact search; otherwise the product's default index
            env["COLDSTART_HNSW_MIN_SIZE"] = str(max(10 * n_titles, 10**6))
        env.update(extra or {})
        # uvicorn kills a worker that does not answer its 5 s ping; loading 100k titles on a
        # busy 2-core machine can starve the ping thread, so the benchmark allows 60 s and
        # counts restarts (the log says "died")
        self.log = ROOT / "var" / "bench-api" / f"uvicorn-{n_titles}.log"
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "web.app:create_app",
             "--workers", "2", "--host", "127.0.0.1", "--port", str(self.port),
             "--log-level", "info", "--no-access-log", "--timeout-worker-healthcheck", "60"],
            cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
            stderr=self.log.open("w"),
        )  # fmt: skip
        self.base = f"http://127.0.0.1:{self.port}"

    def wait_up(self, timeout: float = 120.0) -> None:
        import httpx

        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                if httpx.get(self.base + "/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError("uvicorn exited")
            time.sleep(0.2)
        raise TimeoutError("uvicorn did not start")

    def worker_rss_mb(self) -> list[float]:
        """Resident memory of each uvicorn worker (the index, MiniLM, the app)."""
        pid = self.proc.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        out = []
        for child in children:
            status = Path(f"/proc/{child}/status").read_text()
            kb = next(int(x.split()[1]) for x in status.splitlines() if x.startswith("VmRSS"))
            out.append(round(kb / 1024, 0))
        return out

    def stop(self) -> int:
        """Stop; the number of workers uvicorn had to restart."""
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        return self.log.read_text(errors="replace").count(" died")


class Requests:
    """The three timed requests, with bodies drawn from the catalogue."""

    def __init__(self, clusters: np.ndarray, token: str, seed: int = 11) -> None:
        n = len(clusters)
        self.n, self.rng = n, random.Random(seed)
        self.headers = {"Authorization": f"Bearer {token}"}
        self.by_cluster: dict[int, list[int]] = {}
        for i, c in enumerate(clusters.tolist()):
            self.by_cluster.setdefault(c, []).append(i + 1)
        combos = [(a, b) for a in ADJ for b in NOUN]
        random.Random(seed).shuffle(combos)
        self.free = iter(combos * 50)  # distinct free text for the first 400 searches

    def similar(self) -> tuple[str, str, dict | None]:
        tid = self.rng.randint(1, self.n)
        q = "&".join(f"{k if k != 'rating' else 'max_rating'}={v}" for k, v in LAT_CEILING.items())
        return "GET", f"/api/v1/titles/{tid}/similar?k={K}&space=fused&{q}", None

    def recommendations(self) -> tuple[str, str, dict | None]:
        members = self.by_cluster[self.rng.choice(list(self.by_cluster))]
        liked = self.rng.sample(members, min(3, len(members)))
        body = {"liked_title_ids": liked, "k": K, "ceiling": LAT_CEILING, "space": "fused"}
        return "POST", "/api/v1/recommendations", body

    def search(self) -> tuple[str, str, dict | None]:
        adj, noun = next(self.free)
        mood, viewer = self.rng.choice(MOOD_WORDS), self.rng.choice(VIEWER)
        query = f"something {mood} about a {adj} {noun} {viewer}".strip()
        return "POST", "/api/v1/search", {"query": query, "k": K, "ceiling": LAT_CEILING}


def call(client, req: tuple[str, str, dict | None], headers: dict, timeout: float = 60) -> dict:  # type: ignore[no-untyped-def]
    method, path, body = req
    r = client.request(method, path, json=body, headers=headers, timeout=timeout)
    if r.status_code != 200:
        raise RuntimeError(f"{method} {path} -> {r.status_code}: {r.text[:300]}")
    return r.json()


def above_ceiling(hits: list[dict]) -> int:
    """Results that break the TV-PG ceiling (an age above 10, or TV-14/TV-MA)."""
    bad = 0
    for h in hits:
        rs = h["ratings"]
        untrusted = not rs or not any(r["trusted"] for r in rs)
        too_old = not untrusted and max(r["min_age"] for r in rs) > 10
        above = any(r["system"] == "us-tv" and r["rating"] in ("TV-14", "TV-MA") for r in rs)
        bad += untrusted or too_old or above
    return bad


def pct(ms: list[float]) -> dict[str, float]:
    a = np.asarray(ms)
    return {
        "n": len(ms),
        "p50_ms": round(float(np.percentile(a, 50)), 2),
        "p95_ms": round(float(np.percentile(a, 95)), 2),
        "p99_ms": round(float(np.percentile(a, 99)), 2),
    }


def in_threads(calls: list[tuple]) -> None:
    """Run ``(function, args)`` calls at once, a thread each; re-raise the first error."""
    errors: list[Exception] = []

    def guarded(fn, args) -> None:  # type: ignore[no-untyped-def]
        try:
            fn(*args)
        except Exception as err:  # raised below, in the caller's thread
            errors.append(err)

    threads = [threading.Thread(target=guarded, args=c) for c in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def warm(server: Server, reqs: Requests) -> float:
    """Until both workers have loaded the index and MiniLM: rounds of 8 concurrent requests
    on fresh connections, until a whole round answers within 1 s (at least 3 rounds)."""
    import httpx

    t0 = time.perf_counter()
    calm = 0
    while calm < 3:
        times: list[float] = []

        def one(kind: str, times: list[float] = times) -> None:
            with httpx.Client(base_url=server.base) as c:
                t = time.perf_counter()
                call(c, getattr(reqs, kind)(), reqs.headers, timeout=600)  # may wait for a load
                times.append(time.perf_counter() - t)

        in_threads([(one, (kind,)) for kind in ("similar", "recommendations", "search") * 3])
        calm = calm + 1 if max(times) < 1.0 else 0
        if time.perf_counter() - t0 > 600:
            raise TimeoutError("the API did not warm up in 10 minutes")
    return time.perf_counter() - t0


def latency(server: Server, reqs: Requests, n_req: int) -> dict:
    import httpx

    out: dict = {}
    with httpx.Client(base_url=server.base) as c:
        for kind in ("similar", "recommendations", "search"):
            ms, short, bad = [], 0, 0
            for _ in range(n_req):
                req = getattr(reqs, kind)()
                t = time.perf_counter()
                got = call(c, req, reqs.headers)
                ms.append((time.perf_counter() - t) * 1000)
                short += len(got["results"]) < K
                bad += above_ceiling(got["results"])
            out[kind] = {**pct(ms), "fewer_than_k": short, "above_ceiling": bad}
    return out


def throughput(server: Server, reqs: Requests, seconds: float, clients: int = 8) -> dict:
    import httpx

    kinds = ("similar", "recommendations", "search")
    lock = threading.Lock()
    done: dict[str, list[float]] = {k: [] for k in kinds}
    errors: list[str] = []
    stop = time.perf_counter() + seconds

    def client(i: int) -> None:
        with httpx.Client(base_url=server.base) as c:
            j = i
            while time.perf_counter() < stop:
                kind = kinds[j % 3]
                j += 1
                with lock:
                    req = getattr(reqs, kind)()
                t = time.perf_counter()
                try:
                    call(c, req, reqs.headers)
                except Exception as err:  # counted, reported
                    errors.append(str(err)[:200])
                    continue
                with lock:
                    done[kind].append((time.perf_counter() - t) * 1000)

    t0 = time.perf_counter()
    in_threads([(client, (i,)) for i in range(clients)])
    wall = time.perf_counter() - t0
    total = sum(len(v) for v in done.values())
    return {
        "clients": clients,
        "uvicorn_workers": 2,
        "seconds": round(wall, 1),
        "requests": total,
        "requests_per_s": round(total / wall, 1),
        "errors": len(errors),
        "error_sample": errors[:3],
        "per_endpoint": {k: pct(v) if v else None for k, v in done.items()},
    }


def freshness(server: Server, url: str, reqs: Requests, trials: int, encoder) -> dict:  # type: ignore[no-untyped-def]
    """Commit a new title, then poll ``similar`` of its near-duplicate and ``search`` for its
    phrase on fresh connections until it appears (and until 8 polls in a row show it)."""
    import hashlib

    import httpx

    from storage import repository as repo
    from storage import review, vectors
    from storage.db import session_scope

    rng = np.random.default_rng(5)
    firsts: dict[str, list[float]] = {"similar": [], "search": []}
    steady: dict[str, list[float]] = {"similar": [], "search": []}
    ceiling = "&".join(
        f"{'max_rating' if k == 'rating' else k}={v}" for k, v in LAT_CEILING.items()
    )
    for trial in range(trials):
        anchor = int(rng.integers(1, reqs.n + 1))
        words = rng.choice(NOUN, 3, replace=False)
        phrase = f"fresh {words[0]} near the {words[1]} and {words[2]} {trial}"
        text_vec = encoder.encode([phrase])[0]
        with session_scope(url) as s:
            space = {sp.name: sp for sp in vectors.list_spaces(s)}
            fused_anchor = vectors.title_vector(s, anchor, space["fused"])[0]
            name = f"fresh-{uuid.uuid4().hex[:8]}"
            title, _ = repo.get_or_create_title(
                s, sha256=hashlib.sha256(name.encode()).hexdigest(), size_bytes=1, name=name,
                source_uri=f"s3://in/{name}.mp4", source_key=f"{name}.mp4",
            )  # fmt: skip
            title.status, title.duration_s = "enriched", 1800.0
            review.save_proposals(
                s, title.id, [{"facet": "mood", "label": "eerie", "score": 0.9}], run_id=None,
                model_version="bench", taxonomy_version="1", taxonomy_fingerprint=None,
            )  # fmt: skip
            review.save_rating_suggestions(
                s, title.id, [{"system": "us-tv", "rating": "TV-Y", "min_age": 0,
                               "needs_review": False}],
                run_id=None, taxonomy_version="1", taxonomy_fingerprint=None,
            )  # fmt: skip
            near = fused_anchor + 1e-3 * rng.standard_normal(DIM).astype(np.float32)
            vectors.save_vectors(
                s, title.id, space["fused"], [vectors.VectorRow("title", -1, near)]
            )
            vectors.save_vectors(
                s, title.id, space["text"], [vectors.VectorRow("title", -1, text_vec)]
            )
            repo.emit_event(s, "title.enriched", {"title_id": title.id}, title_id=title.id)
            new_id = title.id
        committed = time.perf_counter()
        probes = {
            "similar": ("GET", f"/api/v1/titles/{anchor}/similar?k=5&space=fused&{ceiling}", None),
            "search": ("POST", "/api/v1/search", {"query": phrase, "k": 5, "ceiling": LAT_CEILING}),
        }
        first: dict[str, float] = {}
        steady_from: dict[str, float] = {}

        def poll(
            kind: str, req: tuple, ctx: tuple = (new_id, committed, first, steady_from)
        ) -> None:
            new_id, committed, first, steady_from = ctx
            run_start, run = 0.0, 0
            while run < 8:  # a poll on a fresh connection each time: either worker answers
                sent = time.perf_counter() - committed
                if sent > 30:
                    raise TimeoutError(f"title {new_id} not in {kind} 30 s after its commit")
                with httpx.Client(base_url=server.base) as c:
                    got = call(c, req, reqs.headers)
                if new_id in [h["id"] for h in got["results"]]:
                    first.setdefault(kind, time.perf_counter() - committed)
                    run_start, run = (sent, 1) if run == 0 else (run_start, run + 1)
                else:
                    run = 0
                time.sleep(0.005)
            steady_from[kind] = run_start

        in_threads([(poll, kv) for kv in probes.items()])
        for kind in probes:
            firsts[kind].append(first[kind])
            steady[kind].append(steady_from[kind])
    out = {}
    for kind in ("similar", "search"):
        f, st = np.asarray(firsts[kind]), np.asarray(steady[kind])
        out[kind] = {
            "trials": trials,
            "first_p50_s": round(float(np.percentile(f, 50)), 3),
            "first_p95_s": round(float(np.percentile(f, 95)), 3),
            "first_max_s": round(float(f.max()), 3),
            "every_poll_from_p95_s": round(float(np.percentile(st, 95)), 3),
        }
    return out


def http_section(sizes: list[int], n_req: int, tp_seconds: float, trials: int) -> dict:
    from analyzers.encoders.text import SentenceEncoder

    labels, facets = _labels_and_facets()
    synth = Synth(labels)
    name, url = create_db()
    out: dict = {"sizes": {}}
    try:
        token = register(url)
        clusters = np.zeros(0, dtype=np.int64)
        for n in sizes:
            t = time.perf_counter()
            clusters = np.concatenate(
                [clusters, seed(name, synth, len(clusters), n - len(clusters), facets)]
            )
            seeded = time.perf_counter() - t
            reqs = Requests(clusters, token)
            server = Server(url, n)
            row: dict = {"seed_s": round(seeded, 1)}
            try:
                server.wait_up()
                row["warm_s"] = round(warm(server, reqs), 1)
                row["latency"] = latency(server, reqs, n_req)
                row["worker_rss_mb"] = server.worker_rss_mb()
                print(n, json.dumps(row), flush=True)
                if n == sizes[-1]:
                    row["throughput"] = throughput(server, reqs, tp_seconds)
                    print("throughput", json.dumps(row["throughput"]), flush=True)
                    encoder = SentenceEncoder()
                    row["freshness"] = freshness(server, url, reqs, trials, encoder)
                    print("freshness", json.dumps(row["freshness"]), flush=True)
                out["sizes"][str(n)] = row
            finally:
                row["worker_restarts"] = server.stop()
        out["default_index"] = variant(url, sizes[-1], reqs, n_req, exact=False)
        int8 = {"COLDSTART_QUERY_ENCODER": "onnxruntime-int8"}
        out["int8_query_encoder"] = variant(url, sizes[-1], reqs, n_req, env=int8)
    finally:
        drop_db(name)
    return out


def variant(
    url: str, n: int, reqs: Requests, n_req: int, *, exact: bool = True, env: dict | None = None
) -> dict:
    """The same requests against other settings, beside the goals' (not goals themselves):
    the product's default index (HNSW with tier graphs beyond ``COLDSTART_HNSW_MIN_SIZE`` =
    50,000 vectors), or the opt-in int8 query encoder."""
    server = Server(url, n, exact=exact, env=env)
    row: dict = {"titles": n, "exact": exact, "env": env or {}}
    try:
        server.wait_up()
        row["warm_s"] = round(warm(server, reqs), 1)  # includes the graph builds
        row["latency"] = latency(server, reqs, n_req)
        print("variant", json.dumps(row), flush=True)
    finally:
        row["worker_restarts"] = server.stop()
    return row


# --- the index layer at 1M ------------------------------------------------------------------


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
    return 0.0


def index_section(n: int, n_q: int) -> dict:
    """The index layer in-process: exact float32 and HNSW fp16 spaces over the same titles."""
    from recommend.index import load_faiss

    faiss = load_faiss()  # before anything else loads it: passive OpenMP waits

    from recommend.index import Catalog, Ceiling, Filter, SpaceIndex, TitleFacts, rating_fact
    from web.api.v1.schemas import CeilingIn, RecommendIn
    from web.api.v1.services import Recommender
    from workers.settings import Settings

    tax = _taxonomy()
    labels, _ = _labels_and_facets()
    synth = Synth(labels)
    out: dict = {"titles": n, "hnsw": dict(HNSW), "faiss_threads": faiss.omp_get_max_threads()}
    t = time.perf_counter()
    b = synth.block(0, n, text=False)
    clusters = b.cluster
    out["generate_s"] = round(time.perf_counter() - t, 1)
    facts_of: dict[tuple, object] = {}  # one RatingFact per distinct rating, shared

    def rfact(got):  # type: ignore[no-untyped-def]
        if got not in facts_of:
            system, rating, doubtful = got
            facts_of[got] = rating_fact(tax, system, rating, trusted=not doubtful)
        return facts_of[got]

    cat = Catalog([s.id for s in tax.rating_systems], labels, hnsw_min_size=10 * n)
    rss0 = rss_mb()
    t = time.perf_counter()
    now = time.time()
    with cat.lock:
        for i in range(n):
            got = Synth.rating(b, i)
            cat.upsert(
                TitleFacts(
                    title_id=i + 1, name=f"Title {i + 1}",
                    ratings=(rfact(got),) if got else (), duration_s=float(b.duration[i]),
                    released_at=now - 86400 * float(b.age_days[i]),
                    labels={labels[int(b.labels[i, j])]: float(b.scores[i, j]) for j in range(3)},
                )
            )  # fmt: skip
    out["facts_load_s"] = round(time.perf_counter() - t, 1)
    out["facts_rss_mb"] = round(rss_mb() - rss0, 0)
    ids = np.arange(1, n + 1)
    t = time.perf_counter()
    cat.set_matrix("exact", ids, b.fused)
    out["exact_add_s"] = round(time.perf_counter() - t, 1)
    del b.fused
    exact: SpaceIndex = cat.spaces["exact"]
    assert exact.vecs is not None and exact.hnsw is None
    rss1 = rss_mb()
    t = time.perf_counter()
    hnsw = cat.spaces["hnsw"] = SpaceIndex(DIM, hnsw_min_size=1, **HNSW)
    # the same slot layout (ceiling-age order), so the graph keeps its ceiling tiers
    hnsw.add_many(exact.slot_row[:n].copy(), exact.vecs[:n], key=exact.slot_key[:n])
    out["hnsw_build_s"] = round(time.perf_counter() - t, 1)
    out["hnsw_tiers"] = [size for size, _ in hnsw.tiers]
    out["hnsw_build_rss_mb"] = round(rss_mb() - rss1, 0)
    assert hnsw.hnsw is not None
    out["memory"] = {
        "exact_bytes": exact.memory_bytes(),
        "hnsw_bytes": hnsw.memory_bytes(),
        "hnsw_bytes_per_title": round(hnsw.memory_bytes() / n, 1),
        "exact_bytes_per_title": round(exact.memory_bytes() / n, 1),
        "facts_rss_mb": out["facts_rss_mb"],
    }
    print("built", json.dumps(out), flush=True)
    # queries as in an API process: one BLAS/OpenMP thread (COLDSTART_API_THREADS)
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    out["query_threads"] = 1

    rng = np.random.default_rng(3)
    queries = rng.integers(1, n + 1, n_q).tolist()
    wide = Ceiling.for_rating(tax, LAT_CEILING["system"], LAT_CEILING["rating"])
    narrow = Ceiling.for_age(NARROW_AGE)
    out["pass_share"] = {
        "TV-PG ceiling": round(cat.eligible(Filter(ceiling=wide)) / n, 4),
        f"age {NARROW_AGE} ceiling": round(cat.eligible(Filter(ceiling=narrow)) / n, 4),
    }

    def timed(fn, items) -> tuple[list, list[float]]:  # type: ignore[no-untyped-def]
        res, ms = [], []
        for it in items:
            t = time.perf_counter()
            res.append(fn(it))
            ms.append((time.perf_counter() - t) * 1000)
        return res, ms

    # recall and the raw search latency: the same queries through both spaces
    search_rows: dict = {}
    recall: dict = {}
    sweep: dict = {}
    for fname, ceiling in (("unfiltered", None), ("TV-PG ceiling", wide),
                           (f"age {NARROW_AGE} ceiling", narrow)):  # fmt: skip
        got: dict = {}
        for space in ("exact", "hnsw"):

            def one(tid: int, space: str = space, ceiling=ceiling) -> list[int]:  # type: ignore[no-untyped-def]
                vec = cat.vector("exact", tid)
                flt = Filter(ceiling=ceiling, exclude=frozenset({tid}))
                return [i for i, _ in cat.search(space, vec, K, flt)]

            got[space], ms = timed(one, queries)
            search_rows[f"{fname} / {space}"] = pct(ms)
        recall[fname] = recall_of(got["hnsw"], got["exact"])
        print(fname, recall[fname], search_rows[f"{fname} / exact"],
              search_rows[f"{fname} / hnsw"], flush=True)  # fmt: skip
        for ef in EF_SWEEP:  # the trade-off around the default efSearch
            hnsw.ef_search = ef
            found, ms = timed(lambda tid, ceiling=ceiling: [i for i, _ in cat.search(
                "hnsw", cat.vector("exact", tid), K,
                Filter(ceiling=ceiling, exclude=frozenset({tid})))], queries)  # fmt: skip
            sweep[f"{fname} / efSearch {ef}"] = {
                **pct(ms),
                "recall": recall_of(found, got["exact"]),
            }
        hnsw.ef_search = HNSW["ef_search"]
    out["search"] = search_rows
    out["recall_at_20"] = recall
    out["ef_sweep"] = sweep
    print("sweep", json.dumps(sweep), flush=True)

    # the endpoints' service code (the API's Recommender) with this catalogue injected
    svc = Recommender(Settings(), catalog=cat, follow=False)
    body_ceiling = CeilingIn(**LAT_CEILING)
    endpoints: dict = {}
    by_cluster: dict[int, list[int]] = {}
    for i, c in enumerate(clusters.tolist()):
        by_cluster.setdefault(c, []).append(i + 1)
    liked = [rng.choice(by_cluster[int(c)], 3).tolist() for c in rng.integers(0, CLUSTERS, n_q)]
    for space in ("exact", "hnsw"):
        _, ms = timed(lambda tid, sp=space: svc.similar(tid, K, sp, wide), queries)
        endpoints[f"similar / {space}"] = pct(ms)
        bodies = [RecommendIn(liked_title_ids=lk, k=K, ceiling=body_ceiling, space=space)
                  for lk in liked]  # fmt: skip
        _, ms = timed(svc.recommend, bodies)
        endpoints[f"recommendations / {space}"] = pct(ms)
    words = [f"something {w} for a 10-year-old" for w in rng.choice(MOOD_WORDS, n_q)]
    svc._matcher = _label_matcher(tax)
    _, ms = timed(lambda q: svc.search(q, K, wide), words)
    endpoints["search (labels + ceiling, no text space) / either"] = pct(ms)
    out["endpoints"] = endpoints
    print("endpoints", json.dumps(endpoints), flush=True)

    # where the narrow switch pays: graph walk vs exact scan of the allowed codes
    narrow_rows = {}
    for share in (0.002, 0.005, 0.01, 0.02, 0.05, 0.1):
        times_g, times_e, rec = [], [], []
        for tid in queries[: max(20, n_q // 4)]:
            allowed = np.random.default_rng(tid).random(hnsw.n) < share
            q = cat.vector("exact", tid)
            qn = q / np.linalg.norm(q)
            t = time.perf_counter()
            g, _ = hnsw._graph(qn, K, allowed, share)
            times_g.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            e, _ = hnsw._exact(qn, K, allowed)
            times_e.append((time.perf_counter() - t) * 1000)
            rec.append(len(set(g.tolist()) & set(e.tolist())) / max(1, len(e)))
        narrow_rows[str(share)] = {
            "graph_p50_ms": round(float(np.median(times_g)), 2),
            "scan_p50_ms": round(float(np.median(times_e)), 2),
            "graph_recall": round(float(np.mean(rec)), 4),
        }
    out["narrow_switch"] = narrow_rows
    print("narrow", json.dumps(narrow_rows), flush=True)
    return out


def recall_of(found: list[list[int]], exact: list[list[int]]) -> float:
    pairs = zip(found, exact, strict=True)
    return round(float(np.mean([len(set(f) & set(e)) / max(1, len(e)) for f, e in pairs])), 4)


def _label_matcher(tax):  # type: ignore[no-untyped-def]
    """A MoodMatcher on the real MiniLM (mood words of the queries -> labels)."""
    from analyzers.encoders.text import SentenceEncoder
    from recommend.query import MoodMatcher

    return MoodMatcher(tax, SentenceEncoder().encode)


# --- results ------------------------------------------------------------------------------------


def goals_of(res: dict, sizes: list[int]) -> list[dict]:
    goals = []
    http = res.get("http")
    if http:
        top = http["sizes"][str(sizes[-1])]
        for kind, row in top["latency"].items():
            goals.append({
                "goal": f"{kind} p95 at {sizes[-1]:,} titles, k={K}, exact, TV-PG ceiling (ms)",
                "value": row["p95_ms"], "target": "< 20", "met": row["p95_ms"] < 20,
            })  # fmt: skip
        rows = list(http["sizes"].items())
        for key in ("default_index", "int8_query_encoder"):
            if "latency" in http.get(key, {}):
                rows.append((key.replace("_", " "), http[key]))
        for n, row in rows:
            for kind, r in row["latency"].items():
                ok = r["above_ceiling"] == 0 and r["fewer_than_k"] == 0
                if not ok:
                    goals.append({"goal": f"{kind} at {n}: k results, none above the ceiling",
                                  "value": r, "target": "0 and 0", "met": False})  # fmt: skip
        for kind, f in top["freshness"].items():
            goals.append({
                "goal": f"freshness: commit -> first in {kind} results, p95 (s)",
                "value": f["first_p95_s"], "target": "<= 1", "met": f["first_p95_s"] <= 1,
            })  # fmt: skip
    idx = res.get("index")
    if idx:
        n = idx["titles"]
        for fname in ("unfiltered", "TV-PG ceiling", f"age {NARROW_AGE} ceiling"):
            e, h = idx["search"][f"{fname} / exact"], idx["search"][f"{fname} / hnsw"]
            ratio = round(h["p95_ms"] / e["p95_ms"], 4)
            goals.append({
                "goal": f"{n:,}: HNSW p95 / exact p95, search k={K}, {fname}",
                "value": ratio, "target": "<= 0.1", "met": ratio <= 0.1,
            })  # fmt: skip
        for kind in ("similar", "recommendations"):
            e = idx["endpoints"][f"{kind} / exact"]["p95_ms"]
            h = idx["endpoints"][f"{kind} / hnsw"]["p95_ms"]
            ratio = round(h / e, 4)
            goals.append({
                "goal": f"{n:,}: {kind} p95 HNSW / exact, TV-PG ceiling",
                "value": ratio, "target": "<= 0.1", "met": ratio <= 0.1,
            })  # fmt: skip
        for fname in ("unfiltered", f"age {NARROW_AGE} ceiling"):
            r = idx["recall_at_20"][fname]
            goals.append({"goal": f"{n:,}: recall@20 HNSW vs exact, {fname}", "value": r,
                          "target": ">= 0.95", "met": r >= 0.95})  # fmt: skip
        gb = round(idx["memory"]["hnsw_bytes"] / 1e9, 3)
        goals.append({"goal": f"{n:,}-title HNSW index memory (GB)", "value": gb,
                      "target": "< 2", "met": gb < 2})  # fmt: skip
    return goals


NOTES = (
    "The machine has 2 cores shared with other engineers' test suites and benchmarks: the "
    "load average is recorded per section. Latency over HTTP includes the token check (its "
    "grant read from PostgreSQL at most once a second per token and process, "
    "COLDSTART_TOKEN_CACHE_S), the ASGI stack and JSON; one client, sequential requests.",
    "Every timed search carries new free text, so MiniLM encodes it in the request (its "
    "words recur and are cached, as real queries' do). The API runs it as an onnxruntime "
    "graph (COLDSTART_QUERY_ENCODER): ~3-4 ms at batch 1 where the numpy engine took ~7, "
    "its BLAS re-packing the weights on every product.",
    "The exact path reads only the matrix blocks a ceiling admits (slots laid out by ceiling "
    "age at load), so filtered exact searches cost a fraction of a full scan; the HNSW / "
    "exact ratios for filtered searches compare against that cheaper exact search.",
    "The HNSW keeps graphs over ceiling-age prefixes of its slots (tiers, sharing one store "
    "of fp16 codes): a ceiling walks the smallest tier holding its titles, so the walk is "
    "nearly unfiltered; allowed titles beyond it (added or re-rated since the build) are "
    "scored from their codes. A walk with a share s of its graph allowed widens efSearch by "
    "1 / s (to 2048); below narrow * sqrt(efSearch * n) allowed titles the allowed fp16 "
    "codes are scanned instead. The narrow-switch table walks the whole graph.",
    "Masks per filter (exclusions aside) are kept per catalogue version, so a recurring "
    "ceiling costs no per-request pass over every title.",
    "Throughput clients are threads of the benchmark process, on the same 2 cores as the "
    "two uvicorn workers and PostgreSQL.",
)


def write(res: dict, goals: list[dict], where: Path = RESULTS) -> None:
    where.mkdir(parents=True, exist_ok=True)
    (where / "api.json").write_text(json.dumps(res, indent=2, default=str) + "\n")
    md = ["# bench-api", "", res["about"], "",
          f"Load average at start / end: {res['loadavg_start']} / {res['loadavg_end']}; "
          f"{res['wall_s']} s in all."
          + "".join(f" The {k} section is from the run of {v}."
                    for k, v in res.get("from_earlier_run", {}).items()), "",
          "| goal | value | target | met |", "|---|---|---|---|"]  # fmt: skip
    md += [f"| {g['goal']} | {g['value']} | {g['target']} | {g['met']} |" for g in goals]
    http = res.get("http")
    if http:
        md += ["", "## over HTTP (uvicorn, 2 workers, exact search, PostgreSQL)", "",
               f"Load average when this section ended: {http.get('loadavg')}.", "",
               "| titles | endpoint | p50 ms | p95 ms | p99 ms | requests |",
               "|---|---|---|---|---|---|"]  # fmt: skip
        for n, row in http["sizes"].items():
            for kind, r in row["latency"].items():
                md.append(f"| {int(n):,} | {kind} | {r['p50_ms']} | {r['p95_ms']} | "
                          f"{r['p99_ms']} | {r['n']} |")  # fmt: skip
        md += ["", "| titles | seed (COPY) s | start + index load + warm-up s | worker restarts "
               "| workers' RSS MB |", "|---|---|---|---|---|"]  # fmt: skip
        md += [
            f"| {int(n):,} | {r['seed_s']} | {r['warm_s']} | {r['worker_restarts']} "
            f"| {r['worker_rss_mb']} |"
            for n, r in http["sizes"].items()
        ]
        top = http["sizes"][max(http["sizes"], key=int)]
        tp = top["throughput"]
        md += ["", f"Throughput at {int(max(http['sizes'], key=int)):,} titles: "
               f"**{tp['requests_per_s']} requests/s** with {tp['clients']} concurrent "
               f"clients against {tp['uvicorn_workers']} uvicorn workers ({tp['requests']} "
               f"requests in {tp['seconds']} s, mixed endpoints, {tp['errors']} errors; the "
               "clients run on the same 2 cores).", "",
               "| endpoint under load | p50 ms | p95 ms | p99 ms | requests |",
               "|---|---|---|---|---|"]  # fmt: skip
        for kind, r in tp["per_endpoint"].items():
            if r:
                md.append(f"| {kind} | {r['p50_ms']} | {r['p95_ms']} | {r['p99_ms']} | {r['n']} |")
        md += ["", "Freshness (commit of a new title -> in the results of a running API, 2 "
               "workers, polled on fresh connections):", "",
               "| results | trials | first p50 s | first p95 s | first max s | "
               "seen by every poll from (8 in a row), p95 s |",
               "|---|---|---|---|---|---|"]  # fmt: skip
        for kind, f in top["freshness"].items():
            md.append(f"| {kind} | {f['trials']} | {f['first_p50_s']} | {f['first_p95_s']} | "
                      f"{f['first_max_s']} | {f['every_poll_from_p95_s']} |")  # fmt: skip
    variants = {
        "default_index": "With the product's default index settings (HNSW with tier graphs "
        "beyond 50,000 vectors)",
        "int8_query_encoder": "Exact search with the opt-in int8 query encoder "
        "(COLDSTART_QUERY_ENCODER=onnxruntime-int8: cosine ~0.99 to the float32 query vectors)",
    }
    for key, what in variants.items():
        v = (res.get("http") or {}).get(key)
        if not v or "latency" not in v:
            continue
        md += ["", f"{what}, not a goal (the goals above take the defaults and the exact "
               f"path), {v['titles']:,} titles, start + builds + warm-up {v['warm_s']} s, "
               f"{v['worker_restarts']} worker restarts:", "",
               "| endpoint | p50 ms | p95 ms | p99 ms | fewer than k | above the ceiling |",
               "|---|---|---|---|---|---|"]  # fmt: skip
        for kind, r in v["latency"].items():
            md.append(f"| {kind} | {r['p50_ms']} | {r['p95_ms']} | {r['p99_ms']} | "
                      f"{r['fewer_than_k']} | {r['above_ceiling']} |")  # fmt: skip
    idx = res.get("index")
    if idx:
        md += ["", f"## {idx['titles']:,} titles on the index layer (in-process)", "",
               f"Load average when this section ended: {idx.get('loadavg')}.", "",
               f"HNSW: faiss IndexHNSWSQ fp16, M={idx['hnsw']['hnsw_m']}, efConstruction="
               f"{idx['hnsw']['ef_construction']}, efSearch={idx['hnsw']['ef_search']}, "
               f"built with {idx['faiss_threads']} threads in {idx['hnsw_build_s']} s, queried "
               "with 1 thread (as in an API process); tier graphs over the first "
               f"{idx.get('hnsw_tiers', [])} slots (ceiling-age order). "
               f"Exact: float32 NumPy. Share of titles passing: {idx['pass_share']}.", "",
               "| search k=20 / space | p50 ms | p95 ms | p99 ms |",
               "|---|---|---|---|"]  # fmt: skip
        for key, r in {**idx["search"], **idx["endpoints"]}.items():
            md.append(f"| {key} | {r['p50_ms']} | {r['p95_ms']} | {r['p99_ms']} |")
        md += ["", f"Recall@20 of HNSW against exact: {idx['recall_at_20']}.", "",
               "| filter / efSearch (filtered walks widen it by 1/share) | recall@20 | p50 ms "
               "| p95 ms |", "|---|---|---|---|"]  # fmt: skip
        md += [f"| {key} | {r['recall']} | {r['p50_ms']} | {r['p95_ms']} |"
               for key, r in idx["ef_sweep"].items()]  # fmt: skip
        md += [""]
        m = idx["memory"]
        md += [f"Memory: HNSW index {m['hnsw_bytes'] / 1e9:.3f} GB "
               f"({m['hnsw_bytes_per_title']} B per title); exact float32 "
               f"{m['exact_bytes'] / 1e9:.3f} GB ({m['exact_bytes_per_title']} B per title); "
               f"the titles' facts (ratings, labels, arrays) {m['facts_rss_mb']:.0f} MB of "
               "process memory besides.", "",
               "Where the narrow switch pays (random allowed subsets of the HNSW space):", "",
               "| allowed share | graph walk p50 ms | exact scan of allowed codes p50 ms | "
               "graph recall@20 |", "|---|---|---|---|"]  # fmt: skip
        for share, r in idx["narrow_switch"].items():
            md.append(f"| {share} | {r['graph_p50_ms']} | {r['scan_p50_ms']} | "
                      f"{r['graph_recall']} |")  # fmt: skip
    md += ["", "## Notes", "", *(f"- {note}" for note in NOTES)]
    md += ["", provenance_md(res["provenance"])]
    (where / "api.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="small sizes, written under var/")
    ap.add_argument("--only", default="http,index")
    ap.add_argument("--index-n", type=int, help="titles in the index section (written under var/)")
    args = ap.parse_args()
    only = set(args.only.split(","))
    if args.quick:
        sizes, n_req, tp_s, trials, index_n, n_q = [500, 2000], 30, 5.0, 3, 20_000, 40
    else:
        sizes, n_req, tp_s, trials, index_n, n_q = (
            [1_000, 10_000, 100_000],
            300,
            30.0,
            20,
            10**6,
            200,
        )
    if args.index_n:
        index_n, args.quick = args.index_n, True
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    t0 = time.perf_counter()
    res: dict = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
        "about": (
            "Synthetic clustered catalogue (gaussian mixture: 256 centroids, spread in a "
            "shared 48-d subspace, small isotropic noise; 512-d fused, 384-d text), 3 "
            "mood/tone labels per title from its cluster, ratings with a maturity lean per "
            f"cluster. k={K}. HTTP sizes in PostgreSQL (seeded with COPY) behind uvicorn "
            "(2 workers); the 1M level on the index layer in-process (1M rows through "
            "PostgreSQL into two workers does not fit the benchmark's time), with exact "
            "and HNSW spaces over the same titles in the same run."
        ),
        "provenance": provenance(),
    }
    if "http" in only:
        res["http"] = http_section(sizes, n_req, tp_s, trials)
        res["http"]["loadavg"] = [round(x, 2) for x in os.getloadavg()]
    if "index" in only:
        res["index"] = index_section(index_n, n_q)
        res["index"]["loadavg"] = [round(x, 2) for x in os.getloadavg()]
    res["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    res["wall_s"] = round(time.perf_counter() - t0, 0)
    earlier = RESULTS / "api.json"
    if not args.quick and earlier.exists():  # --only: keep the other section's last run
        prev = json.loads(earlier.read_text())
        for section in ("http", "index"):
            if section not in only and section in prev:
                res[section] = prev[section]
                # the date of the run that measured it (which may itself have kept it)
                when = prev.get("from_earlier_run", {}).get(section, prev.get("date"))
                res.setdefault("from_earlier_run", {})[section] = when
    res["not_run"] = sorted(s for s in ("http", "index") if s not in res)
    goals = goals_of(res, sizes)
    res["goals"] = goals
    if args.quick:  # development sizes: never the committed results
        write(res, goals, ROOT / "var" / "bench-api" / "quick")
        return 0
    write(res, goals)
    return 0 if all(g["met"] for g in goals) and not res["not_run"] else 1


if __name__ == "__main__":
    sys.exit(main())
