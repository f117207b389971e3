"""`make demo`: enrich a small catalogue end to end on the embedded default, then use it.

1. Builds the sample titles (``scripts/demo_media.py``): Big Buck Bunny with a generated
   storm shot, and four generated titles of contrasting moods (ffmpeg + espeak-ng).
2. Enriches the first exactly as ``coldstart ingest`` does (live progress, then the title
   as ``coldstart show`` renders it), then the others, in one process (models load once).
3. Plays the editor: the demo account records the final ratings (without a vision model
   every suggestion needs review, and a ceiling admits only trusted ratings).
4. Asks the recommender API (in-process, with a read token): recommendations for a taste
   profile, and a natural-language search with an age ceiling, showing how it was read.
5. Prints the admin view's address and the demo editor's sign-in.

The catalogue lives in ``var/demo/catalogue`` (SQLite and a local object store); a second
run finds the same titles (same bytes) and skips their analysis. ``--video PATH`` enriches
and shows your file in place of the bunny.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import time
from pathlib import Path
from typing import Any

from demo_media import BUNNY_RATINGS, SAMPLES, build_bunny, build_sample

ROOT = Path(__file__).resolve().parent.parent
DEMO_DIR = ROOT / "var" / "demo"
CATALOGUE_DIR = DEMO_DIR / "catalogue"
EDITOR = "demo-editor@example.com"
LIKED = "the-friendly-ghost"
SEARCHES = ("something spooky but okay for a 10-year-old", "something calm for the kids")


def enrich_quietly(settings: Any, path: Path, name: str) -> int:
    """Ingest and run the pipeline in this process; one line per title."""
    from storage import repository as repo
    from storage.db import session_scope
    from workers.dispatch import dispatch_run
    from workers.ingest import ingest_file

    started = time.monotonic()
    result = ingest_file(settings, path, external_id=name)
    if result.created_run:
        thread = dispatch_run(settings, result.run_id)
        if thread is not None:
            thread.join()
    with session_scope(settings.effective_database_url) as session:
        run = repo.get_run(session, result.run_id)
        status = run.status if run else "missing"
        error = f": {run.error}" if run is not None and run.error else ""
    took = f"{time.monotonic() - started:5.1f} s" if result.created_run else "known  "
    print(f"  {name:<22} {took}  run {result.run_id} {status}{error}", flush=True)
    return result.title_id


def review_as_editor(settings: Any, ratings: dict[int, dict[str, str]]) -> str:
    """The demo editor account (a fresh password each run) records the final ratings."""
    from storage import review, users
    from storage.db import session_scope
    from web.auth import hash_password

    password = secrets.token_urlsafe(9)
    with session_scope(settings.effective_database_url) as session:
        user = users.user_by_email(session, EDITOR)
        if user is None:
            user = users.create_user(
                session,
                email=EDITOR,
                name="Demo editor",
                role="editor",
                password_hash=hash_password(password),
            )
        else:
            users.set_password_hash(session, user, hash_password(password))
        actor = review.Actor(name=user.email, user_id=user.id)
        for title_id, by_system in ratings.items():
            for system, rating in by_system.items():
                review.record_final_rating(
                    session,
                    title_id,
                    system=system,
                    rating=rating,
                    reason="demo review: rating confirmed by the editor",
                    actor=actor,
                )
    return password


def show_hits(hits: list[dict[str, Any]]) -> None:
    for rank, hit in enumerate(hits, 1):
        ratings = ", ".join(f"{r['system']} {r['rating']}" for r in hit["ratings"])
        print(f"  {rank}. {hit['name']:<22} score {hit['score']:.3f}  [{ratings}]")
        if hit.get("reason"):
            print(f"       {hit['reason']}")
        art = hit.get("artwork")
        if art and art.get("keyframe"):
            at = f" at {art['time_s']:.1f} s" if art.get("time_s") is not None else ""
            print(f"       artwork for {art.get('label')}: {art['keyframe']}{at}")
    if not hits:
        print("  (nothing eligible)")
    elif any(hit["score"] == 0 for hit in hits):
        print("  (score 0: eligible under the ceiling, but no mood match)")


def show_search(query: str, got: dict[str, Any]) -> None:
    read = got["interpretation"]
    moods = ", ".join(f"{m['word']} -> {m['label']} {m['score']:.2f}" for m in read["moods"])
    ceiling = read["ceiling"] or {}
    print(f"\nPOST /api/v1/search {query!r}")
    print(f"  read as: viewer age {read['viewer_age']} {read['viewer_phrases']}")
    print(f"           ceiling: max age {ceiling.get('max_age')}")
    print(f"           moods: {moods or 'none'}; free text: {read['free_text']!r}")
    show_hits(got["results"])


def ask_the_api(settings: Any, ids: dict[str, int]) -> None:
    """POST /api/v1/recommendations and /api/v1/search through the real app, in-process."""
    from fastapi.testclient import TestClient

    from storage import catalog
    from storage.db import session_scope
    from web.app import create_app

    with session_scope(settings.effective_database_url) as session:
        token, _ = catalog.create_token(session, f"demo-{secrets.token_hex(3)}", ["read"])
    auth = {"Authorization": f"Bearer {token}"}
    app = create_app(settings)
    try:
        with TestClient(app) as api:
            for ceiling in (None, {"max_age": 10}):
                body = {"liked_title_ids": [ids[LIKED]], "k": 3, "ceiling": ceiling}
                r = api.post("/api/v1/recommendations", json=body, headers=auth)
                r.raise_for_status()
                got = r.json()
                limit = f", viewer age {ceiling['max_age']}" if ceiling else ""
                print(f"\nPOST /api/v1/recommendations: liked {LIKED!r}{limit} ({got['space']}):")
                show_hits(got["results"])
            for query in SEARCHES:
                r = api.post("/api/v1/search", json={"query": query, "k": 3}, headers=auth)
                r.raise_for_status()
                show_search(query, r.json())
    finally:
        recommender = getattr(app.state, "recommender", None)
        if recommender is not None:
            recommender.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--video", type=Path, help="enrich and show this file instead of the bunny")
    args = parser.parse_args()
    started = time.monotonic()
    # Settings come from the environment: point this process (and the CLI functions it
    # calls) at the demo's own catalogue before anything reads them.
    os.environ["COLDSTART_DATA_DIR"] = str(CATALOGUE_DIR)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    media = DEMO_DIR / "media"
    print(f"coldstart demo: building the sample titles in {media.relative_to(ROOT)}", flush=True)
    first = args.video or build_bunny(media / "bunny-and-storm.mp4")
    samples = {s.name: build_sample(s, media) for s in SAMPLES}

    import typer

    from workers import cli
    from workers.schema import ensure_schema
    from workers.settings import get_settings
    from workers.stages.plugins import configure_stages

    settings = get_settings()
    ensure_schema(settings)  # the embedded SQLite migrates itself
    configure_stages(settings)
    print(f"coldstart demo: [{time.monotonic() - started:.0f} s] enriching {first}", flush=True)
    first_name = "your-video" if args.video else "big-buck-bunny"
    try:  # exactly `coldstart ingest`: live progress, then the title as `coldstart show` has it
        cli.ingest(str(first), external_id=first_name, wait=False, json_out=False)
    except typer.Exit as exit_:
        return exit_.exit_code

    print(f"\ncoldstart demo: [{time.monotonic() - started:.0f} s] enriching the other titles")
    ids = {first_name: _title_id(settings, first)}
    for s in SAMPLES:
        print(f"  {s.name:<22} made to feel: {s.feel}", flush=True)
    for name, path in samples.items():
        ids[name] = enrich_quietly(settings, path, name)
    _print_moods(settings, ids)

    ratings = {ids[s.name]: s.ratings for s in SAMPLES}
    if not args.video:
        ratings[ids[first_name]] = BUNNY_RATINGS
    password = review_as_editor(settings, ratings)
    print(f"\nThe demo editor ({EDITOR}) recorded the final ratings:")
    for name, title_id in ids.items():
        if title_id in ratings:
            print(f"  {name:<22} " + ", ".join(f"{k} {v}" for k, v in ratings[title_id].items()))

    print(f"\ncoldstart demo: [{time.monotonic() - started:.0f} s] asking the recommender API")
    ask_the_api(settings, ids)

    data_dir = CATALOGUE_DIR.relative_to(ROOT)
    print("\nAdmin view: start the web service on this catalogue, then open the address:")
    print(f"  COLDSTART_DATA_DIR={data_dir} .venv/bin/coldstart serve --port 8000")
    print("  http://127.0.0.1:8000/admin/")
    print(f"  sign in as {EDITOR} with the password {password}")
    print(f"\ncoldstart demo: done in {time.monotonic() - started:.0f} s")
    return 0


def _title_id(settings: Any, path: Path) -> int:
    """The title of this content (by hash: it may be known under another name)."""
    from storage import repository as repo
    from storage.db import session_scope
    from storage.objects import sha256_file

    with session_scope(settings.effective_database_url) as session:
        title = repo.title_by_hash(session, sha256_file(path)[0])
        if title is None:
            sys.exit(f"{path} was not ingested")
        return title.id


def _print_moods(settings: Any, ids: dict[str, int]) -> None:
    """What the pipeline found: the leading mood and tone tags of every title."""
    from storage import review
    from storage.db import session_scope

    print("\nLeading mood and tone tags found by the pipeline:")
    with session_scope(settings.effective_database_url) as session:
        for name, title_id in ids.items():
            tags = [t for t in review.final_tags(session, title_id) if t.facet in ("mood", "tone")]
            tags.sort(key=lambda t: -(t.score or 0.0))
            top = ", ".join(f"{t.label} {t.score:.2f}" for t in tags[:4]) or "(none)"
            print(f"  {name:<22} {top}")


if __name__ == "__main__":
    sys.exit(main())
