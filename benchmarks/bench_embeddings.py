"""Benchmark of the content embeddings (issue 12).

1. An evaluation catalogue generated here: 4 families x 5 titles of 24 s (ffmpeg lavfi +
   espeak-ng). Families differ in narration theme, look (lighting, colour, pace) and sound;
   within a family titles vary their sources and texts. Media are cached under
   benchmarks/.cache/embeddings keyed by spec. Each title runs the in-process pipeline; then
   precision@4 of same-family neighbours, leave-one-out, per space and for ``fused``, and
   ``fused`` with ``text`` removed and with ``visual`` removed (re-fused from stored parts).
2. Time to load 100k synthetic 512-d title vectors of a space from PostgreSQL (streamed).
3. Backfill throughput (titles/s) of ``text`` and ``style`` with 1 and 2 worker processes.

Writes benchmarks/results/embeddings.{md,json}; exits 1 when a goal is missed.
``--only load,backfill,catalogue`` runs a subset (the others are reported as not run).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing as mp
import sys
import time
import uuid
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.provenance import provenance, provenance_md  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
CACHE = ROOT / "benchmarks" / ".cache" / "embeddings"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"

THEMES = {
    "sea": [
        "The fishing boats left the harbour before dawn and the waves grew tall.",
        "Sailors hauled the heavy nets aboard while gulls circled the mast.",
        "A storm pushed the old ship towards the rocks near the lighthouse.",
        "The captain read the tide tables and steered into the open ocean.",
        "Salt spray covered the deck as the trawler turned for home.",
    ],
    "kitchen": [
        "Chop the onions finely and fry them in butter until golden.",
        "Simmer the tomato sauce for twenty minutes and season with basil.",
        "Knead the dough, let it rise, then bake the bread in a hot oven.",
        "Whisk the eggs with sugar and fold in the flour for the cake.",
        "Roast the chicken with garlic, lemon and rosemary for an hour.",
    ],
    "space": [
        "The rocket engines ignited and the crew felt the launch push them down.",
        "Astronauts floated through the station checking the solar panels.",
        "The probe sent back images of a red planet covered in dust storms.",
        "Mission control counted down as the capsule prepared to dock.",
        "Far from Earth the telescope found a new galaxy of distant stars.",
    ],
    "crime": [
        "The detective examined the broken window and the missing jewels.",
        "Police questioned the suspect about the night of the robbery.",
        "Fingerprints on the knife led the inspector to the butler.",
        "The witness remembered a black car speeding away from the bank.",
        "The court heard evidence that the fraud had lasted for years.",
    ],
}
# family -> (video sources, colour filter, seconds per shot, audio bed)
LOOKS = {
    "sea": (["testsrc2", "smptebars"], "colorbalance=bs=0.6:bm=0.4,eq=brightness=0.05", 8.0,
            "anoisesrc=c=pink:a=0.08"),
    "kitchen": (["testsrc", "rgbtestsrc"], "colorbalance=rs=0.5:rm=0.4,eq=brightness=0.2", 4.0,
                "sine=f=440,volume=0.05"),
    "space": (["mandelbrot", "life=mold=10"], "eq=brightness=-0.35:contrast=1.4", 6.0,
              "sine=f=110,volume=0.15"),
    "crime": (["cellauto=rule=30", "testsrc2"], "hue=s=0,eq=brightness=-0.2", 1.5,
              "anoisesrc=c=brown:a=0.3"),
}  # fmt: skip
SECONDS = 24
K = 4


def _run(*args: str) -> None:
    import subprocess

    subprocess.run(args, check=True, capture_output=True)


def _bed(bed: str) -> str:
    """The audio bed's lavfi source with the title's duration (before any filter)."""
    source, _, rest = bed.partition(",")
    return f"{source}:d={SECONDS}" + (f",{rest}" if rest else "")


def make_title(family: str, i: int) -> Path:
    sources, look, shot_s, bed = LOOKS[family]
    text = " ".join(THEMES[family][i:] + THEMES[family][:i])
    spec = json.dumps([family, i, sources, look, shot_s, bed, text, SECONDS])
    out = CACHE / f"{family}-{i}-{hashlib.sha256(spec.encode()).hexdigest()[:10]}.mp4"
    if out.exists():
        return out
    CACHE.mkdir(parents=True, exist_ok=True)
    wav = out.with_suffix(".wav")
    _run("espeak-ng", "-s", str(140 + 5 * i), "-w", str(wav), text)
    n = int(SECONDS // shot_s)
    parts = []
    for k in range(n):
        src = sources[(k + i) % len(sources)]
        parts.append(f"{src}=size=160x90:rate=10:duration={shot_s}")
    inputs = [a for p in parts for a in ("-f", "lavfi", "-i", p)]
    chain = "".join(f"[{k}:v]" for k in range(n)) + f"concat=n={n}:v=1:a=0,{look},format=yuv420p[v]"
    _run(
        "ffmpeg", "-v", "error", "-y", *inputs, "-i", str(wav),
        "-f", "lavfi", "-i", _bed(bed),
        "-filter_complex",
        f"{chain};[{n}:a]apad[s];[s][{n + 1}:a]amix=inputs=2:duration=longest[a]",
        "-map", "[v]", "-map", "[a]", "-t", str(SECONDS),
        "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", str(out),
    )  # fmt: skip
    wav.unlink(missing_ok=True)
    return out


def precision_at_k(vecs: np.ndarray, labels: list[str], k: int = K) -> float:
    sims = vecs @ vecs.T
    np.fill_diagonal(sims, -np.inf)
    hits = []
    for i in range(len(labels)):
        top = np.argsort(-sims[i])[:k]
        hits.append(np.mean([labels[j] == labels[i] for j in top]))
    return float(np.mean(hits))


def catalogue() -> dict:
    from analyzers.embeddings import fused
    from storage import migrate, vectors
    from storage.db import session_scope
    from workers.ingest import ingest_file
    from workers.pipeline import run_pipeline
    from workers.settings import Settings
    from workers.stages import embeddings as emb

    settings = Settings(data_dir=CACHE / "var")
    migrate.upgrade(settings.effective_database_url)
    titles: list[tuple[str, int]] = []
    for family in THEMES:
        for i in range(5):
            ing = ingest_file(settings, make_title(family, i))
            if ing.run_id is not None:
                run_pipeline(settings, ing.run_id)
            titles.append((family, ing.title_id))
    specs = emb.space_specs(settings)
    labels = [f for f, _ in titles]
    parts: dict[str, list] = {n: [] for n in emb.SPACES}
    with session_scope(settings.effective_database_url) as s:
        for name in emb.SPACES:
            space = vectors.get_space(s, name, specs[name].version)
            for _, tid in titles:
                got = vectors.title_vector(s, tid, space) if space is not None else None
                parts[name].append(None if got is None else got[0])
    out: dict = {"titles": len(titles), "precision_at_4": {}}
    for name, vecs in parts.items():
        if all(v is not None for v in vecs):
            out["precision_at_4"][name] = precision_at_k(np.stack(vecs), labels)
        else:
            out["precision_at_4"][name] = None  # absent for some titles (e.g. no vision model)
    for removed in ("text", "visual"):
        vecs = []
        for idx in range(len(titles)):
            kept = {n: parts[n][idx] for n in fused.PARTS if n != removed}
            vecs.append(fused.fuse(specs["fused"], kept).title)
        out["precision_at_4"][f"fused_without_{removed}"] = precision_at_k(np.stack(vecs), labels)
    return out


def _pg_db() -> str:
    import psycopg

    name = f"coldstart_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return name


def _drop(name: str) -> None:
    import psycopg

    from storage.db import dispose_engines

    dispose_engines()
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def load_100k(n: int = 100_000, dim: int = 512) -> dict:
    import psycopg

    from storage import migrate, vectors
    from storage.db import session_scope

    name = _pg_db()
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    try:
        migrate.upgrade(url)
        rng = np.random.default_rng(0)
        with session_scope(url) as s:
            space = vectors.register_space(s, name="text", version="bench", dim=dim, model="x")
            sid = space.id
        raw = f"postgresql://postgres@127.0.0.1:5432/{name}"
        with psycopg.connect(raw) as conn, conn.cursor() as cur:
            with cur.copy(
                "COPY titles (name, source_uri, source_key, content_sha256, size_bytes, status,"
                " created_at, updated_at) FROM STDIN"
            ) as cp:
                for i in range(n):
                    cp.write_row((f"t{i}", f"u{i}", f"k{i}", f"{i:064x}", 1, "done", "now", "now"))
            with cur.copy(
                "COPY embeddings (title_id, space, scope, ref_idx, model_version, dim, vector,"
                " created_at) FROM STDIN"
            ) as cp:
                for i in range(n):
                    v = rng.standard_normal(dim).astype("<f4")
                    v /= np.linalg.norm(v)
                    cp.write_row((i + 1, "text", "title", -1, "bench", dim, v.tobytes(), "now"))
        with session_scope(url) as s:
            space = vectors.get_space(s, "text", "bench")
            t0 = time.perf_counter()
            ids, vecs = vectors.load_title_matrix(s, space)
            seconds = time.perf_counter() - t0
        assert len(ids) == n and vecs.shape == (n, dim) and sid
        return {"titles": n, "dim": dim, "seconds": round(seconds, 3)}
    finally:
        _drop(name)


def _worker(url: str, space: str, version: str, ids: list[int]) -> None:
    from workers import backfill
    from workers.settings import Settings

    backfill.embed_batch(Settings(database_url=url, data_dir=CACHE / "bf"), space, version, ids)


def backfill_throughput(n: int = 200) -> dict:
    """Titles with a transcript (3 segments) and 8 shots with style features, no video."""
    from storage import migrate, vectors
    from storage.db import session_scope
    from storage.models import Shot, Title, TranscriptSegment
    from workers import backfill
    from workers.settings import Settings

    out: dict = {}
    for space in ("text", "style"):
        for procs in (1, 2):
            name = _pg_db()
            url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
            try:
                migrate.upgrade(url)
                with session_scope(url) as s:
                    for i in range(n):
                        t = Title(name=f"t{i}", source_uri=f"u{i}", source_key=f"k{i}",
                                  content_sha256=f"{i:064x}", size_bytes=1)  # fmt: skip
                        s.add(t)
                        s.flush()
                        theme = list(THEMES)[i % 4]
                        for j in range(3):
                            s.add(TranscriptSegment(title_id=t.id, idx=j, start_s=5.0 * j,
                                  end_s=5.0 * j + 4, text=THEMES[theme][(i + j) % 5]))  # fmt: skip
                        for j in range(8):
                            s.add(Shot(title_id=t.id, idx=j, start_frame=j * 30,
                                  end_frame=j * 30 + 29, start_s=j * 3.0, end_s=j * 3.0 + 3,
                                  features={"luma_mean": 0.1 * (i % 7), "luma_spread": 0.1,
                                            "saturation": 0.3, "colorfulness": 30.0,
                                            "motion": 0.02}))  # fmt: skip
                settings = Settings(database_url=url, data_dir=CACHE / "bf")
                info = backfill.start(settings, space)
                ids = [
                    t for batch in backfill.lacking(settings, space, info.version, n) for t in batch
                ]
                t0 = time.perf_counter()
                chunks = [ids[k::procs] for k in range(procs)]
                ctx = mp.get_context("spawn")
                ps = [
                    ctx.Process(target=_worker, args=(url, space, info.version, c)) for c in chunks
                ]
                for p in ps:
                    p.start()
                for p in ps:
                    p.join()
                seconds = time.perf_counter() - t0  # includes each process's start and model load
                backfill.try_flip(settings, space, info.version)
                with session_scope(url) as s:
                    done = vectors.count_lacking(s, vectors.get_space(s, space, info.version)) == 0
                out[f"{space}/{procs}"] = {
                    "titles": n, "processes": procs, "seconds": round(seconds, 2),
                    "titles_per_s": round(n / seconds, 1), "complete": done,
                }  # fmt: skip
            finally:
                _drop(name)
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="catalogue,load,backfill")
    only = set(ap.parse_args().only.split(","))
    res: dict = {"provenance": provenance(), "goals": []}
    goals = res["goals"]
    if "load" in only:
        res["load"] = load_100k()
        secs = res["load"]["seconds"]
        goals.append({"goal": "load 100k x 512 title vectors from PostgreSQL (s)",
                      "value": secs, "target": "<= 5", "met": secs <= 5})  # fmt: skip
    if "backfill" in only:
        res["backfill"] = backfill_throughput()
        for key, r in res["backfill"].items():
            goals.append({"goal": f"backfill {key} completes", "value": r["titles_per_s"],
                          "target": "all titles embedded", "met": r["complete"]})  # fmt: skip
    if "catalogue" in only:
        res["catalogue"] = cat = catalogue()
        p = cat["precision_at_4"]
        singles = [
            v for k, v in p.items() if k in ("visual", "text", "profile", "style") and v is not None
        ]
        goals.append({"goal": "fused precision@4", "value": p["fused"], "target": ">= 0.9",
                      "met": p["fused"] is not None and p["fused"] >= 0.9})  # fmt: skip
        goals.append({"goal": "fused >= best single space", "value": p["fused"],
                      "target": f">= {max(singles):.3f}",
                      "met": p["fused"] >= max(singles)})  # fmt: skip
    res["not_run"] = sorted({"catalogue", "load", "backfill"} - only)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "embeddings.json").write_text(json.dumps(res, indent=2, default=str) + "\n")
    lines = ["# bench-embeddings", "", "| goal | value | target | met |", "|---|---|---|---|"]
    lines += [f"| {g['goal']} | {g['value']} | {g['target']} | {g['met']} |" for g in goals]
    for section in ("catalogue", "load", "backfill"):
        if section in res:
            lines += ["", f"## {section}", "", "```json", json.dumps(res[section], indent=2), "```"]
    if res["not_run"]:
        lines += ["", f"Not run in this measurement: {', '.join(res['not_run'])}."]
    lines += ["", provenance_md(res["provenance"])]
    (RESULTS / "embeddings.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines[:12]))
    return 0 if all(g["met"] for g in goals) and not res["not_run"] else 1


if __name__ == "__main__":
    sys.exit(main())
