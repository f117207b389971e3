"""bench-admin: server-side time of the admin title page and review queue on PostgreSQL.

A generated feature film (3,000 shots, 300 scenes, 1,500 transcript segments with words,
proposals with evidence, a mood arc) among 10,000 titles with rating suggestions. Requests go
through the whole ASGI app in-process (auth, CSRF-free GETs, templates), timed per request.
Peers measured in the same run: building the full title document (``coldstart show --json``)
for the same title, and the plain ``list_titles`` page. Goal: p95 < 300 ms for the title
page shell and each queue request. The 1-minute load average is recorded before and after
(the machine is shared: a loaded machine stretches the p95 of every row).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import statistics
import sys
import time
import uuid
from pathlib import Path

import psycopg
from fastapi.testclient import TestClient
from sqlalchemy import insert, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.provenance import provenance, provenance_md
from storage import migrate, queue, review, users
from storage import repository as repo
from storage.db import dispose_engines, session_scope
from storage.documents import title_document
from storage.models import (
    AnalysisRun,
    Keyframe,
    RatingSuggestion,
    Scene,
    Shot,
    Title,
    TranscriptSegment,
)
from web.app import create_app
from web.auth import hash_password
from workers.settings import Settings

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
RESULTS = Path(__file__).parent / "results"
N_TITLES, N_SHOTS, N_SCENES, N_SEGMENTS, REPEATS = 10_000, 3_000, 300, 1_500, 40
GOAL_MS = 300.0
LOADED = 2.5  # a 1-minute load average above this: other work shares the 2 cores
LOADED_NOTE = "; LOADED: other work shared the cores and stretched the p95"
MOODS = ["calm", "tense", "joyful", "melancholic", "eerie", "romantic"]


def _populate(db: str) -> int:
    rnd = random.Random(7)
    with session_scope(db) as s:
        s.execute(insert(Title), [
            {"name": f"Title {i}", "external_id": f"ext-{i}", "content_sha256": f"{i:064x}",
             "size_bytes": 1, "source_uri": f"local://incoming/t{i}.mp4",
             "source_key": f"t{i}.mp4", "status": "enriched", "duration_s": 600.0 + i % 5000}
            for i in range(N_TITLES)
        ])  # fmt: skip
        ids = list(s.scalars(Title.__table__.select().with_only_columns(Title.id)))
        s.execute(insert(RatingSuggestion), [
            {"title_id": t, "system": system, "rating": rnd.choice(["G", "PG", "R"]),
             "min_age": rnd.choice([0, 8, 17]), "confidence": rnd.random(),
             "needs_review": True, "drivers": [], "reasons": ["generated"]}
            for t in ids for system in ("mpaa", "bbfc", "tv")
        ])  # fmt: skip
        queue.refresh_review_risk(s)  # what save_rating_suggestions does title by title
        # Every enriched title has its run: the queue shows the latest one's status.
        s.execute(insert(AnalysisRun), [
            {"title_id": t, "status": "succeeded", "progress": 1.0, "stages": {},
             "model_versions": {}, "params": {}, "cost": {}} for t in ids
        ])  # fmt: skip
        film = ids[0]
        duration = 7200.0
        shot_len = duration / N_SHOTS
        s.execute(insert(Shot), [
            {"title_id": film, "idx": i, "start_frame": i * 60, "end_frame": (i + 1) * 60,
             "start_s": i * shot_len, "end_s": (i + 1) * shot_len, "scene_idx": i // 10,
             "features": {}} for i in range(N_SHOTS)
        ])  # fmt: skip
        s.execute(insert(Keyframe), [
            {"title_id": film, "shot_idx": i, "frame": i * 60 + 30, "time_s": i * shot_len,
             "object_key": f"k/{i}.jpg", "thumb_key": f"k/{i}.t.jpg", "width": 160,
             "height": 90} for i in range(N_SHOTS)
        ])  # fmt: skip
        scene_len = duration / N_SCENES
        s.execute(insert(Scene), [
            {"title_id": film, "idx": i, "first_shot": i * 10, "last_shot": i * 10 + 9,
             "start_s": i * scene_len, "end_s": (i + 1) * scene_len, "summary": {}}
            for i in range(N_SCENES)
        ])  # fmt: skip
        seg_len = duration / N_SEGMENTS
        s.execute(insert(TranscriptSegment), [
            {"title_id": film, "idx": i, "start_s": i * seg_len, "end_s": i * seg_len + 3,
             "text": "a line of dialogue for the benchmark",
             "words": [{"start": i * seg_len + w * 0.5, "end": i * seg_len + w * 0.5 + 0.4,
                        "text": f" w{w}"} for w in range(7)]}
            for i in range(N_SEGMENTS)
        ])  # fmt: skip
        ev = [{"start_s": i * 60.0, "end_s": i * 60.0 + 5, "signal": "audio", "score": 0.7}
              for i in range(40)]  # fmt: skip
        review.save_proposals(
            s, film,
            [{"facet": f, "label": m, "score": rnd.random(), "evidence": ev}
             for f in ("mood", "tone") for m in MOODS]
            + [{"facet": "maturity", "label": "strong-language", "score": 0.9,
                "severity": "strong", "evidence": ev}],
            run_id=None, model_version="b", taxonomy_version="b", taxonomy_fingerprint="b",
        )  # fmt: skip
        review.save_profile(
            s, film, run_id=None,
            arc={"scenes": [{"index": i, "start_s": i * scene_len, "end_s": (i + 1) * scene_len}
                            for i in range(N_SCENES)],
                 "mood": {m: [rnd.random() for _ in range(N_SCENES)] for m in MOODS},
                 "tone": {m: [rnd.random() for _ in range(N_SCENES)] for m in MOODS}},
            artwork=[], descriptors={}, absent={"vision": "no model"}, signals={},
            taxonomy_version="b", taxonomy_fingerprint="b",
        )  # fmt: skip
        users.create_user(s, email="b@example.com", name="b", role="viewer",
                          password_hash=hash_password("benchmark pw"))  # fmt: skip
        return film


def _analyze(db: str) -> None:
    """Planner statistics for the bulk-loaded tables, as autovacuum would gather them."""
    with session_scope(db) as s:
        s.execute(text("ANALYZE"))


def _times(fn, n: int = REPEATS) -> list[float]:  # type: ignore[no-untyped-def]
    fn()  # warm-up
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def _stats(ms: list[float]) -> dict[str, float]:
    ms = sorted(ms)
    return {"p50_ms": round(statistics.median(ms), 1),
            "p95_ms": round(ms[int(0.95 * (len(ms) - 1))], 1)}  # fmt: skip


def main() -> int:
    name = f"coldstart_bench_admin_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    db = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    stack = contextlib.ExitStack()
    try:
        migrate.upgrade(db)
        film = _populate(db)
        _analyze(db)
        load_before = os.getloadavg()[0]
        settings = Settings(data_dir=Path("var/bench-admin"), database_url=db)
        # Entered as a server runs it: the app's lifespan (its startup work) runs first.
        client = stack.enter_context(TestClient(create_app(settings)))
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/admin/login").text)
        client.post("/admin/login", data={"email": "b@example.com", "password": "benchmark pw",
                                          "csrf_token": token.group(1)})  # fmt: skip

        def get(url: str) -> None:
            r = client.get(url)
            assert r.status_code == 200, (url, r.status_code)

        def document() -> None:
            with session_scope(db) as s:
                json.dumps(title_document(s, repo.get_title(s, film)))

        def plain_list() -> None:
            with session_scope(db) as s:
                [t.name for t in repo.list_titles(s, limit=50)]

        rows = {
            "title page shell": _stats(_times(lambda: get(f"/admin/titles/{film}"))),
            "transcript section (100 segments)": _stats(
                _times(lambda: get(f"/admin/titles/{film}/transcript?start=700"))
            ),
            "review queue, page 1": _stats(_times(lambda: get("/admin/"))),
            "review queue, search + filter": _stats(
                _times(lambda: get("/admin/?q=Title+42&rating=R&review=yes"))
            ),
            "review queue, page 150": _stats(_times(lambda: get("/admin/?page=150"))),
            "peer: full title document (show --json)": _stats(_times(document, 10)),
            "peer: plain list_titles page": _stats(_times(plain_list)),
        }
        load_after = os.getloadavg()[0]
    finally:
        stack.close()
        dispose_engines()
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    goals = [
        {"goal": f"{k} p95 < {GOAL_MS:.0f} ms", "value": rows[k]["p95_ms"], "target": GOAL_MS,
         "met": rows[k]["p95_ms"] < GOAL_MS}
        for k in ("title page shell", "review queue, page 1", "review queue, search + filter",
                  "review queue, page 150")
    ]  # fmt: skip
    load = {"before": round(load_before, 2), "after": round(load_after, 2)}
    prov = provenance()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "admin.json").write_text(json.dumps(
        {"rows": rows, "goals": goals, "load_avg_1min": load,
         "sizes": {"titles": N_TITLES, "shots": N_SHOTS, "scenes": N_SCENES,
                   "segments": N_SEGMENTS}, "provenance": prov}, indent=2))  # fmt: skip
    md = ["# bench-admin", "",
          f"PostgreSQL; {N_TITLES} titles in the queue; title of {N_SHOTS} shots, {N_SCENES} "
          f"scenes, {N_SEGMENTS} segments. Server-side time through the ASGI app, {REPEATS} "
          "requests each after a warm-up.", "",
          f"1-minute load average {load['before']:.2f} before and {load['after']:.2f} after "
          f"(2 shared cores{LOADED_NOTE if max(load.values()) > LOADED else ''}).",
          "",
          "| request | p50 ms | p95 ms |", "|---|---|---|"]  # fmt: skip
    md += [f"| {k} | {v['p50_ms']} | {v['p95_ms']} |" for k, v in rows.items()]
    md += ["", "| goal | value | target | met |", "|---|---|---|---|"]
    md += [f"| {g['goal']} | {g['value']} | {g['target']} | {g['met']} |" for g in goals]
    md += ["", provenance_md(prov)]
    (RESULTS / "admin.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 0 if all(g["met"] for g in goals) else 1


if __name__ == "__main__":
    raise SystemExit(main())
