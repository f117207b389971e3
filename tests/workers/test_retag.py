"""``coldstart backfill --taxonomy``: after a taxonomy edit exactly the titles tagged with the
old taxonomy are re-analysed, only the stages that read it recompute, and locked titles are
left alone."""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

import taxonomy
from storage import repository as repo
from storage import review
from storage.db import session_scope
from workers.ingest import ingest_file
from workers.pipeline import run_pipeline
from workers.retag import retag
from workers.settings import Settings
from workers.stages import STAGES, Stage, StageContext, stage_named
from workers.stages.base import load_taxonomy

RAN: Counter[str] = Counter()


def _upstream(ctx: StageContext) -> dict:
    RAN["upstream"] += 1
    ctx.persist(lambda _s: None, {})
    return {}


def _tagger(ctx: StageContext) -> dict:
    """Stands in for the tags stage: records the taxonomy it used in the title profile."""
    RAN["tagger"] += 1
    tax = load_taxonomy(ctx.settings)

    def write(session) -> None:  # type: ignore[no-untyped-def]
        review.save_profile(
            session,
            ctx.title_id,
            run_id=ctx.run_id,
            arc={},
            artwork=[],
            descriptors={},
            absent={},
            signals={},
            taxonomy_version=tax.version,
            taxonomy_fingerprint=tax.fingerprint,
        )

    ctx.persist(write, {})
    return {}


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Iterator[Settings]:
    saved = STAGES[:]
    STAGES[:] = [
        stage_named("probe"),
        Stage("upstream", _upstream, after=("probe",)),
        Stage("tagger", _tagger, after=("upstream",), uses_taxonomy=True),
    ]
    RAN.clear()
    yield Settings(data_dir=tmp_path / "var", database_url=db_url)
    STAGES[:] = saved


def _clip(tmp_path: Path, n: int) -> Path:
    clip = tmp_path / f"clip{n}.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i",
         f"testsrc2=size=64x36:rate=10:duration={1 + n}", "-pix_fmt", "yuv420p", str(clip)],
        check=True,
    )  # fmt: skip
    return clip


def test_a_taxonomy_edit_retags_exactly_the_stale_unlocked_titles(
    settings: Settings, tmp_path: Path
) -> None:
    titles = []
    for n in range(3):
        ingested = ingest_file(settings, _clip(tmp_path, n))
        assert run_pipeline(settings, ingested.run_id) == "succeeded"
        titles.append(ingested.title_id)
    with session_scope(settings.effective_database_url) as s:
        review.set_lock(s, repo.get_title(s, titles[2]), locked=True, actor=review.Actor("ed"))
    assert retag(settings).runs == {}  # every title is on the current taxonomy
    RAN.clear()

    edited = tmp_path / "taxonomy.yaml"
    shutil.copy(taxonomy.default_path(), edited)
    edited.write_text(edited.read_text().replace("threshold: 0.6", "threshold: 0.65", 1))
    changed = settings.model_copy(update={"taxonomy": edited})
    result = retag(changed)
    assert sorted(result.runs) == titles[:2] and result.locked == [titles[2]]
    assert set(result.statuses.values()) == {"succeeded"}
    assert Counter(tagger=2) == RAN  # the stages that do not read the taxonomy were reused
    with session_scope(settings.effective_database_url) as s:
        fingerprints = {t: review.profile_of(s, t).taxonomy_fingerprint for t in titles}
    new = taxonomy.load(edited).fingerprint
    assert fingerprints[titles[0]] == fingerprints[titles[1]] == new != fingerprints[titles[2]]
    RAN.clear()
    assert retag(changed).runs == {} and not RAN  # nothing left to do
